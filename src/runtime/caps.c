/* Capabilities: the sandbox's bounding set is Docker's default. The child keeps its
 * full effective set (in its own user namespace) until exec so it can still mount and
 * load seccomp; execve() as uid 0 then grants pid 1 exactly the bounding set. */
#include <errno.h>
#include <sys/capability.h>

#include "runtime-internal.h"

static const cap_value_t docker_default[] = {
        CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
        CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
        CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
        CAP_KILL,    CAP_AUDIT_WRITE,
};

uint64_t caps_default_keep(void)
{
        uint64_t keep = 0;

        for (size_t i = 0; i < ELEMENTSOF(docker_default); i++)
                keep |= UINT64_C(1) << docker_default[i];
        return keep;
}

int caps_last_cap(unsigned *ret, struct nb_error *err)
{
        /* libcap asks the kernel (not its own headers) how many capabilities exist. */
        unsigned bits = cap_max_bits();

        if (bits == 0 || bits > 64)
                return nb_error_set(err, -EINVAL, "cannot tell how many capabilities this kernel has");
        *ret = bits - 1;
        return 0;
}

bool caps_have_effective(int cap)
{
        cap_flag_value_t v = CAP_CLEAR;
        cap_t caps = cap_get_proc();

        if (!caps)
                return false;
        (void)cap_get_flag(caps, (cap_value_t)cap, CAP_EFFECTIVE, &v);
        cap_free(caps);
        return v == CAP_SET;
}

/* Child side: prctl(PR_CAPBSET_DROP) through libcap, no allocation. */
int caps_child_drop_bounding(unsigned last_cap, uint64_t keep)
{
        for (unsigned c = 0; c <= last_cap; c++) {
                if (keep & (UINT64_C(1) << c))
                        continue;
                if (cap_drop_bound((cap_value_t)c) < 0 && errno != EINVAL)
                        return -errno;
        }
        return 0;
}
