/* link_call: HEAD + BODY + END out, HEAD + BODY* + END back, all blocking. */
#include "link-client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "link.h"

int link_call(int fd, const char *method, const char *path, const char *content_type, const void *body, size_t n,
              int *ret_status, struct buf *ret_body)
{
        struct buf frame = {0};
        enum link_frame_type type;
        json_t *head, *headers;
        char *text;
        int r;

        headers = json_object();
        if (content_type)
                json_object_set_new(headers, "content-type", json_string(content_type));
        head = json_pack("{s:s, s:s, s:{}, s:o}", "method", method, "path", path, "query", "headers", headers);
        if (!head)
                return -ENOMEM;
        text = json_dumps(head, JSON_COMPACT);
        json_decref(head);
        if (!text)
                return -ENOMEM;
        r = link_write_frame(fd, LINK_HEAD, text, strlen(text));
        free(text);
        if (r >= 0 && body && n > 0)
                r = link_write_frame(fd, LINK_BODY, body, n);
        if (r >= 0)
                r = link_write_frame(fd, LINK_END, NULL, 0);
        if (r < 0)
                return r;

        r = link_read_frame(fd, &frame, &type);
        if (r < 0)
                goto out;
        if (type != LINK_HEAD) {
                r = -EBADMSG;
                goto out;
        }
        head = json_loadb((const char *)frame.data, frame.len, 0, NULL);
        if (!head || !json_is_integer(json_object_get(head, "status"))) {
                json_decref(head);
                r = -EBADMSG;
                goto out;
        }
        *ret_status = (int)json_integer_value(json_object_get(head, "status"));
        json_decref(head);
        for (;;) {
                r = link_read_frame(fd, &frame, &type);
                if (r < 0)
                        goto out;
                if (type == LINK_END)
                        break;
                if (type != LINK_BODY) {
                        r = -EBADMSG;
                        goto out;
                }
                r = buf_append(ret_body, frame.data, frame.len);
                if (r < 0)
                        goto out;
        }
        r = 0;
out:
        buf_done(&frame);
        return r;
}
