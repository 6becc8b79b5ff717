/* Shared by the catalog tests: a fresh temporary directory holding a fresh
 * catalog per test, removed afterwards. Header-only: each test is one binary. */
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"

struct fixture {
        char dir[64];
        char db_path[128];
        struct catalog *c;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static _unused_ void rm_rf(const char *dir)
{
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static _unused_ int fixture_setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct nb_error err = {0};

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/nestbox-catalog-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->db_path, sizeof(f->db_path), "%s/catalog.db", f->dir);
        if (catalog_open(f->db_path, &f->c, &err) < 0)
                fail_msg("catalog_open: %s", err.message);
        *state = f;
        return 0;
}

static _unused_ int fixture_teardown(void **state)
{
        struct fixture *f = *state;

        catalog_close(f->c);
        rm_rf(f->dir);
        free(f);
        return 0;
}

/* Reads a whole file (or returns NULL if missing) for byte-level checks. */
static _unused_ char *read_all(const char *path, size_t *ret_n)
{
        FILE *fp = fopen(path, "re");
        char *data = NULL;
        size_t n = 0, cap = 0, k;

        if (!fp)
                return NULL;
        do {
                if (n == cap) {
                        cap = cap ? cap * 2 : 65536;
                        data = realloc(data, cap);
                        assert_non_null(data);
                }
                k = fread(data + n, 1, cap - n, fp);
                n += k;
        } while (k > 0);
        fclose(fp);
        *ret_n = n;
        return data;
}

/* Runs expr and fails with err.message (an nb_error named err must be in scope). */
#define OK(expr)                                                                                            \
        do {                                                                                                \
                int _r = (expr);                                                                            \
                if (_r < 0)                                                                                 \
                        fail_msg("%s = %d: %s", #expr, _r, err.message);                                    \
        } while (0)

/* A valid running sandbox row (strings point to literals: never free it). */
static inline void sandbox_fill(struct catalog_sandbox *s, const char *id, int64_t started_at)
{
        memset(s, 0, sizeof(*s));
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->template_id = (char *)"base";
        s->state = (char *)"running";
        s->started_at = started_at;
        s->end_at = started_at + 300000;
        s->cpu_count = 2;
        s->memory_mb = 512;
        s->disk_mb = 1024;
        s->allow_internet_access = -1;
}
