/* The output side of an attached process: one thread blocks in
 * nestbox_process_wait() and copies output to our stdout/stderr, so the main
 * thread stays free for input, signals and keepalives. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../base/macro.h"
#include "sandbox.h"

uint64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int write_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t k = write(fd, c, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pfd = {.fd = fd, .events = POLLOUT};

                                (void)poll(&pfd, 1, -1);
                                continue;
                        }
                        return -errno;
                }
                c += k;
                n -= (size_t)k;
        }
        return 0;
}

static int on_output(int stream, const char *data, size_t len, void *userdata)
{
        return write_all(stream == NESTBOX_STDERR ? STDERR_FILENO : STDOUT_FILENO, data, len);
}

static void *pump_main(void *userdata)
{
        struct io_pump *pump = userdata;
        uint64_t one = 1;

        pump->wait_r = nestbox_process_wait(pump->p, on_output, NULL, &pump->exit_code, &pump->err);
        (void)!write(pump->done_fd, &one, sizeof(one));
        return NULL;
}

int io_pump_start(struct io_pump *pump, nestbox_process *p)
{
        int r;

        *pump = (struct io_pump){.p = p, .done_fd = -EBADF};
        pump->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (pump->done_fd < 0)
                return -errno;
        r = pthread_create(&pump->thread, NULL, pump_main, pump);
        if (r != 0) {
                pump->done_fd = safe_close(pump->done_fd);
                return -r;
        }
        pump->running = 1;
        return 0;
}

void io_pump_join(struct io_pump *pump)
{
        if (pump->running) {
                pthread_join(pump->thread, NULL);
                pump->running = 0;
        }
        pump->done_fd = safe_close(pump->done_fd);
}
