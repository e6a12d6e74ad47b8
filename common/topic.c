/*
 * topic: the name check. Kafka's rule, which also keeps every name safe as a
 * single path component: no '/', no NUL, no "." or "..".
 */
#include "config.h"

#include "topic.h"

/* [A-Za-z0-9._-] as a table: the producer checks the name on every send,
 * and one load per character is several times cheaper than the ranges. */
#define R10(c)                                                                \
    [c] = 1, [c + 1] = 1, [c + 2] = 1, [c + 3] = 1, [c + 4] = 1, [c + 5] = 1, \
    [c + 6] = 1, [c + 7] = 1, [c + 8] = 1, [c + 9] = 1
static const unsigned char legal[256] = {
    R10('0'),      R10('A'),  R10('A' + 10), ['U'] = 1, ['V'] = 1,
    ['W'] = 1,     ['X'] = 1, ['Y'] = 1,     ['Z'] = 1, R10('a'),
    R10('a' + 10), ['u'] = 1, ['v'] = 1,     ['w'] = 1, ['x'] = 1,
    ['y'] = 1,     ['z'] = 1, ['.'] = 1,     ['_'] = 1, ['-'] = 1,
};
#undef R10

static int legal_char(unsigned char c)
{
    return legal[c];
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
