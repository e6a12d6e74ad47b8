/*
 * buf: big-endian helpers, a growable owned byte buffer with a hard
 * capacity limit, and a bounded read cursor.
 *
 * Every multi-byte integer on the wire or on disk is read and written with
 * qr_be*_get/put, never by casting a buffer (STYLE.md §8): they need no
 * alignment and compile to a load plus a byte swap.
 *
 * qr_buf_t owns its memory. Its maximum capacity is fixed at init, so a
 * size declared by a peer can never make it grow without bound (STYLE.md §3
 * "bound before you allocate"): growing past it is QUIRE_ERR_BUF_FULL.
 * Memory comes from plain realloc (not qr_realloc) so that libquire can use
 * qr_buf_t too; running out of memory is QUIRE_ERR_NO_MEMORY.
 *
 * Layout: data[0 .. rpos) consumed, data[rpos .. len) unread (the content),
 * data[len .. cap) free. Appends write at len; readers take from rpos.
 *
 * qr_rd_t is a cursor over borrowed bytes (ptr, len). Every get checks the
 * remaining length first and returns QUIRE_ERR_TRUNCATED without moving
 * when the value would run past the end, so it never reads out of bounds.
 *
 * Neither type is shared between threads: an object is used by its owner's
 * thread only (@locality any, @locks none: the caller serialises).
 */
#ifndef QR_BUF_H
#define QR_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

/* ---- big-endian helpers ---- */

/** @brief Reads a big-endian u16 at @p p (any alignment). @locality any
 * @locks none */
static inline uint16_t qr_be16_get(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

/** @brief Reads a big-endian u32 at @p p (any alignment). @locality any
 * @locks none */
static inline uint32_t qr_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/** @brief Reads a big-endian u64 at @p p (any alignment). @locality any
 * @locks none */
static inline uint64_t qr_be64_get(const uint8_t *p)
{
    return (uint64_t)qr_be32_get(p) << 32 | qr_be32_get(p + 4);
}

/** @brief Writes @p v big-endian at @p p (2 bytes). @locality any
 * @locks none */
static inline void qr_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/** @brief Writes @p v big-endian at @p p (4 bytes). @locality any
 * @locks none */
static inline void qr_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/** @brief Writes @p v big-endian at @p p (8 bytes). @locality any
 * @locks none */
static inline void qr_be64_put(uint8_t *p, uint64_t v)
{
    qr_be32_put(p, (uint32_t)(v >> 32));
    qr_be32_put(p + 4, (uint32_t)v);
}

/* ---- qr_buf_t: growable owned buffer ---- */

typedef struct qr_buf {
    uint8_t *data; /* owned; NULL until the first reserve */
    size_t rpos;   /* start of unread bytes */
    size_t len;    /* end of written bytes */
    size_t cap;    /* allocated size of data */
    size_t max;    /* hard limit on cap, set at init */
} qr_buf_t;

/** Smallest allocation qr_buf_reserve makes (unless max is smaller). */
#define QR_BUF_MIN_CAP 256

/**
 * @brief Initialises an empty buffer that will never hold more than @p max
 * bytes. Allocates nothing.
 * @param buf caller's storage (borrowed).
 * @locality any  @locks none
 */
void qr_buf_init(qr_buf_t *buf, size_t max);

/**
 * @brief Frees the memory of @p buf and leaves it empty, as after init with
 * the same max (so it may be reused). Accepts NULL.
 * @locality any  @locks none
 */
void qr_buf_free(qr_buf_t *buf);

/**
 * @brief Makes room for @p n more bytes after the content. May move the
 * unread bytes to the front (invalidating pointers into data) and may
 * reallocate.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BUF_FULL if unread + @p n would pass
 *          max (buf unchanged); QUIRE_ERR_NO_MEMORY if realloc failed.
 * @locality any  @locks none
 */
quire_err_t qr_buf_reserve(qr_buf_t *buf, size_t n);

/**
 * @brief Appends @p n bytes from @p p (borrowed; may be NULL when n is 0).
 * @returns as qr_buf_reserve; on error nothing is appended.
 * @locality any  @locks none
 */
quire_err_t qr_buf_append(qr_buf_t *buf, const void *p, size_t n);

/** @brief Appends one byte. @returns as qr_buf_append.
 * @locality any  @locks none */
quire_err_t qr_buf_append_u8(qr_buf_t *buf, uint8_t v);

/** @brief Appends @p v as 2 big-endian bytes. @returns as qr_buf_append.
 * @locality any  @locks none */
quire_err_t qr_buf_append_be16(qr_buf_t *buf, uint16_t v);

/** @brief Appends @p v as 4 big-endian bytes. @returns as qr_buf_append.
 * @locality any  @locks none */
quire_err_t qr_buf_append_be32(qr_buf_t *buf, uint32_t v);

/** @brief Appends @p v as 8 big-endian bytes. @returns as qr_buf_append.
 * @locality any  @locks none */
quire_err_t qr_buf_append_be64(qr_buf_t *buf, uint64_t v);

/**
 * @brief Where the next written byte goes, for a producer that fills the
 * buffer itself (recv, a compressor): qr_buf_reserve(n), write up to n
 * bytes at qr_buf_wptr(), then qr_buf_commit() what was written.
 * @returns borrowed, valid until the next reserve/append/free.
 * @locality any  @locks none
 */
static inline uint8_t *qr_buf_wptr(qr_buf_t *buf)
{
    return buf->data + buf->len;
}

/** @brief Free bytes after the content (what qr_buf_wptr may receive).
 * @locality any  @locks none */
static inline size_t qr_buf_room(const qr_buf_t *buf)
{
    return buf->cap - buf->len;
}

/**
 * @brief Marks @p n bytes written at qr_buf_wptr() as content. @p n must not
 * exceed qr_buf_room() (asserted: a violation is our bug).
 * @locality any  @locks none
 */
void qr_buf_commit(qr_buf_t *buf, size_t n);

/** @brief First unread byte. @returns borrowed, valid until the next
 * reserve/append/consume/free. @locality any @locks none */
static inline const uint8_t *qr_buf_rptr(const qr_buf_t *buf)
{
    return buf->data + buf->rpos;
}

/** @brief Number of unread bytes. @locality any @locks none */
static inline size_t qr_buf_unread(const qr_buf_t *buf)
{
    return buf->len - buf->rpos;
}

/**
 * @brief Drops @p n unread bytes from the front (without moving memory).
 * @p n must not exceed qr_buf_unread() (asserted). When everything is
 * consumed the positions go back to 0, so a buffer that is drained between
 * frames never needs to move data.
 * @locality any  @locks none
 */
void qr_buf_consume(qr_buf_t *buf, size_t n);

/** @brief Empties @p buf, keeping its memory. @locality any @locks none */
void qr_buf_reset(qr_buf_t *buf);

/* ---- qr_rd_t: bounded read cursor ---- */

typedef struct qr_rd {
    const uint8_t *p; /* borrowed: the bytes being read */
    size_t len;       /* their number */
    size_t pos;       /* bytes already read */
} qr_rd_t;

/**
 * @brief Starts a cursor over @p len bytes at @p p (borrowed: they must stay
 * valid and unchanged while the cursor and views from it are used).
 * @locality any  @locks none
 */
static inline void qr_rd_init(qr_rd_t *rd, const void *p, size_t len)
{
    rd->p = (const uint8_t *)p;
    rd->len = len;
    rd->pos = 0;
}

/** @brief Bytes not yet read. @locality any @locks none */
static inline size_t qr_rd_left(const qr_rd_t *rd)
{
    return rd->len - rd->pos;
}

/** @brief The next unread byte (borrowed, see qr_rd_init).
 * @locality any @locks none */
static inline const uint8_t *qr_rd_ptr(const qr_rd_t *rd)
{
    return rd->p + rd->pos;
}

/**
 * @brief Takes a view of the next @p n bytes and moves past them.
 * @param pp set to the view (borrowed from the cursor's bytes); untouched
 *        on error.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_TRUNCATED (cursor unchanged).
 * @locality any  @locks none
 */
static inline quire_err_t qr_rd_get_bytes(qr_rd_t *rd, size_t n,
                                          const uint8_t **pp)
{
    if (n > qr_rd_left(rd))
        return QUIRE_ERR_TRUNCATED;
    *pp = rd->p + rd->pos;
    rd->pos += n;
    return QUIRE_ERR_NONE;
}

/** @brief Moves past @p n bytes. @returns QUIRE_ERR_NONE or
 * QUIRE_ERR_TRUNCATED (cursor unchanged). @locality any @locks none */
static inline quire_err_t qr_rd_skip(qr_rd_t *rd, size_t n)
{
    if (n > qr_rd_left(rd))
        return QUIRE_ERR_TRUNCATED;
    rd->pos += n;
    return QUIRE_ERR_NONE;
}

/** @brief Copies the next @p n bytes to @p dst (borrowed, n bytes).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_TRUNCATED (nothing copied, cursor
 * unchanged). @locality any @locks none */
static inline quire_err_t qr_rd_copy(qr_rd_t *rd, void *dst, size_t n)
{
    const uint8_t *src;
    quire_err_t err = qr_rd_get_bytes(rd, n, &src);
    if (err == QUIRE_ERR_NONE && n)
        memcpy(dst, src, n);
    return err;
}

/** @brief Reads one byte as a signed value into *@p v.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_TRUNCATED (*v and the cursor
 * unchanged). @locality any @locks none */
static inline quire_err_t qr_rd_get_i8(qr_rd_t *rd, int8_t *v)
{
    if (qr_rd_left(rd) < 1)
        return QUIRE_ERR_TRUNCATED;
    *v = (int8_t)rd->p[rd->pos++];
    return QUIRE_ERR_NONE;
}

/** @brief Reads a big-endian int16 into *@p v. @returns as qr_rd_get_i8.
 * @locality any @locks none */
static inline quire_err_t qr_rd_get_i16(qr_rd_t *rd, int16_t *v)
{
    if (qr_rd_left(rd) < 2)
        return QUIRE_ERR_TRUNCATED;
    *v = (int16_t)qr_be16_get(rd->p + rd->pos);
    rd->pos += 2;
    return QUIRE_ERR_NONE;
}

/** @brief Reads a big-endian int32 into *@p v. @returns as qr_rd_get_i8.
 * @locality any @locks none */
static inline quire_err_t qr_rd_get_i32(qr_rd_t *rd, int32_t *v)
{
    if (qr_rd_left(rd) < 4)
        return QUIRE_ERR_TRUNCATED;
    *v = (int32_t)qr_be32_get(rd->p + rd->pos);
    rd->pos += 4;
    return QUIRE_ERR_NONE;
}

/** @brief Reads a big-endian int64 into *@p v. @returns as qr_rd_get_i8.
 * @locality any @locks none */
static inline quire_err_t qr_rd_get_i64(qr_rd_t *rd, int64_t *v)
{
    if (qr_rd_left(rd) < 8)
        return QUIRE_ERR_TRUNCATED;
    *v = (int64_t)qr_be64_get(rd->p + rd->pos);
    rd->pos += 8;
    return QUIRE_ERR_NONE;
}

/** @brief Reads a big-endian uint32 into *@p v. @returns as qr_rd_get_i8.
 * @locality any @locks none */
static inline quire_err_t qr_rd_get_u32(qr_rd_t *rd, uint32_t *v)
{
    if (qr_rd_left(rd) < 4)
        return QUIRE_ERR_TRUNCATED;
    *v = qr_be32_get(rd->p + rd->pos);
    rd->pos += 4;
    return QUIRE_ERR_NONE;
}

#endif /* QR_BUF_H */
