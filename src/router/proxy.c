/* proxy: client <-> agent relay for envd traffic. One link connection per
 * exchange; closing it tells the agent the client is gone (the agent then frees
 * the stream, never the process). */
#include "proxy.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../api/reply.h"
#include "../base/log.h"
#include "../lifecycle/manager.h"
#include "../wire/link.h"
#include "wait.h"

#define PROXY_BLOCK 65536

struct proxy {
        struct live_sandbox *sandbox;
        int agent_fd;
        int client_fd;
        struct buf frame;   /* last frame read from the agent */
        size_t frame_off;   /* bytes of frame already handed to MHD */
        char id[40];
};

static void proxy_free(struct proxy *p)
{
        if (!p)
                return;
        safe_close(p->agent_fd);
        buf_done(&p->frame);
        live_sandbox_unref(p->sandbox);
        free(p);
}

void proxy_abort(struct proxy *p)
{
        proxy_free(p);
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        json_t *obj = cls;
        char name[256];
        size_t n;

        if (!key)
                return MHD_YES;
        n = strnlen(key, sizeof(name) - 1);
        for (size_t i = 0; i < n; i++)
                name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a') : key[i];
        name[n] = 0;
        /* Header values are not guaranteed UTF-8; drop what JSON cannot carry rather than fail. */
        json_object_set_new(obj, kind == MHD_HEADER_KIND ? name : key, json_string(value ? value : ""));
        return MHD_YES;
}

int proxy_begin(struct live_sandbox *s, struct MHD_Connection *c, unsigned port, const char *method,
                const char *url, struct proxy **ret, struct nb_error *err)
{
        const union MHD_ConnectionInfo *info;
        struct proxy *p;
        json_t *head, *query, *headers;
        char *text;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p) {
                live_sandbox_unref(s);
                return nb_error_oom(err);
        }
        p->sandbox = s;
        snprintf(p->id, sizeof(p->id), "%s", live_sandbox_id(s));
        p->agent_fd = live_sandbox_connect_agent(s, err);
        if (p->agent_fd < 0) {
                r = p->agent_fd;
                p->agent_fd = -EBADF;
                proxy_free(p);
                return r;
        }
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        p->client_fd = info ? info->connect_fd : -1;

        query = json_object();
        headers = json_object();
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, query);
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect, headers);
        head = json_pack("{s:s, s:s, s:o, s:o, s:i}", "method", method, "path", url, "query", query, "headers",
                         headers, "port", (int)port);
        text = head ? json_dumps(head, JSON_COMPACT) : NULL;
        json_decref(head);
        if (!text) {
                proxy_free(p);
                return nb_error_oom(err);
        }
        r = link_write_frame(p->agent_fd, LINK_HEAD, text, strlen(text));
        free(text);
        if (r < 0) {
                proxy_free(p);
                return nb_error_set_errno(err, r, "cannot reach the sandbox's agent");
        }
        *ret = p;
        return 0;
}

int proxy_body(struct proxy *p, const char *data, size_t n)
{
        while (n > 0) {
                size_t k = n < LINK_FRAME_MAX ? n : LINK_FRAME_MAX;
                int r = link_write_frame(p->agent_fd, LINK_BODY, data, k);

                if (r < 0)
                        return r;
                data += k;
                n -= k;
        }
        return 0;
}

static ssize_t relay_body(void *cls, uint64_t pos, char *out, size_t max)
{
        struct proxy *p = cls;

        for (;;) {
                enum link_frame_type type;
                size_t avail = p->frame.len - p->frame_off;
                int r;

                if (avail > 0) {
                        size_t k = avail < max ? avail : max;

                        memcpy(out, p->frame.data + p->frame_off, k);
                        p->frame_off += k;
                        return (ssize_t)k;
                }
                r = wait_readable_or_hangup(p->agent_fd, p->client_fd);
                if (r >= 0)
                        r = link_read_frame(p->agent_fd, &p->frame, &type);
                p->frame_off = 0;
                if (r < 0) {
                        p->frame.len = 0;
                        if (r != -ECONNRESET)
                                log_debug("sandbox=%s relay ended early: %s", p->id, strerror(-r));
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                if (type == LINK_END) {
                        p->frame.len = 0;
                        return MHD_CONTENT_READER_END_OF_STREAM;
                }
                if (type != LINK_BODY) {
                        p->frame.len = 0;
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
        }
}

static void relay_done(void *cls)
{
        proxy_free(cls);
}

static bool hop_by_hop(const char *name)
{
        static const char *const skip[] = {"connection", "transfer-encoding", "content-length", "keep-alive",
                                           "date"};

        for (size_t i = 0; i < ELEMENTSOF(skip); i++)
                if (strcasecmp(name, skip[i]) == 0)
                        return true;
        return false;
}

enum MHD_Result proxy_finish(struct proxy *p, struct MHD_Connection *c)
{
        struct MHD_Response *resp;
        enum link_frame_type type;
        enum MHD_Result ret;
        json_t *head = NULL, *headers, *value, *length;
        const char *name;
        uint64_t size = MHD_SIZE_UNKNOWN;
        int status, r;

        r = link_write_frame(p->agent_fd, LINK_END, NULL, 0);
        if (r >= 0)
                r = wait_readable_or_hangup(p->agent_fd, p->client_fd);
        if (r >= 0)
                r = link_read_frame(p->agent_fd, &p->frame, &type);
        if (r >= 0 && type == LINK_HEAD)
                head = json_loadb((const char *)p->frame.data, p->frame.len, 0, NULL);
        if (!head || !json_is_integer(json_object_get(head, "status"))) {
                json_decref(head);
                proxy_free(p);
                /* The agent died or broke the protocol: to the SDK this is a dead sandbox. */
                return reply_error(c, 502, "the sandbox's agent did not answer");
        }
        status = (int)json_integer_value(json_object_get(head, "status"));
        headers = json_object_get(head, "headers");
        length = json_object_get(headers, "content-length");
        if (json_is_string(length))
                size = strtoull(json_string_value(length), NULL, 10);
        p->frame.len = 0;

        resp = MHD_create_response_from_callback(size, PROXY_BLOCK, relay_body, p, relay_done);
        if (!resp) {
                json_decref(head);
                proxy_free(p);
                return MHD_NO;
        }
        json_object_foreach(headers, name, value)
                if (json_is_string(value) && !hop_by_hop(name))
                        MHD_add_response_header(resp, name, json_string_value(value));
        json_decref(head);
        ret = MHD_queue_response(c, (unsigned)status, resp);
        MHD_destroy_response(resp); /* relay_done frees p when MHD is finished with it */
        return ret;
}
