/* Test client for nestbox-agent (see agent-client.h). */
#include "agent-client.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../src/wire/connect.h"
#include "../../../src/wire/link.h"

int agent_start(const char *binary, const char *const *extra_args, bool pid1, struct agent_proc *ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *argv[16] = {binary};
        int fd, n = 1;
        pid_t pid;

        snprintf(ret->dir, sizeof(ret->dir), "/tmp/nestbox-agent-test.XXXXXX");
        if (!mkdtemp(ret->dir))
                return -errno;
        snprintf(ret->sock, sizeof(ret->sock), "%s/agent.sock", ret->dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ret->sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
                return -errno;
        for (; extra_args && *extra_args && n < 15; extra_args++)
                argv[n++] = *extra_args;
        argv[n] = NULL;
        /* A raw clone() with no new stack behaves like fork(), plus CLONE_NEWPID. */
        pid = pid1 ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL) : fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Never outlive the test, even if it crashes. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* dup2(3, 3) would keep FD_CLOEXEC: clear it explicitly in that case. */
                if (fd == 3 ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, 3) < 0)
                        _exit(126);
                execv(binary, (char **)argv);
                _exit(127);
        }
        close(fd);
        ret->pid = pid;
        return 0;
}

int agent_stop(struct agent_proc *a)
{
        int status = -1;

        if (a->pid > 0) {
                kill(a->pid, SIGTERM);
                while (waitpid(a->pid, &status, 0) < 0 && errno == EINTR)
                        ;
                a->pid = 0;
        }
        unlink(a->sock);
        rmdir(a->dir);
        return status;
}

void envelope(struct buf *b, uint8_t flags, const void *p, size_t n)
{
        if (connect_envelope_append(b, flags, p, n) < 0)
                abort();
}

static int wait_readable(int fd, int timeout_ms)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;

        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

int exch_open(const struct agent_proc *a, const char *method, const char *path, const char *const *headers,
              const void *body, size_t n, bool send_end, struct exch *ret)
{
        return exch_open_port(a, 0, method, path, headers, body, n, send_end, ret);
}

int exch_open_port(const struct agent_proc *a, unsigned port, const char *method, const char *path,
                   const char *const *headers, const void *body, size_t n, bool send_end, struct exch *ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        json_t *head, *h;
        char *text;
        int fd, r;

        *ret = (struct exch){.fd = -1};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        h = json_object();
        for (; headers && headers[0]; headers += 2)
                json_object_set_new(h, headers[0], json_string(headers[1]));
        head = json_pack("{s:s, s:s, s:{}, s:o}", "method", method, "path", path, "query", "headers", h);
        if (port)
                json_object_set_new(head, "port", json_integer(port));
        text = json_dumps(head, JSON_COMPACT);
        json_decref(head);
        r = link_write_frame(fd, LINK_HEAD, text, strlen(text));
        free(text);
        if (r >= 0 && n > 0)
                r = link_write_frame(fd, LINK_BODY, body, n);
        if (r >= 0 && send_end)
                r = link_write_frame(fd, LINK_END, NULL, 0);
        if (r < 0) {
                close(fd);
                return r;
        }
        ret->fd = fd;
        return 0;
}

int exch_send_body(struct exch *e, const void *body, size_t n)
{
        return link_write_frame(e->fd, LINK_BODY, body, n);
}

int exch_send_end(struct exch *e)
{
        return link_write_frame(e->fd, LINK_END, NULL, 0);
}

static int read_frame(struct exch *e, int timeout_ms, struct buf *scratch, enum link_frame_type *type)
{
        int r = wait_readable(e->fd, timeout_ms);

        if (r < 0)
                return r;
        return link_read_frame(e->fd, scratch, type);
}

int exch_read_head(struct exch *e, int timeout_ms)
{
        struct buf f = {0};
        enum link_frame_type type;
        int r;

        r = read_frame(e, timeout_ms, &f, &type);
        if (r >= 0 && type != LINK_HEAD)
                r = -EBADMSG;
        if (r >= 0) {
                e->head = json_loadb((const char *)f.data, f.len, 0, NULL);
                if (!json_is_integer(json_object_get(e->head, "status")))
                        r = -EBADMSG;
                else
                        e->status = (int)json_integer_value(json_object_get(e->head, "status"));
        }
        buf_done(&f);
        return r;
}

static int read_body_frame(struct exch *e, int timeout_ms)
{
        struct buf f = {0};
        enum link_frame_type type;
        int r;

        if (e->ended)
                return -EPIPE;
        r = read_frame(e, timeout_ms, &f, &type);
        if (r >= 0) {
                if (type == LINK_END)
                        e->ended = true;
                else if (type == LINK_BODY)
                        buf_append(&e->body, f.data, f.len);
                else
                        r = -EBADMSG;
        }
        buf_done(&f);
        return r;
}

int exch_read_all(struct exch *e, int timeout_ms)
{
        int r;

        if (!e->head) {
                r = exch_read_head(e, timeout_ms);
                if (r < 0)
                        return r;
        }
        while (!e->ended) {
                r = read_body_frame(e, timeout_ms);
                if (r < 0)
                        return r;
        }
        return 0;
}

int exch_next_envelope(struct exch *e, int timeout_ms, uint8_t *ret_flags, char **ret_payload, size_t *ret_len)
{
        int r;

        if (!e->head) {
                r = exch_read_head(e, timeout_ms);
                if (r < 0)
                        return r;
        }
        for (;;) {
                const uint8_t *payload;
                uint8_t flags;
                uint32_t len;
                char *copy;

                r = connect_envelope_parse(buf_head(&e->body), buf_avail(&e->body), &flags, &payload, &len);
                if (r < 0)
                        return r;
                if (r > 0) {
                        copy = malloc(len + 1);
                        memcpy(copy, payload, len);
                        copy[len] = 0;
                        buf_consume(&e->body, 5 + len);
                        *ret_flags = flags;
                        *ret_payload = copy;
                        *ret_len = len;
                        return 0;
                }
                r = read_body_frame(e, timeout_ms);
                if (r < 0)
                        return r;
        }
}

void exch_close(struct exch *e)
{
        if (e->fd >= 0)
                close(e->fd);
        json_decref(e->head);
        buf_done(&e->body);
        *e = (struct exch){.fd = -1};
}

int agent_http(const struct agent_proc *a, const char *method, const char *path, const char *const *headers,
               const char *body, int *ret_status, char **ret_body)
{
        struct exch e;
        int r;

        r = exch_open(a, method, path, headers, body, body ? strlen(body) : 0, true, &e);
        if (r < 0)
                return r;
        r = exch_read_all(&e, 10000);
        if (r >= 0) {
                *ret_status = e.status;
                if (ret_body) {
                        *ret_body = calloc(1, buf_avail(&e.body) + 1);
                        if (buf_avail(&e.body) > 0)
                                memcpy(*ret_body, buf_head(&e.body), buf_avail(&e.body));
                }
        }
        exch_close(&e);
        return r;
}

int agent_stop_clean(struct agent_proc *a)
{
        int status = agent_stop(a);

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "agent exited with status 0x%x\n", status);
                return -1;
        }
        return 0;
}

int agent_test_preamble(int argc, char **argv, const char *usage_args)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s %s\n", argv[0], usage_args);
                return 2;
        }
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root\n");
                return 77;
        }
        return 0;
}

char *exch_expect_next(struct exch *e, uint8_t want_flags)
{
        uint8_t flags = 0xff;
        char *payload = NULL;
        size_t len;

        if (exch_next_envelope(e, 10000, &flags, &payload, &len) < 0)
                fail_msg("no envelope while waiting for one with flags %u", want_flags);
        if (flags != want_flags)
                fail_msg("envelope flags %u, want %u: %s", flags, want_flags, payload);
        return payload;
}

void exch_expect_payload(struct exch *e, uint8_t flags, const char *want)
{
        char *got = exch_expect_next(e, flags);

        if (strcmp(got, want) != 0)
                fail_msg("got %s\nwant %s", got, want);
        free(got);
}
