/* The watch RPCs of filesystem.Filesystem (protocol.md §3.5): WatchDir (a
 * server stream: start, events, keepalives, end at Connect-Timeout-Ms) and
 * the polling trio CreateWatcher / GetWatcherEvents / RemoveWatcher that the
 * Python sync SDK uses (events buffered in the agent until fetched). */
#pragma once

#include "conn.h"

#define WATCHERS_MAX 256               /* polling watchers alive at once */
#define WATCHER_EVENTS_MAX 65536       /* unfetched events; beyond, the watcher fails */

void watch_rpc_watch_dir(struct conn *c);
void watch_rpc_create(struct conn *c);
void watch_rpc_get_events(struct conn *c);
void watch_rpc_remove(struct conn *c);
