/*
 * consumer_int: the consumer's state as consumer.c (fetching, poll) and
 * cgroup.c (its group membership) share it. Not installed.
 *
 * Locks: c->lock guards the partitions, the ready queue and the group's
 * command queue; the application's current chunk and iterator belong to
 * the polling thread; cp->gen and cp->pos are also read atomically.
 */
#ifndef QR_CONSUMER_INT_H
#define QR_CONSUMER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "batch.h"
#include "client.h"
#include "quire.h"

enum { CP_RESOLVE, CP_FETCH, CP_ERROR, CP_PAUSED };

struct qr_cgroup;
struct qr_cgev;

/* A response frame shared by the chunks cut from it. */
typedef struct fbuf {
    uint8_t *data;
    int refs; /* c->lock */
} fbuf_t;

/* One partition fetched; never freed before the consumer (removed ones
 * are reused by a later assign), so a pointer to it stays valid. */
typedef struct cpart {
    char *topic;
    int32_t partition;
    uint64_t gen; /* atomic reads; written under c->lock */
    int state;
    int removed;
    int grp;              /* owned through the group (not assign()) */
    int inflight;         /* a Fetch or ListOffsets is out */
    int64_t start;        /* BEGINNING/END while resolving */
    int64_t fetch_offset; /* next offset to fetch */
    int64_t pos;          /* next offset poll returns; atomic reads */
    int64_t consumed;     /* pos when the last poll began (records the
                             application is done with); atomic; -1 none */
    int64_t backoff_until;
    size_t queued;     /* bytes of its chunks on the ready queue */
    int32_t max_bytes; /* its partition_max_bytes (grows for big batches) */
    /* issue 15: statistics, loop thread under c->lock */
    int64_t hi_offset; /* the last fetch's high watermark; -1 unknown */
    int64_t lo_offset; /* the last fetch's log start offset; -1 unknown */
    int64_t rxmsgs;    /* records fetched (whole batches queued) */
    int64_t rxbytes;   /* their bytes */
} cpart_t;

/* An entry of the ready queue: records cut from a response, a partition's
 * error, or an event of the group (cp NULL) for poll to serve. */
typedef struct chunk {
    struct chunk *next;
    cpart_t *cp;
    uint64_t gen;
    fbuf_t *fb; /* NULL for an error chunk or an event */
    const uint8_t *p;
    size_t len;
    quire_err_t err;
    int64_t err_offset;
    struct qr_cgev *ev; /* owned: an event, or NULL */
} chunk_t;

struct quire_consumer {
    qr_client_t *cl;
    const quire_conf_t *conf;
    pthread_mutex_t lock;
    pthread_cond_t cv; /* a chunk arrived, a group command completed */
    cpart_t **parts;
    size_t part_cnt, part_cap;
    chunk_t *q_head, *q_tail;
    struct qr_cgroup *grp; /* owned; NULL without group.id */
    int manual;            /* assign() was used: no subscribe */
    struct qr_oft *oft;    /* offsets_for_times lookups waiting; lock */
    size_t queued;         /* bytes of every chunk on the ready queue; lock */
    /* ---- the polling thread's ---- */
    chunk_t *cur;
    size_t cur_off;
    int it_active;
    qr_batch_iter_t it;
    uint8_t *scratch; /* decompressed records */
    size_t scratch_cap;
    quire_record_t rec;
    quire_header_t *hdrs;
    size_t hdr_cap;
    char *hkeys; /* NUL-terminated copies of the header keys */
    size_t hkeys_cap;
    cpart_t *last_cp; /* the partition of the last record returned */
    uint64_t last_gen;
    char *errmsg;        /* owned: the group error poll returned last */
    const char *bad_why; /* static: why the last batch was refused */
};

/* ---- consumer.c, for cgroup.c ---- */

/**
 * @brief Finds the partition. @returns borrowed, or NULL.
 * @locality any  @locks c->lock held
 */
cpart_t *qr_consumer_part_find(quire_consumer_t *c, const char *topic,
                               int32_t partition);

/**
 * @brief Starts fetching a partition for the group from @p offset (an
 * offset, QUIRE_OFFSET_BEGINNING or _END), or stops it with @p err
 * (QUIRE_ERR_NO_OFFSET) for poll to report when @p err is set.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_NO_MEMORY.
 * @locality loop  @locks c->lock held
 */
quire_err_t qr_consumer_part_start(quire_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t offset,
                                   quire_err_t err);

/**
 * @brief Stops fetching @p cp and drops what was fetched of it; with
 * @p remove it is no longer assigned at all, else it is kept (paused) so
 * its position can still be read and committed.
 * @locality loop  @locks c->lock held
 */
void qr_consumer_part_stop(quire_consumer_t *c, cpart_t *cp, int remove);

/**
 * @brief Appends @p ev (taken) to the ready queue as an event chunk and
 * wakes poll. @returns QUIRE_ERR_NONE, or QUIRE_ERR_NO_MEMORY (@p ev is
 * then still the caller's).
 * @locality any  @locks c->lock held
 */
quire_err_t qr_consumer_queue_event(quire_consumer_t *c, struct qr_cgev *ev);

#endif /* QR_CONSUMER_INT_H */
