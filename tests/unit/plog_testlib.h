/*
 * plog_testlib: helpers shared by the partition-log tests (header-only,
 * static): a minimal RecordBatch v2 builder (uncompressed records, CRC-32C)
 * so the storage tests do not depend on the client-side builder, temp
 * directories, and a config for small segments.
 */
#ifndef QR_PLOG_TESTLIB_H
#define QR_PLOG_TESTLIB_H

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "crc32c.h"
#include "partlog.h"

static inline void tl_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void tl_put64(uint8_t *p, uint64_t v)
{
    tl_put32(p, (uint32_t)(v >> 32));
    tl_put32(p + 4, (uint32_t)v);
}

static inline uint32_t tl_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline size_t tl_varint(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* Builds a batch of `nrec` records, each with a value of `vlen` bytes of
 * `fill` (no key, no headers), timestamps ts, ts+1, ... Returns its size;
 * `out` must hold 61 + nrec * (vlen + 32) bytes. */
static inline size_t tl_batch(uint8_t *out, int nrec, int64_t ts, size_t vlen,
                              uint8_t fill)
{
    size_t pos = QR_BATCH_HEADER_SIZE;
    for (int i = 0; i < nrec; i++) {
        uint8_t body[32 + 16];
        size_t b = 0;
        body[b++] = 0;                /* attributes */
        b += tl_varint(body + b, i);  /* timestamp delta */
        b += tl_varint(body + b, i);  /* offset delta */
        b += tl_varint(body + b, -1); /* key: null */
        b += tl_varint(body + b, (int64_t)vlen);
        size_t total = b + vlen + 1; /* + headers count */
        pos += tl_varint(out + pos, (int64_t)total);
        memcpy(out + pos, body, b);
        pos += b;
        memset(out + pos, fill, vlen);
        pos += vlen;
        pos += tl_varint(out + pos, 0); /* headers */
    }
    memset(out, 0, QR_BATCH_HEADER_SIZE);
    tl_put32(out + QR_BATCH_OFF_LENGTH,
             (uint32_t)(pos - QR_BATCH_LOG_OVERHEAD));
    tl_put32(out + QR_BATCH_OFF_LEADER_EPOCH, 0);
    out[QR_BATCH_OFF_MAGIC] = QR_BATCH_MAGIC;
    tl_put32(out + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(nrec - 1));
    tl_put64(out + QR_BATCH_OFF_FIRST_TIMESTAMP, (uint64_t)ts);
    tl_put64(out + QR_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)(ts + nrec - 1));
    tl_put64(out + QR_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    out[QR_BATCH_OFF_PRODUCER_EPOCH] = 0xff;
    out[QR_BATCH_OFF_PRODUCER_EPOCH + 1] = 0xff;
    tl_put32(out + QR_BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    tl_put32(out + QR_BATCH_OFF_RECORD_COUNT, (uint32_t)nrec);
    tl_put32(out + QR_BATCH_OFF_CRC, qr_crc32c(0, out + QR_BATCH_OFF_ATTRIBUTES,
                                               pos - QR_BATCH_OFF_ATTRIBUTES));
    return pos;
}

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string. */
static inline char *tl_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/qr-plog-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

/* rm -r of a directory two levels deep (log dir / partition dirs). */
static inline void tl_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            tl_rmtree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Small segments so tests roll often. */
static inline void tl_conf(qr_plog_conf_t *conf, int64_t segment_bytes,
                           int64_t index_interval)
{
    qr_plog_conf_defaults(conf);
    conf->segment_bytes = segment_bytes;
    conf->index_interval_bytes = index_interval;
    conf->index_size_max_bytes = 4096;
}

static inline qr_plog_t *tl_open(const char *dir, const char *topic,
                                 const qr_plog_conf_t *conf, int clean,
                                 int64_t rp, qr_flusher_t *fl)
{
    qr_plog_open_opts_t o = {
        .clean = clean, .recovery_point = rp, .create = 1, .flusher = fl};
    char errstr[256] = "";
    qr_plog_t *part = NULL;
    quire_err_t err =
        qr_plog_open(dir, topic, 0, conf, &o, &part, errstr, sizeof(errstr));
    ck_assert_msg(err == QUIRE_ERR_NONE, "open: %s: %s", quire_err2name(err),
                  errstr);
    return part;
}

/* Reads the batch at the slice's start and checks it is a whole valid
 * batch holding `offset`; returns its size. */
static inline size_t tl_check_slice(const qr_plog_slice_t *s, int64_t offset)
{
    ck_assert_int_gt(s->len, 0);
    uint8_t *buf = malloc(s->len);
    ck_assert_int_eq(pread(s->fd, buf, s->len, (off_t)s->pos), (ssize_t)s->len);
    size_t off = 0;
    int first = 1;
    while (off < s->len) {
        qr_batch_hdr_t hdr;
        const char *why = NULL;
        ck_assert_int_eq(qr_batch_validate(buf + off, s->len - off,
                                           QR_BATCH_CHECK_CRC, &hdr, &why),
                         QUIRE_ERR_NONE);
        if (first) {
            ck_assert_int_le(hdr.base_offset, offset);
            ck_assert_int_ge(qr_batch_last_offset(&hdr), offset);
            ck_assert_int_eq(hdr.base_offset, s->base_offset);
            first = 0;
        }
        off += qr_batch_size(&hdr);
    }
    ck_assert_uint_eq(off, s->len);
    free(buf);
    return s->len;
}

#endif /* QR_PLOG_TESTLIB_H */
