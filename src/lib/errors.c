/* Error translation, once, at the edge: control API statuses, Connect codes and
 * curl failures become a -errno plus the sentence E2B's SDK would show
 * (protocol.md §2.2, §3.8), so a C program prints what a JS one would. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib.h"

int lib_error_set(nestbox_error *err, int code, int http_status, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return code;
        err->code = code;
        err->http_status = http_status;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return code;
}

int lib_errno_from_http_status(long status)
{
        switch (status) {
        case 400:
                return -EINVAL;
        case 401:
                return -EACCES;
        case 403:
                return -EPERM;
        case 404:
                return -ENOENT;
        case 409:
                return -EEXIST;
        case 429:
                return -EAGAIN;
        case 501:
                return -ENOTSUP;
        case 502:
        case 504:
                return -ETIMEDOUT;
        case 503:
                return -EBUSY;
        case 507:
                return -ENOSPC;
        default:
                return -EIO;
        }
}

static const char *status_text(long status)
{
        switch (status) {
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 409:
                return "Conflict";
        case 429:
                return "Too Many Requests";
        case 500:
                return "Internal Server Error";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        default:
                return "";
        }
}

int lib_error_from_api(long status, const char *body, size_t body_len, nestbox_error *err)
{
        _cleanup_json_ json_t *j = NULL;
        char raw[200];
        const char *msg = NULL;
        int code = lib_errno_from_http_status(status);

        /* openapi-fetch hands the SDK the parsed JSON body, else its text. */
        if (body && body_len > 0) {
                j = json_loadb(body, body_len, 0, NULL);
                if (json_is_object(j) && json_is_string(json_object_get(j, "message")))
                        msg = json_string_value(json_object_get(j, "message"));
                else {
                        size_t n = body_len < sizeof(raw) - 1 ? body_len : sizeof(raw) - 1;

                        memcpy(raw, body, n);
                        raw[n] = '\0';
                        msg = raw;
                }
        }
        if (msg && !msg[0])
                msg = NULL;

        switch (status) {
        case 401:
                return msg ? lib_error_set(err, code, (int)status,
                                           "Unauthorized, please check your credentials. - %s", msg)
                           : lib_error_set(err, code, (int)status,
                                           "Unauthorized, please check your credentials.");
        case 429:
                return msg ? lib_error_set(err, code, (int)status,
                                           "Rate limit exceeded, please try again later - %s", msg)
                           : lib_error_set(err, code, (int)status,
                                           "Rate limit exceeded, please try again later");
        case 503:
                return msg ? lib_error_set(err, code, (int)status,
                                           "Service temporarily unavailable, please retry - %s", msg)
                           : lib_error_set(err, code, (int)status,
                                           "Service temporarily unavailable, please retry");
        default:
                return lib_error_set(err, code, (int)status, "%ld: %s", status,
                                     msg ? msg : status_text(status));
        }
}

/* Connect codes in wire order; the index is the numeric code the SDK prints. */
static const char *const connect_codes[] = {
        "ok",        "canceled",        "unknown",           "invalid_argument",   "deadline_exceeded",
        "not_found", "already_exists",  "permission_denied", "resource_exhausted", "failed_precondition",
        "aborted",   "out_of_range",    "unimplemented",     "internal",           "unavailable",
        "data_loss", "unauthenticated",
};

const char *lib_connect_code_from_http_status(long status)
{
        switch (status) {
        case 400:
                return "internal";
        case 401:
                return "unauthenticated";
        case 403:
                return "permission_denied";
        case 404:
                return "unimplemented";
        case 429:
        case 502:
        case 503:
        case 504:
                return "unavailable";
        default:
                return "unknown";
        }
}

int lib_error_from_connect(const char *code, const char *message, long http_status, nestbox_error *err)
{
        unsigned num = 2; /* unknown */
        char full[300];
        int st = (int)http_status;

        for (unsigned i = 1; i < ELEMENTSOF(connect_codes); i++)
                if (code && strcmp(code, connect_codes[i]) == 0) {
                        num = i;
                        break;
                }
        code = connect_codes[num];
        /* connect-es formats ConnectError.message as "[code] message". */
        if (message && message[0])
                snprintf(full, sizeof(full), "[%s] %s", code, message);
        else
                snprintf(full, sizeof(full), "[%s]", code);

        if (strcmp(code, "invalid_argument") == 0)
                return lib_error_set(err, -EINVAL, st, "%s", full);
        if (strcmp(code, "unauthenticated") == 0)
                return lib_error_set(err, -EACCES, st, "%s", full);
        if (strcmp(code, "not_found") == 0)
                return lib_error_set(err, -ENOENT, st, "%s", full);
        if (strcmp(code, "resource_exhausted") == 0)
                return lib_error_set(err, -EAGAIN, st, "%s: Rate limit exceeded, please try again later.",
                                     full);
        if (strcmp(code, "unavailable") == 0)
                return lib_error_set(
                        err, -ETIMEDOUT, st,
                        "%s: This error is likely due to sandbox timeout. You can modify the sandbox "
                        "timeout by passing 'timeoutMs' when starting the sandbox or calling "
                        "'.setTimeout' on the sandbox with the desired timeout.",
                        full);
        if (strcmp(code, "canceled") == 0)
                return lib_error_set(
                        err, -ETIMEDOUT, st,
                        "%s: This error is likely due to exceeding 'requestTimeoutMs'. You can pass "
                        "the request timeout value as an option when making the request.",
                        full);
        if (strcmp(code, "deadline_exceeded") == 0)
                return lib_error_set(
                        err, -ETIMEDOUT, st,
                        "%s: This error is likely due to exceeding 'timeoutMs' — the total time a long "
                        "running request (like command execution or directory watch) can be active. It "
                        "can be modified by passing 'timeoutMs' when making the request. Use '0' to "
                        "disable the timeout.",
                        full);
        if (strcmp(code, "permission_denied") == 0)
                return lib_error_set(err, -EPERM, st, "%u: %s", num, full);
        if (strcmp(code, "already_exists") == 0)
                return lib_error_set(err, -EEXIST, st, "%u: %s", num, full);
        if (strcmp(code, "unimplemented") == 0)
                return lib_error_set(err, -ENOTSUP, st, "%u: %s", num, full);
        return lib_error_set(err, -EIO, st, "%u: %s", num, full);
}

int lib_error_from_curl(CURLcode cc, const char *errbuf, const char *url, nestbox_error *err)
{
        const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
        int code;

        switch (cc) {
        case CURLE_COULDNT_CONNECT:
                code = -ECONNREFUSED;
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                code = -EHOSTUNREACH;
                break;
        case CURLE_OPERATION_TIMEDOUT:
                code = -ETIMEDOUT;
                break;
        case CURLE_OUT_OF_MEMORY:
                code = -ENOMEM;
                break;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                code = -EINVAL;
                break;
        default:
                code = -EIO;
                break;
        }
        return lib_error_set(err, code, 0, "cannot reach %.120s: %s", url, why);
}
