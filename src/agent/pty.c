/* pty pairs: /dev/ptmx + unlockpt + TIOCGPTPEER (Linux >= 4.13), which opens
 * the peer through the master and so works in any mount namespace layout. */
#include "pty.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "macro.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int pty_resize(int master, unsigned rows, unsigned cols)
{
        struct winsize ws = {0};

        if (rows == 0 || cols == 0 || rows > 0xFFFF || cols > 0xFFFF)
                return -EINVAL;
        ws.ws_row = (unsigned short)rows;
        ws.ws_col = (unsigned short)cols;
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
                return -errno;
        return 0;
}

int pty_open(unsigned rows, unsigned cols, int *ret_master, int *ret_slave, struct nb_error *err)
{
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        int r;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0)
                return nb_error_set_errno(err, -errno, "cannot open /dev/ptmx");
        if (unlockpt(master) < 0)
                return nb_error_set_errno(err, -errno, "cannot unlock the pty");
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                char path[64];

                /* FIXME: drop once kernels < 4.13 are out of scope (they lack TIOCGPTPEER). */
                if (ptsname_r(master, path, sizeof(path)) != 0)
                        return nb_error_set_errno(err, -errno, "cannot find the pty peer");
                slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (slave < 0)
                        return nb_error_set_errno(err, -errno, "cannot open '%s'", path);
        }
        r = pty_resize(master, rows, cols);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot size the pty to %ux%u", cols, rows);
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}
