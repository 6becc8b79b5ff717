/* Hostile paths against the filesystem service and /files (issue 4): `..`,
 * symlinks pointing out of the root (absolute and relative), symlink swaps
 * racing requests, very long and non-UTF-8 names, fifos, devices, /proc
 * entries and magic links, mount points under a recursive remove, and URL
 * signatures. The agent serves a throw-away root; after every case a host
 * directory next to it (and the host's /proc) must be unchanged. Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-files-client.h"

static const char *agent_binary;
static struct agent_proc agent;
static struct froot fr;
static pid_t swapper; /* killed by teardown too: a failed assertion skips the test's own cleanup */

#define OCTET (const char *[]){"content-type", "application/octet-stream", NULL}

static int get_status(const char *path, struct buf *out)
{
        return http_call(&agent, "GET", "/files", (const char *[]){"path", path, NULL}, NULL, NULL, 0, 0, out, NULL);
}

static int put_status(const char *path, const char *data)
{
        return http_call(&agent, "POST", "/files", (const char *[]){"path", path, NULL}, OCTET, data, strlen(data), 0,
                         NULL, NULL);
}

static int rpc_status(const char *method, const char *json, char **ret_body)
{
        int status = 0;
        char *body = fs_call(&agent, method, json, NULL, &status);

        assert_non_null(body);
        if (ret_body)
                *ret_body = body;
        else
                free(body);
        return status;
}

static const char *outside_base(void)
{
        return strrchr(fr.outside, '/') + 1;
}

static void test_dotdot(void **state)
{
        char path[512], json[600];
        struct buf out = {0};

        /* Relative to home and absolute: `..` stops at the sandbox root. */
        snprintf(path, sizeof(path), "../../../../../../../%s/secret", outside_base());
        assert_int_equal(get_status(path, &out), 404);
        snprintf(path, sizeof(path), "/../../..%s/secret", fr.outside);
        assert_int_equal(get_status(path, &out), 404);
        buf_reset(&out);
        /* The root's own /etc/passwd, not the host's. */
        assert_int_equal(get_status("../../../../../etc/passwd", &out), 200);
        buf_append(&out, "", 1);
        assert_non_null(strstr((char *)out.data, "other:x:1001"));
        buf_done(&out);
        snprintf(json, sizeof(json), "{\"path\":\"../../../../../../%s\"}", outside_base());
        assert_int_equal(rpc_status("Stat", json, NULL), 404);
        assert_int_equal(rpc_status("ListDir", json, NULL), 404);
        assert_int_equal(rpc_status("Remove", json, NULL), 200); /* nothing there, inside the root */
        /* Writes land inside the root. */
        snprintf(path, sizeof(path), "../../../../..%s/planted", fr.outside);
        assert_int_equal(put_status(path, "x"), 200);
        {
                struct stat st;
                char inroot[512];

                snprintf(inroot, sizeof(inroot), "%s%s/planted", fr.root, fr.outside);
                assert_int_equal(stat(inroot, &st), 0);
        }
        snprintf(json, sizeof(json), "{\"source\":\"/etc/passwd\",\"destination\":\"../../../..%s/moved\"}",
                 fr.outside);
        assert_int_equal(rpc_status("Move", json, NULL), 200);
        assert_true(outside_untouched(&fr));
        /* Put the root's passwd back, and drop the in-root twin of the outside dir. */
        {
                char from[512];

                snprintf(from, sizeof(from), "%s%s/moved", fr.root, fr.outside);
                assert_int_equal(rename(from, rp(&fr, "/etc/passwd")), 0);
                snprintf(from, sizeof(from), "%s%s/planted", fr.root, fr.outside);
                assert_int_equal(unlink(from), 0);
                snprintf(from, sizeof(from), "%s%s", fr.root, fr.outside);
                assert_int_equal(rmdir(from), 0);
        }
}

static void test_symlinks_out(void **state)
{
        char target[512];
        struct buf out = {0};

        /* Absolute link to the host directory, relative link climbing out, link to "/". */
        assert_int_equal(symlink(fr.outside, rp(&fr, "/home/user/abs")), 0);
        snprintf(target, sizeof(target), "../../../../../../../../..%s", fr.outside);
        assert_int_equal(symlink(target, rp(&fr, "/home/user/rel")), 0);
        snprintf(target, sizeof(target), "%s/secret", fr.outside);
        assert_int_equal(symlink(target, rp(&fr, "/home/user/secret-link")), 0);
        assert_int_equal(symlink("/", rp(&fr, "/home/user/rootlink")), 0);

        assert_int_equal(get_status("abs/secret", &out), 404);
        assert_int_equal(get_status("rel/secret", &out), 404);
        assert_int_equal(get_status("secret-link", &out), 404);
        assert_int_equal(put_status("secret-link", "overwritten"), 409); /* dangling: never followed out */
        assert_int_equal(put_status("abs/new.txt", "x"), 500);
        assert_int_equal(put_status("rel/new.txt", "x"), 500);
        assert_int_equal(rpc_status("MakeDir", "{\"path\":\"abs/d\"}", NULL), 404);
        assert_int_equal(rpc_status("ListDir", "{\"path\":\"abs\"}", NULL), 404);
        assert_int_equal(rpc_status("Remove", "{\"path\":\"abs/secret\"}", NULL), 200);
        assert_int_equal(rpc_status("Move", "{\"source\":\"abs/secret\",\"destination\":\"stolen\"}", NULL), 404);
        /* Through a link to "/", the root's files, never the host's. */
        buf_reset(&out);
        assert_int_equal(get_status("rootlink/etc/group", &out), 200);
        buf_append(&out, "", 1);
        assert_string_equal((char *)out.data, "root:x:0:\nuser:x:1000:\nother:x:1001:\n");
        buf_done(&out);
        assert_int_equal(put_status("rootlink/tmp/via-link", "y"), 200);
        {
                struct stat st;

                assert_int_equal(stat(rp(&fr, "/tmp/via-link"), &st), 0);
        }
        assert_true(outside_untouched(&fr));
}

/* A child swaps home/user/swap between a real directory (holding file f) and a
 * symlink to the host directory, as fast as it can, while requests run. */
static void test_symlink_swaps(void **state)
{
        char link_target[512];
        int status;
        unsigned served = 0;

        mkdir(rp(&fr, "/home/user/swap"), 0755);
        put_file(rp(&fr, "/home/user/swap/f"), "inside\n", 7, 1000, 1000);
        snprintf(link_target, sizeof(link_target), "%s", fr.outside);
        assert_int_equal(symlink(link_target, rp(&fr, "/home/user/swap-alt")), 0);
        swapper = fork();
        assert_true(swapper >= 0);
        if (swapper == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        renameat2(AT_FDCWD, rp(&fr, "/home/user/swap"), AT_FDCWD, rp(&fr, "/home/user/swap-alt"),
                                  RENAME_EXCHANGE);
        }
        for (int i = 0; i < 400; i++) {
                struct buf out = {0};
                int s = get_status("swap/f", &out);

                if (s == 200) {
                        served++;
                        assert_int_equal(out.len, 7);
                        assert_memory_equal(out.data, "inside\n", 7);
                } else
                        assert_int_equal(s, 404);
                buf_done(&out);
                out = (struct buf){0};
                s = get_status("swap/secret", &out);
                /* Only ever the file planted inside, never the host's. */
                assert_true(s == 404 || (s == 200 && out.len < 6 && memcmp(out.data, "host", 4) != 0));
                buf_done(&out);
                s = put_status("swap/secret", "pwned");
                assert_true(s == 200 || s == 500 || s == 409);
                s = put_status("swap/g", "g");
                assert_true(s == 200 || s == 500 || s == 409);
                (void)rpc_status("ListDir", "{\"path\":\"swap\",\"depth\":3}", NULL);
                (void)rpc_status("Stat", "{\"path\":\"swap/secret\"}", NULL);
                (void)rpc_status("MakeDir", "{\"path\":\"swap/dd\"}", NULL);
                (void)rpc_status("Remove", "{\"path\":\"swap/secret\"}", NULL);
                (void)rpc_status("Move", "{\"source\":\"swap/g\",\"destination\":\"swap/secret\"}", NULL);
        }
        kill(swapper, SIGKILL);
        waitpid(swapper, &status, 0);
        swapper = 0;
        assert_true(served > 0);
        assert_true(outside_untouched(&fr));
}

static void test_long_names(void **state)
{
        char name[300], json[6000], *longpath;
        char *body = NULL;

        memset(name, 'n', 299);
        name[299] = '\0';
        snprintf(json, sizeof(json), "{\"path\":\"/home/user/%s\"}", name);
        assert_int_equal(rpc_status("Stat", json, &body), 400);
        assert_non_null(strstr(body, "invalid_argument"));
        free(body);
        assert_int_equal(rpc_status("MakeDir", json, NULL), 400);
        assert_int_equal(put_status(name, "x"), 400);
        longpath = calloc(1, 5001);
        for (int i = 0; i < 5000; i++)
                longpath[i] = i % 2 ? '/' : 'a';
        snprintf(json, sizeof(json), "{\"path\":\"%s\"}", longpath);
        assert_int_equal(rpc_status("Stat", json, NULL), 400);
        assert_int_equal(rpc_status("ListDir", json, NULL), 400);
        assert_int_equal(get_status(longpath, NULL), 400);
        assert_int_equal(put_status(longpath, "x"), 400);
        free(longpath);
        /* Deep but legal: 100 levels made and removed. */
        {
                struct buf p = {0};

                buf_printf(&p, "deep");
                for (int i = 0; i < 100; i++)
                        buf_printf(&p, "/%02d", i);
                buf_append(&p, "", 1);
                snprintf(json, sizeof(json), "{\"path\":\"%s\"}", (char *)p.data);
                assert_int_equal(rpc_status("MakeDir", json, NULL), 200);
                assert_int_equal(rpc_status("ListDir", "{\"path\":\"deep\",\"depth\":1000}", NULL), 200);
                assert_int_equal(rpc_status("Remove", "{\"path\":\"deep\"}", NULL), 200);
                buf_done(&p);
        }
}

static void test_non_utf8_names(void **state)
{
        char *body = NULL;
        static const char mp[] = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"nu/\xff\xfe.bin\"\r\n"
                                 "\r\nbytes\r\n--b--\r\n";
        struct buf out = {0};
        struct stat st;

        mkdir(rp(&fr, "/home/user/nu"), 0755);
        put_file(rp(&fr, "/home/user/nu/bad\xff.txt"), "b", 1, -1, -1);
        assert_int_equal(rpc_status("ListDir", "{\"path\":\"nu\"}", &body), 200);
        /* Shown with U+FFFD, the answer stays valid UTF-8 JSON. */
        assert_non_null(strstr(body, "\"name\":\"bad\xEF\xBF\xBD.txt\""));
        free(body);
        assert_int_equal(http_call(&agent, "POST", "/files", NULL,
                                   (const char *[]){"content-type", "multipart/form-data; boundary=b", NULL}, mp,
                                   strlen(mp), 0, &out, NULL),
                         200);
        buf_append(&out, "", 1);
        assert_non_null(strstr((char *)out.data, "\xEF\xBF\xBD\xEF\xBF\xBD.bin"));
        assert_int_equal(stat(rp(&fr, "/home/user/nu/\xff\xfe.bin"), &st), 0);
        buf_done(&out);
}

static void test_special_files(void **state)
{
        struct buf out = {0};
        struct stat st;
        time_t t0 = time(NULL);

        assert_int_equal(mkfifo(rp(&fr, "/home/user/pipe"), 0666), 0);
        /* Neither blocks on the fifo nor treats it as a file. */
        assert_int_equal(get_status("pipe", &out), 400);
        assert_int_equal(put_status("pipe", "into the pipe"), 400);
        assert_true(time(NULL) - t0 < 5);
        mkdir(rp(&fr, "/dev"), 0755);
        assert_int_equal(mknod(rp(&fr, "/dev/zero"), S_IFCHR | 0666, makedev(1, 5)), 0);
        assert_int_equal(get_status("/dev/zero", &out), 400);
        assert_int_equal(put_status("/dev/zero", "x"), 400);
        assert_int_equal(stat(rp(&fr, "/dev/zero"), &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        /* A unix socket-like special: a symlink to the fifo is refused as well. */
        assert_int_equal(symlink("pipe", rp(&fr, "/home/user/pipe-link")), 0);
        assert_int_equal(get_status("pipe-link", &out), 400);
        buf_done(&out);
}

static void test_proc(void **state)
{
        char comm_before[64] = "", comm_after[64] = "", p[64];
        struct buf out = {0};
        FILE *f;

        mkdir(rp(&fr, "/proc"), 0555);
        assert_int_equal(mount("proc", rp(&fr, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), 0);
        snprintf(p, sizeof(p), "/proc/%d/comm", agent.pid);
        f = fopen(p, "re");
        assert_non_null(fgets(comm_before, sizeof(comm_before), f));
        fclose(f);

        assert_int_equal(get_status("/proc/self/environ", &out), 400);
        assert_int_equal(get_status("/proc/self/status", &out), 400);
        assert_int_equal(put_status("/proc/self/comm", "pwned"), 400);
        /* Magic links never resolve, whatever they point at. */
        assert_int_equal(get_status("/proc/self/root/etc/hostname", &out), 400);
        assert_int_not_equal(get_status("/proc/1/root/etc/passwd", &out), 200); /* 400, or 403 from ptrace rules */
        assert_int_equal(put_status("/proc/self/cwd/planted", "x"), 400);
        assert_int_equal(rpc_status("Stat", "{\"path\":\"/proc/self/root/etc\"}", NULL), 400);
        /* Metadata reads work (read-only), a recursive remove stops at the mount. */
        assert_int_equal(rpc_status("Stat", "{\"path\":\"/proc/self\"}", NULL), 200);
        assert_int_equal(rpc_status("ListDir", "{\"path\":\"/proc/self\"}", NULL), 200);
        assert_int_equal(rpc_status("Remove", "{\"path\":\"/proc\"}", NULL), 400);
        assert_int_not_equal(rpc_status("Remove", "{\"path\":\"/proc/self/fd\"}", NULL), 200);

        f = fopen(p, "re");
        assert_non_null(fgets(comm_after, sizeof(comm_after), f));
        fclose(f);
        assert_string_equal(comm_before, comm_after);
        assert_int_equal(umount2(rp(&fr, "/proc"), MNT_DETACH), 0);
        buf_done(&out);
}

static void test_remove_stops_at_mounts(void **state)
{
        char *body = NULL;
        struct stat st;

        mkdir(rp(&fr, "/home/user/rmb"), 0755);
        mkdir(rp(&fr, "/home/user/rmb/mnt"), 0755);
        put_file(rp(&fr, "/home/user/rmb/other"), "o", 1, -1, -1);
        assert_int_equal(mount(fr.outside, rp(&fr, "/home/user/rmb/mnt"), NULL, MS_BIND, NULL), 0);
        assert_int_equal(rpc_status("Remove", "{\"path\":\"rmb\"}", &body), 400);
        assert_non_null(strstr(body, "failed_precondition"));
        free(body);
        assert_int_equal(lstat(rp(&fr, "/home/user/rmb/other"), &st), -1);
        assert_int_equal(rpc_status("Remove", "{\"path\":\"rmb/mnt\"}", NULL), 400);
        assert_int_equal(umount2(rp(&fr, "/home/user/rmb/mnt"), MNT_DETACH), 0);
        assert_true(outside_untouched(&fr));
        assert_int_equal(rpc_status("Remove", "{\"path\":\"rmb\"}", NULL), 200);
}

/* Signatures from protocol.md §4.3, computed independently (Python hashlib). */
static void test_signatures(void **state)
{
        const char *tok_hdr[] = {"x-access-token", "tok", NULL};
        struct buf out = {0};
        int status = 0;

        assert_int_equal(agent_http(&agent, "POST", "/init", NULL, "{\"accessToken\":\"tok\"}", &status, NULL), 0);
        assert_int_equal(status, 204);
        put_file(rp(&fr, "/home/user/a.txt"), "hello", 5, 1000, 1000);

        assert_int_equal(get_status("/home/user/a.txt", &out), 401);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "/home/user/a.txt", NULL}, tok_hdr,
                                   NULL, 0, 0, NULL, NULL),
                         200);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "/home/user/a.txt", NULL},
                                   (const char *[]){"x-access-token", "nope", NULL}, NULL, 0, 0, NULL, NULL),
                         401);
        assert_int_equal(http_call(&agent, "GET", "/files",
                                   (const char *[]){"path", "/home/user/a.txt", "signature",
                                                    "v1_Zkbb3914oLJLvMBzCAHQhm2ydBLxbSx2eQUR/kLdvIY", NULL},
                                   NULL, NULL, 0, 0, NULL, NULL),
                         200);
        /* The signature binds the operation, the path and the expiry. */
        assert_int_equal(put_status("/home/user/a.txt", "x"), 401);
        assert_int_equal(http_call(&agent, "POST", "/files",
                                   (const char *[]){"path", "/home/user/a.txt", "signature",
                                                    "v1_Zkbb3914oLJLvMBzCAHQhm2ydBLxbSx2eQUR/kLdvIY", NULL},
                                   OCTET, "x", 1, 0, NULL, NULL),
                         401);
        assert_int_equal(http_call(&agent, "GET", "/files",
                                   (const char *[]){"path", "/home/user/a.txt", "signature",
                                                    "v1_Pz4gVDnCTqKod6ED03KYR9gFwqd3RujcRjep4eFmJeM",
                                                    "signature_expiration", "4102444800", NULL},
                                   NULL, NULL, 0, 0, NULL, NULL),
                         200);
        assert_int_equal(http_call(&agent, "GET", "/files",
                                   (const char *[]){"path", "/home/user/a.txt", "signature",
                                                    "v1_PDcWYV9k7P92c0kptP/AELMie/kdUnIoFvH3U/AJqiw",
                                                    "signature_expiration", "1000", NULL},
                                   NULL, NULL, 0, 0, &out, NULL),
                         401);
        buf_append(&out, "", 1);
        assert_non_null(strstr((char *)out.data, "expired"));
        assert_int_equal(http_call(&agent, "GET", "/files",
                                   (const char *[]){"path", "/home/user/a.txt", "signature", "v1_x",
                                                    "signature_expiration", "soon", NULL},
                                   NULL, NULL, 0, 0, NULL, NULL),
                         400);
        assert_int_equal(http_call(&agent, "POST", "/files",
                                   (const char *[]){"path", "up.txt", "username", "root", "signature",
                                                    "v1_uqckW2ceY3ocS2w63qxv4BjHMMX/Jg7EUwOnkQpoxjk", NULL},
                                   OCTET, "signed", 6, 0, NULL, NULL),
                         200);
        /* RPCs need the token itself. */
        assert_int_equal(rpc_status("Stat", "{\"path\":\"/\"}", NULL), 401);
        assert_int_equal(agent_http(&agent, "POST", "/init", tok_hdr, "{\"accessToken\":\"\"}", &status, NULL), 0);
        assert_int_equal(status, 204);
        assert_int_equal(rpc_status("Stat", "{\"path\":\"/\"}", NULL), 200);
        buf_done(&out);
}

static int setup(void **state)
{
        if (froot_setup(&fr) < 0)
                return -1;
        return fagent_start(agent_binary, &fr, &agent);
}

static int teardown(void **state)
{
        int r = agent_stop_clean(&agent);

        if (swapper > 0) {
                kill(swapper, SIGKILL);
                waitpid(swapper, NULL, 0);
        }
        umount2(rp(&fr, "/proc"), MNT_DETACH);
        umount2(rp(&fr, "/home/user/rmb/mnt"), MNT_DETACH);
        froot_teardown(&fr);
        return r;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dotdot),
                cmocka_unit_test(test_symlinks_out),
                cmocka_unit_test(test_symlink_swaps),
                cmocka_unit_test(test_long_names),
                cmocka_unit_test(test_non_utf8_names),
                cmocka_unit_test(test_special_files),
                cmocka_unit_test(test_proc),
                cmocka_unit_test(test_remove_stops_at_mounts),
                cmocka_unit_test(test_signatures),
        };

        int pre = agent_test_preamble(argc, argv, "PATH-TO-nestbox-agent");

        if (pre != 0)
                return pre;
        agent_binary = argv[1];
        return cmocka_run_group_tests(tests, setup, teardown);
}
