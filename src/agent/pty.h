/* Pseudo-terminals for PTY processes (protocol.md §3.7), without NSS or a
 * /dev/pts path lookup: the slave comes from TIOCGPTPEER. */
#pragma once

#include "error.h"

/** Opens a pty pair sized rows x cols. The master is non-blocking; both are
 *  close-on-exec. */
int pty_open(unsigned rows, unsigned cols, int *ret_master, int *ret_slave, struct nb_error *err);

/** TIOCSWINSZ on the master. Zero rows or cols are refused with -EINVAL. */
int pty_resize(int master, unsigned rows, unsigned cols);
