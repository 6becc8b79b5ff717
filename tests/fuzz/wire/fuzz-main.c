/* Replays inputs through LLVMFuzzerTestOneInput without libFuzzer, so gcc builds and
 * `meson test` keep the harness and its corpus honest. Arguments: files or directories. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int run_file(int dirfd, const char *path)
{
        struct stat st;
        uint8_t *data;
        ssize_t n;
        int fd;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                perror(path);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        data = malloc((size_t)st.st_size + 1);
        n = data ? read(fd, data, (size_t)st.st_size) : -1;
        close(fd);
        if (n < 0) {
                free(data);
                return -1;
        }
        LLVMFuzzerTestOneInput(data, (size_t)n);
        free(data);
        return 0;
}

int main(int argc, char **argv)
{
        int count = 0;

        for (int i = 1; i < argc; i++) {
                DIR *dir = opendir(argv[i]);
                struct dirent *de;

                if (!dir) {
                        if (run_file(AT_FDCWD, argv[i]) < 0)
                                return EXIT_FAILURE;
                        count++;
                        continue;
                }
                while ((de = readdir(dir))) {
                        if (de->d_name[0] == '.')
                                continue;
                        if (run_file(dirfd(dir), de->d_name) < 0) {
                                closedir(dir);
                                return EXIT_FAILURE;
                        }
                        count++;
                }
                closedir(dir);
        }
        printf("%d inputs replayed\n", count);
        return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
