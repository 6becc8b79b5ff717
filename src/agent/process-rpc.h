/* The process.Process Connect service (protocol.md §3.4): request decoding,
 * replies and error codes. process-rpc.c serves the streams (Start, Connect)
 * and List; process-ctl.c the control calls and StreamInput. */
#pragma once

#include "conn.h"
#include "process.pb-c.h"
#include "rpc.h"

/** Routes /process.Process/<method> (method = the part after the last '/'). */
void process_rpc_dispatch(struct conn *c, const char *method);

/** StreamInput takes the exchange over at HEAD time (client streaming). */
void process_rpc_stream_input_begin(struct conn *c);

/* process-ctl.c */
void process_rpc_send_input(struct conn *c);
void process_rpc_close_stdin(struct conn *c);
void process_rpc_send_signal(struct conn *c);
void process_rpc_update(struct conn *c);

/** "process with pid 42 not found" / "process with tag 'x' not found". */
void process_rpc_not_found(struct rpc *r, const Process__ProcessSelector *sel);
