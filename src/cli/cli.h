/* Subcommands of the `nestbox` binary. Each takes argc/argv after its own name
 * and returns a process exit status. */
#pragma once

int cmd_serve(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_sandbox(int argc, char **argv);

/* Shared option defaults. */
#define DEFAULT_STATE_DIR "/var/lib/nestbox"
#define DEFAULT_LISTEN "127.0.0.1:3000"

/** Prints the three export lines for a server at listen whose key is in <state_dir>/api-key.
 *  Returns 0, or -errno when the key file cannot be read. */
int print_exports(const char *state_dir, const char *listen);
