/* The code interpreter of the agent (port 49999, protocol.md §5) over the link,
 * against the real agent binary given as argv[1] and the host's python3: the
 * driver protocol end to end (results, streams, errors, env, contexts), a client
 * leaving mid-run (interrupt, context kept), and the HTTP error shapes.
 * The agent gets a passwd file with root only, so the driver runs as us in /tmp. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent-client.h"

static const char *agent_binary;
static struct agent_proc agent;
static char passwd_path[128];

/* A request to the code interpreter's port, as the daemon relays it. */
static int interp_open(const char *method, const char *path, const char *body, struct exch *ret)
{
        static const char *const json[] = {"content-type", "application/json", NULL};

        return exch_open_port(&agent, 49999, method, path, json, body, body ? strlen(body) : 0, true, ret);
}

/* One whole exchange; *ret_body is malloc'd and NUL-terminated. */
static int interp_http(const char *method, const char *path, const char *body, int *ret_status, char **ret_body)
{
        struct exch e;
        int r = interp_open(method, path, body, &e);

        if (r < 0)
                return r;
        r = exch_read_all(&e, 30000);
        if (r >= 0) {
                *ret_status = e.status;
                *ret_body = strndup((const char *)buf_head(&e.body), buf_avail(&e.body));
        }
        exch_close(&e);
        return r;
}

/* Runs code (with a JSON body built by the caller when body_fmt has more than the
 * code) and returns the NDJSON lines as a JSON array. */
static json_t *execute(const char *body)
{
        char *text = NULL, *line, *save = NULL;
        int status = 0;
        json_t *lines = json_array();

        assert_int_equal(interp_http("POST", "/execute", body, &status, &text), 0);
        assert_int_equal(status, 200);
        assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
        assert_null(strstr(text, "\n\n")); /* never a blank line (§8 item 15) */
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                json_error_t jerr;
                json_t *v = json_loads(line, 0, &jerr);

                if (!v)
                        fail_msg("bad NDJSON line '%s': %s", line, jerr.text);
                json_array_append_new(lines, v);
        }
        free(text);
        assert_string_equal(json_string_value(json_object_get(json_array_get(lines, json_array_size(lines) - 1),
                                                              "type")),
                            "end_of_execution");
        return lines;
}

static json_t *execute_code(const char *code)
{
        json_t *b = json_pack("{s:s}", "code", code);
        char *body = json_dumps(b, JSON_COMPACT);
        json_t *lines = execute(body);

        free(body);
        json_decref(b);
        return lines;
}

/* The first line of the given type, or NULL. */
static json_t *find(json_t *lines, const char *type)
{
        size_t i;
        json_t *v;

        json_array_foreach(lines, i, v)
                if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0)
                        return v;
        return NULL;
}

static const char *str(json_t *obj, const char *key)
{
        return json_string_value(json_object_get(obj, key));
}

static void test_health(void **state)
{
        char *body = NULL;
        int status = 0;

        assert_int_equal(interp_http("GET", "/health", NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        assert_string_equal(body, "\"OK\"");
        free(body);
}

static void test_result_and_state(void **state)
{
        json_t *l = execute_code("x = 20\nx + 1");
        json_t *r = find(l, "result");

        assert_non_null(find(l, "number_of_executions"));
        assert_non_null(r);
        assert_true(json_is_true(json_object_get(r, "is_main_result")));
        assert_string_equal(str(r, "text"), "21");
        json_decref(l);

        l = execute_code("x * 2");
        assert_string_equal(str(find(l, "result"), "text"), "40");
        json_decref(l);

        /* No result for a statement, nor for None. */
        l = execute_code("y = None\ny");
        assert_null(find(l, "result"));
        json_decref(l);
}

/* The n-th line of the given type, or NULL. */
static json_t *find_nth(json_t *lines, const char *type, size_t n)
{
        size_t i;
        json_t *v;

        json_array_foreach(lines, i, v)
                if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0 && n-- == 0)
                        return v;
        return NULL;
}

/* A line as compact JSON, keys in the order the driver sent them. */
static char *compact(json_t *v)
{
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

        assert_non_null(s);
        return s;
}

/* E2B's Result shape (protocol.md 5.2): fields in its model's order, unknown MIME
 * types under "extra", one pair of quotes stripped from text, NaN in JSON as null;
 * a trailing ';' hides the value; a failing repr is an error of the cell. */
static void test_result_shape(void **state)
{
        json_t *l = execute_code("class R:\n"
                                 "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
                                 "        return {'text/plain': 'R!', 'application/x-custom': {'k': 1}}\n"
                                 "    def _repr_markdown_(self): return '*m*'\n"
                                 "display(R())\n"
                                 "display({'text/latex': '$x$'}, raw=True)\n"
                                 "display([float('nan')])\n"
                                 "\"it's\"");
        char *s;

        s = compact(find_nth(l, "result", 0));
        assert_string_equal(s, "{\"type\":\"result\",\"text\":\"R!\",\"markdown\":\"*m*\","
                               "\"extra\":{\"application/x-custom\":{\"k\":1}},\"is_main_result\":false}");
        free(s);
        s = compact(find_nth(l, "result", 1));
        assert_string_equal(s, "{\"type\":\"result\",\"latex\":\"$x$\",\"extra\":{},\"is_main_result\":false}");
        free(s);
        s = compact(find_nth(l, "result", 2));
        assert_string_equal(s, "{\"type\":\"result\",\"text\":\"[nan]\",\"json\":[null],\"extra\":{},"
                               "\"is_main_result\":false}");
        free(s);
        s = compact(find_nth(l, "result", 3));
        assert_string_equal(s, "{\"type\":\"result\",\"text\":\"it's\",\"extra\":{},\"is_main_result\":true}");
        free(s);
        assert_null(find_nth(l, "result", 4));
        assert_null(find(l, "error"));
        json_decref(l);

        l = execute_code("1 + 1;  # hidden");
        assert_null(find(l, "result"));
        json_decref(l);

        l = execute_code("class B:\n    def __repr__(self): raise ValueError('bad repr')\nB()");
        assert_null(find(l, "result"));
        assert_string_equal(str(find(l, "error"), "name"), "ValueError");
        assert_string_equal(str(find(l, "error"), "value"), "bad repr");
        assert_non_null(strstr(str(find(l, "error"), "traceback"), "in __repr__"));
        json_decref(l);
}

static void test_streams_in_order(void **state)
{
        json_t *l = execute_code("import sys, os\nprint('a')\nprint('b', file=sys.stderr)\n"
                                 "os.system('echo c')\nprint('d', end='')");
        /* Adjacent texts of one stream may be batched together, as ipykernel does. */
        const char *want[][2] = {{"stdout", "a\n"}, {"stderr", "b\n"}, {"stdout", "c\nd"}};
        char got[3][2][64] = {{{0}}};
        size_t i, k = 0;
        json_t *v;

        json_array_foreach(l, i, v) {
                const char *type = str(v, "type");

                if (strcmp(type, "stdout") != 0 && strcmp(type, "stderr") != 0)
                        continue;
                assert_non_null(str(v, "timestamp"));
                if (k > 0 && strcmp(got[k - 1][0], type) == 0) {
                        strncat(got[k - 1][1], str(v, "text"), sizeof(got[0][1]) - strlen(got[k - 1][1]) - 1);
                        continue;
                }
                assert_true(k < 3);
                snprintf(got[k][0], sizeof(got[k][0]), "%s", type);
                snprintf(got[k][1], sizeof(got[k][1]), "%s", str(v, "text"));
                k++;
        }
        assert_int_equal(k, 3);
        for (k = 0; k < 3; k++) {
                assert_string_equal(got[k][0], want[k][0]);
                assert_string_equal(got[k][1], want[k][1]);
        }
        json_decref(l);
}

static void test_error(void **state)
{
        json_t *l = execute_code("def f():\n    raise KeyError('k')\nf()");
        json_t *e = find(l, "error");

        assert_non_null(e);
        assert_string_equal(str(e, "name"), "KeyError");
        assert_string_equal(str(e, "value"), "'k'");
        assert_non_null(strstr(str(e, "traceback"), "raise KeyError('k')"));
        /* The driver's own frames are not the user's business. */
        assert_null(strstr(str(e, "traceback"), "run_cell"));
        json_decref(l);
}

static void test_env_vars_one_run(void **state)
{
        json_t *l = execute("{\"code\":\"import os; os.environ['NB_T']\",\"env_vars\":{\"NB_T\":\"v\"}}");

        assert_string_equal(str(find(l, "result"), "text"), "v");
        json_decref(l);
        l = execute_code("import os; 'NB_T' in os.environ");
        assert_string_equal(str(find(l, "result"), "text"), "False");
        json_decref(l);
}

static void test_http_errors(void **state)
{
        char *body = NULL;
        int status = 0;

        assert_int_equal(interp_http("POST", "/execute", "{\"code\":\"1\",\"context_id\":\"a\",\"language\":\"python\"}",
                                     &status, &body), 0);
        assert_int_equal(status, 400);
        free(body);
        assert_int_equal(interp_http("POST", "/execute", "{\"code\":\"1\",\"context_id\":\"nope\"}", &status, &body), 0);
        assert_int_equal(status, 404);
        assert_string_equal(body, "Context nope not found");
        free(body);
        assert_int_equal(interp_http("POST", "/execute", "not json", &status, &body), 0);
        assert_int_equal(status, 422);
        free(body);
        assert_int_equal(interp_http("POST", "/contexts", "{\"language\":\"r\"}", &status, &body), 0);
        assert_int_equal(status, 400);
        assert_non_null(strstr(body, "only python"));
        free(body);
        assert_int_equal(interp_http("DELETE", "/contexts/nope", NULL, &status, &body), 0);
        assert_int_equal(status, 404);
        free(body);
        /* Port 49999 never reaches envd's routes. */
        assert_int_equal(interp_http("GET", "/envs", NULL, &status, &body), 0);
        assert_int_equal(status, 404);
        free(body);
}

static void test_unsupported_language(void **state)
{
        json_t *l = execute("{\"code\":\"1\",\"language\":\"R\"}");
        json_t *e = find(l, "error");

        assert_non_null(e);
        assert_string_equal(str(e, "name"), "UnsupportedLanguage");
        assert_non_null(strstr(str(e, "value"), "'r'"));
        json_decref(l);
}

/* JavaScript through node (skipped when the host has none). */
static void test_javascript(void **state)
{
        json_t *l;

        if (system("command -v node >/dev/null 2>&1") != 0) {
                skip();
                return;
        }
        l = execute("{\"code\":\"console.log('hi'); var jx = 20; jx + 1\",\"language\":\"js\"}");
        assert_string_equal(str(find(l, "stdout"), "text"), "hi\n");
        assert_string_equal(str(find(l, "result"), "text"), "21");
        json_decref(l);
        l = execute("{\"code\":\"jx * 2\",\"language\":\"javascript\"}");
        assert_string_equal(str(find(l, "result"), "text"), "40");
        json_decref(l);
        l = execute("{\"code\":\"null.x\",\"language\":\"javascript\"}");
        assert_string_equal(str(find(l, "error"), "name"), "TypeError");
        json_decref(l);
}

static void test_contexts(void **state)
{
        char *body = NULL, *req;
        int status = 0;
        json_t *ctx, *list, *l;
        const char *id;

        assert_int_equal(interp_http("POST", "/contexts", "{\"cwd\":\"/tmp\"}", &status, &body), 0);
        assert_int_equal(status, 200);
        ctx = json_loads(body, 0, NULL);
        free(body);
        assert_non_null(ctx);
        id = str(ctx, "id");
        assert_int_equal(strlen(id), 36);
        assert_string_equal(str(ctx, "language"), "python");
        assert_string_equal(str(ctx, "cwd"), "/tmp");

        assert_true(asprintf(&req, "{\"code\":\"import os; x = 1; os.getcwd()\",\"context_id\":\"%s\"}", id) > 0);
        l = execute(req);
        free(req);
        assert_string_equal(str(find(l, "result"), "text"), "/tmp");
        json_decref(l);

        assert_int_equal(interp_http("GET", "/contexts", NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        list = json_loads(body, 0, NULL);
        free(body);
        assert_true(json_array_size(list) >= 2); /* the default one and ours */
        json_decref(list);

        assert_true(asprintf(&req, "/contexts/%s/restart", id) > 0);
        assert_int_equal(interp_http("POST", req, NULL, &status, &body), 0);
        free(req);
        assert_int_equal(status, 200);
        free(body);
        assert_true(asprintf(&req, "{\"code\":\"'x' in globals()\",\"context_id\":\"%s\"}", id) > 0);
        l = execute(req);
        free(req);
        assert_string_equal(str(find(l, "result"), "text"), "False");
        json_decref(l);

        assert_true(asprintf(&req, "/contexts/%s", id) > 0);
        assert_int_equal(interp_http("DELETE", req, NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        free(body);
        assert_int_equal(interp_http("DELETE", req, NULL, &status, &body), 0);
        assert_int_equal(status, 404);
        free(body);
        free(req);
        json_decref(ctx);
}

static void test_disconnect_interrupts(void **state)
{
        struct exch e;
        json_t *l;

        l = execute_code("kept = 3");
        json_decref(l);
        assert_int_equal(interp_open("POST", "/execute", "{\"code\":\"import time\\nwhile True: time.sleep(0.05)\"}",
                                     &e), 0);
        assert_int_equal(exch_read_head(&e, 10000), 0);
        assert_int_equal(e.status, 200);
        usleep(300000);
        exch_close(&e); /* the client leaves: the agent interrupts the cell */
        l = execute_code("kept");
        assert_string_equal(str(find(l, "result"), "text"), "3");
        json_decref(l);
}

static int setup(void **state)
{
        const char *args[] = {"--passwd", passwd_path, NULL};
        char *body = NULL;
        int status = 0;
        FILE *f;

        snprintf(passwd_path, sizeof(passwd_path), "/tmp/nestbox-interp-passwd.%d", (int)getpid());
        f = fopen(passwd_path, "we");
        if (!f)
                return -1;
        fprintf(f, "root:x:%d:%d:root:/tmp:/bin/sh\n", (int)getuid(), (int)getgid());
        fclose(f);
        if (agent_start(agent_binary, args, false, &agent) < 0)
                return -1;
        for (int i = 0; i < 100; i++) {
                if (interp_http("GET", "/health", NULL, &status, &body) >= 0 && status == 200) {
                        free(body);
                        return 0;
                }
                free(body);
                body = NULL;
                usleep(20000);
        }
        return -1;
}

static int teardown(void **state)
{
        int r = agent_stop_clean(&agent);

        unlink(passwd_path);
        return r;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_health),
                cmocka_unit_test(test_result_and_state),
                cmocka_unit_test(test_result_shape),
                cmocka_unit_test(test_streams_in_order),
                cmocka_unit_test(test_error),
                cmocka_unit_test(test_env_vars_one_run),
                cmocka_unit_test(test_http_errors),
                cmocka_unit_test(test_unsupported_language),
                cmocka_unit_test(test_javascript),
                cmocka_unit_test(test_contexts),
                cmocka_unit_test(test_disconnect_interrupts),
        };

        if (argc < 2) {
                fprintf(stderr, "usage: %s AGENT_BINARY\n", argv[0]);
                return 2;
        }
        agent_binary = argv[1];
        if (system("command -v python3 >/dev/null 2>&1") != 0) {
                fprintf(stderr, "python3 is not installed: skipping\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
