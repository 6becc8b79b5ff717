/* The JSON shapes of E2B's Sandbox, SandboxDetail and ListedSandbox (protocol.md §2.4). */
#pragma once

#include <jansson.h>
#include <stdint.h>

struct catalog_sandbox;

/** Create/connect result. */
json_t *sandbox_json_created(const struct catalog_sandbox *s);
/** GET /sandboxes/{id}. */
json_t *sandbox_json_detail(const struct catalog_sandbox *s);
/** One element of GET /v2/sandboxes. */
json_t *sandbox_json_listed(const struct catalog_sandbox *s);
/** RFC 3339 UTC with milliseconds from unix milliseconds. */
void format_rfc3339_ms(int64_t ms, char out[32]);
