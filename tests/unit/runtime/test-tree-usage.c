/* tree_usage: what metrics report as a sandbox's disk use. The tree is hostile:
 * links must not be followed, depth and entry count are bounded and say so. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime-internal.h"

static char root[] = "/tmp/nb-tree-usage.XXXXXX";

static void write_file(const char *rel, size_t bytes)
{
        char path[4096], *data = calloc(1, bytes ? bytes : 1);
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        memset(data, 'x', bytes);
        assert_int_equal(write(fd, data, bytes), (ssize_t)bytes);
        assert_int_equal(fsync(fd), 0);
        close(fd);
        free(data);
}

static int setup(void **state)
{
        char cmd[256];

        assert_non_null(mkdtemp(root));
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/t/a/b", root);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static int teardown(void **state)
{
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_counts_files_and_dirs_not_links(void **state)
{
        uint64_t before = 0, after = 0;
        bool complete = false;
        int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char link[4096];

        assert_true(dirfd >= 0);
        assert_int_equal(tree_usage(dirfd, "t", 1000, &before, &complete), 0);
        assert_true(complete);
        write_file("t/a/b/one-mib", 1 << 20);
        /* A link to a big host tree counts as a link, never as its target. */
        snprintf(link, sizeof(link), "%s/t/a/host", root);
        assert_int_equal(symlink("/usr", link), 0);
        assert_int_equal(tree_usage(dirfd, "t", 1000, &after, &complete), 0);
        assert_true(complete);
        assert_true(after - before >= (1 << 20));
        assert_true(after - before < (1 << 20) + (64 << 10));
        /* The starting point itself must be a directory reached without links. */
        {
                int r = tree_usage(dirfd, "t/a/host", 1000, &after, &complete);

                assert_true(r == -ENOTDIR || r == -ELOOP);
        }
        close(dirfd);
}

static void test_entry_budget_is_reported(void **state)
{
        uint64_t bytes = 0;
        bool complete = true;
        int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

        for (int i = 0; i < 10; i++) {
                char name[64];

                snprintf(name, sizeof(name), "t/small-%d", i);
                write_file(name, 10);
        }
        assert_int_equal(tree_usage(dirfd, "t", 5, &bytes, &complete), 0);
        assert_false(complete);
        close(dirfd);
}

static void test_depth_is_bounded(void **state)
{
        uint64_t bytes = 0;
        bool complete = true;
        int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char path[8192];
        size_t n;

        n = (size_t)snprintf(path, sizeof(path), "%s/t/deep", root);
        for (int i = 0; i < 100 && n + 3 < sizeof(path); i++) {
                assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
                n += (size_t)snprintf(path + n, sizeof(path) - n, "/d");
        }
        assert_int_equal(tree_usage(dirfd, "t", 100000, &bytes, &complete), 0);
        assert_false(complete);
        assert_true(bytes > 0);
        close(dirfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts_files_and_dirs_not_links),
                cmocka_unit_test(test_entry_budget_is_reported),
                cmocka_unit_test(test_depth_is_bounded),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
