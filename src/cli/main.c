/* nestbox: one binary for the daemon (`serve`) and its admin commands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
} commands[] = {
        {"serve", cmd_serve, "run the server (control API + sandbox traffic on one port)"},
        {"env", cmd_env, "print the three export lines that point E2B's SDK and CLI here"},
        {"keys", cmd_keys, "create, list or revoke API keys"},
        {"sandbox", cmd_sandbox, "create, list, inspect, kill sandboxes; run commands; open a terminal"},
};

static void usage(FILE *f)
{
        fprintf(f, "usage: nestbox <command> [options]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\nrun 'nestbox <command> --help' for its options\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("nestbox %s\n", NESTBOX_VERSION);
                return 0;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "nestbox: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
}
