/* envd's /files endpoint (protocol.md §4.2, §4.3): downloads and uploads of
 * whole files over the link, streamed both ways. Authorization is its own:
 * X-Access-Token or a URL signature, so the router sends /files here before
 * its token check. */
#pragma once

#include "conn.h"

/** POST /files, at HEAD time: checks what the head says (auth, user, content
 *  type and encoding, metadata) and takes the body over as it streams in, or
 *  answers the error right away. */
void files_post_begin(struct conn *c);

/** Any other /files request, at request END: GET downloads; other methods 405. */
void files_handle(struct conn *c);
