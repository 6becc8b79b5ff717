/* Decoding of Connect server streams with the JSON codec (protocol.md §3.1,
 * §3.4): envelopes out of received bytes, process events out of envelopes,
 * errors out of the end-of-stream message. No I/O, so the unit tests drive it
 * byte by byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../wire/base64.h"
#include "../wire/connect.h"
#include "lib.h"

int lib_envelope_next(struct buf *b, struct lib_envelope *ret, nestbox_error *err)
{
        const uint8_t *payload;
        uint8_t flags;
        uint32_t len;
        int r;

        r = connect_envelope_parse(buf_head(b), buf_avail(b), &flags, &payload, &len);
        if (r == -EBADMSG)
                return lib_error_set(err, -EPROTO, 200,
                                     (buf_head(b)[0] & CONNECT_FLAG_COMPRESSED)
                                             ? "protocol error: received unsupported compressed output"
                                             : "protocol error: malformed stream envelope");
        if (r <= 0)
                return r;
        /* The payload stays valid until the buffer is appended to: consuming only
         * moves the offset. */
        buf_consume(b, CONNECT_ENVELOPE_HEADER_SIZE + len);
        *ret = (struct lib_envelope){.flags = flags, .payload = (const char *)payload, .len = len};
        return 1;
}

void lib_process_event_done(struct lib_process_event *e)
{
        buf_done(&e->data);
        free(e->status);
        free(e->error);
        *e = (struct lib_process_event){0};
}

static int dup_optional_string(json_t *v, char **ret)
{
        *ret = NULL;
        if (!json_is_string(v))
                return 0;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* Protobuf JSON accepts numbers or decimal strings for integers (§3.2). */
static int json_int_field(json_t *o, const char *camel, const char *snake, long long *ret)
{
        json_t *v = json_object_get(o, camel);
        char *end;

        if (!v)
                v = json_object_get(o, snake);
        if (!v) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (json_is_string(v)) {
                errno = 0;
                *ret = strtoll(json_string_value(v), &end, 10);
                if (errno == 0 && end != json_string_value(v) && *end == '\0')
                        return 0;
        }
        return -EINVAL;
}

static int parse_data(json_t *d, struct lib_process_event *e, nestbox_error *err)
{
        static const struct {
                const char *name;
                int stream;
        } members[] = {{"stdout", NESTBOX_STDOUT}, {"stderr", NESTBOX_STDERR}, {"pty", NESTBOX_PTY}};

        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                json_t *v = json_object_get(d, members[i].name);
                int r;

                if (!v)
                        continue;
                if (!json_is_string(v))
                        return lib_error_set(err, -EPROTO, 200,
                                             "protocol error: data.%s is not a base64 string",
                                             members[i].name);
                r = base64_decode(json_string_value(v), json_string_length(v), &e->data);
                if (r == -ENOMEM)
                        return lib_oom(err);
                if (r < 0)
                        return lib_error_set(err, -EPROTO, 200,
                                             "protocol error: data.%s is not valid base64", members[i].name);
                e->kind = LIB_EVENT_DATA;
                e->stream = members[i].stream;
                return 0;
        }
        e->kind = LIB_EVENT_OTHER;
        return 0;
}

static int parse_end(json_t *end, struct lib_process_event *e, nestbox_error *err)
{
        long long code;
        json_t *exited;

        if (!json_is_object(end))
                return lib_error_set(err, -EPROTO, 200, "protocol error: the end event is not an object");
        if (json_int_field(end, "exitCode", "exit_code", &code) < 0 || code < INT32_MIN || code > INT32_MAX)
                return lib_error_set(err, -EPROTO, 200, "protocol error: end.exitCode is not an integer");
        exited = json_object_get(end, "exited");
        e->kind = LIB_EVENT_END;
        e->exit_code = (int)code;
        e->exited = json_is_true(exited);
        if (dup_optional_string(json_object_get(end, "status"), &e->status) < 0 ||
            dup_optional_string(json_object_get(end, "error"), &e->error) < 0)
                return lib_oom(err);
        return 0;
}

int lib_process_event_parse(const char *json, size_t len, struct lib_process_event *ret, nestbox_error *err)
{
        struct lib_process_event e = {0};
        _cleanup_json_ json_t *j = NULL;
        json_t *ev, *v;
        int r = 0;

        j = json_loadb(json, len, 0, NULL);
        ev = json_object_get(j, "event");
        if (!json_is_object(j) || !json_is_object(ev))
                return lib_error_set(err, -EPROTO, 200,
                                     "protocol error: a stream message has no 'event' object");

        if ((v = json_object_get(ev, "start"))) {
                long long pid;

                if (!json_is_object(v) || json_int_field(v, "pid", "pid", &pid) < 0 || pid < 0 ||
                    pid > UINT32_MAX)
                        return lib_error_set(err, -EPROTO, 200, "protocol error: start.pid is not a pid");
                e.kind = LIB_EVENT_START;
                e.pid = (uint32_t)pid;
        } else if ((v = json_object_get(ev, "data"))) {
                if (!json_is_object(v))
                        return lib_error_set(err, -EPROTO, 200,
                                             "protocol error: the data event is not an object");
                r = parse_data(v, &e, err);
        } else if ((v = json_object_get(ev, "end"))) {
                r = parse_end(v, &e, err);
        } else if (json_object_get(ev, "keepalive")) {
                e.kind = LIB_EVENT_KEEPALIVE;
        } else {
                e.kind = LIB_EVENT_OTHER; /* unknown oneof members are skipped, like the SDK */
        }
        if (r < 0) {
                lib_process_event_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

int lib_end_stream_parse(const char *json, size_t len, nestbox_error *err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *e, *code, *msg;

        j = json_loadb(json, len, 0, NULL);
        if (!json_is_object(j))
                return lib_error_set(err, -EPROTO, 200,
                                     "protocol error: the end of stream is not a JSON object");
        e = json_object_get(j, "error");
        if (!e || json_is_null(e))
                return 0;
        code = json_object_get(e, "code");
        msg = json_object_get(e, "message");
        return lib_error_from_connect(json_is_string(code) ? json_string_value(code) : "unknown",
                                      json_is_string(msg) ? json_string_value(msg) : NULL, 200, err);
}

/* Go's names (syscall signalList) for the signals a shell commonly dies of;
 * src/agent/exitstatus.c writes the same table. */
static const struct {
        const char *name;
        int sig;
} go_signals[] = {
        {"hangup", 1},
        {"interrupt", 2},
        {"quit", 3},
        {"illegal instruction", 4},
        {"trace/breakpoint trap", 5},
        {"aborted", 6},
        {"bus error", 7},
        {"floating point exception", 8},
        {"killed", 9},
        {"user defined signal 1", 10},
        {"segmentation fault", 11},
        {"user defined signal 2", 12},
        {"broken pipe", 13},
        {"alarm clock", 14},
        {"terminated", 15},
};

int lib_exit_code(bool exited, int exit_code, const char *status)
{
        static const char prefix[] = "signal: ";

        if (exited || !status || strncmp(status, prefix, strlen(prefix)) != 0)
                return exit_code;
        status += strlen(prefix);
        for (size_t i = 0; i < ELEMENTSOF(go_signals); i++) {
                size_t n = strlen(go_signals[i].name);

                /* "signal: segmentation fault (core dumped)" */
                if (strncmp(status, go_signals[i].name, n) == 0 && (status[n] == '\0' || status[n] == ' '))
                        return 128 + go_signals[i].sig;
        }
        return exit_code;
}
