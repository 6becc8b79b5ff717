/* Cached id -> name tables (see fs-names.h). A table is valid while its file
 * keeps the same inode, size and mtime; `useradd` inside the sandbox changes
 * all three, so names appear at once. */
#include "fs-names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "macro.h"

struct name_entry {
        unsigned id;
        char name[FS_NAME_MAX];
};

struct name_table {
        char *path;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        bool loaded;
        struct name_entry *v;
        size_t n;
};

static struct name_table users_table, groups_table;

static void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

static void table_clear(struct name_table *t)
{
        free(t->v);
        t->v = NULL;
        t->n = 0;
        t->loaded = false;
}

/* Fields 0 (name) and 2 (id) of a passwd or group line. */
static void table_load(struct name_table *t, const char *path)
{
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        struct stat st;

        if (t->loaded && t->path && strcmp(t->path, path) == 0 && stat(path, &st) == 0 && st.st_dev == t->dev &&
            st.st_ino == t->ino && st.st_size == t->size && st.st_mtim.tv_sec == t->mtime.tv_sec &&
            st.st_mtim.tv_nsec == t->mtime.tv_nsec)
                return;
        table_clear(t);
        free(t->path);
        t->path = strdup(path);
        f = fopen(path, "re");
        if (!f || fstat(fileno(f), &st) < 0)
                return;
        while (getline(&line, &cap, f) >= 0) {
                char *name = line, *c1, *c2, *end;
                struct name_entry *v;
                unsigned long id;

                c1 = strchr(line, ':');
                if (!c1 || line[0] == '#')
                        continue;
                c2 = strchr(c1 + 1, ':');
                if (!c2)
                        continue;
                *c1 = '\0';
                errno = 0;
                id = strtoul(c2 + 1, &end, 10);
                if (errno || end == c2 + 1 || (*end != ':' && *end != '\n' && *end) || id > 0xFFFFFFFEul)
                        continue;
                if (!name[0] || strlen(name) >= FS_NAME_MAX)
                        continue;
                v = realloc(t->v, (t->n + 1) * sizeof(*v));
                if (!v)
                        return;
                t->v = v;
                t->v[t->n].id = (unsigned)id;
                snprintf(t->v[t->n].name, FS_NAME_MAX, "%s", name);
                t->n++;
        }
        t->dev = st.st_dev;
        t->ino = st.st_ino;
        t->size = st.st_size;
        t->mtime = st.st_mtim;
        t->loaded = true;
}

static const char *table_name(struct name_table *t, const char *path, unsigned id, char *buf)
{
        table_load(t, path);
        /* The first entry wins, as getpwuid() answers. */
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i].id == id) {
                        snprintf(buf, FS_NAME_MAX, "%s", t->v[i].name);
                        return buf;
                }
        snprintf(buf, FS_NAME_MAX, "%u", id);
        return buf;
}

const char *fs_names_user(struct agent *a, uid_t uid, char buf[static FS_NAME_MAX])
{
        return table_name(&users_table, a->passwd_path, uid, buf);
}

const char *fs_names_group(struct agent *a, gid_t gid, char buf[static FS_NAME_MAX])
{
        return table_name(&groups_table, a->group_path, gid, buf);
}
