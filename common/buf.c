/*
 * buf: the growable buffer. Invariant: rpos <= len <= cap <= max, and
 * data is NULL exactly when cap is 0.
 */
#include "config.h"

#include <stdlib.h>

#include "buf.h"
#include "logging.h"

void qr_buf_init(qr_buf_t *buf, size_t max)
{
    buf->data = NULL;
    buf->rpos = 0;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
}

void qr_buf_free(qr_buf_t *buf)
{
    if (!buf)
        return;
    free(buf->data);
    qr_buf_init(buf, buf->max);
}

/* Moves the unread bytes to the front, so the consumed prefix becomes free
 * room: cheaper than growing, and what keeps a long-lived connection buffer
 * at its steady size. */
static void compact(qr_buf_t *buf)
{
    size_t unread = qr_buf_unread(buf);

    if (buf->rpos == 0)
        return;
    if (unread)
        memmove(buf->data, buf->data + buf->rpos, unread);
    buf->rpos = 0;
    buf->len = unread;
}

/* The capacity to grow to for @p need bytes: doubling from QR_BUF_MIN_CAP,
 * clamped to max. need <= max is already checked. */
static size_t grown_cap(const qr_buf_t *buf, size_t need)
{
    size_t cap = buf->cap ? buf->cap : QR_BUF_MIN_CAP;

    while (cap < need && cap <= buf->max / 2)
        cap *= 2;
    if (cap < need || cap > buf->max)
        cap = buf->max;
    return cap;
}

quire_err_t qr_buf_reserve(qr_buf_t *buf, size_t n)
{
    size_t unread = qr_buf_unread(buf);
    uint8_t *data;
    size_t cap;

    if (n <= qr_buf_room(buf))
        return QUIRE_ERR_NONE;
    if (n > buf->max || unread > buf->max - n)
        return QUIRE_ERR_BUF_FULL;
    /* Compact when that alone makes room, when at least half is consumed
     * (a realloc would copy the dead prefix too), or when growing in place
     * would pass max. Otherwise a compaction would only add a copy. */
    if (n <= buf->cap - unread || buf->rpos >= buf->cap / 2 ||
        buf->len > buf->max - n)
        compact(buf);
    if (n <= qr_buf_room(buf))
        return QUIRE_ERR_NONE;
    cap = grown_cap(buf, buf->len + n); /* len + n <= max here */
    data = realloc(buf->data, cap);
    if (!data)
        return QUIRE_ERR_NO_MEMORY;
    buf->data = data;
    buf->cap = cap;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_buf_append(qr_buf_t *buf, const void *p, size_t n)
{
    quire_err_t err;

    if (n == 0)
        return QUIRE_ERR_NONE;
    err = qr_buf_reserve(buf, n);
    if (err != QUIRE_ERR_NONE)
        return err;
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_buf_append_u8(qr_buf_t *buf, uint8_t v)
{
    return qr_buf_append(buf, &v, 1);
}

quire_err_t qr_buf_append_be16(qr_buf_t *buf, uint16_t v)
{
    uint8_t b[2];
    qr_be16_put(b, v);
    return qr_buf_append(buf, b, sizeof(b));
}

quire_err_t qr_buf_append_be32(qr_buf_t *buf, uint32_t v)
{
    uint8_t b[4];
    qr_be32_put(b, v);
    return qr_buf_append(buf, b, sizeof(b));
}

quire_err_t qr_buf_append_be64(qr_buf_t *buf, uint64_t v)
{
    uint8_t b[8];
    qr_be64_put(b, v);
    return qr_buf_append(buf, b, sizeof(b));
}

void qr_buf_commit(qr_buf_t *buf, size_t n)
{
    QR_ASSERT(n <= qr_buf_room(buf));
    buf->len += n;
}

void qr_buf_consume(qr_buf_t *buf, size_t n)
{
    QR_ASSERT(n <= qr_buf_unread(buf));
    buf->rpos += n;
    if (buf->rpos == buf->len)
        buf->rpos = buf->len = 0;
}

void qr_buf_reset(qr_buf_t *buf)
{
    buf->rpos = 0;
    buf->len = 0;
}
