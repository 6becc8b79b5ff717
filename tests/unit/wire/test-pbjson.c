/* pbjson: data-driven cases from pbjson-cases.tsv (every process.* and filesystem.*
 * message type), exact encodings from protocol.md §3.4/§3.5, the generic paths on
 * pbjson-test.proto, and hostile input. Run under ASan to check that decoded messages
 * are allocated exactly as protobuf_c_message_free_unpacked() expects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filesystem.pb-c.h"
#include "pbjson-test.pb-c.h"
#include "pbjson.h"
#include "process.pb-c.h"
#include "timestamp.pb-c.h"

static const char *cases_path;

static const ProtobufCMessageDescriptor *const descriptors[] = {
        &process__pty__descriptor,
        &process__pty__size__descriptor,
        &process__process_config__descriptor,
        &process__process_config__envs_entry__descriptor,
        &process__process_selector__descriptor,
        &process__process_input__descriptor,
        &process__process_info__descriptor,
        &process__process_event__descriptor,
        &process__process_event__start_event__descriptor,
        &process__process_event__data_event__descriptor,
        &process__process_event__end_event__descriptor,
        &process__process_event__keep_alive__descriptor,
        &process__list_request__descriptor,
        &process__list_response__descriptor,
        &process__start_request__descriptor,
        &process__start_response__descriptor,
        &process__connect_request__descriptor,
        &process__connect_response__descriptor,
        &process__update_request__descriptor,
        &process__update_response__descriptor,
        &process__stream_input_request__descriptor,
        &process__stream_input_request__start_event__descriptor,
        &process__stream_input_request__data_event__descriptor,
        &process__stream_input_request__keep_alive__descriptor,
        &process__stream_input_response__descriptor,
        &process__send_input_request__descriptor,
        &process__send_input_response__descriptor,
        &process__send_signal_request__descriptor,
        &process__send_signal_response__descriptor,
        &process__close_stdin_request__descriptor,
        &process__close_stdin_response__descriptor,
        &filesystem__entry_info__descriptor,
        &filesystem__entry_info__metadata_entry__descriptor,
        &filesystem__stat_request__descriptor,
        &filesystem__stat_response__descriptor,
        &filesystem__make_dir_request__descriptor,
        &filesystem__make_dir_response__descriptor,
        &filesystem__move_request__descriptor,
        &filesystem__move_response__descriptor,
        &filesystem__list_dir_request__descriptor,
        &filesystem__list_dir_response__descriptor,
        &filesystem__remove_request__descriptor,
        &filesystem__remove_response__descriptor,
        &filesystem__watch_dir_request__descriptor,
        &filesystem__filesystem_event__descriptor,
        &filesystem__watch_dir_response__descriptor,
        &filesystem__watch_dir_response__start_event__descriptor,
        &filesystem__watch_dir_response__keep_alive__descriptor,
        &filesystem__create_watcher_request__descriptor,
        &filesystem__create_watcher_response__descriptor,
        &filesystem__get_watcher_events_request__descriptor,
        &filesystem__get_watcher_events_response__descriptor,
        &filesystem__remove_watcher_request__descriptor,
        &filesystem__remove_watcher_response__descriptor,
};

static const ProtobufCMessageDescriptor *descriptor_by_name(const char *name)
{
        for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]); i++)
                if (strcmp(descriptors[i]->name, name) == 0)
                        return descriptors[i];
        if (strcmp(name, "google.protobuf.Timestamp") == 0)
                return &google__protobuf__timestamp__descriptor;
        return NULL;
}

/* Encodes msg and returns a malloc'd NUL-terminated copy of the JSON. */
static char *encode(const ProtobufCMessage *msg)
{
        struct nb_error err = {0};
        struct buf b = {0};
        char *s;

        if (pbjson_encode(msg, &b, &err) < 0) {
                print_error("encode failed: %s\n", err.message);
                fail();
        }
        s = strndup(b.data ? (const char *)b.data : "", b.len);
        buf_done(&b);
        return s;
}

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d, const char *json)
{
        struct nb_error err = {0};
        ProtobufCMessage *m = NULL;

        if (pbjson_decode(d, json, strlen(json), &m, &err) < 0) {
                print_error("decode of %s failed: %s\n", json, err.message);
                fail();
        }
        assert_non_null(m);
        return m;
}

static void check_ok(const ProtobufCMessageDescriptor *d, const char *in, const char *want, int line)
{
        ProtobufCMessage *m = decode(d, in), *m2;
        char *out = encode(m), *out2;
        uint8_t *bin;
        size_t n;

        if (strcmp(out, want) != 0) {
                print_error("line %d: %s\n  got  %s\n  want %s\n", line, in, out, want);
                fail();
        }
        /* Through the binary encoding and back: presence and oneof cases must survive. */
        n = protobuf_c_message_get_packed_size(m);
        bin = malloc(n ? n : 1);
        assert_int_equal(protobuf_c_message_pack(m, bin), n);
        m2 = protobuf_c_message_unpack(d, NULL, n, bin);
        assert_non_null(m2);
        out2 = encode(m2);
        if (strcmp(out2, want) != 0) {
                print_error("line %d (binary round trip): %s\n  got  %s\n  want %s\n", line, in, out2, want);
                fail();
        }
        free(out2);
        protobuf_c_message_free_unpacked(m2, NULL);
        /* The canonical form is a fixed point. */
        m2 = decode(d, want);
        out2 = encode(m2);
        assert_string_equal(out2, want);
        free(out2);
        protobuf_c_message_free_unpacked(m2, NULL);
        free(bin);
        free(out);
        protobuf_c_message_free_unpacked(m, NULL);
}

static void check_err(const ProtobufCMessageDescriptor *d, const char *in, size_t len, const char *want,
                      int line)
{
        struct nb_error err = {0};
        ProtobufCMessage *m = NULL;
        int r;

        r = pbjson_decode(d, in, len, &m, &err);
        if (r != -EINVAL || !strstr(err.message, want)) {
                print_error("line %d: %.*s\n  got r=%d '%s'\n  want -EINVAL '%s'\n", line, (int)len, in, r,
                            err.message, want);
                fail();
        }
        assert_null(m);
}

static void test_cases_file(void **state)
{
        bool covered[sizeof(descriptors) / sizeof(descriptors[0])] = {0};
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int lineno = 0, ok = 0, errs = 0;
        FILE *f;

        assert_non_null(cases_path);
        f = fopen(cases_path, "re");
        assert_non_null(f);
        while ((n = getline(&line, &cap, f)) >= 0) {
                char *fields[4] = {0}, *p = line;
                const ProtobufCMessageDescriptor *d;
                int nf = 0;

                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = 0;
                if (n == 0 || line[0] == '#')
                        continue;
                while (nf < 4) {
                        fields[nf++] = p;
                        p = strchr(p, '\t');
                        if (!p)
                                break;
                        *p++ = 0;
                }
                assert_true(nf >= 3);
                d = descriptor_by_name(fields[1]);
                if (!d) {
                        print_error("line %d: unknown type %s\n", lineno, fields[1]);
                        fail();
                }
                if (strcmp(fields[0], "ok") == 0) {
                        check_ok(d, fields[2], nf == 4 ? fields[3] : fields[2], lineno);
                        for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]); i++)
                                if (descriptors[i] == d)
                                        covered[i] = true;
                        ok++;
                } else if (strcmp(fields[0], "err") == 0) {
                        assert_int_equal(nf, 4);
                        check_err(d, fields[2], strlen(fields[2]), fields[3], lineno);
                        errs++;
                } else {
                        print_error("line %d: bad kind %s\n", lineno, fields[0]);
                        fail();
                }
        }
        free(line);
        fclose(f);
        print_message("%d ok cases, %d error cases\n", ok, errs);
        for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]); i++)
                if (!covered[i]) {
                        print_error("no ok case for %s\n", descriptors[i]->name);
                        fail();
                }
}

/* protocol.md §3.4: the exact bytes the SDK expects, from structs as the agent fills them. */
static void test_exact_process_events(void **state)
{
        Process__ProcessEvent__StartEvent start = PROCESS__PROCESS_EVENT__START_EVENT__INIT;
        Process__ProcessEvent__EndEvent end = PROCESS__PROCESS_EVENT__END_EVENT__INIT;
        Process__ProcessEvent__DataEvent data;
        Process__ProcessEvent__KeepAlive ka = PROCESS__PROCESS_EVENT__KEEP_ALIVE__INIT;
        Process__ProcessEvent ev = PROCESS__PROCESS_EVENT__INIT;
        Process__StartResponse resp = PROCESS__START_RESPONSE__INIT;
        char *s;

        /* The INIT macro trips -Wmissing-braces (union of structs); the function does not. */
        process__process_event__data_event__init(&data);
        start.has_pid = 1;
        start.pid = 1234;
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_START;
        ev.start = &start;
        resp.event = &ev;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"event\":{\"start\":{\"pid\":1234}}}");
        free(s);

        data.output_case = PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDOUT;
        data.stdout = (ProtobufCBinaryData){.len = 6, .data = (uint8_t *)"hello\n"};
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_DATA;
        ev.data = &data;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}");
        free(s);

        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_KEEPALIVE;
        ev.keepalive = &ka;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"event\":{\"keepalive\":{}}}");
        free(s);

        end.has_exit_code = 1;
        end.exit_code = 1;
        end.has_exited = 1;
        end.exited = 1;
        end.status = "exit status 1";
        end.error = "exit status 1";
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_END;
        ev.end = &end;
        s = encode(&resp.base);
        assert_string_equal(
                s, "{\"event\":{\"end\":{\"exitCode\":1,\"exited\":true,\"status\":\"exit status 1\","
                   "\"error\":\"exit status 1\"}}}");
        free(s);
        s = encode(&end.base);
        assert_string_equal(
                s,
                "{\"exitCode\":1,\"exited\":true,\"status\":\"exit status 1\",\"error\":\"exit status 1\"}");
        free(s);

        /* Killed by a signal: exited omitted, exitCode -1 (sint32). */
        end.exit_code = -1;
        end.has_exited = 0;
        end.exited = 0;
        end.status = end.error = "signal: killed";
        s = encode(&end.base);
        assert_string_equal(s,
                            "{\"exitCode\":-1,\"status\":\"signal: killed\",\"error\":\"signal: killed\"}");
        free(s);

        /* A oneof case set with a NULL message is not emitted (pack skips it too). */
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_END;
        ev.end = NULL;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"event\":{}}");
        free(s);
}

/* protocol.md §3.5 / trap 5: the oneof sits at the top of WatchDirResponse. */
static void test_exact_watch_events(void **state)
{
        Filesystem__WatchDirResponse__StartEvent start = FILESYSTEM__WATCH_DIR_RESPONSE__START_EVENT__INIT;
        Filesystem__WatchDirResponse resp = FILESYSTEM__WATCH_DIR_RESPONSE__INIT;
        Filesystem__FilesystemEvent fe = FILESYSTEM__FILESYSTEM_EVENT__INIT;
        Filesystem__EntryInfo entry = FILESYSTEM__ENTRY_INFO__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        Filesystem__EntryInfo__MetadataEntry md = FILESYSTEM__ENTRY_INFO__METADATA_ENTRY__INIT,
                                             *mds[] = {&md};
        char *s;

        resp.event_case = FILESYSTEM__WATCH_DIR_RESPONSE__EVENT_START;
        resp.start = &start;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"start\":{}}");
        free(s);

        entry.name = "a.txt";
        entry.has_type = 1;
        entry.type = FILESYSTEM__FILE_TYPE__FILE_TYPE_FILE;
        entry.path = "/home/user/a.txt";
        entry.has_size = 1;
        entry.size = 5;
        entry.has_mode = 1;
        entry.mode = 0644;
        entry.permissions = "-rw-r--r--";
        entry.owner = entry.group = "user";
        ts.has_seconds = ts.has_nanos = 1;
        ts.seconds = 1735689600; /* 2025-01-01T00:00:00Z */
        ts.nanos = 123456789;
        entry.modified_time = &ts;
        entry.symlink_target = "/x";
        md.key = "k";
        md.value = "v";
        entry.n_metadata = 1;
        entry.metadata = mds;
        s = encode(&entry.base);
        assert_string_equal(s,
                            "{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/a.txt\","
                            "\"size\":\"5\",\"mode\":420,\"permissions\":\"-rw-r--r--\",\"owner\":\"user\","
                            "\"group\":\"user\",\"modifiedTime\":\"2025-01-01T00:00:00.123456789Z\","
                            "\"symlinkTarget\":\"/x\",\"metadata\":{\"k\":\"v\"}}");
        free(s);

        fe.name = "sub/a.txt";
        fe.has_type = 1;
        fe.type = FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CREATE;
        resp.event_case = FILESYSTEM__WATCH_DIR_RESPONSE__EVENT_FILESYSTEM;
        resp.filesystem = &fe;
        s = encode(&resp.base);
        assert_string_equal(s, "{\"filesystem\":{\"name\":\"sub/a.txt\",\"type\":\"EVENT_TYPE_CREATE\"}}");
        free(s);

        /* Timestamp fraction trimming like Go, and dates before 1970. */
        {
                static const struct {
                        int64_t sec;
                        int32_t nanos;
                        const char *want;
                } tss[] = {
                        {0, 0, "\"1970-01-01T00:00:00Z\""},
                        {0, 100000000, "\"1970-01-01T00:00:00.100Z\""},
                        {0, 120000, "\"1970-01-01T00:00:00.000120Z\""},
                        {0, 1, "\"1970-01-01T00:00:00.000000001Z\""},
                        {-1, 999999999, "\"1969-12-31T23:59:59.999999999Z\""},
                        {-62135596800LL, 0, "\"0001-01-01T00:00:00Z\""},
                        {253402300799LL, 0, "\"9999-12-31T23:59:59Z\""},
                        {951782400, 0, "\"2000-02-29T00:00:00Z\""},
                };
                for (size_t i = 0; i < sizeof(tss) / sizeof(tss[0]); i++) {
                        ts.seconds = tss[i].sec;
                        ts.nanos = tss[i].nanos;
                        s = encode(&ts.base);
                        assert_string_equal(s, tss[i].want);
                        free(s);
                }
        }
}

/* The example in the brief, field by field. */
static void test_decode_start_request_fields(void **state)
{
        static const char json[] =
                "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo hello\"],"
                "\"envs\":{\"A\":\"1\"},\"cwd\":\"/tmp\"},\"stdin\":false}";
        Process__StartRequest *req =
                (Process__StartRequest *)decode(&process__start_request__descriptor, json);

        assert_true(req->has_stdin);
        assert_false(req->stdin);
        assert_non_null(req->process);
        assert_string_equal(req->process->cmd, "/bin/bash");
        assert_int_equal(req->process->n_args, 3);
        assert_string_equal(req->process->args[2], "echo hello");
        assert_string_equal(req->process->cwd, "/tmp");
        assert_int_equal(req->process->n_envs, 1);
        assert_string_equal(req->process->envs[0]->key, "A");
        assert_string_equal(req->process->envs[0]->value, "1");
        assert_null(req->pty);
        assert_null(req->tag);
        protobuf_c_message_free_unpacked(&req->base, NULL);

        /* Absent stdin is "absent", not false: the agent then opens a pipe (§3.4). */
        req = (Process__StartRequest *)decode(&process__start_request__descriptor,
                                              "{\"process\":{\"cmd\":\"x\"}}");
        assert_false(req->has_stdin);
        protobuf_c_message_free_unpacked(&req->base, NULL);

        /* oneof selector */
        {
                Process__ConnectRequest *c = (Process__ConnectRequest *)decode(
                        &process__connect_request__descriptor, "{\"process\":{\"tag\":\"t\"}}");
                assert_int_equal(c->process->selector_case, PROCESS__PROCESS_SELECTOR__SELECTOR_TAG);
                assert_string_equal(c->process->tag, "t");
                protobuf_c_message_free_unpacked(&c->base, NULL);
        }
        /* bytes */
        {
                Process__SendInputRequest *si = (Process__SendInputRequest *)decode(
                        &process__send_input_request__descriptor,
                        "{\"process\":{\"pid\":42},\"input\":{\"stdin\":\"YWJj\"}}");
                assert_int_equal(si->input->input_case, PROCESS__PROCESS_INPUT__INPUT_STDIN);
                assert_int_equal(si->input->stdin.len, 3);
                assert_memory_equal(si->input->stdin.data, "abc", 3);
                protobuf_c_message_free_unpacked(&si->base, NULL);
        }
}

static void test_depth(void **state)
{
        struct nb_error err = {0};
        ProtobufCMessage *m = NULL;
        char *deep;
        size_t n;

        /* 64 levels in all (the top object included) are fine, even inside an unknown key. */
        n = 0;
        deep = malloc(600000);
        n += (size_t)sprintf(deep, "{\"x\":");
        for (int i = 0; i < 63; i++)
                deep[n++] = '[';
        for (int i = 0; i < 63; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        assert_int_equal(pbjson_decode(&process__list_request__descriptor, deep, n, &m, &err), 0);
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
        /* 65 is not. */
        n = 0;
        n += (size_t)sprintf(deep, "{\"x\":");
        for (int i = 0; i < 64; i++)
                deep[n++] = '[';
        for (int i = 0; i < 64; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        assert_int_equal(pbjson_decode(&process__list_request__descriptor, deep, n, &m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "deeper than 64"));
        /* Brackets inside strings do not count. */
        n = (size_t)sprintf(deep, "{\"x\":\"");
        for (int i = 0; i < 1000; i++)
                deep[n++] = '{';
        n += (size_t)sprintf(deep + n, "\\\"[\"}");
        assert_int_equal(pbjson_decode(&process__list_request__descriptor, deep, n, &m, &err), 0);
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
        /* 100k levels: an error, not a stack overflow. */
        n = 0;
        for (int i = 0; i < 100000; i++) {
                memcpy(deep + n, "{\"a\":", 5);
                n += 5;
        }
        assert_int_equal(pbjson_decode(&process__list_request__descriptor, deep, n, &m, &err), -EINVAL);
        assert_null(m);
        free(deep);
}

static void test_invalid_utf8(void **state)
{
        static const char *bad[] = {
                "{\"process\":{\"cmd\":\"\xff\"}}",
                "{\"process\":{\"cmd\":\"\xc0\xaf\"}}",         /* overlong '/' */
                "{\"process\":{\"cmd\":\"\xed\xa0\x80\"}}",     /* surrogate */
                "{\"process\":{\"cmd\":\"\xf4\x90\x80\x80\"}}", /* > U+10FFFF */
                "{\"process\":{\"cmd\":\"\xe2\x82\"}}",         /* truncated */
                "{\"\xff\":1}",                                 /* in an (unknown) key */
        };
        Process__ProcessConfig cfg = PROCESS__PROCESS_CONFIG__INIT;
        struct nb_error err = {0};
        struct buf b = {0};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ProtobufCMessage *m = NULL;

                assert_int_equal(
                        pbjson_decode(&process__start_request__descriptor, bad[i], strlen(bad[i]), &m, &err),
                        -EINVAL);
                assert_null(m);
        }
        /* Encoding refuses too, names the field, and leaves the buffer as it was. */
        buf_append(&b, "prefix", 6);
        cfg.cmd = "ok";
        cfg.cwd = "/tmp/\xff";
        assert_int_equal(pbjson_encode(&cfg.base, &b, &err), -EINVAL);
        assert_non_null(strstr(err.message, "field 'cwd'"));
        assert_int_equal(b.len, 6);
        buf_done(&b);
}

static void test_encode_errors_and_appending(void **state)
{
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        Filesystem__EntryInfo entry = FILESYSTEM__ENTRY_INFO__INIT;
        Process__SendSignalRequest sig = PROCESS__SEND_SIGNAL_REQUEST__INIT;
        struct nb_error err = {0};
        struct buf b = {0};

        entry.modified_time = &ts;
        ts.seconds = 253402300800LL; /* year 10000 */
        assert_int_equal(pbjson_encode(&entry.base, &b, &err), -EINVAL);
        assert_non_null(strstr(err.message, "field 'modified_time': timestamp out of range"));
        ts.seconds = 0;
        ts.nanos = 1000000000;
        assert_int_equal(pbjson_encode(&entry.base, &b, &err), -EINVAL);
        ts.nanos = -1;
        assert_int_equal(pbjson_encode(&entry.base, &b, &err), -EINVAL);
        assert_int_equal(b.len, 0);

        /* Appends after what is there, including past a consumed prefix. */
        buf_append(&b, "0123456789", 10);
        buf_consume(&b, 9);
        sig.has_signal = 1;
        sig.signal = 77; /* no name: the number */
        assert_int_equal(pbjson_encode(&sig.base, &b, &err), 0);
        assert_int_equal(buf_avail(&b), 1 + strlen("{\"signal\":77}"));
        assert_memory_equal(buf_head(&b), "9{\"signal\":77}", buf_avail(&b));
        buf_done(&b);
}

static void test_large_bytes(void **state)
{
        Process__ProcessEvent__DataEvent data;
        Process__ProcessEvent__DataEvent *back;
        enum { N = 32 * 1024 };
        uint8_t *raw = malloc(N);
        char *s;

        process__process_event__data_event__init(&data);
        for (size_t i = 0; i < N; i++)
                raw[i] = (uint8_t)(i * 31 + (i >> 8));
        data.output_case = PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_PTY;
        data.pty = (ProtobufCBinaryData){.len = N, .data = raw};
        s = encode(&data.base);
        back = (Process__ProcessEvent__DataEvent *)decode(&process__process_event__data_event__descriptor,
                                                          s);
        assert_int_equal(back->output_case, PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_PTY);
        assert_int_equal(back->pty.len, N);
        assert_memory_equal(back->pty.data, raw, N);
        protobuf_c_message_free_unpacked(&back->base, NULL);
        free(s);
        free(raw);
}

/* Generic paths on pbjson-test.proto (proto3, every scalar type, odd maps). */
static void test_generic_types(void **state)
{
        static const struct {
                const char *in, *want;
        } cases[] = {
                {"{}", "{}"},
                /* proto3: zero values are omitted on output. */
                {"{\"i32\":0,\"s\":\"\",\"b\":false,\"by\":\"\",\"color\":\"COLOR_UNSPECIFIED\",\"db\":0}",
                 "{}"},
                {"{\"i32\":-5,\"s32\":-6,\"sf32\":-7,\"u32\":8,\"f32\":9,\"i64\":\"-10\",\"s64\":\"-11\","
                 "\"sf64\":\"-12\",\"u64\":\"18446744073709551615\",\"f64\":\"14\",\"fl\":1.5,\"db\":0.1,"
                 "\"b\":true,\"s\":\"x\",\"by\":\"AQ==\",\"color\":\"COLOR_RED\"}",
                 "{\"i32\":-5,\"s32\":-6,\"sf32\":-7,\"u32\":8,\"f32\":9,\"i64\":\"-10\",\"s64\":\"-11\","
                 "\"sf64\":\"-12\",\"u64\":\"18446744073709551615\",\"f64\":\"14\",\"fl\":1.5,\"db\":0.1,"
                 "\"b\":true,\"s\":\"x\",\"by\":\"AQ==\",\"color\":\"COLOR_RED\"}"},
                {"{\"fl\":\"NaN\",\"db\":\"-Infinity\"}", "{\"fl\":\"NaN\",\"db\":\"-Infinity\"}"},
                {"{\"fl\":0.1,\"db\":\"1e300\"}", "{\"fl\":0.1,\"db\":1e+300}"},
                {"{\"db\":\"Infinity\",\"u64\":1e19}",
                 "{\"u64\":\"10000000000000000000\",\"db\":\"Infinity\"}"},
                {"{\"child\":{\"child\":{\"i32\":1}}}", "{\"child\":{\"child\":{\"i32\":1}}}"},
                {"{\"child\":{}}", "{\"child\":{}}"},
                {"{\"ri32\":[1,-2,3],\"rdb\":[0.5,\"NaN\"],\"rb\":[true,false],\"rby\":[\"\",\"YQ==\"],"
                 "\"rcolor\":[\"COLOR_RED\",0,\"COLOR_BOGUS\",7],\"ru64\":[\"1\",2]}",
                 "{\"ri32\":[1,-2,3],\"rdb\":[0.5,\"NaN\"],\"rb\":[true,false],\"rby\":[\"\",\"YQ==\"],"
                 "\"rcolor\":[\"COLOR_RED\",\"COLOR_UNSPECIFIED\",7],\"ru64\":[\"1\",\"2\"]}"},
                {"{\"mI32\":{\"-1\":\"a\",\"2\":\"\"},\"mBool\":{\"true\":\"5\",\"false\":6},"
                 "\"mMsg\":{\"k\":{\"s\":\"v\"},\"e\":{}},\"mU64\":{\"18446744073709551615\":\"COLOR_RED\"}"
                 "}",
                 "{\"mI32\":{\"-1\":\"a\",\"2\":\"\"},\"mBool\":{\"true\":\"5\",\"false\":\"6\"},"
                 "\"mMsg\":{\"k\":{\"s\":\"v\"},\"e\":{}},\"mU64\":{\"18446744073709551615\":\"COLOR_RED\"}"
                 "}"},
                {"{\"m_i32\":{\"1\":\"x\"}}", "{\"mI32\":{\"1\":\"x\"}}"},
                {"{\"mU64\":{\"1\":\"COLOR_BOGUS\"}}", "{}"},
                {"{\"oS\":\"\"}", "{\"oS\":\"\"}"},
                {"{\"o_msg\":{}}", "{\"oMsg\":{}}"},
                {"{\"oMsg\":{\"oMsg\":{\"oS\":\"deep\"}}}", "{\"oMsg\":{\"oMsg\":{\"oS\":\"deep\"}}}"},
        };
        static const struct {
                const char *in, *msg;
        } bad[] = {
                {"{\"fl\":1e39}", "field 'fl': number out of float range"},
                {"{\"fl\":\"nan\"}", "field 'fl': expected a number"},
                {"{\"db\":\"0x10\"}", "field 'db': expected a number"},
                {"{\"db\":\"1e999\"}", "field 'db': expected a number"},
                {"{\"db\":\" 1\"}", "field 'db': expected a number"},
                {"{\"db\":true}", "field 'db': expected a number, got a boolean"},
                {"{\"u64\":\"-1\"}", "field 'u64': expected an integer"},
                {"{\"u64\":\"18446744073709551616\"}", "field 'u64': expected an integer"},
                {"{\"u64\":-1}", "field 'u64': integer out of range"},
                {"{\"mI32\":{\"x\":\"a\"}}", "field 'm_i32[\"x\"]': expected an integer"},
                {"{\"mI32\":{\"2147483648\":\"a\"}}", "field 'm_i32[\"2147483648\"]': integer out of range"},
                {"{\"mBool\":{\"1\":1}}", "map key must be"},
                {"{\"mMsg\":{\"k\":[]}}", "field 'm_msg[\"k\"]': expected an object"},
                {"{\"oS\":\"a\",\"oMsg\":{}}", "another member of the same oneof"},
                {"{\"ri32\":[1,[2]]}", "field 'ri32[1]': expected an integer, got an array"},
                {"{\"child\":{\"child\":{\"rby\":[\"***\"]}}}",
                 "field 'child.child.rby[0]': invalid base64"},
        };
        struct nb_error err = {0};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check_ok(&pbtest__all__descriptor, cases[i].in, cases[i].want, (int)i);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                check_err(&pbtest__all__descriptor, bad[i].in, strlen(bad[i].in), bad[i].msg, (int)i);
        (void)err;
}

/* Messages built by hand that nest deeper than the limit are refused, not recursed into forever. */
static void test_encode_depth(void **state)
{
        Pbtest__All nodes[70];
        struct nb_error err = {0};
        struct buf b = {0};

        for (size_t i = 0; i < 70; i++) {
                pbtest__all__init(&nodes[i]);
                if (i > 0)
                        nodes[i - 1].child = &nodes[i];
        }
        assert_int_equal(pbjson_encode(&nodes[0].base, &b, &err), -EINVAL);
        assert_non_null(strstr(err.message, "nested deeper"));
        assert_int_equal(b.len, 0);
        nodes[60].child = NULL;
        assert_int_equal(pbjson_encode(&nodes[0].base, &b, &err), 0);
        buf_done(&b);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases_file),
                cmocka_unit_test(test_exact_process_events),
                cmocka_unit_test(test_exact_watch_events),
                cmocka_unit_test(test_decode_start_request_fields),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_invalid_utf8),
                cmocka_unit_test(test_encode_errors_and_appending),
                cmocka_unit_test(test_large_bytes),
                cmocka_unit_test(test_generic_types),
                cmocka_unit_test(test_encode_depth),
        };

        cases_path = argc > 1 ? argv[1] : getenv("PBJSON_CASES");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
