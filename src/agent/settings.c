/* /init and /envs. The env set is a jansson object so /envs is one dump and
 * process spawning iterates it in insertion order. */
#include "settings.h"

#include <string.h>

#include "error.h"
#include "log.h"

static int set_string(char **field, json_t *v, const char *name, struct nb_error *err)
{
        const char *s;
        char *copy;

        if (!v || json_is_null(v))
                return 0; /* absent: keep what a previous /init set */
        if (!json_is_string(v))
                return nb_error_set(err, -EINVAL, "'%s' must be a string", name);
        s = json_string_value(v);
        if (s[0] == '\0') {
                /* Empty means unset (envd treats an empty token as no token). */
                free(*field);
                *field = NULL;
                return 0;
        }
        copy = strdup(s);
        if (!copy)
                return nb_error_oom(err);
        free(*field);
        *field = copy;
        return 0;
}

int settings_apply_init(struct agent *a, const char *json, size_t n, struct nb_error *err)
{
        json_t *root, *envs, *v;
        json_error_t jerr;
        const char *key;
        int r;

        if (n == 0)
                return 0; /* an empty body changes nothing */
        root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return nb_error_set(err, -EINVAL, "invalid JSON body: %s", jerr.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return nb_error_set(err, -EINVAL, "body must be a JSON object");
        }
        envs = json_object_get(root, "envVars");
        if (envs && !json_is_null(envs)) {
                if (!json_is_object(envs)) {
                        json_decref(root);
                        return nb_error_set(err, -EINVAL, "'envVars' must be an object of strings");
                }
                json_object_foreach(envs, key, v) {
                        if (!json_is_string(v) || key[0] == '\0' || strchr(key, '=')) {
                                /* key lives in root: format before letting go of it. */
                                r = nb_error_set(err, -EINVAL, "envVars['%.64s'] must be a string under a "
                                                 "non-empty name without '='", key);
                                json_decref(root);
                                return r;
                        }
                }
        }
        /* Validate everything before changing anything. */
        v = json_object_get(root, "accessToken");
        if (v && !json_is_null(v) && !json_is_string(v))
                r = nb_error_set(err, -EINVAL, "'accessToken' must be a string");
        else if ((v = json_object_get(root, "defaultUser")) && !json_is_null(v) && !json_is_string(v))
                r = nb_error_set(err, -EINVAL, "'defaultUser' must be a string");
        else if ((v = json_object_get(root, "defaultWorkdir")) && !json_is_null(v) && !json_is_string(v))
                r = nb_error_set(err, -EINVAL, "'defaultWorkdir' must be a string");
        else
                r = 0;
        if (r >= 0 && envs && json_is_object(envs)) {
                if (!a->env_vars)
                        a->env_vars = json_object();
                if (!a->env_vars || json_object_update(a->env_vars, envs) < 0)
                        r = nb_error_oom(err);
        }
        if (r >= 0)
                r = set_string(&a->access_token, json_object_get(root, "accessToken"), "accessToken", err);
        if (r >= 0)
                r = set_string(&a->default_user, json_object_get(root, "defaultUser"), "defaultUser", err);
        if (r >= 0)
                r = set_string(&a->default_workdir, json_object_get(root, "defaultWorkdir"), "defaultWorkdir", err);
        json_decref(root);
        return r;
}

void settings_handle_init(struct conn *c)
{
        struct nb_error err = {0};
        int r;

        r = settings_apply_init(c->agent, (const char *)buf_head(&c->body), buf_avail(&c->body), &err);
        if (r < 0) {
                log_warning("Rejected /init: %s", err.message);
                return conn_reply_error(c, r == -ENOMEM ? 500 : 400, "%s", err.message);
        }
        log_info("Initialized: %zu env vars, access token %s, default user %s, default workdir %s",
                 c->agent->env_vars ? json_object_size(c->agent->env_vars) : 0,
                 c->agent->access_token ? "set" : "unset", c->agent->default_user ?: "(auto)",
                 c->agent->default_workdir ?: "(home)");
        conn_reply(c, 204, NULL, NULL, 0);
}

void settings_handle_envs(struct conn *c)
{
        char *text;

        text = c->agent->env_vars ? json_dumps(c->agent->env_vars, JSON_COMPACT) : strdup("{}");
        if (!text)
                return conn_reply_error(c, 500, "out of memory");
        conn_reply(c, 200, "application/json", text, strlen(text));
        free(text);
}

void settings_done(struct agent *a)
{
        json_decref(a->env_vars);
        a->env_vars = NULL;
        free(a->access_token);
        free(a->default_user);
        free(a->default_workdir);
        a->access_token = a->default_user = a->default_workdir = NULL;
}
