/* pid 1 duties through a signalfd: reap every child on SIGCHLD (ours and
 * re-parented orphans), and on SIGTERM/SIGINT kill everything and leave. */
#pragma once

#include "agent.h"

/** Blocks SIGCHLD, SIGTERM, SIGINT and watches them through a signalfd. */
int signals_setup(struct agent *a);

/** Reaps every exited child (waitpid(-1, WNOHANG) until none is left). */
void signals_reap(struct agent *a);
