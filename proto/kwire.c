/*
 * kwire: Kafka's primitives, frames, headers and ApiVersions.
 * The per-API bodies are in kwire_api.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "kwire.h"

/* ---- arena: a list of blocks, freed at once ---- */

#define ARENA_BLOCK 4096

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct qr_karena {
    struct arena_block *head;
};

qr_karena_t *qr_karena_new(void)
{
    return qr_calloc(1, sizeof(qr_karena_t));
}

void qr_karena_free(qr_karena_t *mem)
{
    struct arena_block *b, *next;

    if (!mem)
        return;
    for (b = mem->head; b; b = next) {
        next = b->next;
        free(b);
    }
    free(mem);
}

void *qr_karena_alloc(qr_karena_t *mem, size_t n)
{
    struct arena_block *b = mem->head;
    size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    void *p;

    if (need == 0)
        need = sizeof(max_align_t);
    if (!b || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = qr_malloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        b->next = mem->head;
        mem->head = b;
    }
    p = (uint8_t *)b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

char *qr_karena_strdup(qr_karena_t *mem, const char *s)
{
    size_t n;
    char *out;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    out = qr_karena_alloc(mem, n);
    memcpy(out, s, n);
    return out;
}

/* ---- reading ---- */

void qr_kr_init(qr_kr_t *r, const uint8_t *p, size_t len, qr_karena_t *mem)
{
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->len = len;
    r->mem = mem;
}

static const uint8_t *take(qr_kr_t *r, size_t n)
{
    const uint8_t *p;

    if (r->err || r->len - r->off < n) {
        r->err = 1;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

int8_t qr_kr_i8(qr_kr_t *r)
{
    const uint8_t *p = take(r, 1);

    return p ? (int8_t)p[0] : 0;
}

int16_t qr_kr_i16(qr_kr_t *r)
{
    const uint8_t *p = take(r, 2);

    return p ? (int16_t)qr_be16_get(p) : 0;
}

int32_t qr_kr_i32(qr_kr_t *r)
{
    const uint8_t *p = take(r, 4);

    return p ? (int32_t)qr_be32_get(p) : 0;
}

int64_t qr_kr_i64(qr_kr_t *r)
{
    const uint8_t *p = take(r, 8);

    return p ? (int64_t)qr_be64_get(p) : 0;
}

uint32_t qr_kr_uvarint(qr_kr_t *r)
{
    uint32_t v = 0;

    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint32_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    r->err = 1; /* longer than 5 bytes */
    return 0;
}

/* A length: int16 (strings) or int32 (arrays, bytes), compact when flex.
 * Returns -1 for null, -2 after an error. */
static int64_t length(qr_kr_t *r, int wide)
{
    int64_t n;

    if (r->flex)
        n = (int64_t)qr_kr_uvarint(r) - 1;
    else
        n = wide ? qr_kr_i32(r) : qr_kr_i16(r);
    if (r->err)
        return -2;
    if (n < -1) {
        r->err = 1;
        return -2;
    }
    return n;
}

void *qr_kr_alloc(qr_kr_t *r, size_t n, size_t size)
{
    if (r->err || (size && n > SIZE_MAX / size / 2)) {
        r->err = 1;
        return NULL;
    }
    return qr_karena_alloc(r->mem, n * size);
}

const char *qr_kr_str(qr_kr_t *r)
{
    int64_t n = length(r, 0);
    const uint8_t *p;
    char *s;

    if (n < 0)
        return NULL;
    if ((p = take(r, (size_t)n)) == NULL)
        return NULL;
    if (memchr(p, '\0', (size_t)n)) {
        r->err = 1;
        return NULL;
    }
    s = qr_karena_alloc(r->mem, (size_t)n + 1);
    memcpy(s, p, (size_t)n);
    return s;
}

const char *qr_kr_str_nn(qr_kr_t *r)
{
    const char *s = qr_kr_str(r);

    if (!s)
        r->err = 1;
    return s;
}

size_t qr_kr_array(qr_kr_t *r, size_t min_elem)
{
    int64_t n = length(r, 1);

    if (n < 0)
        return 0;
    if (min_elem && (uint64_t)n > qr_kr_left(r) / min_elem) {
        r->err = 1;
        return 0;
    }
    return (size_t)n;
}

const uint8_t *qr_kr_bytes(qr_kr_t *r, size_t *len)
{
    int64_t n = length(r, 1);

    *len = 0;
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return take(r, (size_t)n);
}

void qr_kr_tags(qr_kr_t *r)
{
    uint32_t n;

    if (!r->flex)
        return;
    n = qr_kr_uvarint(r);
    if (n > qr_kr_left(r)) {
        r->err = 1;
        return;
    }
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)qr_kr_uvarint(r); /* tag */
        (void)take(r, qr_kr_uvarint(r));
    }
}

/* ---- writing ---- */

uint8_t *qr_kw_put(qr_kw_t *w, size_t n)
{
    uint8_t *p;

    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap - w->len < n)
            cap *= 2;
        w->p = qr_realloc(w->p, cap);
        w->cap = cap;
    }
    p = w->p + w->len;
    w->len += n;
    return p;
}

void qr_kw_free(qr_kw_t *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}

uint8_t *qr_kw_take(qr_kw_t *w, size_t *len)
{
    uint8_t *p = w->p;

    *len = w->len;
    w->p = NULL;
    w->len = w->cap = 0;
    return p;
}

void qr_kw_i8(qr_kw_t *w, int8_t v)
{
    *qr_kw_put(w, 1) = (uint8_t)v;
}

void qr_kw_i16(qr_kw_t *w, int16_t v)
{
    qr_be16_put(qr_kw_put(w, 2), (uint16_t)v);
}

void qr_kw_i32(qr_kw_t *w, int32_t v)
{
    qr_be32_put(qr_kw_put(w, 4), (uint32_t)v);
}

void qr_kw_i64(qr_kw_t *w, int64_t v)
{
    qr_be64_put(qr_kw_put(w, 8), (uint64_t)v);
}

void qr_kw_uvarint(qr_kw_t *w, uint32_t v)
{
    while (v >= 0x80) {
        qr_kw_i8(w, (int8_t)((v & 0x7f) | 0x80));
        v >>= 7;
    }
    qr_kw_i8(w, (int8_t)v);
}

static void put_len(qr_kw_t *w, int64_t n, int wide)
{
    if (w->flex)
        qr_kw_uvarint(w, (uint32_t)(n + 1));
    else if (wide)
        qr_kw_i32(w, (int32_t)n);
    else
        qr_kw_i16(w, (int16_t)n);
}

void qr_kw_str(qr_kw_t *w, const char *s)
{
    size_t n;

    if (!s) {
        put_len(w, -1, 0);
        return;
    }
    n = strlen(s);
    if (n > INT16_MAX)
        n = INT16_MAX; /* names are far shorter; never a broken frame */
    put_len(w, (int64_t)n, 0);
    memcpy(qr_kw_put(w, n), s, n);
}

void qr_kw_array(qr_kw_t *w, size_t n)
{
    put_len(w, (int64_t)n, 1);
}

void qr_kw_bytes(qr_kw_t *w, const void *p, size_t n)
{
    if (!p) {
        put_len(w, -1, 1);
        return;
    }
    put_len(w, (int64_t)n, 1);
    if (n)
        memcpy(qr_kw_put(w, n), p, n);
}

void qr_kw_tags(qr_kw_t *w)
{
    if (w->flex)
        qr_kw_uvarint(w, 0);
}

int16_t qr_kwire_err(quire_err_t err)
{
    if ((int)err > QUIRE_ERR_LOCAL_MAX && quire_err_known((int)err))
        return (int16_t)err;
    switch (err) {
    case QUIRE_ERR_IO:
        return (int16_t)QUIRE_ERR_KAFKA_STORAGE_ERROR;
    case QUIRE_ERR_TIMED_OUT:
        return (int16_t)QUIRE_ERR_REQUEST_TIMED_OUT;
    default:
        return (int16_t)QUIRE_ERR_UNKNOWN_SERVER_ERROR;
    }
}

/* ---- frames and headers ---- */

quire_err_t qr_kwire_frame_parse(const void *buf, size_t len,
                                 const qr_frame_limits_t *lim,
                                 qr_frame_t *frame)
{
    const uint8_t *p = buf;
    uint32_t size;

    memset(frame, 0, sizeof(*frame));
    frame->size = 4;
    if (len < 4)
        return QUIRE_ERR_NEED_MORE;
    size = qr_be32_get(p);
    if (size & 0x80000000u)
        return QUIRE_ERR_BAD_FRAME;
    if (size > lim->max_frame)
        return QUIRE_ERR_FRAME_TOO_LARGE;
    if (size < QR_KWIRE_HEADER_MIN)
        return QUIRE_ERR_BAD_FRAME;
    frame->size = 4 + (size_t)size;
    if (len < frame->size)
        return QUIRE_ERR_NEED_MORE;
    frame->header = p + 4;
    frame->header_len = size;
    return QUIRE_ERR_NONE;
}

int qr_kwire_hdr_fixed(qr_kr_t *r, qr_kreq_hdr_t *hdr)
{
    memset(hdr, 0, sizeof(*hdr));
    hdr->api_key = qr_kr_i16(r);
    hdr->api_version = qr_kr_i16(r);
    hdr->correlation_id = qr_kr_i32(r);
    hdr->client_id = "";
    return r->err ? -1 : 0;
}

int qr_kwire_hdr_rest(qr_kr_t *r, qr_kreq_hdr_t *hdr, int flex)
{
    const char *id;

    /* client_id is a classic int16 string even in header v2 */
    r->flex = 0;
    id = qr_kr_str(r);
    if (id)
        hdr->client_id = id;
    r->flex = flex;
    qr_kr_tags(r);
    return r->err ? -1 : 0;
}

void qr_kwire_resp_begin(qr_kw_t *w, int32_t correlation_id, int flex)
{
    int body_flex = w->flex;

    qr_kw_i32(w, 0); /* size, patched when the response is complete */
    qr_kw_i32(w, correlation_id);
    w->flex = flex;
    qr_kw_tags(w);
    w->flex = body_flex;
}

/* ---- ApiVersions ---- */

void qr_kwire_apiversions_encode(qr_kw_t *w, int16_t version,
                                 int16_t error_code,
                                 const qr_kapi_range_t *apis, size_t n)
{
    qr_kw_i16(w, error_code);
    qr_kw_array(w, n);
    for (size_t i = 0; i < n; i++) {
        qr_kw_i16(w, apis[i].api_key);
        qr_kw_i16(w, apis[i].min_version);
        qr_kw_i16(w, apis[i].max_version);
        qr_kw_tags(w);
    }
    if (version >= 1)
        qr_kw_i32(w, 0); /* throttle_time_ms */
    qr_kw_tags(w);
}
