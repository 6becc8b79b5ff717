/* libnestbox: a C client for E2B's sandbox protocol (protocol.md §1-§3).
 *
 * It speaks to `nestbox serve` and to E2B's cloud alike: the control API (REST,
 * X-API-KEY) creates, lists, inspects and kills sandboxes; the envd process
 * service (Connect RPC, JSON codec) runs commands and PTYs inside them.
 *
 * Conventions (like sd-event.h and jansson.h):
 *  - handles are opaque; every exported name starts with nestbox_;
 *  - functions return int: >= 0 on success, a negative errno on failure, and
 *    fill the caller's nestbox_error (which may be NULL) with the same code,
 *    the HTTP status when there was one, and the message E2B's SDK would show;
 *  - out-parameters are named ret and are written only on success;
 *  - *_free() accepts NULL and returns NULL.
 *
 * Error codes (nestbox_error.code, and the return value):
 *   -EACCES     401 / unauthenticated: bad or missing API key, access token or user
 *   -EPERM      403 / permission_denied
 *   -ENOENT     404 / not_found: no such sandbox, process or template
 *   -EINVAL     400 / invalid_argument, or a bad argument to a libnestbox call
 *   -EEXIST     409 / already_exists
 *   -EAGAIN     429 / resource_exhausted: rate limited
 *   -EBUSY      503 from the control API: service busy, retry
 *   -ETIMEDOUT  502 / unavailable / deadline_exceeded / canceled: the sandbox
 *               timed out or was killed, or the call's own timeout passed
 *   -ENOTSUP    501 / unimplemented
 *   -ECONNREFUSED, -EHOSTUNREACH: the server could not be reached (http_status 0)
 *   -ECANCELED  nestbox_process_cancel() interrupted a wait
 *   -EPROTO     the server answered something this library cannot parse
 *   -EIO        any other error status (message "<status>: <server message>")
 *   -ENOMEM     out of memory
 *
 * Threads: a nestbox_client may be shared by threads. A nestbox_process may be
 * waited on in one thread while another sends input, resizes, kills or cancels it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NESTBOX_VERSION_MAJOR 0
#define NESTBOX_VERSION_MINOR 1
#define NESTBOX_VERSION_MICRO 0
#define NESTBOX_VERSION_STRING "0.1.0"

/** The library's version at run time, e.g. "0.1.0" (compare NESTBOX_VERSION_STRING). */
const char *nestbox_version(void);

/* Frozen like json_error_t: never grows. */
typedef struct nestbox_error {
        int code;          /* negative errno, see above; 0 when unset */
        int http_status;   /* HTTP status of the failing response, 0 if none */
        char message[256]; /* NUL-terminated, truncated if longer */
} nestbox_error;

typedef struct nestbox_client nestbox_client;
typedef struct nestbox_sandbox nestbox_sandbox;
typedef struct nestbox_sandbox_info nestbox_sandbox_info;
typedef struct nestbox_info_list nestbox_info_list;
typedef struct nestbox_create_opts nestbox_create_opts;
typedef struct nestbox_process_opts nestbox_process_opts;
typedef struct nestbox_process nestbox_process;

/* ---- client ------------------------------------------------------------- */

/** A client configured like the E2B SDK's ConnectionConfig (protocol.md §1.1, §1.2):
 *  api_url, else $E2B_API_URL, else "https://api.<domain>" ("http://localhost:3000"
 *  when $E2B_DEBUG is "true"); api_key, else $E2B_API_KEY; sandbox_url (the one
 *  envd base URL for every sandbox), else $E2B_SANDBOX_URL, else none, in which
 *  case each sandbox's envd is reached at "https://sandbox.<domain>" for E2B's own
 *  domains and "https://49983-<id>.<domain>" otherwise. domain is $E2B_DOMAIN or
 *  "e2b.app", unless a create/connect response names another.
 *  Pass NULL for any argument to use the environment. -EACCES without an API key
 *  (E2B's message), -EINVAL for a URL that is not http(s)://. */
int nestbox_client_new(const char *api_url, const char *api_key, const char *sandbox_url,
                       nestbox_client **ret, nestbox_error *err);
nestbox_client *nestbox_client_free(nestbox_client *c);

/** The control API base URL in use (owned by c). */
const char *nestbox_client_api_url(const nestbox_client *c);

/* ---- sandbox lifecycle (control API) ------------------------------------ */

/** Options of nestbox_sandbox_create(). Setters copy their strings; -ENOMEM, -EINVAL. */
int nestbox_create_opts_new(nestbox_create_opts **ret);
nestbox_create_opts *nestbox_create_opts_free(nestbox_create_opts *o);
/** Template ID or alias; default "base" like the SDK. */
int nestbox_create_opts_set_template(nestbox_create_opts *o, const char *template_id);
/** Lifetime in seconds; unset lets the server choose (300 on E2B and nestbox). */
int nestbox_create_opts_set_timeout(nestbox_create_opts *o, unsigned seconds);
/** Adds metadata key=value (sent as "metadata"); a repeated key replaces the value. */
int nestbox_create_opts_set_metadata(nestbox_create_opts *o, const char *key, const char *value);
/** Adds a default environment variable of every process (sent as "envVars"). */
int nestbox_create_opts_set_env(nestbox_create_opts *o, const char *key, const char *value);

/** POST /v2/sandboxes. opts may be NULL (template "base"). The handle keeps a
 *  pointer to c: free it before the client. */
int nestbox_sandbox_create(nestbox_client *c, const nestbox_create_opts *opts, nestbox_sandbox **ret,
                           nestbox_error *err);

/** POST /v2/sandboxes/{id}/connect: a handle to a running (or resumed) sandbox.
 *  timeout_s > 0 asks for at least that much remaining life; 0 sends none.
 *  -ENOENT "Paused sandbox <id> not found" when it does not exist. */
int nestbox_sandbox_connect(nestbox_client *c, const char *sandbox_id, unsigned timeout_s,
                            nestbox_sandbox **ret, nestbox_error *err);
nestbox_sandbox *nestbox_sandbox_free(nestbox_sandbox *sb);

/** Owned by sb. */
const char *nestbox_sandbox_id(const nestbox_sandbox *sb);
const char *nestbox_sandbox_envd_version(const nestbox_sandbox *sb);
/** The envd base URL the process calls go to. */
const char *nestbox_sandbox_envd_url(const nestbox_sandbox *sb);

/** DELETE /sandboxes/{id}. Returns 1 when killed, 0 when there was no such sandbox. */
int nestbox_sandbox_kill(nestbox_client *c, const char *sandbox_id, nestbox_error *err);

/** POST /sandboxes/{id}/timeout: the sandbox ends timeout_s seconds from now
 *  (this may shorten its life). -ENOENT "Sandbox <id> not found". */
int nestbox_sandbox_set_timeout(nestbox_client *c, const char *sandbox_id, unsigned timeout_s,
                                nestbox_error *err);

/** GET /sandboxes/{id}. -ENOENT "Sandbox <id> not found". */
int nestbox_sandbox_get_info(nestbox_client *c, const char *sandbox_id, nestbox_sandbox_info **ret,
                             nestbox_error *err);
nestbox_sandbox_info *nestbox_sandbox_info_free(nestbox_sandbox_info *info);

/** Fields of a SandboxDetail / ListedSandbox; strings are owned by the info (and
 *  so by its list), NULL when the server sent none. */
const char *nestbox_sandbox_info_id(const nestbox_sandbox_info *info);
const char *nestbox_sandbox_info_template_id(const nestbox_sandbox_info *info);
const char *nestbox_sandbox_info_alias(const nestbox_sandbox_info *info);
const char *nestbox_sandbox_info_state(const nestbox_sandbox_info *info);      /* "running" | "paused" */
const char *nestbox_sandbox_info_started_at(const nestbox_sandbox_info *info); /* RFC 3339 */
const char *nestbox_sandbox_info_end_at(const nestbox_sandbox_info *info);     /* RFC 3339 */
/** end_at as milliseconds since the epoch; -1 when absent or unparsable. */
int64_t nestbox_sandbox_info_end_at_ms(const nestbox_sandbox_info *info);
const char *nestbox_sandbox_info_envd_version(const nestbox_sandbox_info *info);
int nestbox_sandbox_info_cpu_count(const nestbox_sandbox_info *info);    /* -1 if absent */
int nestbox_sandbox_info_memory_mb(const nestbox_sandbox_info *info);    /* -1 if absent */
int nestbox_sandbox_info_disk_size_mb(const nestbox_sandbox_info *info); /* -1 if absent */
/** Metadata entries, sorted by key: count, then key/value of entry i (NULL past the end). */
unsigned nestbox_sandbox_info_metadata_count(const nestbox_sandbox_info *info);
const char *nestbox_sandbox_info_metadata_key(const nestbox_sandbox_info *info, unsigned i);
const char *nestbox_sandbox_info_metadata_value(const nestbox_sandbox_info *info, unsigned i);
/** The whole object as the server sent it, compact JSON. */
const char *nestbox_sandbox_info_json(const nestbox_sandbox_info *info);

/** GET /v2/sandboxes, following X-Next-Token until the end. state is a comma list
 *  of "running" and "paused", or NULL for both (the server's default). */
int nestbox_sandbox_list(nestbox_client *c, const char *state, nestbox_info_list **ret, nestbox_error *err);
nestbox_info_list *nestbox_info_list_free(nestbox_info_list *l);
unsigned nestbox_info_list_count(const nestbox_info_list *l);
/** Entry i, owned by l; NULL past the end. */
const nestbox_sandbox_info *nestbox_info_list_get(const nestbox_info_list *l, unsigned i);

/* ---- processes (envd process.Process) ----------------------------------- */

/** Options of a command or PTY. Setters copy their strings. */
int nestbox_process_opts_new(nestbox_process_opts **ret);
nestbox_process_opts *nestbox_process_opts_free(nestbox_process_opts *o);
/** Run as this user (Authorization: Basic base64("<user>:")); default: the sandbox's. */
int nestbox_process_opts_set_user(nestbox_process_opts *o, const char *user);
/** Working directory; default: the sandbox's workdir. */
int nestbox_process_opts_set_cwd(nestbox_process_opts *o, const char *cwd);
/** Adds an environment variable of the process. */
int nestbox_process_opts_set_env(nestbox_process_opts *o, const char *key, const char *value);
/** Process lifetime (Connect-Timeout-Ms): the server kills it after that long.
 *  Default 60000 like the SDK; 0 = no limit (no header). */
int nestbox_process_opts_set_timeout_ms(nestbox_process_opts *o, unsigned timeout_ms);
/** Keep stdin open as a pipe (stdin:true) so nestbox_process_send_input() works. Default off. */
int nestbox_process_opts_set_stdin(nestbox_process_opts *o, int enable);
/** For nestbox_pty_create(): the program to run instead of /bin/bash -i -l.
 *  argv[0] is the program (looked up in PATH inside the sandbox), NULL-terminated. */
int nestbox_process_opts_set_command(nestbox_process_opts *o, const char *const *argv);

/** Output callback: stream is NESTBOX_STDOUT, NESTBOX_STDERR or NESTBOX_PTY; data is
 *  raw bytes (not NUL-terminated). Return 0 to go on, or a negative errno to stop
 *  waiting (nestbox_process_wait() returns it; the process keeps running). */
enum { NESTBOX_STDOUT = 1, NESTBOX_STDERR = 2, NESTBOX_PTY = 3 };
typedef int (*nestbox_output_fn)(int stream, const char *data, size_t len, void *userdata);

/** Starts argv (argv[0] looked up in PATH) with pipes; returns once the server
 *  reported the pid. Output produced before nestbox_process_wait() is kept. */
int nestbox_process_start(nestbox_sandbox *sb, const char *const *argv, const nestbox_process_opts *opts,
                          nestbox_process **ret, nestbox_error *err);

/** Like the SDK's commands.run(cmd, {background: true}): /bin/bash -l -c <cmd>. */
int nestbox_command_start(nestbox_sandbox *sb, const char *cmd, const nestbox_process_opts *opts,
                          nestbox_process **ret, nestbox_error *err);

/** Like the SDK's commands.run(cmd): start, then wait. *ret_exit_code as in
 *  nestbox_process_wait(). A non-zero exit is not an error here. */
int nestbox_command_run(nestbox_sandbox *sb, const char *cmd, const nestbox_process_opts *opts,
                        nestbox_output_fn on_output, void *userdata, int *ret_exit_code, nestbox_error *err);

/** Like the SDK's pty.create({cols, rows}): a PTY of that size running
 *  /bin/bash -i -l (or the opts command) with TERM=xterm-256color, LANG and
 *  LC_ALL=C.UTF-8 added to the environment; output arrives as NESTBOX_PTY. */
int nestbox_pty_create(nestbox_sandbox *sb, unsigned cols, unsigned rows, const nestbox_process_opts *opts,
                       nestbox_process **ret, nestbox_error *err);

/** The process id inside the sandbox. */
uint32_t nestbox_process_pid(const nestbox_process *p);

/** Reads the output stream, calling on_output (may be NULL) for each chunk, until
 *  the process ends. *ret_exit_code: the exit status, or 128+N when signal N
 *  ended it (e.g. 137 after a kill). Returns 0, or an error: -ETIMEDOUT when the
 *  process timeout passed ("deadline_exceeded"), -ECANCELED after
 *  nestbox_process_cancel(), the callback's error, or a transport error. */
int nestbox_process_wait(nestbox_process *p, nestbox_output_fn on_output, void *userdata, int *ret_exit_code,
                         nestbox_error *err);

/** After wait returned 0: the server's status text ("exit status 1", "signal: killed"). */
const char *nestbox_process_status(const nestbox_process *p);

/** SendInput: bytes to the PTY, or to stdin of a process started with stdin on. */
int nestbox_process_send_input(nestbox_process *p, const void *data, size_t len, nestbox_error *err);

/** CloseStdin: EOF on the stdin pipe. */
int nestbox_process_close_stdin(nestbox_process *p, nestbox_error *err);

/** Update: resize the PTY. */
int nestbox_process_resize(nestbox_process *p, unsigned cols, unsigned rows, nestbox_error *err);

/** SendSignal SIGKILL. Returns 1 when signalled, 0 when the process was already gone. */
int nestbox_process_kill(nestbox_process *p, nestbox_error *err);

/** Makes a nestbox_process_wait() running in another thread (or the next one) return -ECANCELED
 *  soon. The process keeps running. Thread-safe, but not async-signal-safe: call
 *  it from a thread (e.g. one reading a signalfd), not from a signal handler. */
void nestbox_process_cancel(nestbox_process *p);

/** Closes the output stream (does not kill the process) and frees p. */
nestbox_process *nestbox_process_free(nestbox_process *p);

#ifdef __cplusplus
}
#endif
