/*
 * client: the loop thread, brokers, connections and the metadata cache
 * (see client.h).
 *
 * Metadata: one Metadata request at a time, for every topic the
 * application asked about, sent to any connected broker (or the first
 * that connects, known brokers before bootstrap servers, round robin). A
 * refresh is due when something is asked about that is not known, when an
 * error says the cache is stale (qr_client_meta_stale), or when it is
 * older than metadata.max.age.ms; failed or unhelpful refreshes are
 * retried after retry.backoff.ms.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "clock.h"
#include "logging.h"
#include "thread.h"
#include "zkboot.h"

typedef struct cbroker {
    int32_t id; /* >= 0: a broker from metadata; < 0: bootstrap */
    char *host;
    int port;
    qr_bconn_t *conn;     /* current connection or NULL */
    qr_bconn_t *dead;     /* a closed connection to free (prepare) */
    int64_t reconnect_at; /* monotonic ms */
    /* reachability, for records without a key (qr_client_broker_down):
     * down once a connection to it failed before coming up, until one
     * comes up; probed every PROBE_MS meanwhile */
    int conn_up; /* the current connection came up */
    int down;
    char down_why[96]; /* the failed connection's reason */
    int64_t probe_at;
    /* issue 18: connections that failed in a row (reconnect backoff), and
     * whether the last one did (all brokers down) */
    int fails;
    int failing;
    qr_cstats_broker_t *stats; /* owned; its connections borrow it */
    int ever_up;               /* statistics: INIT until a first connect */
} cbroker_t;

/* Housekeeping period: expiry, metadata age, reconnects. */
#define TICK_MS 100

/* How often a broker that could not be reached is tried again while a
 * partition it leads waits for it (its records without a key go
 * elsewhere meanwhile). */
#define PROBE_MS 1000

static void seterr(char *errstr, size_t size, const char *msg, const char *arg)
{
    if (errstr && size)
        snprintf(errstr, size, "%s%s", msg, arg ? arg : "");
}

/* ---- snapshot ---- */

static void topics_free(qr_cmeta_topic_t *topics, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++) {
        free(topics[i].name);
        free(topics[i].parts);
    }
    free(topics);
}

const qr_cmeta_topic_t *qr_client_topic(const qr_client_t *cl,
                                        const char *topic)
{
    for (size_t i = 0; i < cl->topic_cnt; i++)
        if (!strcmp(cl->topics[i].name, topic))
            return &cl->topics[i];
    return NULL;
}

/* ---- brokers ---- */

static cbroker_t *broker_find(qr_client_t *cl, int32_t id)
{
    for (size_t i = 0; i < cl->broker_cnt; i++)
        if (cl->brokers[i].id == id)
            return &cl->brokers[i];
    return NULL;
}

static quire_err_t broker_add(qr_client_t *cl, int32_t id, const char *host,
                              int port)
{
    cbroker_t *b;

    if (cl->broker_cnt == cl->broker_cap) {
        size_t cap = cl->broker_cap ? cl->broker_cap * 2 : 8;
        cbroker_t *v = realloc(cl->brokers, cap * sizeof(*v));

        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        cl->brokers = v;
        cl->broker_cap = cap;
    }
    b = &cl->brokers[cl->broker_cnt];
    memset(b, 0, sizeof(*b));
    b->host = strdup(host);
    b->stats = calloc(1, sizeof(*b->stats));
    if (!b->host || !b->stats) {
        free(b->host);
        free(b->stats);
        return QUIRE_ERR_NO_MEMORY;
    }
    b->id = id;
    b->port = port;
    cl->broker_cnt++;
    return QUIRE_ERR_NONE;
}

/* Parses "host:port[,host:port...]" (IPv6 as [addr]:port). */
static quire_err_t parse_bootstrap(qr_client_t *cl, const char *list,
                                   char *errstr, size_t errstr_size)
{
    const char *p = list;
    int32_t id = -1;

    while (*p) {
        const char *end = strchr(p, ','), *colon;
        char host[256], *e;
        size_t len = end ? (size_t)(end - p) : strlen(p);
        long port;
        char item[300];

        if (len == 0 || len >= sizeof(item)) {
            seterr(errstr, errstr_size, "bootstrap.servers: bad entry in ",
                   list);
            return QUIRE_ERR_CONF_INVALID;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        colon = strrchr(item, ':');
        if (!colon || colon == item) {
            seterr(errstr, errstr_size,
                   "bootstrap.servers: expected host:port, got ", item);
            return QUIRE_ERR_CONF_INVALID;
        }
        errno = 0;
        port = strtol(colon + 1, &e, 10);
        if (*e || errno || port <= 0 || port > 65535 || colon[1] == '\0') {
            seterr(errstr, errstr_size, "bootstrap.servers: bad port in ",
                   item);
            return QUIRE_ERR_CONF_INVALID;
        }
        len = (size_t)(colon - item);
        if (item[0] == '[' && len > 2 && item[len - 1] == ']') {
            memcpy(host, item + 1, len - 2);
            host[len - 2] = '\0';
        } else {
            memcpy(host, item, len);
            host[len] = '\0';
        }
        if (broker_add(cl, id--, host, (int)port) != QUIRE_ERR_NONE)
            return QUIRE_ERR_NO_MEMORY;
        p = end ? end + 1 : p + strlen(p);
    }
    cl->bootstrap_cnt = cl->broker_cnt;
    return QUIRE_ERR_NONE;
}

/* ---- issue 18: reconnect backoff, all brokers down ---- */

/* reconnect.backoff.ms doubled per failure in a row, up to
 * reconnect.backoff.max.ms, with -20%..+20% jitter (Kafka's
 * ExponentialBackoff) so that clients do not reconnect in step. */
static int64_t reconnect_backoff(const qr_client_t *cl, const cbroker_t *b)
{
    int64_t base = cl->conf->reconnect_backoff_ms;
    int64_t max = cl->conf->reconnect_backoff_max_ms;
    int64_t ms = base;

    if (max < base)
        max = base;
    for (int i = 1; i < b->fails && ms < max; i++)
        ms *= 2;
    if (ms > max)
        ms = max;
    if (ms > 0) {
        unsigned seed = (unsigned)(qr_clock_mono_ms() ^ (uintptr_t)b);
        int64_t span = ms / 5;
        if (span > 0)
            ms += (int64_t)(rand_r(&seed) % (2 * span + 1)) - span;
    }
    return ms;
}

/* A connection to @p b closed: counts a failure when it never came up,
 * and tells the application once when no broker is left (librdkafka's
 * ALL_BROKERS_DOWN). */
static void broker_failed(qr_client_t *cl, cbroker_t *b, qr_bconn_t *conn)
{
    char list[512];
    size_t off = 0;

    if (b->conn_up) {
        b->fails = 0; /* it was up: the next attempt comes soon */
        b->failing = 0;
    } else {
        b->fails++;
        b->failing = 1;
    }
    for (size_t i = 0; i < cl->broker_cnt; i++)
        if (!cl->brokers[i].failing ||
            (cl->brokers[i].conn && cl->brokers[i].conn != conn))
            return;
    if (cl->all_down)
        return;
    cl->all_down = 1;
    list[0] = '\0';
    for (size_t i = 0; i < cl->broker_cnt && off < sizeof(list) - 1; i++) {
        const cbroker_t *x = &cl->brokers[i];
        const char *why =
            x == b && *qr_bconn_why(conn) ? qr_bconn_why(conn) : x->down_why;
        int n = snprintf(list + off, sizeof(list) - off, "%s%s:%d%s%s%s",
                         off ? ", " : "", x->host, x->port, *why ? " (" : "",
                         why, *why ? ")" : "");
        if (n > 0)
            off += (size_t)n;
    }
    if (off >= sizeof(list))
        off = sizeof(list) - 1;
    qr_client_error(cl, QUIRE_ERR_ALL_BROKERS_DOWN,
                    "all %zu broker(s) down: %s", cl->broker_cnt, list);
}

qr_log_ctx_t *qr_client_log_enter(qr_client_t *cl)
{
    return qr_logsink_enter(&cl->logs);
}

void qr_client_log_leave(qr_log_ctx_t *prev)
{
    qr_log_ctx_swap(prev);
}

void qr_client_error(qr_client_t *cl, quire_err_t err, const char *fmt, ...)
{
    qr_log_ctx_t *prev = qr_client_log_enter(cl);
    char reason[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    QR_LOG_WARN("ERROR", "%s: %s", quire_err2name(err), reason);
    if (cl->conf && cl->conf->error_cb)
        cl->conf->error_cb(err, reason, cl->conf->error_opaque);
    qr_client_log_leave(prev);
}

static void on_conn_close(qr_bconn_t *conn, quire_err_t why, void *owner)
{
    qr_client_t *cl = owner;
    cbroker_t *b = broker_find(cl, qr_bconn_node(conn));

    QR_DBG(QR_DBG_NET, "NET", "connection to %s closed: %s",
           qr_bconn_name(conn), quire_err2str(why));
    if (b && b->conn == conn && why != QUIRE_ERR_DESTROYED)
        broker_failed(cl, b, conn); /* issue 18: backoff, all down */
    if (b && b->conn == conn && why != QUIRE_ERR_DESTROYED && !b->conn_up &&
        b->id >= 0) {
        snprintf(b->down_why, sizeof(b->down_why), "%s",
                 *qr_bconn_why(conn) ? qr_bconn_why(conn) : quire_err2str(why));
        if (!b->down)
            QR_LOG_WARN("NET",
                        "broker %d (%s) is unreachable: %s; records without "
                        "a key go to other partitions meanwhile",
                        (int)b->id, qr_bconn_name(conn), b->down_why);
        b->down = 1;
        b->probe_at = qr_clock_mono_ms() + reconnect_backoff(cl, b);
        cl->avail_gen++;
    }
    if (b && b->conn == conn) {
        b->conn = NULL;
        b->conn_up = 0;
        b->dead = conn; /* freed by on_prepare, outside its callbacks */
        b->reconnect_at = qr_clock_mono_ms() + reconnect_backoff(cl, b);
    }
    if (why != QUIRE_ERR_DESTROYED) {
        cl->meta_needed = 1;
        if (cl->ops->conn_closed)
            cl->ops->conn_closed(cl, conn, cl->ctx);
    }
    ev_feed_event(cl->loop, &cl->wake, EV_ASYNC);
}

static void on_conn_up(qr_bconn_t *conn, void *owner)
{
    qr_client_t *cl = owner;
    cbroker_t *b = broker_find(cl, qr_bconn_node(conn));

    if (b && b->conn == conn) {
        b->conn_up = 1;
        b->ever_up = 1;
        b->fails = 0;
        b->failing = 0;
        cl->all_down = 0;
        if (b->down) {
            QR_LOG_INFO("NET", "broker %d (%s) is reachable again", (int)b->id,
                        qr_bconn_name(conn));
            b->down = 0;
            cl->avail_gen++;
        }
    }
    ev_feed_event(cl->loop, &cl->wake, EV_ASYNC);
}

static qr_bconn_t *broker_conn(qr_client_t *cl, cbroker_t *b)
{
    qr_bconn_conf_t bc = {
        .client_id = cl->conf->client_id,
        .connect_timeout_ms = cl->conf->socket_connection_setup_timeout_ms,
        .max_frame = QR_FRAME_MAX_DEFAULT,
        .on_close = on_conn_close,
        .on_up = on_conn_up,
        .owner = cl,
        .stats = b->stats,
        .rxpool = cl->rxpool,
    };
    qr_bconn_t *conn;

    if (b->conn)
        return b->conn;
    /* an unreachable broker is tried once per PROBE_MS, whoever asks */
    if (b->down && qr_clock_mono_ms() < b->probe_at) {
        qr_client_run_at(cl, b->probe_at);
        return NULL;
    }
    if (qr_clock_mono_ms() < b->reconnect_at) {
        qr_client_run_at(cl, b->reconnect_at);
        return NULL;
    }
    if (b->dead) {
        /* freed in on_prepare first, so one connection object at a time */
        return NULL;
    }
    if (qr_bconn_new(cl->loop, b->id, b->host, b->port, &bc, &conn) !=
        QUIRE_ERR_NONE) {
        b->fails++;
        b->reconnect_at = qr_clock_mono_ms() + reconnect_backoff(cl, b);
        qr_client_run_at(cl, b->reconnect_at);
        return NULL;
    }
    b->conn = conn;
    return conn;
}

int qr_client_broker_down(const qr_client_t *cl, int32_t node_id,
                          const char **whyp)
{
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        const cbroker_t *b = &cl->brokers[i];

        if (b->id != node_id)
            continue;
        if (b->down && whyp)
            *whyp = b->down_why;
        return b->down;
    }
    return 0;
}

const char *qr_client_broker_name(const qr_client_t *cl, int32_t node_id,
                                  char *buf, size_t size)
{
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        const cbroker_t *b = &cl->brokers[i];

        if (b->id == node_id) {
            snprintf(buf, size, "%s:%d", b->host, b->port);
            return buf;
        }
    }
    snprintf(buf, size, "unknown address");
    return buf;
}

/* Tries the unreachable brokers again (every PROBE_MS): one that answers
 * gets its partitions back for records without a key. */
static void probe_down(qr_client_t *cl, int64_t now)
{
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        cbroker_t *b = &cl->brokers[i];

        if (!b->down || b->conn)
            continue;
        if (now >= b->probe_at)
            broker_conn(cl, b); /* a failure sets the next probe_at */
        else
            qr_client_run_at(cl, b->probe_at);
    }
}

qr_bconn_t *qr_client_conn_peek(qr_client_t *cl, int32_t node_id)
{
    cbroker_t *b = broker_find(cl, node_id);

    return b ? b->conn : NULL;
}

qr_bconn_t *qr_client_conn(qr_client_t *cl, int32_t node_id)
{
    cbroker_t *b = broker_find(cl, node_id);

    return b ? broker_conn(cl, b) : NULL;
}

/* ---- metadata ---- */

void qr_client_meta_stale(qr_client_t *cl, const char *topic)
{
    cl->meta_needed = 1;
    if (topic) {
        pthread_mutex_lock(&cl->lock);
        int found = 0;
        for (size_t i = 0; i < cl->wanted_cnt && !found; i++)
            found = !strcmp(cl->wanted[i], topic);
        if (!found && cl->wanted_cnt < cl->wanted_cap) {
            char *s = strdup(topic);
            if (s)
                cl->wanted[cl->wanted_cnt++] = s;
        }
        pthread_mutex_unlock(&cl->lock);
    }
}

/* Updates the broker list from a Metadata response: new ids are added,
 * moved ones get their new address (and lose their connection). */
static void meta_brokers(qr_client_t *cl, const qr_metadata_resp_t *md)
{
    for (size_t i = 0; i < md->broker_count; i++) {
        const qr_metadata_broker_t *mb = &md->brokers[i];
        cbroker_t *b = broker_find(cl, mb->node_id);

        if (mb->node_id < 0 || !mb->host)
            continue;
        if (!b) {
            broker_add(cl, mb->node_id, mb->host, mb->port);
            continue;
        }
        if (strcmp(b->host, mb->host) != 0 || b->port != mb->port) {
            char *h = strdup(mb->host);

            if (!h)
                continue;
            free(b->host);
            b->host = h;
            b->port = mb->port;
            if (b->conn)
                qr_bconn_close(b->conn, QUIRE_ERR_NETWORK_EXCEPTION);
        }
    }
}

/* Builds the new snapshot from @p md, which replaces the old one whole: a
 * topic missing from the answer is dropped (it stays in cl->wanted, so
 * on_metadata asks again after the backoff, and senders wait for it). */
static quire_err_t meta_topics(qr_client_t *cl, const qr_metadata_resp_t *md,
                               int *all_ok)
{
    size_t cnt = md->topic_count;
    qr_cmeta_topic_t *topics = calloc(cnt ? cnt : 1, sizeof(*topics));

    *all_ok = 1;
    if (!topics)
        return QUIRE_ERR_NO_MEMORY;
    for (size_t i = 0; i < cnt; i++) {
        const qr_metadata_topic_t *mt = &md->topics[i];
        qr_cmeta_topic_t *t = &topics[i];
        int32_t n = 0;

        t->name = strdup(mt->topic ? mt->topic : "");
        for (size_t j = 0; j < mt->partition_count; j++)
            if (mt->partitions[j].partition >= n &&
                mt->partitions[j].partition < 1000000)
                n = mt->partitions[j].partition + 1;
        t->parts = calloc(n ? (size_t)n : 1, sizeof(*t->parts));
        if (!t->name || !t->parts) {
            topics_free(topics, i + 1);
            return QUIRE_ERR_NO_MEMORY;
        }
        t->err = mt->error_code;
        t->part_cnt = n;
        for (int32_t p = 0; p < n; p++) {
            t->parts[p].leader = -1;
            t->parts[p].leader_epoch = -1;
            t->parts[p].err = QUIRE_ERR_LEADER_NOT_AVAILABLE;
        }
        for (size_t j = 0; j < mt->partition_count; j++) {
            const qr_metadata_part_t *mp = &mt->partitions[j];

            if (mp->partition < 0 || mp->partition >= n)
                continue;
            t->parts[mp->partition].leader = mp->leader;
            t->parts[mp->partition].leader_epoch = mp->leader_epoch;
            t->parts[mp->partition].err = mp->error_code;
            if (mp->leader < 0 || mp->error_code != QUIRE_ERR_NONE)
                *all_ok = 0;
        }
        if (t->err == QUIRE_ERR_NONE && n == 0)
            t->err = QUIRE_ERR_LEADER_NOT_AVAILABLE;
        if (t->err != QUIRE_ERR_NONE)
            *all_ok = 0;
    }
    pthread_mutex_lock(&cl->lock);
    topics_free(cl->topics, cl->topic_cnt);
    cl->topics = topics;
    cl->topic_cnt = cnt;
    cl->meta_version++;
    cl->avail_gen++;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->lock);
    return QUIRE_ERR_NONE;
}

static void on_metadata(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                        uint8_t **framebuf, void *arg)
{
    qr_client_t *cl = arg;
    int64_t now = qr_clock_mono_ms();
    int all_ok = 0;

    (void)framebuf;
    cl->meta_inflight = 0;
    if (err == QUIRE_ERR_NONE && resp->error_code != QUIRE_ERR_NONE)
        err = resp->error_code;
    if (err == QUIRE_ERR_NONE && resp->api != QR_API_METADATA)
        err = QUIRE_ERR_INVALID_REQUEST;
    if (err == QUIRE_ERR_DESTROYED) /* a clean close says nothing */
        QR_DBG(QR_DBG_NET, "META", "metadata request to %s: %s",
               qr_bconn_name(conn), quire_err2str(err));
    else if (err != QUIRE_ERR_NONE)
        QR_LOG_WARN("META", "metadata request to %s failed: %s",
                    qr_bconn_name(conn), quire_err2str(err));
    if (err != QUIRE_ERR_NONE) {
        cl->meta_retry_at_ms = now + cl->conf->retry_backoff_ms;
        cl->meta_needed = 1;
        qr_client_run_at(cl, cl->meta_retry_at_ms);
        return;
    }
    meta_brokers(cl, &resp->u.metadata);
    if (meta_topics(cl, &resp->u.metadata, &all_ok) != QUIRE_ERR_NONE) {
        cl->meta_needed = 1;
        return;
    }
    cl->meta_last_ms = now;
    /* a topic asked about but missing from the answer (the broker has not
     * heard of it yet), or one without leaders yet (just created, a leader
     * moving): ask again after the backoff */
    if (all_ok) {
        pthread_mutex_lock(&cl->lock);
        for (size_t i = 0; i < cl->wanted_cnt && all_ok; i++)
            all_ok = qr_client_topic(cl, cl->wanted[i]) != NULL;
        pthread_mutex_unlock(&cl->lock);
    }
    cl->meta_needed = !all_ok;
    cl->meta_retry_at_ms = now + cl->conf->retry_backoff_ms;
    if (!all_ok)
        qr_client_run_at(cl, cl->meta_retry_at_ms);
    ev_feed_event(cl->loop, &cl->wake, EV_ASYNC);
}

/* A connected broker for a metadata request; starts connecting one (known
 * brokers first, then bootstrap, round robin) when none is up. */
static qr_bconn_t *meta_conn(qr_client_t *cl)
{
    size_t n = cl->broker_cnt, known = n - cl->bootstrap_cnt;

    for (size_t i = 0; i < n; i++) {
        cbroker_t *b = &cl->brokers[i];

        if (b->conn && qr_bconn_state(b->conn) == QR_BCONN_UP &&
            qr_bconn_pending(b->conn) < cl->conf->max_in_flight)
            return b->conn;
    }
    for (size_t i = 0; i < n; i++)
        if (cl->brokers[i].conn)
            return NULL; /* one is connecting: wait for it */
    for (size_t k = 0; k < n; k++) {
        size_t i;

        cl->rr++;
        /* known brokers (after the bootstrap entries) come first */
        if (known && k < known)
            i = cl->bootstrap_cnt + cl->rr % known;
        else
            i = cl->rr % (cl->bootstrap_cnt ? cl->bootstrap_cnt : n);
        if (broker_conn(cl, &cl->brokers[i]))
            return NULL; /* connecting: run again when it is up */
    }
    return NULL;
}

static void meta_maybe_request(qr_client_t *cl)
{
    int64_t now = qr_clock_mono_ms();
    const char **topics;
    qr_req_t req;
    qr_bconn_t *conn;
    size_t cnt;

    if (cl->meta_inflight)
        return;
    /* a topic asked about since the last request makes one due: the
     * application adds to the wanted list under the lock, without touching
     * meta_needed, which is the loop's */
    pthread_mutex_lock(&cl->lock);
    cnt = cl->wanted_cnt;
    pthread_mutex_unlock(&cl->lock);
    if (cnt > cl->meta_wanted_seen)
        cl->meta_needed = 1;
    if (!cl->meta_needed &&
        now - cl->meta_last_ms < cl->conf->metadata_max_age_ms)
        return;
    if (now < cl->meta_retry_at_ms) {
        qr_client_run_at(cl, cl->meta_retry_at_ms);
        return;
    }
    pthread_mutex_lock(&cl->lock);
    cnt = cl->wanted_cnt;
    pthread_mutex_unlock(&cl->lock);
    if (cnt == 0) {
        cl->meta_needed = 0; /* nothing to ask about yet */
        cl->meta_last_ms = now;
        return;
    }
    conn = meta_conn(cl);
    if (!conn)
        return;
    topics = malloc((cnt ? cnt : 1) * sizeof(*topics));
    if (!topics)
        return;
    /* the wanted array only grows, and only the strings' pointers are
     * read: copy them under the lock */
    pthread_mutex_lock(&cl->lock);
    cnt = cl->wanted_cnt;
    for (size_t i = 0; i < cnt; i++)
        topics[i] = cl->wanted[i];
    pthread_mutex_unlock(&cl->lock);
    memset(&req, 0, sizeof(req));
    req.api = QR_API_METADATA;
    req.u.metadata.topic_count = cnt;
    req.u.metadata.topics = topics;
    req.u.metadata.allow_auto_topic_creation =
        cl->conf->allow_auto_create_topics < 0
            ? cl->ops->auto_create_default
            : cl->conf->allow_auto_create_topics;
    if (qr_bconn_send(conn, &req, NULL, 0, 1, cl->conf->request_timeout_ms,
                      on_metadata, cl) == QUIRE_ERR_NONE) {
        cl->meta_inflight = 1;
        cl->meta_needed = 0;
        cl->meta_wanted_seen = cnt;
    }
    free(topics);
}

quire_err_t qr_client_partitions(qr_client_t *cl, const char *topic,
                                 int64_t deadline_ms, int32_t *cntp)
{
    quire_err_t err = QUIRE_ERR_TIMED_OUT;
    const qr_cmeta_topic_t *t;
    struct timespec ts;
    uint64_t asked_version = 0;
    int asked = 0;

    pthread_mutex_lock(&cl->lock);
    for (;;) {
        if (cl->stop || cl->closing) {
            err = QUIRE_ERR_DESTROYED;
            break;
        }
        t = qr_client_topic(cl, topic);
        if (t && t->part_cnt > 0 &&
            (t->err == QUIRE_ERR_NONE ||
             t->err == QUIRE_ERR_LEADER_NOT_AVAILABLE)) {
            *cntp = t->part_cnt;
            err = QUIRE_ERR_NONE;
            break;
        }
        if (t)
            err = t->err != QUIRE_ERR_NONE ? t->err
                                           : QUIRE_ERR_LEADER_NOT_AVAILABLE;
        /* the broker said it does not exist (and did not create it): fail
         * at once rather than wait out the deadline. The answer stays in
         * the snapshot, so the next call fails at once too, until a
         * refresh (asked again every retry.backoff.ms while a wanted topic
         * has an error) finds the topic. */
        if (t &&
            (t->err == QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
             t->err == QUIRE_ERR_INVALID_TOPIC_EXCEPTION) &&
            (!asked || cl->meta_version != asked_version))
            break;
        if (!asked) {
            int found = 0;

            for (size_t i = 0; i < cl->wanted_cnt && !found; i++)
                found = !strcmp(cl->wanted[i], topic);
            if (!found) {
                char *s;

                if (cl->wanted_cnt == cl->wanted_cap) {
                    err = QUIRE_ERR_NO_MEMORY; /* fixed-size table */
                    break;
                }
                s = strdup(topic);
                if (!s) {
                    err = QUIRE_ERR_NO_MEMORY;
                    break;
                }
                cl->wanted[cl->wanted_cnt++] = s;
            }
            asked = 1;
            asked_version = cl->meta_version;
            pthread_mutex_unlock(&cl->lock);
            ev_async_send(cl->loop, &cl->wake);
            pthread_mutex_lock(&cl->lock);
            continue;
        }
        if (qr_clock_mono_ms() >= deadline_ms)
            break;
        ts.tv_sec = (time_t)(deadline_ms / 1000);
        ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
        pthread_cond_timedwait(&cl->cv, &cl->lock, &ts);
    }
    pthread_mutex_unlock(&cl->lock);
    return err;
}

/* ---- issue 15: statistics ---- */

static const char *broker_state(const cbroker_t *b)
{
    if (b->conn)
        return qr_bconn_state(b->conn) == QR_BCONN_UP ? "UP" : "CONNECT";
    return b->ever_up || b->fails ? "DOWN" : "INIT";
}

/* Each partition of the document gets its leader from the metadata
 * snapshot (-1 when none is known). */
static void stats_leaders(qr_client_t *cl, json_t *doc)
{
    const char *name;
    json_t *t;

    json_object_foreach(json_object_get(doc, "topics"), name, t)
    {
        const qr_cmeta_topic_t *mt = qr_client_topic(cl, name);
        const char *key;
        json_t *po;

        json_object_foreach(json_object_get(t, "partitions"), key, po)
        {
            json_int_t p = json_integer_value(json_object_get(po, "partition"));
            int32_t leader =
                mt && p >= 0 && p < mt->part_cnt ? mt->parts[p].leader : -1;

            json_object_set_new(po, "leader", json_integer(leader));
        }
    }
}

/* Builds the document and hands it to the statistics callback. */
static void on_stats(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_client_t *cl = w->data;
    json_t *doc;
    char *text;

    (void)loop;
    (void)revents;
    doc = qr_cstats_doc_new(cl->stats, cl->stats_name, cl->conf->client_id,
                            cl->ops->type ? cl->ops->type : "client");
    if (!doc)
        return;
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        cbroker_t *b = &cl->brokers[i];
        char name[320];
        int pending = b->conn ? qr_bconn_pending(b->conn) : 0;
        int waitresp = b->conn ? qr_bconn_waitresp(b->conn) : 0;

        if (b->id >= 0)
            snprintf(name, sizeof(name), "%s:%d/%d", b->host, b->port,
                     (int)b->id);
        else
            snprintf(name, sizeof(name), "%s:%d/bootstrap", b->host, b->port);
        qr_cstats_doc_broker(doc, b->stats, name, b->id,
                             b->id >= 0 ? "learned" : "configured",
                             broker_state(b), pending - waitresp, waitresp);
    }
    if (cl->ops->stats)
        cl->ops->stats(cl, cl->ctx, doc);
    stats_leaders(cl, doc);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return;
    cl->conf->stats_cb(text, strlen(text), cl->conf->stats_opaque);
    free(text);
}

/* Starts the statistics timer when the application asked for documents. */
static void stats_init(qr_client_t *cl)
{
    double every = cl->conf->statistics_interval_ms / 1e3;

    snprintf(cl->stats_name, sizeof(cl->stats_name), "%s#%s-%llx",
             cl->conf->client_id, cl->ops->type ? cl->ops->type : "client",
             (unsigned long long)(qr_clock_mono_ns() / 1000));
    ev_timer_init(&cl->stats_timer, on_stats, every, every);
    cl->stats_timer.data = cl;
    if (cl->conf->statistics_interval_ms > 0 && cl->conf->stats_cb)
        ev_timer_start(cl->loop, &cl->stats_timer);
}

/* ---- the loop ---- */

void qr_client_run_at(qr_client_t *cl, int64_t at_ms)
{
    if (at_ms < cl->next_run_ms)
        cl->next_run_ms = at_ms;
}

static void run_all(qr_client_t *cl)
{
    int64_t now;

    cl->next_run_ms = INT64_MAX;
    qr_logsink_flush(&cl->logs, qr_clock_mono_ms(), 0); /* issue 15 item 4 */
    meta_maybe_request(cl);
    probe_down(cl, qr_clock_mono_ms());
    if (cl->ops->run)
        cl->ops->run(cl, cl->ctx);
    /* the tick covers housekeeping; run earlier when something is due */
    now = qr_clock_mono_ms();
    ev_timer_stop(cl->loop, &cl->tick);
    {
        int64_t at =
            cl->next_run_ms < now + TICK_MS ? cl->next_run_ms : now + TICK_MS;
        ev_timer_set(&cl->tick, at > now ? (double)(at - now) / 1e3 : 0., 0.);
    }
    ev_timer_start(cl->loop, &cl->tick);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_client_t *cl = w->data;
    int stop;

    (void)revents;
    pthread_mutex_lock(&cl->lock);
    stop = cl->stop;
    pthread_mutex_unlock(&cl->lock);
    if (stop) {
        if (cl->ops->stopping)
            cl->ops->stopping(cl, cl->ctx);
        for (size_t i = 0; i < cl->broker_cnt; i++)
            if (cl->brokers[i].conn)
                qr_bconn_close(cl->brokers[i].conn, QUIRE_ERR_DESTROYED);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    run_all(cl);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    run_all(w->data);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    qr_client_t *cl = w->data;

    (void)loop;
    (void)revents;
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        if (cl->brokers[i].dead) {
            qr_bconn_destroy(cl->brokers[i].dead);
            cl->brokers[i].dead = NULL;
        }
    }
}

/* Connections that came up are noticed by their first write event; the
 * producer/consumer learn of them on the next run, so also run when a
 * connection is being set up (cheap: the tick). */
static void *loop_main(void *arg)
{
    qr_client_t *cl = arg;

    qr_logsink_enter(&cl->logs); /* this thread logs as the handle */
    ev_run(cl->loop, 0);
    return NULL;
}

#define WANTED_MAX 4096

/* issue 18: log_level, debug (per handle) and log_cb; repeated lines are
 * summarised every LOG_REPEAT_MS (issue 15 item 4). */
#define LOG_REPEAT_MS 5000

static void log_to_cb(void *opaque, int level, const char *fac, const char *msg)
{
    const quire_conf_t *conf = opaque;

    conf->log_cb(level, fac, msg, conf->log_opaque);
}

static quire_err_t logs_init(qr_client_t *cl, quire_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
    const char *bad = NULL;
    uint32_t mask = 0;

    if (qr_log_debug_parse(conf->debug, &mask, &bad) != 0) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "debug: unknown context at '%s' (zk, proto, fetch, "
                     "produce, log, group, conf, net or all)",
                     bad);
        mask = 0;
    }
    qr_logsink_init(&cl->logs, conf->log_level, mask,
                    conf->log_cb ? log_to_cb : NULL, conf, LOG_REPEAT_MS);
    return bad ? QUIRE_ERR_CONF_INVALID : QUIRE_ERR_NONE;
}

quire_err_t qr_client_new(quire_conf_t *conf, const qr_client_ops_t *ops,
                          void *ctx, qr_client_t **clp, char *errstr,
                          size_t errstr_size)
{
    pthread_condattr_t ca;
    qr_log_ctx_t *prev;
    qr_client_t *cl;
    quire_err_t err;

    if (!*conf->bootstrap_servers && !*conf->zookeeper_connect) {
        seterr(errstr, errstr_size,
               "bootstrap.servers (or zookeeper.connect) is not set", NULL);
        return QUIRE_ERR_CONF_INVALID;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl)
        return QUIRE_ERR_NO_MEMORY;
    cl->wanted = calloc(WANTED_MAX, sizeof(*cl->wanted));
    if (!cl->wanted) {
        free(cl);
        return QUIRE_ERR_NO_MEMORY;
    }
    cl->wanted_cap = WANTED_MAX;
    cl->ops = ops;
    cl->ctx = ctx;
    cl->meta_needed = 1;
    cl->stats = qr_cstats_new();
    cl->rxpool = qr_rxpool_new();
    if (!cl->stats || !cl->rxpool) {
        qr_cstats_destroy(cl->stats);
        qr_rxpool_destroy(cl->rxpool);
        free(cl->wanted);
        free(cl);
        return QUIRE_ERR_NO_MEMORY;
    }
    err = logs_init(cl, conf, errstr, errstr_size);
    prev = qr_client_log_enter(cl);
    if (err != QUIRE_ERR_NONE)
        ;
    else if (*conf->bootstrap_servers)
        err = parse_bootstrap(cl, conf->bootstrap_servers, errstr, errstr_size);
    else {
        /* the brokers registered in ZooKeeper seed the list */
        char *list = NULL;

        err = qr_zkboot_brokers(
            conf->zookeeper_connect, conf->zookeeper_session_timeout_ms,
            conf->zookeeper_connection_timeout_ms, &list, errstr, errstr_size);
        if (err == QUIRE_ERR_NONE)
            err = parse_bootstrap(cl, list, errstr, errstr_size);
        free(list);
    }
    if (err == QUIRE_ERR_NONE && cl->broker_cnt == 0) {
        seterr(errstr, errstr_size, "bootstrap.servers is empty", NULL);
        err = QUIRE_ERR_CONF_INVALID;
    }
    if (err == QUIRE_ERR_NONE) {
        cl->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        if (!cl->loop)
            err = QUIRE_ERR_NO_MEMORY;
    }
    qr_client_log_leave(prev);
    if (err != QUIRE_ERR_NONE) {
        qr_logsink_fini(&cl->logs);
        for (size_t i = 0; i < cl->broker_cnt; i++) {
            free(cl->brokers[i].host);
            free(cl->brokers[i].stats);
        }
        free(cl->brokers);
        free(cl->wanted);
        qr_cstats_destroy(cl->stats);
        qr_rxpool_destroy(cl->rxpool);
        free(cl);
        return err;
    }
    pthread_mutex_init(&cl->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->cv, &ca);
    pthread_condattr_destroy(&ca);
    ev_async_init(&cl->wake, on_wake);
    cl->wake.data = cl;
    ev_async_start(cl->loop, &cl->wake);
    ev_timer_init(&cl->tick, on_tick, 0., 0.);
    cl->tick.data = cl;
    ev_timer_start(cl->loop, &cl->tick);
    ev_prepare_init(&cl->prep, on_prepare);
    cl->prep.data = cl;
    ev_prepare_start(cl->loop, &cl->prep);
    cl->conf = conf;
    stats_init(cl);
    *clp = cl;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_client_start(qr_client_t *cl)
{
    if (pthread_create(&cl->thread, NULL, loop_main, cl) != 0)
        return QUIRE_ERR_NO_MEMORY;
    qr_thread_name(cl->thread, "quire-client", -1);
    cl->thread_started = 1;
    return QUIRE_ERR_NONE;
}

void qr_client_kick(qr_client_t *cl)
{
    ev_feed_event(cl->loop, &cl->wake, EV_ASYNC);
}

void qr_client_wake(qr_client_t *cl)
{
    ev_async_send(cl->loop, &cl->wake);
}

void qr_client_closing(qr_client_t *cl)
{
    pthread_mutex_lock(&cl->lock);
    cl->closing = 1;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->lock);
}

void qr_client_stop(qr_client_t *cl)
{
    pthread_mutex_lock(&cl->lock);
    cl->stop = 1;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->lock);
    if (!cl->thread_started)
        return;
    ev_async_send(cl->loop, &cl->wake);
    pthread_join(cl->thread, NULL);
    cl->thread_started = 0;
}

void qr_client_destroy(qr_client_t *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; i < cl->broker_cnt; i++) {
        qr_bconn_destroy(cl->brokers[i].dead);
        qr_bconn_destroy(cl->brokers[i].conn);
        free(cl->brokers[i].host);
        free(cl->brokers[i].stats);
    }
    free(cl->brokers);
    if (cl->loop) {
        ev_async_stop(cl->loop, &cl->wake);
        ev_timer_stop(cl->loop, &cl->tick);
        ev_prepare_stop(cl->loop, &cl->prep);
        ev_timer_stop(cl->loop, &cl->stats_timer);
        ev_loop_destroy(cl->loop);
    }
    for (size_t i = 0; i < cl->wanted_cnt; i++)
        free(cl->wanted[i]);
    free(cl->wanted);
    topics_free(cl->topics, cl->topic_cnt);
    qr_cstats_destroy(cl->stats);
    qr_rxpool_destroy(cl->rxpool); /* after the connections' buffers */
    qr_logsink_fini(&cl->logs);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->lock);
    quire_conf_destroy(cl->conf);
    free(cl);
}
