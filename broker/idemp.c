/*
 * idemp: idempotent appends (see idemp.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "idemp.h"
#include "logging.h"

/* Bytes read from the log per step of a rebuild (a larger batch is read
 * whole: qr_plog_read() returns at least one). */
#define REBUILD_CHUNK (1024 * 1024)

struct qr_idemp {
    atomic_int refcnt;
    pthread_mutex_t lock;
    int closed;             /* qr_idemp_close(): appends refused */
    qr_prodstate_t *ps;     /* NULL until loaded */
    int64_t since_snapshot; /* bytes appended since the last snapshot */
    int64_t next_expiry_ms; /* wall clock of the next expiry pass */
};

qr_idemp_t *qr_idemp_new(void)
{
    qr_idemp_t *id = qr_calloc(1, sizeof(*id));

    atomic_init(&id->refcnt, 1);
    pthread_mutex_init(&id->lock, NULL);
    return id;
}

qr_idemp_t *qr_idemp_keep(qr_idemp_t *id)
{
    atomic_fetch_add(&id->refcnt, 1);
    return id;
}

static void snapshot(qr_idemp_t *id, qr_plog_t *part)
{
    char errstr[512];

    if (qr_prodstate_snapshot_write(id->ps, qr_plog_dir(part),
                                    qr_plog_log_end(part), errstr,
                                    sizeof(errstr)) != QUIRE_ERR_NONE)
        QR_LOG_WARN("IDEMP", "%s: producer state snapshot not written: %s",
                    qr_plog_name(part), errstr);
    id->since_snapshot = 0;
}

void qr_idemp_destroy(qr_idemp_t *id, qr_plog_t *part)
{
    if (!id || atomic_fetch_sub(&id->refcnt, 1) != 1)
        return;
    pthread_mutex_lock(&id->lock);
    if (id->ps && part && !qr_plog_offline(part))
        snapshot(id, part);
    pthread_mutex_unlock(&id->lock);
    qr_prodstate_destroy(id->ps);
    pthread_mutex_destroy(&id->lock);
    free(id);
}

/* ---- loading ---- */

static quire_err_t read_slice(const qr_plog_slice_t *slice, uint8_t **buf,
                              size_t *cap)
{
    size_t done = 0;

    if (slice->len > *cap) {
        *buf = qr_realloc(*buf, slice->len);
        *cap = slice->len;
    }
    while (done < slice->len) {
        ssize_t r = pread(slice->fd, *buf + done, slice->len - done,
                          (off_t)(slice->pos + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        done += (size_t)r;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_idemp_rebuild(qr_prodstate_t *ps, qr_plog_t *part,
                             int use_snapshot, int64_t *end)
{
    int64_t pos = -1, start = qr_plog_log_start(part);
    uint8_t *buf = NULL;
    size_t cap = 0;
    quire_err_t err = QUIRE_ERR_NONE;

    if (use_snapshot &&
        qr_prodstate_snapshot_load(ps, qr_plog_dir(part), qr_plog_log_end(part),
                                   &pos) != QUIRE_ERR_NONE)
        pos = -1;
    if (pos < start)
        pos = start; /* no snapshot, or retention passed it */
    for (;;) {
        qr_plog_slice_t slice;
        int64_t next = pos;

        err = qr_plog_read_replica(part, pos, REBUILD_CHUNK, &slice);
        if (err == QUIRE_ERR_OFFSET_OUT_OF_RANGE && pos < start) {
            pos = qr_plog_log_start(part);
            continue;
        }
        if (err != QUIRE_ERR_NONE)
            break;
        if (slice.len == 0) {
            qr_plog_slice_release(&slice);
            break;
        }
        err = read_slice(&slice, &buf, &cap);
        if (err == QUIRE_ERR_NONE &&
            qr_prodstate_apply(ps, buf, slice.len, &next) != QUIRE_ERR_NONE)
            err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
        qr_plog_slice_release(&slice);
        if (err != QUIRE_ERR_NONE || next <= pos)
            break;
        pos = next;
    }
    free(buf);
    *end = pos;
    return err;
}

/* With id->lock held. */
static quire_err_t do_load(qr_idemp_t *id, qr_plog_t *part)
{
    qr_prodstate_t *ps;
    int64_t end;
    quire_err_t err;

    if (id->ps)
        return QUIRE_ERR_NONE;
    ps = qr_prodstate_new();
    err = qr_idemp_rebuild(ps, part, 1, &end);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("IDEMP", "%s: cannot rebuild the producer state: %s",
                   qr_plog_name(part), quire_err2str(err));
        qr_prodstate_destroy(ps);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    QR_LOG_INFO("IDEMP",
                "%s: producer state of %zu producer(s) loaded up to "
                "offset %" PRId64,
                qr_plog_name(part), qr_prodstate_count(ps), end);
    id->ps = ps;
    snapshot(id, part);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_idemp_load(qr_idemp_t *id, qr_plog_t *part)
{
    quire_err_t err;

    pthread_mutex_lock(&id->lock);
    err = do_load(id, part);
    pthread_mutex_unlock(&id->lock);
    return err;
}

int qr_idemp_get(qr_idemp_t *id, int64_t producer_id, qr_prodstate_entry_t *out)
{
    int found = 0;

    pthread_mutex_lock(&id->lock);
    if (id->ps)
        found = qr_prodstate_get(id->ps, producer_id, out);
    pthread_mutex_unlock(&id->lock);
    return found;
}

/* ---- appending ---- */

/* Reads the headers of @p data; *@p idem set when the batches carry a
 * producer id. Mixed or several producers: INVALID_RECORD. */
static quire_err_t classify(const uint8_t *data, size_t len, int *idem)
{
    size_t off = 0;
    int64_t pid = -2;
    qr_batch_hdr_t hdr;

    while (off < len) {
        if (qr_batch_hdr_read(data + off, len - off, &hdr) != QUIRE_ERR_NONE)
            return QUIRE_ERR_CORRUPT_MESSAGE;
        if (pid != -2 && (hdr.producer_id < 0) != (pid < 0))
            return QUIRE_ERR_INVALID_RECORD;
        if (pid >= 0 && hdr.producer_id != pid)
            return QUIRE_ERR_INVALID_RECORD;
        pid = hdr.producer_id;
        off += qr_batch_size(&hdr);
    }
    *idem = pid >= 0;
    return QUIRE_ERR_NONE;
}

/* With id->lock held: all duplicates (*dup set, offsets out) or all new and
 * in order. */
static quire_err_t check_all(const qr_prodstate_t *ps, const uint8_t *data,
                             size_t len, int *dup, int64_t *base, int64_t *last)
{
    qr_batch_hdr_t prev, hdr;
    qr_prodstate_batch_t orig;
    size_t off = 0;
    quire_err_t err, first = QUIRE_ERR_NONE;

    while (off < len) {
        (void)qr_batch_hdr_read(data + off, len - off, &hdr);
        err = qr_prodstate_check(ps, &hdr, &orig);
        if (off == 0) {
            first = err;
            if (err == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER)
                *base = orig.first_offset;
            else if (err != QUIRE_ERR_NONE)
                return err;
        } else if (first == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER) {
            /* a retried request: every batch written before, and
             * together (the answer gives one base offset) */
            if (err != QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER ||
                orig.first_offset != *last + 1)
                return QUIRE_ERR_INVALID_RECORD;
        } else if (err == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER) {
            return QUIRE_ERR_INVALID_RECORD;
        } else if ((err = qr_prodstate_check_next(&prev, &hdr)) !=
                   QUIRE_ERR_NONE) {
            return err;
        }
        if (first == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER)
            *last = orig.last_offset;
        prev = hdr;
        off += qr_batch_size(&hdr);
    }
    *dup = first == QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER;
    return QUIRE_ERR_NONE;
}

/* With id->lock held and the state loaded: batches written, recorded; a
 * snapshot each segment's worth of bytes. */
static void record_all(qr_idemp_t *id, qr_plog_t *part, const uint8_t *data,
                       size_t len)
{
    qr_plog_conf_t pconf;

    (void)qr_prodstate_apply(id->ps, data, len, NULL);
    id->since_snapshot += (int64_t)len;
    qr_plog_get_conf(part, &pconf);
    if (id->since_snapshot >= pconf.segment_bytes)
        snapshot(id, part);
}

static void maybe_expire(qr_idemp_t *id, qr_plog_t *part,
                         const qr_idemp_conf_t *conf)
{
    int64_t now = qr_plog_now_ms();
    size_t n;

    if (now < id->next_expiry_ms)
        return;
    id->next_expiry_ms = now + conf->check_interval_ms;
    n = qr_prodstate_expire(id->ps, now, conf->expiration_ms);
    if (n)
        QR_LOG_INFO("IDEMP",
                    "%s: %zu producer id(s) idle past "
                    "producer.id.expiration.ms forgotten",
                    qr_plog_name(part), n);
}

quire_err_t qr_idemp_append(qr_idemp_t *id, qr_plog_t *part,
                            const qr_idemp_conf_t *conf, uint8_t *data,
                            size_t len, int64_t *base, int64_t *last,
                            int *duplicate)
{
    int idem = 0;
    quire_err_t err = classify(data, len, &idem);

    *duplicate = 0;
    if (err != QUIRE_ERR_NONE)
        return err;
    pthread_mutex_lock(&id->lock);
    if (id->closed) {
        /* the leadership this state served has ended (the replica manager
         * closed it): nothing more may reach a log that now follows */
        pthread_mutex_unlock(&id->lock);
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    }
    if (!idem) {
        err = qr_plog_append(part, data, len, base, last);
        pthread_mutex_unlock(&id->lock);
        return err;
    }
    err = do_load(id, part);
    if (err == QUIRE_ERR_NONE) {
        maybe_expire(id, part, conf);
        err = check_all(id->ps, data, len, duplicate, base, last);
    }
    if (err == QUIRE_ERR_NONE && !*duplicate) {
        err = qr_plog_append(part, data, len, base, last);
        if (err == QUIRE_ERR_NONE)
            record_all(id, part, data, len);
    }
    pthread_mutex_unlock(&id->lock);
    return err;
}

quire_err_t qr_idemp_apply(qr_idemp_t *id, qr_plog_t *part, const uint8_t *data,
                           size_t len)
{
    qr_plog_conf_t pconf;
    quire_err_t err = QUIRE_ERR_NONE;

    pthread_mutex_lock(&id->lock);
    if (id->ps) {
        err = qr_prodstate_apply(id->ps, data, len, NULL);
        id->since_snapshot += (int64_t)len;
        qr_plog_get_conf(part, &pconf);
        if (id->since_snapshot >= pconf.segment_bytes)
            snapshot(id, part);
    }
    pthread_mutex_unlock(&id->lock);
    return err;
}

void qr_idemp_close(qr_idemp_t *id, qr_plog_t *part)
{
    pthread_mutex_lock(&id->lock);
    if (id->ps && !qr_plog_offline(part))
        snapshot(id, part);
    qr_prodstate_destroy(id->ps);
    id->ps = NULL;
    id->closed = 1;
    pthread_mutex_unlock(&id->lock);
}

/* Whether any batch of @p data carries a producer id. */
static int any_idempotent(const uint8_t *data, size_t len)
{
    qr_batch_hdr_t hdr;

    for (size_t off = 0; off < len; off += qr_batch_size(&hdr)) {
        if (qr_batch_hdr_read(data + off, len - off, &hdr) != QUIRE_ERR_NONE)
            return 0;
        if (qr_prodstate_is_idempotent(&hdr))
            return 1;
    }
    return 0;
}

quire_err_t qr_idemp_append_replica(qr_idemp_t *id, qr_plog_t *part,
                                    uint8_t *data, size_t len, int64_t *last)
{
    quire_err_t err = QUIRE_ERR_NONE;

    pthread_mutex_lock(&id->lock);
    /* the state up to the log end, before these batches go in */
    if (!id->ps && any_idempotent(data, len))
        err = do_load(id, part);
    if (err == QUIRE_ERR_NONE)
        err = qr_plog_append_replica(part, data, len, last);
    if (err == QUIRE_ERR_NONE && id->ps)
        record_all(id, part, data, len);
    pthread_mutex_unlock(&id->lock);
    return err;
}

quire_err_t qr_idemp_truncate(qr_idemp_t *id, qr_plog_t *part, int64_t offset,
                              int fully)
{
    int loaded;
    size_t n;
    quire_err_t err;

    pthread_mutex_lock(&id->lock);
    loaded = id->ps != NULL;
    qr_prodstate_destroy(id->ps);
    id->ps = NULL;
    err = fully ? qr_plog_truncate_fully(part, offset)
                : qr_plog_truncate_to(part, offset);
    /* a snapshot past the cut holds batches that are gone (a deposed
     * leader's, written when its leadership ended): the log may grow past
     * it again with other batches, so it goes now, whatever the cut did */
    n = qr_prodstate_snapshot_delete_above(qr_plog_dir(part),
                                           fully ? -1 : offset);
    if (n)
        QR_LOG_INFO("IDEMP",
                    "%s: %zu producer state snapshot(s) past offset %" PRId64
                    " removed",
                    qr_plog_name(part), n, offset);
    if (err == QUIRE_ERR_NONE && loaded)
        (void)do_load(id, part); /* up to the new end */
    id->since_snapshot = 0;
    pthread_mutex_unlock(&id->lock);
    return err;
}
