/*
 * mainq: work handed from any thread to the broker's main loop, which
 * alone may use ZooKeeper (DESIGN.md §4, §5). The Kafka-protocol services
 * (api_kgroup.c, api_kadmin.c) queue a request's op here from a network
 * thread; the main loop runs each item's fn once, in posting order, then
 * the queue's @c after hook (e.g. re-arming a timer). Items are embedded
 * in the caller's op (intrusive list), so posting never allocates.
 *
 * Ownership: the queue owns nothing it holds; an item belongs to its op.
 * The mutex guards the list only and is never held while an item runs.
 */
#ifndef QR_MAINQ_H
#define QR_MAINQ_H

struct ev_loop;

typedef struct qr_mainq_item {
    struct qr_mainq_item *next;
    void (*fn)(struct qr_mainq_item *item); /**< runs on the main loop */
} qr_mainq_item_t;

typedef struct qr_mainq qr_mainq_t;

/**
 * @brief A queue served by @p loop; @p after (may be NULL) runs on the
 * loop after each batch of items, and after a qr_mainq_wake().
 * @returns owned (qr_mainq_destroy()).
 * @locality main loop  @locks none
 */
qr_mainq_t *qr_mainq_new(struct ev_loop *loop, void (*after)(void *arg),
                         void *arg);

/** @brief Queues @p item (its fn set) and wakes the loop.
 * @locality any thread  @locks the queue's mutex, briefly */
void qr_mainq_post(qr_mainq_t *q, qr_mainq_item_t *item);

/** @brief Wakes the loop to run @c after only. @locality any thread */
void qr_mainq_wake(qr_mainq_t *q);

/** @brief Takes what is still queued (shutdown: items that will not run).
 * @returns the list (borrowed items, linked by next), or NULL.
 * @locality main loop  @locks the queue's mutex, briefly */
qr_mainq_item_t *qr_mainq_take_all(qr_mainq_t *q);

/** @brief Stops and frees the queue (items left are not touched). NULL is
 * fine. @locality main loop */
void qr_mainq_destroy(qr_mainq_t *q);

#endif /* QR_MAINQ_H */
