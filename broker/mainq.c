/*
 * mainq: work handed to the main loop. See mainq.h.
 */
#include "config.h"

#include <ev.h>
#include <pthread.h>
#include <stdlib.h>

#include "alloc.h"
#include "mainq.h"

struct qr_mainq {
    struct ev_loop *loop;
    pthread_mutex_t lock; /* head, tail */
    qr_mainq_item_t *head, **tail;
    ev_async wake;
    void (*after)(void *arg);
    void *arg;
};

qr_mainq_item_t *qr_mainq_take_all(qr_mainq_t *q)
{
    pthread_mutex_lock(&q->lock);
    qr_mainq_item_t *all = q->head;
    q->head = NULL;
    q->tail = &q->head;
    pthread_mutex_unlock(&q->lock);
    return all;
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    qr_mainq_t *q = w->data;
    (void)loop;
    (void)revents;
    for (qr_mainq_item_t *it = qr_mainq_take_all(q); it;) {
        qr_mainq_item_t *next = it->next; /* fn may free the item */
        it->fn(it);
        it = next;
    }
    if (q->after)
        q->after(q->arg);
}

qr_mainq_t *qr_mainq_new(struct ev_loop *loop, void (*after)(void *arg),
                         void *arg)
{
    qr_mainq_t *q = qr_calloc(1, sizeof(*q));
    q->loop = loop;
    q->after = after;
    q->arg = arg;
    pthread_mutex_init(&q->lock, NULL);
    q->tail = &q->head;
    ev_async_init(&q->wake, on_wake);
    q->wake.data = q;
    ev_async_start(loop, &q->wake);
    return q;
}

void qr_mainq_wake(qr_mainq_t *q)
{
    ev_async_send(q->loop, &q->wake);
}

void qr_mainq_post(qr_mainq_t *q, qr_mainq_item_t *item)
{
    item->next = NULL;
    pthread_mutex_lock(&q->lock);
    *q->tail = item;
    q->tail = &item->next;
    pthread_mutex_unlock(&q->lock);
    qr_mainq_wake(q);
}

void qr_mainq_destroy(qr_mainq_t *q)
{
    if (!q)
        return;
    ev_async_stop(q->loop, &q->wake);
    pthread_mutex_destroy(&q->lock);
    free(q);
}
