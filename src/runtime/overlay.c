/* The sandbox's root filesystem: template layers (read-only, shared by every sandbox
 * of the template) under a private upper dir, as one detached overlayfs mount.
 *
 * Why this shape (measured on 6.18, see tests/unit/runtime/bench-create.c):
 *   - Layers on the host belong to real ids 0..65535 (mmdebstrap ran as root). Each
 *     sandbox sees them through an idmapped mount onto its own user namespace
 *     (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP)), so root-owned
 *     /usr/bin/sudo is root inside, without chowning a copy per sandbox. 10 us/layer.
 *   - The overlay is mounted by the parent (host root, initial user namespace) with
 *     the idmapped layers as lowerdirs (supported since 5.19) and handed to the child
 *     as an fd it attaches in its own mount namespace. The alternative, mounting it
 *     from inside the user namespace, needs "userxattr" (user.overlay.* xattrs that a
 *     sandbox could forge in its upper dir) and a second round trip to the child;
 *     mounted here, overlay's own metadata stays in trusted.* xattrs the sandbox can
 *     never write, and the whole mount costs ~0.1 ms.
 *   - Files the sandbox creates in upper/ get its host ids (root inside = uid_base),
 *     so two sandboxes never share an owner even after an escape.
 *   - Layers are passed as fds: fsconfig(FSCONFIG_SET_FD, "lowerdir+") on 6.13+,
 *     else "/proc/self/fd/N" strings (same detached mounts, resolved by path).
 *     FIXME: drop the string path once the baseline kernel is >= 6.13.
 *   - index=off: the same lower layers are used by many overlays at once; the
 *     inode index ties a lower to one upper and would refuse that. metacopy=off:
 *     copy-up stays a full copy, no redirect xattrs to trust. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime-internal.h"

static void closep_array(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

/* Appends the kernel's own explanation (fs_context log) to err, when there is one. */
static int fsfd_error(int fsfd, struct nb_error *err, int r, const char *what)
{
        char msg[200];
        ssize_t n;

        n = read(fsfd, msg, sizeof(msg) - 1);
        if (n > 2) {
                msg[n] = 0;
                msg[strcspn(msg, "\n")] = 0;
                /* Lines look like "e overlay: <text>". */
                return nb_error_set(err, r, "%s: %s (%s)", what, strerror(-r), msg + 2);
        }
        return nb_error_set_errno(err, r, "%s", what);
}

int overlay_probe(int scratch_dirfd, struct overlay_host *ret, struct nb_error *err)
{
        _cleanup_close_ int fsfd = -EBADF;

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0 && errno == ENOSYS)
                return nb_error_set(err, -EOPNOTSUPP,
                                    "this kernel lacks the mount API (fsopen); nestbox needs >= 5.19");
        if (fsfd < 0 && errno == ENODEV)
                return nb_error_set(err, -EOPNOTSUPP,
                                    "overlayfs is not available on this host (modprobe overlay)");
        if (fsfd < 0)
                return nb_error_set_errno(err, -errno, "cannot open an overlayfs context");
        if (mount_setattr(-EBADF, "", AT_EMPTY_PATH, NULL, 0) < 0 && errno == ENOSYS)
                return nb_error_set(
                        err, -EOPNOTSUPP,
                        "this kernel lacks mount_setattr (idmapped mounts); nestbox needs >= 5.19");
        ret->lower_fds = fsconfig(fsfd, FSCONFIG_SET_FD, "lowerdir+", NULL, scratch_dirfd) == 0;
        return 0;
}

static int idmap_layer(const char *layer, int userns_fd, int *ret_fd, struct nb_error *err)
{
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
                .userns_fd = (uint64_t)userns_fd,
        };
        _cleanup_close_ int fd = -EBADF;

        fd = open_tree(AT_FDCWD, layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open template layer '%.128s'", layer);
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
                if (errno == EINVAL || errno == EOPNOTSUPP)
                        return nb_error_set(err, -EOPNOTSUPP,
                                            "the filesystem of template layer '%.128s' does not support "
                                            "idmapped mounts (use ext4, xfs, btrfs or tmpfs)",
                                            layer);
                return nb_error_set_errno(err, -errno, "cannot idmap template layer '%.128s'", layer);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int set_fd(int fsfd, const char *key, int fd, bool by_fd, struct nb_error *err)
{
        char path[32];
        int r;

        if (by_fd)
                r = fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd);
        else {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                r = fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0);
        }
        if (r < 0)
                return fsfd_error(fsfd, err, -errno, key);
        return 0;
}

int overlay_mount(const struct overlay_host *oh, const char *const *layers, int userns_fd, int upper_fd,
                  int work_fd, int *ret_mnt_fd, struct nb_error *err)
{
        _cleanup_close_ int fsfd = -EBADF;
        int lower[RUNTIME_LAYERS_MAX];
        size_t n = 0;
        int r, mnt;

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return nb_error_set_errno(err, -errno, "cannot open an overlayfs context");

        for (; layers[n]; n++) {
                if (n >= RUNTIME_LAYERS_MAX) {
                        r = nb_error_set(err, -E2BIG, "more than %d template layers", RUNTIME_LAYERS_MAX);
                        goto out;
                }
                r = idmap_layer(layers[n], userns_fd, &lower[n], err);
                if (r < 0)
                        goto out;
        }

        if (oh->lower_fds) {
                /* lowerdir+ appends below the previous one: top-most first, as layers[] is. */
                for (size_t i = 0; i < n; i++) {
                        r = set_fd(fsfd, "lowerdir+", lower[i], true, err);
                        if (r < 0)
                                goto out;
                }
        } else {
                char lowerdir[RUNTIME_LAYERS_MAX * 24 + 1];
                size_t len = 0;

                for (size_t i = 0; i < n; i++)
                        len += snprintf(lowerdir + len, sizeof(lowerdir) - len, "%s/proc/self/fd/%d",
                                        i ? ":" : "", lower[i]);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", lowerdir, 0) < 0) {
                        r = fsfd_error(fsfd, err, -errno, "lowerdir");
                        goto out;
                }
        }
        r = set_fd(fsfd, "upperdir", upper_fd, oh->lower_fds, err);
        if (r < 0)
                goto out;
        r = set_fd(fsfd, "workdir", work_fd, oh->lower_fds, err);
        if (r < 0)
                goto out;
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "index", "off", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "metacopy", "off", 0) < 0) {
                r = fsfd_error(fsfd, err, -errno, "overlayfs options");
                goto out;
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = fsfd_error(fsfd, err, -errno, "cannot mount the overlay root");
                goto out;
        }
        mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mnt < 0) {
                r = nb_error_set_errno(err, -errno, "cannot create the overlay root mount");
                goto out;
        }
        *ret_mnt_fd = mnt;
        r = 0;
out:
        closep_array(lower, n);
        return r;
}
