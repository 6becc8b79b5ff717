/* End-to-end tests of nestbox-agent over the link protocol: the real static
 * binary runs as a child (not pid 1) with a listening socket on fd 3, and
 * every answer is checked byte for byte (protocol.md §3, §4). Needs root
 * (setgroups/setuid to the request's user). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../src/wire/base64.h"
#include "agent-client.h"
#include "macro.h"
#include "process.pb-c.h"

static const char *agent_binary;
static bool check_memory; /* the agent is the real, unsanitized one: its RSS means something */
static struct agent_proc agent;

#define CT_STREAM "content-type", "application/connect+json"
#define CT_UNARY "content-type", "application/json"

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s;

        va_start(ap, f);
        assert_true(vasprintf(&s, f, ap) >= 0);
        va_end(ap);
        return s;
}

/* Opens a Start (or Connect) stream with a JSON request; extra headers may be NULL. */
static void open_stream(const char *path, const char *json, const char *const *extra, struct exch *e)
{
        const char *headers[16] = {CT_STREAM};
        struct buf body = {0};
        int n = 2;

        for (; extra && *extra; extra += 2) {
                headers[n++] = extra[0];
                headers[n++] = extra[1];
        }
        headers[n] = NULL;
        envelope(&body, 0, json, strlen(json));
        assert_int_equal(exch_open(&agent, "POST", path, headers, body.data, body.len, true, e), 0);
        buf_done(&body);
        assert_int_equal(exch_read_head(e, 10000), 0);
        assert_int_equal(e->status, 200);
        assert_string_equal(json_string_value(json_object_get(json_object_get(e->head, "headers"), "Content-Type")),
                            "application/connect+json");
}

/* Reads the start event and returns its pid. */
static int expect_start(struct exch *e)
{
        char *got = exch_expect_next(e, 0), *want;
        int pid = -1;

        assert_int_equal(sscanf(got, "{\"event\":{\"start\":{\"pid\":%d}}}", &pid), 1);
        want = fmt("{\"event\":{\"start\":{\"pid\":%d}}}", pid);
        assert_string_equal(got, want);
        free(want);
        free(got);
        return pid;
}

/* After the end-of-stream envelope, the exchange must end with no more bytes. */
static void expect_stream_done(struct exch *e)
{
        assert_int_equal(exch_read_all(e, 10000), 0);
        assert_int_equal(buf_avail(&e->body), 0);
        exch_close(e);
}

/* Collects stdout/pty data events (decoded) until the end event; returns the end event JSON. */
static char *collect_until_end(struct exch *e, const char *kind, struct buf *out)
{
        for (;;) {
                char *got = exch_expect_next(e, 0), *p;
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "{\"event\":{\"data\":{\"%s\":\"", kind);
                if (strncmp(got, "{\"event\":{\"end\":", 16) == 0)
                        return got;
                if (strncmp(got, prefix, strlen(prefix)) == 0) {
                        p = got + strlen(prefix);
                        assert_int_equal(base64_decode(p, strcspn(p, "\""), out), 0);
                } else if (strcmp(got, "{\"event\":{\"keepalive\":{}}}") != 0 &&
                           strncmp(got, "{\"event\":{\"data\":", 17) != 0)
                        fail_msg("unexpected event %s", got);
                free(got);
        }
}

static void unary(const char *method, const char *json, int want_status, const char *want_body)
{
        const char *headers[] = {CT_UNARY, NULL};
        char *path = fmt("/process.Process/%s", method), *body = NULL;
        int status = 0;

        assert_int_equal(agent_http(&agent, "POST", path, headers, json, &status, &body), 0);
        if (status != want_status || (want_body && strcmp(body, want_body) != 0))
                fail_msg("%s: got %d %s, want %d %s", method, status, body, want_status, want_body ? want_body : "");
        free(body);
        free(path);
}

static char *unary_body(const char *method, const char *json)
{
        const char *headers[] = {CT_UNARY, NULL};
        char *path = fmt("/process.Process/%s", method), *body = NULL;
        int status = 0;

        assert_int_equal(agent_http(&agent, "POST", path, headers, json, &status, &body), 0);
        assert_int_equal(status, 200);
        free(path);
        return body;
}

static void test_health(void **state)
{
        char *body = NULL;
        int status = 0;

        assert_int_equal(agent_http(&agent, "GET", "/health", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 204);
        assert_string_equal(body, "");
        free(body);
}

static void test_echo_hello(void **state)
{
        struct exch e;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo hello\"]},\"stdin\":false}",
                    (const char *[]){"connect-timeout-ms", "60000", "keepalive-ping-interval", "50", NULL}, &e);
        expect_start(&e);
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}");
        exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_exit_3(void **state)
{
        struct exch e;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"exit 3\"]}}", NULL, &e);
        expect_start(&e);
        exch_expect_payload(&e, 0,
               "{\"event\":{\"end\":{\"exitCode\":3,\"exited\":true,\"status\":\"exit status 3\","
               "\"error\":\"exit status 3\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_stderr_and_env(void **state)
{
        struct exch e;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"echo $A-$HOME-$USER-$LOGNAME >&2\"],"
                    "\"envs\":{\"A\":\"1\"},\"cwd\":\"/tmp\"}}",
                    (const char *[]){"authorization", "Basic cm9vdDo=", NULL}, &e);
        expect_start(&e);
        /* "1-/root-root-root\n" */
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stderr\":\"MS0vcm9vdC1yb290LXJvb3QK\"}}}");
        exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

/* What the child gets: oom_score_adj 100, only fds 0-2, its own process group,
 * and the request's user with its groups. */
static void test_child_setup(void **state)
{
        struct buf out = {0};
        struct exch e;
        char *end, *want;
        int pid;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"cat /proc/self/oom_score_adj; ls /proc/self/fd; "
                    "cut -d' ' -f5 /proc/$$/stat\"]}}",
                    NULL, &e);
        pid = expect_start(&e);
        end = collect_until_end(&e, "stdout", &out);
        assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        free(end);
        buf_append(&out, "", 1);
        want = fmt("100\n0\n1\n2\n3\n%d\n", pid);
        assert_string_equal((char *)out.data, want);
        free(want);
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"id -u; id -g; id -G; echo $HOME $USER $LOGNAME; pwd\"],"
                    "\"cwd\":\"/tmp\"}}",
                    (const char *[]){"authorization", "Basic bm9ib2R5Og==", NULL}, &e); /* "nobody:" */
        expect_start(&e);
        end = collect_until_end(&e, "stdout", &out);
        assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        free(end);
        buf_append(&out, "", 1);
        assert_string_equal((char *)out.data, "65534\n65534\n65534\n/nonexistent nobody nobody\n/tmp\n");
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        /* nobody's home does not exist: with no cwd, Start fails the way envd does. */
        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"true\"}}",
                    (const char *[]){"authorization", "Basic bm9ib2R5Og==", NULL}, &e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"cwd '/nonexistent' does not exist\"}}");
        expect_stream_done(&e);
}

static void test_stdin_cat(void **state)
{
        struct exch e;
        char *req;
        int pid;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"cat\"},\"stdin\":true}", NULL, &e);
        pid = expect_start(&e);
        req = fmt("{\"process\":{\"pid\":%d},\"input\":{\"stdin\":\"aGVsbG8K\"}}", pid);
        unary("SendInput", req, 200, "{}");
        free(req);
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}");
        /* pty input to a pipe process is internal (envd) */
        req = fmt("{\"process\":{\"pid\":%d},\"input\":{\"pty\":\"aGVsbG8K\"}}", pid);
        unary("SendInput", req, 500, NULL);
        free(req);
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        unary("CloseStdin", req, 200, "{}");
        free(req);
        exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_stdin_false_is_eof(void **state)
{
        struct exch e;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"cat\"},\"stdin\":false}", NULL, &e);
        expect_start(&e);
        exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_signal_and_list(void **state)
{
        struct exch e;
        char *req, *list, *entry;
        int pid;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"100\"],\"envs\":{\"K\":\"V\"}},\"tag\":\"sleeper\"}", NULL,
                    &e);
        pid = expect_start(&e);
        list = unary_body("List", "{}");
        entry = fmt("{\"config\":{\"cmd\":\"sleep\",\"args\":[\"100\"],\"envs\":{\"K\":\"V\"}},\"pid\":%d,\"tag\":\"sleeper\"}",
                    pid);
        if (!strstr(list, entry))
                fail_msg("List %s lacks %s", list, entry);
        free(list);
        free(entry);

        unary("SendSignal", "{\"process\":{\"tag\":\"sleeper\"},\"signal\":\"SIGNAL_UNSPECIFIED\"}", 501, NULL);
        req = fmt("{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
        unary("SendSignal", req, 200, "{}");
        exch_expect_payload(&e, 0,
               "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"signal: killed\",\"error\":\"signal: killed\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        list = unary_body("List", "{}");
        entry = fmt("\"pid\":%d,", pid);
        assert_null(strstr(list, entry));
        free(list);
        free(entry);
        entry = fmt("{\"code\":\"not_found\",\"message\":\"process with pid %d not found\"}", pid);
        unary("SendSignal", req, 404, entry);
        free(entry);
        free(req);
}

static void test_sigterm(void **state)
{
        struct exch e;
        char *req;
        int pid;

        /* Signal only once it runs: under valgrind a signal sent between fork and exec
         * can be lost in valgrind's own signal emulation (the kernel never loses it). */
        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"echo ready; exec sleep 100\"]}}", NULL, &e);
        pid = expect_start(&e);
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stdout\":\"cmVhZHkK\"}}}");
        /* stdin absent = a pipe; closing it twice is a no-op the second time. */
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        unary("CloseStdin", req, 200, "{}");
        unary("CloseStdin", req, 200, "{}");
        free(req);
        req = fmt("{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGTERM\"}", pid);
        unary("SendSignal", req, 200, "{}");
        free(req);
        exch_expect_payload(&e, 0,
               "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"signal: terminated\","
               "\"error\":\"signal: terminated\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_connect_later_output(void **state)
{
        struct exch start, conn, conn2;
        char *req;
        int pid;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"echo early; read x; echo got $x\"]},\"stdin\":true}",
                    NULL, &start);
        pid = expect_start(&start);
        exch_expect_payload(&start, 0, "{\"event\":{\"data\":{\"stdout\":\"ZWFybHkK\"}}}");
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        open_stream("/process.Process/Connect", req, NULL, &conn);
        open_stream("/process.Process/Connect", req, NULL, &conn2);
        free(req);
        assert_int_equal(expect_start(&conn), pid);
        assert_int_equal(expect_start(&conn2), pid);
        req = fmt("{\"process\":{\"pid\":%d},\"input\":{\"stdin\":\"aGkK\"}}", pid);
        unary("SendInput", req, 200, "{}");
        free(req);
        /* No replay of "early": only output produced after Connect, on every stream. */
        for (int i = 0; i < 3; i++) {
                struct exch *e = i == 0 ? &start : i == 1 ? &conn : &conn2;

                exch_expect_payload(e, 0, "{\"event\":{\"data\":{\"stdout\":\"Z290IGhpCg==\"}}}");
                exch_expect_payload(e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
                exch_expect_payload(e, 2, "{}");
                expect_stream_done(e);
        }

        /* The exit is retained: a late Connect gets start + end at once. */
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        open_stream("/process.Process/Connect", req, NULL, &conn);
        free(req);
        assert_int_equal(expect_start(&conn), pid);
        exch_expect_payload(&conn, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&conn, 2, "{}");
        expect_stream_done(&conn);
}

static void test_connect_unknown(void **state)
{
        struct exch e;

        open_stream("/process.Process/Connect", "{\"process\":{\"pid\":999999}}", NULL, &e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"not_found\",\"message\":\"process with pid 999999 not found\"}}");
        expect_stream_done(&e);
        open_stream("/process.Process/Connect", "{\"process\":{\"tag\":\"nope\"}}", NULL, &e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"not_found\",\"message\":\"process with tag 'nope' not found\"}}");
        expect_stream_done(&e);
        unary("SendInput", "{\"process\":{\"pid\":999999},\"input\":{\"stdin\":\"YQ==\"}}", 404,
              "{\"code\":\"not_found\",\"message\":\"process with pid 999999 not found\"}");
}

static void test_timeout(void **state)
{
        struct timespec t0, t1;
        struct exch e;
        char *req;
        int pid;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"5\"]}}",
                    (const char *[]){"connect-timeout-ms", "200", NULL}, &e);
        pid = expect_start(&e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"context deadline exceeded\"}}");
        expect_stream_done(&e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(t1.tv_sec - t0.tv_sec < 3);

        /* The deadline killed the process (group). */
        usleep(200000);
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        open_stream("/process.Process/Connect", req, NULL, &e);
        free(req);
        expect_start(&e);
        exch_expect_payload(&e, 0,
               "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"signal: killed\",\"error\":\"signal: killed\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_keepalive(void **state)
{
        struct exch e;
        int keepalives = 0;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"2.5\"]}}",
                    (const char *[]){"keepalive-ping-interval", "1", NULL}, &e);
        expect_start(&e);
        for (;;) {
                char *got = exch_expect_next(&e, 0);

                if (strcmp(got, "{\"event\":{\"keepalive\":{}}}") == 0) {
                        keepalives++;
                        free(got);
                        continue;
                }
                assert_string_equal(got, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
                free(got);
                break;
        }
        assert_true(keepalives >= 1);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_proto_start_and_list(void **state)
{
        Process__StartRequest req = PROCESS__START_REQUEST__INIT;
        Process__ProcessConfig cfg = PROCESS__PROCESS_CONFIG__INIT;
        char *args[] = {"-c", "echo hello"};
        const char *headers[] = {"content-type", "application/connect+proto", NULL};
        const char *unary_headers[] = {"content-type", "application/proto", NULL};
        struct buf body = {0};
        uint8_t packed[256];
        struct exch e;
        size_t n;
        Process__StartResponse *resp;
        Process__ListResponse *list;
        uint8_t flags;
        char *payload;
        size_t len;
        int pid;

        cfg.cmd = "/bin/sh";
        cfg.n_args = 2;
        cfg.args = args;
        req.process = &cfg;
        req.has_stdin = true;
        req.stdin = false;
        n = process__start_request__pack(&req, packed);
        envelope(&body, 0, packed, n);
        assert_int_equal(exch_open(&agent, "POST", "/process.Process/Start", headers, body.data, body.len, true, &e), 0);
        buf_done(&body);
        assert_int_equal(exch_read_head(&e, 10000), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(e.head, "headers"), "Content-Type")),
                            "application/connect+proto");

        assert_int_equal(exch_next_envelope(&e, 10000, &flags, &payload, &len), 0);
        assert_int_equal(flags, 0);
        resp = process__start_response__unpack(NULL, len, (uint8_t *)payload);
        assert_non_null(resp);
        assert_int_equal(resp->event->event_case, PROCESS__PROCESS_EVENT__EVENT_START);
        pid = (int)resp->event->start->pid;
        assert_true(pid > 0);
        process__start_response__free_unpacked(resp, NULL);
        free(payload);

        assert_int_equal(exch_next_envelope(&e, 10000, &flags, &payload, &len), 0);
        resp = process__start_response__unpack(NULL, len, (uint8_t *)payload);
        assert_int_equal(resp->event->event_case, PROCESS__PROCESS_EVENT__EVENT_DATA);
        assert_int_equal(resp->event->data->output_case, PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDOUT);
        assert_int_equal(resp->event->data->stdout.len, 6);
        assert_memory_equal(resp->event->data->stdout.data, "hello\n", 6);
        process__start_response__free_unpacked(resp, NULL);
        free(payload);

        assert_int_equal(exch_next_envelope(&e, 10000, &flags, &payload, &len), 0);
        resp = process__start_response__unpack(NULL, len, (uint8_t *)payload);
        assert_int_equal(resp->event->event_case, PROCESS__PROCESS_EVENT__EVENT_END);
        assert_true(resp->event->end->has_exited && resp->event->end->exited);
        assert_false(resp->event->end->has_exit_code);
        assert_string_equal(resp->event->end->status, "exit status 0");
        assert_null(resp->event->end->error);
        process__start_response__free_unpacked(resp, NULL);
        free(payload);
        exch_expect_payload(&e, 2, "{}"); /* end-of-stream is JSON even on proto streams */
        expect_stream_done(&e);

        /* Unary proto: an empty ListRequest is an empty body. */
        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"30\"]}}", NULL, &e);
        pid = expect_start(&e);
        exch_close(&e);
        {
                struct exch l;
                bool found = false;

                assert_int_equal(exch_open(&agent, "POST", "/process.Process/List", unary_headers, NULL, 0, true, &l), 0);
                assert_int_equal(exch_read_all(&l, 10000), 0);
                assert_int_equal(l.status, 200);
                assert_string_equal(json_string_value(json_object_get(json_object_get(l.head, "headers"), "Content-Type")),
                                    "application/proto");
                list = process__list_response__unpack(NULL, buf_avail(&l.body), buf_head(&l.body));
                assert_non_null(list);
                for (size_t i = 0; i < list->n_processes; i++)
                        if ((int)list->processes[i]->pid == pid) {
                                found = true;
                                assert_non_null(list->processes[i]->config);
                                assert_string_equal(list->processes[i]->config->cmd, "sleep");
                        }
                assert_true(found);
                process__list_response__free_unpacked(list, NULL);
                exch_close(&l);
        }
        kill(-pid, SIGKILL);
}

static void test_disconnect_keeps_process(void **state)
{
        struct exch e;
        char *req;
        int pid;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"while :; do echo x; sleep 0.05; done\"]}}",
                    NULL, &e);
        pid = expect_start(&e);
        exch_close(&e); /* the client goes away mid-stream */
        usleep(300000);
        assert_int_equal(kill(pid, 0), 0);
        /* Re-attach: output keeps flowing. */
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        open_stream("/process.Process/Connect", req, NULL, &e);
        expect_start(&e);
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stdout\":\"eAo=\"}}}");
        exch_close(&e);
        free(req);
        req = fmt("{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
        unary("SendSignal", req, 200, "{}");
        free(req);
}

static void test_pty(void **state)
{
        struct buf out = {0};
        struct exch e;
        char *end, *req;
        int pid;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"stty\",\"args\":[\"size\"],\"envs\":{\"TERM\":\"xterm-256color\"}},"
                    "\"pty\":{\"size\":{\"cols\":80,\"rows\":24}}}",
                    NULL, &e);
        expect_start(&e);
        end = collect_until_end(&e, "pty", &out);
        assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        free(end);
        assert_int_equal(out.len, 7);
        assert_memory_equal(out.data, "24 80\r\n", 7);
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        /* Resize through Update, input through SendInput(pty). */
        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"read x; stty size; echo $x\"]},"
                    "\"pty\":{\"size\":{\"cols\":80,\"rows\":24}}}",
                    NULL, &e);
        pid = expect_start(&e);
        req = fmt("{\"process\":{\"pid\":%d},\"pty\":{\"size\":{\"cols\":100,\"rows\":30}}}", pid);
        unary("Update", req, 200, "{}");
        free(req);
        req = fmt("{\"process\":{\"pid\":%d},\"input\":{\"stdin\":\"eAo=\"}}", pid);
        unary("SendInput", req, 500, NULL); /* stdin to a PTY process: internal */
        free(req);
        req = fmt("{\"process\":{\"pid\":%d}}", pid);
        unary("CloseStdin", req, 500, NULL);
        free(req);
        req = fmt("{\"process\":{\"pid\":%d},\"input\":{\"pty\":\"b2sK\"}}", pid); /* "ok\n" */
        unary("SendInput", req, 200, "{}");
        free(req);
        end = collect_until_end(&e, "pty", &out);
        free(end);
        assert_non_null(memmem(out.data, out.len, "30 100\r\nok\r\n", 12));
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_stream_input(void **state)
{
        const char *headers[] = {CT_STREAM, NULL};
        struct buf body = {0};
        struct exch e, in;
        char *msg;
        int pid;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"cat\"},\"stdin\":true}", NULL, &e);
        pid = expect_start(&e);
        msg = fmt("{\"start\":{\"process\":{\"pid\":%d}}}", pid);
        envelope(&body, 0, msg, strlen(msg));
        free(msg);
        assert_int_equal(exch_open(&agent, "POST", "/process.Process/StreamInput", headers, body.data, body.len, false, &in),
                         0);
        buf_reset(&body);
        msg = "{\"data\":{\"input\":{\"stdin\":\"YWJj\"}}}";
        envelope(&body, 0, msg, strlen(msg));
        msg = "{\"keepalive\":{}}";
        envelope(&body, 0, msg, strlen(msg));
        assert_int_equal(exch_send_body(&in, body.data, body.len), 0);
        buf_done(&body);
        exch_expect_payload(&e, 0, "{\"event\":{\"data\":{\"stdout\":\"YWJj\"}}}");
        assert_int_equal(exch_send_end(&in), 0);
        assert_int_equal(exch_read_head(&in, 10000), 0);
        assert_int_equal(in.status, 200);
        exch_expect_payload(&in, 0, "{}");
        exch_expect_payload(&in, 2, "{}");
        expect_stream_done(&in);
        msg = fmt("{\"process\":{\"pid\":%d}}", pid);
        unary("CloseStdin", msg, 200, "{}");
        free(msg);
        exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_start_errors(void **state)
{
        struct exch e;
        struct buf err = {0};
        char *end;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"true\"}}",
                    (const char *[]){"authorization", "Basic bm9zdWNodXNlcjo=", NULL}, &e); /* "nosuchuser:" */
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"unauthenticated\",\"message\":\"invalid username: 'nosuchuser'\"}}");
        expect_stream_done(&e);

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"true\",\"cwd\":\"/nonexistent\"}}", NULL, &e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"cwd '/nonexistent' does not exist\"}}");
        expect_stream_done(&e);

        open_stream("/process.Process/Start", "{\"process\":{\"args\":[\"x\"]}}", NULL, &e);
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"process.cmd is required\"}}");
        expect_stream_done(&e);

        open_stream("/process.Process/Start", "{\"process\":", NULL, &e);
        end = exch_expect_next(&e, 2);
        assert_non_null(strstr(end, "\"code\":\"invalid_argument\""));
        free(end);
        expect_stream_done(&e);

        /* A failed exec is an end event, not a failed RPC. */
        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"no-such-command-xyz\"}}", NULL, &e);
        expect_start(&e);
        end = collect_until_end(&e, "stderr", &err);
        assert_string_equal(end, "{\"event\":{\"end\":{\"exitCode\":127,\"exited\":true,\"status\":\"exit status 127\","
                                 "\"error\":\"exec: \\\"no-such-command-xyz\\\": executable file not found in $PATH\"}}}");
        free(end);
        buf_done(&err);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static void test_http_routes(void **state)
{
        char *body = NULL;
        int status = 0;

        /* The filesystem service and /files are another work item (test-files*.c). */
        assert_int_equal(agent_http(&agent, "GET", "/nope", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 404);
        assert_string_equal(body, "{\"code\":404,\"message\":\"path '/nope' not found\"}");
        free(body);
        assert_int_equal(agent_http(&agent, "POST", "/process.Process/Nope", (const char *[]){CT_UNARY, NULL}, "{}", &status, &body), 0);
        assert_int_equal(status, 404);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/process.Process/List", (const char *[]){CT_UNARY, NULL}, NULL, &status, &body), 0);
        assert_int_equal(status, 405);
        free(body);
        /* A unary call with a streaming content type is refused (415), as connect-go does. */
        assert_int_equal(agent_http(&agent, "POST", "/process.Process/List", (const char *[]){CT_STREAM, NULL}, "{}", &status, &body), 0);
        assert_int_equal(status, 415);
        free(body);
        assert_int_equal(agent_http(&agent, "POST", "/process.Process/Start", (const char *[]){CT_UNARY, NULL}, "{}", &status, &body), 0);
        assert_int_equal(status, 415);
        free(body);
}

static void test_init_and_envs(void **state)
{
        struct buf out = {0};
        struct exch e;
        char *body = NULL, *end;
        int status = 0;

        assert_int_equal(agent_http(&agent, "POST", "/init", (const char *[]){CT_UNARY, NULL},
                                    "{\"envVars\":{\"FOO\":\"bar\",\"X\":\"1\"},\"defaultUser\":\"root\",\"defaultWorkdir\":\"/tmp\"}",
                                    &status, &body), 0);
        assert_int_equal(status, 204);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/envs", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        assert_string_equal(body, "{\"FOO\":\"bar\",\"X\":\"1\"}");
        free(body);

        /* Sandbox env, then request envs (later wins); default workdir. */
        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"echo $FOO$X; pwd\"],\"envs\":{\"X\":\"2\"}}}", NULL, &e);
        expect_start(&e);
        end = collect_until_end(&e, "stdout", &out);
        free(end);
        assert_int_equal(out.len, 10);
        assert_memory_equal(out.data, "bar2\n/tmp\n", 10);
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        assert_int_equal(agent_http(&agent, "POST", "/init", (const char *[]){CT_UNARY, NULL}, "{\"envVars\":[]}", &status, &body), 0);
        assert_int_equal(status, 400);
        free(body);
}

static void test_access_token(void **state)
{
        static const char unauthorized[] = "{\"code\":401,\"message\":\"unauthorized access, please provide a valid "
                                           "access token or method signing if supported\"}";
        char *body = NULL;
        int status = 0;
        struct exch e;

        assert_int_equal(agent_http(&agent, "POST", "/init", NULL, "{\"accessToken\":\"s3cret\"}", &status, &body), 0);
        assert_int_equal(status, 204);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/envs", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 401);
        assert_string_equal(body, unauthorized);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/envs", (const char *[]){"x-access-token", "s3cre", NULL}, NULL, &status, &body), 0);
        assert_int_equal(status, 401);
        free(body);
        assert_int_equal(agent_http(&agent, "POST", "/process.Process/List",
                                    (const char *[]){CT_UNARY, "x-access-token", "wrong!", NULL}, "{}", &status, &body), 0);
        assert_int_equal(status, 401);
        free(body);
        assert_int_equal(exch_open(&agent, "POST", "/process.Process/StreamInput", (const char *[]){CT_STREAM, NULL}, NULL, 0, false, &e), 0);
        assert_int_equal(exch_read_all(&e, 10000), 0);
        assert_int_equal(e.status, 401);
        exch_close(&e);
        assert_int_equal(agent_http(&agent, "GET", "/health", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 204);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/envs", (const char *[]){"x-access-token", "s3cret", NULL}, NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        free(body);
        /* Once set, /init itself needs the token; an empty token clears it. */
        assert_int_equal(agent_http(&agent, "POST", "/init", NULL, "{\"accessToken\":\"\"}", &status, &body), 0);
        assert_int_equal(status, 401);
        free(body);
        assert_int_equal(agent_http(&agent, "POST", "/init", (const char *[]){"x-access-token", "s3cret", NULL},
                                    "{\"accessToken\":\"\"}", &status, &body), 0);
        assert_int_equal(status, 204);
        free(body);
        assert_int_equal(agent_http(&agent, "GET", "/envs", NULL, NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        free(body);
}

static int count_zombies(pid_t parent, int *ret_children)
{
        char path[64], buf[32];
        int zombies = 0, children = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fscanf(f, "%31s", buf) == 1) {
                char stat[512], *p;
                FILE *s;

                children++;
                snprintf(path, sizeof(path), "/proc/%s/stat", buf);
                s = fopen(path, "re");
                if (!s)
                        continue;
                if (fgets(stat, sizeof(stat), s) && (p = strrchr(stat, ')')) && p[2] == 'Z')
                        zombies++;
                fclose(s);
        }
        fclose(f);
        *ret_children = children;
        return zombies;
}

static void test_no_zombies(void **state)
{
        int children = 0;

        /* An orphan holding the pipes: the end event waits for its EOF (as envd), and
         * the orphan, re-parented to the agent (subreaper), is reaped too. */
        for (int i = 0; i < 3; i++) {
                struct exch e;
                char *end;
                struct buf out = {0};

                open_stream("/process.Process/Start",
                            "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"(sleep 0.3; echo late) & exit 0\"]}}", NULL, &e);
                expect_start(&e);
                end = collect_until_end(&e, "stdout", &out);
                assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
                free(end);
                assert_int_equal(out.len, 5);
                assert_memory_equal(out.data, "late\n", 5);
                buf_done(&out);
                exch_expect_payload(&e, 2, "{}");
                expect_stream_done(&e);
        }
        for (int i = 0; i < 200; i++) {
                struct exch e;

                open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"true\"}}", NULL, &e);
                expect_start(&e);
                exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
                exch_expect_payload(&e, 2, "{}");
                expect_stream_done(&e);
        }
        usleep(100000);
        assert_int_equal(count_zombies(agent.pid, &children), 0);
}

static long agent_rss_anon_kb(void)
{
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", agent.pid);
        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

/* 40 MB of output to a client that does not read for a while: the agent stops
 * reading the pipe (back-pressure) instead of buffering, chunks stay <= 32 KiB,
 * and every byte arrives once the client reads. */
static void test_big_output_backpressure(void **state)
{
        const size_t total = 40u << 20;
        struct exch e;
        size_t got = 0, chunks = 0;
        char *end;
        long rss;

        open_stream("/process.Process/Start",
                    "{\"process\":{\"cmd\":\"head\",\"args\":[\"-c\",\"41943040\",\"/dev/zero\"]}}", NULL, &e);
        expect_start(&e);
        usleep(800000);
        rss = agent_rss_anon_kb();
        if (check_memory && rss > 4096)
                fail_msg("agent buffers %ld kB of anonymous memory for a stalled client", rss);
        for (;;) {
                struct buf out = {0};
                char *msg = exch_expect_next(&e, 0);
                const char *prefix = "{\"event\":{\"data\":{\"stdout\":\"";

                if (strncmp(msg, prefix, strlen(prefix)) != 0) {
                        end = msg;
                        break;
                }
                assert_int_equal(base64_decode(msg + strlen(prefix), strcspn(msg + strlen(prefix), "\""), &out), 0);
                assert_true(out.len > 0 && out.len <= 32768);
                for (size_t i = 0; i < out.len; i++)
                        assert_int_equal(out.data[i], 0);
                got += out.len;
                chunks++;
                buf_done(&out);
                free(msg);
        }
        assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        free(end);
        assert_int_equal(got, total);
        assert_true(chunks >= total / 32768);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);
}

static int setup(void **state)
{
        int status = 0;

        if (agent_start(agent_binary, NULL, *state != NULL, &agent) < 0)
                return -1;
        /* Wait until it answers. */
        for (int i = 0; i < 100; i++) {
                if (agent_http(&agent, "GET", "/health", NULL, NULL, &status, NULL) >= 0 && status == 204)
                        return 0;
                usleep(20000);
        }
        return -1;
}

static int pid1_setup(void **state)
{
        static int on = 1;

        *state = &on;
        return setup(state);
}

static int teardown(void **state)
{
        int r = agent_stop_clean(&agent);

        return r;
}

/* As pid 1 of a pid namespace: pids are namespace-local, orphans come to us. */
static void test_pid1_start_and_orphans(void **state)
{
        struct buf out = {0};
        struct exch e;
        char *end;
        int pid, children = 0;

        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"echo $$\"]}}", NULL, &e);
        pid = expect_start(&e);
        assert_true(pid > 1 && pid < 1000);
        end = collect_until_end(&e, "stdout", &out);
        assert_string_equal(end, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
        free(end);
        buf_append(&out, "", 1);
        assert_int_equal(atoi((char *)out.data), pid);
        buf_done(&out);
        exch_expect_payload(&e, 2, "{}");
        expect_stream_done(&e);

        /* Double-forked orphans with their output detached re-parent to pid 1. */
        for (int i = 0; i < 20; i++) {
                open_stream("/process.Process/Start",
                            "{\"process\":{\"cmd\":\"sh\",\"args\":[\"-c\",\"(sleep 0.05 >/dev/null 2>&1 &) ; exit 0\"]}}",
                            NULL, &e);
                expect_start(&e);
                exch_expect_payload(&e, 0, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
                exch_expect_payload(&e, 2, "{}");
                expect_stream_done(&e);
        }
        usleep(300000);
        assert_int_equal(count_zombies(agent.pid, &children), 0);
        assert_int_equal(children, 0);

        /* Left running: SIGTERM must kill it and the agent must exit 0 (teardown). */
        open_stream("/process.Process/Start", "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"100\"]}}", NULL, &e);
        expect_start(&e);
        exch_close(&e);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_health),
                cmocka_unit_test(test_echo_hello),
                cmocka_unit_test(test_exit_3),
                cmocka_unit_test(test_stderr_and_env),
                cmocka_unit_test(test_child_setup),
                cmocka_unit_test(test_stdin_cat),
                cmocka_unit_test(test_stdin_false_is_eof),
                cmocka_unit_test(test_signal_and_list),
                cmocka_unit_test(test_sigterm),
                cmocka_unit_test(test_connect_later_output),
                cmocka_unit_test(test_connect_unknown),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_keepalive),
                cmocka_unit_test(test_proto_start_and_list),
                cmocka_unit_test(test_disconnect_keeps_process),
                cmocka_unit_test(test_pty),
                cmocka_unit_test(test_stream_input),
                cmocka_unit_test(test_start_errors),
                cmocka_unit_test(test_http_routes),
                cmocka_unit_test(test_init_and_envs),
                cmocka_unit_test(test_access_token),
                cmocka_unit_test(test_no_zombies),
                cmocka_unit_test(test_big_output_backpressure),
        };
        const struct CMUnitTest pid1_tests[] = {
                cmocka_unit_test(test_health),
                cmocka_unit_test(test_pid1_start_and_orphans),
        };
        int failed;

        int pre = agent_test_preamble(argc, argv, "PATH-TO-nestbox-agent [--check-memory]");

        if (pre != 0)
                return pre;
        agent_binary = argv[1];
        check_memory = argc > 2 && strcmp(argv[2], "--check-memory") == 0;
        failed = _cmocka_run_group_tests("agent", tests, ELEMENTSOF(tests), setup, teardown);
        /* The group state selects pid-namespace mode in setup(). */
        failed += _cmocka_run_group_tests("agent-as-pid1", pid1_tests, ELEMENTSOF(pid1_tests),
                                          pid1_setup, teardown);
        return failed;
}
