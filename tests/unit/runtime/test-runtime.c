/* Runtime tests: real sandboxes on a busybox template, with the static probe as pid 1.
 * Root only (skipped otherwise). Each test makes its own sandboxes with their own ids
 * and uid ranges; a group fixture holds the template and one runtime. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/personality.h>

#include "rt-helpers.h"
#include "runtime-internal.h"

static struct rt_fixture fx;
static struct runtime *rt;
static unsigned next_sandbox;

static const char *const v1_ctrls[] = {"cpu", "memory", "pids", "freezer", "systemd", "unified"};

struct made {
        char id[32];
        uint32_t uid_base;
};

static void spec_init(struct sandbox_spec *spec, struct made *m, const char *hostname)
{
        unsigned n = __atomic_fetch_add(&next_sandbox, 1, __ATOMIC_SEQ_CST);

        snprintf(m->id, sizeof(m->id), "t%ux%d", n, (int)getpid());
        m->uid_base = 2000000 + n * RUNTIME_UID_RANGE;
        *spec = (struct sandbox_spec){
                .id = m->id,
                .hostname = hostname,
                .layers = fx.layers,
                .uid_base = m->uid_base,
        };
}

/* Sandboxes a failed assertion left running: the group teardown removes them. */
static char leaked_ids[64][32];

static void track(const char *id)
{
        for (size_t i = 0; i < ELEMENTSOF(leaked_ids); i++)
                if (!leaked_ids[i][0]) {
                        snprintf(leaked_ids[i], sizeof(leaked_ids[i]), "%s", id);
                        return;
                }
}

static struct runtime_sandbox *create_ok(struct runtime *r, struct sandbox_spec *spec)
{
        struct runtime_sandbox *sb = NULL;
        struct nb_error err = {0};
        int q;

        q = runtime_sandbox_create(r, spec, &sb, &err);
        if (q < 0)
                print_error("create %s: %s\n", spec->id, err.message);
        assert_int_equal(q, 0);
        track(spec->id);
        return sb;
}

static int read_host(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int)n;
}

static bool path_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool path_exists(const char *fmt, ...)
{
        char path[512];
        struct stat st;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        return lstat(path, &st) == 0;
}

static bool mountinfo_mentions(const char *what)
{
        static char buf[1 << 20];
        int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        size_t len = 0;
        ssize_t n;

        if (fd < 0)
                return true;
        while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
                len += n;
        close(fd);
        buf[len] = 0;
        return strstr(buf, what) != NULL;
}

static void assert_gone(const char *id, pid_t pid)
{
        char dir[256];

        snprintf(dir, sizeof(dir), "%s/sandboxes/%s", fx.state_dir, id);
        assert_false(path_exists("%s", dir));
        assert_false(mountinfo_mentions(dir));
        for (size_t i = 0; i < ELEMENTSOF(v1_ctrls); i++)
                assert_false(path_exists("/sys/fs/cgroup/%s/nestbox/%s", v1_ctrls[i], id));
        assert_false(path_exists("/sys/fs/cgroup/nestbox/%s", id));
        if (pid > 0) {
                assert_int_equal(kill(pid, 0), -1);
                assert_int_equal(errno, ESRCH);
        }
}

static void run_expect(struct runtime_sandbox *sb, const char *cmd, int status, const char *out_expected)
{
        char out[8192];
        int r = rt_run(sb, cmd, out, sizeof(out));

        if (r != status || (out_expected && strcmp(out, out_expected) != 0))
                print_error("command '%s': status %d (want %d), output '%s' (want '%s')\n", cmd, r, status,
                            out, out_expected ? out_expected : "*");
        assert_int_equal(r, status);
        if (out_expected)
                assert_string_equal(out, out_expected);
}

/* ---- fixture ---------------------------------------------------------------- */

static int group_setup(void **state)
{
        struct runtime_config cfg = {.agent_path = PROBE_PATH};
        struct nb_error err = {0};
        int r;

        if (geteuid() != 0)
                return 0; /* each test skips */
        r = rt_fixture_setup(&fx);
        if (r < 0) {
                print_error("fixture: %s\n", strerror(-r));
                return -1;
        }
        cfg.state_dir = fx.state_dir;
        r = runtime_new(&cfg, &rt, &err);
        if (r < 0) {
                print_error("runtime_new: %s\n", err.message);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state)
{
        /* Kills and removes whatever a failed test left behind (destroyed ones are gone: ENOENT). */
        for (size_t i = 0; rt && i < ELEMENTSOF(leaked_ids); i++)
                if (leaked_ids[i][0])
                        (void)runtime_sandbox_remove_leftovers(rt, leaked_ids[i], NULL);
        rt = runtime_free(rt);
        rt_fixture_teardown(&fx);
        return 0;
}

#define NEED_ROOT()                                                                                         \
        do {                                                                                                \
                if (!rt)                                                                                    \
                        skip();                                                                             \
        } while (0)

/* ---- tests -------------------------------------------------------------------- */

static void test_create_destroy_leaves_nothing(void **state)
{
        struct sandbox_spec spec;
        struct sandbox_identity id;
        struct runtime_sandbox *sb;
        struct made m;

        NEED_ROOT();
        spec_init(&spec, &m, "clean");
        spec.cpu_count = 1;
        spec.memory_mb = 128;
        spec.pids_max = 64;
        sb = create_ok(rt, &spec);
        runtime_sandbox_identity(sb, &id);
        assert_true(runtime_sandbox_alive(sb));
        assert_true(path_exists("%s", runtime_sandbox_socket_path(sb)));
        assert_true(path_exists("/sys/fs/cgroup/memory/nestbox/%s", m.id));
        /* Hybrid host: out of the daemon's systemd/unified cgroups too (survives a service stop). */
        if (path_exists("/sys/fs/cgroup/unified/cgroup.procs")) {
                char path[64], cg[2048], want[96];

                snprintf(path, sizeof(path), "/proc/%d/cgroup", id.pid);
                assert_true(read_host(path, cg, sizeof(cg)) > 0);
                snprintf(want, sizeof(want), "0::/nestbox/%s\n", m.id);
                assert_non_null(strstr(cg, want));
        }
        run_expect(sb, "echo hello", 0, "hello\n");
        assert_int_equal(runtime_sandbox_destroy(rt, sb, NULL), 0);
        assert_gone(m.id, id.pid);
}

static void test_failed_create_leaves_nothing(void **state)
{
        const char *layers[] = {"/nonexistent/layer", NULL};
        struct runtime_sandbox *sb = NULL;
        struct nb_error err = {0};
        struct sandbox_spec spec;
        struct made m;

        NEED_ROOT();
        spec_init(&spec, &m, "bad");
        spec.layers = layers;
        assert_int_equal(runtime_sandbox_create(rt, &spec, &sb, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/layer"));
        assert_gone(m.id, 0);

        spec_init(&spec, &m, "bad");
        spec.id = "Bad-Id";
        assert_int_equal(runtime_sandbox_create(rt, &spec, &sb, &err), -EINVAL);
        spec_init(&spec, &m, "bad");
        spec.uid_base = 0;
        assert_int_equal(runtime_sandbox_create(rt, &spec, &sb, &err), -EINVAL);
        assert_non_null(strstr(err.message, "uid_base"));
}

static void test_user_namespace(void **state)
{
        struct sandbox_spec spec;
        struct sandbox_identity id;
        struct runtime_sandbox *sb;
        char path[64], status[4096], want[64];
        struct made m;

        NEED_ROOT();
        spec_init(&spec, &m, "userns");
        sb = create_ok(rt, &spec);
        run_expect(sb, "id -u; id -g", 0, "0\n0\n");
        runtime_sandbox_identity(sb, &id);
        snprintf(path, sizeof(path), "/proc/%d/status", id.pid);
        assert_true(read_host(path, status, sizeof(status)) > 0);
        snprintf(want, sizeof(want), "Uid:\t%u\t%u\t%u\t%u\n", m.uid_base, m.uid_base, m.uid_base,
                 m.uid_base);
        assert_non_null(strstr(status, want));
        /* Layer files keep their owners through the idmapped mount; the top layer wins. */
        run_expect(sb, "stat -c '%u:%g' /bin/busybox /etc/passwd /home/user/owned", 0,
                   "0:0\n0:0\n1000:1000\n");
        run_expect(sb, "cat /etc/motd", 0, "top\n");
        run_expect(sb, "stat -c %a /tmp", 0, "1777\n");
        /* Root inside can use its own ids, and files it creates are uid_base on the host. */
        run_expect(sb,
                   "echo x > /home/user/new && chown 1000:1000 /home/user/new && stat -c %u /home/user/new",
                   0, "1000\n");
        assert_true(path_exists("%s/sandboxes/%s/upper/home/user/new", fx.state_dir, m.id));
        {
                struct stat st;
                char p[256];

                snprintf(p, sizeof(p), "%s/sandboxes/%s/upper/home/user/new", fx.state_dir, m.id);
                assert_int_equal(stat(p, &st), 0);
                assert_int_equal(st.st_uid, m.uid_base + 1000);
        }
        runtime_sandbox_destroy(rt, sb, NULL);
        assert_gone(m.id, id.pid);
}

static void test_pid_uts_isolation(void **state)
{
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char out[8192];
        struct made m;
        int n = 0;

        NEED_ROOT();
        spec_init(&spec, &m, "sandbox-host.example");
        sb = create_ok(rt, &spec);
        run_expect(sb, "hostname", 0, "sandbox-host.example\n");
        run_expect(sb, "tr '\\0' ' ' < /proc/1/cmdline", 0, "nestbox-agent ");
        /* Only the probe, the shell and ls: no host process. */
        assert_int_equal(rt_run(sb, "ls /proc | grep '^[0-9]'", out, sizeof(out)), 0);
        for (char *p = out; (p = strchr(p, '\n')); p++)
                n++;
        assert_in_range(n, 2, 4);
        assert_int_equal(rt_run(sb, "ps -o pid,args", out, sizeof(out)), 0);
        assert_non_null(strstr(out, "nestbox-agent"));
        assert_null(strstr(out, "systemd"));
        run_expect(sb, "cat /proc/self/cgroup | grep -c -v ':/$'", 1, "0\n");
        runtime_sandbox_destroy(rt, sb, NULL);
}

/* A non-blocking listener on the host's 127.0.0.1, on a free port written to *addr. */
static int listen_host_loopback(struct sockaddr_in *addr)
{
        socklen_t len = sizeof(*addr);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
        assert_int_equal(listen(fd, 8), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
        return fd;
}

static void test_network_only_loopback(void **state)
{
        struct sockaddr_in addr;
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char cmd[256], out[4096];
        struct made m;
        int lfd;

        NEED_ROOT();
        lfd = listen_host_loopback(&addr);

        spec_init(&spec, &m, "net");
        sb = create_ok(rt, &spec);
        run_expect(sb, "ls /sys/class/net", 0, "lo\n");
        run_expect(sb, "cat /sys/class/net/lo/flags", 0, "0x9\n"); /* IFF_UP | IFF_LOOPBACK */
        snprintf(cmd, sizeof(cmd), "nc -w 1 127.0.0.1 %d </dev/null; echo rc=$?", ntohs(addr.sin_port));
        assert_int_equal(rt_run(sb, cmd, out, sizeof(out)), 0);
        assert_null(strstr(out, "rc=0"));
        assert_int_equal(accept(lfd, NULL, NULL), -1);
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        runtime_sandbox_destroy(rt, sb, NULL);
        close(lfd);
}

/* Port forwarding dials through the sandbox's own namespace: its loopback, never the
 * host's, and the namespace fd outlives the sandbox harmlessly. */
static void test_netns_dial(void **state)
{
        struct sockaddr_in addr;
        struct nb_error err = {0};
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char cmd[128], out[256];
        int lfd, netns, fd = -1, probe;
        ssize_t n;
        struct made m;

        NEED_ROOT();
        lfd = listen_host_loopback(&addr);

        spec_init(&spec, &m, "dial");
        sb = create_ok(rt, &spec);
        netns = runtime_sandbox_open_netns(sb, &err);
        assert_true(netns >= 0);
        assert_true(fcntl(netns, F_GETFD) & FD_CLOEXEC);

        /* The host listens on this port; the sandbox's loopback does not. */
        assert_int_equal(runtime_netns_connect_loopback(netns, ntohs(addr.sin_port), 1000, &err), -ECONNREFUSED);
        assert_int_equal(accept(lfd, NULL, NULL), -1);

        snprintf(cmd, sizeof(cmd), "echo hi-from-sandbox | nc -l -p %d", ntohs(addr.sin_port));
        probe = rt_send(sb, cmd);
        assert_true(probe >= 0);
        for (int i = 0; i < 200 && fd < 0; i++) {
                fd = runtime_netns_connect_loopback(netns, ntohs(addr.sin_port), 1000, &err);
                if (fd < 0) {
                        assert_int_equal(fd, -ECONNREFUSED);
                        usleep(10000);
                }
        }
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        n = read(fd, out, sizeof(out) - 1);
        assert_int_equal(n, 16);
        out[n] = 0;
        assert_string_equal(out, "hi-from-sandbox\n");
        close(fd);
        assert_int_equal(rt_recv(probe, out, sizeof(out), 10000), 0);
        close(probe);

        runtime_sandbox_destroy(rt, sb, NULL);
        /* The namespace fd still works, and leads nowhere. */
        assert_int_equal(runtime_netns_connect_loopback(netns, ntohs(addr.sin_port), 1000, &err), -ECONNREFUSED);
        close(netns);
        close(lfd);
}

static void test_fork_bomb_contained(void **state)
{
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char path[256], buf[256], out[65536];
        struct made m;

        NEED_ROOT();
        spec_init(&spec, &m, "bomb");
        spec.pids_max = 48;
        sb = create_ok(rt, &spec);
        /* Runs 3 s, then the probe kills its process group. */
        (void)rt_run(sb, "@3000 b() { b | b & }; b; sleep 10", out, sizeof(out));
        snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/nestbox/%s/pids.events", m.id);
        if (read_host(path, buf, sizeof(buf)) > 0) {
                unsigned long hits = strtoul(strchr(buf, ' ') + 1, NULL, 10);

                assert_true(hits > 0); /* the limit was what stopped it */
        }
        snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/nestbox/%s/pids.current", m.id);
        if (read_host(path, buf, sizeof(buf)) > 0)
                assert_true(atoi(buf) <= 48);
        run_expect(sb, "echo alive", 0, "alive\n");
        runtime_sandbox_destroy(rt, sb, NULL);
        assert_gone(m.id, 0);
}

static void test_memory_hog_killed(void **state)
{
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char out[4096];
        uint64_t usage = 0;
        struct made m;
        int r;

        NEED_ROOT();
        spec_init(&spec, &m, "hog");
        spec.memory_mb = 64;
        sb = create_ok(rt, &spec);
        r = rt_run(sb, "dd if=/dev/zero of=/dev/null bs=256M count=1", out, sizeof(out));
        assert_int_equal(r, 128 + SIGKILL);
        run_expect(sb, "echo survived", 0, "survived\n");
        assert_true(runtime_sandbox_alive(sb));
        assert_int_equal(runtime_sandbox_memory_usage(sb, &usage), 0);
        assert_true(usage > 0 && usage <= 64ull << 20);
        runtime_sandbox_destroy(rt, sb, NULL);
}

static void test_seccomp_and_caps(void **state)
{
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        char out[4096];
        struct made m;

        NEED_ROOT();
        spec_init(&spec, &m, "sec");
        sb = create_ok(rt, &spec);
        assert_int_equal(rt_run(sb, "!sys", out, sizeof(out)), 0);
        assert_non_null(strstr(out, "unshare=1\n"));
        assert_non_null(strstr(out, "mount=1\n"));
        assert_non_null(strstr(out, "keyctl=1\n"));
        assert_non_null(strstr(out, "clone3=38\n"));
        assert_non_null(strstr(out, "clone_newns=1\n"));
        assert_non_null(strstr(out, "personality=1\n"));
        assert_non_null(strstr(out, "io_uring_setup=1\n"));
        run_expect(sb, "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status", 0,
                   "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n");
        run_expect(sb, "unshare -U true 2>/dev/null; echo $?", 0, "1\n");
        run_expect(sb, "mount -t tmpfs none /tmp 2>/dev/null || echo refused", 0, "refused\n");
        runtime_sandbox_destroy(rt, sb, NULL);

        spec_init(&spec, &m, "nnp");
        spec.no_new_privs = true;
        sb = create_ok(rt, &spec);
        run_expect(sb, "grep NoNewPrivs /proc/self/status", 0, "NoNewPrivs:\t1\n");
        runtime_sandbox_destroy(rt, sb, NULL);
}

static void test_writes_private_per_sandbox(void **state)
{
        struct sandbox_spec sa, sbs;
        struct runtime_sandbox *a, *b;
        struct made ma, mb;

        NEED_ROOT();
        spec_init(&sa, &ma, "a");
        spec_init(&sbs, &mb, "b");
        a = create_ok(rt, &sa);
        b = create_ok(rt, &sbs);
        run_expect(a, "echo a > /tmp/f && echo a > /etc/f && echo changed > /etc/motd && rm /bin/ls", 0, "");
        run_expect(b, "cat /tmp/f /etc/f 2>/dev/null; cat /etc/motd; ls -d /", 0, "top\n/\n");
        run_expect(a, "cat /etc/motd", 0, "changed\n");
        assert_false(path_exists("%s/etc/f", fx.top_layer));
        assert_true(path_exists("%s/bin/ls", fx.base_layer));
        runtime_sandbox_destroy(rt, a, NULL);
        runtime_sandbox_destroy(rt, b, NULL);
}

static void test_adopt_after_restart(void **state)
{
        struct runtime_config cfg = {.agent_path = PROBE_PATH, .state_dir = fx.state_dir};
        struct sandbox_identity id, bad;
        struct runtime *rt1 = NULL, *rt2 = NULL;
        struct runtime_sandbox *sb, *again = NULL;
        struct nb_error err = {0};
        struct sandbox_spec spec;
        struct made m;

        NEED_ROOT();
        assert_int_equal(runtime_new(&cfg, &rt1, &err), 0);
        spec_init(&spec, &m, "adopt");
        spec.memory_mb = 128;
        sb = create_ok(rt1, &spec);
        run_expect(sb, "echo before > /tmp/state", 0, "");
        runtime_sandbox_identity(sb, &id);
        sb = runtime_sandbox_forget(sb);
        rt1 = runtime_free(rt1);

        assert_int_equal(runtime_new(&cfg, &rt2, &err), 0);
        bad = id;
        bad.starttime++;
        assert_int_equal(runtime_sandbox_adopt(rt2, m.id, &bad, m.uid_base, &again, &err), -ESRCH);
        assert_int_equal(runtime_sandbox_adopt(rt2, m.id, &id, m.uid_base + RUNTIME_UID_RANGE, &again, &err),
                         -ESRCH);
        assert_int_equal(runtime_sandbox_adopt(rt2, m.id, &id, m.uid_base, &again, &err), 0);
        assert_true(runtime_sandbox_alive(again));
        run_expect(again, "cat /tmp/state", 0, "before\n");
        assert_int_equal(runtime_sandbox_freeze(again, &err), 0);
        assert_int_equal(runtime_sandbox_thaw(again, &err), 0);
        runtime_sandbox_destroy(rt2, again, NULL);
        assert_gone(m.id, id.pid);
        assert_int_equal(runtime_sandbox_adopt(rt2, m.id, &id, m.uid_base, &again, &err), -ESRCH);
        assert_int_equal(runtime_sandbox_remove_leftovers(rt2, m.id, &err), 0);
        runtime_free(rt2);
}

static void test_remove_leftovers_of_crash(void **state)
{
        struct sandbox_identity id;
        struct runtime_sandbox *sb;
        struct nb_error err = {0};
        struct sandbox_spec spec;
        struct made m;
        char out[64], path[256];

        NEED_ROOT();
        /* As if the daemon died and the catalog lost the sandbox: only the id is known. */
        spec_init(&spec, &m, "crash");
        spec.pids_max = 32;
        sb = create_ok(rt, &spec);
        run_expect(sb, "setsid sleep 1000 & setsid sleep 1000 & sleep 0.3; echo started", 0, "started\n");
        snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/nestbox/%s/pids.current", m.id);
        if (read_host(path, out, sizeof(out)) > 0)
                assert_true(atoi(out) >= 3);
        runtime_sandbox_identity(sb, &id);
        runtime_sandbox_forget(sb);
        assert_int_equal(kill(id.pid, 0), 0);
        assert_int_equal(runtime_sandbox_remove_leftovers(rt, m.id, &err), 0);
        assert_gone(m.id, 0);
        /* Killed, then reaped by us (its parent) or by init. */
        (void)waitpid(id.pid, NULL, 0);
        assert_int_equal(kill(id.pid, 0), -1);
        (void)out;
}

struct par {
        pthread_t thread;
        int result;
        char message[256];
};

static void *par_main(void *arg)
{
        struct par *p = arg;
        struct sandbox_spec spec;
        struct runtime_sandbox *sb = NULL;
        struct nb_error err = {0};
        char out[256];
        struct made m;
        int r;

        spec_init(&spec, &m, "parallel");
        spec.memory_mb = 64;
        spec.pids_max = 32;
        r = runtime_sandbox_create(rt, &spec, &sb, &err);
        if (r < 0) {
                p->result = r;
                snprintf(p->message, sizeof(p->message), "%s", err.message);
                return NULL;
        }
        r = rt_run(sb, "hostname", out, sizeof(out));
        if (r != 0 || strcmp(out, "parallel\n") != 0) {
                p->result = r ? r : -EIO;
                snprintf(p->message, sizeof(p->message), "hostname -> %d '%.200s'", r, out);
        }
        runtime_sandbox_destroy(rt, sb, NULL);
        return NULL;
}

static void test_parallel_creates(void **state)
{
        struct par p[20];

        NEED_ROOT();
        memset(p, 0, sizeof(p));
        for (int i = 0; i < 20; i++)
                assert_int_equal(pthread_create(&p[i].thread, NULL, par_main, &p[i]), 0);
        for (int i = 0; i < 20; i++) {
                pthread_join(p[i].thread, NULL);
                if (p[i].result != 0)
                        print_error("thread %d: %d %s\n", i, p[i].result, p[i].message);
        }
        for (int i = 0; i < 20; i++)
                assert_int_equal(p[i].result, 0);
}

static void test_freeze_thaw(void **state)
{
        struct sandbox_spec spec;
        struct runtime_sandbox *sb;
        struct nb_error err = {0};
        char out[256];
        struct made m;
        int fd;

        NEED_ROOT();
        spec_init(&spec, &m, "freeze");
        sb = create_ok(rt, &spec);
        run_expect(sb, "true", 0, "");
        assert_int_equal(runtime_sandbox_freeze(sb, &err), 0);
        fd = rt_send(sb, "echo thawed");
        assert_true(fd >= 0);
        assert_int_equal(rt_recv(fd, out, sizeof(out), 300), -ETIMEDOUT);
        assert_int_equal(runtime_sandbox_thaw(sb, &err), 0);
        assert_int_equal(rt_recv(fd, out, sizeof(out), 5000), 0);
        assert_string_equal(out, "thawed\n");
        close(fd);
        /* Destroying a frozen sandbox works too. */
        assert_int_equal(runtime_sandbox_freeze(sb, &err), 0);
        runtime_sandbox_destroy(rt, sb, NULL);
        assert_gone(m.id, 0);
}

static void test_cgroup_v2_unified(void **state)
{
        static const char root[] = "/sys/fs/cgroup/unified";
        struct runtime_config cfg = {
                .agent_path = PROBE_PATH, .state_dir = fx.state_dir, .cgroup_root = root};
        struct runtime *r2 = NULL;
        struct runtime_sandbox *sb = NULL;
        struct nb_error err = {0};
        struct sandbox_identity id;
        struct sandbox_spec spec;
        char path[256], buf[256];
        struct made m;
        int fd;

        NEED_ROOT();
        if (!path_exists("%s/cgroup.controllers", root))
                skip();
        assert_int_equal(runtime_new(&cfg, &r2, &err), 0);
        spec_init(&spec, &m, "v2");
        sb = create_ok(r2, &spec);
        runtime_sandbox_identity(sb, &id);
        /* Born in its cgroup (CLONE_INTO_CGROUP), which is also its cgroup namespace root. */
        snprintf(path, sizeof(path), "%s/nestbox/%s/cgroup.procs", root, m.id);
        assert_true(read_host(path, buf, sizeof(buf)) > 0);
        assert_int_equal(atoi(buf), id.pid);
        run_expect(sb, "grep '^0::' /proc/self/cgroup", 0, "0::/\n");
        assert_int_equal(runtime_sandbox_freeze(sb, &err), 0);
        fd = rt_send(sb, "echo v2");
        assert_int_equal(rt_recv(fd, buf, sizeof(buf), 300), -ETIMEDOUT);
        assert_int_equal(runtime_sandbox_thaw(sb, &err), 0);
        assert_int_equal(rt_recv(fd, buf, sizeof(buf), 5000), 0);
        close(fd);
        runtime_sandbox_destroy(r2, sb, NULL);
        snprintf(path, sizeof(path), "%s/nestbox/%s", root, m.id);
        assert_false(path_exists("%s", path));

        /* This host binds memory to v1: a v2 memory limit must fail clearly, leaving nothing. */
        {
                char ctrls[256] = "";

                snprintf(path, sizeof(path), "%s/nestbox/cgroup.subtree_control", root);
                read_host(path, ctrls, sizeof(ctrls));
                if (!strstr(ctrls, "memory")) {
                        spec_init(&spec, &m, "v2");
                        spec.memory_mb = 64;
                        assert_int_equal(runtime_sandbox_create(r2, &spec, &sb, &err), -EOPNOTSUPP);
                        assert_non_null(strstr(err.message, "'memory' controller"));
                        assert_gone(m.id, 0);
                        snprintf(path, sizeof(path), "%s/nestbox/%s", root, m.id);
                        assert_false(path_exists("%s", path));
                }
        }
        runtime_free(r2);
}

static void test_cgroup_v2_limit_files(void **state)
{
        static const char *const files[] = {"cpu.max", "memory.max", "memory.swap.max", "pids.max"};
        struct cgroup_limits limits = {.cpu_count = 2, .memory_mb = 256, .pids_max = 100};
        char dir[] = "/tmp/nb-cg2-XXXXXX", buf[64];
        struct nb_error err = {0};
        int dfd;

        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                close(openat(dfd, files[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        assert_int_equal(cgroup_v2_set_limits(dfd, CG_V2_CPU | CG_V2_MEMORY | CG_V2_PIDS, &limits, &err), 0);
        assert_int_equal(cgroup_read_at(dfd, "cpu.max", buf, sizeof(buf)), 13);
        assert_string_equal(buf, "200000 100000");
        cgroup_read_at(dfd, "memory.max", buf, sizeof(buf));
        assert_string_equal(buf, "268435456");
        cgroup_read_at(dfd, "memory.swap.max", buf, sizeof(buf));
        assert_string_equal(buf, "0");
        cgroup_read_at(dfd, "pids.max", buf, sizeof(buf));
        assert_string_equal(buf, "100");
        /* A limit whose controller is not enabled is refused by name. */
        assert_int_equal(cgroup_v2_set_limits(dfd, CG_V2_CPU, &limits, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.message, "memory"));
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                unlinkat(dfd, files[i], 0);
        close(dfd);
        rmdir(dir);
}

/* The compiled filter, on the host: every syscall the brief names is refused with EPERM
 * (clone3 and post-profile syscalls with ENOSYS), arguments chosen so that a syscall the
 * filter let through would fail differently. */
static void test_seccomp_filter_denylist(void **state)
{
        static const char *const denied[] = {
                "add_key",
                "bpf",
                "clock_adjtime",
                "clock_settime",
                "settimeofday",
                "create_module",
                "delete_module",
                "finit_module",
                "init_module",
                "get_kernel_syms",
                "query_module",
                "kexec_load",
                "kexec_file_load",
                "keyctl",
                "request_key",
                "lookup_dcookie",
                "mount",
                "umount2",
                "pivot_root",
                "move_mount",
                "open_tree",
                "fsopen",
                "fsconfig",
                "fsmount",
                "fspick",
                "mount_setattr",
                "name_to_handle_at",
                "open_by_handle_at",
                "nfsservctl",
                "perf_event_open",
                "quotactl",
                "reboot",
                "setns",
                "unshare",
                "swapon",
                "swapoff",
                "sysfs",
                "_sysctl",
                "uselib",
                "userfaultfd",
                "ustat",
                "vm86",
                "vm86old",
                "io_uring_setup",
                "io_uring_enter",
                "io_uring_register",
                "iopl",
                "ioperm",
                "acct",
                "kcmp",
                "process_vm_readv",
                "process_vm_writev",
                "sethostname",
                "syslog",
        };
        struct sock_fprog prog = {0};
        struct nb_error err = {0};
        int pfd[2], status;
        pid_t pid;

        assert_int_equal(seccomp_build(&prog, &err), 0);
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char line[256];
                int bad = 0;

                if (seccomp_child_load(&prog) < 0)
                        _exit(100);
#define TRY(name, expect, ...)                                                                              \
        do {                                                                                                \
                long _r = syscall(__VA_ARGS__);                                                             \
                if (_r != -1 || errno != (expect)) {                                                        \
                        int _n = snprintf(line, sizeof(line), "%s: r=%ld errno=%d\n", name, _r, errno);     \
                        (void)!write(pfd[1], line, _n);                                                     \
                        bad++;                                                                              \
                }                                                                                           \
        } while (0)
                for (size_t i = 0; i < ELEMENTSOF(denied); i++) {
                        int nr = seccomp_syscall_resolve_name(denied[i]);

                        if (nr < 0)
                                continue; /* not a syscall on x86_64 */
                        TRY(denied[i], EPERM, nr, -1L, -1L, -1L, -1L, -1L, -1L);
                }
                TRY("clone(CLONE_NEWUSER)", EPERM, SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L,
                    0L);
                TRY("clone3", ENOSYS, SYS_clone3, -1L, -1L);
                TRY("personality(ADDR_NO_RANDOMIZE)", EPERM, SYS_personality, 0x0040000L);
                TRY("socket(AF_VSOCK)", EPERM, SYS_socket, 40L, 1L, 0L);
                TRY("syscall 460 (newer than the profile)", ENOSYS, 460L, -1L, -1L);
                if (syscall(SYS_getppid) <= 0 || personality(0xffffffff) < 0)
                        bad++;
                _exit(bad);
#undef TRY
        }
        close(pfd[1]);
        {
                char buf[4096];
                ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);

                if (n > 0) {
                        buf[n] = 0;
                        print_error("%s", buf);
                }
        }
        close(pfd[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        seccomp_done(&prog);
}

static void test_rm_rf_hostile_tree(void **state)
{
        char dir[] = "/tmp/nb-rmrf-XXXXXX", path[512], victim[] = "/tmp/nb-victim-XXXXXX";
        int dfd, fd, cur;

        NEED_ROOT();
        assert_non_null(mkdtemp(dir));
        assert_non_null(mkdtemp(victim));
        snprintf(path, sizeof(path), "%s/keep", victim);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(mkdirat(dfd, "t", 0755), 0);
        cur = openat(dfd, "t", O_PATH | O_DIRECTORY | O_CLOEXEC);
        /* 3000 levels (deeper than PATH_MAX), symlinks out to a victim dir, wide dirs. */
        for (int i = 0; i < 3000; i++) {
                int next;

                assert_int_equal(symlinkat(victim, cur, "escape"), 0);
                if (i % 500 == 0)
                        for (int j = 0; j < 200; j++) {
                                char name[16];

                                snprintf(name, sizeof(name), "f%d", j);
                                fd = openat(cur, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                                close(fd);
                                snprintf(name, sizeof(name), "d%d", j);
                                mkdirat(cur, name, 0);
                        }
                assert_int_equal(mkdirat(cur, "d", 0700), 0);
                next = openat(cur, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
                close(cur);
                cur = next;
        }
        close(cur);
        assert_int_equal(rm_rf_at(dfd, "t"), 0);
        assert_int_equal(faccessat(dfd, "t", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_true(path_exists("%s/keep", victim));
        assert_int_equal(rm_rf_at(dfd, "t"), -ENOENT);
        close(dfd);
        rmdir(dir);
        unlink(path);
        rmdir(victim);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_destroy_leaves_nothing),
                cmocka_unit_test(test_failed_create_leaves_nothing),
                cmocka_unit_test(test_user_namespace),
                cmocka_unit_test(test_pid_uts_isolation),
                cmocka_unit_test(test_network_only_loopback),
                cmocka_unit_test(test_netns_dial),
                cmocka_unit_test(test_fork_bomb_contained),
                cmocka_unit_test(test_memory_hog_killed),
                cmocka_unit_test(test_seccomp_and_caps),
                cmocka_unit_test(test_writes_private_per_sandbox),
                cmocka_unit_test(test_adopt_after_restart),
                cmocka_unit_test(test_remove_leftovers_of_crash),
                cmocka_unit_test(test_parallel_creates),
                cmocka_unit_test(test_freeze_thaw),
                cmocka_unit_test(test_cgroup_v2_unified),
                cmocka_unit_test(test_cgroup_v2_limit_files),
                cmocka_unit_test(test_seccomp_filter_denylist),
                cmocka_unit_test(test_rm_rf_hostile_tree),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
