/* /etc/passwd and /etc/group parsing. Files are re-read per lookup: they are
 * small, and a command like `useradd` inside the sandbox must take effect at
 * once. */
#include "users.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../wire/base64.h"
#include "buf.h"
#include "macro.h"

static void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

/* Splits line in place at ':' into at most n fields; returns the count. */
static size_t split_fields(char *line, char **fields, size_t n)
{
        size_t k = 0;

        line[strcspn(line, "\n")] = '\0';
        while (k < n) {
                fields[k++] = line;
                line = strchr(line, ':');
                if (!line)
                        break;
                *line++ = '\0';
        }
        return k;
}

static int parse_id(const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        if (!*s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        /* (uid_t)-1 is "no id" for set*id(); never hand it out. */
        if (errno || *end || v >= 0xFFFFFFFFul)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static bool member_of(char *members, const char *name)
{
        for (char *save = NULL, *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save))
                if (strcmp(m, name) == 0)
                        return true;
        return false;
}

static int add_group(struct user *u, gid_t g)
{
        gid_t *n;

        for (size_t i = 0; i < u->n_groups; i++)
                if (u->groups[i] == g)
                        return 0;
        if (u->n_groups >= 65536)
                return 0; /* NGROUPS_MAX; ignore the excess as glibc's initgroups does */
        n = realloc(u->groups, (u->n_groups + 1) * sizeof(gid_t));
        if (!n)
                return -ENOMEM;
        n[u->n_groups++] = g;
        u->groups = n;
        return 0;
}

static int read_groups(const char *group_path, struct user *u)
{
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        int r;

        r = add_group(u, u->gid);
        if (r < 0)
                return r;
        f = fopen(group_path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno; /* no /etc/group: primary group only */
        while (getline(&line, &cap, f) >= 0) {
                char *fields[4];
                unsigned gid;

                if (line[0] == '#' || split_fields(line, fields, 4) < 4)
                        continue;
                if (parse_id(fields[2], &gid) < 0 || !member_of(fields[3], u->name))
                        continue;
                r = add_group(u, gid);
                if (r < 0)
                        return r;
        }
        return 0;
}

void user_done(struct user *u)
{
        free(u->name);
        free(u->home);
        free(u->shell);
        free(u->groups);
        *u = (struct user){0};
}

static int find_passwd(const char *passwd_path, const char *name, struct user *ret, struct nb_error *err)
{
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        f = fopen(passwd_path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return nb_error_set(err, -ENOENT, "invalid username: '%.64s'", name);
                return nb_error_set_errno(err, -errno, "cannot read '%s'", passwd_path);
        }
        while (getline(&line, &cap, f) >= 0) {
                char *fields[7];
                unsigned uid, gid;

                if (line[0] == '#' || split_fields(line, fields, 7) < 7 || strcmp(fields[0], name) != 0)
                        continue;
                if (parse_id(fields[2], &uid) < 0 || parse_id(fields[3], &gid) < 0)
                        return nb_error_set(err, -EINVAL, "malformed passwd entry for '%.64s'", name);
                ret->name = strdup(fields[0]);
                ret->home = strdup(fields[5][0] ? fields[5] : "/");
                ret->shell = strdup(fields[6][0] ? fields[6] : "/bin/sh");
                ret->uid = uid;
                ret->gid = gid;
                if (!ret->name || !ret->home || !ret->shell) {
                        user_done(ret);
                        return nb_error_oom(err);
                }
                return 0;
        }
        return nb_error_set(err, -ENOENT, "invalid username: '%.64s'", name);
}

int user_lookup(const char *passwd_path, const char *group_path, const char *name, struct user *ret,
                struct nb_error *err)
{
        struct user u = {0};
        int r;

        if (!name || !name[0] || strchr(name, ':') || strchr(name, '\n'))
                return nb_error_set(err, -ENOENT, "invalid username: '%.64s'", name ? name : "");
        r = find_passwd(passwd_path, name, &u, err);
        if (r < 0)
                return r;
        r = read_groups(group_path, &u);
        if (r < 0) {
                user_done(&u);
                return nb_error_set_errno(err, r, "cannot read the groups of '%.64s'", name);
        }
        *ret = u;
        return 0;
}

bool user_exists(const char *passwd_path, const char *name)
{
        struct user u = {0};

        if (find_passwd(passwd_path, name, &u, NULL) < 0)
                return false;
        user_done(&u);
        return true;
}

int user_from_basic_auth(const char *header, char **ret)
{
        struct buf raw = {0};
        const char *p;
        char *colon, *name;

        if (strncasecmp(header, "Basic ", 6) != 0)
                return -EINVAL;
        p = header + 6;
        while (*p == ' ')
                p++;
        if (base64_decode(p, strlen(p), &raw) < 0 || buf_append(&raw, "", 1) < 0) {
                buf_done(&raw);
                return -EINVAL;
        }
        colon = strchr((char *)raw.data, ':');
        if (!colon || memchr(raw.data, '\0', raw.len - 1)) {
                buf_done(&raw);
                return -EINVAL;
        }
        *colon = '\0';
        name = strdup((char *)raw.data);
        buf_done(&raw);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}
