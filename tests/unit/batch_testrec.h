/*
 * batch_testrec: deterministic test records and the record "dump" shared by
 * check_batch and write_batches (the kafka-python interop writer).
 *
 * The dump is the text form tests/data/gen_batches.py defines, one line per
 * record: "OFFSET TIMESTAMP KEY VALUE NHEADERS[ HKEY HVALUE]...\n", byte
 * fields in lower-case hex or "-" for null; a manifest names each batch file
 * with its codec, base offset, count and the dump's length and zlib crc32.
 */
#ifndef QR_BATCH_TESTREC_H
#define QR_BATCH_TESTREC_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "batch.h"

#define TR_BASE_TS     INT64_C(1700000000000)
#define TR_MAX_HEADERS 3

/** One generated record with its own storage. */
typedef struct trec {
    int64_t ts;
    const uint8_t *key; /* NULL: null key; else points into kbuf */
    size_t klen;
    const uint8_t *val; /* NULL: null value; else points into vbuf */
    size_t vlen;
    size_t nh;
    qr_batch_rec_header_t h[TR_MAX_HEADERS];
    uint8_t kbuf[32], vbuf[400], hk[TR_MAX_HEADERS][16], hv[TR_MAX_HEADERS][24];
} trec_t;

/* Record i: null/empty/set keys and values, 0-2 headers with null and
 * empty values, timestamps that go back and forth around TR_BASE_TS. */
static inline void trec_gen(trec_t *t, int i)
{
    memset(t, 0, sizeof(*t));
    t->ts = TR_BASE_TS + (int64_t)((i * 37) % 1000) - 500 + i;
    if (i % 4 == 0) {
        t->key = NULL;
    } else {
        t->klen = i % 4 == 1
                      ? 0
                      : (size_t)snprintf((char *)t->kbuf, sizeof(t->kbuf),
                                         "key-%d", i % 97);
        t->key = t->kbuf;
    }
    if (i % 7 == 0) {
        t->val = NULL;
    } else {
        t->vlen = (size_t)(i * 13) % 300;
        for (size_t j = 0; j < t->vlen; j++)
            t->vbuf[j] = (uint8_t)("quire-record-"[j % 13] + (j / 13) % 3);
        t->val = t->vbuf;
    }
    t->nh = (size_t)i % TR_MAX_HEADERS;
    for (size_t h = 0; h < t->nh; h++) {
        int kl =
            h == 0 ? 0
                   : snprintf((char *)t->hk[h], sizeof(t->hk[h]), "hdr%zu", h);
        t->h[h].key = t->hk[h];
        t->h[h].key_len = (size_t)kl;
        if ((i + (int)h) % 2 == 0) {
            t->h[h].value = NULL;
            t->h[h].value_len = -1;
        } else {
            t->h[h].value_len = snprintf((char *)t->hv[h], sizeof(t->hv[h]),
                                         "v%d", i * 31 + (int)h);
            t->h[h].value = t->hv[h];
        }
    }
}

/** A growable text buffer for dumps. */
typedef struct tdump {
    char *p;
    size_t len, cap;
} tdump_t;

static inline void tdump_put(tdump_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void tdump_put(tdump_t *d, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(d->p ? d->p + d->len : NULL,
                          d->p ? d->cap - d->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (d->p && (size_t)n < d->cap - d->len) {
            d->len += (size_t)n;
            return;
        }
        d->cap = (d->cap + (size_t)n + 1) * 2;
        d->p = realloc(d->p, d->cap);
        if (!d->p)
            abort();
    }
}

static inline void tdump_bytes(tdump_t *d, const uint8_t *p, ssize_t len)
{
    tdump_put(d, " ");
    if (!p || len < 0) {
        tdump_put(d, "-");
        return;
    }
    for (ssize_t i = 0; i < len; i++)
        tdump_put(d, "%02x", p[i]);
}

/** Appends one record's line. */
static inline void tdump_rec(tdump_t *d, int64_t offset, int64_t ts,
                             const uint8_t *key, ssize_t klen,
                             const uint8_t *val, ssize_t vlen, size_t nh,
                             const qr_batch_rec_header_t *h)
{
    tdump_put(d, "%" PRId64 " %" PRId64, offset, ts);
    tdump_bytes(d, key, klen);
    tdump_bytes(d, val, vlen);
    tdump_put(d, " %zu", nh);
    for (size_t i = 0; i < nh; i++) {
        tdump_bytes(d, h[i].key ? h[i].key : (const uint8_t *)"",
                    (ssize_t)h[i].key_len);
        tdump_bytes(d, h[i].value, h[i].value ? h[i].value_len : -1);
    }
    tdump_put(d, "\n");
}

static inline void tdump_trec(tdump_t *d, int64_t offset, const trec_t *t)
{
    tdump_rec(d, offset, t->ts, t->key, t->key ? (ssize_t)t->klen : -1, t->val,
              t->val ? (ssize_t)t->vlen : -1, t->nh, t->h);
}

static inline uint32_t tdump_crc(const tdump_t *d)
{
    return (uint32_t)crc32(0, (const Bytef *)d->p, (uInt)d->len);
}

static inline void tdump_free(tdump_t *d)
{
    free(d->p);
    memset(d, 0, sizeof(*d));
}

#endif /* QR_BATCH_TESTREC_H */
