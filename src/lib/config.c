/* Connection settings and URLs, as the SDK's connectionConfig.ts resolves them
 * (protocol.md §1.1, §1.2). Pure functions: the environment comes in through a
 * getenv callback so the unit tests can feed any. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"

/* Domains whose envd is reached at https://sandbox.<domain>, routed by the
 * E2b-Sandbox-Id header (SDK 2.51 connectionConfig.ts supportedDomains). */
static const char *const e2b_domains[] = {"e2b.app", "e2b.dev", "e2b.pro", "e2b-staging.dev"};

/* ASCII only: isalnum() follows the application's locale. */
static bool ascii_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const char *nonempty(const char *s)
{
        return s && s[0] ? s : NULL;
}

static bool url_has_scheme(const char *u)
{
        return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

/* A copy without trailing slashes: we append "/path" to it. */
static char *url_dup(const char *u)
{
        size_t n = strlen(u);

        while (n > 0 && u[n - 1] == '/')
                n--;
        return strndup(u, n);
}

static const char *env_lookup(const char *name)
{
        return getenv(name);
}

void lib_config_done(struct lib_config *cfg)
{
        free(cfg->api_url);
        free(cfg->api_key);
        free(cfg->sandbox_url);
        free(cfg->domain);
        *cfg = (struct lib_config){0};
}

int lib_config_resolve(const char *api_url, const char *api_key, const char *sandbox_url,
                       lib_getenv_fn getenv_fn, struct lib_config *ret, nestbox_error *err)
{
        struct lib_config cfg = {0};
        const char *domain, *debug;

        if (!getenv_fn)
                getenv_fn = env_lookup;
        api_url = nonempty(api_url) ? api_url : nonempty(getenv_fn("E2B_API_URL"));
        api_key = nonempty(api_key) ? api_key : nonempty(getenv_fn("E2B_API_KEY"));
        sandbox_url = nonempty(sandbox_url) ? sandbox_url : nonempty(getenv_fn("E2B_SANDBOX_URL"));
        domain = nonempty(getenv_fn("E2B_DOMAIN")) ? getenv_fn("E2B_DOMAIN") : LIB_DEFAULT_DOMAIN;
        debug = getenv_fn("E2B_DEBUG");
        cfg.debug = debug && strcasecmp(debug, "true") == 0;

        if (!api_key)
                return lib_error_set(
                        err, -EACCES, 0,
                        "API key is required, please visit the API Keys tab at "
                        "https://e2b.dev/dashboard?tab=keys to get your API key. You can either set "
                        "the environment variable `E2B_API_KEY` or you can pass it directly");
        if (api_url && !url_has_scheme(api_url))
                return lib_error_set(err, -EINVAL, 0, "API URL '%.128s' must start with http:// or https://",
                                     api_url);
        if (sandbox_url && !url_has_scheme(sandbox_url))
                return lib_error_set(err, -EINVAL, 0,
                                     "sandbox URL '%.128s' must start with http:// or https://",
                                     sandbox_url);
        for (const char *p = domain; *p; p++)
                if (!ascii_alnum(*p) && *p != '.' && *p != '-')
                        return lib_error_set(err, -EINVAL, 0, "E2B_DOMAIN '%.128s' is not a domain name",
                                             domain);

        cfg.domain = strdup(domain);
        cfg.api_key = strdup(api_key);
        if (api_url)
                cfg.api_url = url_dup(api_url);
        else if (cfg.debug)
                cfg.api_url = strdup("http://localhost:3000");
        else if (cfg.domain && asprintf(&cfg.api_url, "https://api.%s", cfg.domain) < 0)
                cfg.api_url = NULL;
        if (sandbox_url)
                cfg.sandbox_url = url_dup(sandbox_url);
        if (!cfg.domain || !cfg.api_key || !cfg.api_url || (sandbox_url && !cfg.sandbox_url)) {
                lib_config_done(&cfg);
                return lib_oom(err);
        }
        *ret = cfg;
        return 0;
}

char *lib_envd_url(const struct lib_config *cfg, const char *sandbox_id, const char *domain)
{
        char *u = NULL;

        if (cfg->sandbox_url)
                return strdup(cfg->sandbox_url);
        if (cfg->debug)
                return strdup("http://localhost:49983");
        if (!domain || !domain[0])
                domain = cfg->domain;
        for (size_t i = 0; i < ELEMENTSOF(e2b_domains); i++)
                if (strcmp(domain, e2b_domains[i]) == 0)
                        return asprintf(&u, "https://sandbox.%s", domain) < 0 ? NULL : u;
        return asprintf(&u, "https://%d-%s.%s", LIB_ENVD_PORT, sandbox_id, domain) < 0 ? NULL : u;
}

int lib_url_encode(struct buf *b, const char *s)
{
        /* encodeURIComponent keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ) */
        static const char keep[] = "-_.!~*'()";

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                int r;

                if (ascii_alnum((char)ch) || (ch && strchr(keep, ch)))
                        r = buf_append(b, s, 1);
                else
                        r = buf_printf(b, "%%%02X", ch);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool lib_id_is_valid(const char *id)
{
        size_t n = 0;

        if (!id)
                return false;
        for (; id[n]; n++)
                if (!ascii_alnum(id[n]) && id[n] != '-' && id[n] != '_' && id[n] != '.')
                        return false;
        return n > 0 && n <= 128 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}
