/* Template directories on disk -> catalog rows. Every path is opened beneath the
 * templates directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a
 * template.json cannot point a sandbox's root at a host directory, and the
 * absolute layer paths we store are the very directories we checked. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "../base/log.h"
#include "../catalog/catalog.h"
#include "config.h"
#include "store.h"

#define TEMPLATE_JSON_MAX (1024 * 1024)
#define RESOLVE_STRICT (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static int openat2_beneath(int dfd, const char *path, int flags)
{
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_STRICT};
        int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));

        return fd < 0 ? -errno : fd;
}

bool template_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n < 1 || n > TEMPLATE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = name[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

                if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
                        return false;
        }
        return true;
}

/* Characters a host path may hold once it goes into overlayfs' lowerdir= option
 * (':' and ',' separate entries there, '\\' escapes) and into JSON and logs. */
static bool path_chars_safe(const char *p)
{
        for (; *p; p++) {
                unsigned char ch = (unsigned char)*p;

                if (ch <= 0x20 || ch == 0x7f || ch == ':' || ch == ',' || ch == '\\' || ch == '=')
                        return false;
        }
        return true;
}

/* Joins "<name>/<layer>" and normalizes it lexically; fails if it leaves the
 * templates directory or is empty. The result has no "." or ".." components. */
static int layer_relative_path(const char *name, const char *layer, char *out, size_t out_size)
{
        char joined[PATH_MAX], *save = NULL, *tok;
        size_t len = 0;

        if (!*layer || layer[0] == '/')
                return -EINVAL;
        if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", name, layer) >= sizeof(joined))
                return -ENAMETOOLONG;
        out[0] = 0;
        for (tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
                if (strcmp(tok, ".") == 0)
                        continue;
                if (strcmp(tok, "..") == 0) {
                        char *slash;

                        if (len == 0)
                                return -EINVAL; /* would leave templates_dir */
                        slash = strrchr(out, '/');
                        len = slash ? (size_t)(slash - out) : 0;
                        out[len] = 0;
                        continue;
                }
                if (len + 1 + strlen(tok) + 1 > out_size)
                        return -ENAMETOOLONG;
                len += (size_t)sprintf(out + len, "%s%s", len ? "/" : "", tok);
        }
        return len > 0 ? 0 : -EINVAL;
}

static int read_template_json(int dfd, const char *name, json_t **ret, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        char path[TEMPLATE_NAME_MAX + 32];
        json_error_t jerr;
        struct stat st;
        size_t got = 0;
        json_t *j;

        snprintf(path, sizeof(path), "%s/template.json", name);
        fd = openat2_beneath(dfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open %s", path);
        if (fstat(fd, &st) < 0)
                return nb_error_set_errno(err, -errno, "cannot stat %s", path);
        if (!S_ISREG(st.st_mode))
                return nb_error_set(err, -EINVAL, "%s is not a regular file", path);
        if (st.st_size > TEMPLATE_JSON_MAX)
                return nb_error_set(err, -EINVAL, "%s is larger than %d bytes", path, TEMPLATE_JSON_MAX);
        data = malloc((size_t)st.st_size + 1);
        if (!data)
                return nb_error_oom(err);
        while (got < (size_t)st.st_size) {
                ssize_t k = read(fd, data + got, (size_t)st.st_size - got);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return nb_error_set_errno(err, -errno, "cannot read %s", path);
                if (k == 0)
                        break;
                got += (size_t)k;
        }
        j = json_loadb(data, got, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return nb_error_set(err, -EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return nb_error_set(err, -EINVAL, "%s: not a JSON object", path);
        }
        *ret = j;
        return 0;
}

static int get_string(json_t *o, const char *key, const char *def, const char **ret, struct nb_error *err)
{
        json_t *v = json_object_get(o, key);

        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_string(v))
                return nb_error_set(err, -EINVAL, "'%s' must be a string", key);
        *ret = json_string_value(v);
        return 0;
}

static int get_unsigned(json_t *o, const char *key, unsigned def, unsigned min, unsigned max, unsigned *ret,
                        struct nb_error *err)
{
        json_t *v = json_object_get(o, key);
        json_int_t i;

        if (!v) {
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v))
                return nb_error_set(err, -EINVAL, "'%s' must be an integer", key);
        i = json_integer_value(v);
        if (i < (json_int_t)min || i > (json_int_t)max)
                return nb_error_set(err, -EINVAL, "'%s' must be between %u and %u", key, min, max);
        *ret = (unsigned)i;
        return 0;
}

static bool user_name_valid(const char *u)
{
        size_t n = strlen(u);

        if (n < 1 || n > 32 || !((u[0] >= 'a' && u[0] <= 'z') || u[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || u[i] == '_' ||
                      u[i] == '-'))
                        return false;
        return true;
}

static bool version_valid(const char *v)
{
        unsigned a, b, c;
        int end = 0;

        return sscanf(v, "%u.%u.%u%n", &a, &b, &c, &end) == 3 && v[end] == 0;
}

static int parse_layers(int dfd, const char *root, const char *name, json_t *o, char **ret_json,
                        struct nb_error *err)
{
        json_t *layers = json_object_get(o, "layers"), *out, *v;
        size_t i;

        if (!json_is_array(layers) || json_array_size(layers) == 0)
                return nb_error_set(err, -EINVAL, "'layers' must be a non-empty array of directories");
        out = json_array();
        if (!out)
                return nb_error_oom(err);
        json_array_foreach(layers, i, v)
        {
                char rel[PATH_MAX], abs[PATH_MAX];
                _cleanup_close_ int fd = -EBADF;

                if (!json_is_string(v) ||
                    layer_relative_path(name, json_string_value(v), rel, sizeof(rel)) < 0 ||
                    !path_chars_safe(rel)) {
                        json_decref(out);
                        return nb_error_set(
                                err, -EINVAL,
                                "layer %zu must be a relative path inside the templates directory "
                                "without ':', ',', '=', '\\' or spaces",
                                i);
                }
                /* Layers are used by path later (overlayfs): check the very path, symlink-free. */
                fd = openat2_beneath(dfd, rel, O_PATH | O_DIRECTORY);
                if (fd < 0) {
                        json_decref(out);
                        return nb_error_set(
                                err, -EINVAL,
                                "layer '%.128s' is not a directory beneath the templates directory "
                                "(symlinks are not followed): %s",
                                rel, strerror(-fd));
                }
                if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", root, rel) >= sizeof(abs) ||
                    json_array_append_new(out, json_string(abs)) < 0) {
                        json_decref(out);
                        return nb_error_set(err, -ENAMETOOLONG, "layer path too long");
                }
        }
        *ret_json = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        return *ret_json ? 0 : nb_error_oom(err);
}

static int parse_aliases(json_t *o, struct catalog_template *t, struct nb_error *err)
{
        json_t *aliases = json_object_get(o, "aliases"), *v;
        size_t i;

        if (!aliases)
                return 0;
        if (!json_is_array(aliases))
                return nb_error_set(err, -EINVAL, "'aliases' must be an array of names");
        t->aliases = calloc(json_array_size(aliases) + 1, sizeof(char *));
        if (!t->aliases)
                return nb_error_oom(err);
        json_array_foreach(aliases, i, v)
        {
                const char *a = json_string_value(v);

                if (!a || !template_name_valid(a))
                        return nb_error_set(err, -EINVAL, "alias %zu must match [a-z0-9][a-z0-9._-]{0,63}",
                                            i);
                for (size_t j = 0; j < t->n_aliases; j++)
                        if (strcmp(t->aliases[j], a) == 0)
                                return nb_error_set(err, -EINVAL, "alias '%s' is listed twice", a);
                t->aliases[t->n_aliases] = strdup(a);
                if (!t->aliases[t->n_aliases])
                        return nb_error_oom(err);
                t->n_aliases++;
        }
        return 0;
}

static int parse_envs(json_t *o, char **ret, struct nb_error *err)
{
        json_t *envs = json_object_get(o, "envs"), *v;
        const char *k;

        if (!envs || json_is_null(envs)) {
                *ret = strdup("{}");
                return *ret ? 0 : nb_error_oom(err);
        }
        if (!json_is_object(envs))
                return nb_error_set(err, -EINVAL, "'envs' must be an object of strings");
        json_object_foreach(envs, k, v)
        {
                if (!*k || strchr(k, '=') || !json_is_string(v))
                        return nb_error_set(err, -EINVAL,
                                            "'envs' must map names (non-empty, without '=') to strings");
        }
        *ret = json_dumps(envs, JSON_COMPACT | JSON_SORT_KEYS);
        return *ret ? 0 : nb_error_oom(err);
}

static int dup_field(const char *s, char **ret, struct nb_error *err)
{
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : nb_error_oom(err);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct catalog_template *, catalog_template_free);

static int template_parse(int dfd, const char *root, const char *name, json_t *o,
                          struct catalog_template **ret, struct nb_error *err)
{
        _cleanup_(catalog_template_freep) struct catalog_template *t = calloc(1, sizeof(*t));
        const char *json_name = NULL, *user = NULL, *workdir = NULL, *version = NULL, *start = NULL,
                   *ready = NULL;
        json_t *nnp;
        int r;

        if (!t)
                return nb_error_oom(err);
        r = get_string(o, "name", name, &json_name, err);
        if (r < 0)
                return r;
        if (strcmp(json_name, name) != 0)
                return nb_error_set(err, -EINVAL, "'name' is '%.64s' but the directory is '%s'", json_name,
                                    name);
        if ((r = get_string(o, "defaultUser", "root", &user, err)) < 0 ||
            (r = get_string(o, "defaultWorkdir", "/", &workdir, err)) < 0 ||
            (r = get_string(o, "envdVersion", NESTBOX_ENVD_VERSION, &version, err)) < 0 ||
            (r = get_string(o, "startCmd", NULL, &start, err)) < 0 ||
            (r = get_string(o, "readyCmd", NULL, &ready, err)) < 0)
                return r;
        if (!user_name_valid(user))
                return nb_error_set(err, -EINVAL, "'defaultUser' must be a user name like 'user'");
        if (workdir[0] != '/' || strlen(workdir) >= PATH_MAX)
                return nb_error_set(err, -EINVAL, "'defaultWorkdir' must be an absolute path");
        if (!version_valid(version))
                return nb_error_set(err, -EINVAL, "'envdVersion' must look like 0.6.4");
        if ((start && !*start) || (ready && !*ready))
                return nb_error_set(err, -EINVAL, "'startCmd' and 'readyCmd' must not be empty strings");
        nnp = json_object_get(o, "noNewPrivs");
        if (nnp && !json_is_boolean(nnp))
                return nb_error_set(err, -EINVAL, "'noNewPrivs' must be true or false");
        t->no_new_privs = nnp ? json_is_true(nnp) : true;
        if ((r = get_unsigned(o, "cpuCount", 2, 1, 1024, &t->cpu_count, err)) < 0 ||
            (r = get_unsigned(o, "memoryMB", 512, 16, 16u << 20, &t->memory_mb, err)) < 0 ||
            (r = get_unsigned(o, "diskSizeMB", 1024, 0, 1u << 30, &t->disk_mb, err)) < 0)
                return r;

        if ((r = dup_field(name, &t->id, err)) < 0 || (r = dup_field(name, &t->name, err)) < 0 ||
            (r = dup_field(user, &t->default_user, err)) < 0 ||
            (r = dup_field(workdir, &t->default_workdir, err)) < 0 ||
            (r = dup_field(version, &t->envd_version, err)) < 0 ||
            (r = dup_field(start, &t->start_cmd, err)) < 0 || (r = dup_field(ready, &t->ready_cmd, err)) < 0)
                return r;
        r = parse_aliases(o, t, err);
        if (r >= 0)
                r = parse_envs(o, &t->envs_json, err);
        if (r >= 0)
                r = parse_layers(dfd, root, name, o, &t->layers_json, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static int template_load_at(int dfd, const char *root, const char *name, struct catalog_template **ret,
                            struct nb_error *err)
{
        _cleanup_(json_decrefp) json_t *o = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!template_name_valid(name))
                return nb_error_set(err, -EINVAL,
                                    "'%.64s' is not a valid template name ([a-z0-9][a-z0-9._-]{0,63})",
                                    name);
        fd = openat2_beneath(dfd, name, O_PATH | O_DIRECTORY);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "'%s' is not a template directory", name);
        r = read_template_json(dfd, name, &o, err);
        if (r < 0)
                return r;
        r = template_parse(dfd, root, name, o, ret, err);
        if (r < 0)
                nb_error_prefix(err, "%s/template.json", name);
        return r;
}

static int templates_dir_open(const char *templates_dir, char root[static PATH_MAX], struct nb_error *err)
{
        int fd;

        if (!realpath(templates_dir, root))
                return nb_error_set_errno(err, -errno, "cannot resolve templates directory '%s'",
                                          templates_dir);
        if (!path_chars_safe(root))
                return nb_error_set(err, -EINVAL,
                                    "templates directory '%s' contains a character overlayfs cannot take "
                                    "(':', ',', '=', '\\', space); move it",
                                    root);
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open templates directory '%s'", root);
        return fd;
}

int template_store_load(const char *templates_dir, const char *name, struct catalog_template **ret,
                        struct nb_error *err)
{
        _cleanup_close_ int dfd = -EBADF;
        char root[PATH_MAX];

        dfd = templates_dir_open(templates_dir, root, err);
        if (dfd < 0)
                return dfd;
        return template_load_at(dfd, root, name, ret, err);
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_freep(char ***v)
{
        if (*v)
                for (char **p = *v; *p; p++)
                        free(*p);
        free(*v);
}

/* Entry names of dfd, sorted, without dot entries. */
static int list_names(int dfd, char ***ret, size_t *ret_n, struct nb_error *err)
{
        _cleanup_(strv_freep) char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot duplicate directory fd");
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return nb_error_set_errno(err, -errno, "cannot read templates directory");
        }
        rewinddir(d);
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **nv = reallocarray(v, ncap, sizeof(*v));

                        if (!nv) {
                                closedir(d);
                                return nb_error_oom(err);
                        }
                        v = nv;
                        cap = ncap;
                }
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        closedir(d);
                        return nb_error_oom(err);
                }
                v[++n] = NULL;
        }
        if (errno != 0) {
                int r = -errno;

                closedir(d);
                return nb_error_set_errno(err, r, "cannot read templates directory");
        }
        closedir(d);
        if (n > 0)
                qsort(v, n, sizeof(*v), name_cmp);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static void alias_drop(struct catalog_template *t, size_t k)
{
        free(t->aliases[k]);
        memmove(t->aliases + k, t->aliases + k + 1, (t->n_aliases - k - 1) * sizeof(char *));
        t->n_aliases--;
}

static bool alias_claimed_by_other(struct catalog_template **ts, size_t n, size_t i, const char *a)
{
        for (size_t j = 0; j < n; j++) {
                if (j == i || !ts[j])
                        continue;
                if (strcmp(a, ts[j]->name) == 0)
                        return true;
                for (size_t l = 0; l < ts[j]->n_aliases; l++)
                        if (strcmp(a, ts[j]->aliases[l]) == 0)
                                return true;
        }
        return false;
}

/* Which template gets an alias claimed twice must not depend on directory order:
 * the template whose own name it is keeps it; otherwise nobody does. Decisions are
 * all taken on the loaded state first, then applied. */
static int aliases_dedupe(struct catalog_template **ts, size_t n, const char *root)
{
        size_t total = 0, at = 0;
        _cleanup_free_ bool *drop = NULL;

        for (size_t i = 0; i < n; i++)
                total += ts[i] ? ts[i]->n_aliases : 0;
        drop = calloc(total + 1, sizeof(bool));
        if (!drop)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; ts[i] && k < ts[i]->n_aliases; k++, at++)
                        drop[at] = strcmp(ts[i]->aliases[k], ts[i]->name) != 0 &&
                                   alias_claimed_by_other(ts, n, i, ts[i]->aliases[k]);
        at = 0;
        for (size_t i = 0; i < n; i++) {
                size_t k = 0, count = ts[i] ? ts[i]->n_aliases : 0;

                for (size_t orig = 0; orig < count; orig++, at++) {
                        if (!drop[at]) {
                                k++;
                                continue;
                        }
                        log_warning("Template '%s' in %s: alias '%s' is claimed by another template too; "
                                    "not using it",
                                    ts[i]->name, root, ts[i]->aliases[k]);
                        alias_drop(ts[i], k);
                }
        }
        return 0;
}

/* Drops aliases that already name a different template in the catalog (one not on
 * disk, e.g. built through the API): the one registered first keeps its alias. */
static void aliases_drop_taken(struct catalog *c, struct catalog_template *t, const char *root)
{
        for (size_t k = 0; k < t->n_aliases;) {
                struct catalog_template *other = NULL;
                bool taken = catalog_template_get(c, t->aliases[k], &other, NULL) >= 0 &&
                             strcmp(other->id, t->id) != 0;

                catalog_template_free(other);
                if (!taken) {
                        k++;
                        continue;
                }
                log_warning("Template '%s' in %s: alias '%s' already names another template; not using it",
                            t->name, root, t->aliases[k]);
                alias_drop(t, k);
        }
}

int template_store_scan(struct catalog *c, const char *templates_dir, struct nb_error *err)
{
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_(strv_freep) char **names = NULL;
        struct catalog_template **ts = NULL;
        char root[PATH_MAX];
        size_t n = 0;
        int registered = 0, r;

        dfd = templates_dir_open(templates_dir, root, err);
        if (dfd < 0)
                return dfd;
        r = list_names(dfd, &names, &n, err);
        if (r < 0)
                return r;
        ts = calloc(n + 1, sizeof(*ts));
        if (!ts)
                return nb_error_oom(err);

        /* Load everything first, so alias conflicts between templates on disk are settled
         * by a rule rather than by which directory sorts first. */
        for (size_t i = 0; i < n; i++) {
                struct nb_error e = {0};

                r = template_load_at(dfd, root, names[i], &ts[i], &e);
                if (r < 0)
                        log_warning("Skipping template '%.64s' in %s: %s", names[i], root, e.message);
        }
        if (aliases_dedupe(ts, n, root) < 0) {
                catalog_template_array_free(ts, n);
                return nb_error_oom(err);
        }

        for (size_t i = 0; i < n; i++) {
                struct nb_error e = {0};

                if (!ts[i])
                        continue;
                aliases_drop_taken(c, ts[i], root);
                r = catalog_template_upsert(c, ts[i], &e);
                if (r < 0) {
                        log_warning("Skipping template '%.64s' in %s: %s", names[i], root, e.message);
                        continue;
                }
                log_debug("Registered template '%s' from %s/%s", names[i], root, names[i]);
                registered++;
        }
        catalog_template_array_free(ts, n);
        return registered;
}
