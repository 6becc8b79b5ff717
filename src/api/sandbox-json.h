/* The JSON shapes of E2B's Sandbox, SandboxDetail and ListedSandbox (protocol.md §2.4). */
#pragma once

#include <jansson.h>
#include <stdint.h>

struct catalog_sandbox;

/** Create/connect result. domain (serve --domain) or NULL: the SDK's getHost(port) then
 *  gives "<port>-<id>.<domain>", else its own default. */
json_t *sandbox_json_created(const struct catalog_sandbox *s, const char *domain);
/** GET /sandboxes/{id}; domain as for sandbox_json_created(). */
json_t *sandbox_json_detail(const struct catalog_sandbox *s, const char *domain);
/** One element of GET /v2/sandboxes. */
json_t *sandbox_json_listed(const struct catalog_sandbox *s);
/** RFC 3339 UTC with milliseconds from unix milliseconds. */
void format_rfc3339_ms(int64_t ms, char out[32]);
