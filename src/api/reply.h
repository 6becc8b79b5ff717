/* Building HTTP responses in E2B's shapes: JSON bodies, and errors as
 * {"code": <status>, "message": "..."} because the SDK decides on body.code
 * (protocol.md §2.1, §8.3). Every function queues the response on c. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>

#include "../base/macro.h"

/** Queues body (reference stolen) as application/json with Content-Length. */
enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body);
/** Like reply_json, plus one extra header (name may be NULL). */
enum MHD_Result reply_json_with_header(struct MHD_Connection *c, unsigned status, json_t *body, const char *name,
                                       const char *value);
/** Queues {"code":status,"message":<formatted>}. */
enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) _printf_(3, 4);
/** An empty 2xx the SDK accepts: 204, or any status with Content-Length: 0. */
enum MHD_Result reply_empty(struct MHD_Connection *c, unsigned status);
/** 502 {"sandboxId","message":"The sandbox was not found","code":502} for dead sandbox routes. */
enum MHD_Result reply_sandbox_not_found(struct MHD_Connection *c, const char *sandbox_id);
