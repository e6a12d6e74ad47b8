/*
 * meta: the refcounted snapshot. Built on the main loop, then only read.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "meta.h"

qr_meta_t *qr_meta_new(void)
{
    qr_meta_t *meta = qr_calloc(1, sizeof(*meta));

    meta->refcnt = 1;
    meta->controller_id = -1;
    return meta;
}

qr_meta_t *qr_meta_keep(qr_meta_t *meta)
{
    __atomic_add_fetch(&meta->refcnt, 1, __ATOMIC_RELAXED);
    return meta;
}

static void free_topic(qr_meta_topic_t *topic)
{
    for (size_t i = 0; i < topic->part_cnt; i++) {
        free(topic->parts[i].replicas);
        free(topic->parts[i].isr);
    }
    free(topic->parts);
    free(topic->name);
}

void qr_meta_release(qr_meta_t *meta)
{
    if (!meta)
        return;
    /* acq_rel: the last releaser must see every write of the builder */
    if (__atomic_sub_fetch(&meta->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < meta->broker_cnt; i++)
        free(meta->brokers[i].host);
    free(meta->brokers);
    for (size_t i = 0; i < meta->topic_cnt; i++)
        free_topic(&meta->topics[i]);
    free(meta->topics);
    free(meta);
}

static int cmp_broker(const void *a, const void *b)
{
    const qr_meta_broker_t *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_topic(const void *a, const void *b)
{
    const qr_meta_topic_t *x = a, *y = b;

    return strcmp(x->name, y->name);
}

void qr_meta_sort(qr_meta_t *meta)
{
    if (meta->broker_cnt > 1)
        qsort(meta->brokers, meta->broker_cnt, sizeof(*meta->brokers),
              cmp_broker);
    if (meta->topic_cnt > 1)
        qsort(meta->topics, meta->topic_cnt, sizeof(*meta->topics), cmp_topic);
}

const qr_meta_broker_t *qr_meta_broker_find(const qr_meta_t *meta, int32_t id)
{
    qr_meta_broker_t key = {.id = id};

    if (meta->broker_cnt == 0)
        return NULL;
    return bsearch(&key, meta->brokers, meta->broker_cnt,
                   sizeof(*meta->brokers), cmp_broker);
}

const qr_meta_topic_t *qr_meta_topic_find(const qr_meta_t *meta,
                                          const char *name)
{
    qr_meta_topic_t key = {.name = (char *)name};

    if (meta->topic_cnt == 0)
        return NULL;
    return bsearch(&key, meta->topics, meta->topic_cnt, sizeof(*meta->topics),
                   cmp_topic);
}

const qr_meta_part_t *qr_meta_part_find(const qr_meta_t *meta,
                                        const char *topic, int32_t partition)
{
    const qr_meta_topic_t *t = qr_meta_topic_find(meta, topic);

    if (!t || partition < 0 || (size_t)partition >= t->part_cnt)
        return NULL;
    return &t->parts[partition];
}
