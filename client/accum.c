/*
 * accum: the producer's record accumulator (see accum.h for the model).
 *
 * Invariants (all under acc->lock):
 *   - part->head..part->tail is the partition's queue, oldest first; when
 *     part->open is set it is the tail and the only batch taking records.
 *   - part->in_flight counts the partition's drained batches not given
 *     back; drain skips the partition while it is at the limit
 *     (part_in_flight, 1 when unset), a retried head while it is
 *     non-zero, and everything while part->retries_out (retried batches
 *     in flight) is (order).
 *   - the retried batches of a queue (order != 0) are at its head, in
 *     ascending order.
 *   - acc->mem_used is the sum of every alive batch's mem, acc->pool_mem
 *     that of the pooled ones, and their sum stays within buffer.memory.
 * Topic and partition structs are never freed before the accumulator, so
 * pointers to them stay valid while the lock is dropped to wait.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accum.h"
#include "clock.h"
#include "codec.h"
#include "quire.h"

typedef struct atopic {
    char *name;
    qr_accum_part_t **parts; /* index: partition id; NULL until used */
    int32_t nparts;
    int32_t sticky; /* -1: none chosen yet */
    /* availability for unkeyed records (qr_accum_set_available): up[p]
     * is 1 when partition p has a reachable leader; NULL or navail == 0:
     * every partition is a candidate */
    uint8_t *up;
    int32_t up_cnt, navail;
    /* the partition count the producer read from metadata version
     * meta_version (qr_accum_set_parts); 0: none */
    int32_t meta_cnt;
    uint64_t meta_version;
} atopic_t;

struct qr_accum_part {
    atopic_t *topic;
    int32_t partition;
    qr_pbatch_t *head, *tail;
    qr_pbatch_t *open; /* the tail, while it takes records */
    int in_flight;
    int retries_out;  /* of them, drained as retries */
    uint64_t drained; /* batches ever drained: the next one's order */
};

struct qr_accum {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* memory returned, batches gone, closed */
    qr_accum_conf_t conf;
    atopic_t **topics;
    size_t ntopics, topics_cap;
    atopic_t *last; /* lookup cache: most producers send to one topic */
    int64_t mem_used;
    size_t batches, in_flight;
    int64_t records;
    int waiters;  /* senders blocked on memory */
    int flushing; /* flushes in progress */
    int closed;
    int part_in_flight_max; /* high-water mark (stats) */
    uint64_t rng;           /* xorshift state for sticky partitions */
    /* batches given back, kept for reuse (buffers of batch.size, their
     * pages already faulted in and warm in cache): linked through next */
    qr_pbatch_t *pool;
    int pool_cnt;
    int64_t pool_mem; /* their mem, counted against buffer.memory too */
};

/* Record metadata slots a new batch starts with. */
#define RECS_INITIAL 64

/* Batches of batch.size kept for reuse when given back: enough for a few
 * partitions' batches in flight and open, a few MiB at the default size. */
#define POOL_MAX 16

/* A new batch is not allocated while this many batches are alive, some
 * SOFT_IN_FLIGHT of them in flight, and none pooled: the append first
 * waits up to SOFT_WAIT_MS for one to be given back and reuses it (see
 * reuse_wait). */
#define SOFT_IN_FLIGHT 4
#define SOFT_WAIT_MS   5
/* ... but only while fewer than this many are alive: a sender spread over
 * many partitions (issue 14: 1,000 of them) needs an open batch for each,
 * which no pool of POOL_MAX can give back; there waiting only throttles
 * it (1,000 partitions produced at 0.22x of 4 with the wait) */
#define SOFT_MAX_ALIVE (4 * POOL_MAX)

/* deadline_ms of an append that has not had to wait yet: read the clock
 * and add block_ms when it first does (see wait_memory) */
#define DEADLINE_UNSET INT64_MIN

/* ---- helpers ---- */

static uint32_t next_rand(qr_accum_t *acc)
{
    uint64_t x = acc->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    acc->rng = x;
    return (uint32_t)(x >> 32);
}

static void deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

static void batch_free(qr_pbatch_t *b)
{
    free(b->buf);
    free(b->out);
    free(b->recs);
    free(b);
}

quire_err_t qr_accum_new(const qr_accum_conf_t *conf, qr_accum_t **accp)
{
    pthread_condattr_t ca;
    qr_accum_t *acc;

    if (!conf || conf->codec < 0 || conf->codec >= QR_CODEC_COUNT ||
        conf->codec == QR_CODEC_SNAPPY || conf->batch_size == 0 ||
        conf->max_batch <= QR_BATCH_HEADER_SIZE ||
        conf->max_batch > INT32_MAX || conf->buffer_memory <= 0 ||
        conf->linger_ms < 0)
        return QUIRE_ERR_BAD_ARG;
    acc = calloc(1, sizeof(*acc));
    if (!acc)
        return QUIRE_ERR_NO_MEMORY;
    acc->conf = *conf;
    if (acc->conf.batch_size > acc->conf.max_batch)
        acc->conf.batch_size = acc->conf.max_batch;
    if (acc->conf.batch_size <= QR_BATCH_HEADER_SIZE)
        acc->conf.batch_size = QR_BATCH_HEADER_SIZE + 1;
    acc->rng = (uint64_t)qr_clock_mono_ns() ^ (uint64_t)(uintptr_t)acc;
    if (!acc->rng)
        acc->rng = 0x9e3779b97f4a7c15ull;
    if (pthread_mutex_init(&acc->lock, NULL) != 0) {
        free(acc);
        return QUIRE_ERR_NO_MEMORY;
    }
    if (pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&acc->cv, &ca) != 0) {
        pthread_mutex_destroy(&acc->lock);
        free(acc);
        return QUIRE_ERR_NO_MEMORY;
    }
    pthread_condattr_destroy(&ca);
    *accp = acc;
    return QUIRE_ERR_NONE;
}

void qr_accum_destroy(qr_accum_t *acc)
{
    if (!acc)
        return;
    for (size_t t = 0; t < acc->ntopics; t++) {
        atopic_t *topic = acc->topics[t];

        for (int32_t p = 0; p < topic->nparts; p++) {
            qr_accum_part_t *part = topic->parts[p];
            qr_pbatch_t *b, *next;

            if (!part)
                continue;
            for (b = part->head; b; b = next) {
                next = b->next;
                batch_free(b);
            }
            free(part);
        }
        free(topic->parts);
        free(topic->up);
        free(topic->name);
        free(topic);
    }
    free(acc->topics);
    while (acc->pool) {
        qr_pbatch_t *b = acc->pool;

        acc->pool = b->next;
        batch_free(b);
    }
    pthread_cond_destroy(&acc->cv);
    pthread_mutex_destroy(&acc->lock);
    free(acc);
}

/* ---- topics and partitions ---- */

/* The topic named @p name, or NULL. Lock held. */
static atopic_t *topic_find(qr_accum_t *acc, const char *name)
{
    if (acc->last && !strcmp(acc->last->name, name))
        return acc->last;
    for (size_t t = 0; t < acc->ntopics; t++)
        if (!strcmp(acc->topics[t]->name, name))
            return acc->last = acc->topics[t];
    return NULL;
}

static quire_err_t topic_get(qr_accum_t *acc, const char *name,
                             atopic_t **topicp)
{
    atopic_t *topic = topic_find(acc, name);

    if (topic) {
        *topicp = topic;
        return QUIRE_ERR_NONE;
    }
    if (acc->ntopics == acc->topics_cap) {
        size_t cap = acc->topics_cap ? acc->topics_cap * 2 : 8;
        atopic_t **v = realloc(acc->topics, cap * sizeof(*v));

        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        acc->topics = v;
        acc->topics_cap = cap;
    }
    topic = calloc(1, sizeof(*topic));
    if (!topic)
        return QUIRE_ERR_NO_MEMORY;
    topic->name = strdup(name);
    if (!topic->name) {
        free(topic);
        return QUIRE_ERR_NO_MEMORY;
    }
    topic->sticky = -1;
    acc->topics[acc->ntopics++] = topic;
    *topicp = acc->last = topic;
    return QUIRE_ERR_NONE;
}

static quire_err_t part_get(atopic_t *topic, int32_t partition,
                            int32_t part_cnt, qr_accum_part_t **partp)
{
    qr_accum_part_t *part;

    if (part_cnt > topic->nparts) {
        qr_accum_part_t **v =
            realloc(topic->parts, (size_t)part_cnt * sizeof(*v));

        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        memset(v + topic->nparts, 0,
               (size_t)(part_cnt - topic->nparts) * sizeof(*v));
        topic->parts = v;
        topic->nparts = part_cnt;
    }
    part = topic->parts[partition];
    if (!part) {
        part = calloc(1, sizeof(*part));
        if (!part)
            return QUIRE_ERR_NO_MEMORY;
        part->topic = topic;
        part->partition = partition;
        topic->parts[partition] = part;
    }
    *partp = part;
    return QUIRE_ERR_NONE;
}

/* Whether unkeyed records may go to @p p of @p topic. Lock held. */
static int part_up(const atopic_t *topic, int32_t p)
{
    return topic->navail == 0 || (p < topic->up_cnt && topic->up[p]);
}

/* A new sticky partition, different from the current one when there is a
 * choice (Kafka's StickyPartitionCache.nextPartition), among the
 * partitions with a reachable leader when any has one (Kafka's
 * availablePartitionsForTopic). */
static int32_t sticky_next(qr_accum_t *acc, atopic_t *topic, int32_t part_cnt)
{
    int32_t old = topic->sticky, p, navail = 0, skip, k;

    for (p = 0; topic->navail && p < part_cnt && p < topic->up_cnt; p++)
        navail += topic->up[p];
    if (navail == 0) {
        /* none known to be up (or no information): all are candidates */
        if (part_cnt == 1)
            p = 0;
        else if (old < 0 || old >= part_cnt)
            p = (int32_t)(next_rand(acc) % (uint32_t)part_cnt);
        else
            p = (old + 1 +
                 (int32_t)(next_rand(acc) % (uint32_t)(part_cnt - 1))) %
                part_cnt;
        topic->sticky = p;
        return p;
    }
    /* the k'th available partition, the current one left out when there
     * is another */
    skip = old >= 0 && old < part_cnt && navail > 1 && part_up(topic, old);
    k = (int32_t)(next_rand(acc) % (uint32_t)(navail - skip));
    for (p = 0; p < part_cnt; p++) {
        if (p >= topic->up_cnt || !topic->up[p] || (skip && p == old))
            continue;
        if (k-- == 0)
            break;
    }
    topic->sticky = p;
    return p;
}

/* ---- append ---- */

typedef qr_accum_rec_t arec_t;

/* Frees pooled batches until @p need more bytes fit buffer.memory beside
 * the alive and pooled ones. @returns 1 when they fit. Lock held. */
static int mem_room(qr_accum_t *acc, int64_t need)
{
    while (acc->mem_used + acc->pool_mem + need > acc->conf.buffer_memory &&
           acc->pool) {
        qr_pbatch_t *b = acc->pool;

        acc->pool = b->next;
        acc->pool_cnt--;
        acc->pool_mem -= (int64_t)b->mem;
        batch_free(b);
    }
    return acc->mem_used + acc->pool_mem + need <= acc->conf.buffer_memory;
}

/* A batch struct with its buffers: a pooled one when @p cap is batch.size
 * and one is there (mem moves from the pool to the alive batches), else a
 * new one of @p cap bytes, @p mem counted. NULL: out of memory. Lock
 * held. */
static qr_pbatch_t *batch_alloc(qr_accum_t *acc, size_t cap, size_t mem)
{
    qr_pbatch_t *b = acc->pool;

    if (b && cap == acc->conf.batch_size) {
        qr_pbatch_t keep = *b;

        acc->pool = b->next;
        acc->pool_cnt--;
        acc->pool_mem -= (int64_t)b->mem;
        memset(b, 0, sizeof(*b));
        b->buf = keep.buf;
        b->out = keep.out;
        b->recs = keep.recs;
        b->rec_cap = keep.rec_cap;
        b->cap = keep.cap;
        b->mem = keep.mem;
        acc->mem_used += (int64_t)b->mem;
        return b;
    }
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->buf = malloc(cap);
    b->recs = malloc(RECS_INITIAL * sizeof(*b->recs));
    if (acc->conf.codec != QR_CODEC_NONE)
        b->out = malloc(cap);
    if (!b->buf || !b->recs || (acc->conf.codec != QR_CODEC_NONE && !b->out)) {
        batch_free(b);
        return NULL;
    }
    b->cap = cap;
    b->rec_cap = RECS_INITIAL;
    b->mem = mem;
    acc->mem_used += (int64_t)mem;
    return b;
}

/* Gives a batch that is no longer alive (its mem already taken off
 * mem_used) to the pool. @returns 0 when the pool does not take it: the
 * caller frees it (outside the lock). Lock held. */
static int batch_pool(qr_accum_t *acc, qr_pbatch_t *b)
{
    if (b->cap != acc->conf.batch_size || acc->pool_cnt >= POOL_MAX ||
        acc->closed || !mem_room(acc, (int64_t)b->mem))
        return 0;
    b->next = acc->pool;
    acc->pool = b;
    acc->pool_cnt++;
    acc->pool_mem += (int64_t)b->mem;
    return 1;
}

/* Opens a batch of @p cap bytes on @p part, @p mem counted against
 * buffer.memory (the caller checked the room). Lock held. */
static quire_err_t batch_open(qr_accum_t *acc, qr_accum_part_t *part,
                              size_t cap, size_t mem, int64_t now_ms)
{
    qr_pbatch_t *b = batch_alloc(acc, cap, mem);
    quire_err_t err;

    if (!b)
        return QUIRE_ERR_NO_MEMORY;
    err = qr_batch_builder_init(&b->b, b->buf, b->cap, acc->conf.codec);
    if (err != QUIRE_ERR_NONE) {
        acc->mem_used -= (int64_t)b->mem;
        batch_free(b);
        return err;
    }
    b->part = part;
    b->topic = part->topic->name;
    b->partition = part->partition;
    b->created_ms = now_ms;
    if (part->tail)
        part->tail->next = b;
    else
        part->head = b;
    part->tail = b;
    part->open = b;
    acc->batches++;
    return QUIRE_ERR_NONE;
}

/* Drops the open batch of @p part when it is empty (its first append
 * failed). Lock held. */
static void batch_drop_empty(qr_accum_t *acc, qr_accum_part_t *part)
{
    qr_pbatch_t *b = part->open, *prev = NULL;

    if (!b || b->count)
        return;
    if (part->head != b)
        for (prev = part->head; prev->next != b; prev = prev->next)
            ;
    if (prev)
        prev->next = NULL;
    else
        part->head = NULL;
    part->tail = prev;
    part->open = NULL;
    acc->batches--;
    acc->mem_used -= (int64_t)b->mem;
    batch_free(b);
    pthread_cond_broadcast(&acc->cv);
}

/* Appends to the open batch. BUF_FULL: it did not fit (batch unchanged).
 * Lock held. */
static quire_err_t batch_add(qr_accum_t *acc, qr_pbatch_t *b, const arec_t *r)
{
    quire_err_t err;

    if ((size_t)b->count == b->rec_cap) {
        size_t cap = b->rec_cap * 2,
               grow = (cap - b->rec_cap) * sizeof(*b->recs);
        qr_rec_meta_t *v;

        /* the metadata counts against buffer.memory like the rest: when
         * it does not fit, the batch is full (a new one waits for memory) */
        if (!mem_room(acc, (int64_t)grow))
            return QUIRE_ERR_BUF_FULL;
        v = realloc(b->recs, cap * sizeof(*v));
        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        acc->mem_used += (int64_t)grow;
        b->mem += grow;
        b->recs = v;
        b->rec_cap = cap;
    }
    err = qr_batch_builder_append(&b->b, r->timestamp, r->key, r->key_len,
                                  r->value, r->value_len, r->headers,
                                  r->header_cnt);
    if (err != QUIRE_ERR_NONE)
        return err;
    b->recs[b->count].opaque = r->opaque;
    b->recs[b->count].timestamp = r->timestamp;
    b->count++;
    acc->records++;
    return QUIRE_ERR_NONE;
}

/* Waits for memory until *@p deadline_ms (DEADLINE_UNSET: @p block_ms
 * from now, set here). Lock held (dropped inside).
 * @returns NONE when woken (the caller re-evaluates), QUEUE_FULL when the
 * deadline passed. */
static quire_err_t wait_memory(qr_accum_t *acc, int64_t *deadline_ms,
                               int64_t block_ms)
{
    int64_t now = qr_clock_mono_ms();
    struct timespec ts;

    if (*deadline_ms == DEADLINE_UNSET)
        *deadline_ms = now + block_ms;
    if (now >= *deadline_ms)
        return QUIRE_ERR_QUEUE_FULL;
    deadline_ts(*deadline_ms, &ts);
    acc->waiters++;
    pthread_cond_timedwait(&acc->cv, &acc->lock, &ts);
    acc->waiters--;
    return QUIRE_ERR_NONE;
}

/* Fresh memory costs more than waiting for a batch in flight to come
 * back: a sender that outpaces the broker would otherwise fill all of
 * buffer.memory with new buffers, whose pages the kernel faults in and
 * zeroes one by one (on a VM, tens of microseconds each: as long as
 * sending the records). So when POOL_MAX (but fewer than SOFT_MAX_ALIVE)
 * batches are alive, SOFT_IN_FLIGHT of them in flight (they will be given
 * back) and none is pooled, a new
 * batch of batch.size first waits up to SOFT_WAIT_MS, or its deadline,
 * for one; then it is allocated as before, so buffer.memory stays the
 * bound. Not counted as a memory waiter: lingering batches are not made
 * ready for it. @returns 1 when it waited (the caller re-evaluates). Lock
 * held (dropped inside). */
static int reuse_wait(qr_accum_t *acc, int64_t *deadline_ms, int64_t block_ms)
{
    int64_t now = qr_clock_mono_ms(), until;
    struct timespec ts;

    if (*deadline_ms == DEADLINE_UNSET)
        *deadline_ms = now + block_ms;
    until = now + SOFT_WAIT_MS < *deadline_ms ? now + SOFT_WAIT_MS
                                              : *deadline_ms;
    if (until <= now)
        return 0;
    deadline_ts(until, &ts);
    pthread_cond_timedwait(&acc->cv, &acc->lock, &ts);
    return 1;
}

/* What a new batch for @p r needs: its capacity and the memory it counts.
 * @returns NONE, or MESSAGE_TOO_LARGE when the record can never fit. */
static quire_err_t batch_need(const qr_accum_t *acc, const arec_t *r,
                              size_t *capp, size_t *memp)
{
    size_t rsize = qr_batch_record_size(0, 0, r->key, r->key_len, r->value,
                                        r->value_len, r->headers,
                                        r->header_cnt),
           cap;

    if (rsize == SIZE_MAX || rsize > acc->conf.max_batch - QR_BATCH_HEADER_SIZE)
        return QUIRE_ERR_MESSAGE_TOO_LARGE;
    cap = rsize + QR_BATCH_HEADER_SIZE;
    if (cap < acc->conf.batch_size)
        cap = acc->conf.batch_size;
    *capp = cap;
    *memp = sizeof(qr_pbatch_t) +
            cap * (acc->conf.codec != QR_CODEC_NONE ? 2 : 1) +
            RECS_INITIAL * sizeof(qr_rec_meta_t);
    if ((int64_t)*memp > acc->conf.buffer_memory)
        return QUIRE_ERR_MESSAGE_TOO_LARGE;
    return QUIRE_ERR_NONE;
}

/* The append itself, on @p topic with @p part_cnt partitions (> 0) and
 * @p partition in range or QR_ACCUM_STICKY. The record's size is worked
 * out only when a batch has to be opened or the open one refuses it (the
 * builder sizes it once per append). Lock held (dropped while waiting for
 * memory). */
static quire_err_t append_locked(qr_accum_t *acc, atopic_t *topic,
                                 int32_t partition, int32_t part_cnt,
                                 const arec_t *r, int64_t now_ms,
                                 int64_t deadline_ms, int64_t block_ms,
                                 int32_t *partp, int *wakeup)
{
    int sticky = partition == QR_ACCUM_STICKY, switched = 0, reused = 0;
    size_t cap = 0, mem = 0;
    qr_accum_part_t *part;
    quire_err_t err;

    if (sticky) {
        partition = topic->sticky;
        if (partition < 0 || partition >= part_cnt ||
            !part_up(topic, partition))
            partition = sticky_next(acc, topic, part_cnt);
    }
    for (;;) {
        if (acc->closed) {
            err = QUIRE_ERR_DESTROYED;
            break;
        }
        err = part_get(topic, partition, part_cnt, &part);
        if (err != QUIRE_ERR_NONE)
            break;
        if (part->open) {
            err = batch_add(acc, part->open, r);
            if (err == QUIRE_ERR_NONE && !sticky)
                part->open->movable = 0; /* a chosen partition: stays */
            if (err != QUIRE_ERR_BUF_FULL && err != QUIRE_ERR_BAD_ARG)
                break;
            /* refused: a record that can never fit any batch (or has a
             * bad length) fails and leaves the open batch as it is */
            if (!cap && (err = batch_need(acc, r, &cap, &mem)) !=
                            QUIRE_ERR_NONE)
                break;
            /* full: it is ready now, and a new one is needed */
            part->open = NULL;
            *wakeup = 1;
        }
        if (!cap && (err = batch_need(acc, r, &cap, &mem)) != QUIRE_ERR_NONE)
            break;
        if (sticky && !switched) {
            /* Kafka's sticky partitioner moves on when a new batch is
             * needed, so unkeyed records fill one batch at a time. */
            switched = 1;
            partition = sticky_next(acc, topic, part_cnt);
            continue;
        }
        if (cap == acc->conf.batch_size && !acc->pool && !reused &&
            acc->batches >= POOL_MAX && acc->batches < SOFT_MAX_ALIVE &&
            acc->in_flight >= SOFT_IN_FLIGHT) {
            reused = 1;
            if (reuse_wait(acc, &deadline_ms, block_ms))
                continue;
        }
        if (!(cap == acc->conf.batch_size && acc->pool) &&
            !mem_room(acc, (int64_t)mem)) {
            err = wait_memory(acc, &deadline_ms, block_ms);
            if (err != QUIRE_ERR_NONE)
                break;
            continue;
        }
        /* the clock is read per batch, not per record, when the caller
         * left it to us (it costs tens of ns on some VMs) */
        err = batch_open(acc, part, cap, mem,
                         now_ms >= 0 ? now_ms : qr_clock_mono_ms());
        if (err != QUIRE_ERR_NONE)
            break;
        part->open->movable = sticky;
        *wakeup = 1;
        err = batch_add(acc, part->open, r);
        if (err != QUIRE_ERR_NONE) {
            /* an empty batch that cannot take the record: our sizes and
             * the builder's disagree, or the input is bad */
            batch_drop_empty(acc, part);
            if (err == QUIRE_ERR_BUF_FULL)
                err = QUIRE_ERR_MESSAGE_TOO_LARGE;
        }
        break;
    }
    if (err == QUIRE_ERR_NONE)
        *partp = partition;
    return err;
}

quire_err_t qr_accum_append(qr_accum_t *acc, const char *topic_name,
                            int32_t partition, int32_t part_cnt,
                            int64_t timestamp, const void *key, size_t key_len,
                            const void *value, size_t value_len,
                            const qr_batch_rec_header_t *headers,
                            size_t header_cnt, void *opaque, int64_t now_ms,
                            int64_t deadline_ms, int32_t *partp, int *wakeup)
{
    arec_t r = {timestamp, key, value, key_len, value_len, headers, header_cnt,
                opaque};
    atopic_t *topic;
    quire_err_t err;

    *wakeup = 0;
    if (part_cnt <= 0 || timestamp < 0 ||
        (partition != QR_ACCUM_STICKY &&
         (partition < 0 || partition >= part_cnt)))
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&acc->lock);
    err = topic_get(acc, topic_name, &topic);
    if (err == QUIRE_ERR_NONE)
        err = append_locked(acc, topic, partition, part_cnt, &r, now_ms,
                            deadline_ms, 0, partp, wakeup);
    pthread_mutex_unlock(&acc->lock);
    return err;
}

quire_err_t qr_accum_set_parts(qr_accum_t *acc, const char *topic_name,
                               int32_t part_cnt, uint64_t version)
{
    atopic_t *topic;
    quire_err_t err;

    if (part_cnt <= 0)
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&acc->lock);
    err = topic_get(acc, topic_name, &topic);
    if (err == QUIRE_ERR_NONE) {
        topic->meta_cnt = part_cnt;
        topic->meta_version = version;
    }
    pthread_mutex_unlock(&acc->lock);
    return err;
}

quire_err_t qr_accum_append_cached(qr_accum_t *acc, const char *topic_name,
                                   int32_t partition, uint64_t version,
                                   const qr_accum_rec_t *r, int64_t block_ms,
                                   int32_t *partp, int *wakeup)
{
    int sticky = partition == QR_ACCUM_STICKY;
    qr_accum_part_t *part;
    quire_err_t err = QUIRE_ERR_NEED_MORE;
    atopic_t *topic;
    int32_t cnt;

    *wakeup = 0;
    if (r->timestamp < 0)
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&acc->lock);
    topic = topic_find(acc, topic_name);
    if (!topic || topic->meta_version != version || topic->meta_cnt <= 0)
        goto out;
    cnt = topic->meta_cnt;
    if (partition == QR_ACCUM_KEYED)
        partition = quire_partition_for_key(r->key, r->key_len, cnt);
    else if (partition >= cnt || (partition < 0 && !sticky))
        goto out;
    /* the common case first: the partition (or the sticky one) has an
     * open batch that takes the record */
    if (sticky) {
        int32_t s = topic->sticky;

        part = s >= 0 && s < cnt && s < topic->nparts && part_up(topic, s)
                   ? topic->parts[s]
                   : NULL;
    } else
        part = partition < topic->nparts ? topic->parts[partition] : NULL;
    if (part && part->open && !acc->closed &&
        batch_add(acc, part->open, r) == QUIRE_ERR_NONE) {
        if (!sticky)
            part->open->movable = 0; /* a chosen partition: stays */
        *partp = part->partition;
        err = QUIRE_ERR_NONE;
        goto out;
    }
    err = append_locked(acc, topic, partition, cnt, r, -1, DEADLINE_UNSET,
                        block_ms, partp, wakeup);
out:
    pthread_mutex_unlock(&acc->lock);
    return err;
}

/* ---- availability ---- */

quire_err_t qr_accum_set_available(qr_accum_t *acc, const char *topic_name,
                                   const uint8_t *up, int32_t part_cnt)
{
    quire_err_t err;
    atopic_t *topic;
    uint8_t *v = NULL;
    int32_t n = 0;

    if (part_cnt < 0 || (part_cnt && !up))
        return QUIRE_ERR_BAD_ARG;
    if (part_cnt > 0) {
        v = malloc((size_t)part_cnt);
        if (!v)
            return QUIRE_ERR_NO_MEMORY;
        for (int32_t p = 0; p < part_cnt; p++)
            n += (v[p] = up[p] != 0);
    }
    pthread_mutex_lock(&acc->lock);
    err = topic_get(acc, topic_name, &topic);
    if (err == QUIRE_ERR_NONE) {
        free(topic->up);
        topic->up = v;
        topic->up_cnt = part_cnt;
        topic->navail = n;
        v = NULL;
    }
    pthread_mutex_unlock(&acc->lock);
    free(v);
    return err;
}

/* Moves the movable batches queued on @p from (not up) to the topic's
 * sticky partition (up), ahead of its open batch. Lock held. */
static size_t reroute_part(qr_accum_t *acc, atopic_t *topic,
                           qr_accum_part_t *from)
{
    qr_pbatch_t **pp = &from->head, *b, *prev = NULL;
    qr_accum_part_t *to = NULL;
    size_t n = 0;

    while ((b = *pp) != NULL) {
        if (!b->movable || b->attempts > 0) {
            prev = b;
            pp = &b->next;
            continue;
        }
        if (!to) {
            int32_t s = topic->sticky;

            if (s < 0 || s >= topic->up_cnt || !part_up(topic, s))
                s = sticky_next(acc, topic, topic->up_cnt);
            if (part_get(topic, s, topic->up_cnt, &to) != QUIRE_ERR_NONE)
                break;
        }
        /* unlink */
        *pp = b->next;
        if (from->tail == b)
            from->tail = prev;
        if (from->open == b)
            from->open = NULL;
        /* link ahead of the destination's open batch, or at its tail */
        b->part = to;
        b->partition = to->partition;
        if (to->open) {
            qr_pbatch_t **q = &to->head;

            while (*q != to->open)
                q = &(*q)->next;
            b->next = to->open;
            *q = b;
        } else {
            b->next = NULL;
            if (to->tail)
                to->tail->next = b;
            else
                to->head = b;
            to->tail = b;
        }
        n++;
    }
    return n;
}

size_t qr_accum_reroute(qr_accum_t *acc)
{
    size_t n = 0;

    pthread_mutex_lock(&acc->lock);
    for (size_t t = 0; t < acc->ntopics; t++) {
        atopic_t *topic = acc->topics[t];

        if (topic->navail == 0)
            continue;
        for (int32_t p = 0; p < topic->nparts; p++) {
            qr_accum_part_t *part = topic->parts[p];

            if (part && part->head && !part_up(topic, p))
                n += reroute_part(acc, topic, part);
        }
    }
    pthread_mutex_unlock(&acc->lock);
    return n;
}

/* ---- drain and give back ---- */

/* Whether the head batch @p b of @p part may go now; else sets *next_ms to
 * when it may. Lock held. */
static int batch_ready(const qr_accum_t *acc, const qr_accum_part_t *part,
                       const qr_pbatch_t *b, int64_t now_ms, int64_t *next_ms)
{
    if (b->retry_at_ms > now_ms) {
        if (b->retry_at_ms < *next_ms)
            *next_ms = b->retry_at_ms;
        return 0;
    }
    if (b != part->open || acc->flushing || acc->closed || acc->waiters)
        return 1;
    if (now_ms - b->created_ms >= acc->conf.linger_ms)
        return 1;
    if (b->created_ms + acc->conf.linger_ms < *next_ms)
        *next_ms = b->created_ms + acc->conf.linger_ms;
    return 0;
}

size_t qr_accum_drain(qr_accum_t *acc, int64_t now_ms, qr_accum_sel_fn *sel,
                      void *ctx, qr_pbatch_t **out, int64_t *next_ms)
{
    qr_pbatch_t *first = NULL, **tailp = &first;
    int limit = acc->conf.part_in_flight > 1 ? acc->conf.part_in_flight : 1;
    size_t n = 0;

    *next_ms = INT64_MAX;
    pthread_mutex_lock(&acc->lock);
    for (size_t t = 0; t < acc->ntopics; t++) {
        atopic_t *topic = acc->topics[t];

        for (int32_t p = 0; p < topic->nparts; p++) {
            qr_accum_part_t *part = topic->parts[p];
            qr_pbatch_t *b;
            int retried = -1; /* issue 22: what the taken batches are */

            if (!part || part->in_flight >= limit || part->retries_out)
                continue;
            /* a retry goes when nothing of its partition is in flight:
             * after everything sent before and after it is back */
            if (part->head && part->head->attempts > 0 && part->in_flight)
                continue;
            /* issue 22: retried batches and fresh ones never go in one
             * request, so an idempotent producer's request holds batches
             * that were all written before or none (one answer, one base
             * offset per partition). With several in flight the retried
             * ones may come from different requests, some written and
             * some not: they go one at a time (Kafka sends one batch per
             * partition per request) */
            while ((b = part->head) != NULL &&
                   (retried < 0 || retried == (b->attempts > 0)) &&
                   (retried != 1 || limit == 1) &&
                   (limit == 1 || part->in_flight < limit) &&
                   batch_ready(acc, part, b, now_ms, next_ms) &&
                   sel(ctx, topic->name, part->partition,
                       qr_batch_builder_size(&b->b))) {
                retried = b->attempts > 0;
                if (!b->order)
                    b->order = ++part->drained;
                if (retried) {
                    b->as_retry = 1;
                    part->retries_out++;
                }
                part->head = b->next;
                if (!part->head)
                    part->tail = NULL;
                if (part->open == b)
                    part->open = NULL;
                b->next = NULL;
                *tailp = b;
                tailp = &b->next;
                part->in_flight++;
                acc->in_flight++;
                if (part->in_flight > acc->part_in_flight_max)
                    acc->part_in_flight_max = part->in_flight;
                n++;
            }
        }
    }
    pthread_mutex_unlock(&acc->lock);
    *out = first;
    return n;
}

/* A drained batch is given back: no longer a retry in flight. Lock
 * held. */
static void retry_back(qr_pbatch_t *b)
{
    if (b->as_retry) {
        b->as_retry = 0;
        b->part->retries_out--;
    }
}

quire_err_t qr_accum_finish(qr_pbatch_t *b)
{
    if (b->len)
        return QUIRE_ERR_NONE;
    return qr_batch_builder_finish(&b->b, b->out, b->out ? b->cap : 0, &b->data,
                                   &b->len);
}

void qr_accum_done(qr_accum_t *acc, qr_pbatch_t *b)
{
    int pooled;

    pthread_mutex_lock(&acc->lock);
    retry_back(b);
    b->part->in_flight--;
    acc->in_flight--;
    acc->batches--;
    acc->records -= b->count;
    acc->mem_used -= (int64_t)b->mem;
    pooled = batch_pool(acc, b);
    pthread_cond_broadcast(&acc->cv);
    pthread_mutex_unlock(&acc->lock);
    if (!pooled)
        batch_free(b);
}

void qr_accum_requeue(qr_accum_t *acc, qr_pbatch_t *b, int64_t retry_at_ms)
{
    qr_accum_part_t *part = b->part;
    qr_pbatch_t **pp;

    pthread_mutex_lock(&acc->lock);
    retry_back(b);
    b->retry_at_ms = retry_at_ms;
    /* behind the retried batches drained before it, ahead of the rest */
    for (pp = &part->head; *pp && (*pp)->order && (*pp)->order < b->order;
         pp = &(*pp)->next)
        ;
    b->next = *pp;
    *pp = b;
    if (!b->next)
        part->tail = b;
    part->in_flight--;
    acc->in_flight--;
    pthread_mutex_unlock(&acc->lock);
}

size_t qr_accum_expire(qr_accum_t *acc, const char *topic_name, int64_t now_ms,
                       int64_t max_age_ms, qr_pbatch_t **out)
{
    qr_pbatch_t *first = NULL, **tailp = &first;
    size_t n = 0;

    pthread_mutex_lock(&acc->lock);
    for (size_t t = 0; t < acc->ntopics; t++) {
        atopic_t *topic = acc->topics[t];

        if (topic_name && strcmp(topic->name, topic_name) != 0)
            continue;
        for (int32_t p = 0; p < topic->nparts; p++) {
            qr_accum_part_t *part = topic->parts[p];
            qr_pbatch_t *b;

            if (!part || (part->in_flight && max_age_ms >= 0))
                continue;
            while ((b = part->head) != NULL &&
                   (max_age_ms < 0 || now_ms - b->created_ms > max_age_ms)) {
                part->head = b->next;
                if (!part->head)
                    part->tail = NULL;
                if (part->open == b)
                    part->open = NULL;
                b->next = NULL;
                *tailp = b;
                tailp = &b->next;
                /* counted in flight so that qr_accum_done balances */
                part->in_flight++;
                acc->in_flight++;
                n++;
            }
        }
    }
    pthread_mutex_unlock(&acc->lock);
    *out = first;
    return n;
}

void qr_accum_flushing(qr_accum_t *acc, int delta)
{
    pthread_mutex_lock(&acc->lock);
    acc->flushing += delta;
    pthread_mutex_unlock(&acc->lock);
}

quire_err_t qr_accum_wait_empty(qr_accum_t *acc, int64_t deadline_ms)
{
    quire_err_t err = QUIRE_ERR_NONE;
    struct timespec ts;

    deadline_ts(deadline_ms, &ts);
    pthread_mutex_lock(&acc->lock);
    while (acc->batches > 0) {
        if (qr_clock_mono_ms() >= deadline_ms) {
            err = QUIRE_ERR_TIMED_OUT;
            break;
        }
        pthread_cond_timedwait(&acc->cv, &acc->lock, &ts);
    }
    pthread_mutex_unlock(&acc->lock);
    return err;
}

void qr_accum_close(qr_accum_t *acc)
{
    pthread_mutex_lock(&acc->lock);
    acc->closed = 1;
    pthread_cond_broadcast(&acc->cv);
    pthread_mutex_unlock(&acc->lock);
}

void qr_accum_stats(qr_accum_t *acc, qr_accum_stats_t *st)
{
    pthread_mutex_lock(&acc->lock);
    st->batches = acc->batches;
    st->in_flight = acc->in_flight;
    st->mem_used = acc->mem_used;
    st->pool_mem = acc->pool_mem;
    st->pooled = acc->pool_cnt;
    st->records = acc->records;
    st->waiters = acc->waiters;
    st->part_in_flight_max = acc->part_in_flight_max;
    pthread_mutex_unlock(&acc->lock);
}
