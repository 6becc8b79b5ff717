/* One function per control-API endpoint. `id` is the {sandboxID} path segment,
 * already validated as [a-z0-9]{1,32}; body is the raw request body (may be empty). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

struct daemon;

struct api_call {
        struct daemon *d;
        struct MHD_Connection *c;
        const char *id;
        const char *body;
        size_t body_len;
        bool v2;
};

/** 0 when the catalog knows sandbox call->id; otherwise queues the 404 (or a 500)
 *  in *ret and returns 1. For endpoints that read elsewhere (metrics, logs). */
int api_sandbox_known(const struct api_call *call, enum MHD_Result *ret);

enum MHD_Result api_sandbox_create(const struct api_call *call);
enum MHD_Result api_sandbox_get(const struct api_call *call);
enum MHD_Result api_sandbox_list(const struct api_call *call);
enum MHD_Result api_sandbox_kill(const struct api_call *call);
enum MHD_Result api_sandbox_timeout(const struct api_call *call);
enum MHD_Result api_sandbox_refresh(const struct api_call *call);
enum MHD_Result api_sandbox_connect(const struct api_call *call);
enum MHD_Result api_sandbox_pause(const struct api_call *call);
enum MHD_Result api_sandbox_network(const struct api_call *call);
enum MHD_Result api_sandbox_resume(const struct api_call *call);
enum MHD_Result api_template_list(const struct api_call *call);
enum MHD_Result api_sandbox_metrics(const struct api_call *call);
enum MHD_Result api_sandboxes_metrics(const struct api_call *call);
enum MHD_Result api_sandbox_logs(const struct api_call *call);
enum MHD_Result api_sandbox_logs_v2(const struct api_call *call);
