/* `nestbox env`: the export lines again, for a running or future server. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../base/macro.h"
#include "cli.h"

int print_exports(const char *state_dir, const char *listen)
{
        _cleanup_close_ int fd = -EBADF;
        char path[4096], key[256];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/api-key", state_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read(fd, key, sizeof(key) - 1);
        if (n <= 0)
                return n < 0 ? -errno : -ENODATA;
        key[n] = 0;
        key[strcspn(key, "\r\n")] = 0;
        printf("export E2B_API_URL=http://%s\n", listen);
        printf("export E2B_SANDBOX_URL=http://%s\n", listen);
        printf("export E2B_API_KEY=%s\n", key);
        fflush(stdout);
        return 0;
}

int cmd_env(int argc, char **argv)
{
        static const struct option options[] = {
                {"state-dir", required_argument, NULL, 's'},
                {"listen", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *state_dir = DEFAULT_STATE_DIR, *listen = DEFAULT_LISTEN;
        int c, r;

        while ((c = getopt_long(argc, argv, "s:l:h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        state_dir = optarg;
                        break;
                case 'l':
                        listen = optarg;
                        break;
                case 'h':
                        printf("usage: nestbox env [--state-dir DIR] [--listen ADDR]\n");
                        return 0;
                default:
                        return 2;
                }
        r = print_exports(state_dir, listen);
        if (r < 0) {
                fprintf(stderr, "nestbox: cannot read %s/api-key: %s (has 'nestbox serve' run with this state dir?)\n",
                        state_dir, strerror(-r));
                return 1;
        }
        return 0;
}
