/*
 * partlist: Kafka's admin partition lists. See partlist.h.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "partlist.h"
#include "topic.h"

int qr_partlist_has_id(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

void qr_partlist_add(qr_partlist_t *pl, const char *topic, int32_t partition,
                     const int32_t *ids, size_t n)
{
    qr_partlist_entry_t *e;

    pl->v = qr_realloc(pl->v, (pl->n + 1) * sizeof(*pl->v));
    e = &pl->v[pl->n++];
    e->topic = qr_strdup(topic);
    e->partition = partition;
    e->replicas.n = n;
    e->replicas.ids = NULL;
    if (n) {
        e->replicas.ids = qr_malloc(n * sizeof(int32_t));
        memcpy(e->replicas.ids, ids, n * sizeof(int32_t));
    }
}

qr_partlist_entry_t *qr_partlist_find(const qr_partlist_t *pl,
                                      const char *topic, int32_t partition)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->v[i].partition == partition &&
            strcmp(pl->v[i].topic, topic) == 0)
            return &pl->v[i];
    return NULL;
}

void qr_partlist_remove(qr_partlist_t *pl, size_t i)
{
    free(pl->v[i].topic);
    free(pl->v[i].replicas.ids);
    memmove(&pl->v[i], &pl->v[i + 1], (pl->n - i - 1) * sizeof(*pl->v));
    pl->n--;
}

void qr_partlist_free(qr_partlist_t *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->v[i].topic);
        free(pl->v[i].replicas.ids);
    }
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}

/* "replicas" of entry @p i: ids >= 0, none twice, 1..QR_ASSIGN_MAX_REPLICAS. */
static quire_err_t decode_replicas(json_t *arr, size_t i, int32_t *ids,
                                   size_t *n, char *errstr, size_t errstr_size)
{
    size_t cnt = json_is_array(arr) ? json_array_size(arr) : 0;

    if (cnt == 0 || cnt > QR_ASSIGN_MAX_REPLICAS) {
        snprintf(errstr, errstr_size,
                 "partitions[%zu]: \"replicas\" must be a list of 1 to %d "
                 "broker ids",
                 i, QR_ASSIGN_MAX_REPLICAS);
        return QUIRE_ERR_BAD_JSON;
    }
    for (size_t j = 0; j < cnt; j++) {
        json_t *v = json_array_get(arr, j);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id > INT32_MAX) {
            snprintf(errstr, errstr_size,
                     "partitions[%zu]: replicas[%zu] is not a broker id", i, j);
            return QUIRE_ERR_BAD_JSON;
        }
        for (size_t k = 0; k < j; k++)
            if (ids[k] == (int32_t)id) {
                snprintf(errstr, errstr_size,
                         "partitions[%zu]: broker %d is listed twice in "
                         "\"replicas\"",
                         i, (int)id);
                return QUIRE_ERR_BAD_JSON;
            }
        ids[j] = (int32_t)id;
    }
    *n = cnt;
    return QUIRE_ERR_NONE;
}

static quire_err_t decode_entry(json_t *e, size_t i, int with_replicas,
                                qr_partlist_t *out, char *errstr,
                                size_t errstr_size)
{
    json_t *t = json_object_get(e, "topic"),
           *p = json_object_get(e, "partition");
    int32_t ids[QR_ASSIGN_MAX_REPLICAS];
    const char *topic, *why = NULL;
    json_int_t part;
    size_t n = 0;
    quire_err_t err;

    if (!json_is_object(e) || !json_is_string(t) || !json_is_integer(p)) {
        snprintf(errstr, errstr_size,
                 "partitions[%zu]: expected {\"topic\":..., \"partition\":...}",
                 i);
        return QUIRE_ERR_BAD_JSON;
    }
    topic = json_string_value(t);
    part = json_integer_value(p);
    if (qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "partitions[%zu]: topic \"%.64s\": %s", i,
                 topic, why);
        return QUIRE_ERR_BAD_JSON;
    }
    if (part < 0 || part >= QR_ASSIGN_MAX_PARTITIONS) {
        snprintf(errstr, errstr_size,
                 "partitions[%zu]: partition %lld of %s "
                 "out of range",
                 i, (long long)part, topic);
        return QUIRE_ERR_BAD_JSON;
    }
    if (qr_partlist_find(out, topic, (int32_t)part)) {
        snprintf(errstr, errstr_size,
                 "partitions[%zu]: %s-%lld is listed twice", i, topic,
                 (long long)part);
        return QUIRE_ERR_BAD_JSON;
    }
    if (with_replicas &&
        (err = decode_replicas(json_object_get(e, "replicas"), i, ids, &n,
                               errstr, errstr_size)))
        return err;
    qr_partlist_add(out, topic, (int32_t)part, ids, n);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_partlist_decode(const char *data, size_t len, int with_replicas,
                               qr_partlist_t *out, char *errstr,
                               size_t errstr_size)
{
    json_error_t jerr;
    json_t *root, *ver, *parts;
    quire_err_t err = QUIRE_ERR_NONE;

    memset(out, 0, sizeof(*out));
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(errstr, errstr_size, "not JSON: %s (line %d)", jerr.text,
                 jerr.line);
        return QUIRE_ERR_BAD_JSON;
    }
    ver = json_object_get(root, "version");
    parts = json_object_get(root, "partitions");
    if (!json_is_object(root) ||
        (ver && (!json_is_integer(ver) || json_integer_value(ver) != 1)) ||
        !json_is_array(parts)) {
        snprintf(errstr, errstr_size,
                 "expected {\"version\":1,\"partitions\":[...]}");
        err = QUIRE_ERR_BAD_JSON;
    }
    for (size_t i = 0; !err && i < json_array_size(parts); i++)
        err = decode_entry(json_array_get(parts, i), i, with_replicas, out,
                           errstr, errstr_size);
    json_decref(root);
    if (err)
        qr_partlist_free(out);
    return err;
}

char *qr_partlist_encode(const qr_partlist_t *pl, int with_replicas)
{
    json_t *root = json_object(), *parts = json_array();
    char *s;

    for (size_t i = 0; i < pl->n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "topic", json_string(pl->v[i].topic));
        json_object_set_new(e, "partition", json_integer(pl->v[i].partition));
        if (with_replicas) {
            json_t *r = json_array();
            for (size_t j = 0; j < pl->v[i].replicas.n; j++)
                json_array_append_new(r,
                                      json_integer(pl->v[i].replicas.ids[j]));
            json_object_set_new(e, "replicas", r);
        }
        json_array_append_new(parts, e);
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "partitions", parts);
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        abort(); /* jansson fails only out of memory */
    return s;
}
