/*
 * adminreq: the tools' side of the admin requests. See adminreq.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "adminreq.h"
#include "alloc.h"
#include "zk_sync.h"
#include "znode.h"

/* Reads one topic's assignment. */
static quire_err_t read_topic(qr_zk_t *zk, const char *topic, qr_assign_t *a,
                              int timeout_ms, char *errstr, size_t errstr_size)
{
    char *path = qr_znode_topic_path(topic);
    qr_zk_sres_t res;
    quire_err_t err;

    memset(a, 0, sizeof(*a));
    err = qr_zk_sync_get(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NONE)
        err = qr_znode_topic_decode(res.data, res.len, a, errstr, errstr_size);
    else if (err == QUIRE_ERR_NOT_FOUND) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
    qr_zk_sres_free(&res);
    free(path);
    return err;
}

quire_err_t qr_adminreq_current(qr_zk_t *zk, const qr_partlist_t *topics,
                                int partitions_only, qr_partlist_t *out,
                                int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    quire_err_t err = QUIRE_ERR_NONE;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < topics->n && !err; i++) {
        const qr_partlist_entry_t *e = &topics->v[i];
        qr_assign_t a;
        int seen = 0;
        for (size_t j = 0; j < i && !seen && !partitions_only; j++)
            seen = strcmp(topics->v[j].topic, e->topic) == 0;
        if (seen)
            continue;
        if ((err =
                 read_topic(zk, e->topic, &a, timeout_ms, errstr, errstr_size)))
            break;
        if (partitions_only && (size_t)e->partition >= a.part_cnt) {
            snprintf(errstr, errstr_size,
                     "partition %d of topic \"%s\" does not exist (it has "
                     "%zu)",
                     (int)e->partition, e->topic, a.part_cnt);
            err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (partitions_only) {
            qr_replicas_t *r = &a.parts[e->partition];
            qr_partlist_add(out, e->topic, e->partition, r->ids, r->n);
        } else {
            for (size_t p = 0; p < a.part_cnt; p++)
                qr_partlist_add(out, e->topic, (int32_t)p, a.parts[p].ids,
                                a.parts[p].n);
        }
        qr_assign_free(&a);
    }
    if (err)
        qr_partlist_free(out);
    return err;
}

static quire_err_t all_partitions(qr_zk_t *zk, qr_partlist_t *out,
                                  int timeout_ms, char *errstr,
                                  size_t errstr_size)
{
    qr_zk_sres_t res;
    qr_partlist_t topics = {NULL, 0};
    quire_err_t err;

    memset(out, 0, sizeof(*out));
    err = qr_zk_sync_children(zk, QR_ZNODE_TOPICS, timeout_ms, &res);
    if (err == QUIRE_ERR_NOT_FOUND)
        err = QUIRE_ERR_NONE;
    else if (err)
        qr_admin_zk_fail(err, &res, "listing", QR_ZNODE_TOPICS, errstr,
                         errstr_size);
    for (size_t i = 0; !err && i < res.child_cnt; i++)
        qr_partlist_add(&topics, res.children[i], 0, NULL, 0);
    qr_zk_sres_free(&res);
    if (!err)
        err = qr_adminreq_current(zk, &topics, 0, out, timeout_ms, errstr,
                                  errstr_size);
    qr_partlist_free(&topics);
    return err;
}

/* Creates @p path with @p data; "exists" means a request in progress. */
static quire_err_t create_request(qr_zk_t *zk, const char *path,
                                  const char *data, const char *what,
                                  int timeout_ms, char *errstr,
                                  size_t errstr_size)
{
    qr_zk_sres_t res;
    quire_err_t err;

    err = qr_zk_sync_create(zk, QR_ZNODE_ADMIN, NULL, 0, 0, timeout_ms, &res);
    if (err && err != QUIRE_ERR_EXISTS)
        qr_admin_zk_fail(err, &res, "creating", QR_ZNODE_ADMIN, errstr,
                         errstr_size);
    qr_zk_sres_free(&res);
    if (err && err != QUIRE_ERR_EXISTS)
        return err;
    err = qr_zk_sync_create(zk, path, data, (int)strlen(data), 0, timeout_ms,
                            &res);
    if (err == QUIRE_ERR_EXISTS)
        snprintf(errstr, errstr_size,
                 "%s is already in progress (%s exists); try again once it "
                 "is done",
                 what, path);
    else if (err)
        qr_admin_zk_fail(err, &res, "creating", path, errstr, errstr_size);
    qr_zk_sres_free(&res);
    return err;
}

quire_err_t qr_adminreq_preferred(qr_zk_t *zk, const qr_partlist_t *req,
                                  qr_partlist_t *written, int timeout_ms,
                                  char *errstr, size_t errstr_size)
{
    quire_err_t err;
    char *data;

    if (req)
        err = qr_adminreq_current(zk, req, 1, written, timeout_ms, errstr,
                                  errstr_size);
    else
        err = all_partitions(zk, written, timeout_ms, errstr, errstr_size);
    if (err)
        return err;
    data = qr_partlist_encode(written, 0);
    err = create_request(zk, QR_ZNODE_PREFERRED_ELECTION, data,
                         "a preferred replica leader election", timeout_ms,
                         errstr, errstr_size);
    free(data);
    if (err)
        qr_partlist_free(written);
    return err;
}

quire_err_t qr_adminreq_generate(const qr_partlist_t *current,
                                 const int32_t *brokers, size_t nbrokers,
                                 qr_partlist_t *out, char *errstr,
                                 size_t errstr_size)
{
    quire_err_t err = QUIRE_ERR_NONE;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < current->n && !err;) {
        const char *topic = current->v[i].topic;
        size_t j = i, count;
        uint32_t start, shift;
        qr_assign_t a;

        while (j < current->n && strcmp(current->v[j].topic, topic) == 0)
            j++;
        count = j - i;
        qr_admin_placement_draws(&start, &shift);
        err = qr_assign_compute(brokers, nbrokers, 0, (int32_t)count,
                                (int32_t)current->v[i].replicas.n, start, shift,
                                &a, errstr, errstr_size);
        if (err) {
            size_t len = strlen(errstr);
            snprintf(errstr + len, errstr_size - len, " (topic \"%s\")", topic);
            break;
        }
        for (size_t p = 0; p < count; p++)
            qr_partlist_add(out, topic, current->v[i + p].partition,
                            a.parts[p].ids, a.parts[p].n);
        qr_assign_free(&a);
        i = j;
    }
    if (err)
        qr_partlist_free(out);
    return err;
}

quire_err_t qr_adminreq_reassign(qr_zk_t *zk, const qr_partlist_t *req,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    qr_partlist_t cur;
    int32_t *live;
    size_t nlive;
    quire_err_t err;
    char *data;

    if (req->n == 0) {
        snprintf(errstr, errstr_size, "the reassignment lists no partitions");
        return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if ((err = qr_adminreq_current(zk, req, 1, &cur, timeout_ms, errstr,
                                   errstr_size)))
        return err;
    qr_partlist_free(&cur);
    if ((err = qr_admin_live_brokers(zk, timeout_ms, &live, &nlive, errstr,
                                     errstr_size)))
        return err;
    for (size_t i = 0; i < req->n && !err; i++)
        for (size_t j = 0; j < req->v[i].replicas.n && !err; j++) {
            int32_t id = req->v[i].replicas.ids[j];
            if (!qr_partlist_has_id(live, nlive, id)) {
                snprintf(errstr, errstr_size,
                         "%s-%d: broker %d is not a live broker",
                         req->v[i].topic, (int)req->v[i].partition, (int)id);
                err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    free(live);
    if (err)
        return err;
    data = qr_partlist_encode(req, 1);
    err =
        create_request(zk, QR_ZNODE_REASSIGN, data, "a partition reassignment",
                       timeout_ms, errstr, errstr_size);
    free(data);
    return err;
}

quire_err_t qr_adminreq_verify(qr_zk_t *zk, const qr_partlist_t *req,
                               qr_adminreq_status_t *status, int timeout_ms,
                               char *errstr, size_t errstr_size)
{
    qr_partlist_t pending = {NULL, 0}, cur;
    qr_zk_sres_t res;
    quire_err_t err;

    err = qr_zk_sync_get(zk, QR_ZNODE_REASSIGN, timeout_ms, &res);
    if (err == QUIRE_ERR_NONE)
        err = qr_partlist_decode(res.data ? res.data : "",
                                 res.len > 0 ? (size_t)res.len : 0, 1, &pending,
                                 errstr, errstr_size);
    else if (err == QUIRE_ERR_NOT_FOUND)
        err = QUIRE_ERR_NONE;
    else
        qr_admin_zk_fail(err, &res, "reading", QR_ZNODE_REASSIGN, errstr,
                         errstr_size);
    qr_zk_sres_free(&res);
    if (err)
        return err;
    err =
        qr_adminreq_current(zk, req, 1, &cur, timeout_ms, errstr, errstr_size);
    for (size_t i = 0; !err && i < req->n; i++) {
        const qr_replicas_t *want = &req->v[i].replicas,
                            *have = &cur.v[i].replicas;
        if (qr_partlist_find(&pending, req->v[i].topic, req->v[i].partition))
            status[i] = QR_ADMINREQ_IN_PROGRESS;
        else if (want->n == have->n &&
                 memcmp(want->ids, have->ids, want->n * sizeof(int32_t)) == 0)
            status[i] = QR_ADMINREQ_DONE;
        else
            status[i] = QR_ADMINREQ_FAILED;
    }
    qr_partlist_free(&cur);
    qr_partlist_free(&pending);
    return err;
}
