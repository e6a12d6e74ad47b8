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

quire_err_t qr_admin_plan_create(const char *topic, int32_t partitions,
                                 int32_t rf, const qr_topic_config_t *cfg,
                                 const int32_t *live, size_t nlive,
                                 uint32_t start_index, uint32_t shift,
                                 qr_zk_multi_t **out, char *errstr,
                                 size_t errstr_size)
{
    static const qr_topic_config_t empty = {NULL, NULL, 0};
    qr_assign_t a;
    quire_err_t err;
    char *path, *data;

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
    if (rf > 1) {
        snprintf(errstr, errstr_size,
                 "replication factor %d: replication is not supported yet "
                 "(only 1)",
                 (int)rf);
        return QUIRE_ERR_UNSUPPORTED;
    }
    err = qr_assign_compute(live, nlive, 0, partitions, rf, start_index, shift,
                            &a, errstr, errstr_size);
    if (err)
        return err;
    *out = qr_zk_multi_new();
    path = qr_znode_topic_path(topic);
    data = qr_znode_topic_encode(&a);
    qr_zk_multi_create(*out, path, data, (int)strlen(data), 0);
    free(path);
    free(data);
    path = qr_znode_config_path(topic);
    data = qr_znode_config_encode(cfg ? cfg : &empty);
    qr_zk_multi_create(*out, path, data, (int)strlen(data), 0);
    free(path);
    free(data);
    qr_assign_free(&a);
    return QUIRE_ERR_NONE;
}

/* ---- helpers ---- */

static quire_err_t zk_fail(quire_err_t err, const qr_zk_sres_t *res,
                           const char *action, const char *path, char *errstr,
                           size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s %s: %s", action, path,
             res->rc == ZOPERATIONTIMEOUT ? "timed out" : zerror(res->rc));
    return err;
}

static quire_err_t live_brokers(qr_zk_t *zk, int timeout_ms, int32_t **ids,
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
        zk_fail(err, &res, "listing", QR_ZNODE_BROKER_IDS, errstr, errstr_size);
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

static uint32_t random32(void)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)random();
    return r;
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
            zk_fail(err, &res, "creating", qr_znode_roots[i], errstr,
                    errstr_size);
        qr_zk_sres_free(&res);
    }
    return err;
}

/* ---- create ---- */

quire_err_t qr_admin_create(qr_zk_t *zk, const char *topic, int32_t partitions,
                            int32_t rf, const qr_topic_config_t *cfg,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    int32_t *live;
    size_t nlive;
    qr_zk_multi_t *m;
    qr_zk_sres_t res;
    quire_err_t err;

    /* everything that can be checked without ZooKeeper, first */
    err = qr_admin_plan_create(topic, partitions, rf, cfg, &partitions, 1, 0, 0,
                               &m, errstr, errstr_size);
    qr_zk_multi_destroy(m);
    if (err && err != QUIRE_ERR_INVALID_REPLICATION_FACTOR)
        return err;
    if ((err =
             live_brokers(zk, timeout_ms, &live, &nlive, errstr, errstr_size)))
        return err;
    err = qr_admin_plan_create(topic, partitions, rf, cfg, live, nlive,
                               random32(), random32(), &m, errstr, errstr_size);
    free(live);
    if (err)
        return err;
    if ((err = ensure_roots(zk, timeout_ms, errstr, errstr_size))) {
        qr_zk_multi_destroy(m);
        return err;
    }
    err = qr_zk_sync_multi(zk, m, timeout_ms, &res);
    if (err == QUIRE_ERR_EXISTS) {
        if (res.op_cnt > 0 && res.op_errs[0] == ZNODEEXISTS)
            snprintf(errstr, errstr_size, "topic \"%s\" already exists", topic);
        else
            snprintf(errstr, errstr_size,
                     "topic \"%s\": a stale %s/%s exists; remove it first",
                     topic, QR_ZNODE_CONFIG_TOPICS, topic);
        err = QUIRE_ERR_TOPIC_ALREADY_EXISTS;
    } else if (err) {
        zk_fail(err, &res, "creating topic", topic, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    return err;
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
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
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
               !(err = live_brokers(zk, timeout_ms, &live, &nlive, errstr,
                                    errstr_size))) {
        /* Kafka: continue the round-robin from partition 0's first
         * replica's place among the sorted live brokers */
        if (nlive > 1)
            qsort(live, nlive, sizeof(int32_t), cmp_id);
        for (size_t i = 0; i < nlive; i++)
            if (a.parts[0].ids[0] == live[i])
                start = i;
        err = qr_assign_compute(live, nlive, (int32_t)a.part_cnt,
                                partitions - (int32_t)a.part_cnt,
                                (int32_t)a.parts[0].n, (uint32_t)start,
                                random32(), &more, errstr, errstr_size);
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
                zk_fail(err, &res, "writing", path, errstr, errstr_size);
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
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
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
        zk_fail(err, &res, "writing", path, errstr, errstr_size);
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
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
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

quire_err_t qr_admin_delete(qr_zk_t *zk, const char *topic, int *already,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    char *path;
    qr_zk_sres_t res;
    quire_err_t err;

    *already = 0;
    if ((err = check_name(topic, errstr, errstr_size)))
        return err;
    path = qr_znode_topic_path(topic);
    err = qr_zk_sync_exists(zk, path, timeout_ms, &res);
    if (err == QUIRE_ERR_NOT_FOUND) {
        snprintf(errstr, errstr_size, "topic \"%s\" does not exist", topic);
        err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (err) {
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    free(path);
    if (err || (err = ensure_roots(zk, timeout_ms, errstr, errstr_size)))
        return err;
    path = qr_znode_delete_path(topic);
    err = qr_zk_sync_create(zk, path, NULL, 0, 0, timeout_ms, &res);
    if (err == QUIRE_ERR_EXISTS) {
        *already = 1;
        err = QUIRE_ERR_NONE;
    } else if (err) {
        zk_fail(err, &res, "creating", path, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    free(path);
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
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
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
            zk_fail(err, &res, "reading", path, errstr, errstr_size);
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
        zk_fail(err, &res, "reading", path, errstr, errstr_size);
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
    if ((err = live_brokers(zk, timeout_ms, &out->brokers, &out->broker_cnt,
                            errstr, errstr_size)))
        return err;
    if (out->broker_cnt > 1)
        qsort(out->brokers, out->broker_cnt, sizeof(int32_t), cmp_id);
    err = qr_zk_sync_children(zk, QR_ZNODE_TOPICS, timeout_ms, &topics);
    if (err && err != QUIRE_ERR_NOT_FOUND) {
        zk_fail(err, &topics, "listing", QR_ZNODE_TOPICS, errstr, errstr_size);
        qr_zk_sres_free(&topics);
        return err;
    }
    err = qr_zk_sync_children(zk, QR_ZNODE_DELETE_TOPICS, timeout_ms, &marks);
    if (err && err != QUIRE_ERR_NOT_FOUND) {
        zk_fail(err, &marks, "listing", QR_ZNODE_DELETE_TOPICS, errstr,
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
