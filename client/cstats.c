/*
 * cstats: the client's counters and the statistics document (cstats.h).
 *
 * The topic table is a short array searched by name once per delivered
 * batch (never per record); partitions index a grown array.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cstats.h"

typedef struct cs_part {
    int64_t txmsgs, txbytes;
    int used;
} cs_part_t;

typedef struct cs_topic {
    char *name;
    cs_part_t *parts;
    int32_t part_cap;
    int64_t raw_bytes, wire_bytes; /* this interval: compression ratio */
    qr_cstats_window_t batchsize;  /* wire bytes per batch */
    qr_cstats_window_t batchcnt;   /* records per batch */
} cs_topic_t;

struct qr_cstats {
    int64_t start_us; /* monotonic, at creation: "age" */
    int64_t txmsgs, txmsg_bytes;
    cs_topic_t **topics;
    size_t topic_cnt, topic_cap;
};

/* Partitions beyond this are not counted (a bogus id must not make us
 * allocate gigabytes). */
#define PART_MAX 100000

qr_cstats_t *qr_cstats_new(void)
{
    qr_cstats_t *st = calloc(1, sizeof(*st));

    if (st)
        st->start_us = qr_clock_mono_ns() / 1000;
    return st;
}

void qr_cstats_destroy(qr_cstats_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->topic_cnt; i++) {
        free(st->topics[i]->name);
        free(st->topics[i]->parts);
        free(st->topics[i]);
    }
    free(st->topics);
    free(st);
}

void qr_cstats_window_add(qr_cstats_window_t *w, int64_t v)
{
    if (w->cnt == 0 || v < w->min)
        w->min = v;
    if (w->cnt == 0 || v > w->max)
        w->max = v;
    w->samples[w->cnt % QR_CSTATS_WINDOW_SAMPLES] = v;
    w->sum += v;
    w->cnt++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* {min, max, avg, sum, cnt, p50, p75, p90, p95, p99} of @p w, which is
 * then reset (librdkafka's window fields). */
static json_t *window_take(qr_cstats_window_t *w)
{
    static const struct {
        const char *name;
        int pct;
    } pcts[] = {
        {"p50", 50}, {"p75", 75}, {"p90", 90}, {"p95", 95}, {"p99", 99}};
    size_t n = w->cnt < QR_CSTATS_WINDOW_SAMPLES ? (size_t)w->cnt
                                                 : QR_CSTATS_WINDOW_SAMPLES;
    json_t *o = json_object();

    if (!o)
        return NULL;
    qsort(w->samples, n, sizeof(w->samples[0]), cmp_i64);
    json_object_set_new(o, "min", json_integer(w->min));
    json_object_set_new(o, "max", json_integer(w->max));
    json_object_set_new(o, "avg", json_integer(w->cnt ? w->sum / w->cnt : 0));
    json_object_set_new(o, "sum", json_integer(w->sum));
    json_object_set_new(o, "cnt", json_integer(w->cnt));
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        /* nearest rank */
        size_t rank = n ? ((size_t)pcts[i].pct * n + 99) / 100 : 0;

        json_object_set_new(
            o, pcts[i].name,
            json_integer(n ? w->samples[rank ? rank - 1 : 0] : 0));
    }
    w->min = w->max = w->sum = w->cnt = 0;
    return o;
}

static cs_topic_t *topic_get(qr_cstats_t *st, const char *name)
{
    cs_topic_t *t;

    for (size_t i = 0; i < st->topic_cnt; i++)
        if (!strcmp(st->topics[i]->name, name))
            return st->topics[i];
    if (st->topic_cnt == st->topic_cap) {
        size_t cap = st->topic_cap ? st->topic_cap * 2 : 4;
        cs_topic_t **v = realloc(st->topics, cap * sizeof(*v));

        if (!v)
            return NULL;
        st->topics = v;
        st->topic_cap = cap;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    st->topics[st->topic_cnt++] = t;
    return t;
}

void qr_cstats_produced(qr_cstats_t *st, const char *topic, int32_t partition,
                        int64_t msgs, int64_t raw_bytes, int64_t wire_bytes)
{
    cs_topic_t *t = topic_get(st, topic);

    if (!t || partition < 0 || partition >= PART_MAX)
        return;
    if (partition >= t->part_cap) {
        int32_t cap = partition < 8 ? 8 : partition * 2;
        cs_part_t *v;

        if (cap > PART_MAX)
            cap = PART_MAX;
        v = realloc(t->parts, (size_t)cap * sizeof(*v));
        if (!v)
            return;
        memset(v + t->part_cap, 0, (size_t)(cap - t->part_cap) * sizeof(*v));
        t->parts = v;
        t->part_cap = cap;
    }
    t->parts[partition].used = 1;
    t->parts[partition].txmsgs += msgs;
    t->parts[partition].txbytes += wire_bytes;
    t->raw_bytes += raw_bytes;
    t->wire_bytes += wire_bytes;
    qr_cstats_window_add(&t->batchsize, wire_bytes);
    qr_cstats_window_add(&t->batchcnt, msgs);
    st->txmsgs += msgs;
    st->txmsg_bytes += wire_bytes;
}

void qr_cstats_doc_add(json_t *obj, const char *key, int64_t v)
{
    json_t *cur = json_object_get(obj, key);

    if (json_is_integer(cur))
        json_integer_set(cur, json_integer_value(cur) + v);
    else
        json_object_set_new(obj, key, json_integer(v));
}

json_t *qr_cstats_doc_new(const qr_cstats_t *st, const char *name,
                          const char *client_id, const char *type)
{
    int64_t now_us = qr_clock_mono_ns() / 1000;
    json_t *doc = json_object();

    if (!doc)
        return NULL;
    json_object_set_new(doc, "name", json_string(name));
    json_object_set_new(doc, "client_id", json_string(client_id));
    json_object_set_new(doc, "type", json_string(type));
    json_object_set_new(doc, "ts", json_integer(now_us));
    json_object_set_new(doc, "time", json_integer((json_int_t)time(NULL)));
    json_object_set_new(doc, "age", json_integer(now_us - st->start_us));
    json_object_set_new(doc, "tx", json_integer(0));
    json_object_set_new(doc, "tx_bytes", json_integer(0));
    json_object_set_new(doc, "rx", json_integer(0));
    json_object_set_new(doc, "rx_bytes", json_integer(0));
    json_object_set_new(doc, "txmsgs", json_integer(st->txmsgs));
    json_object_set_new(doc, "txmsg_bytes", json_integer(st->txmsg_bytes));
    json_object_set_new(doc, "rxmsgs", json_integer(0));
    json_object_set_new(doc, "rxmsg_bytes", json_integer(0));
    json_object_set_new(doc, "brokers", json_object());
    json_object_set_new(doc, "topics", json_object());
    return doc;
}

void qr_cstats_doc_broker(json_t *doc, qr_cstats_broker_t *bs, const char *name,
                          int32_t nodeid, const char *source, const char *state,
                          int outbuf_cnt, int waitresp_cnt)
{
    json_t *o = json_object();

    if (!o)
        return;
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "nodeid", json_integer(nodeid));
    json_object_set_new(o, "source", json_string(source));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "outbuf_cnt", json_integer(outbuf_cnt));
    json_object_set_new(o, "waitresp_cnt", json_integer(waitresp_cnt));
    json_object_set_new(o, "tx", json_integer(bs->tx));
    json_object_set_new(o, "txbytes", json_integer(bs->txbytes));
    json_object_set_new(o, "txerrs", json_integer(bs->txerrs));
    json_object_set_new(o, "rx", json_integer(bs->rx));
    json_object_set_new(o, "rxbytes", json_integer(bs->rxbytes));
    json_object_set_new(o, "rxerrs", json_integer(bs->rxerrs));
    json_object_set_new(o, "req_timeouts", json_integer(bs->req_timeouts));
    json_object_set_new(o, "connects", json_integer(bs->connects));
    json_object_set_new(o, "disconnects", json_integer(bs->disconnects));
    json_object_set_new(o, "rtt", window_take(&bs->rtt));
    json_object_set_new(json_object_get(doc, "brokers"), name, o);
    qr_cstats_doc_add(doc, "tx", bs->tx);
    qr_cstats_doc_add(doc, "tx_bytes", bs->txbytes);
    qr_cstats_doc_add(doc, "rx", bs->rx);
    qr_cstats_doc_add(doc, "rx_bytes", bs->rxbytes);
}

static json_t *doc_topic(json_t *doc, const char *topic)
{
    json_t *topics = json_object_get(doc, "topics");
    json_t *t = json_object_get(topics, topic);

    if (t)
        return t;
    t = json_object();
    if (!t)
        return NULL;
    json_object_set_new(t, "topic", json_string(topic));
    json_object_set_new(t, "partitions", json_object());
    if (json_object_set_new(topics, topic, t) != 0)
        return NULL;
    return t;
}

json_t *qr_cstats_doc_part(json_t *doc, const char *topic, int32_t partition)
{
    json_t *t = doc_topic(doc, topic), *parts, *p;
    char key[16];

    if (!t)
        return NULL;
    parts = json_object_get(t, "partitions");
    snprintf(key, sizeof(key), "%d", (int)partition);
    p = json_object_get(parts, key);
    if (p)
        return p;
    p = json_object();
    if (!p)
        return NULL;
    json_object_set_new(p, "partition", json_integer(partition));
    if (json_object_set_new(parts, key, p) != 0)
        return NULL;
    return p;
}

void qr_cstats_doc_topics(json_t *doc, qr_cstats_t *st, int64_t batch_size)
{
    for (size_t i = 0; i < st->topic_cnt; i++) {
        cs_topic_t *t = st->topics[i];
        json_t *to = doc_topic(doc, t->name);
        int64_t raw_avg;

        if (!to)
            continue;
        raw_avg = t->batchcnt.cnt ? t->raw_bytes / t->batchcnt.cnt : 0;
        json_object_set_new(to, "batch_fill",
                            json_real(batch_size > 0
                                          ? (double)raw_avg / (double)batch_size
                                          : 0.));
        json_object_set_new(
            to, "compression_ratio",
            json_real(t->raw_bytes > 0
                          ? (double)t->wire_bytes / (double)t->raw_bytes
                          : 1.));
        t->raw_bytes = t->wire_bytes = 0;
        json_object_set_new(to, "batchsize", window_take(&t->batchsize));
        json_object_set_new(to, "batchcnt", window_take(&t->batchcnt));
        for (int32_t p = 0; p < t->part_cap; p++) {
            json_t *po;

            if (!t->parts[p].used)
                continue;
            po = qr_cstats_doc_part(doc, t->name, p);
            if (!po)
                continue;
            json_object_set_new(po, "txmsgs", json_integer(t->parts[p].txmsgs));
            json_object_set_new(po, "txbytes",
                                json_integer(t->parts[p].txbytes));
        }
    }
}
