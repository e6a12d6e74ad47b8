/*
 * znode: paths and JSON of the ZooKeeper layout. See znode.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "topic.h"
#include "znode.h"

const char *const qr_znode_roots[] = {
    QR_ZNODE_BROKERS,
    QR_ZNODE_BROKER_IDS,
    QR_ZNODE_TOPICS,
    QR_ZNODE_CONFIG,
    QR_ZNODE_CONFIG_TOPICS,
    QR_ZNODE_ADMIN,
    QR_ZNODE_DELETE_TOPICS,
    QR_ZNODE_CONSUMERS,
    /* replication (issue 16) */
    QR_ZNODE_ISR_CHANGE,
    QR_ZNODE_CONTROLLED_SHUTDOWN,
};
const size_t qr_znode_root_cnt = QR_ARRAY_LEN(qr_znode_roots);

/* ---- paths ---- */

static char *path_fmt(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *path_fmt(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = qr_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *qr_znode_broker_path(int32_t id)
{
    return path_fmt(QR_ZNODE_BROKER_IDS "/%" PRId32, id);
}

char *qr_znode_topic_path(const char *topic)
{
    return path_fmt(QR_ZNODE_TOPICS "/%s", topic);
}

char *qr_znode_partitions_path(const char *topic)
{
    return path_fmt(QR_ZNODE_TOPICS "/%s/partitions", topic);
}

char *qr_znode_partition_path(const char *topic, int32_t partition)
{
    return path_fmt(QR_ZNODE_TOPICS "/%s/partitions/%" PRId32, topic,
                    partition);
}

char *qr_znode_state_path(const char *topic, int32_t partition)
{
    return path_fmt(QR_ZNODE_TOPICS "/%s/partitions/%" PRId32 "/state", topic,
                    partition);
}

char *qr_znode_config_path(const char *topic)
{
    return path_fmt(QR_ZNODE_CONFIG_TOPICS "/%s", topic);
}

char *qr_znode_delete_path(const char *topic)
{
    return path_fmt(QR_ZNODE_DELETE_TOPICS "/%s", topic);
}

char *qr_znode_controlled_shutdown_path(int32_t id)
{
    return path_fmt(QR_ZNODE_CONTROLLED_SHUTDOWN "/%" PRId32, id);
}

char *qr_znode_delete_ack_path(const char *topic, int32_t id)
{
    return path_fmt(QR_ZNODE_DELETE_TOPICS "/%s/%" PRId32, topic, id);
}

int qr_znode_parse_id(const char *s, int32_t *out)
{
    int64_t v = 0;

    if (!*s || (s[0] == '0' && s[1]))
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > INT32_MAX)
            return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* ---- JSON helpers ---- */

static char *dump(json_t *root)
{
    char *s = json_dumps(root, JSON_COMPACT);

    if (!s)
        abort(); /* jansson fails only when out of memory */
    json_decref(root);
    return s;
}

static quire_err_t bad(char *errstr, size_t errstr_size, const char *what,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static quire_err_t bad(char *errstr, size_t errstr_size, const char *what,
                       const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(errstr, errstr_size, "%s: ", what);

    if (n >= 0 && (size_t)n < errstr_size) {
        va_start(ap, fmt);
        vsnprintf(errstr + n, errstr_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return QUIRE_ERR_BAD_JSON;
}

/* Parses @p data as a JSON object with "version": 1. */
static json_t *load_obj(const char *data, int len, const char *what,
                        char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root, *ver;

    if (!data || len <= 0) {
        bad(errstr, errstr_size, what, "no data");
        return NULL;
    }
    root = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        bad(errstr, errstr_size, what, "not JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        bad(errstr, errstr_size, what, "not a JSON object");
        json_decref(root);
        return NULL;
    }
    ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        bad(errstr, errstr_size, what, "\"version\" is not 1");
        json_decref(root);
        return NULL;
    }
    return root;
}

static int get_int(json_t *obj, const char *key, int64_t min, int64_t max,
                   int64_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return *out < min || *out > max ? -1 : 0;
}

/* Kafka writes timestamps as a decimal string; accept an integer too. */
static int64_t get_timestamp(json_t *obj)
{
    json_t *v = json_object_get(obj, "timestamp");

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long ts;
        errno = 0;
        ts = strtoll(json_string_value(v), &end, 10);
        if (errno == 0 && *end == '\0')
            return ts;
    }
    return 0;
}

/* Reads a JSON array of distinct non-negative ints into ids (n elements,
 * 1..max when nonempty, 0..max otherwise). */
static int get_ids(json_t *arr, int32_t *ids, size_t max, size_t *n,
                   int nonempty)
{
    size_t cnt;

    if (!json_is_array(arr))
        return -1;
    cnt = json_array_size(arr);
    if (cnt > max || (nonempty && cnt == 0))
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(arr, i);
        json_int_t id;
        if (!json_is_integer(v))
            return -1;
        id = json_integer_value(v);
        if (id < 0 || id > INT32_MAX)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (ids[j] == id)
                return -1;
        ids[i] = (int32_t)id;
    }
    *n = cnt;
    return 0;
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_integer(ids[i]));
    return arr;
}

static json_t *ts_json(int64_t ts_ms)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRId64, ts_ms);
    return json_string(buf);
}

/* ---- brokers/ids ---- */

char *qr_znode_broker_encode(const char *host, int port, int64_t ts_ms)
{
    return qr_znode_broker_encode_ep(host, port, 0, ts_ms);
}

/* "NAME://host:port"; an IPv6 address in brackets */
static json_t *endpoint_json(const char *name, const char *host, int port)
{
    char buf[320];

    snprintf(buf, sizeof(buf),
             strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", name, host,
             port);
    return json_string(buf);
}

char *qr_znode_broker_encode_ep(const char *host, int port, int kafka_port,
                                int64_t ts_ms)
{
    json_t *root = json_object(), *eps, *map;

    /* version stays 1: every quire reader (an older broker in a rolling
     * upgrade too) refuses others; Kafka's own readers take host and port
     * from a version-1 node, and the endpoints are there for tools */
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "host", json_string(host));
    json_object_set_new(root, "port", json_integer(port));
    json_object_set_new(root, "jmx_port", json_integer(-1));
    json_object_set_new(root, "timestamp", ts_json(ts_ms));
    if (kafka_port) {
        eps = json_array();
        map = json_object();
        json_array_append_new(eps, endpoint_json("PLAINTEXT", host, port));
        json_array_append_new(eps, endpoint_json("KAFKA", host, kafka_port));
        json_object_set_new(map, "PLAINTEXT", json_string("PLAINTEXT"));
        json_object_set_new(map, "KAFKA", json_string("PLAINTEXT"));
        json_object_set_new(root, "endpoints", eps);
        json_object_set_new(root, "listener_security_protocol_map", map);
    }
    return dump(root);
}

/* The port of the KAFKA:// entry of "endpoints", 0 when none (or bad). */
static int kafka_endpoint_port(json_t *root)
{
    json_t *eps = json_object_get(root, "endpoints"), *ep;
    size_t i;

    if (!json_is_array(eps))
        return 0;
    json_array_foreach(eps, i, ep)
    {
        const char *s = json_string_value(ep), *colon;
        char *end;
        long port;
        if (!s || strncmp(s, "KAFKA://", 8) != 0)
            continue;
        colon = strrchr(s + 8, ':');
        if (!colon)
            continue;
        port = strtol(colon + 1, &end, 10);
        if (colon[1] && !*end && port >= 1 && port <= 65535)
            return (int)port;
    }
    return 0;
}

quire_err_t qr_znode_broker_decode(const char *data, int len,
                                   qr_znode_broker_t *out, char *errstr,
                                   size_t errstr_size)
{
    json_t *root =
        load_obj(data, len, "broker registration", errstr, errstr_size);
    json_t *host;
    int64_t port;

    memset(out, 0, sizeof(*out));
    if (!root)
        return QUIRE_ERR_BAD_JSON;
    host = json_object_get(root, "host");
    if (!json_is_string(host) || json_string_length(host) == 0 ||
        json_string_length(host) > 255 ||
        strlen(json_string_value(host)) != json_string_length(host)) {
        json_decref(root);
        return bad(errstr, errstr_size, "broker registration",
                   "\"host\" missing or not a host name");
    }
    if (get_int(root, "port", 1, 65535, &port) != 0) {
        json_decref(root);
        return bad(errstr, errstr_size, "broker registration",
                   "\"port\" missing or not in 1..65535");
    }
    out->host = qr_strdup(json_string_value(host));
    out->port = (int)port;
    out->kafka_port = kafka_endpoint_port(root);
    out->timestamp = get_timestamp(root);
    json_decref(root);
    return QUIRE_ERR_NONE;
}

/* ---- brokers/topics/<t> ---- */

char *qr_znode_topic_encode(const qr_assign_t *a)
{
    json_t *root = json_object(), *parts = json_object();
    char key[24];

    json_object_set_new(root, "version", json_integer(1));
    for (size_t p = 0; p < a->part_cnt; p++) {
        snprintf(key, sizeof(key), "%zu", p);
        json_object_set_new(parts, key,
                            ids_json(a->parts[p].ids, a->parts[p].n));
    }
    json_object_set_new(root, "partitions", parts);
    return dump(root);
}

quire_err_t qr_znode_topic_decode(const char *data, int len, qr_assign_t *out,
                                  char *errstr, size_t errstr_size)
{
    static const char what[] = "topic assignment";
    json_t *root = load_obj(data, len, what, errstr, errstr_size);
    json_t *parts, *val;
    const char *key;
    size_t n;
    int32_t ids[QR_ASSIGN_MAX_REPLICAS];

    memset(out, 0, sizeof(*out));
    if (!root)
        return QUIRE_ERR_BAD_JSON;
    parts = json_object_get(root, "partitions");
    if (!json_is_object(parts) || json_object_size(parts) == 0 ||
        json_object_size(parts) > QR_ASSIGN_MAX_PARTITIONS) {
        json_decref(root);
        return bad(errstr, errstr_size, what,
                   "\"partitions\" missing, empty or too large");
    }
    n = json_object_size(parts);
    out->parts = qr_calloc(n, sizeof(*out->parts));
    out->part_cnt = n;
    json_object_foreach(parts, key, val)
    {
        int32_t p;
        size_t cnt;
        if (qr_znode_parse_id(key, &p) != 0 || (size_t)p >= n ||
            out->parts[p].ids) {
            /* the message first: key lives in root */
            bad(errstr, errstr_size, what,
                "partition \"%.20s\" is not one of 0..%zu", key, n - 1);
            qr_assign_free(out);
            json_decref(root);
            return QUIRE_ERR_BAD_JSON;
        }
        if (get_ids(val, ids, QR_ASSIGN_MAX_REPLICAS, &cnt, 1) != 0) {
            qr_assign_free(out);
            json_decref(root);
            return bad(errstr, errstr_size, what,
                       "partition %d: replicas are not a non-empty list of "
                       "distinct broker ids",
                       (int)p);
        }
        out->parts[p].ids = qr_malloc(cnt * sizeof(int32_t));
        memcpy(out->parts[p].ids, ids, cnt * sizeof(int32_t));
        out->parts[p].n = cnt;
    }
    json_decref(root);
    return QUIRE_ERR_NONE;
}

/* ---- partition state ---- */

char *qr_znode_state_encode(const qr_pstate_t *st)
{
    json_t *root = json_object();

    json_object_set_new(root, "controller_epoch",
                        json_integer(st->controller_epoch));
    json_object_set_new(root, "leader", json_integer(st->leader));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "leader_epoch", json_integer(st->leader_epoch));
    json_object_set_new(root, "isr", ids_json(st->isr, st->isr_cnt));
    return dump(root);
}

quire_err_t qr_znode_state_decode(const char *data, int len, qr_pstate_t *out,
                                  char *errstr, size_t errstr_size)
{
    static const char what[] = "partition state";
    json_t *root = load_obj(data, len, what, errstr, errstr_size);
    int64_t leader = -1, epoch = 0, cepoch = 0;
    quire_err_t err = QUIRE_ERR_NONE;

    memset(out, 0, sizeof(*out));
    if (!root)
        return QUIRE_ERR_BAD_JSON;
    if (get_int(root, "leader", -1, INT32_MAX, &leader) != 0)
        err = bad(errstr, errstr_size, what, "\"leader\" missing or bad");
    else if (get_int(root, "leader_epoch", 0, INT32_MAX, &epoch) != 0)
        err = bad(errstr, errstr_size, what, "\"leader_epoch\" missing or bad");
    else if (json_object_get(root, "controller_epoch") &&
             get_int(root, "controller_epoch", 0, INT32_MAX, &cepoch) != 0)
        err = bad(errstr, errstr_size, what, "\"controller_epoch\" is bad");
    else if (get_ids(json_object_get(root, "isr"), out->isr,
                     QR_ASSIGN_MAX_REPLICAS, &out->isr_cnt, 0) != 0)
        err = bad(errstr, errstr_size, what,
                  "\"isr\" is not a list of distinct broker ids");
    json_decref(root);
    if (err)
        return err;
    out->leader = (int32_t)leader;
    out->leader_epoch = (int32_t)epoch;
    out->controller_epoch = (int32_t)cepoch;
    return QUIRE_ERR_NONE;
}

/* ---- isr_change_notification ---- */

char *qr_znode_isr_change_encode(const char *topic, int32_t partition)
{
    json_t *root = json_object(), *parts = json_array(), *p = json_object();

    json_object_set_new(p, "topic", json_string(topic));
    json_object_set_new(p, "partition", json_integer(partition));
    json_array_append_new(parts, p);
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "partitions", parts);
    return dump(root);
}

/* Most partitions one notification may name (a sanity bound on input). */
#define ISR_CHANGE_MAX 100000

quire_err_t qr_znode_isr_change_decode(const char *data, int len,
                                       char ***topics, int32_t **partitions,
                                       size_t *n, char *errstr,
                                       size_t errstr_size)
{
    static const char what[] = "ISR change notification";
    json_t *root = load_obj(data, len, what, errstr, errstr_size), *arr;
    quire_err_t err = QUIRE_ERR_NONE;
    size_t cnt = 0, k;
    char **t;
    int32_t *p;

    if (!root)
        return QUIRE_ERR_BAD_JSON;
    arr = json_object_get(root, "partitions");
    if (json_is_array(arr))
        cnt = json_array_size(arr);
    if (cnt == 0 || cnt > ISR_CHANGE_MAX) {
        json_decref(root);
        return bad(errstr, errstr_size, what, "\"partitions\" missing or bad");
    }
    t = qr_calloc(cnt, sizeof(*t));
    p = qr_calloc(cnt, sizeof(*p));
    for (k = 0; k < cnt; k++) {
        json_t *e = json_array_get(arr, k);
        json_t *name = json_is_object(e) ? json_object_get(e, "topic") : NULL;
        int64_t part;
        if (!json_is_string(name) ||
            qr_topic_name_check(json_string_value(name),
                                json_string_length(name),
                                NULL) != QUIRE_ERR_NONE ||
            get_int(e, "partition", 0, INT32_MAX, &part) != 0) {
            err = bad(errstr, errstr_size, what, "entry %zu is bad", k);
            break;
        }
        t[k] = qr_strdup(json_string_value(name));
        p[k] = (int32_t)part;
    }
    json_decref(root);
    if (err != QUIRE_ERR_NONE) {
        for (size_t i = 0; i < k; i++)
            free(t[i]);
        free(t);
        free(p);
        return err;
    }
    *topics = t;
    *partitions = p;
    *n = cnt;
    return QUIRE_ERR_NONE;
}

/* ---- topic config ---- */

typedef struct config_key {
    const char *name;
    int64_t min, max;         /* min > max: one of words */
    const char *const *words; /* the accepted words, NULL-terminated */
} config_key_t;

static const char *const cleanup_words[] = {"delete", NULL};
static const char *const ts_type_words[] = {"CreateTime", "LogAppendTime",
                                            NULL};
static const char *const bool_words[] = {"true", "false", NULL};

static const config_key_t config_keys[] = {
    {"retention.ms", -1, INT64_MAX, NULL},
    {"retention.bytes", -1, INT64_MAX, NULL},
    {"segment.bytes", 14, INT32_MAX, NULL},
    {"segment.ms", 1, INT64_MAX, NULL},
    {"max.message.bytes", 0, INT32_MAX, NULL},
    {"flush.messages", 1, INT64_MAX, NULL},
    {"flush.ms", 0, INT64_MAX, NULL},
    {"index.interval.bytes", 0, INT32_MAX, NULL},
    {"segment.index.bytes", 4, INT32_MAX, NULL},
    {"file.delete.delay.ms", 0, INT64_MAX, NULL},
    {"cleanup.policy", 1, 0, cleanup_words},
    {"message.timestamp.type", 1, 0, ts_type_words},
    {"write.caching", 1, 0, bool_words}, /* log.write.caching (issue 19) */
    {"message.validate.compressed", 1, 0, bool_words},
    {"min.insync.replicas", 1, INT32_MAX, NULL}, /* issue 16 */
    /* the controller's (issue 16) */
    {"unclean.leader.election.enable", 1, 0, bool_words},
};

quire_err_t qr_topic_config_check(const char *key, const char *value,
                                  char *errstr, size_t errstr_size)
{
    const config_key_t *k = NULL;
    long long v;
    char *end;

    for (size_t i = 0; i < QR_ARRAY_LEN(config_keys); i++)
        if (strcmp(config_keys[i].name, key) == 0)
            k = &config_keys[i];
    if (!k) {
        snprintf(errstr, errstr_size,
                 "%s: unknown topic configuration key (known: "
                 "retention.ms, retention.bytes, segment.bytes, segment.ms, "
                 "max.message.bytes, flush.messages, flush.ms, "
                 "index.interval.bytes, segment.index.bytes, "
                 "file.delete.delay.ms, cleanup.policy, "
                 "message.timestamp.type, write.caching, "
                 "message.validate.compressed, min.insync.replicas, "
                 "unclean.leader.election.enable)",
                 key);
        return QUIRE_ERR_INVALID_CONFIG;
    }
    if (k->min > k->max) {
        for (const char *const *w = k->words; *w; w++)
            if (strcmp(value, *w) == 0)
                return QUIRE_ERR_NONE;
        snprintf(errstr, errstr_size, "%s: \"%s\" not supported (%s%s%s)", key,
                 value, k->words[0], k->words[1] ? " or " : " only",
                 k->words[1] ? k->words[1] : "");
        return QUIRE_ERR_INVALID_CONFIG;
    }
    errno = 0;
    v = strtoll(value, &end, 10);
    if (!*value || *end || errno || v < k->min || v > k->max) {
        snprintf(errstr, errstr_size,
                 "%s: \"%s\" is not an integer in %lld..%lld", key, value,
                 (long long)k->min, (long long)k->max);
        return QUIRE_ERR_INVALID_CONFIG;
    }
    return QUIRE_ERR_NONE;
}

void qr_topic_config_set(qr_topic_config_t *cfg, const char *key,
                         const char *value)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->keys[i], key) == 0) {
            free(cfg->values[i]);
            cfg->values[i] = qr_strdup(value);
            return;
        }
    cfg->keys = qr_realloc(cfg->keys, (cfg->n + 1) * sizeof(char *));
    cfg->values = qr_realloc(cfg->values, (cfg->n + 1) * sizeof(char *));
    cfg->keys[cfg->n] = qr_strdup(key);
    cfg->values[cfg->n] = qr_strdup(value);
    cfg->n++;
}

int qr_topic_config_unset(qr_topic_config_t *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->keys[i], key) == 0) {
            free(cfg->keys[i]);
            free(cfg->values[i]);
            cfg->n--;
            cfg->keys[i] = cfg->keys[cfg->n];
            cfg->values[i] = cfg->values[cfg->n];
            return 1;
        }
    return 0;
}

void qr_topic_config_free(qr_topic_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->keys[i]);
        free(cfg->values[i]);
    }
    free(cfg->keys);
    free(cfg->values);
    memset(cfg, 0, sizeof(*cfg));
}

char *qr_znode_config_encode(const qr_topic_config_t *cfg)
{
    json_t *root = json_object(), *c = json_object();

    json_object_set_new(root, "version", json_integer(1));
    for (size_t i = 0; i < cfg->n; i++)
        json_object_set_new(c, cfg->keys[i], json_string(cfg->values[i]));
    json_object_set_new(root, "config", c);
    return dump(root);
}

quire_err_t qr_znode_config_decode(const char *data, int len,
                                   qr_topic_config_t *out, char *errstr,
                                   size_t errstr_size)
{
    static const char what[] = "topic config";
    json_t *root = load_obj(data, len, what, errstr, errstr_size);
    json_t *c, *val;
    const char *key;

    memset(out, 0, sizeof(*out));
    if (!root)
        return QUIRE_ERR_BAD_JSON;
    c = json_object_get(root, "config");
    if (!json_is_object(c)) {
        json_decref(root);
        return bad(errstr, errstr_size, what, "\"config\" is not an object");
    }
    json_object_foreach(c, key, val)
    {
        char buf[32];
        if (json_is_string(val)) {
            qr_topic_config_set(out, key, json_string_value(val));
        } else if (json_is_integer(val)) {
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(val));
            qr_topic_config_set(out, key, buf);
        } else {
            bad(errstr, errstr_size, what, "value of \"%.64s\" is not a string",
                key);
            qr_topic_config_free(out);
            json_decref(root);
            return QUIRE_ERR_BAD_JSON;
        }
    }
    json_decref(root);
    return QUIRE_ERR_NONE;
}

/* ---- controller ---- */

char *qr_znode_controller_encode(int32_t broker_id, int64_t ts_ms)
{
    json_t *root = json_object();

    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "brokerid", json_integer(broker_id));
    json_object_set_new(root, "timestamp", ts_json(ts_ms));
    return dump(root);
}

quire_err_t qr_znode_controller_decode(const char *data, int len,
                                       int32_t *broker_id, char *errstr,
                                       size_t errstr_size)
{
    json_t *root = load_obj(data, len, "controller", errstr, errstr_size);
    int64_t id;

    if (!root)
        return QUIRE_ERR_BAD_JSON;
    if (get_int(root, "brokerid", 0, INT32_MAX, &id) != 0) {
        json_decref(root);
        return bad(errstr, errstr_size, "controller",
                   "\"brokerid\" missing or bad");
    }
    json_decref(root);
    *broker_id = (int32_t)id;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_znode_epoch_decode(const char *data, int len, int32_t *epoch,
                                  char *errstr, size_t errstr_size)
{
    char buf[16];

    if (!data || len <= 0 || (size_t)len >= sizeof(buf))
        return bad(errstr, errstr_size, "controller epoch",
                   "not a decimal number");
    memcpy(buf, data, (size_t)len);
    buf[len] = '\0';
    if (qr_znode_parse_id(buf, epoch) != 0)
        return bad(errstr, errstr_size, "controller epoch",
                   "\"%s\" is not a decimal number", buf);
    return QUIRE_ERR_NONE;
}
