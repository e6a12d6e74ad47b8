/*
 * assign: Kafka's replica placement. See assign.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "assign.h"

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Kafka's replicaIndex(firstReplicaIndex, secondReplicaShift, replicaIndex,
 * nBrokers): followers are placed at a shift in 1..n-1 from the first, so
 * no follower lands on the first replica's broker. */
static size_t replica_index(size_t first, size_t shift, size_t j, size_t n)
{
    size_t s = 1 + (shift + j) % (n - 1);

    return (first + s) % n;
}

quire_err_t qr_assign_compute(const int32_t *brokers, size_t nbrokers,
                              int32_t first, int32_t count, int32_t rf,
                              uint32_t start_index, uint32_t shift,
                              qr_assign_t *out, char *errstr,
                              size_t errstr_size)
{
    int32_t *ids;
    size_t n = nbrokers, start, next_shift;

    memset(out, 0, sizeof(*out));
    if (count < 1 || count > QR_ASSIGN_MAX_PARTITIONS || first < 0 ||
        (int64_t)first + count > QR_ASSIGN_MAX_PARTITIONS) {
        snprintf(errstr, errstr_size,
                 "number of partitions must be between 1 and %d",
                 QR_ASSIGN_MAX_PARTITIONS);
        return QUIRE_ERR_INVALID_PARTITIONS;
    }
    if (rf < 1 || rf > QR_ASSIGN_MAX_REPLICAS) {
        snprintf(errstr, errstr_size,
                 "replication factor must be between 1 and %d",
                 QR_ASSIGN_MAX_REPLICAS);
        return QUIRE_ERR_INVALID_REPLICATION_FACTOR;
    }
    if (n == 0) {
        snprintf(errstr, errstr_size, "no live brokers to assign to");
        return QUIRE_ERR_BROKER_NOT_AVAILABLE;
    }
    if ((size_t)rf > n) {
        snprintf(errstr, errstr_size,
                 "replication factor %d larger than the %zu live broker%s",
                 (int)rf, n, n == 1 ? "" : "s");
        return QUIRE_ERR_INVALID_REPLICATION_FACTOR;
    }
    ids = qr_malloc(n * sizeof(*ids));
    memcpy(ids, brokers, n * sizeof(*ids));
    qsort(ids, n, sizeof(*ids), cmp_id);
    start = start_index % n;
    next_shift = n > 1 ? shift % (n - 1) : 0;
    out->parts = qr_calloc((size_t)count, sizeof(*out->parts));
    out->part_cnt = (size_t)count;
    for (int32_t i = 0; i < count; i++) {
        size_t p = (size_t)first + (size_t)i;
        size_t first_idx = (p + start) % n;
        qr_replicas_t *r = &out->parts[i];

        /* Kafka bumps the shift each time the round-robin wraps */
        if (p > 0 && p % n == 0 && n > 1)
            next_shift = (next_shift + 1) % (n - 1);
        r->n = (size_t)rf;
        r->ids = qr_malloc(r->n * sizeof(*r->ids));
        r->ids[0] = ids[first_idx];
        for (size_t j = 1; j < r->n; j++)
            r->ids[j] = ids[replica_index(first_idx, next_shift, j - 1, n)];
    }
    free(ids);
    return QUIRE_ERR_NONE;
}

void qr_assign_append(qr_assign_t *a, qr_assign_t *more)
{
    a->parts = qr_realloc(a->parts,
                          (a->part_cnt + more->part_cnt) * sizeof(*a->parts));
    memcpy(a->parts + a->part_cnt, more->parts,
           more->part_cnt * sizeof(*more->parts));
    a->part_cnt += more->part_cnt;
    free(more->parts);
    more->parts = NULL;
    more->part_cnt = 0;
}

void qr_assign_free(qr_assign_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->part_cnt; i++)
        free(a->parts[i].ids);
    free(a->parts);
    a->parts = NULL;
    a->part_cnt = 0;
}

int qr_replicas_has(const qr_replicas_t *r, int32_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] == id)
            return 1;
    return 0;
}

/* ---- leader election ---- */

static int has(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static int live(const qr_elect_in_t *in, int32_t id)
{
    return has(in->live, in->nlive, id);
}

static int stopping(const qr_elect_in_t *in, int32_t id)
{
    return has(in->shutting, in->nshutting, id);
}

/* The first replica, in replica-list order, that is live and in @p isr
 * (any ISR when @p isr is NULL), skipping stopping brokers unless
 * @p stop_ok. -1 when none. */
static int32_t first_replica(const qr_replicas_t *r, const qr_elect_in_t *in,
                             const qr_pstate_t *isr, int stop_ok)
{
    for (size_t i = 0; i < r->n; i++) {
        int32_t id = r->ids[i];
        if (live(in, id) && (stop_ok || !stopping(in, id)) &&
            (!isr || has(isr->isr, isr->isr_cnt, id)))
            return id;
    }
    return -1;
}

static qr_elect_how_t elect_new(const qr_replicas_t *r, const qr_elect_in_t *in,
                                qr_pstate_t *out)
{
    int stop_ok = first_replica(r, in, NULL, 0) < 0;

    for (size_t i = 0; i < r->n && i < QR_ASSIGN_MAX_REPLICAS; i++)
        if (live(in, r->ids[i]) && (stop_ok || !stopping(in, r->ids[i])))
            out->isr[out->isr_cnt++] = r->ids[i];
    if (out->isr_cnt == 0)
        return QR_ELECT_NONE;
    out->leader = out->isr[0];
    return QR_ELECT_NEW;
}

/* The leader (and why) for a partition that has a state. */
static int32_t pick_leader(const qr_replicas_t *r, const qr_elect_in_t *in,
                           const qr_pstate_t *cur, qr_elect_how_t *how)
{
    int32_t l = cur->leader, id;
    int l_ok = l >= 0 && live(in, l) && qr_replicas_has(r, l);

    *how = QR_ELECT_ISR;
    if (l_ok && !stopping(in, l))
        return l;
    *how = l_ok ? QR_ELECT_MOVED : QR_ELECT_CLEAN;
    if ((id = first_replica(r, in, cur, 0)) >= 0)
        return id;
    if (l_ok) {
        *how = QR_ELECT_ISR; /* stopping, but nowhere to move it */
        return l;
    }
    if ((id = first_replica(r, in, cur, 1)) >= 0)
        return id;
    *how = QR_ELECT_UNCLEAN;
    if (in->unclean && (id = first_replica(r, in, NULL, 0)) < 0)
        id = first_replica(r, in, NULL, 1);
    if (in->unclean && id >= 0)
        return id;
    *how = QR_ELECT_OFFLINE;
    return -1;
}

qr_elect_how_t qr_assign_elect(const qr_replicas_t *r, const qr_elect_in_t *in,
                               const qr_pstate_t *cur, qr_pstate_t *out)
{
    qr_elect_how_t how;

    memset(out, 0, sizeof(*out));
    out->leader = -1;
    if (r->n == 0)
        return QR_ELECT_NONE;
    if (!cur)
        return elect_new(r, in, out);
    out->leader = pick_leader(r, in, cur, &how);
    if (how == QR_ELECT_OFFLINE) {
        memcpy(out->isr, cur->isr, cur->isr_cnt * sizeof(int32_t));
        out->isr_cnt = cur->isr_cnt;
    } else if (how == QR_ELECT_UNCLEAN) {
        out->isr[out->isr_cnt++] = out->leader;
    } else {
        if (!has(cur->isr, cur->isr_cnt, out->leader))
            out->isr[out->isr_cnt++] = out->leader;
        for (size_t i = 0; i < cur->isr_cnt; i++) {
            int32_t id = cur->isr[i];
            if (live(in, id) && (!stopping(in, id) || id == out->leader) &&
                out->isr_cnt < QR_ASSIGN_MAX_REPLICAS)
                out->isr[out->isr_cnt++] = id;
        }
    }
    out->leader_epoch = cur->leader_epoch;
    out->controller_epoch = cur->controller_epoch;
    if (out->leader == cur->leader && out->isr_cnt == cur->isr_cnt &&
        memcmp(out->isr, cur->isr, out->isr_cnt * sizeof(int32_t)) == 0)
        return QR_ELECT_NONE;
    out->leader_epoch = cur->leader_epoch + 1;
    return how;
}
