/*
 * err: names and texts for quire_err_t, from the one table in err.h.
 */
#include "config.h"

#include <stddef.h>

#include "err.h"

struct err_desc {
    int code;
    const char *name;
    const char *text;
};

static const struct err_desc err_descs[] = {
#define ERR_DESC(name, code, text) {code, #name, text},
    QUIRE_ERR_TABLE(ERR_DESC)
#undef ERR_DESC
};

static const struct err_desc *find(int code)
{
    /* Small table, looked up on error paths only: a scan is enough. */
    for (size_t i = 0; i < sizeof(err_descs) / sizeof(err_descs[0]); i++)
        if (err_descs[i].code == code)
            return &err_descs[i];
    return NULL;
}

const char *quire_err2name(quire_err_t err)
{
    const struct err_desc *d = find((int)err);
    return d ? d->name : "UNKNOWN";
}

const char *quire_err2str(quire_err_t err)
{
    const struct err_desc *d = find((int)err);
    return d ? d->text : "Unknown error code";
}

int quire_err_known(int code)
{
    return find(code) != NULL;
}

quire_err_t quire_err_from_wire(int code)
{
    if (code <= QUIRE_ERR_LOCAL_MAX || !find(code))
        return QUIRE_ERR_UNKNOWN_SERVER_ERROR;
    return (quire_err_t)code;
}
