/* Test fixture: a tiny template made from busybox-static, owned by real host ids like
 * an mmdebstrap layer (root files, one user 1000 file), and the probe client. */
#include "rt-helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/base/macro.h"

double rt_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_file(const char *dir, const char *name, const char *content, mode_t mode)
{
        char path[512];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        if (write(fd, content, strlen(content)) < 0) {
                close(fd);
                return -errno;
        }
        close(fd);
        return 0;
}

static int mkdirs(const char *dir, const char *const *names, mode_t mode)
{
        char path[512];

        for (; *names; names++) {
                snprintf(path, sizeof(path), "%s/%s", dir, *names);
                if (mkdir(path, mode) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

static int copy_busybox(const char *dir)
{
        char path[512], buf[65536];
        int in, out;
        ssize_t n;

        in = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/bin/busybox", dir);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (out < 0) {
                close(in);
                return -errno;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, n) != n) {
                        n = -1;
                        break;
                }
        close(in);
        close(out);
        return n < 0 ? -EIO : 0;
}

static int link_applets(const char *dir)
{
        char name[128], path[512];
        FILE *list;

        list = popen("/bin/busybox --list", "re");
        if (!list)
                return -errno;
        while (fgets(name, sizeof(name), list)) {
                name[strcspn(name, "\n")] = 0;
                if (!name[0] || strcmp(name, "busybox") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/bin/%s", dir, name);
                if (symlink("busybox", path) < 0 && errno != EEXIST) {
                        pclose(list);
                        return -errno;
                }
        }
        pclose(list);
        return 0;
}

int rt_fixture_setup(struct rt_fixture *f)
{
        static const char *const base_dirs[] = {"bin",     "etc",  "proc", "sys",       "dev",
                                                "tmp",     "root", "home", "home/user", "usr",
                                                "usr/bin", "sbin", NULL};
        static const char *const top_dirs[] = {"etc", NULL};
        char path[512];
        int r;

        snprintf(f->root, sizeof(f->root), "/tmp/nb-rt-XXXXXX");
        if (!mkdtemp(f->root))
                return -errno;
        snprintf(f->base_layer, sizeof(f->base_layer), "%s/base", f->root);
        snprintf(f->top_layer, sizeof(f->top_layer), "%s/top", f->root);
        snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->root);
        f->layers[0] = f->top_layer;
        f->layers[1] = f->base_layer;
        f->layers[2] = NULL;

        if (mkdir(f->base_layer, 0755) < 0 || mkdir(f->top_layer, 0755) < 0)
                return -errno;
        r = mkdirs(f->base_layer, base_dirs, 0755);
        if (r < 0)
                return r;
        r = mkdirs(f->top_layer, top_dirs, 0755);
        if (r < 0)
                return r;
        r = copy_busybox(f->base_layer);
        if (r < 0)
                return r;
        r = link_applets(f->base_layer);
        if (r < 0)
                return r;
        if ((r = write_file(f->base_layer, "etc/passwd",
                            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
                            0644)) < 0 ||
            (r = write_file(f->base_layer, "etc/group", "root:x:0:\ntty:x:5:\nuser:x:1000:\n", 0644)) < 0 ||
            (r = write_file(f->base_layer, "etc/motd", "base\n", 0644)) < 0 ||
            (r = write_file(f->base_layer, "home/user/owned", "mine\n", 0644)) < 0 ||
            (r = write_file(f->top_layer, "etc/motd", "top\n", 0644)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/home/user", f->base_layer);
        if (chown(path, 1000, 1000) < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/home/user/owned", f->base_layer);
        if (chown(path, 1000, 1000) < 0)
                return -errno;
        /* Left 0755 on purpose: the runtime must make /tmp 1777 on the overlay. */
        snprintf(path, sizeof(path), "%s/tmp", f->base_layer);
        chmod(path, 0755);
        return 0;
}

void rt_fixture_teardown(struct rt_fixture *f)
{
        char cmd[128];

        if (!f->root[0])
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", f->root);
        (void)!system(cmd);
}

int rt_send(struct runtime_sandbox *sb, const char *cmd)
{
        size_t n = strlen(cmd);
        int fd;

        fd = runtime_sandbox_connect_agent(sb, NULL);
        if (fd < 0)
                return fd;
        if (write(fd, cmd, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
                close(fd);
                return -EIO;
        }
        return fd;
}

int rt_recv(int fd, char *out, size_t size, int timeout_ms)
{
        static const char marker[] = "\n@@exit=";
        char buf[65536];
        size_t len = 0;
        double deadline = rt_now_ms() + timeout_ms;

        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                char *m;
                ssize_t n;
                int left = (int)(deadline - rt_now_ms());

                buf[len] = 0;
                m = strstr(buf, marker);
                if (m && strchr(m + sizeof(marker) - 1, '\n')) {
                        int status = atoi(m + sizeof(marker) - 1);
                        size_t outlen = (size_t)(m - buf);

                        if (out && size) {
                                if (outlen >= size)
                                        outlen = size - 1;
                                memcpy(out, buf, outlen);
                                out[outlen] = 0;
                        }
                        return status;
                }
                if (left <= 0 || poll(&pfd, 1, left) <= 0)
                        return -ETIMEDOUT;
                n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        return -EPIPE;
                len += n;
                if (len >= sizeof(buf) - 1)
                        return -E2BIG;
        }
}

int rt_run(struct runtime_sandbox *sb, const char *cmd, char *out, size_t size)
{
        int fd, r;

        fd = rt_send(sb, cmd);
        if (fd < 0)
                return fd;
        r = rt_recv(fd, out, size, 60000);
        close(fd);
        return r;
}
