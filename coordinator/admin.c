/*
 * admin: topic administration. See admin.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "admin.h"
#include "alloc.h"
#include "partlist.h"
#include "registry.h"
#include "topic.h"
#include "zk_sync.h"

static quire_err_t check_name(const char *topic, char *errstr,
                              size_t errstr_size)
{
    const char *why = NULL;

    if (!topic ||
        qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "invalid topic name \"%.64s%s\": %s",
                 topic ? topic : "", topic && strlen(topic) > 64 ? "..." : "",
                 why ? why : "missing");
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    }
    return QUIRE_ERR_NONE;
}

static quire_err_t check_config(const qr_topic_config_t *cfg, char *errstr,
                                size_t errstr_size)
{
    quire_err_t err;

    for (size_t i = 0; cfg && i < cfg->n; i++)
        if ((err = qr_topic_config_check(cfg->keys[i], cfg->values[i], errstr,
                                         errstr_size)))
            return err;
    return QUIRE_ERR_NONE;
}

/* The multi that creates a topic: its assignment and its overrides. */
static qr_zk_multi_t *plan_multi(const char *topic, const qr_assign_t *a,
                                 const qr_topic_config_t *cfg)
{
    static const qr_topic_config_t empty = {NULL, NULL, 0};
    qr_zk_multi_t *m = qr_zk_multi_new();
    char *path, *data;

    path = qr_znode_topic_path(topic);
    data = qr_znode_topic_encode(a);
    qr_zk_multi_create(m, path, data, (int)strlen(data), 0);
    free(path);
    free(data);
    path = qr_znode_config_path(topic);
    data = qr_znode_config_encode(cfg ? cfg : &empty);
    qr_zk_multi_create(m, path, data, (int)strlen(data), 0);
    free(path);
    free(data);
    return m;
}

quire_err_t qr_admin_plan_create(const char *topic, int32_t partitions,
                                 int32_t rf, const qr_topic_config_t *cfg,
                                 const int32_t *live, size_t nlive,
                                 uint32_t start_index, uint32_t shift,
                                 qr_zk_multi_t **out, char *errstr,
                                 size_t errstr_size)
{
    qr_assign_t a;
    quire_err_t err;

    *out = NULL;
    if ((err = check_name(topic, errstr, errstr_size)) ||
        (err = check_config(cfg, errstr, errstr_size)))
        return err;
    if (partitions < 1 || partitions > QR_ASSIGN_MAX_PARTITIONS) {
        snprintf(errstr, errstr_size, "number of partitions %d not in 1..%d",
                 (int)partitions, QR_ASSIGN_MAX_PARTITIONS);
        return QUIRE_ERR_INVALID_PARTITIONS;
    }
    if (rf < 1) {
        snprintf(errstr, errstr_size, "replication factor %d must be >= 1",
                 (int)rf);
        return QUIRE_ERR_INVALID_REPLICATION_FACTOR;
    }
    err = qr_assign_compute(live, nlive, 0, partitions, rf, start_index, shift,
                            &a, errstr, errstr_size);
    if (err)
        return err;
    *out = plan_multi(topic, &a, cfg);
    qr_assign_free(&a);
    return QUIRE_ERR_NONE;
}

static uint32_t random32(void)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)random();
    return r;
}

/* ---- --replica-assignment ---- */

/* One partition's "b1:b2:..." (ends at ',' or the end). */
static quire_err_t parse_partition(const char **sp, size_t p, qr_replicas_t *r,
                                   char *errstr, size_t errstr_size)
{
    const char *s = *sp;
    int32_t ids[QR_ASSIGN_MAX_REPLICAS];
    size_t n = 0;

    for (;;) {
        char *end;
        long v;

        if (*s < '0' || *s > '9') {
            snprintf(errstr, errstr_size,
                     "replica assignment, partition %zu: expected a broker "
                     "id at \"%.20s\"",
                     p, s);
            return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        v = strtol(s, &end, 10);
        if (v > INT32_MAX || end - s > 10) {
            snprintf(errstr, errstr_size,
                     "replica assignment, partition %zu: broker id %.12s out "
                     "of range",
                     p, s);
            return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (qr_partlist_has_id(ids, n, (int32_t)v)) {
            snprintf(errstr, errstr_size,
                     "replica assignment, partition %zu: broker %ld is listed "
                     "twice",
                     p, v);
            return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (n == QR_ASSIGN_MAX_REPLICAS) {
            snprintf(errstr, errstr_size,
                     "replica assignment, partition %zu: more than %d "
                     "replicas",
                     p, QR_ASSIGN_MAX_REPLICAS);
            return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        ids[n++] = (int32_t)v;
        s = end;
        if (*s != ':')
            break;
        s++;
    }
    if (*s != ',' && *s != '\0') {
        snprintf(errstr, errstr_size,
                 "replica assignment, partition %zu: unexpected \"%.20s\"", p,
                 s);
        return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    r->n = n;
    r->ids = qr_malloc(n * sizeof(int32_t));
    memcpy(r->ids, ids, n * sizeof(int32_t));
    *sp = s;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_admin_parse_assignment(const char *spec, const int32_t *live,
                                      size_t nlive, qr_assign_t *out,
                                      char *errstr, size_t errstr_size)
{
    const char *s = spec;
    quire_err_t err = QUIRE_ERR_NONE;
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    while (!err) {
        qr_replicas_t *r;
        if (out->part_cnt == QR_ASSIGN_MAX_PARTITIONS) {
            snprintf(errstr, errstr_size,
                     "replica assignment: more than %d partitions",
                     QR_ASSIGN_MAX_PARTITIONS);
            err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
            break;
        }
        if (out->part_cnt == cap) {
            cap = cap ? 2 * cap : 16;
            out->parts = qr_realloc(out->parts, cap * sizeof(*out->parts));
        }
        r = &out->parts[out->part_cnt];
        if ((err = parse_partition(&s, out->part_cnt, r, errstr, errstr_size)))
            break;
        out->part_cnt++;
        if (r->n != out->parts[0].n) {
            snprintf(errstr, errstr_size,
                     "replica assignment: partition %zu has %zu replicas, "
                     "partition 0 has %zu",
                     out->part_cnt - 1, r->n, out->parts[0].n);
            err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (size_t i = 0; i < r->n && !err && live; i++)
            if (!qr_partlist_has_id(live, nlive, r->ids[i])) {
                snprintf(errstr, errstr_size,
                         "replica assignment, partition %zu: broker %d is "
                         "not a live broker",
                         out->part_cnt - 1, (int)r->ids[i]);
                err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
            }
        if (*s++ != ',')
            break;
    }
    if (err)
        qr_assign_free(out);
    return err;
}

quire_err_t qr_admin_plan_create_assigned(const char *topic,
                                          const qr_assign_t *a,
                                          const qr_topic_config_t *cfg,
                                          qr_zk_multi_t **out, char *errstr,
                                          size_t errstr_size)
{
    quire_err_t err;

    *out = NULL;
    if ((err = check_name(topic, errstr, errstr_size)) ||
        (err = check_config(cfg, errstr, errstr_size)))
        return err;
    if (a->part_cnt < 1) {
        snprintf(errstr, errstr_size, "replica assignment: no partitions");
        return QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    *out = plan_multi(topic, a, cfg);
    return QUIRE_ERR_NONE;
}

int qr_admin_placement_draws(uint32_t *start_index, uint32_t *shift)
{
    const char *env = getenv(QR_ADMIN_PLACEMENT_ENV);
    unsigned long a, b;
    char tail;

    if (env && sscanf(env, "%lu:%lu%c", &a, &b, &tail) == 2) {
        *start_index = (uint32_t)a;
        *shift = (uint32_t)b;
        return 1;
    }
    *start_index = random32();
    *shift = random32();
    return 0;
}

/* ---- helpers ---- */

quire_err_t qr_admin_zk_fail(quire_err_t err, const qr_zk_sres_t *res,
                             const char *action, const char *path, char *errstr,
                             size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s %s: %s", action, path,
             res->rc == ZOPERATIONTIMEOUT ? "timed out" : zerror(res->rc));
    return err;
}

quire_err_t qr_admin_live_brokers(qr_zk_t *zk, int timeout_ms, int32_t **ids,
                                  size_t *n, char *errstr, size_t errstr_size)
{
    qr_zk_sres_t res;
    quire_err_t err;

    *ids = NULL;
    *n = 0;
    err = qr_zk_sync_children(zk, QR_ZNODE_BROKER_IDS, timeout_ms, &res);
    if (err == QUIRE_ERR_NOT_FOUND) {
        qr_zk_sres_free(&res);
        return QUIRE_ERR_NONE;
    }
    if (err) {
        qr_admin_zk_fail(err, &res, "listing", QR_ZNODE_BROKER_IDS, errstr,
                         errstr_size);
        qr_zk_sres_free(&res);
        return err;
    }
    *ids = qr_calloc(res.child_cnt + 1, sizeof(int32_t));
    for (size_t i = 0; i < res.child_cnt; i++)
        if (qr_znode_parse_id(res.children[i], &(*ids)[*n]) == 0)
            (*n)++;
    qr_zk_sres_free(&res);
    return QUIRE_ERR_NONE;
}

static quire_err_t ensure_roots(qr_zk_t *zk, int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    qr_zk_sres_t res;
    quire_err_t err = QUIRE_ERR_NONE;

    for (size_t i = 0; i < qr_znode_root_cnt && !err; i++) {
        err = qr_zk_sync_create(zk, qr_znode_roots[i], NULL, 0, 0, timeout_ms,
                                &res);
        if (err == QUIRE_ERR_EXISTS)
            err = QUIRE_ERR_NONE;
        if (err)
            qr_admin_zk_fail(err, &res, "creating", qr_znode_roots[i], errstr,
                             errstr_size);
        qr_zk_sres_free(&res);
    }
    return err;
}

/* ---- create ---- */

quire_err_t qr_admin_create_result(const char *topic, int rc,
                                   const int *op_errs, int op_cnt,
                                   char *errstr, size_t errstr_size)
{
    if (rc == ZOK)
        return QUIRE_ERR_NONE;
    if (rc == ZNODEEXISTS) {
        if (op_cnt > 0 && op_errs[0] == ZNODEEXISTS)
            snprintf(errstr, errstr_size, "topic \"%s\" already exists",
                     topic);
        else
            snprintf(errstr, errstr_size,
                     "topic \"%s\": a stale %s/%s exists; remove it first",
                     topic, QR_ZNODE_CONFIG_TOPICS, topic);
        return QUIRE_ERR_TOPIC_ALREADY_EXISTS;
    }
    snprintf(errstr, errstr_size, "creating topic %s: %s", topic,
             rc == ZOPERATIONTIMEOUT ? "timed out" : zerror(rc));
    return qr_zk_err(rc);
}

/* Submits a creation's multi @p m (consumed) and names what went wrong. */
static quire_err_t submit_create(qr_zk_t *zk, const char *topic,
                                 qr_zk_multi_t *m, int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    qr_zk_sres_t res;
    quire_err_t err;

    if ((err = ensure_roots(zk, timeout_ms, errstr, errstr_size))) {
        qr_zk_multi_destroy(m);
        return err;
    }
    err = qr_zk_sync_multi(zk, m, timeout_ms, &res);
    if (err)
        err = qr_admin_create_result(topic, res.rc, res.op_errs, res.op_cnt,
                                     errstr, errstr_size);
    qr_zk_sres_free(&res);
    return err;
}

quire_err_t qr_admin_create(qr_zk_t *zk, const char *topic, int32_t partitions,
                            int32_t rf, const qr_topic_config_t *cfg,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    int32_t *live;
    size_t nlive;
    qr_zk_multi_t *m;
    uint32_t start, shift;
    quire_err_t err;

    /* everything that can be checked without ZooKeeper, first */
    err = qr_admin_plan_create(topic, partitions, rf, cfg, &partitions, 1, 0, 0,
                               &m, errstr, errstr_size);
    qr_zk_multi_destroy(m);
    if (err && err != QUIRE_ERR_INVALID_REPLICATION_FACTOR)
        return err;
    if ((err = qr_admin_live_brokers(zk, timeout_ms, &live, &nlive, errstr,
                                     errstr_size)))
        return err;
    qr_admin_placement_draws(&start, &shift);
    err = qr_admin_plan_create(topic, partitions, rf, cfg, live, nlive, start,
                               shift, &m, errstr, errstr_size);
    free(live);
    if (err)
        return err;
    return submit_create(zk, topic, m, timeout_ms, errstr, errstr_size);
}

quire_err_t qr_admin_create_assigned(qr_zk_t *zk, const char *topic,
                                     const char *spec,
                                     const qr_topic_config_t *cfg,
                                     int timeout_ms, char *errstr,
                                     size_t errstr_size)
{
    int32_t *live;
    size_t nlive;
    qr_zk_multi_t *m;
    qr_assign_t a;
    quire_err_t err;

    /* the syntax and the topic first: nothing read or written if bad */
    if ((err =
             qr_admin_parse_assignment(spec, NULL, 0, &a, errstr, errstr_size)))
        return err;
    err =
        qr_admin_plan_create_assigned(topic, &a, cfg, &m, errstr, errstr_size);
    qr_assign_free(&a);
    qr_zk_multi_destroy(m);
    if (err)
        return err;
    if ((err = qr_admin_live_brokers(zk, timeout_ms, &live, &nlive, errstr,
                                     errstr_size)))
        return err;
    err = qr_admin_parse_assignment(spec, live, nlive, &a, errstr, errstr_size);
    free(live);
    if (err)
        return err;
    err =
        qr_admin_plan_create_assigned(topic, &a, cfg, &m, errstr, errstr_size);
    qr_assign_free(&a);
    if (err)
        return err;
    return submit_create(zk, topic, m, timeout_ms, errstr, errstr_size);
}

/* ---- alter ---- */

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

static quire_err_t alter_partitions(qr_zk_t *zk, const char *topic,
                                    int32_t partitions, int timeout_ms,
                                    char *errstr, size_t errstr_size)
{
    char *path = qr_znode_topic_path(topic), *data;
    qr_zk_sres_t res;
    qr_assign_t a, more;
    int32_t *live = NULL;
    size_t nlive = 0, start = 0;
    quire_err_t err;

    err = qr_zk_sync_get(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NOT_FOUND) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto out;
    }
    if (err) {
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
        goto out;
    }
    if ((err =
             qr_znode_topic_decode(res.data, res.len, &a, errstr, errstr_size)))
        goto out;
    if ((size_t)partitions < a.part_cnt) {
        snprintf(errstr, errstr_size,
                 "topic \"%s\" has %zu partitions; the number can only be "
                 "increased",
                 topic, a.part_cnt);
        err = QUIRE_ERR_INVALID_PARTITIONS;
    } else if ((size_t)partitions > a.part_cnt &&
               !(err = qr_admin_live_brokers(zk, timeout_ms, &live, &nlive,
                                             errstr, errstr_size))) {
        /* Kafka: continue the round-robin from partition 0's first
         * replica's place among the sorted live brokers */
        if (nlive > 1)
            qsort(live, nlive, sizeof(int32_t), cmp_id);
        for (size_t i = 0; i < nlive; i++)
            if (a.parts[0].ids[0] == live[i])
                start = i;
        uint32_t unused, shift;
        qr_admin_placement_draws(&unused, &shift);
        err = qr_assign_compute(live, nlive, (int32_t)a.part_cnt,
                                partitions - (int32_t)a.part_cnt,
                                (int32_t)a.parts[0].n, (uint32_t)start, shift,
                                &more, errstr, errstr_size);
        if (!err) {
            qr_assign_append(&a, &more);
            int32_t version = res.stat.version;
            data = qr_znode_topic_encode(&a);
            qr_zk_sres_free(&res);
            err = qr_zk_sync_set(zk, path, data, (int)strlen(data), version,
                                 timeout_ms, &res);
            free(data);
            if (err == QUIRE_ERR_ZK_BAD_VERSION)
                snprintf(errstr, errstr_size,
                         "topic \"%s\" changed meanwhile; try again", topic);
            else if (err)
                qr_admin_zk_fail(err, &res, "writing", path, errstr,
                                 errstr_size);
        }
    }
    qr_assign_free(&a);
out:
    free(live);
    free(path);
    qr_zk_sres_free(&res);
    return err;
}

static quire_err_t alter_config(qr_zk_t *zk, const char *topic,
                                const qr_topic_config_t *set,
                                const char *const *unset, size_t unset_cnt,
                                int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    char *path = qr_znode_config_path(topic), *data;
    qr_zk_sres_t res;
    qr_topic_config_t cfg = {NULL, NULL, 0};
    int32_t version = -1;
    quire_err_t err;

    err = qr_zk_sync_get(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NONE) {
        version = res.stat.version;
        err = qr_znode_config_decode(res.data, res.len, &cfg, errstr,
                                     errstr_size);
    } else if (err == QUIRE_ERR_NOT_FOUND) {
        err = QUIRE_ERR_NONE; /* no overrides yet: created below */
    } else {
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    if (err)
        goto out;
    for (size_t i = 0; set && i < set->n; i++)
        qr_topic_config_set(&cfg, set->keys[i], set->values[i]);
    for (size_t i = 0; i < unset_cnt; i++)
        qr_topic_config_unset(&cfg, unset[i]);
    data = qr_znode_config_encode(&cfg);
    if (version >= 0)
        err = qr_zk_sync_set(zk, path, data, (int)strlen(data), version,
                             timeout_ms, &res);
    else
        err = qr_zk_sync_create(zk, path, data, (int)strlen(data), 0,
                                timeout_ms, &res);
    free(data);
    if (err == QUIRE_ERR_ZK_BAD_VERSION || err == QUIRE_ERR_EXISTS) {
        snprintf(errstr, errstr_size,
                 "configuration of \"%s\" changed meanwhile; try again", topic);
        err = QUIRE_ERR_ZK_BAD_VERSION;
    } else if (err) {
        qr_admin_zk_fail(err, &res, "writing", path, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
out:
    qr_topic_config_free(&cfg);
    free(path);
    return err;
}

quire_err_t qr_admin_alter(qr_zk_t *zk, const char *topic, int32_t partitions,
                           const qr_topic_config_t *set,
                           const char *const *unset, size_t unset_cnt,
                           int timeout_ms, char *errstr, size_t errstr_size)
{
    quire_err_t err;
    qr_zk_sres_t res;
    char *path;

    if ((err = check_name(topic, errstr, errstr_size)) ||
        (err = check_config(set, errstr, errstr_size)))
        return err;
    for (size_t i = 0; i < unset_cnt; i++)
        if ((err = qr_topic_config_check(unset[i], "delete", errstr,
                                         errstr_size)) &&
            !strstr(errstr, "not supported") && !strstr(errstr, "integer"))
            return err; /* unknown key (a value error is fine here) */
    if (partitions != -1 &&
        (partitions < 1 || partitions > QR_ASSIGN_MAX_PARTITIONS)) {
        snprintf(errstr, errstr_size, "number of partitions %d not in 1..%d",
                 (int)partitions, QR_ASSIGN_MAX_PARTITIONS);
        return QUIRE_ERR_INVALID_PARTITIONS;
    }
    path = qr_znode_topic_path(topic);
    err = qr_zk_sync_exists(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NOT_FOUND) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (err) {
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    free(path);
    if (err)
        return err;
    if (partitions != -1 &&
        (err = alter_partitions(zk, topic, partitions, timeout_ms, errstr,
                                errstr_size)))
        return err;
    if ((set && set->n) || unset_cnt)
        err = alter_config(zk, topic, set, unset, unset_cnt, timeout_ms, errstr,
                           errstr_size);
    return err;
}

/* ---- delete ---- */

quire_err_t qr_admin_plan_delete(const char *topic, qr_zk_multi_t **out,
                                 char *errstr, size_t errstr_size)
{
    quire_err_t err;
    char *path;

    *out = NULL;
    if ((err = check_name(topic, errstr, errstr_size)))
        return err;
    *out = qr_zk_multi_new();
    path = qr_znode_topic_path(topic);
    qr_zk_multi_check(*out, path, -1);
    free(path);
    path = qr_znode_delete_path(topic);
    qr_zk_multi_create(*out, path, NULL, -1, 0);
    free(path);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_admin_delete_result(const char *topic, int rc,
                                   const int *op_errs, int op_cnt,
                                   int *already, char *errstr,
                                   size_t errstr_size)
{
    *already = 0;
    if (rc == ZOK)
        return QUIRE_ERR_NONE;
    if (rc == ZNONODE && op_cnt > 0 && op_errs[0] == ZNONODE) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (rc == ZNODEEXISTS) {
        *already = 1;
        return QUIRE_ERR_NONE;
    }
    snprintf(errstr, errstr_size, "marking topic %s for deletion: %s", topic,
             rc == ZOPERATIONTIMEOUT ? "timed out" : zerror(rc));
    return qr_zk_err(rc);
}

quire_err_t qr_admin_delete(qr_zk_t *zk, const char *topic, int *already,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    qr_zk_multi_t *m;
    qr_zk_sres_t res;
    quire_err_t err;

    *already = 0;
    if ((err = qr_admin_plan_delete(topic, &m, errstr, errstr_size)))
        return err;
    if ((err = ensure_roots(zk, timeout_ms, errstr, errstr_size))) {
        qr_zk_multi_destroy(m);
        return err;
    }
    err = qr_zk_sync_multi(zk, m, timeout_ms, &res);
    if (err)
        err = qr_admin_delete_result(topic, res.rc, res.op_errs, res.op_cnt,
                                     already, errstr, errstr_size);
    qr_zk_sres_free(&res);
    return err;
}

/* ---- list, describe ---- */

void qr_admin_desc_free(qr_admin_desc_t *desc)
{
    if (!desc)
        return;
    for (size_t i = 0; i < desc->topic_cnt; i++) {
        qr_admin_topic_t *t = &desc->topics[i];
        for (size_t p = 0; p < t->part_cnt; p++)
            free(t->parts[p].replicas.ids);
        free(t->parts);
        qr_topic_config_free(&t->config);
        free(t->name);
    }
    free(desc->topics);
    free(desc->brokers);
    memset(desc, 0, sizeof(*desc));
}

static quire_err_t describe_topic(qr_zk_t *zk, qr_admin_topic_t *t,
                                  int timeout_ms, char *errstr,
                                  size_t errstr_size)
{
    char *path = qr_znode_topic_path(t->name);
    qr_zk_sres_t res;
    qr_assign_t a;
    quire_err_t err;

    err = qr_zk_sync_get(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NONE)
        err = qr_znode_topic_decode(res.data, res.len, &a, errstr, errstr_size);
    else if (err == QUIRE_ERR_NOT_FOUND)
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", t->name);
    else
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
    qr_zk_sres_free(&res);
    free(path);
    if (err == QUIRE_ERR_NOT_FOUND)
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (err)
        return err;
    t->part_cnt = a.part_cnt;
    t->parts = qr_calloc(a.part_cnt + 1, sizeof(*t->parts));
    for (size_t p = 0; p < a.part_cnt && !err; p++) {
        t->parts[p].replicas = a.parts[p];
        a.parts[p].ids = NULL;
        path = qr_znode_state_path(t->name, (int32_t)p);
        err = qr_zk_sync_get(zk, path, timeout_ms, &res);
        if (err == QUIRE_ERR_NONE) {
            err = qr_znode_state_decode(res.data, res.len, &t->parts[p].st,
                                        errstr, errstr_size);
            t->parts[p].has_state = err == QUIRE_ERR_NONE;
        } else if (err == QUIRE_ERR_NOT_FOUND) {
            err = QUIRE_ERR_NONE;
        } else {
            qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
        }
        qr_zk_sres_free(&res);
        free(path);
    }
    qr_assign_free(&a);
    if (err)
        return err;
    path = qr_znode_config_path(t->name);
    err = qr_zk_sync_get(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NONE)
        err = qr_znode_config_decode(res.data, res.len, &t->config, errstr,
                                     errstr_size);
    else if (err == QUIRE_ERR_NOT_FOUND)
        err = QUIRE_ERR_NONE;
    else
        qr_admin_zk_fail(err, &res, "reading", path, errstr, errstr_size);
    qr_zk_sres_free(&res);
    free(path);
    return err;
}

static int in_sorted(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

quire_err_t qr_admin_describe(qr_zk_t *zk, const char *topic, int full,
                              qr_admin_desc_t *out, int timeout_ms,
                              char *errstr, size_t errstr_size)
{
    qr_zk_sres_t topics, marks;
    quire_err_t err;

    memset(out, 0, sizeof(*out));
    if (topic && (err = check_name(topic, errstr, errstr_size)))
        return err;
    if ((err = qr_admin_live_brokers(zk, timeout_ms, &out->brokers,
                                     &out->broker_cnt, errstr, errstr_size)))
        return err;
    if (out->broker_cnt > 1)
        qsort(out->brokers, out->broker_cnt, sizeof(int32_t), cmp_id);
    err = qr_zk_sync_children(zk, QR_ZNODE_TOPICS, timeout_ms, &topics);
    if (err && err != QUIRE_ERR_NOT_FOUND) {
        qr_admin_zk_fail(err, &topics, "listing", QR_ZNODE_TOPICS, errstr,
                         errstr_size);
        qr_zk_sres_free(&topics);
        return err;
    }
    err = qr_zk_sync_children(zk, QR_ZNODE_DELETE_TOPICS, timeout_ms, &marks);
    if (err && err != QUIRE_ERR_NOT_FOUND) {
        qr_admin_zk_fail(err, &marks, "listing", QR_ZNODE_DELETE_TOPICS, errstr,
                         errstr_size);
        qr_zk_sres_free(&topics);
        qr_zk_sres_free(&marks);
        return err;
    }
    err = QUIRE_ERR_NONE;
    out->topics = qr_calloc(topics.child_cnt + 1, sizeof(*out->topics));
    for (size_t i = 0; i < topics.child_cnt && !err; i++) {
        qr_admin_topic_t *t = &out->topics[out->topic_cnt];
        if (topic && strcmp(topic, topics.children[i]) != 0)
            continue;
        t->name = qr_strdup(topics.children[i]);
        t->deleting = in_sorted(marks.children, marks.child_cnt, t->name);
        out->topic_cnt++;
        if (full)
            err = describe_topic(zk, t, timeout_ms, errstr, errstr_size);
    }
    if (!err && topic && out->topic_cnt == 0) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    qr_zk_sres_free(&topics);
    qr_zk_sres_free(&marks);
    if (err)
        qr_admin_desc_free(out);
    return err;
}
