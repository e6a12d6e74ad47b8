/*
 * clconf: the client configuration table and its parser.
 *
 * Values are read as Kafka's ConfigDef does: surrounding blanks trimmed,
 * integers in plain decimal (sign allowed; units, hex, overflow and trailing
 * garbage refused), enums by their words. Every allocation is plain malloc
 * and its failure is QUIRE_ERR_NO_MEMORY.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clconf.h"

typedef enum prop_type {
    T_STR,
    T_INT,
    T_INT64,
    T_ACKS,
    T_CODEC,
    T_ENUM, /* one of prop.words; T_BOOL is an enum of false, true */
} prop_type_t;

/* A word of an enum and the value it sets; the first word of a value is
 * its canonical text. */
typedef struct word {
    const char *word;
    int value;
} word_t;

typedef struct prop {
    const char *name;
    prop_type_t type;
    size_t offset;
    const char *defval;
    int64_t min, max;
    const char *doc;
    const word_t *words; /* T_ENUM: ends with a NULL word */
} prop_t;

/* A T_ENUM whose defval is "" has the producer's or consumer's own
 * default: the field is -1 until set (allow.auto.create.topics). */
#define PER_CLIENT(p)  ((p)->type == T_ENUM && !*(p)->defval)
#define PER_CLIENT_DOC "true for a producer, false for a consumer"

static const word_t bool_words[] = {{"false", 0}, {"true", 1}, {NULL, 0}};
static const word_t reset_words[] = {{"latest", QR_CCONF_RESET_LATEST},
                                     {"earliest", QR_CCONF_RESET_EARLIEST},
                                     {"none", QR_CCONF_RESET_NONE},
                                     {"largest", QR_CCONF_RESET_LATEST},
                                     {"smallest", QR_CCONF_RESET_EARLIEST},
                                     {NULL, 0}};
/* the values of coordinator/assignor.h's qr_assignor_kind_t */
static const word_t strategy_words[] = {
    {"range", 0}, {"roundrobin", 1}, {"sticky", 2}, {NULL, 0}};

#define OFF(f) offsetof(struct quire_conf, f)
#define IMAX   2147483647

/* Kafka's client defaults unless the doc says otherwise. */
static const prop_t props[] = {
    {"bootstrap.servers", T_STR, OFF(bootstrap_servers), "", 0, 0,
     "host:port[,host:port...] of brokers to ask for metadata "
     "(or use zookeeper.connect)",
     NULL},
    {"zookeeper.connect", T_STR, OFF(zookeeper_connect), "", 0, 0,
     "host:port[,host:port...][/chroot] of ZooKeeper, used when "
     "bootstrap.servers is empty: the brokers registered under "
     "/brokers/ids seed the broker list once, at creation",
     NULL},
    {"client.id", T_STR, OFF(client_id), "quire", 0, 0,
     "a name sent with every request, for the broker's logs", NULL},
    {"debug", T_STR, OFF(debug), "", 0, 0,
     "debug contexts to log: zk,proto,fetch,produce,net or all", NULL},
    {"acks", T_ACKS, OFF(acks), "all", 0, 0,
     "acknowledgements the leader waits for: 0 (none), 1 (its own append), "
     "all or -1 (every in-sync replica, after fdatasync); all by default, "
     "as in Kafka 3.x, which enable.idempotence needs",
     NULL},
    {"batch.size", T_INT, OFF(batch_size), "16384", 1, IMAX,
     "bytes of records gathered per partition before a batch is sent", NULL},
    {"linger.ms", T_INT, OFF(linger_ms), "0", 0, IMAX,
     "how long a batch waits for more records before it is sent", NULL},
    {"compression.type", T_CODEC, OFF(compression), "none", 0, 0,
     "codec of each batch: none, gzip, lz4 or zstd", NULL},
    {"buffer.memory", T_INT64, OFF(buffer_memory), "33554432", 1, INT64_MAX,
     "bytes of batches the producer may hold; send() blocks "
     "up to max.block.ms when they are used, then fails",
     NULL},
    {"retries", T_INT, OFF(retries), "2147483647", 0, IMAX,
     "times a batch is resent after a retriable error", NULL},
    {"retry.backoff.ms", T_INT, OFF(retry_backoff_ms), "100", 0, IMAX,
     "wait before resending a batch or retrying metadata", NULL},
    {"request.timeout.ms", T_INT, OFF(request_timeout_ms), "30000", 1, IMAX,
     "how long a request may wait for its response before the connection "
     "is closed and the request failed or retried",
     NULL},
    {"max.in.flight.requests.per.connection", T_INT, OFF(max_in_flight), "5", 1,
     IMAX,
     "requests sent on a connection before their responses, and batches "
     "of one partition in flight; with idempotence at most 5 and order "
     "holds across retries, without it more than 1 may reorder a retry",
     NULL},
    {"max.block.ms", T_INT, OFF(max_block_ms), "60000", 0, IMAX,
     "how long send() may block for metadata or buffer memory", NULL},
    {"max.request.size", T_INT, OFF(max_request_size), "1048576", 62, IMAX,
     "largest batch (and so record) the producer sends", NULL},
    {"delivery.timeout.ms", T_INT, OFF(delivery_timeout_ms), "120000", 1, IMAX,
     "how long a record may wait for its delivery (queued, sent, "
     "retried) before it fails with REQUEST_TIMED_OUT; at least linger.ms "
     "+ request.timeout.ms",
     NULL},
    /* issue 22 */
    {"enable.idempotence", T_ENUM, OFF(enable_idempotence), "", 0, 0,
     "number each partition's batches (producer id, epoch, sequence) so a "
     "retried batch the broker already wrote is not written twice; needs "
     "acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5. "
     "Unset (the default) means true unless one of those is set otherwise, "
     "then false (Kafka 3.2+); false: retries may write a batch twice",
     bool_words},
    {"fetch.min.bytes", T_INT, OFF(fetch_min_bytes), "1", 0, IMAX,
     "bytes a fetch waits for (up to fetch.max.wait.ms) before returning",
     NULL},
    {"fetch.max.wait.ms", T_INT, OFF(fetch_max_wait_ms), "500", 0, IMAX,
     "longest a broker holds a fetch waiting for fetch.min.bytes", NULL},
    {"max.partition.fetch.bytes", T_INT, OFF(max_partition_fetch_bytes),
     "1048576", 1, IMAX, "most bytes of one partition per fetch", NULL},
    {"fetch.max.bytes", T_INT, OFF(fetch_max_bytes), "52428800", 1, IMAX,
     "most bytes per fetch response", NULL},
    {"queued.max.messages.kbytes", T_INT, OFF(queued_max_kbytes), "65536", 1,
     2097151,
     "most kilobytes of fetched records waiting for poll, over all "
     "partitions: a fetch is sent only while a quarter of it is free, and "
     "asks for no more than what is free (fetch.max.bytes at most; one "
     "batch larger than that still comes whole)",
     NULL},
    {"allow.auto.create.topics", T_ENUM, OFF(allow_auto_create_topics), "", 0,
     0,
     "ask the broker to create a topic that does not exist when its "
     "metadata is requested (the broker's auto.create.topics.enable "
     "decides): true, false, or empty for the client's default",
     bool_words},
    {"group.id", T_STR, OFF(group_id), "", 0, 0,
     "the consumer group joined by quire_consumer_subscribe(); needs "
     "zookeeper.connect, where groups live",
     NULL},
    {"enable.auto.commit", T_ENUM, OFF(enable_auto_commit), "true", 0, 0,
     "commit the positions of consumed records every "
     "auto.commit.interval.ms, on rebalance and on close: true or false",
     bool_words},
    {"auto.commit.interval.ms", T_INT, OFF(auto_commit_interval_ms), "5000", 1,
     IMAX, "how often positions are committed with enable.auto.commit", NULL},
    {"auto.offset.reset", T_ENUM, OFF(auto_offset_reset), "latest", 0, 0,
     "where a group partition without a committed offset, or with one "
     "outside the log, starts: latest (largest), earliest (smallest) or "
     "none (poll reports NO_OFFSET or OFFSET_OUT_OF_RANGE)",
     reset_words},
    {"partition.assignment.strategy", T_ENUM, OFF(assignment_strategy), "range",
     0, 0,
     "how a group shares partitions: range (Kafka's RangeAssignor), "
     "roundrobin, or sticky (balanced, keeps owners; incremental)",
     strategy_words},
    {"rebalance.max.retries", T_INT, OFF(rebalance_max_retries), "4", 0, IMAX,
     "failed rebalance attempts before the error is reported (the group "
     "keeps retrying on a longer backoff)",
     NULL},
    {"rebalance.backoff.ms", T_INT, OFF(rebalance_backoff_ms), "2000", 1, IMAX,
     "wait between rebalance attempts", NULL},
    {"max.poll.interval.ms", T_INT, OFF(max_poll_interval_ms), "300000", 1,
     IMAX,
     "longest a rebalance waits for poll() to run the revocation callback "
     "before it goes on without it",
     NULL},
    {"metadata.max.age.ms", T_INT, OFF(metadata_max_age_ms), "300000", 0, IMAX,
     "metadata older than this is refreshed", NULL},
    {"reconnect.backoff.ms", T_INT, OFF(reconnect_backoff_ms), "50", 0, IMAX,
     "wait before reconnecting to a broker after a connection failed or "
     "closed; doubled after each failure in a row up to "
     "reconnect.backoff.max.ms, with 20% random jitter",
     NULL},
    /* issue 18 */
    {"reconnect.backoff.max.ms", T_INT, OFF(reconnect_backoff_max_ms), "1000",
     0, IMAX,
     "the longest wait between reconnection attempts to a broker that keeps "
     "failing",
     NULL},
    {"log_level", T_INT, OFF(log_level), "6", 0, 7,
     "the most verbose syslog level logged (3 errors, 4 warnings, 6 info, "
     "7 debug); debug= contexts log at 7 regardless. A repeated line is "
     "logged once, then summarised with a count every 5 s",
     NULL},
    {"zookeeper.session.timeout.ms", T_INT, OFF(zookeeper_session_timeout_ms),
     "6000", 1, IMAX, "ZooKeeper session timeout", NULL},
    {"zookeeper.connection.timeout.ms", T_INT,
     OFF(zookeeper_connection_timeout_ms), "6000", 1, IMAX,
     "how long the first ZooKeeper session may take: broker discovery at "
     "creation (zookeeper.connect without bootstrap.servers) and a group "
     "consumer's",
     NULL},
    {"socket.connection.setup.timeout.ms", T_INT,
     OFF(socket_connection_setup_timeout_ms), "10000", 1, IMAX,
     "how long a TCP connect may take", NULL},
    /* issue 15 */
    {"statistics.interval.ms", T_INT, OFF(statistics_interval_ms), "0", 0,
     86400000,
     "how often the statistics callback (quire_conf_set_stats_cb) gets a "
     "JSON document of the client's counters; 0 never (librdkafka's key)",
     NULL},
};

/* librdkafka's names (and Kafka's old Scala clients') for keys quire
 * spells as Kafka's Java clients do (issue 18 item 12): refused, naming
 * the key to use. */
static const struct alias {
    const char *name, *use;
} aliases[] = {
    {"queue.buffering.max.ms", "linger.ms"},
    {"queue.buffering.max.kbytes", "buffer.memory (in bytes)"},
    {"queue.buffering.max.messages", "buffer.memory (in bytes)"},
    {"batch.num.messages", "batch.size (in bytes)"},
    {"message.send.max.retries", "retries"},
    {"compression.codec", "compression.type"},
    {"metadata.broker.list", "bootstrap.servers"},
    {"request.required.acks", "acks"},
    {"message.timeout.ms", "delivery.timeout.ms"},
    {"socket.timeout.ms", "request.timeout.ms"},
    {"message.max.bytes", "max.request.size"},
    {"topic.metadata.refresh.interval.ms", "metadata.max.age.ms"},
    {"fetch.wait.max.ms", "fetch.max.wait.ms"},
    {"fetch.message.max.bytes", "max.partition.fetch.bytes"},
    {"auto.commit.enable", "enable.auto.commit"},
    {"log.level", "log_level"},
};

static const char *const codec_words[] = {"none", "gzip", NULL, "lz4", "zstd"};

static void seterr(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (!errstr || !errstr_size)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static const prop_t *find(const char *key)
{
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (!strcmp(props[i].name, key))
            return &props[i];
    return NULL;
}

/* Trimmed copy of @p value into a malloc'd string, or NULL when out of
 * memory. Kafka trims every value before parsing it. */
static char *trim_dup(const char *value)
{
    const char *s = value, *e = value + strlen(value);
    char *out;

    while (s < e && (unsigned char)*s <= ' ')
        s++;
    while (e > s && (unsigned char)e[-1] <= ' ')
        e--;
    out = malloc((size_t)(e - s) + 1);
    if (!out)
        return NULL;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return out;
}

static quire_err_t parse_int(const prop_t *p, const char *s, int64_t *v,
                             char *errstr, size_t errstr_size)
{
    char *end;
    long long n;

    errno = 0;
    if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        goto bad;
    n = strtoll(s, &end, 10);
    if (*end || errno)
        goto bad;
    if (n < p->min || n > p->max) {
        seterr(errstr, errstr_size,
               "%s: %lld out of range [%" PRId64 ", %" PRId64 "]", p->name, n,
               p->min, p->max);
        return QUIRE_ERR_CONF_INVALID;
    }
    *v = n;
    return QUIRE_ERR_NONE;
bad:
    seterr(errstr, errstr_size, "%s: not a decimal integer: '%s'", p->name, s);
    return QUIRE_ERR_CONF_INVALID;
}

static quire_err_t parse_acks(const prop_t *p, const char *s, int64_t *v,
                              char *errstr, size_t errstr_size)
{
    if (!strcmp(s, "all") || !strcmp(s, "-1"))
        *v = QR_CCONF_ACKS_ALL;
    else if (!strcmp(s, "0") || !strcmp(s, "1"))
        *v = s[0] - '0';
    else {
        seterr(errstr, errstr_size, "%s: '%s' is not one of 0, 1, all, -1",
               p->name, s);
        return QUIRE_ERR_CONF_INVALID;
    }
    return QUIRE_ERR_NONE;
}

static quire_err_t parse_codec(const prop_t *p, const char *s, int64_t *v,
                               char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < sizeof(codec_words) / sizeof(codec_words[0]); i++) {
        if (codec_words[i] && !strcmp(codec_words[i], s)) {
            *v = (int64_t)i;
            return QUIRE_ERR_NONE;
        }
    }
    if (!strcmp(s, "snappy"))
        seterr(errstr, errstr_size, "%s: snappy is not supported", p->name);
    else
        seterr(errstr, errstr_size,
               "%s: '%s' is not one of none, gzip, lz4, zstd", p->name, s);
    return QUIRE_ERR_CONF_INVALID;
}

static quire_err_t parse_enum(const prop_t *p, const char *s, int64_t *v,
                              char *errstr, size_t errstr_size)
{
    char list[256];
    size_t off = 0;

    for (const word_t *w = p->words; w->word; w++) {
        if (!strcmp(w->word, s)) {
            *v = w->value;
            return QUIRE_ERR_NONE;
        }
    }
    list[0] = '\0';
    for (const word_t *w = p->words; w->word && off < sizeof(list); w++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
                                off ? ", " : "", w->word);
    seterr(errstr, errstr_size, "%s: '%s' is not one of %s", p->name, s, list);
    return QUIRE_ERR_CONF_INVALID;
}

/* Sets one property from text: on error the old value stays. */
static quire_err_t prop_set(struct quire_conf *conf, const prop_t *p,
                            const char *value, char *errstr, size_t errstr_size)
{
    char *s = trim_dup(value);
    char *f = (char *)conf + p->offset;
    quire_err_t err = QUIRE_ERR_NONE;
    int64_t v = 0;

    if (!s) {
        seterr(errstr, errstr_size, "%s: out of memory", p->name);
        return QUIRE_ERR_NO_MEMORY;
    }
    switch (p->type) {
    case T_STR:
        free(*(char **)f);
        *(char **)f = s;
        return QUIRE_ERR_NONE;
    case T_INT:
    case T_INT64:
        err = parse_int(p, s, &v, errstr, errstr_size);
        break;
    case T_ACKS:
        err = parse_acks(p, s, &v, errstr, errstr_size);
        break;
    case T_CODEC:
        err = parse_codec(p, s, &v, errstr, errstr_size);
        break;
    case T_ENUM:
        if (PER_CLIENT(p) && !*s) { /* back to the client's default */
            v = -1;
            break;
        }
        err = parse_enum(p, s, &v, errstr, errstr_size);
        break;
    }
    free(s);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (p->type == T_INT64)
        *(int64_t *)f = v;
    else
        *(int *)f = (int)v;
    return QUIRE_ERR_NONE;
}

static void conf_free_strings(struct quire_conf *conf)
{
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (props[i].type == T_STR)
            free(*(char **)((char *)conf + props[i].offset));
}

quire_conf_t *quire_conf_new(void)
{
    struct quire_conf *conf = calloc(1, sizeof(*conf));

    if (!conf)
        return NULL;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (PER_CLIENT(&props[i])) { /* decided by the producer or consumer */
            *(int *)((char *)conf + props[i].offset) = -1;
            continue;
        }
        if (prop_set(conf, &props[i], props[i].defval, NULL, 0) !=
            QUIRE_ERR_NONE) {
            /* only out of memory: the defaults are tested to parse */
            conf_free_strings(conf);
            free(conf);
            return NULL;
        }
    }
    return conf;
}

quire_conf_t *quire_conf_dup(const quire_conf_t *src)
{
    struct quire_conf *conf;

    if (!src)
        return NULL;
    conf = malloc(sizeof(*conf));
    if (!conf)
        return NULL;
    *conf = *src;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (props[i].type == T_STR)
            *(char **)((char *)conf + props[i].offset) = NULL;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const char *s;
        char **f;

        if (props[i].type != T_STR)
            continue;
        s = *(char *const *)((const char *)src + props[i].offset);
        f = (char **)((char *)conf + props[i].offset);
        *f = strdup(s);
        if (!*f) {
            conf_free_strings(conf);
            free(conf);
            return NULL;
        }
    }
    return conf;
}

quire_err_t quire_conf_set(quire_conf_t *conf, const char *key,
                           const char *value, char *errstr, size_t errstr_size)
{
    const prop_t *p;

    if (!conf || !key || !value) {
        seterr(errstr, errstr_size, "quire_conf_set: NULL argument");
        return QUIRE_ERR_BAD_ARG;
    }
    p = find(key);
    if (!p) {
        for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
            if (!strcmp(aliases[i].name, key)) {
                seterr(errstr, errstr_size,
                       "%s: unknown configuration key (librdkafka's name); "
                       "use %s",
                       key, aliases[i].use);
                return QUIRE_ERR_CONF_UNKNOWN;
            }
        seterr(errstr, errstr_size, "%s: unknown configuration key", key);
        return QUIRE_ERR_CONF_UNKNOWN;
    }
    return prop_set(conf, p, value, errstr, errstr_size);
}

/* The canonical text of a property into @p out (at least 32 bytes for the
 * non-string types); strings are returned by pointer instead. */
static const char *prop_text(const quire_conf_t *conf, const prop_t *p,
                             char *out, size_t out_size)
{
    const char *f = (const char *)conf + p->offset;
    int v;

    switch (p->type) {
    case T_STR:
        return *(char *const *)f;
    case T_INT64:
        snprintf(out, out_size, "%" PRId64, *(const int64_t *)f);
        return out;
    case T_ACKS:
        v = *(const int *)f;
        if (v == QR_CCONF_ACKS_ALL)
            return "all";
        snprintf(out, out_size, "%d", v);
        return out;
    case T_CODEC:
        return codec_words[*(const int *)f];
    case T_ENUM:
        for (const word_t *w = p->words; w->word; w++)
            if (w->value == *(const int *)f)
                return w->word;
        if (PER_CLIENT(p))
            return ""; /* unset: the client's own default */
        break;
    case T_INT:
        break;
    }
    snprintf(out, out_size, "%d", *(const int *)f);
    return out;
}

quire_err_t quire_conf_get(const quire_conf_t *conf, const char *key,
                           char *dest, size_t *dest_sizep)
{
    char num[32];
    const prop_t *p;
    const char *s;
    size_t need;

    if (!conf || !key || !dest_sizep)
        return QUIRE_ERR_BAD_ARG;
    p = find(key);
    if (!p)
        return QUIRE_ERR_CONF_UNKNOWN;
    s = prop_text(conf, p, num, sizeof(num));
    need = strlen(s) + 1;
    if (dest && *dest_sizep >= need)
        memcpy(dest, s, need);
    else if (dest) {
        *dest_sizep = need;
        return QUIRE_ERR_BUF_FULL;
    }
    *dest_sizep = need;
    return QUIRE_ERR_NONE;
}

void quire_conf_set_delivery_cb(quire_conf_t *conf, quire_delivery_cb_t *cb,
                                void *cb_opaque)
{
    if (!conf)
        return;
    conf->dr_cb = cb;
    conf->dr_opaque = cb_opaque;
}

void quire_conf_set_rebalance_cb(quire_conf_t *conf, quire_rebalance_cb_t *cb,
                                 void *cb_opaque)
{
    if (!conf)
        return;
    conf->rebalance_cb = cb;
    conf->rebalance_opaque = cb_opaque;
}

void quire_conf_set_log_cb(quire_conf_t *conf, quire_log_cb_t *cb,
                           void *cb_opaque)
{
    if (!conf)
        return;
    conf->log_cb = cb;
    conf->log_opaque = cb_opaque;
}

void quire_conf_set_error_cb(quire_conf_t *conf, quire_error_cb_t *cb,
                             void *cb_opaque)
{
    if (!conf)
        return;
    conf->error_cb = cb;
    conf->error_opaque = cb_opaque;
}

void quire_conf_set_stats_cb(quire_conf_t *conf, quire_stats_cb_t *cb,
                             void *cb_opaque)
{
    if (!conf)
        return;
    conf->stats_cb = cb;
    conf->stats_opaque = cb_opaque;
}

void quire_conf_destroy(quire_conf_t *conf)
{
    if (!conf)
        return;
    conf_free_strings(conf);
    free(conf);
}

static const char *type_name(prop_type_t t)
{
    switch (t) {
    case T_STR:
        return "string";
    case T_INT:
        return "int";
    case T_INT64:
        return "long";
    case T_ACKS:
        return "enum";
    case T_CODEC:
    case T_ENUM:
        return "enum";
    }
    return "?";
}

static const char *default_text(const prop_t *p, const char *empty)
{
    if (PER_CLIENT(p))
        return PER_CLIENT_DOC;
    return *p->defval ? p->defval : empty;
}

void quire_conf_print_help(FILE *fp)
{
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const prop_t *p = &props[i];

        fprintf(fp, "%-38s %-6s default: %s\n    %s\n", p->name,
                type_name(p->type), default_text(p, "(empty)"), p->doc);
    }
}

void qr_cconf_print_man(FILE *fp)
{
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const prop_t *p = &props[i];

        fprintf(fp, ".TP\n.B %s\n%s (%s; default: %s)\n", p->name, p->doc,
                type_name(p->type), default_text(p, "empty"));
    }
}

const char *qr_cconf_key(size_t i)
{
    return i < sizeof(props) / sizeof(props[0]) ? props[i].name : NULL;
}
