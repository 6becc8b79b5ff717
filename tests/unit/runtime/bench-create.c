/* bench-create: how long runtime_sandbox_create takes, and create -> first reply over
 * the agent socket, over N sandboxes (default 100) created one after another.
 *
 *   build-x/tests/unit/runtime/bench-create [N]     (root; prints p50/p90/p99)
 *
 * "first reply" = connect + the probe running `true` through /bin/sh and answering,
 * which is what an SDK's first command costs on top of create. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt-helpers.h"

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void print_stats(const char *name, double *v, int n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        printf("%-28s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name, v[n / 2],
               v[(n * 90) / 100], v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1]);
}

int main(int argc, char **argv)
{
        int n = argc > 1 ? atoi(argv[1]) : 100;
        struct runtime_config cfg = {.agent_path = PROBE_PATH};
        struct rt_fixture f;
        struct runtime *rt = NULL;
        struct nb_error err = {0};
        double *create, *first, *total, *destroy;
        int r;

        if (geteuid() != 0) {
                fprintf(stderr, "bench-create needs root\n");
                return 77;
        }
        if (n < 1)
                n = 1;
        memset(&f, 0, sizeof(f));
        create = calloc(n, sizeof(double));
        first = calloc(n, sizeof(double));
        total = calloc(n, sizeof(double));
        destroy = calloc(n, sizeof(double));
        r = rt_fixture_setup(&f);
        if (r < 0) {
                fprintf(stderr, "fixture: %s\n", strerror(-r));
                return 1;
        }
        cfg.state_dir = f.state_dir;
        r = runtime_new(&cfg, &rt, &err);
        if (r < 0) {
                fprintf(stderr, "runtime_new: %s\n", err.message);
                rt_fixture_teardown(&f);
                return 1;
        }
        for (int i = 0; i < n; i++) {
                char id[32], out[256];
                struct sandbox_spec spec = {
                        .id = id,
                        .hostname = "bench",
                        .layers = f.layers,
                        .uid_base = 1000000 + (uint32_t)(i % 64) * RUNTIME_UID_RANGE,
                        .cpu_count = 1,
                        .memory_mb = 256,
                        .pids_max = 256,
                };
                struct runtime_sandbox *sb;
                double t0, t1, t2, t3;

                snprintf(id, sizeof(id), "bench%d", i);
                t0 = rt_now_ms();
                r = runtime_sandbox_create(rt, &spec, &sb, &err);
                t1 = rt_now_ms();
                if (r < 0) {
                        fprintf(stderr, "create %s: %s\n", id, err.message);
                        break;
                }
                r = rt_run(sb, "true", out, sizeof(out));
                t2 = rt_now_ms();
                if (r != 0) {
                        fprintf(stderr, "first command in %s: %d %s\n", id, r, out);
                        runtime_sandbox_destroy(rt, sb, NULL);
                        break;
                }
                runtime_sandbox_destroy(rt, sb, NULL);
                t3 = rt_now_ms();
                create[i] = t1 - t0;
                first[i] = t2 - t1;
                total[i] = t2 - t0;
                destroy[i] = t3 - t2;
        }
        if (r == 0) {
                printf("%d sandboxes (busybox template, 2 layers, cpu/memory/pids limits)\n", n);
                print_stats("create", create, n);
                print_stats("connect + first reply", first, n);
                print_stats("create -> first reply", total, n);
                print_stats("destroy", destroy, n);
        }
        runtime_free(rt);
        rt_fixture_teardown(&f);
        return r == 0 ? 0 : 1;
}
