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

/* Avro blocks of 1 MiB: fewer, larger blocks read and write faster. */
#define AVRO_BLOCK_SIZE (1024 * 1024)

struct qr_lwriter {
    qr_lfmt_t fmt;
    char *path;
    FILE *fp; /* json, text */
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    avro_file_writer_t avro;
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
    w->iface = avro_generic_class_from_schema(w->schema);
    avro_generic_value_new(w->iface, &w->value);
    unlink(path); /* libavro refuses nothing, but start from nothing */
    if (avro_file_writer_create_with_codec(path, w->schema, &w->avro,
                                           deflate ? "deflate" : "null",
                                           AVRO_BLOCK_SIZE) != 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", path,
                 avro_strerror());
        avro_value_decref(&w->value);
        avro_value_iface_decref(w->iface);
        avro_schema_decref(w->schema);
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

/* A nullable bytes field (union null|bytes). */
static int set_nbytes(avro_value_t *v, const void *p, size_t len)
{
    avro_value_t branch;
    if (!p)
        return avro_value_set_branch(v, 0, &branch) ||
               avro_value_set_null(&branch);
    return avro_value_set_branch(v, 1, &branch) ||
           avro_value_set_bytes(&branch, (void *)p, len);
}

/* Fields by index, in qr_lfmt_avro_schema's order (no name lookups). */
static int avro_fill(qr_lwriter_t *w, const quire_record_t *rec)
{
    avro_value_t f;
    int rc = 0;
    avro_value_reset(&w->value);
    rc |= avro_value_get_by_index(&w->value, 0, &f, NULL) ||
          avro_value_set_string_len(&f, rec->topic, strlen(rec->topic) + 1);
    rc |= avro_value_get_by_index(&w->value, 1, &f, NULL) ||
          avro_value_set_int(&f, rec->partition);
    rc |= avro_value_get_by_index(&w->value, 2, &f, NULL) ||
          avro_value_set_long(&f, rec->offset);
    rc |= avro_value_get_by_index(&w->value, 3, &f, NULL) ||
          avro_value_set_long(&f, rec->timestamp);
    rc |= avro_value_get_by_index(&w->value, 4, &f, NULL) ||
          set_nbytes(&f, rec->key, rec->key_len);
    rc |= avro_value_get_by_index(&w->value, 5, &f, NULL) ||
          set_nbytes(&f, rec->value, rec->value_len);
    rc |= avro_value_get_by_index(&w->value, 6, &f, NULL);
    for (size_t i = 0; rc == 0 && i < rec->header_cnt; i++) {
        avro_value_t hv;
        const quire_header_t *h = &rec->headers[i];
        rc |= avro_value_add(&f, h->key, &hv, NULL, NULL) ||
              set_nbytes(&hv, h->value, h->value_len);
    }
    return rc;
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
        rc = avro_fill(w, rec) ||
             avro_file_writer_append_value(w->avro, &w->value);
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
        avro_value_decref(&w->value);
        avro_value_iface_decref(w->iface);
        avro_schema_decref(w->schema);
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
