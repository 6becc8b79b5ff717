/* `nestbox sandbox create|list|info|kill|exec|terminal`: a client of E2B's
 * protocol through libnestbox only, so it works against nestbox and E2B's
 * cloud alike. Reads E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY (and
 * E2B_DOMAIN) from the environment, like E2B's SDK and CLI. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "nestbox.h"
#include "sandbox.h"

#define TERMINAL_KEEPALIVE_S 30 /* E2B CLI: setTimeout(30 s) every 5 s while attached */
#define TIMEOUT_MAX_S 86400

static void usage(FILE *f)
{
        fprintf(f, "usage: nestbox sandbox create [--timeout SECONDS] [--terminal] [TEMPLATE]\n"
                   "       nestbox sandbox list [--state running,paused] [--json]\n"
                   "       nestbox sandbox info [--json] ID\n"
                   "       nestbox sandbox kill ID...\n"
                   "       nestbox sandbox exec ID -- COMMAND [ARG...]\n"
                   "       nestbox sandbox terminal ID\n"
                   "\n"
                   "Talks to the server named by E2B_API_URL (control API), E2B_SANDBOX_URL (sandbox\n"
                   "traffic) and E2B_API_KEY; see 'nestbox env'. TEMPLATE defaults to 'base'.\n"
                   "exec and terminal pass the exit status of the command or shell through.\n");
}

static int client_open(nestbox_client **ret)
{
        nestbox_error err = {0};

        if (nestbox_client_new(NULL, NULL, NULL, ret, &err) < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return -1;
        }
        return 0;
}

static int parse_timeout(const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || v == 0 || v > TIMEOUT_MAX_S || s[0] == '-') {
                fprintf(stderr, "nestbox: --timeout wants whole seconds from 1 to %d, not '%s'\n",
                        TIMEOUT_MAX_S, s);
                return -EINVAL;
        }
        *ret = (unsigned)v;
        return 0;
}

/* Attaches a terminal to a sandbox created by `create --terminal`. Like the E2B
 * CLI, the sandbox lives only while attached: on detach its timeout becomes
 * --timeout, or it is killed when none was given. */
static int create_terminal(nestbox_client *c, nestbox_sandbox *sb, unsigned timeout_s)
{
        struct terminal_opts o = {.keepalive_s = timeout_s ? timeout_s : TERMINAL_KEEPALIVE_S};
        nestbox_error err = {0};
        int r;

        fprintf(stderr, "Terminal connecting to sandbox %s\n", nestbox_sandbox_id(sb));
        r = sandbox_terminal(c, sb, &o);
        if (timeout_s)
                (void)nestbox_sandbox_set_timeout(c, nestbox_sandbox_id(sb), timeout_s, &err);
        else if (nestbox_sandbox_kill(c, nestbox_sandbox_id(sb), &err) < 0)
                fprintf(stderr, "nestbox: cannot kill sandbox %s: %s\n", nestbox_sandbox_id(sb),
                        err.message);
        fprintf(stderr, "Closing terminal connection to sandbox %s\n", nestbox_sandbox_id(sb));
        return r < 0 ? 1 : r;
}

static int do_create(nestbox_client *c, int argc, char **argv)
{
        static const struct option options[] = {
                {"timeout", required_argument, NULL, 't'},
                {"terminal", no_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        nestbox_create_opts *opts = NULL;
        nestbox_sandbox *sb = NULL;
        nestbox_error err = {0};
        unsigned timeout_s = 0;
        bool terminal = false;
        int ch, r, status;

        while ((ch = getopt_long(argc, argv, "+t:Th", options, NULL)) >= 0)
                switch (ch) {
                case 't':
                        if (parse_timeout(optarg, &timeout_s) < 0)
                                return 2;
                        break;
                case 'T':
                        terminal = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (argc - optind > 1) {
                usage(stderr);
                return 2;
        }
        r = nestbox_create_opts_new(&opts);
        if (r >= 0 && optind < argc)
                r = nestbox_create_opts_set_template(opts, argv[optind]);
        if (r >= 0 && timeout_s)
                r = nestbox_create_opts_set_timeout(opts, timeout_s);
        if (r < 0) {
                nestbox_create_opts_free(opts);
                fprintf(stderr, "nestbox: %s\n", strerror(-r));
                return 1;
        }
        r = nestbox_sandbox_create(c, opts, &sb, &err);
        nestbox_create_opts_free(opts);
        if (r < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return 1;
        }
        if (terminal)
                status = create_terminal(c, sb, timeout_s);
        else {
                printf("%s\n", nestbox_sandbox_id(sb));
                status = 0;
        }
        nestbox_sandbox_free(sb);
        return status;
}

/* "2025-01-01T00:00:00.000Z" -> local "2025-01-01 01:00:00", as E2B's CLI shows times locally. */
static const char *local_time(const char *rfc3339, char *buf, size_t n)
{
        struct tm tm = {0};
        time_t t;

        if (!rfc3339)
                return "-";
        if (!strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
                return rfc3339;
        t = timegm(&tm);
        if (!localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return rfc3339;
        return buf;
}

static void print_metadata(FILE *f, const nestbox_sandbox_info *info)
{
        unsigned n = nestbox_sandbox_info_metadata_count(info);

        if (n == 0)
                fputs("-", f);
        for (unsigned i = 0; i < n; i++)
                fprintf(f, "%s%s=%s", i ? "," : "", nestbox_sandbox_info_metadata_key(info, i),
                        nestbox_sandbox_info_metadata_value(info, i));
}

static int do_list(nestbox_client *c, int argc, char **argv)
{
        static const struct option options[] = {
                {"state", required_argument, NULL, 's'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *state = "running"; /* E2B's CLI default */
        nestbox_info_list *l = NULL;
        nestbox_error err = {0};
        bool json = false;
        unsigned n;
        int ch;

        while ((ch = getopt_long(argc, argv, "+s:jh", options, NULL)) >= 0)
                switch (ch) {
                case 's':
                        state = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        if (nestbox_sandbox_list(c, state, &l, &err) < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return 1;
        }
        n = nestbox_info_list_count(l);
        if (json) {
                printf("[");
                for (unsigned i = 0; i < n; i++)
                        printf("%s%s", i ? "," : "", nestbox_sandbox_info_json(nestbox_info_list_get(l, i)));
                printf("]\n");
        } else if (n == 0) {
                printf("No sandboxes found\n");
        } else {
                printf("%-22s %-20s %-8s %-19s %-19s %s\n", "SANDBOX ID", "TEMPLATE", "STATE", "STARTED AT",
                       "END AT", "METADATA");
                for (unsigned i = 0; i < n; i++) {
                        const nestbox_sandbox_info *info = nestbox_info_list_get(l, i);
                        const char *tpl = nestbox_sandbox_info_alias(info);
                        char a[32], b[32];

                        printf("%-22s %-20s %-8s %-19s %-19s ", nestbox_sandbox_info_id(info),
                               tpl ? tpl : (nestbox_sandbox_info_template_id(info) ?: "-"),
                               nestbox_sandbox_info_state(info) ?: "-",
                               local_time(nestbox_sandbox_info_started_at(info), a, sizeof(a)),
                               local_time(nestbox_sandbox_info_end_at(info), b, sizeof(b)));
                        print_metadata(stdout, info);
                        putchar('\n');
                }
        }
        nestbox_info_list_free(l);
        return 0;
}

static int do_info(nestbox_client *c, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        nestbox_sandbox_info *info = NULL;
        nestbox_error err = {0};
        bool json = false;
        char a[32], b[32];
        int ch, r;

        while ((ch = getopt_long(argc, argv, "+jh", options, NULL)) >= 0)
                switch (ch) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (argc - optind != 1) {
                usage(stderr);
                return 2;
        }
        r = nestbox_sandbox_get_info(c, argv[optind], &info, &err);
        if (r == -ENOENT) {
                fprintf(stderr, "nestbox: Sandbox %s wasn't found\n", argv[optind]);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return 1;
        }
        if (json) {
                printf("%s\n", nestbox_sandbox_info_json(info));
        } else {
                printf("Sandbox ID:    %s\n", nestbox_sandbox_info_id(info));
                printf("Template ID:   %s\n", nestbox_sandbox_info_template_id(info) ?: "-");
                if (nestbox_sandbox_info_alias(info))
                        printf("Alias:         %s\n", nestbox_sandbox_info_alias(info));
                printf("State:         %s\n", nestbox_sandbox_info_state(info) ?: "-");
                printf("Started at:    %s\n",
                       local_time(nestbox_sandbox_info_started_at(info), a, sizeof(a)));
                printf("End at:        %s\n", local_time(nestbox_sandbox_info_end_at(info), b, sizeof(b)));
                printf("vCPUs:         %d\n", nestbox_sandbox_info_cpu_count(info));
                printf("RAM MiB:       %d\n", nestbox_sandbox_info_memory_mb(info));
                printf("Disk MiB:      %d\n", nestbox_sandbox_info_disk_size_mb(info));
                printf("Envd version:  %s\n", nestbox_sandbox_info_envd_version(info) ?: "-");
                printf("Metadata:      ");
                print_metadata(stdout, info);
                putchar('\n');
        }
        nestbox_sandbox_info_free(info);
        return 0;
}

static int do_kill(nestbox_client *c, int argc, char **argv)
{
        int status = 0;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        for (int i = 1; i < argc; i++) {
                nestbox_error err = {0};
                int r = nestbox_sandbox_kill(c, argv[i], &err);

                if (r > 0)
                        printf("Sandbox %s has been killed\n", argv[i]);
                else if (r == 0) {
                        fprintf(stderr, "nestbox: Sandbox %s wasn't found\n", argv[i]);
                        status = 1;
                } else {
                        fprintf(stderr, "nestbox: cannot kill %s: %s\n", argv[i], err.message);
                        status = 1;
                }
        }
        return status;
}

static int connect_or_explain(nestbox_client *c, const char *id, nestbox_sandbox **ret)
{
        nestbox_error err = {0};
        int r = nestbox_sandbox_connect(c, id, 0, ret, &err);

        if (r == -ENOENT)
                fprintf(stderr, "nestbox: Sandbox %s wasn't found\n", id);
        else if (r < 0)
                fprintf(stderr, "nestbox: %s\n", err.message);
        return r;
}

static int do_exec(nestbox_client *c, int argc, char **argv)
{
        nestbox_sandbox *sb = NULL;
        int first = 2, r;

        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                usage(stdout);
                return 0;
        }
        if (argc >= 3 && strcmp(argv[2], "--") == 0)
                first = 3;
        if (argc < 2 || first >= argc) {
                usage(stderr);
                return 2;
        }
        if (connect_or_explain(c, argv[1], &sb) < 0)
                return 1;
        r = sandbox_exec(sb, argv + first);
        nestbox_sandbox_free(sb);
        return r < 0 ? 1 : r;
}

static int do_terminal(nestbox_client *c, int argc, char **argv)
{
        struct terminal_opts o = {.keepalive_s = TERMINAL_KEEPALIVE_S};
        nestbox_sandbox_info *info = NULL;
        nestbox_sandbox *sb = NULL;
        int r;

        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                usage(stdout);
                return 0;
        }
        if (argc != 2) {
                usage(stderr);
                return 2;
        }
        if (connect_or_explain(c, argv[1], &sb) < 0)
                return 1;
        /* Keepalives must not shorten a sandbox that had more time left than
         * the keepalive asks for: remember its end as it was. */
        if (nestbox_sandbox_get_info(c, argv[1], &info, NULL) >= 0) {
                o.keep_until_ms =
                        nestbox_sandbox_info_end_at_ms(info) > 0 ? nestbox_sandbox_info_end_at_ms(info) : 0;
                nestbox_sandbox_info_free(info);
        }
        r = sandbox_terminal(c, sb, &o);
        nestbox_sandbox_free(sb);
        return r < 0 ? 1 : r;
}

int cmd_sandbox(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(nestbox_client *c, int argc, char **argv);
        } verbs[] = {
                {"create", do_create}, {"list", do_list}, {"info", do_info},
                {"kill", do_kill},     {"exec", do_exec}, {"terminal", do_terminal},
        };
        nestbox_client *c = NULL;
        int status;

        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                if (strcmp(argv[1], verbs[i].name) != 0)
                        continue;
                if (client_open(&c) < 0)
                        return 1;
                optind = 0; /* a fresh getopt scan over the verb's own argv */
                status = verbs[i].run(c, argc - 1, argv + 1);
                nestbox_client_free(c);
                return status;
        }
        fprintf(stderr, "nestbox: unknown sandbox command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
}
