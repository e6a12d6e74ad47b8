/*
 * replica: followers' offsets, the ISR, the HW and acks=all waits of one
 * led partition. See replica.h for the rules.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "logging.h"
#include "replica.h"

typedef struct follower {
    int32_t id;
    int in_isr;                /* as last written to ZooKeeper */
    int64_t fetch_offset;      /* its log end; -1 before its first fetch */
    int64_t synced_offset;     /* its fdatasync'd end; -1 unknown */
    int64_t last_caught_up_ms; /* Kafka's lastCaughtUpTimeMs */
    int64_t last_fetch_ms;     /* Kafka's lastFetchTimeMs */
    int64_t last_fetch_end;    /* the leader's log end at that fetch */
} follower_t;

struct qr_replica {
    pthread_mutex_t mu;
    char *name;
    int32_t self, leader_epoch, controller_epoch, version;
    int state_known; /* qr_replica_set_state() ran */
    int write_caching;
    int inflight; /* an ISR write is out */
    int deposed;
    int64_t epoch_start; /* the leader's log end when it became leader */
    int64_t hw;
    int64_t log_end, synced_end; /* the leader's own */
    follower_t f[QR_REPLICA_MAX];
    size_t n;           /* followers (the leader is not among them) */
    int32_t refused[8]; /* non-replicas whose fetches were refused */
    size_t refused_n;
    qr_replica_waiter_t *waiters;
    qr_replica_cbs_t cbs;
};

/* ---- helpers (mutex held) ---- */

static follower_t *find(qr_replica_t *rs, int32_t id)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->f[i].id == id)
            return &rs->f[i];
    return NULL;
}

static int has(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static size_t isr_count(const qr_replica_t *rs)
{
    size_t k = 1; /* the leader */

    for (size_t i = 0; i < rs->n; i++)
        k += rs->f[i].in_isr;
    return k;
}

/* The offset a follower counts with in the HW: its synced end without
 * write caching (DESIGN.md §3: acks=all means fdatasync'd on every replica
 * in sync), else its log end. -1: nothing known. */
static int64_t follower_offset(const qr_replica_t *rs, const follower_t *f)
{
    if (rs->write_caching)
        return f->fetch_offset;
    if (f->synced_offset < 0 || f->fetch_offset < 0)
        return -1;
    return f->synced_offset < f->fetch_offset ? f->synced_offset
                                              : f->fetch_offset;
}

static int64_t leader_offset(const qr_replica_t *rs)
{
    return rs->write_caching ? rs->log_end : rs->synced_end;
}

/* Kafka's isFollowerInSync for expansion: it has everything up to the HW,
 * and everything this leader appended before it became leader. */
static int may_join(const qr_replica_t *rs, const follower_t *f)
{
    return !f->in_isr && f->fetch_offset >= rs->epoch_start &&
           follower_offset(rs, f) >= rs->hw;
}

/* Moves waits that are over from rs->waiters to *done. */
static void collect(qr_replica_t *rs, qr_replica_waiter_t **done,
                    int everything, quire_err_t forced)
{
    qr_replica_waiter_t **pp = &rs->waiters;
    size_t in_sync = isr_count(rs);

    while (*pp) {
        qr_replica_waiter_t *w = *pp;
        quire_err_t err;
        if (everything)
            err = forced;
        else if (w->last_offset < rs->hw)
            err = in_sync >= (size_t)w->min_insync
                      ? QUIRE_ERR_NONE
                      : QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
        else {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->err = err;
        w->next = *done;
        *done = w;
    }
}

/* HW = min over the ISR, never backwards. Returns 1 when it moved. */
static int recompute(qr_replica_t *rs)
{
    int64_t hw;

    if (!rs->state_known || rs->deposed)
        return 0;
    hw = leader_offset(rs);
    for (size_t i = 0; i < rs->n; i++) {
        int64_t off;
        if (!rs->f[i].in_isr)
            continue;
        off = follower_offset(rs, &rs->f[i]);
        if (off < 0)
            return 0; /* not fetched since we lead: the HW waits */
        if (off < hw)
            hw = off;
    }
    if (hw <= rs->hw)
        return 0;
    rs->hw = hw;
    return 1;
}

/* Unlocks, then pushes the HW, wakes fetches and runs the callbacks of
 * @p done. The push runs unlocked because the log calls back into its
 * owner (on_append), which may come back here. */
static void unlock_and_finish(qr_replica_t *rs, int moved,
                              qr_replica_waiter_t *done)
{
    int64_t hw = rs->hw;

    pthread_mutex_unlock(&rs->mu);
    if (moved && rs->cbs.set_hw)
        rs->cbs.set_hw(rs->cbs.opaque, hw);
    if (moved && rs->cbs.wake)
        rs->cbs.wake(rs->cbs.opaque);
    while (done) {
        qr_replica_waiter_t *w = done;
        done = w->next; /* the callback may free w */
        w->cb(w->opaque, w->err);
    }
}

/* Recomputes the HW and ends what it passed; unlocks. */
static void advance_and_unlock(qr_replica_t *rs)
{
    qr_replica_waiter_t *done = NULL;
    int moved = recompute(rs);

    collect(rs, &done, 0, QUIRE_ERR_NONE);
    unlock_and_finish(rs, moved, done);
}

static void format_isr(const int32_t *isr, size_t n, char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used < outsz; i++) {
        int k = snprintf(out + used, outsz - used, "%s%d", i ? "," : "",
                         (int)isr[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* ---- life ---- */

qr_replica_t *qr_replica_new(const char *name, int32_t self,
                             int32_t leader_epoch, int64_t hw,
                             int64_t leader_end, int write_caching,
                             const qr_replica_cbs_t *cbs)
{
    qr_replica_t *rs = qr_calloc(1, sizeof(*rs));

    pthread_mutex_init(&rs->mu, NULL);
    rs->name = qr_strdup(name);
    rs->self = self;
    rs->leader_epoch = leader_epoch;
    rs->version = -1;
    rs->write_caching = write_caching;
    rs->hw = hw;
    rs->epoch_start = leader_end;
    rs->log_end = leader_end;
    /* what is synced is known only from the log's next move; the HW is
     * below it (write caching off: the visible end is the synced end) */
    rs->synced_end = hw < leader_end ? hw : leader_end;
    rs->cbs = *cbs;
    /* the log's HW is bounded from now on: a consumer must not see what
     * the followers may not have before the first move */
    if (rs->cbs.set_hw)
        rs->cbs.set_hw(rs->cbs.opaque, hw);
    return rs;
}

void qr_replica_destroy(qr_replica_t *rs)
{
    qr_replica_waiter_t *done = NULL;

    if (!rs)
        return;
    pthread_mutex_lock(&rs->mu);
    rs->deposed = 1;
    collect(rs, &done, 1, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    rs->cbs.wake = NULL; /* the owner is going */
    unlock_and_finish(rs, 0, done);
    pthread_mutex_destroy(&rs->mu);
    free(rs->name);
    free(rs);
}

/* ---- the state znode ---- */

void qr_replica_set_state(qr_replica_t *rs, const int32_t *replicas,
                          size_t replica_cnt, const int32_t *isr,
                          size_t isr_cnt, int32_t leader_epoch,
                          int32_t controller_epoch, int32_t version,
                          int64_t now_ms)
{
    follower_t old[QR_REPLICA_MAX];
    size_t old_n;

    pthread_mutex_lock(&rs->mu);
    /* another epoch is another replica set; an older version is the view
     * catching up with our own write */
    if (leader_epoch != rs->leader_epoch ||
        (rs->state_known && version <= rs->version)) {
        pthread_mutex_unlock(&rs->mu);
        return;
    }
    memcpy(old, rs->f, sizeof(old));
    old_n = rs->n;
    rs->n = 0;
    for (size_t i = 0; i < replica_cnt && rs->n < QR_REPLICA_MAX; i++) {
        follower_t *f = &rs->f[rs->n];
        int was_in_isr = 0;
        if (replicas[i] == rs->self || has(replicas, i, replicas[i]))
            continue;
        memset(f, 0, sizeof(*f));
        f->id = replicas[i];
        f->fetch_offset = f->synced_offset = -1;
        f->last_fetch_end = INT64_MAX;
        for (size_t k = 0; k < old_n; k++)
            if (old[k].id == f->id) {
                *f = old[k];
                was_in_isr = old[k].in_isr && rs->state_known;
            }
        f->in_isr = has(isr, isr_cnt, f->id);
        if (f->in_isr && !was_in_isr)
            f->last_caught_up_ms = now_ms;
        rs->n++;
    }
    rs->controller_epoch = controller_epoch;
    rs->version = version;
    rs->state_known = 1;
    advance_and_unlock(rs);
}

void qr_replica_set_write_caching(qr_replica_t *rs, int write_caching)
{
    pthread_mutex_lock(&rs->mu);
    rs->write_caching = write_caching;
    advance_and_unlock(rs);
}

/* ---- offsets ---- */

void qr_replica_leader_end(qr_replica_t *rs, int64_t log_end,
                           int64_t synced_end)
{
    pthread_mutex_lock(&rs->mu);
    if (log_end > rs->log_end)
        rs->log_end = log_end;
    if (synced_end > rs->synced_end)
        rs->synced_end = synced_end;
    advance_and_unlock(rs);
}

quire_err_t qr_replica_fetched(qr_replica_t *rs, int32_t id,
                               int64_t fetch_offset, int64_t synced_offset,
                               int64_t leader_end, int64_t now_ms,
                               int *isr_kick, int *first_refusal)
{
    follower_t *f;

    pthread_mutex_lock(&rs->mu);
    f = find(rs, id);
    if (!f && !has(rs->refused, rs->refused_n, id)) {
        *first_refusal = 1; /* the caller logs it, once per broker */
        if (rs->refused_n < QR_ARRAY_LEN(rs->refused))
            rs->refused[rs->refused_n++] = id;
    }
    if (!f || rs->deposed) {
        pthread_mutex_unlock(&rs->mu);
        return f ? QUIRE_ERR_NOT_LEADER_FOR_PARTITION
                 : QUIRE_ERR_REPLICA_NOT_AVAILABLE;
    }
    /* Kafka's Replica.updateFetchState */
    if (fetch_offset >= leader_end) {
        if (now_ms > f->last_caught_up_ms)
            f->last_caught_up_ms = now_ms;
    } else if (fetch_offset >= f->last_fetch_end &&
               f->last_fetch_ms > f->last_caught_up_ms) {
        f->last_caught_up_ms = f->last_fetch_ms;
    }
    f->last_fetch_end = leader_end;
    f->last_fetch_ms = now_ms;
    f->fetch_offset = fetch_offset;
    f->synced_offset = synced_offset;
    if (rs->state_known && !rs->inflight && may_join(rs, f))
        *isr_kick = 1;
    advance_and_unlock(rs);
    return QUIRE_ERR_NONE;
}

/* ---- acks=all ---- */

quire_err_t qr_replica_check_insync(qr_replica_t *rs, int32_t min_insync)
{
    quire_err_t err = QUIRE_ERR_NONE;

    pthread_mutex_lock(&rs->mu);
    if (rs->deposed)
        err = QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    else if (isr_count(rs) < (size_t)(min_insync > 0 ? min_insync : 1))
        err = QUIRE_ERR_NOT_ENOUGH_REPLICAS;
    pthread_mutex_unlock(&rs->mu);
    return err;
}

int qr_replica_ack_wait(qr_replica_t *rs, qr_replica_waiter_t *w,
                        int64_t last_offset, int32_t min_insync,
                        quire_err_t *err)
{
    pthread_mutex_lock(&rs->mu);
    if (rs->deposed) {
        *err = QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
        pthread_mutex_unlock(&rs->mu);
        return 0;
    }
    if (last_offset < rs->hw) {
        *err = isr_count(rs) >= (size_t)min_insync
                   ? QUIRE_ERR_NONE
                   : QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
        pthread_mutex_unlock(&rs->mu);
        return 0;
    }
    w->last_offset = last_offset;
    w->min_insync = min_insync;
    w->next = rs->waiters;
    rs->waiters = w;
    pthread_mutex_unlock(&rs->mu);
    return 1;
}

/* ---- the ISR ---- */

int qr_replica_isr_plan(qr_replica_t *rs, int64_t now_ms, int64_t lag_ms,
                        qr_replica_isr_t *out)
{
    size_t n = 0;
    int changed = 0;
    char from[512], to[512];
    int32_t cur[QR_REPLICA_MAX];
    size_t cur_n = 0;

    pthread_mutex_lock(&rs->mu);
    if (!rs->state_known || rs->inflight || rs->deposed) {
        pthread_mutex_unlock(&rs->mu);
        return 0;
    }
    cur[cur_n++] = rs->self;
    out->isr[n++] = rs->self; /* the leader never leaves its own ISR */
    for (size_t i = 0; i < rs->n; i++) {
        const follower_t *f = &rs->f[i];
        int keep;
        if (f->in_isr)
            cur[cur_n++] = f->id;
        if (f->in_isr)
            keep = now_ms - f->last_caught_up_ms <= lag_ms; /* shrink */
        else
            keep = may_join(rs, f); /* expand */
        if (keep != f->in_isr)
            changed = 1;
        if (keep)
            out->isr[n++] = f->id;
    }
    if (!changed) {
        pthread_mutex_unlock(&rs->mu);
        return 0;
    }
    out->isr_cnt = n;
    out->leader_epoch = rs->leader_epoch;
    out->controller_epoch = rs->controller_epoch;
    out->version = rs->version;
    rs->inflight = 1;
    format_isr(cur, cur_n, from, sizeof(from));
    format_isr(out->isr, n, to, sizeof(to));
    QR_LOG_INFO("REPLICA",
                "%s: ISR [%s] -> [%s] (HW %lld, leader epoch %d; writing "
                "over state version %d)",
                rs->name, from, to, (long long)rs->hw, (int)rs->leader_epoch,
                (int)rs->version);
    pthread_mutex_unlock(&rs->mu);
    return 1;
}

void qr_replica_isr_written(qr_replica_t *rs, const qr_replica_isr_t *isr,
                            int32_t version, int64_t now_ms)
{
    pthread_mutex_lock(&rs->mu);
    rs->inflight = 0;
    if (rs->deposed || isr->leader_epoch != rs->leader_epoch) {
        pthread_mutex_unlock(&rs->mu);
        return;
    }
    for (size_t i = 0; i < rs->n; i++) {
        follower_t *f = &rs->f[i];
        int in = has(isr->isr, isr->isr_cnt, f->id);
        if (in && !f->in_isr)
            f->last_caught_up_ms = now_ms;
        f->in_isr = in;
    }
    if (version > rs->version)
        rs->version = version;
    advance_and_unlock(rs);
}

void qr_replica_isr_failed(qr_replica_t *rs)
{
    pthread_mutex_lock(&rs->mu);
    rs->inflight = 0;
    pthread_mutex_unlock(&rs->mu);
}

void qr_replica_depose(qr_replica_t *rs)
{
    qr_replica_waiter_t *done = NULL;

    pthread_mutex_lock(&rs->mu);
    if (!rs->deposed)
        QR_LOG_WARN("REPLICA",
                    "%s: no longer the leader at epoch %d; acknowledging "
                    "nothing more (NOT_LEADER_FOR_PARTITION)",
                    rs->name, (int)rs->leader_epoch);
    rs->deposed = 1;
    collect(rs, &done, 1, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    unlock_and_finish(rs, 0, done);
}

/* ---- reading ---- */

int qr_replica_deposed(qr_replica_t *rs)
{
    int v;

    pthread_mutex_lock(&rs->mu);
    v = rs->deposed;
    pthread_mutex_unlock(&rs->mu);
    return v;
}

int64_t qr_replica_hw(qr_replica_t *rs)
{
    int64_t v;

    pthread_mutex_lock(&rs->mu);
    v = rs->hw;
    pthread_mutex_unlock(&rs->mu);
    return v;
}

int qr_replica_hw_caught_up(qr_replica_t *rs)
{
    int v;

    pthread_mutex_lock(&rs->mu);
    v = rs->hw >= rs->epoch_start;
    pthread_mutex_unlock(&rs->mu);
    return v;
}

size_t qr_replica_isr(qr_replica_t *rs, int32_t *isr, size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&rs->mu);
    if (isr && cap > 0)
        isr[0] = rs->self;
    n = 1;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->f[i].in_isr) {
            if (isr && n < cap)
                isr[n] = rs->f[i].id;
            n++;
        }
    pthread_mutex_unlock(&rs->mu);
    return n;
}

int qr_replica_info(qr_replica_t *rs, int32_t id, qr_replica_info_t *out)
{
    follower_t *f;
    int rc = -1;

    pthread_mutex_lock(&rs->mu);
    if (id == rs->self) {
        out->id = id;
        out->in_isr = 1;
        out->fetch_offset = rs->log_end;
        out->synced_offset = rs->synced_end;
        out->last_caught_up_ms = 0;
        rc = 0;
    } else if ((f = find(rs, id)) != NULL) {
        out->id = id;
        out->in_isr = f->in_isr;
        out->fetch_offset = f->fetch_offset;
        out->synced_offset = f->synced_offset;
        out->last_caught_up_ms = f->last_caught_up_ms;
        rc = 0;
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}
