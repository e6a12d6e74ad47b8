/*
 * loadfmt: Avro, JSON and text record files (loadfmt.h).
 */
#include "config.h"

#include <avro.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "loadfmt.h"

/* Kafka's record, as the HDFS connector's Avro files carry it, plus where
 * it came from. Header values are nullable as Kafka's are; a header key
 * given twice keeps its last value (an Avro map has unique keys). */
const char qr_lfmt_avro_schema[] =
    "{\"type\":\"record\",\"name\":\"Record\",\"namespace\":\"quire\","
    "\"fields\":["
    "{\"name\":\"topic\",\"type\":\"string\"},"
    "{\"name\":\"partition\",\"type\":\"int\"},"
    "{\"name\":\"offset\",\"type\":\"long\"},"
    "{\"name\":\"timestamp\",\"type\":{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"key\",\"type\":[\"null\",\"bytes\"]},"
    "{\"name\":\"value\",\"type\":[\"null\",\"bytes\"]},"
    "{\"name\":\"headers\",\"type\":{\"type\":\"map\","
    "\"values\":[\"null\",\"bytes\"]}}]}";

/* Avro blocks of 4 MiB: fewer, larger blocks read and write faster, and a
 * record (at most message.max.bytes, 1 MiB by default) must fit in one. */
#define AVRO_BLOCK_SIZE (4 * 1024 * 1024)

struct qr_lwriter {
    qr_lfmt_t fmt;
    char *path;
    FILE *fp; /* json, text */
    avro_schema_t schema;
    avro_file_writer_t avro;
    uint8_t *enc; /* one encoded record */
    size_t enc_len, enc_cap;
};

qr_lwriter_t *qr_lwriter_open(qr_lfmt_t fmt, int deflate, const char *path,
                              char *errstr, size_t errstr_size)
{
    qr_lwriter_t *w = qr_calloc(1, sizeof(*w));
    w->fmt = fmt;
    w->path = qr_strdup(path);
    if (fmt != QR_LFMT_AVRO) {
        w->fp = fopen(path, "w");
        if (!w->fp) {
            snprintf(errstr, errstr_size, "cannot create %s: %s", path,
                     strerror(errno));
            free(w->path);
            free(w);
            return NULL;
        }
        setvbuf(w->fp, NULL, _IOFBF, 1 << 20);
        return w;
    }
    if (avro_schema_from_json_length(qr_lfmt_avro_schema,
                                     sizeof(qr_lfmt_avro_schema) - 1,
                                     &w->schema) != 0) {
        snprintf(errstr, errstr_size, "Avro schema: %s", avro_strerror());
        free(w->path);
        free(w);
        return NULL;
    }
    unlink(path); /* libavro refuses nothing, but start from nothing */
    if (avro_file_writer_create_with_codec(path, w->schema, &w->avro,
                                           deflate ? "deflate" : "null",
                                           AVRO_BLOCK_SIZE) != 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", path,
                 avro_strerror());
        avro_schema_decref(w->schema);
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

/* ---- Avro binary encoding of one record ----
 *
 * libavro writes the container (header, blocks, sync markers, codec); the
 * datum itself is encoded here, straight from the record's views, which
 * costs a fraction of libavro's generic value API (one dispatch per field,
 * a copy of every bytes value). Avro's rules: int and long as zig-zag
 * varints, bytes and string as a long length then the bytes, a union as
 * the branch's index then its value, a map as blocks (a count, then key
 * and value pairs) ended by a zero count. */

static void enc_reserve(qr_lwriter_t *w, size_t more)
{
    if (w->enc_len + more <= w->enc_cap)
        return;
    while (w->enc_len + more > w->enc_cap)
        w->enc_cap = w->enc_cap ? w->enc_cap * 2 : 4096;
    w->enc = qr_realloc(w->enc, w->enc_cap);
}

static void enc_long(qr_lwriter_t *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    enc_reserve(w, 10);
    while (z > 0x7f) {
        w->enc[w->enc_len++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    w->enc[w->enc_len++] = (uint8_t)z;
}

static void enc_bytes(qr_lwriter_t *w, const void *p, size_t len)
{
    enc_long(w, (int64_t)len);
    enc_reserve(w, len);
    if (len)
        memcpy(w->enc + w->enc_len, p, len);
    w->enc_len += len;
}

/* union ["null", "bytes"] */
static void enc_nbytes(qr_lwriter_t *w, const void *p, size_t len)
{
    enc_long(w, p ? 1 : 0);
    if (p)
        enc_bytes(w, p, len);
}

/* Fields in qr_lfmt_avro_schema's order. */
static void avro_encode(qr_lwriter_t *w, const quire_record_t *rec)
{
    w->enc_len = 0;
    enc_bytes(w, rec->topic, strlen(rec->topic));
    enc_long(w, rec->partition);
    enc_long(w, rec->offset);
    enc_long(w, rec->timestamp);
    enc_nbytes(w, rec->key, rec->key_len);
    enc_nbytes(w, rec->value, rec->value_len);
    if (rec->header_cnt) {
        enc_long(w, (int64_t)rec->header_cnt);
        for (size_t i = 0; i < rec->header_cnt; i++) {
            enc_bytes(w, rec->headers[i].key, strlen(rec->headers[i].key));
            enc_nbytes(w, rec->headers[i].value, rec->headers[i].value_len);
        }
    }
    enc_long(w, 0);
}

/* ---- JSON ---- */

static char *base64(const void *data, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = qr_malloc((len + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < len) {
        uint32_t v =
            (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static json_t *json_b64(const void *p, size_t len)
{
    if (!p)
        return json_null();
    char *s = base64(p, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static int json_line(FILE *fp, const quire_record_t *rec)
{
    json_t *h = json_object();
    for (size_t i = 0; i < rec->header_cnt; i++)
        json_object_set_new(
            h, rec->headers[i].key,
            json_b64(rec->headers[i].value, rec->headers[i].value_len));
    json_t *o = json_pack(
        "{s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "topic", rec->topic, "partition",
        (int)rec->partition, "offset", (json_int_t)rec->offset, "timestamp",
        (json_int_t)rec->timestamp, "key", json_b64(rec->key, rec->key_len),
        "value", json_b64(rec->value, rec->value_len), "headers", h);
    int rc = !o || json_dumpf(o, fp, JSON_COMPACT) != 0 || putc('\n', fp) < 0;
    json_decref(o);
    return rc ? -1 : 0;
}

/* ---- text and Streaming lines ---- */

/* Writes @p p escaped for a tab-separated line (\N for null). */
static void put_escaped(FILE *fp, const void *p, size_t len)
{
    const unsigned char *s = p;
    if (!p) {
        fputs("\\N", fp);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\\':
            fputs("\\\\", fp);
            break;
        case '\t':
            fputs("\\t", fp);
            break;
        case '\n':
            fputs("\\n", fp);
            break;
        case '\r':
            fputs("\\r", fp);
            break;
        default:
            putc(s[i], fp);
        }
    }
}

int qr_lfmt_line(FILE *fp, qr_lfmt_t fmt, const quire_record_t *rec)
{
    if (fmt == QR_LFMT_JSON)
        return json_line(fp, rec);
    if (fmt == QR_LFMT_AVRO)
        fprintf(fp, "%s\t%d\t%lld\t%lld\t", rec->topic, (int)rec->partition,
                (long long)rec->offset, (long long)rec->timestamp);
    if (fmt == QR_LFMT_AVRO) {
        put_escaped(fp, rec->key, rec->key_len);
        putc('\t', fp);
    }
    put_escaped(fp, rec->value, rec->value_len);
    return putc('\n', fp) < 0 ? -1 : 0;
}

size_t qr_lfmt_record_bytes(const quire_record_t *rec)
{
    size_t n = rec->key_len + rec->value_len;
    for (size_t i = 0; i < rec->header_cnt; i++)
        n += strlen(rec->headers[i].key) + rec->headers[i].value_len;
    return n;
}

/* ---- writers ---- */

quire_err_t qr_lwriter_append(qr_lwriter_t *w, const quire_record_t *rec,
                              char *errstr, size_t errstr_size)
{
    int rc;
    switch (w->fmt) {
    case QR_LFMT_AVRO:
        avro_encode(w, rec);
        rc = avro_file_writer_append_encoded(w->avro, w->enc,
                                             (int64_t)w->enc_len);
        if (rc) {
            snprintf(errstr, errstr_size, "writing %s: %s", w->path,
                     avro_strerror());
            return QUIRE_ERR_IO;
        }
        return QUIRE_ERR_NONE;
    case QR_LFMT_JSON:
        rc = json_line(w->fp, rec);
        break;
    default: /* text: the value as a line; a null value is an empty line */
        rc = (rec->value &&
              fwrite(rec->value, 1, rec->value_len, w->fp) != rec->value_len) ||
             putc('\n', w->fp) < 0;
        break;
    }
    if (rc) {
        snprintf(errstr, errstr_size, "writing %s: %s", w->path,
                 strerror(errno));
        return QUIRE_ERR_IO;
    }
    return QUIRE_ERR_NONE;
}

/* fsync of the finished file, through a descriptor of its own (libavro
 * closes its FILE itself). */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

quire_err_t qr_lwriter_close(qr_lwriter_t *w, char *errstr, size_t errstr_size)
{
    int rc;
    if (w->fmt == QR_LFMT_AVRO) {
        rc = avro_file_writer_close(w->avro);
        if (rc)
            snprintf(errstr, errstr_size, "writing %s: %s", w->path,
                     avro_strerror());
        avro_schema_decref(w->schema);
        free(w->enc);
    } else {
        rc = fclose(w->fp);
        if (rc)
            snprintf(errstr, errstr_size, "writing %s: %s", w->path,
                     strerror(errno));
    }
    if (!rc && sync_path(w->path) != 0) {
        snprintf(errstr, errstr_size, "fsync %s: %s", w->path, strerror(errno));
        rc = -1;
    }
    free(w->path);
    free(w);
    return rc ? QUIRE_ERR_IO : QUIRE_ERR_NONE;
}
