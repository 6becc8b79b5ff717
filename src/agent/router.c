/* The agent's route table. Auth (X-Access-Token) is checked here, once, for
 * every route but GET /health (protocol.md §3.3). */
#include "router.h"

#include <string.h>

#include "config.h"

#include "files-http.h"
#include "fs-rpc.h"
#include "interp.h"
#include "process-rpc.h"
#include "rpc.h"
#include "settings.h"

#define UNAUTHORIZED_MESSAGE                                                                                     \
        "unauthorized access, please provide a valid access token or method signing if supported"

bool router_authorized(const struct conn *c)
{
        const char *want = c->agent->access_token, *got;
        size_t n;
        unsigned char diff = 0;

        if (!want)
                return true;
        got = conn_header(c, "x-access-token");
        if (!got)
                return false;
        n = strlen(want);
        /* Length is not secret (tokens have a fixed format); the bytes are. */
        if (strlen(got) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(want[i] ^ got[i]);
        return diff == 0;
}

static bool is(const struct conn *c, const char *method, const char *path)
{
        return strcmp(c->path, path) == 0 && (!method || strcmp(c->method, method) == 0);
}

static bool has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void reply_method_not_allowed(struct conn *c)
{
        conn_reply_error(c, 405, "method %.16s is not allowed on '%.128s'", c->method, c->path);
}

void router_head(struct conn *c)
{
        /* Port 49999 is the code interpreter's, not envd's (protocol.md §5). */
        if (interp_is_port(c))
                return interp_head(c);
        /* Uploads stream into files as they arrive; /files authenticates itself (§4.3). */
        if (is(c, "POST", "/files"))
                return files_post_begin(c);
        if (!is(c, "POST", "/process.Process/StreamInput"))
                return;
        if (!router_authorized(c)) {
                conn_reply_error(c, 401, UNAUTHORIZED_MESSAGE);
                return;
        }
        process_rpc_stream_input_begin(c);
}

void router_request(struct conn *c)
{
        if (interp_is_port(c))
                return interp_handle(c);
        if (is(c, NULL, "/health")) {
                if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0)
                        return reply_method_not_allowed(c);
                return conn_reply(c, 204, NULL, NULL, 0);
        }
        /* /files authenticates with X-Access-Token or a URL signature (§4.3). */
        if (is(c, NULL, "/files"))
                return files_handle(c);
        if (!router_authorized(c))
                return conn_reply_error(c, 401, UNAUTHORIZED_MESSAGE);

        if (is(c, NULL, "/init")) {
                if (strcmp(c->method, "POST") != 0)
                        return reply_method_not_allowed(c);
                return settings_handle_init(c);
        }
        if (is(c, NULL, "/envs")) {
                if (strcmp(c->method, "GET") != 0)
                        return reply_method_not_allowed(c);
                return settings_handle_envs(c);
        }
        if (has_prefix(c->path, "/process.Process/"))
                return process_rpc_dispatch(c, c->path + strlen("/process.Process/"));
        if (has_prefix(c->path, "/filesystem.Filesystem/"))
                return fs_rpc_dispatch(c, c->path + strlen("/filesystem.Filesystem/"));
        conn_reply_error(c, 404, "path '%.128s' not found", c->path);
}
