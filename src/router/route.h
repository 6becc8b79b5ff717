/* Where a request goes, decided from its headers alone (protocol.md §1.4):
 * E2b-Sandbox-Id + E2b-Sandbox-Port, else a Host of the form
 * "<port>-<sandboxID>.<domain>", else the control API. Pure: unit-tested. */
#pragma once

#define ROUTE_ID_MAX 32
#define ENVD_PORT 49983u
#define CODE_INTERPRETER_PORT 49999u

enum route_kind {
        ROUTE_API,
        ROUTE_SANDBOX,
        ROUTE_INVALID, /* sandbox headers present but unusable; message says why */
};

struct route {
        enum route_kind kind;
        unsigned port;
        char sandbox_id[ROUTE_ID_MAX + 1];
        const char *message; /* static text for ROUTE_INVALID */
};

/** Any argument may be NULL (header absent). */
void route_classify(const char *sandbox_id_header, const char *sandbox_port_header, const char *host,
                    struct route *ret);
