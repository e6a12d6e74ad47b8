/*
 * partmap: a sorted array under a rwlock. Leadership changes are rare and
 * lookups frequent, so a binary search over (topic, partition) is enough
 * and keeps memory proportional to the partitions led.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "idemp.h"
#include "partmap.h"

struct qr_partmap {
    pthread_rwlock_t lock;
    qr_pentry_t **v; /* sorted by (topic, partition) */
    size_t n, cap;
};

static int cmp_key(const char *topic, int32_t partition, const qr_pentry_t *e)
{
    int c = strcmp(topic, e->topic);

    if (c)
        return c;
    return partition < e->partition ? -1 : partition > e->partition;
}

/* Index of the key, or of where it would go (*found = 0). */
static size_t search(const qr_partmap_t *map, const char *topic,
                     int32_t partition, int *found)
{
    size_t lo = 0, hi = map->n;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(topic, partition, map->v[mid]);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

qr_partmap_t *qr_partmap_new(void)
{
    qr_partmap_t *map = qr_calloc(1, sizeof(*map));

    pthread_rwlock_init(&map->lock, NULL);
    return map;
}

void qr_partmap_put(qr_partmap_t *map, const char *topic, int32_t partition,
                    int32_t leader_epoch, const qr_topic_produce_t *prod,
                    qr_plog_t *part)
{
    qr_partmap_put_replica(map, topic, partition, leader_epoch, prod, part,
                           NULL);
}

void qr_partmap_put_replica(qr_partmap_t *map, const char *topic,
                            int32_t partition, int32_t leader_epoch,
                            const qr_topic_produce_t *prod, qr_plog_t *part,
                            qr_replica_t *replica)
{
    qr_pentry_t *e = qr_calloc(1, sizeof(*e)), *old = NULL;
    size_t i;
    int found;

    atomic_init(&e->refcnt, 1);
    e->topic = qr_strdup(topic);
    e->partition = partition;
    e->leader_epoch = leader_epoch;
    atomic_init(&e->max_message_bytes, prod->max_message_bytes);
    atomic_init(&e->log_append_time, prod->log_append_time);
    atomic_init(&e->trust_compressed, prod->trust_compressed);
    atomic_init(&e->min_insync, prod->min_insync_replicas);
    e->part = part;
    e->replica = replica;
    pthread_mutex_init(&e->wmu, NULL);
    pthread_rwlock_wrlock(&map->lock);
    i = search(map, topic, partition, &found);
    if (found) {
        old = map->v[i];
        /* issue 22: the same log keeps one producer state (requests still
         * appending through the old entry record into it too) */
        e->idemp =
            old->part == part ? qr_idemp_keep(old->idemp) : qr_idemp_new();
        map->v[i] = e;
    } else {
        if (map->n == map->cap) {
            map->cap = map->cap ? map->cap * 2 : 64;
            map->v = qr_realloc(map->v, map->cap * sizeof(*map->v));
        }
        memmove(&map->v[i + 1], &map->v[i], (map->n - i) * sizeof(*map->v));
        e->idemp = qr_idemp_new(); /* issue 22 */
        map->v[i] = e;
        map->n++;
    }
    pthread_rwlock_unlock(&map->lock);
    if (old) {
        /* Waiters of the old entry re-read and find the new one. */
        qr_pentry_notify(old);
        qr_pentry_release(old);
    }
}

qr_pentry_t *qr_partmap_take(qr_partmap_t *map, const char *topic,
                             int32_t partition)
{
    qr_pentry_t *e = NULL;
    size_t i;
    int found;

    pthread_rwlock_wrlock(&map->lock);
    i = search(map, topic, partition, &found);
    if (found) {
        e = map->v[i];
        memmove(&map->v[i], &map->v[i + 1], (map->n - i - 1) * sizeof(*map->v));
        map->n--;
    }
    pthread_rwlock_unlock(&map->lock);
    return e;
}

qr_pentry_t *qr_partmap_take_any(qr_partmap_t *map)
{
    qr_pentry_t *e = NULL;

    pthread_rwlock_wrlock(&map->lock);
    if (map->n > 0)
        e = map->v[--map->n];
    pthread_rwlock_unlock(&map->lock);
    return e;
}

qr_pentry_t *qr_partmap_get(qr_partmap_t *map, const char *topic,
                            int32_t partition)
{
    qr_pentry_t *e = NULL;
    size_t i;
    int found;

    pthread_rwlock_rdlock(&map->lock);
    i = search(map, topic, partition, &found);
    if (found)
        e = qr_pentry_keep(map->v[i]);
    pthread_rwlock_unlock(&map->lock);
    return e;
}

qr_pentry_t **qr_partmap_topic(qr_partmap_t *map, const char *topic, size_t *n)
{
    qr_pentry_t **v = NULL;
    size_t i, k = 0;
    int found;

    pthread_rwlock_rdlock(&map->lock);
    /* sorted by (topic, partition): the topic's entries are one run from
     * where partition INT32_MIN would go */
    i = search(map, topic, INT32_MIN, &found);
    for (size_t j = i; j < map->n && !strcmp(map->v[j]->topic, topic); j++)
        k++;
    if (k > 0) {
        v = qr_malloc(k * sizeof(*v));
        for (size_t j = 0; j < k; j++)
            v[j] = qr_pentry_keep(map->v[i + j]);
    }
    pthread_rwlock_unlock(&map->lock);
    *n = k;
    return v;
}

qr_pentry_t **qr_partmap_all(qr_partmap_t *map, size_t *n)
{
    qr_pentry_t **v = NULL;

    pthread_rwlock_rdlock(&map->lock);
    *n = map->n;
    if (map->n > 0) {
        v = qr_malloc(map->n * sizeof(*v));
        for (size_t j = 0; j < map->n; j++)
            v[j] = qr_pentry_keep(map->v[j]);
    }
    pthread_rwlock_unlock(&map->lock);
    return v;
}

size_t qr_partmap_count(qr_partmap_t *map)
{
    size_t n;

    pthread_rwlock_rdlock(&map->lock);
    n = map->n;
    pthread_rwlock_unlock(&map->lock);
    return n;
}

void qr_partmap_destroy(qr_partmap_t *map)
{
    if (!map)
        return;
    while (map->n > 0)
        qr_pentry_release(map->v[--map->n]);
    free(map->v);
    pthread_rwlock_destroy(&map->lock);
    free(map);
}

qr_pentry_t *qr_pentry_keep(qr_pentry_t *entry)
{
    atomic_fetch_add(&entry->refcnt, 1);
    return entry;
}

void qr_pentry_release(qr_pentry_t *entry)
{
    if (!entry || atomic_fetch_sub(&entry->refcnt, 1) != 1)
        return;
    qr_idemp_destroy(entry->idemp, entry->part); /* issue 22: snapshot */
    qr_replica_destroy(entry->replica);          /* ends acks=all waits */
    qr_plog_release(entry->part);
    while (entry->groups) {
        qr_pwgroup_t *g = entry->groups;
        entry->groups = g->next;
        free(g);
    }
    pthread_mutex_destroy(&entry->wmu);
    free(entry->topic);
    free(entry);
}

/* Runs on the group's thread: posts each waiter's work to this same
 * thread (they run on a later pass of its loop). */
static void wake_group(qr_nt_work_t *work)
{
    qr_pwgroup_t *g = (qr_pwgroup_t *)work;
    qr_pentry_t *entry = g->entry;

    pthread_mutex_lock(&entry->wmu);
    g->pending = 0;
    for (qr_pwaiter_t *w = g->waiters; w; w = w->next)
        qr_netthread_post(w->nt, w->work);
    pthread_mutex_unlock(&entry->wmu);
    qr_pentry_release(entry); /* taken when the group was posted */
}

/* The group of @p nt, made on first use. Called with wmu held. */
static qr_pwgroup_t *group_of(qr_pentry_t *entry, qr_netthread_t *nt)
{
    qr_pwgroup_t *g;

    for (g = entry->groups; g; g = g->next)
        if (g->nt == nt)
            return g;
    g = qr_calloc(1, sizeof(*g));
    g->work.fn = wake_group;
    g->entry = entry;
    g->nt = nt;
    g->next = entry->groups;
    entry->groups = g;
    return g;
}

void qr_pentry_wait(qr_pentry_t *entry, qr_pwaiter_t *w)
{
    qr_pwgroup_t *g;

    w->entry = qr_pentry_keep(entry);
    pthread_mutex_lock(&entry->wmu);
    g = group_of(entry, w->nt);
    w->group = g;
    w->prev = NULL;
    w->next = g->waiters;
    if (g->waiters)
        g->waiters->prev = w;
    g->waiters = w;
    pthread_mutex_unlock(&entry->wmu);
}

void qr_pentry_unwait(qr_pwaiter_t *w)
{
    qr_pentry_t *entry = w->entry;
    qr_pwgroup_t *g = w->group;

    if (!entry)
        return;
    pthread_mutex_lock(&entry->wmu);
    if (w->prev)
        w->prev->next = w->next;
    else
        g->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&entry->wmu);
    w->prev = w->next = NULL;
    w->entry = NULL;
    w->group = NULL;
    qr_pentry_release(entry);
}

void qr_pentry_notify(qr_pentry_t *entry)
{
    pthread_mutex_lock(&entry->wmu);
    for (qr_pwgroup_t *g = entry->groups; g; g = g->next) {
        if (!g->waiters || g->pending)
            continue;
        /* The group lives in the entry: keep the entry until the post has
         * run. */
        g->pending = 1;
        qr_pentry_keep(entry);
        qr_netthread_post(g->nt, &g->work);
    }
    pthread_mutex_unlock(&entry->wmu);
}
