/* Request -> spawn_spec (see launch.h). Env order is envd's: PATH, HOME, USER,
 * LOGNAME, then the sandbox env (/init), then the request's envs; a later
 * value of the same name replaces the earlier one in place. */
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct envv {
        char **v; /* "K=V", NULL-terminated */
        size_t n;
};

static void envv_done(struct envv *e)
{
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i]);
        free(e->v);
        *e = (struct envv){0};
}

static int envv_set(struct envv *e, const char *key, const char *value)
{
        size_t klen = strlen(key);
        char *entry, **v;

        if (!key[0] || strchr(key, '='))
                return -EINVAL;
        if (asprintf(&entry, "%s=%s", key, value) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=') {
                        free(e->v[i]);
                        e->v[i] = entry;
                        return 0;
                }
        v = realloc(e->v, (e->n + 2) * sizeof(char *));
        if (!v) {
                free(entry);
                return -ENOMEM;
        }
        v[e->n++] = entry;
        v[e->n] = NULL;
        e->v = v;
        return 0;
}

int launch_resolve_user(struct agent *a, const char *authorization, struct user *ret, enum connect_code *ret_code,
                        struct nb_error *err)
{
        _cleanup_free_ char *name = NULL;
        const char *want;
        int r;

        if (authorization) {
                r = user_from_basic_auth(authorization, &name);
                if (r == -ENOMEM) {
                        *ret_code = CONNECT_RESOURCE_EXHAUSTED;
                        return nb_error_oom(err);
                }
                if (r < 0) {
                        *ret_code = CONNECT_UNAUTHENTICATED;
                        return nb_error_set(err, r, "invalid Authorization header (want Basic base64 of '<user>:')");
                }
                want = name;
        } else if (a->default_user)
                want = a->default_user;
        else
                want = user_exists(a->passwd_path, "user") ? "user" : "root";

        r = user_lookup(a->passwd_path, a->group_path, want, ret, err);
        if (r < 0)
                *ret_code = r == -ENOENT ? CONNECT_UNAUTHENTICATED : CONNECT_INTERNAL;
        return r;
}

int launch_resolve_path(const char *path, const char *home, const char *default_workdir, char **ret)
{
        char *s;
        int k;

        if (!path || !path[0])
                k = asprintf(&s, "%s", default_workdir ? default_workdir : home);
        else if (strcmp(path, "~") == 0)
                k = asprintf(&s, "%s", home);
        else if (strncmp(path, "~/", 2) == 0)
                k = asprintf(&s, "%s/%s", strcmp(home, "/") == 0 ? "" : home, path + 2);
        else if (path[0] != '/')
                k = asprintf(&s, "%s/%s", strcmp(home, "/") == 0 ? "" : home, path);
        else
                k = asprintf(&s, "%s", path);
        if (k < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int build_env(struct agent *a, const struct user *u, const Process__ProcessConfig *cfg, struct envv *e)
{
        const char *path = getenv("PATH");
        const char *key;
        json_t *v;
        int r;

        if ((r = envv_set(e, "PATH", path && path[0] ? path : DEFAULT_PATH)) < 0 ||
            (r = envv_set(e, "HOME", u->home)) < 0 || (r = envv_set(e, "USER", u->name)) < 0 ||
            (r = envv_set(e, "LOGNAME", u->name)) < 0)
                return r;
        json_object_foreach(a->env_vars, key, v) {
                r = envv_set(e, key, json_string_value(v));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < cfg->n_envs; i++) {
                const Process__ProcessConfig__EnvsEntry *kv = cfg->envs[i];

                if (!kv->key)
                        continue;
                r = envv_set(e, kv->key, kv->value ? kv->value : "");
                if (r < 0)
                        return r;
        }
        return 0;
}

int launch_start(struct agent *a, const char *authorization, const Process__StartRequest *req,
                 struct spawn_result *ret, enum connect_code *ret_code, struct nb_error *err)
{
        const Process__ProcessConfig *cfg = req->process;
        _cleanup_free_ char *cwd = NULL;
        _cleanup_free_ char **argv = NULL;
        struct user u = {0};
        struct envv env = {0};
        struct spawn_spec spec;
        struct stat st;
        int r;

        *ret_code = CONNECT_INVALID_ARGUMENT;
        if (!cfg || !cfg->cmd || !cfg->cmd[0])
                return nb_error_set(err, -EINVAL, "process.cmd is required");

        r = launch_resolve_user(a, authorization, &u, ret_code, err);
        if (r < 0)
                return r;

        *ret_code = CONNECT_INTERNAL;
        r = launch_resolve_path(cfg->cwd, u.home, a->default_workdir, &cwd);
        if (r < 0) {
                r = nb_error_oom(err);
                goto out;
        }
        if (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode)) {
                *ret_code = CONNECT_INVALID_ARGUMENT;
                r = nb_error_set(err, -EINVAL, "cwd '%s' does not exist", cwd);
                goto out;
        }
        r = build_env(a, &u, cfg, &env);
        if (r < 0) {
                *ret_code = r == -EINVAL ? CONNECT_INVALID_ARGUMENT : CONNECT_INTERNAL;
                r = r == -EINVAL ? nb_error_set(err, r, "env var names must be non-empty and contain no '='")
                                 : nb_error_oom(err);
                goto out;
        }
        argv = calloc(cfg->n_args + 2, sizeof(char *));
        if (!argv) {
                r = nb_error_oom(err);
                goto out;
        }
        argv[0] = cfg->cmd;
        for (size_t i = 0; i < cfg->n_args; i++)
                argv[i + 1] = cfg->args[i];

        spec = (struct spawn_spec){
                .cmd = cfg->cmd,
                .argv = argv,
                .envp = env.v,
                .cwd = cwd,
                .uid = u.uid,
                .gid = u.gid,
                .groups = u.groups,
                .n_groups = u.n_groups,
                .pty = req->pty != NULL,
                /* Start without a size gets the classic 80x24. */
                .rows = req->pty && req->pty->size && req->pty->size->rows ? req->pty->size->rows : 24,
                .cols = req->pty && req->pty->size && req->pty->size->cols ? req->pty->size->cols : 80,
                /* stdin is a pipe when requested or when the field is absent (§3.4). */
                .stdin_pipe = !req->has_stdin || req->stdin,
        };
        r = spawn_process(&spec, ret, err);
out:
        envv_done(&env);
        user_done(&u);
        return r;
}
