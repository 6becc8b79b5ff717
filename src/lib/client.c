/* nestbox_client: the resolved connection settings plus one reusable curl
 * handle for control API calls (kept-alive connection, TLS session reuse). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

_public_ const char *nestbox_version(void)
{
        return NESTBOX_VERSION_STRING;
}

_public_ int nestbox_client_new(const char *api_url, const char *api_key, const char *sandbox_url,
                                nestbox_client **ret, nestbox_error *err)
{
        nestbox_client *c;
        int r;

        if (!ret)
                return lib_error_set(err, -EINVAL, 0, "ret must not be NULL");
        r = lib_http_global_init(err);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return lib_oom(err);
        r = lib_config_resolve(api_url, api_key, sandbox_url, NULL, &c->cfg, err);
        if (r < 0) {
                free(c);
                return r;
        }
        c->api = curl_easy_init();
        if (!c->api) {
                lib_config_done(&c->cfg);
                free(c);
                return lib_oom(err);
        }
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

_public_ nestbox_client *nestbox_client_free(nestbox_client *c)
{
        if (!c)
                return NULL;
        curl_easy_cleanup(c->api);
        pthread_mutex_destroy(&c->lock);
        lib_config_done(&c->cfg);
        free(c);
        return NULL;
}

_public_ const char *nestbox_client_api_url(const nestbox_client *c)
{
        return c ? c->cfg.api_url : NULL;
}

int lib_api_call(nestbox_client *c, const char *method, const char *path, json_t *body,
                 struct lib_http_response *resp, nestbox_error *err)
{
        _cleanup_slist_ struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL, *text = NULL;
        int r;

        if (asprintf(&url, "%s%s", c->cfg.api_url, path) < 0) {
                url = NULL;
                return lib_oom(err);
        }
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        return lib_oom(err);
        }
        /* The key goes to the control API only, never to envd (§1.3). */
        r = lib_slist_add(&headers, "X-API-KEY: %s", c->cfg.api_key);
        if (r >= 0 && text)
                r = lib_slist_add(&headers, "Content-Type: application/json");
        if (r >= 0)
                r = lib_slist_add(&headers, "Accept: application/json");
        if (r >= 0) /* no 100-continue round trip for bodies over 1 KiB */
                r = lib_slist_add(&headers, "Expect:");
        if (r < 0)
                return lib_oom(err);

        pthread_mutex_lock(&c->lock);
        r = lib_http_request(c->api, method, url, headers, text, text ? strlen(text) : 0, LIB_API_TIMEOUT_MS,
                             resp, err);
        pthread_mutex_unlock(&c->lock);
        return r;
}
