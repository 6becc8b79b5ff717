/* nestbox-agent: pid 1 of every sandbox, serving E2B's envd protocol over the
 * link socket it inherits (fd 3, or --listen-fd N). Setup and teardown only;
 * the work happens in loop callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "conn.h"
#include "interp.h"
#include "log.h"
#include "process.h"
#include "settings.h"
#include "signals.h"

/* agent.log is the sandbox's log the daemon serves (GET /sandboxes/{id}/logs). */
#define AGENT_LOG_MAX_BYTES (8ull << 20)

void agent_post(void *userdata)
{
        conn_reap_dead(userdata);
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: nestbox-agent [--listen-fd N] [--debug]\n"
                "Serves the envd protocol on an inherited listening unix socket (default fd 3).\n"
                "  --listen-fd N   the listening socket\n"
                "  --passwd PATH   users database (default /etc/passwd)\n"
                "  --group PATH    groups database (default /etc/group)\n"
                "  --debug         log at debug level\n"
                "  --version       print the version\n");
}

/* pid 1 may start with 0-2 closed; later fds must never land there, or a child's
 * dup2() onto stdio would clobber one of its own pipes. */
static int ensure_stdio(void)
{
        for (int fd = 0; fd < 3; fd++) {
                int n;

                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                n = open("/dev/null", O_RDWR);
                if (n < 0)
                        /* A root without /dev/null: any fd holds the slot just as well. */
                        n = open("/", O_PATH);
                if (n < 0)
                        return -errno;
                if (n != fd) {
                        /* Should not happen: open() returns the lowest free fd. */
                        close(n);
                        return -EBADF;
                }
        }
        return 0;
}

/* A pid 1 blocked on a full log pipe would stall every sandbox request: when
 * stderr is a pipe (a runtime collecting logs), drop lines instead. Reopening
 * it through /proc gives a file description of our own, so O_NONBLOCK does not
 * leak to whoever else holds the pipe. */
static void make_log_nonblocking(void)
{
        struct stat st;
        int fd;

        if (fstat(STDERR_FILENO, &st) < 0 || !S_ISFIFO(st.st_mode))
                return;
        fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return; /* no /proc: keep the blocking pipe */
        (void)dup2(fd, STDERR_FILENO);
        close(fd);
}

static int check_listen_fd(int fd)
{
        int v = 0, flags;
        socklen_t len = sizeof(v);

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0)
                return log_error_errno(-errno, "fd %d is not a socket: %m", fd);
        if (!v)
                return log_error_errno(-EINVAL, "fd %d is not a listening socket", fd);
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return log_error_errno(-errno, "Failed to configure fd %d: %m", fd);
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"listen-fd", required_argument, NULL, 'l'}, {"passwd", required_argument, NULL, 'p'},
                {"group", required_argument, NULL, 'g'},     {"debug", no_argument, NULL, 'd'},
                {"version", no_argument, NULL, 'v'},         {"help", no_argument, NULL, 'h'},
                {},
        };
        struct agent a = {
                .listen_fd = 3,
                .signal_fd = -EBADF,
                .passwd_path = "/etc/passwd",
                .group_path = "/etc/group",
        };
        int c, r;

        log_set_ident("nestbox-agent");
        log_set_file_limit(AGENT_LOG_MAX_BYTES);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                char *end;

                switch (c) {
                case 'l':
                        errno = 0;
                        a.listen_fd = (int)strtol(optarg, &end, 10);
                        if (errno || *end || a.listen_fd < 0) {
                                log_error("Invalid --listen-fd '%s'", optarg);
                                return 2;
                        }
                        break;
                case 'p':
                        a.passwd_path = optarg;
                        break;
                case 'g':
                        a.group_path = optarg;
                        break;
                case 'd':
                        log_set_level(LOG_LEVEL_DEBUG);
                        break;
                case 'v':
                        printf("nestbox-agent %s (envd %s)\n", NESTBOX_VERSION, NESTBOX_ENVD_VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }

        r = ensure_stdio();
        if (r < 0) {
                log_error_errno(r, "Failed to open /dev/null for stdio: %m");
                return 1;
        }
        make_log_nonblocking();
        if (check_listen_fd(a.listen_fd) < 0)
                return 1;
        a.pid1 = getpid() == 1;
        if (!a.pid1) {
                /* Outside a pid namespace (tests, debugging) orphans of our commands must
                 * still come back to us to be reaped. */
                if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                        log_warning_errno(-errno, "Failed to become a subreaper, ignoring: %m");
        }
        /* Writes to a vanished peer must fail with EPIPE, not kill pid 1. */
        signal(SIGPIPE, SIG_IGN);

        r = loop_new(&a.loop);
        if (r < 0) {
                log_error_errno(r, "Failed to create the event loop: %m");
                return 1;
        }
        r = signals_setup(&a);
        if (r < 0) {
                log_error_errno(r, "Failed to set up signal handling: %m");
                goto out;
        }
        r = loop_io_add(a.loop, &a.listen_io, a.listen_fd, EPOLLIN, conn_listen_event, &a);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the listening socket: %m");
                goto out;
        }
        loop_set_post(a.loop, agent_post, &a);
        log_info("nestbox-agent %s ready on fd %d%s", NESTBOX_VERSION, a.listen_fd, a.pid1 ? " as pid 1" : "");

        r = loop_run(a.loop);

out:
        conn_free_all(&a);
        interp_shutdown();
        process_kill_all(&a);
        process_free_all(&a);
        settings_done(&a);
        loop_io_del(&a.listen_io);
        loop_io_del(&a.signal_io);
        loop_timer_disarm(&a.listen_retry);
        safe_close(a.signal_fd);
        loop_free(a.loop);
        return r < 0 ? 1 : 0;
}
