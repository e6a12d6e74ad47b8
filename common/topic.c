/*
 * topic: the name check. Kafka's rule, which also keeps every name safe as a
 * single path component: no '/', no NUL, no "." or "..".
 */
#include "config.h"

#include "topic.h"

static int legal_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

quire_err_t qr_topic_name_check(const char *name, size_t len, const char **why)
{
    const char *reason = NULL;

    if (!name || len == 0)
        reason = "topic name is empty";
    else if (len > QR_TOPIC_NAME_MAX)
        reason = "topic name is longer than 249 characters";
    else if ((len == 1 && name[0] == '.') ||
             (len == 2 && name[0] == '.' && name[1] == '.'))
        reason = "topic name cannot be \".\" or \"..\"";
    else
        for (size_t i = 0; i < len; i++)
            if (!legal_char((unsigned char)name[i])) {
                reason = "topic name may only contain [A-Za-z0-9._-]";
                break;
            }
    if (why)
        *why = reason;
    return reason ? QUIRE_ERR_INVALID_TOPIC_EXCEPTION : QUIRE_ERR_NONE;
}
