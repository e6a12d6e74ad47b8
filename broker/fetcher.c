/*
 * fetcher: follower connections, replica fetches, truncation. See
 * fetcher.h for the threads, the lock and what is owned.
 *
 * Per partition the state is Kafka's: TRUNCATING (ask the leader where our
 * latest epoch ends, cut the log there) then FETCHING; an error delays the
 * partition by replica.fetch.backoff.ms without stopping the others on
 * the same source. A partition's `gen` changes whenever it is re-followed,
 * so an answer to a request sent before (another epoch, another leader)
 * is recognised and dropped.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "clock.h"
#include "fetcher.h"
#include "frame.h"
#include "idemp.h"
#include "logging.h"
#include "thread.h"
#include "wire.h"

#define RBUF_MIN (64 * 1024)

enum { P_TRUNCATING, P_FETCHING };
enum { S_IDLE, S_CONNECTING, S_READY };
enum { REQ_NONE, REQ_FETCH, REQ_EPOCH };

typedef struct source source_t;

typedef struct fpart {
    struct fpart *next; /* f->parts */
    char *topic;        /* owned */
    int32_t partition;
    qr_plog_t *part;   /* one reference; NULL once unfollowed */
    qr_idemp_t *idemp; /* issue 22: the producer state of the batches we
                          copy (owned; NULL once unfollowed) */
    int32_t leader, epoch;
    char *host; /* owned; NULL: no leader to fetch from */
    int port;
    unsigned gen;        /* bumped by every follow that changes something */
    int state;           /* P_* */
    int64_t delay_until; /* mono ms: not in a request before this */
    int inflight;        /* requests in flight naming it */
    int64_t synced_want; /* wait for this synced end before the next fetch */
    source_t *src;       /* the fetcher thread's: where it is fetched */
    int64_t fetches, truncations;
} fpart_t;

/* One partition named in a request in flight. */
typedef struct req_part {
    fpart_t *fp;
    unsigned gen;
    int64_t fetch_offset;
} req_part_t;

/* A request in flight. */
typedef struct inflight {
    int kind; /* REQ_*; REQ_NONE: no request */
    int32_t corr;
    int64_t sent_ms;
    req_part_t *req; /* the partitions it names (owned; room for nparts) */
    size_t cnt;
} inflight_t;

struct source {
    source_t *next; /* f->sources */
    qr_fetcher_t *f;
    int32_t id;
    char *host; /* owned */
    int port;
    char name[300]; /* "broker N (host:port)", for logs */
    int fd;
    ev_io io;
    ev_timer timer;
    int state;   /* S_* */
    int failing; /* the last attempt failed: log the next at debug only */
    int64_t retry_at;
    /* Requests in flight, answered in order: cur, then piped, a
     * Fetch sent before cur's answer was appended (pipelined), only for
     * partitions far below the leader's high watermark (send_next). */
    inflight_t cur, piped;
    int64_t conn_ms; /* when the connection attempt started */
    uint8_t *wbuf;   /* the request being written */
    size_t wlen, woff;
    uint8_t *rbuf; /* the response being read: grow-only, at most
                      conf.max_frame */
    size_t rlen, rcap;
    size_t nparts; /* partitions assigned to it */
};

struct qr_fetcher {
    qr_fetcher_conf_t conf;
    pthread_mutex_t mu;
    struct ev_loop *loop;
    ev_async wake;
    pthread_t tid;
    int started, stopping;
    fpart_t *parts;
    source_t *sources;
    int32_t next_corr;
};

/* ---- the KIP-279 rule ---- */

qr_fetcher_trunc_t qr_fetcher_truncation(int32_t leader_epoch,
                                         int64_t leader_end,
                                         int32_t follower_epoch,
                                         int64_t follower_end, int64_t log_end,
                                         int64_t hw)
{
    qr_fetcher_trunc_t t;

    t.done = 1;
    if (leader_end < 0) {
        /* the leader knows no epoch: our high watermark is all we know to
         * be committed (pre-KIP-101 behaviour) */
        t.offset = hw;
    } else if (follower_epoch < 0 || follower_end < 0) {
        /* we have nothing at or below the leader's epoch: the leader has
         * everything below its end offset for it, so keep up to there */
        t.offset = leader_end;
    } else if (follower_epoch != leader_epoch) {
        /* the leader never saw our epoch: drop what we wrote after our
         * last epoch it may know, and ask again about that one */
        t.offset = follower_end;
        t.done = 0;
    } else {
        t.offset = leader_end < follower_end ? leader_end : follower_end;
    }
    if (t.offset > log_end)
        t.offset = log_end;
    if (t.offset < 0)
        t.offset = 0;
    return t;
}

/* ---- partitions ---- */

static fpart_t *find_part(const qr_fetcher_t *f, const char *topic,
                          int32_t partition)
{
    for (fpart_t *fp = f->parts; fp; fp = fp->next)
        if (fp->partition == partition && fp->part &&
            strcmp(fp->topic, topic) == 0)
            return fp;
    return NULL;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void qr_fetcher_follow(qr_fetcher_t *f, qr_plog_t *part, int32_t leader,
                       int32_t leader_epoch, const char *host, int port)
{
    const char *topic = qr_plog_topic(part);
    int32_t partition = qr_plog_partition(part);
    fpart_t *fp;

    if (leader < 0)
        host = NULL;
    pthread_mutex_lock(&f->mu);
    fp = find_part(f, topic, partition);
    if (!fp) {
        fp = qr_calloc(1, sizeof(*fp));
        fp->topic = qr_strdup(topic);
        fp->partition = partition;
        qr_plog_keep(part);
        fp->part = part;
        fp->idemp = qr_idemp_new();
        fp->epoch = -1;
        fp->next = f->parts;
        f->parts = fp;
    } else if (fp->leader == leader && fp->epoch == leader_epoch &&
               fp->port == port && same_str(fp->host, host)) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    fp->leader = leader;
    fp->epoch = leader_epoch;
    free(fp->host);
    fp->host = host ? qr_strdup(host) : NULL;
    fp->port = port;
    fp->gen++;
    fp->state = P_TRUNCATING;
    fp->delay_until = 0;
    fp->synced_want = -1;
    pthread_mutex_unlock(&f->mu);
    QR_LOG_INFO("REPL", "%s: following broker %d at leader epoch %d%s",
                qr_plog_name(part), (int)leader, (int)leader_epoch,
                host ? "" : " (no live leader: not fetching)");
    if (f->started)
        ev_async_send(f->loop, &f->wake);
}

int qr_fetcher_unfollow(qr_fetcher_t *f, const char *topic, int32_t partition)
{
    qr_plog_t *part = NULL;
    qr_idemp_t *idemp = NULL;
    fpart_t *fp;

    pthread_mutex_lock(&f->mu);
    fp = find_part(f, topic, partition);
    if (fp) {
        /* the thread frees the entry once no request names it */
        part = fp->part;
        fp->part = NULL;
        idemp = fp->idemp;
        fp->idemp = NULL;
        fp->gen++;
    }
    pthread_mutex_unlock(&f->mu);
    if (!fp)
        return 0;
    QR_LOG_INFO("REPL", "%s-%d: no longer fetched", topic, (int)partition);
    /* nothing appends any more: a snapshot at the log end, where a new
     * leader's producer state loads from (issue 22) */
    qr_idemp_destroy(idemp, part);
    qr_plog_release(part);
    if (f->started)
        ev_async_send(f->loop, &f->wake);
    return 1;
}

int qr_fetcher_stat(qr_fetcher_t *f, const char *topic, int32_t partition,
                    qr_fetcher_pstat_t *out)
{
    fpart_t *fp;

    pthread_mutex_lock(&f->mu);
    fp = find_part(f, topic, partition);
    if (fp) {
        out->leader = fp->leader;
        out->leader_epoch = fp->epoch;
        out->truncating = fp->state == P_TRUNCATING;
        out->fetches = fp->fetches;
        out->truncations = fp->truncations;
    }
    pthread_mutex_unlock(&f->mu);
    return fp != NULL;
}

void qr_fetcher_notify(qr_fetcher_t *f)
{
    if (f && f->started && !f->stopping)
        ev_async_send(f->loop, &f->wake);
}

/* ---- sources: connect, send, receive ---- */

static void kick(source_t *src);
static void src_fail(source_t *src, const char *what, int err);

static void slot_done(inflight_t *q)
{
    for (size_t i = 0; i < q->cnt; i++)
        q->req[i].fp->inflight--;
    q->cnt = 0;
    q->kind = REQ_NONE;
}

/* The oldest request in flight is answered: its partitions may go, and
 * the pipelined one (if any) is the oldest now. */
static void req_done(source_t *src)
{
    inflight_t t = src->cur;

    slot_done(&src->cur);
    src->cur = src->piped;
    src->piped = t;
    src->piped.cnt = 0;
    src->piped.kind = REQ_NONE;
}

/* The connection is lost: no answer comes to anything in flight. */
static void req_drop(source_t *src)
{
    slot_done(&src->piped);
    slot_done(&src->cur);
}

static void src_close(source_t *src)
{
    qr_fetcher_t *f = src->f;

    if (src->fd >= 0) {
        ev_io_stop(f->loop, &src->io);
        close(src->fd);
        src->fd = -1;
    }
    ev_timer_stop(f->loop, &src->timer);
    req_drop(src);
    free(src->wbuf);
    src->wbuf = NULL;
    src->wlen = src->woff = 0;
    src->rlen = 0;
    if (src->rcap > RBUF_MIN) {
        free(src->rbuf); /* an idle source keeps no large buffer */
        src->rbuf = NULL;
        src->rcap = 0;
    }
    src->state = S_IDLE;
}

static void src_timer(source_t *src, int64_t at_ms)
{
    int64_t now = qr_clock_mono_ms();
    ev_tstamp after = at_ms > now ? (double)(at_ms - now) / 1e3 : 0.;

    ev_timer_stop(src->f->loop, &src->timer);
    ev_timer_set(&src->timer, after, 0.);
    ev_timer_start(src->f->loop, &src->timer);
}

static void src_fail(source_t *src, const char *what, int err)
{
    int lvl = src->failing ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_WARNING;

    QR_LOG(lvl, "REPL", "%s: %s%s%s; retrying in %" PRId64 " ms", src->name,
           what, err ? ": " : "", err ? strerror(err) : "",
           src->f->conf.backoff_ms);
    src->failing = 1;
    src_close(src);
    src->retry_at = qr_clock_mono_ms() + src->f->conf.backoff_ms;
    src_timer(src, src->retry_at);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents);

static int src_connect(source_t *src)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    int fd = -1, rc, err = 0, one = 1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", src->port);
    rc = getaddrinfo(src->host, port, &hints, &ai);
    if (rc != 0) {
        QR_LOG(src->failing ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_WARNING, "REPL",
               "%s: cannot resolve: %s", src->name, gai_strerror(rc));
        src_fail(src, "no address", 0);
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
    } else {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
            errno != EINPROGRESS)
            err = errno;
    }
    freeaddrinfo(ai);
    if (err) {
        if (fd >= 0)
            close(fd);
        src_fail(src, "connect", err);
        return -1;
    }
    src->fd = fd;
    src->state = S_CONNECTING;
    ev_io_init(&src->io, on_io, fd, EV_WRITE);
    src->io.data = src;
    ev_io_start(src->f->loop, &src->io);
    src->conn_ms = qr_clock_mono_ms();
    src_timer(src, src->conn_ms + src->f->conf.socket_timeout_ms);
    return 0;
}

/* Waits for the oldest request's answer, or for the socket timeout. */
static void src_arm(source_t *src)
{
    qr_fetcher_t *f = src->f;

    src_timer(src, src->cur.sent_ms + f->conf.wait_max_ms +
                       f->conf.socket_timeout_ms);
}

/* Sends @p buf (owned), the request of slot @p q, and waits for its
 * answer. The previous request was written whole: its answer came, or
 * nothing else is in flight. */
static void src_send(source_t *src, inflight_t *q, uint8_t *buf, size_t len,
                     int kind)
{
    qr_fetcher_t *f = src->f;

    ssize_t n;

    QR_ASSERT(src->wbuf == NULL);
    q->kind = kind;
    q->sent_ms = qr_clock_mono_ms();
    /* A request is small: it mostly goes at once, without waiting for
     * the loop to say the socket is writable. A failure is left to
     * src_write, from the loop (the caller may be applying an answer). */
    n = send(src->fd, buf, len, MSG_NOSIGNAL);
    if (n == (ssize_t)len) {
        free(buf);
    } else {
        src->wbuf = buf;
        src->wlen = len;
        src->woff = n > 0 ? (size_t)n : 0;
        ev_io_stop(f->loop, &src->io);
        ev_io_set(&src->io, src->fd, EV_READ | EV_WRITE);
        ev_io_start(f->loop, &src->io);
    }
    if (q == &src->cur)
        src_arm(src);
}

/* ---- Fetch ---- */

static int cmp_req_part(const void *a, const void *b)
{
    const req_part_t *x = a, *y = b;
    int c = strcmp(x->fp->topic, y->fp->topic);

    if (c)
        return c;
    return x->fp->partition < y->fp->partition
               ? -1
               : x->fp->partition > y->fp->partition;
}

/* Room in @p q for every partition of @p src. */
static void slot_room(source_t *src, inflight_t *q)
{
    q->req = qr_realloc(q->req, (src->nparts + 1) * sizeof(*q->req));
}

/* Picks the partitions of @p src in @p state that may go in a request
 * now, into src->cur; returns how many, and the earliest delay of the
 * others in *next_ms (INT64_MAX: none). */
static size_t pick_parts(source_t *src, int state, int64_t *next_ms)
{
    qr_fetcher_t *f = src->f;
    int64_t now = qr_clock_mono_ms();
    size_t n = 0;

    slot_room(src, &src->cur);
    for (fpart_t *fp = f->parts; fp; fp = fp->next) {
        if (fp->src != src || !fp->part || fp->state != state)
            continue;
        if (fp->delay_until > now) {
            if (fp->delay_until < *next_ms)
                *next_ms = fp->delay_until;
            continue;
        }
        if (n < src->nparts)
            src->cur.req[n++] = (req_part_t){fp, fp->gen, -1};
    }
    qsort(src->cur.req, n, sizeof(*src->cur.req), cmp_req_part);
    return n;
}

/* Groups the first @p n partitions of @p q (sorted) by topic for the
 * wire. */
static size_t group_topics(const inflight_t *q, size_t n, const char **names,
                           size_t *starts)
{
    size_t t = 0;

    for (size_t i = 0; i < n; i++)
        if (i == 0 ||
            strcmp(q->req[i].fp->topic, q->req[i - 1].fp->topic) != 0) {
            names[t] = q->req[i].fp->topic;
            starts[t++] = i;
        }
    starts[t] = n;
    return t;
}

/* Encodes @p req, which names the first @p n entries of @p q, and sends
 * it. */
static int send_req(source_t *src, inflight_t *q, qr_req_t *req, size_t n,
                    int kind)
{
    uint8_t *buf = NULL;
    size_t len;
    quire_err_t err;

    req->correlation_id = q->corr = ++src->f->next_corr;
    req->client_id = "quire-replica-fetcher";
    err = qr_wire_req_encode_alloc(req, &buf, &len);
    q->cnt = n;
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("REPL", "%s: cannot encode a %s request: %s", src->name,
                   qr_wire_api_name(req->api), quire_err2str(err));
        src_fail(src, "request not sent", 0);
        return -1;
    }
    src_send(src, q, buf, len, kind);
    return 0;
}

/* Sends a Fetch for the first @p n partitions of @p q, each from its
 * fetch_offset, or from its log end when that is -1, held at the leader
 * for at most @p wait_ms. */
static int send_fetch(source_t *src, inflight_t *q, size_t n, int32_t wait_ms)
{
    qr_fetcher_t *f = src->f;
    const char **names = qr_calloc(n + 1, sizeof(*names));
    size_t *starts = qr_calloc(n + 2, sizeof(*starts));
    qr_fetch_topic_t *topics = qr_calloc(n + 1, sizeof(*topics));
    qr_fetch_part_t *parts = qr_calloc(n + 1, sizeof(*parts));
    size_t tcnt = group_topics(q, n, names, starts);
    qr_req_t req = {0};
    int rc;

    for (size_t i = 0; i < n; i++) {
        req_part_t *rp = &q->req[i];
        if (rp->fetch_offset < 0)
            rp->fetch_offset = qr_plog_log_end(rp->fp->part);
        parts[i].partition = rp->fp->partition;
        parts[i].fetch_offset = rp->fetch_offset;
        parts[i].partition_max_bytes = f->conf.fetch_max_bytes;
        parts[i].current_leader_epoch = rp->fp->epoch;
        parts[i].replica_synced_offset = qr_plog_synced_end(rp->fp->part);
        rp->fp->inflight++;
    }
    for (size_t t = 0; t < tcnt; t++) {
        topics[t].topic = names[t];
        topics[t].partition_count = starts[t + 1] - starts[t];
        topics[t].partitions = &parts[starts[t]];
    }
    req.api = QR_API_FETCH;
    req.u.fetch.replica_id = f->conf.broker_id;
    req.u.fetch.max_wait_ms = wait_ms;
    req.u.fetch.min_bytes = f->conf.min_bytes;
    req.u.fetch.max_bytes = f->conf.response_max_bytes;
    req.u.fetch.topic_count = tcnt;
    req.u.fetch.topics = topics;
    rc = send_req(src, q, &req, n, REQ_FETCH);
    free(names);
    free(starts);
    free(topics);
    free(parts);
    return rc;
}

/* Cuts the log of @p fp at @p offset (KIP-101), or empties it and starts
 * it at @p offset (@p fully: we are below the leader's log start). */
static void truncate_part(source_t *src, fpart_t *fp, int64_t offset, int fully)
{
    int64_t end = qr_plog_log_end(fp->part);
    quire_err_t err;

    if (!fully && offset >= end)
        return;
    /* the producer state is cut with the log (issue 22) */
    err = qr_idemp_truncate(fp->idemp, fp->part, offset, fully);
    fp->truncations++;
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("REPL", "%s: cannot truncate to %" PRId64 ": %s",
                   qr_plog_name(fp->part), offset, quire_err2str(err));
        fp->delay_until = qr_clock_mono_ms() + src->f->conf.backoff_ms;
        return;
    }
    QR_LOG_INFO("REPL",
                "%s: %s to offset %" PRId64 " (log end was %" PRId64 ")",
                qr_plog_name(fp->part),
                fully ? "emptied and restarted" : "truncated", offset, end);
}

static void delay_part(source_t *src, fpart_t *fp, quire_err_t err)
{
    QR_LOG(fp->delay_until ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_WARNING, "REPL",
           "%s: %s answered %s; retrying in %" PRId64 " ms",
           qr_plog_name(fp->part), src->name, quire_err2str(err),
           src->f->conf.backoff_ms);
    fp->delay_until = qr_clock_mono_ms() + src->f->conf.backoff_ms;
}

/* Validates the leader's batches for @p fp and returns the span to append
 * (whole batches from our log end on); *skip is where it starts. */
static quire_err_t replica_span(fpart_t *fp, const uint8_t *p, size_t len,
                                size_t *skip, size_t *span, size_t *largest)
{
    int64_t end = qr_plog_log_end(fp->part);
    size_t off = 0, start = 0;
    int started = 0;

    while (off < len) {
        qr_batch_hdr_t hdr = {0};
        const char *why = NULL;
        quire_err_t err = qr_batch_validate(p + off, len - off,
                                            QR_BATCH_CHECK_CRC, &hdr, &why);
        if (err == QUIRE_ERR_TRUNCATED)
            break; /* a torn last batch: fetched again next time */
        if (err != QUIRE_ERR_NONE) {
            QR_LOG_ERR("REPL",
                       "%s: the leader's batch at offset %" PRId64
                       " fails validation: %s",
                       qr_plog_name(fp->part), hdr.base_offset,
                       why ? why : quire_err2str(err));
            return QUIRE_ERR_CORRUPT_MESSAGE;
        }
        if (qr_batch_size(&hdr) > *largest)
            *largest = qr_batch_size(&hdr);
        if (!started && qr_batch_last_offset(&hdr) < end) {
            off += qr_batch_size(&hdr); /* we have it: the leader sends
                                           the batch holding our end */
            continue;
        }
        if (!started) {
            if (hdr.base_offset != end) {
                QR_LOG_WARN("REPL",
                            "%s: the leader's batch %" PRId64 "..%" PRId64
                            " straddles our log end %" PRId64,
                            qr_plog_name(fp->part), hdr.base_offset,
                            qr_batch_last_offset(&hdr), end);
                return QUIRE_ERR_OFFSET_OUT_OF_RANGE;
            }
            started = 1;
            start = off;
        }
        off += qr_batch_size(&hdr);
    }
    *skip = start;
    *span = started ? off - start : 0;
    return QUIRE_ERR_NONE;
}

/* Write caching on: the leader counts our fetch offset, not our synced
 * end (REPL.md), so there is no sync to wait for. */
static int write_caching(qr_plog_t *part)
{
    qr_plog_conf_t conf;

    qr_plog_get_conf(part, &conf);
    return conf.write_caching != 0;
}

static void apply_records(source_t *src, fpart_t *fp,
                          const qr_fetch_part_resp_t *r)
{
    size_t skip = 0, span = 0, largest = 0;
    int64_t last = -1, hw, end;
    quire_err_t err;

    err =
        replica_span(fp, r->records, r->records_length, &skip, &span, &largest);
    if (err == QUIRE_ERR_OFFSET_OUT_OF_RANGE) {
        fp->state = P_TRUNCATING; /* our end is not a batch boundary of
                                     the leader's: ask again */
        return;
    }
    if (err != QUIRE_ERR_NONE) {
        delay_part(src, fp, err);
        return;
    }
    if (span > 0) {
        err = qr_idemp_append_replica(
            fp->idemp, fp->part, (uint8_t *)r->records + skip, span, &last);
        if (err != QUIRE_ERR_NONE) {
            QR_LOG_ERR("REPL", "%s: append of %zu bytes from %s: %s",
                       qr_plog_name(fp->part), span, src->name,
                       quire_err2str(err));
            if (err == QUIRE_ERR_OFFSET_OUT_OF_RANGE)
                fp->state = P_TRUNCATING;
            else
                delay_part(src, fp, err);
            return;
        }
        /* With write caching off, the next Fetch waits for the sync, to
         * report it to acks=all, when we are at the leader's end (the
         * answer was not cut by replica.fetch.max.bytes, which leaves less
         * than a batch unused) or when the leader's HW is below what we
         * just appended (we are in its ISR and its acks=all wait for us:
         * a Fetch sent before the sync would report an old synced end and
         * then be held at the leader for replica.fetch.wait.max.ms, since
         * the producers, waiting for their acks, send nothing new) unless
         * the answer was plainly cut by the limit (whole batches within
         * it, and the largest would not have fitted: there is more, and a
         * Fetch for it is answered at once; an answer of one batch larger
         * than the limit, KIP-74, says nothing). Waiting for a sync per
         * answer would bound a catch-up in the ISR by fdatasync's latency.
         * While catching up from below the HW it does not wait. */
        size_t max = (size_t)src->f->conf.fetch_max_bytes;
        int cut = (size_t)r->records_length + largest > max;
        if (!write_caching(fp->part) &&
            (!cut ||
             (r->high_watermark <= last && (size_t)r->records_length > max)))
            fp->synced_want = last + 1;
    }
    end = qr_plog_log_end(fp->part);
    hw = r->high_watermark < end ? r->high_watermark : end;
    if (hw >= 0)
        qr_plog_set_replicated_hw(fp->part, hw);
    fp->fetches++;
    fp->delay_until = 0;
}

static void apply_fetch_part(source_t *src, const req_part_t *rp,
                             const qr_fetch_part_resp_t *r)
{
    fpart_t *fp = rp->fp;

    if (rp->fetch_offset != qr_plog_log_end(fp->part)) {
        /* a pipelined Fetch (send_next) whose predecessor's answer did
         * not end the log where it was expected (an append failed, or
         * the log was truncated): the next Fetch asks from the log end */
        QR_DBG(QR_DBG_FETCH, "REPL",
               "%s: answer from %" PRId64 " dropped: the log ends at %" PRId64,
               qr_plog_name(fp->part), rp->fetch_offset,
               qr_plog_log_end(fp->part));
        return;
    }
    switch (r->error_code) {
    case QUIRE_ERR_NONE:
        apply_records(src, fp, r);
        break;
    case QUIRE_ERR_OFFSET_OUT_OF_RANGE:
        if (r->log_start_offset > rp->fetch_offset) {
            /* behind the leader's retention: start over at its log start
             * (Kafka's handleOffsetOutOfRange) */
            truncate_part(src, fp, r->log_start_offset, 1);
        } else {
            fp->state = P_TRUNCATING; /* past the leader's end */
        }
        break;
    default:
        /* NOT_LEADER_FOR_PARTITION, FENCED_LEADER_EPOCH,
         * UNKNOWN_LEADER_EPOCH, REPLICA_NOT_AVAILABLE, storage errors:
         * the replica manager moves us when the state changes */
        delay_part(src, fp, r->error_code);
        break;
    }
}

/* Finds the entry of the oldest request in flight answering
 * topic-partition, live and current. */
static const req_part_t *match(const source_t *src, const char *topic,
                               int32_t partition)
{
    for (size_t i = 0; i < src->cur.cnt; i++) {
        const req_part_t *rp = &src->cur.req[i];
        if (rp->fp->partition == partition && strcmp(rp->fp->topic, topic) == 0)
            return rp->fp->part && rp->fp->gen == rp->gen && rp->fp->src == src
                       ? rp
                       : NULL;
    }
    return NULL;
}

/* Where the log of @p rp's partition ends once answer @p r is appended,
 * read from the batch headers alone (appending checks the CRCs, and a
 * failure there drops the pipelined answer: apply_fetch_part); -1 when
 * the answer appends nothing or does not plainly go on from our end. */
static int64_t answer_end(const req_part_t *rp, const qr_fetch_part_resp_t *r)
{
    const uint8_t *p = r->records;
    size_t len = r->records_length, off = 0;
    int64_t end = rp->fetch_offset, next = -1;

    if (r->error_code != QUIRE_ERR_NONE ||
        end != qr_plog_log_end(rp->fp->part))
        return -1;
    while (len - off >= QR_BATCH_HEADER_SIZE) {
        qr_batch_hdr_t hdr;
        if (qr_batch_hdr_read(p + off, len - off, &hdr) != QUIRE_ERR_NONE ||
            hdr.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD ||
            qr_batch_size(&hdr) > len - off)
            break; /* a torn last batch is fetched again */
        if (next < 0 && qr_batch_last_offset(&hdr) < end) {
            off += qr_batch_size(&hdr);
            continue;
        }
        if (next < 0 && hdr.base_offset != end)
            return -1;
        if (qr_batch_last_offset(&hdr) < hdr.base_offset)
            return -1;
        next = qr_batch_last_offset(&hdr) + 1;
        off += qr_batch_size(&hdr);
    }
    return next;
}

/* Pipelining (a follower far behind): before the answer @p fr is
 * appended, asks for what follows it for every partition this answer
 * leaves below the leader's high watermark (the leader has more), so the
 * leader reads and sends the next answer while this one is checked and
 * written; with one Fetch in flight the connection and the leader idled
 * meanwhile. The Fetch names the offset the log will end at once this
 * answer is appended (answer_end) and does not wait at the leader
 * (max_wait_ms 0: should the leader have nothing after all, the
 * partitions left out of it are not held up for
 * replica.fetch.wait.max.ms).
 *
 * Claiming an offset before it is written must not let the leader count
 * it, and below its HW it counts for nothing: the HW only rises, and a
 * follower rejoins the ISR at the HW (replica.c may_join), whether the
 * leader counts fetch offsets (write caching) or synced offsets (the
 * replica_synced_offset sent is the real one). Above the HW (a follower
 * in the ISR holding the HW back) nothing is pipelined, whatever this
 * broker's log.write.caching: the leader's may differ. Batches stay
 * appended in offset order: this answer is appended before the next one
 * is read, and an answer whose fetch offset is not the log end when it
 * comes is dropped (apply_fetch_part). */
static void send_next(source_t *src, const qr_fetch_resp_t *fr)
{
    inflight_t *q = &src->piped;
    int64_t now = qr_clock_mono_ms();
    size_t n = 0;

    if (src->wbuf || src->piped.kind != REQ_NONE || src->f->stopping)
        return;
    slot_room(src, q);
    for (size_t t = 0; t < fr->topic_count; t++)
        for (size_t p = 0; p < fr->topics[t].partition_count; p++) {
            const qr_fetch_part_resp_t *r = &fr->topics[t].partitions[p];
            const req_part_t *rp =
                match(src, fr->topics[t].topic, r->partition);
            int64_t end;
            if (!rp || rp->fp->state != P_FETCHING ||
                rp->fp->delay_until > now || n >= src->nparts)
                continue;
            end = answer_end(rp, r);
            if (end > rp->fetch_offset && end < r->high_watermark)
                q->req[n++] = (req_part_t){rp->fp, rp->fp->gen, end};
        }
    if (n == 0)
        return;
    qsort(q->req, n, sizeof(*q->req), cmp_req_part);
    send_fetch(src, q, n, 0);
}

static void on_fetch_resp(source_t *src, const qr_resp_t *resp)
{
    const qr_fetch_resp_t *fr = &resp->u.fetch;

    for (size_t t = 0; t < fr->topic_count; t++)
        for (size_t p = 0; p < fr->topics[t].partition_count; p++) {
            const qr_fetch_part_resp_t *r = &fr->topics[t].partitions[p];
            const req_part_t *rp =
                match(src, fr->topics[t].topic, r->partition);
            if (rp)
                apply_fetch_part(src, rp, r);
        }
}

/* ---- OffsetsForLeaderEpoch (KIP-101 / KIP-279) ---- */

/* Partitions whose log has no epoch need no question: truncate to the
 * high watermark, as before KIP-101. Returns 1 when @p fp is done. */
static int truncate_without_epoch(source_t *src, fpart_t *fp)
{
    if (qr_plog_latest_epoch(fp->part) >= 0)
        return 0;
    truncate_part(src, fp, qr_plog_high_watermark(fp->part), 0);
    fp->state = P_FETCHING;
    return 1;
}

static int send_epochs(source_t *src, size_t n)
{
    qr_fetcher_t *f = src->f;
    const char **names = qr_calloc(n + 1, sizeof(*names));
    size_t *starts = qr_calloc(n + 2, sizeof(*starts));
    qr_epoch_req_topic_t *topics = qr_calloc(n + 1, sizeof(*topics));
    qr_epoch_req_part_t *parts = qr_calloc(n + 1, sizeof(*parts));
    size_t tcnt = group_topics(&src->cur, n, names, starts);
    qr_req_t req = {0};
    int rc;

    for (size_t i = 0; i < n; i++) {
        req_part_t *rp = &src->cur.req[i];
        parts[i].partition = rp->fp->partition;
        parts[i].current_leader_epoch = rp->fp->epoch;
        parts[i].leader_epoch = qr_plog_latest_epoch(rp->fp->part);
        rp->fp->inflight++;
    }
    for (size_t t = 0; t < tcnt; t++) {
        topics[t].topic = names[t];
        topics[t].partition_count = starts[t + 1] - starts[t];
        topics[t].partitions = &parts[starts[t]];
    }
    req.api = QR_API_OFFSET_FOR_LEADER_EPOCH;
    req.u.offset_for_leader_epoch.replica_id = f->conf.broker_id;
    req.u.offset_for_leader_epoch.topic_count = tcnt;
    req.u.offset_for_leader_epoch.topics = topics;
    rc = send_req(src, &src->cur, &req, n, REQ_EPOCH);
    free(names);
    free(starts);
    free(topics);
    free(parts);
    return rc;
}

static void apply_epoch_part(source_t *src, fpart_t *fp,
                             const qr_epoch_part_resp_t *r)
{
    int32_t found = -1;
    int64_t fend = -1;
    qr_fetcher_trunc_t t;

    if (r->error_code != QUIRE_ERR_NONE) {
        delay_part(src, fp, r->error_code);
        return;
    }
    if (r->end_offset >= 0 &&
        qr_plog_end_offset_for_epoch(fp->part, r->leader_epoch, &found,
                                     &fend) != QUIRE_ERR_NONE)
        found = -1, fend = -1;
    t = qr_fetcher_truncation(r->leader_epoch, r->end_offset, found, fend,
                              qr_plog_log_end(fp->part),
                              qr_plog_high_watermark(fp->part));
    QR_LOG_INFO("REPL",
                "%s: leader %d says epoch %d ends at %" PRId64
                " (ours: epoch %d ends at %" PRId64 ")",
                qr_plog_name(fp->part), (int)fp->leader, (int)r->leader_epoch,
                r->end_offset, (int)found, fend);
    truncate_part(src, fp, t.offset, 0);
    fp->state = t.done ? P_FETCHING : P_TRUNCATING;
}

static void on_epoch_resp(source_t *src, const qr_resp_t *resp)
{
    const qr_epoch_resp_t *er = &resp->u.offset_for_leader_epoch;

    for (size_t t = 0; t < er->topic_count; t++)
        for (size_t p = 0; p < er->topics[t].partition_count; p++) {
            const qr_epoch_part_resp_t *r = &er->topics[t].partitions[p];
            const req_part_t *rp =
                match(src, er->topics[t].topic, r->partition);
            if (rp)
                apply_epoch_part(src, rp->fp, r);
        }
}

/* ---- the request cycle ---- */

/* A source that appended waits until those appends are synced (write
 * caching off), so the Fetch that follows reports them in
 * replica_synced_offset and acks=all is answered without waiting a whole
 * long poll more. Returns 1 while waiting. */
static int awaiting_sync(source_t *src)
{
    for (fpart_t *fp = src->f->parts; fp; fp = fp->next) {
        if (fp->src != src || !fp->part || fp->synced_want < 0)
            continue;
        if (qr_plog_synced_end(fp->part) >= fp->synced_want ||
            qr_plog_offline(fp->part))
            fp->synced_want = -1;
        else
            return 1;
    }
    return 0;
}

static void kick(source_t *src)
{
    qr_fetcher_t *f = src->f;
    int64_t next = INT64_MAX;
    size_t n;

    if (src->cur.kind != REQ_NONE || src->state == S_CONNECTING ||
        f->stopping || src->nparts == 0)
        return;
    if (src->state == S_IDLE) {
        if (qr_clock_mono_ms() < src->retry_at) {
            src_timer(src, src->retry_at);
            return;
        }
        src_connect(src);
        return;
    }
    if (awaiting_sync(src)) {
        src_timer(src, qr_clock_mono_ms() + f->conf.wait_max_ms);
        return;
    }
    n = pick_parts(src, P_TRUNCATING, &next);
    if (n > 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!truncate_without_epoch(src, src->cur.req[i].fp))
                src->cur.req[k++] = src->cur.req[i];
        if (k > 0) {
            send_epochs(src, k);
            return;
        }
    }
    n = pick_parts(src, P_FETCHING, &next);
    if (n > 0) {
        send_fetch(src, &src->cur, n, f->conf.wait_max_ms);
        return;
    }
    ev_timer_stop(f->loop, &src->timer);
    if (next != INT64_MAX)
        src_timer(src, next);
}

static void on_response(source_t *src, const qr_frame_t *frame)
{
    qr_resp_t resp;
    quire_err_t err = qr_wire_resp_decode(frame, &resp);
    int kind = src->cur.kind;

    if (err != QUIRE_ERR_NONE || resp.correlation_id != src->cur.corr) {
        qr_wire_resp_free(&resp);
        src_fail(src,
                 err != QUIRE_ERR_NONE ? "malformed answer"
                                       : "answer to another request",
                 0);
        return;
    }
    if (resp.error_code != QUIRE_ERR_NONE) {
        /* the request as a whole failed (e.g. a leader without the API) */
        QR_LOG_WARN("REPL", "%s: request refused: %s", src->name,
                    quire_err2str(resp.error_code));
        for (size_t i = 0; i < src->cur.cnt; i++)
            if (src->cur.req[i].fp->part)
                src->cur.req[i].fp->delay_until =
                    qr_clock_mono_ms() + src->f->conf.backoff_ms;
    } else if (kind == REQ_FETCH && resp.api == QR_API_FETCH) {
        send_next(src, &resp.u.fetch);
        on_fetch_resp(src, &resp);
    } else if (kind == REQ_EPOCH &&
               resp.api == QR_API_OFFSET_FOR_LEADER_EPOCH) {
        on_epoch_resp(src, &resp);
    }
    qr_wire_resp_free(&resp);
    req_done(src);
    src->failing = 0;
}

/* Reads what has arrived; handles a complete frame. */
static void src_read(source_t *src)
{
    qr_frame_limits_t lim = {src->f->conf.max_frame, QR_FRAME_RESP_HEADER_MAX};
    qr_frame_t frame;
    quire_err_t err;
    ssize_t n;

    for (;;) {
        err = qr_frame_parse(src->rbuf, src->rlen, &lim, &frame);
        if (err == QUIRE_ERR_NONE)
            break;
        if (err != QUIRE_ERR_NEED_MORE) {
            src_fail(src, quire_err2str(err), 0);
            return;
        }
        if (src->rcap < frame.size || src->rcap < RBUF_MIN) {
            /* grow-only while connected (frame.size was checked against
             * conf.max_frame): a catching-up follower gets answers of
             * replica.fetch.response.max.bytes back to back */
            size_t cap = frame.size > RBUF_MIN ? frame.size : RBUF_MIN;
            src->rbuf = qr_realloc(src->rbuf, cap);
            src->rcap = cap;
        }
        n = read(src->fd, src->rbuf + src->rlen, src->rcap - src->rlen);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            src_fail(src, n == 0 ? "connection closed by the leader" : "read",
                     n == 0 ? 0 : errno);
            return;
        }
        if (n < 0)
            return;
        src->rlen += (size_t)n;
    }
    if (src->cur.kind == REQ_NONE) {
        src_fail(src, "answer without a request", 0);
        return;
    }
    /* a pipelined request goes out only once the answer before it is
     * read whole: nothing may follow an answer */
    if (src->rlen != frame.size) {
        src_fail(src, "unexpected bytes after an answer", 0);
        return;
    }
    on_response(src, &frame);
    if (src->fd < 0)
        return;
    src->rlen = 0;
    if (src->cur.kind != REQ_NONE)
        src_arm(src); /* the pipelined Fetch is the oldest now */
    else
        kick(src);
}

static void src_write(source_t *src)
{
    ssize_t n;

    while (src->woff < src->wlen) {
        n = send(src->fd, src->wbuf + src->woff, src->wlen - src->woff,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            src_fail(src, "write", errno);
            return;
        }
        src->woff += (size_t)n;
    }
    free(src->wbuf);
    src->wbuf = NULL;
    src->wlen = src->woff = 0;
    ev_io_stop(src->f->loop, &src->io);
    ev_io_set(&src->io, src->fd, EV_READ);
    ev_io_start(src->f->loop, &src->io);
}

static void on_connected(source_t *src)
{
    int err = 0;
    socklen_t el = sizeof(err);

    if (getsockopt(src->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    if (err) {
        src_fail(src, "connect", err);
        return;
    }
    if (src->failing)
        QR_LOG_INFO("REPL", "%s: connected again", src->name);
    src->state = S_READY;
    ev_io_stop(src->f->loop, &src->io);
    ev_io_set(&src->io, src->fd, EV_READ);
    ev_io_start(src->f->loop, &src->io);
    ev_timer_stop(src->f->loop, &src->timer);
    kick(src);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    source_t *src = w->data;

    (void)loop;
    if (src->state == S_CONNECTING)
        on_connected(src);
    else {
        if ((revents & EV_WRITE) && src->fd >= 0)
            src_write(src);
        if ((revents & EV_READ) && src->fd >= 0)
            src_read(src);
    }
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    source_t *src = w->data;
    qr_fetcher_t *f = src->f;
    int64_t now = qr_clock_mono_ms();

    (void)loop;
    (void)revents;
    if (src->state == S_CONNECTING)
        src_fail(src, "connect timed out", 0);
    else if (src->cur.kind != REQ_NONE &&
             now >= src->cur.sent_ms + f->conf.wait_max_ms +
                        f->conf.socket_timeout_ms)
        src_fail(src, "no answer within replica.socket.timeout.ms", 0);
    else if (src->cur.kind == REQ_NONE)
        kick(src);
}

/* ---- reconciling partitions with sources (fetcher thread, f->mu) ---- */

static source_t *source_for(qr_fetcher_t *f, const fpart_t *fp)
{
    source_t *src;

    for (src = f->sources; src; src = src->next)
        if (src->id == fp->leader && src->port == fp->port &&
            strcmp(src->host, fp->host) == 0)
            return src;
    src = qr_calloc(1, sizeof(*src));
    src->f = f;
    src->id = fp->leader;
    src->host = qr_strdup(fp->host);
    src->port = fp->port;
    src->fd = -1;
    snprintf(src->name, sizeof(src->name), "broker %d (%s:%d)", (int)src->id,
             src->host, src->port);
    ev_init(&src->timer, on_timer);
    src->timer.data = src;
    src->next = f->sources;
    f->sources = src;
    return src;
}

static void source_free(source_t *src)
{
    src_close(src);
    free(src->rbuf);
    free(src->cur.req);
    free(src->piped.req);
    free(src->host);
    free(src);
}

static void reconcile(qr_fetcher_t *f)
{
    fpart_t **pp = &f->parts;

    while (*pp) {
        fpart_t *fp = *pp;
        int gone = !fp->part;
        if (fp->src && (gone || !fp->host || fp->src->id != fp->leader ||
                        fp->src->port != fp->port ||
                        strcmp(fp->src->host, fp->host) != 0)) {
            fp->src->nparts--;
            fp->src = NULL;
        }
        if (gone && !fp->inflight) {
            *pp = fp->next;
            free(fp->topic);
            free(fp->host);
            free(fp);
            continue;
        }
        if (!gone && !fp->src && fp->host) {
            fp->src = source_for(f, fp);
            fp->src->nparts++;
        }
        pp = &fp->next;
    }
    for (source_t **sp = &f->sources; *sp;) {
        source_t *src = *sp;
        if (src->nparts == 0) {
            *sp = src->next;
            source_free(src);
            continue;
        }
        kick(src);
        sp = &src->next;
    }
    /* entries whose request was just dropped with its source */
    for (pp = &f->parts; *pp;) {
        fpart_t *fp = *pp;
        if (!fp->part && !fp->inflight) {
            *pp = fp->next;
            free(fp->topic);
            free(fp->host);
            free(fp);
            continue;
        }
        pp = &fp->next;
    }
}

/* Callbacks run with f->mu held: the loop takes it back after each poll
 * (loop_acquire). */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_fetcher_t *f = w->data;

    (void)revents;
    if (f->stopping)
        ev_break(loop, EVBREAK_ALL);
    else
        reconcile(f);
}

/* The loop runs with f->mu held; it is let go only while polling. */
static void loop_release(struct ev_loop *loop)
{
    qr_fetcher_t *f = ev_userdata(loop);

    pthread_mutex_unlock(&f->mu);
}

static void loop_acquire(struct ev_loop *loop)
{
    qr_fetcher_t *f = ev_userdata(loop);

    pthread_mutex_lock(&f->mu);
}

static void *thread_main(void *arg)
{
    qr_fetcher_t *f = arg;

    pthread_mutex_lock(&f->mu);
    reconcile(f);
    ev_run(f->loop, 0);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- life cycle ---- */

qr_fetcher_t *qr_fetcher_new(const qr_fetcher_conf_t *conf)
{
    qr_fetcher_t *f = qr_calloc(1, sizeof(*f));

    f->conf = *conf;
    pthread_mutex_init(&f->mu, NULL);
    f->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    QR_ASSERT(f->loop != NULL);
    ev_set_userdata(f->loop, f);
    ev_async_init(&f->wake, on_wake);
    f->wake.data = f;
    ev_async_start(f->loop, &f->wake);
    return f;
}

quire_err_t qr_fetcher_start(qr_fetcher_t *f)
{
    int rc;

    ev_set_loop_release_cb(f->loop, loop_release, loop_acquire);
    rc = pthread_create(&f->tid, NULL, thread_main, f);
    if (rc != 0) {
        QR_LOG_ERR("REPL", "replica fetcher thread: pthread_create: %s",
                   strerror(rc));
        return QUIRE_ERR_STATE;
    }
    qr_thread_name(f->tid, "qr-fetcher", -1);
    f->started = 1;
    return QUIRE_ERR_NONE;
}

void qr_fetcher_stop(qr_fetcher_t *f)
{
    if (f->stopping)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_mutex_unlock(&f->mu);
    if (f->started) {
        ev_async_send(f->loop, &f->wake);
        pthread_join(f->tid, NULL);
    }
    /* the thread is gone: everything is ours */
    while (f->sources) {
        source_t *src = f->sources;
        f->sources = src->next;
        source_free(src);
    }
    while (f->parts) {
        fpart_t *fp = f->parts;
        f->parts = fp->next;
        qr_idemp_destroy(fp->idemp, fp->part);
        qr_plog_release(fp->part);
        free(fp->topic);
        free(fp->host);
        free(fp);
    }
}

void qr_fetcher_destroy(qr_fetcher_t *f)
{
    if (!f)
        return;
    qr_fetcher_stop(f);
    ev_async_stop(f->loop, &f->wake);
    ev_loop_destroy(f->loop);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
