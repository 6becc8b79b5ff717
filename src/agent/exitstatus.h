/* Exit statuses spelled the way Go's os.ProcessState does, because E2B's SDK
 * and CLI compare these strings (protocol.md §3.4, §8 trap 17). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/** Go's syscall.Signal.String() ("killed", "terminated", ...); "signal N" if unknown. */
const char *exit_status_signal_name(int sig, char *buf, size_t n);

/** Go's ProcessState.String() for a wait(2) status: "exit status 3",
 *  "signal: killed", "signal: aborted (core dumped)". */
void exit_status_format(int wait_status, char *buf, size_t n);

/** Go's ProcessState.ExitCode(): the exit code, or -1 when killed by a signal. */
int exit_status_code(int wait_status);

/** Go's ProcessState.Exited(). */
bool exit_status_exited(int wait_status);
