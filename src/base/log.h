/* Logging to stderr, one line per event, with a level prefix. Library code
 * (runtime, catalog, wire) only logs at debug level; api/, lifecycle/ and
 * agent/ decide and log once. Never log keys, bodies or env values. */
#pragma once

#include "macro.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
void log_set_ident(const char *ident);
/** Bounds a log that goes to a file: once about max_bytes were written, the file is
 *  truncated and starts over (0 = no bound, the default). For the agent, whose
 *  agent.log the daemon serves as the sandbox's logs and a busy sandbox would grow. */
void log_set_file_limit(unsigned long long max_bytes);
enum log_level log_get_level(void);

/** Logs and returns r (a negative errno), so `return log_error_errno(r, "...: %m")` works;
 *  %m expands to strerror(-r). */
int log_full_errno(enum log_level level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_LEVEL_DEBUG, (r), __VA_ARGS__)
