/* Option objects of create and of processes: copies of the caller's strings,
 * serialized only when the call is made. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

int lib_kv_set(struct lib_kv_list *l, const char *key, const char *value)
{
        _cleanup_free_ char *k = NULL, *v = NULL;
        struct lib_kv *items;

        if (!key || !key[0] || !value)
                return -EINVAL;
        v = strdup(value);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].key, key) == 0) {
                        free(l->items[i].value);
                        l->items[i].value = TAKE_PTR(v);
                        return 0;
                }
        k = strdup(key);
        if (!k)
                return -ENOMEM;
        items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        l->items = items;
        l->items[l->n++] = (struct lib_kv){TAKE_PTR(k), TAKE_PTR(v)};
        return 0;
}

void lib_kv_done(struct lib_kv_list *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].value);
        }
        free(l->items);
        *l = (struct lib_kv_list){0};
}

json_t *lib_kv_to_json(const struct lib_kv_list *l)
{
        json_t *o;

        if (l->n == 0)
                return NULL;
        o = json_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                if (json_object_set_new(o, l->items[i].key, json_string(l->items[i].value)) < 0) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

/* Replaces *slot with a copy of s (NULL clears). */
static int set_string(char **slot, const char *s)
{
        char *copy = NULL;

        if (s) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        free(*slot);
        *slot = copy;
        return 0;
}

_public_ int nestbox_create_opts_new(nestbox_create_opts **ret)
{
        nestbox_create_opts *o;

        if (!ret)
                return -EINVAL;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

_public_ nestbox_create_opts *nestbox_create_opts_free(nestbox_create_opts *o)
{
        if (!o)
                return NULL;
        free(o->template_id);
        lib_kv_done(&o->metadata);
        lib_kv_done(&o->envs);
        free(o);
        return NULL;
}

_public_ int nestbox_create_opts_set_template(nestbox_create_opts *o, const char *template_id)
{
        if (!o || (template_id && !template_id[0]))
                return -EINVAL;
        return set_string(&o->template_id, template_id);
}

_public_ int nestbox_create_opts_set_timeout(nestbox_create_opts *o, unsigned seconds)
{
        if (!o)
                return -EINVAL;
        o->timeout_s = seconds;
        o->has_timeout = true;
        return 0;
}

_public_ int nestbox_create_opts_set_metadata(nestbox_create_opts *o, const char *key, const char *value)
{
        return o ? lib_kv_set(&o->metadata, key, value) : -EINVAL;
}

_public_ int nestbox_create_opts_set_env(nestbox_create_opts *o, const char *key, const char *value)
{
        return o ? lib_kv_set(&o->envs, key, value) : -EINVAL;
}

json_t *lib_create_body(const nestbox_create_opts *o)
{
        json_t *body = json_object(), *m;

        if (!body)
                return NULL;
        if (json_object_set_new(body, "templateID",
                                json_string(o && o->template_id ? o->template_id : "base")) < 0)
                goto fail;
        if (!o)
                return body;
        if (o->has_timeout && json_object_set_new(body, "timeout", json_integer(o->timeout_s)) < 0)
                goto fail;
        if (o->metadata.n > 0) {
                m = lib_kv_to_json(&o->metadata);
                if (!m || json_object_set_new(body, "metadata", m) < 0)
                        goto fail;
        }
        if (o->envs.n > 0) {
                m = lib_kv_to_json(&o->envs);
                if (!m || json_object_set_new(body, "envVars", m) < 0)
                        goto fail;
        }
        return body;
fail:
        json_decref(body);
        return NULL;
}

_public_ int nestbox_process_opts_new(nestbox_process_opts **ret)
{
        nestbox_process_opts *o;

        if (!ret)
                return -EINVAL;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->timeout_ms = LIB_PROCESS_TIMEOUT_MS;
        *ret = o;
        return 0;
}

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

_public_ nestbox_process_opts *nestbox_process_opts_free(nestbox_process_opts *o)
{
        if (!o)
                return NULL;
        free(o->user);
        free(o->cwd);
        lib_kv_done(&o->envs);
        strv_free(o->argv);
        free(o);
        return NULL;
}

_public_ int nestbox_process_opts_set_user(nestbox_process_opts *o, const char *user)
{
        /* The user travels as "Basic base64(user:)": a ':' would change its meaning. */
        if (!o || (user && (!user[0] || strchr(user, ':'))))
                return -EINVAL;
        return set_string(&o->user, user);
}

_public_ int nestbox_process_opts_set_cwd(nestbox_process_opts *o, const char *cwd)
{
        return o ? set_string(&o->cwd, cwd) : -EINVAL;
}

_public_ int nestbox_process_opts_set_env(nestbox_process_opts *o, const char *key, const char *value)
{
        return o ? lib_kv_set(&o->envs, key, value) : -EINVAL;
}

_public_ int nestbox_process_opts_set_timeout_ms(nestbox_process_opts *o, unsigned timeout_ms)
{
        if (!o)
                return -EINVAL;
        o->timeout_ms = timeout_ms;
        return 0;
}

_public_ int nestbox_process_opts_set_stdin(nestbox_process_opts *o, int enable)
{
        if (!o)
                return -EINVAL;
        o->stdin_open = enable != 0;
        return 0;
}

_public_ int nestbox_process_opts_set_command(nestbox_process_opts *o, const char *const *argv)
{
        char **copy;
        size_t n = 0;

        if (!o || (argv && (!argv[0] || !argv[0][0])))
                return -EINVAL;
        if (!argv) {
                strv_free(o->argv);
                o->argv = NULL;
                return 0;
        }
        while (argv[n])
                n++;
        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(argv[i]);
                if (!copy[i]) {
                        strv_free(copy);
                        return -ENOMEM;
                }
        }
        strv_free(o->argv);
        o->argv = copy;
        return 0;
}
