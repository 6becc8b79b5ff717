/* Sandbox info (GET /sandboxes/{id}) and listing (GET /v2/sandboxes with
 * X-Next-Token paging, protocol.md §2.5): JSON objects kept whole, read
 * through accessors so the ABI never depends on the field set. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib.h"

#define LIST_PAGE_LIMIT 100
#define LIST_MAX_PAGES 10000 /* a server that never stops paging is a bug, not a list */

struct nestbox_sandbox_info {
        json_t *obj; /* the object as received */
        char *json;  /* compact text of obj, made on demand */
        char **keys; /* metadata keys, sorted */
        unsigned n_keys;
        int64_t end_at_ms;
};

struct nestbox_info_list {
        nestbox_sandbox_info **items;
        unsigned n;
};

static void info_clear(nestbox_sandbox_info *info)
{
        json_decref(info->obj);
        free(info->json);
        free(info->keys); /* the strings belong to obj */
}

_public_ nestbox_sandbox_info *nestbox_sandbox_info_free(nestbox_sandbox_info *info)
{
        if (!info)
                return NULL;
        info_clear(info);
        free(info);
        return NULL;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int lib_info_from_json(json_t *o, nestbox_sandbox_info **ret, nestbox_error *err)
{
        nestbox_sandbox_info *info;
        json_t *meta, *v;
        const char *k;

        if (!json_is_object(o) || !json_is_string(json_object_get(o, "sandboxID")))
                return lib_error_set(err, -EPROTO, 0, "a sandbox in the server's answer has no 'sandboxID'");
        info = calloc(1, sizeof(*info));
        if (!info)
                return lib_oom(err);
        info->obj = json_incref(o);
        info->end_at_ms = -1;
        if (json_is_string(json_object_get(o, "endAt")))
                (void)lib_rfc3339_to_ms(json_string_value(json_object_get(o, "endAt")), &info->end_at_ms);
        meta = json_object_get(o, "metadata");
        if (json_is_object(meta) && json_object_size(meta) > 0) {
                info->keys = calloc(json_object_size(meta), sizeof(char *));
                if (!info->keys) {
                        nestbox_sandbox_info_free(info);
                        return lib_oom(err);
                }
                json_object_foreach(meta, k, v) if (json_is_string(v)) info->keys[info->n_keys++] =
                        (char *)k;
                qsort(info->keys, info->n_keys, sizeof(char *), cmp_str);
        }
        *ret = info;
        return 0;
}

static const char *field_string(const nestbox_sandbox_info *info, const char *name)
{
        json_t *v = info ? json_object_get(info->obj, name) : NULL;

        return json_is_string(v) ? json_string_value(v) : NULL;
}

static int field_int(const nestbox_sandbox_info *info, const char *name)
{
        json_t *v = info ? json_object_get(info->obj, name) : NULL;

        return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT32_MAX
                       ? (int)json_integer_value(v)
                       : -1;
}

_public_ const char *nestbox_sandbox_info_id(const nestbox_sandbox_info *info)
{
        return field_string(info, "sandboxID");
}

_public_ const char *nestbox_sandbox_info_template_id(const nestbox_sandbox_info *info)
{
        return field_string(info, "templateID");
}

_public_ const char *nestbox_sandbox_info_alias(const nestbox_sandbox_info *info)
{
        return field_string(info, "alias");
}

_public_ const char *nestbox_sandbox_info_state(const nestbox_sandbox_info *info)
{
        return field_string(info, "state");
}

_public_ const char *nestbox_sandbox_info_started_at(const nestbox_sandbox_info *info)
{
        return field_string(info, "startedAt");
}

_public_ const char *nestbox_sandbox_info_end_at(const nestbox_sandbox_info *info)
{
        return field_string(info, "endAt");
}

_public_ int64_t nestbox_sandbox_info_end_at_ms(const nestbox_sandbox_info *info)
{
        return info ? info->end_at_ms : -1;
}

_public_ const char *nestbox_sandbox_info_envd_version(const nestbox_sandbox_info *info)
{
        return field_string(info, "envdVersion");
}

_public_ int nestbox_sandbox_info_cpu_count(const nestbox_sandbox_info *info)
{
        return field_int(info, "cpuCount");
}

_public_ int nestbox_sandbox_info_memory_mb(const nestbox_sandbox_info *info)
{
        return field_int(info, "memoryMB");
}

_public_ int nestbox_sandbox_info_disk_size_mb(const nestbox_sandbox_info *info)
{
        return field_int(info, "diskSizeMB");
}

_public_ unsigned nestbox_sandbox_info_metadata_count(const nestbox_sandbox_info *info)
{
        return info ? info->n_keys : 0;
}

_public_ const char *nestbox_sandbox_info_metadata_key(const nestbox_sandbox_info *info, unsigned i)
{
        return info && i < info->n_keys ? info->keys[i] : NULL;
}

_public_ const char *nestbox_sandbox_info_metadata_value(const nestbox_sandbox_info *info, unsigned i)
{
        if (!info || i >= info->n_keys)
                return NULL;
        return json_string_value(json_object_get(json_object_get(info->obj, "metadata"), info->keys[i]));
}

_public_ const char *nestbox_sandbox_info_json(const nestbox_sandbox_info *info)
{
        nestbox_sandbox_info *mut = (nestbox_sandbox_info *)info;

        if (!info)
                return NULL;
        /* Made lazily; the const is logical (the text never changes once made). */
        if (!mut->json)
                mut->json = json_dumps(info->obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        return mut->json;
}

static int digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++, (*p)++) {
                if (**p < '0' || **p > '9')
                        return -EINVAL;
                v = v * 10 + (**p - '0');
        }
        *ret = v;
        return 0;
}

int lib_rfc3339_to_ms(const char *s, int64_t *ret)
{
        int year, mon, day, hh, mm, ss, ms = 0, off = 0;
        const char *p = s;
        struct tm tm = {0};
        time_t t;

        if (!s || digits(&p, 4, &year) < 0 || *p++ != '-' || digits(&p, 2, &mon) < 0 || *p++ != '-' ||
            digits(&p, 2, &day) < 0 || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
            digits(&p, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, &mm) < 0 || *p++ != ':' ||
            digits(&p, 2, &ss) < 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
                return -EINVAL;
        if (*p == '.') {
                int scale = 100, n = 0;

                p++;
                for (; *p >= '0' && *p <= '9'; p++, n++) {
                        ms += (*p - '0') * scale;
                        scale /= 10;
                }
                if (n == 0 || n > 9)
                        return -EINVAL;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;

                if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                off = sign * (oh * 60 + om);
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hh;
        tm.tm_min = mm;
        tm.tm_sec = ss;
        t = timegm(&tm);
        *ret = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
        return 0;
}

_public_ nestbox_info_list *nestbox_info_list_free(nestbox_info_list *l)
{
        if (!l)
                return NULL;
        for (unsigned i = 0; i < l->n; i++)
                nestbox_sandbox_info_free(l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(nestbox_info_list *, nestbox_info_list_free);

_public_ unsigned nestbox_info_list_count(const nestbox_info_list *l)
{
        return l ? l->n : 0;
}

_public_ const nestbox_sandbox_info *nestbox_info_list_get(const nestbox_info_list *l, unsigned i)
{
        return l && i < l->n ? l->items[i] : NULL;
}

static int list_append_page(nestbox_info_list *l, json_t *arr, nestbox_error *err)
{
        nestbox_sandbox_info **items;
        size_t i;
        json_t *v;
        int r;

        if (json_array_size(arr) == 0)
                return 0;
        items = realloc(l->items, (l->n + json_array_size(arr)) * sizeof(*items));
        if (!items)
                return lib_oom(err);
        l->items = items;
        json_array_foreach(arr, i, v)
        {
                r = lib_info_from_json(v, &l->items[l->n], err);
                if (r < 0)
                        return r;
                l->n++;
        }
        return 0;
}

_public_ int nestbox_sandbox_list(nestbox_client *c, const char *state, nestbox_info_list **ret,
                                  nestbox_error *err)
{
        _cleanup_(nestbox_info_list_freep) nestbox_info_list *l = NULL;
        _cleanup_free_ char *token = NULL;
        int r;

        if (!c || !ret)
                return lib_error_set(err, -EINVAL, 0, "client and ret must not be NULL");
        l = calloc(1, sizeof(*l));
        if (!l)
                return lib_oom(err);
        for (unsigned page = 0;; page++) {
                _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
                _cleanup_(buf_done) struct buf path = {0};
                _cleanup_json_ json_t *arr = NULL;

                if (page >= LIST_MAX_PAGES)
                        return lib_error_set(err, -EPROTO, 0, "the server kept paging past %d pages",
                                             LIST_MAX_PAGES);
                r = buf_printf(&path, "/v2/sandboxes?limit=%d", LIST_PAGE_LIMIT);
                if (r >= 0 && state) {
                        /* Arrays go as one comma-joined value, each item encoded (§2.1). */
                        _cleanup_free_ char *copy = strdup(state);
                        char *save = NULL;
                        bool first = true;

                        r = copy ? buf_printf(&path, "&state=") : -ENOMEM;
                        for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; r >= 0 && s;
                             s = strtok_r(NULL, ",", &save), first = false) {
                                if (!first)
                                        r = buf_append(&path, ",", 1);
                                if (r >= 0)
                                        r = lib_url_encode(&path, s);
                        }
                }
                if (r >= 0 && token) {
                        r = buf_printf(&path, "&nextToken=");
                        if (r >= 0)
                                r = lib_url_encode(&path, token);
                }
                if (r >= 0)
                        r = buf_append(&path, "", 1);
                if (r < 0)
                        return lib_oom(err);
                r = lib_api_call(c, "GET", (const char *)path.data, NULL, &resp, err);
                if (r < 0)
                        return r;
                if (resp.status < 200 || resp.status > 299)
                        return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len,
                                                  err);
                arr = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
                if (!json_is_array(arr))
                        return lib_error_set(err, -EPROTO, (int)resp.status,
                                             "the sandbox list is not a JSON array");
                r = list_append_page(l, arr, err);
                if (r < 0)
                        return r;
                free(token);
                token = TAKE_PTR(resp.next_token);
                if (!token)
                        break;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
