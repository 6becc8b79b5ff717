/* `nestbox serve`: opens the state directory, the catalog and the runtime,
 * re-adopts running sandboxes, then serves until SIGTERM or SIGINT. Sandboxes
 * outlive the server: the next `serve` on the same state directory adopts them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"
#include "../catalog/catalog.h"
#include "../daemon.h"
#include "../lifecycle/manager.h"
#include "../lifecycle/metrics.h"
#include "../lifecycle/ticker.h"
#include "../router/server.h"
#include "../runtime/runtime.h"
#include "../templates/store.h"
#include "cli.h"

#define REAPER_INTERVAL_MS 250
#define DEFAULT_SUBNET "10.88.0.0/16"

struct serve_options {
        const char *listen;
        const char *state_dir;
        const char *template_dir;
        const char *agent_path;
        const char *domain;
        const char *subnet;
        unsigned pool;
        bool verbose;
};

static void usage(FILE *f)
{
        fprintf(f, "usage: nestbox serve [--listen ADDR] [--state-dir DIR] [--template-dir DIR] [--agent PATH]\n"
                   "                     [--pool N] [--domain DOMAIN] [--subnet CIDR|none] [-v]\n"
                   "  --listen ADDR        address to serve on (default " DEFAULT_LISTEN ")\n"
                   "  --state-dir DIR      catalog, keys and sandboxes (default " DEFAULT_STATE_DIR ")\n"
                   "  --template-dir DIR   prepared templates (default <state-dir>/templates)\n"
                   "  --agent PATH         the nestbox-agent binary (default: found next to this binary)\n"
                   "  --pool N             warm sandboxes kept per template, so create is fast (default 2)\n"
                   "  --domain DOMAIN      answer sandboxes' domain as DOMAIN (name[:port]), so the SDK's\n"
                   "                       getHost(port) gives <port>-<id>.DOMAIN: point *.DOMAIN at this server\n"
                   "                       (default localhost:<listen port>: browsers and curl resolve\n"
                   "                       *.localhost to this machine)\n"
                   "  --subnet CIDR|none   sandboxes' addresses, behind NAT on bridge nestbox0 (default " DEFAULT_SUBNET ",\n"
                   "                       /8 to /20); none: loopback only, the host's network untouched\n");
}

/* The agent lives next to the nestbox binary: build/src/agent/ in a build tree, or libexec. */
static int find_agent(char *out, size_t len)
{
        char exe[PATH_MAX], *dir;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        const char *env = getenv("NESTBOX_AGENT");

        if (env && env[0]) {
                snprintf(out, len, "%s", env);
                return 0;
        }
        if (n < 0)
                return -errno;
        exe[n] = 0;
        dir = dirname(exe);
        for (int i = 0; i < 3; i++) {
                if (i == 0)
                        snprintf(out, len, "%s/src/agent/nestbox-agent", dir);
                else if (i == 1)
                        snprintf(out, len, "%s/nestbox-agent", dir);
                else
                        snprintf(out, len, "%s/../libexec/nestbox/nestbox-agent", dir);
                if (access(out, X_OK) == 0)
                        return 0;
        }
        return -ENOENT;
}

/* On first start: one key, its hash in the catalog, the key itself in <state>/api-key (0600). */
static int ensure_first_key(struct catalog *cat, const char *state_dir, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        struct catalog_key *key = NULL;
        char *secret = NULL, path[PATH_MAX + 16];
        size_t n = 0;
        int r;

        r = catalog_key_count(cat, &n);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot count API keys");
        if (n > 0)
                return 0;
        r = catalog_key_create(cat, "default", &secret, &key, err);
        if (r < 0)
                return r;
        catalog_key_free(key);
        snprintf(path, sizeof(path), "%s/api-key", state_dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || fchmod(fd, 0600) < 0 || dprintf(fd, "%s\n", secret) < 0) {
                r = -errno;
                free(secret);
                return nb_error_set_errno(err, r, "cannot write %s", path);
        }
        free(secret);
        log_info("created the first API key; it is in %s", path);
        return 0;
}

/* A DNS name (labels of [A-Za-z0-9-], dots between), optionally with ":port" when this
 * server is reached on a port other than 80: it ends up in hosts the SDK builds. */
static bool valid_domain(const char *s)
{
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);

        if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || memmem(s, n, "..", 2))
                return false;
        if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n)
                return false;
        if (colon) {
                char *end;
                unsigned long port = strtoul(colon + 1, &end, 10);

                return colon[1] >= '0' && colon[1] <= '9' && !*end && port > 0 && port <= 65535;
        }
        return true;
}

static int parse_options(int argc, char **argv, struct serve_options *o)
{
        static const struct option options[] = {
                {"listen", required_argument, NULL, 'l'}, {"state-dir", required_argument, NULL, 's'},
                {"template-dir", required_argument, NULL, 't'}, {"agent", required_argument, NULL, 'a'}, {"pool", required_argument, NULL, 'p'},
                {"domain", required_argument, NULL, 'd'}, {"subnet", required_argument, NULL, 'n'},
                {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'}, {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "l:s:t:a:p:d:n:vh", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        o->listen = optarg;
                        break;
                case 's':
                        o->state_dir = optarg;
                        break;
                case 't':
                        o->template_dir = optarg;
                        break;
                case 'n':
                        o->subnet = optarg;
                        break;
                case 'a':
                        o->agent_path = optarg;
                        break;
                case 'd':
                        if (!valid_domain(optarg)) {
                                fprintf(stderr, "nestbox: --domain takes a DNS name such as sandboxes.example.com[:port]\n");
                                return -EINVAL;
                        }
                        o->domain = optarg;
                        break;
                case 'p': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);

                        if (*end || n > 64) {
                                fprintf(stderr, "nestbox: --pool takes a number from 0 to 64\n");
                                return -EINVAL;
                        }
                        o->pool = (unsigned)n;
                        break;
                }
                case 'v':
                        o->verbose = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        return 0;
}

/* One catalog query per tick covers every sandbox, re-adopted ones included. */
static void reap_expired(void *manager)
{
        (void)manager_reap_expired(manager);
}

int cmd_serve(int argc, char **argv)
{
        struct serve_options o = {.listen = DEFAULT_LISTEN, .state_dir = DEFAULT_STATE_DIR, .subnet = DEFAULT_SUBNET,
                                  .pool = 2};
        char state_dir[PATH_MAX], template_dir[PATH_MAX + 16], agent[PATH_MAX + 64], default_domain[64];
        struct daemon d = {0};
        struct server *srv = NULL;
        struct ticker *reaper = NULL;
        struct nb_error err = {0};
        sigset_t stop;
        int r, sig, status = 1;

        r = parse_options(argc, argv, &o);
        if (r != 0)
                return r > 0 ? 0 : 2;
        log_set_ident("nestbox");
        if (o.verbose || getenv("NESTBOX_DEBUG"))
                log_set_level(LOG_LEVEL_DEBUG);

        /* Signals are taken by sigwait() below; every thread created later inherits the mask. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (mkdir(o.state_dir, 0700) < 0 && errno != EEXIST) {
                log_error_errno(-errno, "Failed to create state directory %s: %m", o.state_dir);
                return 1;
        }
        if (!realpath(o.state_dir, state_dir)) {
                log_error_errno(-errno, "Failed to resolve state directory %s: %m", o.state_dir);
                return 1;
        }
        snprintf(template_dir, sizeof(template_dir), "%s/templates", state_dir);
        if (o.template_dir && !realpath(o.template_dir, template_dir)) {
                log_error_errno(-errno, "Failed to resolve template directory %s: %m", o.template_dir);
                return 1;
        }
        if (o.agent_path)
                snprintf(agent, sizeof(agent), "%s", o.agent_path);
        else if (find_agent(agent, sizeof(agent)) < 0) {
                log_error("Cannot find nestbox-agent next to this binary; pass --agent PATH or set NESTBOX_AGENT");
                return 1;
        }
        d.state_dir = state_dir;
        d.listen = o.listen;
        /* Browsers and curl send *.localhost to the loopback without any DNS, so by
         * default getHost() names a URL that works on this machine. */
        if (!o.domain) {
                const char *port = strrchr(o.listen, ':');

                snprintf(default_domain, sizeof(default_domain), "localhost%s", port && strcmp(port, ":80") != 0 ? port : "");
                o.domain = default_domain;
        }
        d.domain = o.domain;

        {
                char db[PATH_MAX + 16];

                snprintf(db, sizeof(db), "%s/catalog.db", state_dir);
                r = catalog_open(db, &d.catalog, &err);
        }
        if (r >= 0)
                r = ensure_first_key(d.catalog, state_dir, &err);
        if (r >= 0) {
                struct runtime_config rc = {.state_dir = state_dir, .agent_path = agent, .subnet = o.subnet};

                r = runtime_new(&rc, &d.runtime, &err);
        }
        if (r >= 0) {
                r = template_store_scan(d.catalog, template_dir, &err);
                if (r < 0) {
                        log_warning("no templates from %s (%s); run 'make templates' or scripts/prepare-templates.sh",
                                    template_dir, err.message);
                        r = 0;
                }
        }
        if (r >= 0)
                r = manager_new(d.catalog, d.runtime, &d.manager, &err);
        if (r >= 0)
                (void)manager_adopt_all(d.manager);
        if (r >= 0) {
                r = manager_start_pool(d.manager, o.pool);
                if (r < 0)
                        nb_error_set_errno(&err, r, "cannot start the warm pool");
        }
        if (r >= 0) {
                r = metrics_start(d.catalog, d.runtime, &d.metrics);
                if (r < 0)
                        nb_error_set_errno(&err, r, "cannot start the metrics sampler");
        }
        if (r >= 0)
                r = server_start(&d, &srv, &err);
        if (r >= 0) {
                r = ticker_start(REAPER_INTERVAL_MS, reap_expired, d.manager, &reaper);
                if (r < 0)
                        nb_error_set_errno(&err, r, "cannot start the lifecycle thread");
        }

        if (r < 0) {
                log_error("%s", err.message);
                goto out;
        }

        log_info("serving on http://%s (state %s, templates %s)", o.listen, state_dir, template_dir);
        if (print_exports(state_dir, o.listen) < 0)
                log_warning("no %s/api-key to print; create a key with 'nestbox keys create'", state_dir);

        while (sigwait(&stop, &sig) != 0)
                ;
        log_info("received %s; stopping (sandboxes keep running and are re-adopted on the next start)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        status = 0;
out:
        server_stop(srv);
        ticker_stop(reaper);
        metrics_stop(d.metrics);
        manager_free(d.manager);
        runtime_free(d.runtime);
        catalog_close(d.catalog);
        return status;
}
