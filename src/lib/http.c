/* One blocking HTTP request on a curl easy handle: the control API calls and
 * the unary envd RPCs go through here. Streams (process.c) drive curl's multi
 * interface themselves but share the setup in lib_http_setup(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_OK;

static void global_init(void)
{
        global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int lib_http_global_init(nestbox_error *err)
{
        pthread_once(&global_once, global_init);
        if (global_result != CURLE_OK)
                return lib_error_set(err, -EIO, 0, "cannot initialize libcurl: %s",
                                     curl_easy_strerror(global_result));
        return 0;
}

int lib_slist_add(struct curl_slist **l, const char *fmt, ...)
{
        _cleanup_free_ char *line = NULL;
        struct curl_slist *n;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (k < 0) {
                line = NULL;
                return -ENOMEM;
        }
        n = curl_slist_append(*l, line);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

void lib_http_response_done(struct lib_http_response *r)
{
        buf_done(&r->body);
        free(r->next_token);
        free(r->content_type);
        r->next_token = r->content_type = NULL;
        r->status = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
        struct lib_http_response *r = userdata;

        if (r->body.len + size * n > LIB_BODY_MAX)
                return 0; /* a runaway answer: fail rather than eat memory */
        if (buf_append(&r->body, p, size * n) < 0)
                return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
        return size * n;
}

/* Header lines, one per call, with CRLF. We keep the two we use. */
static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
        struct lib_http_response *r = userdata;
        size_t len = size * n;
        char **slot = NULL;
        size_t name_len;

        if (len > 13 && strncasecmp(p, "x-next-token:", 13) == 0) {
                slot = &r->next_token;
                name_len = 13;
        } else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
                slot = &r->content_type;
                name_len = 13;
        }
        if (slot) {
                const char *v = p + name_len, *end = p + len;

                while (v < end && (*v == ' ' || *v == '\t'))
                        v++;
                while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                        end--;
                free(*slot);
                *slot = end > v ? strndup(v, (size_t)(end - v)) : NULL;
        }
        return len;
}

int lib_http_request(CURL *h, const char *method, const char *url, struct curl_slist *headers,
                     const char *body, size_t body_len, long timeout_ms, struct lib_http_response *resp,
                     nestbox_error *err)
{
        char errbuf[CURL_ERROR_SIZE] = "";
        CURLcode cc;

        lib_http_response_done(resp);
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_USERAGENT, LIB_USER_AGENT);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we may run in threads */
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
        if (timeout_ms > 0)
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        } else if (strcmp(method, "GET") == 0) {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
                int r = lib_error_from_curl(cc, errbuf, url, err);

                lib_http_response_done(resp);
                return r;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        return 0;
}
