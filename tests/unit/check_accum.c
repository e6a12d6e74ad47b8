/*
 * check_accum: the producer's record accumulator without a broker: batches
 * split at batch.size and decode to the records appended, linger.ms and
 * readiness, muting and retry order, sticky partitions, buffer.memory
 * blocking then QUEUE_FULL, compression round trips, close, expiry.
 */
#include "config.h"

#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accum.h"
#include "batch.h"
#include "clock.h"
#include "codec.h"
#include "quire.h"

static qr_accum_conf_t conf_of(size_t batch_size, int64_t linger,
                               int64_t memory)
{
    qr_accum_conf_t c = {
        .batch_size = batch_size,
        .linger_ms = linger,
        .codec = QR_CODEC_NONE,
        .buffer_memory = memory,
        .max_batch = 1048576,
    };
    return c;
}

static qr_accum_t *new_accum(qr_accum_conf_t c)
{
    qr_accum_t *acc = NULL;

    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_NONE);
    return acc;
}

static int take_all(void *ctx, const char *topic, int32_t partition,
                    size_t bytes)
{
    (void)ctx;
    (void)topic;
    (void)partition;
    ck_assert_uint_ge(bytes, QR_BATCH_HEADER_SIZE);
    return 1;
}

/* appends value "v<i>" (padded to @p size bytes) with key "k<i>" */
static quire_err_t put(qr_accum_t *acc, const char *topic, int32_t part,
                       int32_t cnt, int i, size_t size, int64_t now,
                       int64_t deadline, int32_t *partp, int *wake)
{
    char key[32], value[4096];
    int32_t dummy_part;
    int dummy_wake;

    ck_assert_uint_lt(size, sizeof(value));
    snprintf(key, sizeof(key), "k%d", i);
    memset(value, 'x', size);
    return qr_accum_append(
        acc, topic, part, cnt, 1700000000000LL + i, key, strlen(key), value,
        size, NULL, 0, (void *)(intptr_t)(i + 1), now, deadline,
        partp ? partp : &dummy_part, wake ? wake : &dummy_wake);
}

/* Finishes @p b, validates it fully and checks its records are keys
 * k<first>..: returns the index after its last record. */
static int check_batch(qr_pbatch_t *b, int first)
{
    static uint8_t scratch[4 << 20];
    qr_batch_hdr_t hdr;
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    const char *why = NULL;
    int i = first;

    ck_assert_int_eq(qr_accum_finish(b), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_accum_finish(b), QUIRE_ERR_NONE); /* idempotent */
    ck_assert_int_eq(
        qr_batch_validate(b->data, b->len, QR_BATCH_CHECK_RECORDS, &hdr, &why),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(hdr.record_count, b->count);
    ck_assert_int_eq(
        qr_batch_iter_open(&it, b->data, b->len, scratch, sizeof(scratch)),
        QUIRE_ERR_NONE);
    while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE) {
        char key[32];

        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(rec.key_len, (ssize_t)strlen(key));
        ck_assert(memcmp(rec.key, key, strlen(key)) == 0);
        ck_assert_int_eq(rec.timestamp, 1700000000000LL + i);
        ck_assert_ptr_eq(b->recs[i - first].opaque, (void *)(intptr_t)(i + 1));
        i++;
    }
    ck_assert_int_eq(i - first, b->count);
    return i;
}

START_TEST(split_at_batch_size)
{
    qr_accum_t *acc = new_accum(conf_of(1024, 0, 1 << 20));
    qr_pbatch_t *list, *b, *next;
    int64_t next_ms;
    size_t n;
    int i, wake;

    for (i = 0; i < 100; i++)
        ck_assert_int_eq(put(acc, "t", 0, 1, i, 100, 1000, 1000, NULL, &wake),
                         QUIRE_ERR_NONE);
    n = qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms);
    ck_assert_uint_ge(n, 10);
    ck_assert_int_eq(next_ms, INT64_MAX);
    i = 0;
    for (b = list; b; b = next) {
        next = b->next;
        ck_assert_str_eq(b->topic, "t");
        ck_assert_int_eq(b->partition, 0);
        i = check_batch(b, i);
        ck_assert_uint_le(b->len, 1024);
        qr_accum_done(acc, b);
    }
    ck_assert_int_eq(i, 100);
    {
        qr_accum_stats_t st;

        qr_accum_stats(acc, &st);
        ck_assert_uint_eq(st.batches, 0);
        ck_assert_int_eq(st.mem_used, 0);
        ck_assert_int_eq(st.records, 0);
    }
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(linger)
{
    qr_accum_t *acc = new_accum(conf_of(16384, 100, 1 << 20));
    qr_pbatch_t *list;
    int64_t next_ms;
    int wake = 0;

    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 10, 1000, 1000, NULL, &wake),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(wake, 1); /* a batch was opened */
    ck_assert_int_eq(put(acc, "t", 0, 1, 1, 10, 1010, 1010, NULL, &wake),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(wake, 0);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1050, take_all, NULL, &list, &next_ms), 0);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(next_ms, 1100);
    /* a flush makes it ready at once */
    qr_accum_flushing(acc, 1);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1051, take_all, NULL, &list, &next_ms), 1);
    qr_accum_flushing(acc, -1);
    ck_assert_int_eq(check_batch(list, 0), 2);
    qr_accum_done(acc, list);
    /* and without a flush, linger.ms after it was opened */
    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 10, 2000, 2000, NULL, &wake),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 2099, take_all, NULL, &list, &next_ms), 0);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 2100, take_all, NULL, &list, &next_ms), 1);
    qr_accum_done(acc, list);
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(full_batch_ready_before_linger)
{
    qr_accum_t *acc = new_accum(conf_of(1024, 60000, 1 << 20));
    qr_pbatch_t *list;
    int64_t next_ms;
    int i, wake, filled = 0;

    for (i = 0; !filled; i++) {
        ck_assert_int_eq(put(acc, "t", 0, 1, i, 100, 1000, 1000, NULL, &wake),
                         QUIRE_ERR_NONE);
        filled = i > 0 && wake;
    }
    /* the first batch is full; the second (open) waits for linger */
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms), 1);
    ck_assert_int_eq(next_ms, 61000); /* the open one, after linger */
    ck_assert_int_eq(check_batch(list, 0), i - 1);
    qr_accum_done(acc, list);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms), 0);
    ck_assert_int_eq(next_ms, 61000);
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(mute_and_retry_order)
{
    qr_accum_t *acc = new_accum(conf_of(16384, 0, 1 << 20));
    qr_pbatch_t *a, *list, *b;
    int64_t next_ms;

    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_accum_drain(acc, 1000, take_all, NULL, &a, &next_ms),
                      1);
    ck_assert_int_eq(qr_accum_finish(a), QUIRE_ERR_NONE);
    ck_assert_int_eq(put(acc, "t", 0, 1, 1, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_NONE);
    /* muted while a is in flight */
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms), 0);
    a->attempts++;
    qr_accum_requeue(acc, a, 1100);
    /* a waits for its backoff, and b may not overtake it */
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1050, take_all, NULL, &list, &next_ms), 0);
    ck_assert_int_eq(next_ms, 1100);
    /* issue 22: the retried batch goes alone, never with a fresh one in
     * the same request (an idempotent producer's request is then either
     * all written before or all new) */
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 1);
    ck_assert_ptr_eq(list, a);
    ck_assert_ptr_null(a->next);
    ck_assert_int_eq(check_batch(a, 0), 1);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 0);
    qr_accum_done(acc, a);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 1);
    b = list;
    ck_assert_int_eq(qr_accum_finish(b), QUIRE_ERR_NONE);
    ck_assert_int_eq(check_batch(b, 1), 2);
    qr_accum_done(acc, b);
    qr_accum_destroy(acc);
}
END_TEST

/* issue 22: with part_in_flight 3 a partition has up to 3 batches in
 * flight from successive drains; batches given back in any order go back
 * in the order they were first drained; a retried head waits until
 * nothing of its partition is in flight, and nothing of it goes while a
 * retried batch is in flight */
START_TEST(pipelined_partition_retry_order)
{
    qr_accum_conf_t c = conf_of(16384, 0, 1 << 20);
    qr_accum_t *acc;
    qr_pbatch_t *b[4], *list;
    int64_t next_ms;
    qr_accum_stats_t st;

    c.part_in_flight = 3;
    acc = new_accum(c);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(put(acc, "t", 0, 1, i, 10, 1000, 1000, NULL, NULL),
                         QUIRE_ERR_NONE);
        ck_assert_uint_eq(
            qr_accum_drain(acc, 1000, take_all, NULL, &b[i], &next_ms),
            i < 3 ? 1 : 0); /* the 4th waits: 3 in flight */
        if (i < 3) {
            ck_assert_ptr_null(b[i]->next);
            b[i]->attempts++;
        }
    }
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.part_in_flight_max, 3);
    /* answers in any order: the queue is 1, 2, then the fresh 3 */
    qr_accum_done(acc, b[0]); /* b[0] got through */
    qr_accum_requeue(acc, b[1], 1100);
    /* a retry does not go while a batch of its partition is in flight */
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 0);
    qr_accum_requeue(acc, b[2], 1100);
    /* 1 then 2, one at a time (they came from different requests), and
     * nothing else of the partition while a retry is in flight (3 stays,
     * though 3 may fly) */
    for (int i = 1; i < 3; i++) {
        ck_assert_uint_eq(
            qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 1);
        ck_assert_ptr_eq(list, b[i]);
        ck_assert_ptr_null(list->next);
        ck_assert_int_eq(check_batch(b[i], i), i + 1);
        ck_assert_uint_eq(
            qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 0);
        qr_accum_done(acc, b[i]);
    }
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1100, take_all, NULL, &list, &next_ms), 1);
    ck_assert_int_eq(check_batch(list, 3), 4);
    qr_accum_done(acc, list);
    qr_accum_destroy(acc);
}
END_TEST

static int only_partition_1(void *ctx, const char *topic, int32_t partition,
                            size_t bytes)
{
    (void)ctx;
    (void)topic;
    (void)bytes;
    return partition == 1;
}

START_TEST(selector_decides)
{
    qr_accum_t *acc = new_accum(conf_of(16384, 0, 1 << 20));
    qr_pbatch_t *list, *rest;
    int64_t next_ms;

    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(put(acc, "t", p, 3, p, 10, 1000, 1000, NULL, NULL),
                         QUIRE_ERR_NONE);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, only_partition_1, NULL, &list, &next_ms), 1);
    ck_assert_int_eq(list->partition, 1);
    ck_assert_uint_eq(
        qr_accum_drain(acc, 1000, take_all, NULL, &rest, &next_ms), 2);
    qr_accum_done(acc, list);
    qr_accum_done(acc, rest->next);
    qr_accum_done(acc, rest);
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(sticky_partition_per_batch)
{
    qr_accum_t *acc = new_accum(conf_of(2048, 60000, 1 << 20));
    int32_t part, first = -1, second = -1;
    int i, wake, seen_switch = 0;

    for (i = 0; i < 200; i++) {
        ck_assert_int_eq(
            put(acc, "t", QR_ACCUM_STICKY, 6, i, 100, 1000, 1000, &part, &wake),
            QUIRE_ERR_NONE);
        ck_assert(part >= 0 && part < 6);
        if (first < 0)
            first = part;
        else if (part != first && second < 0) {
            second = part;
            seen_switch = i;
        } else if (second >= 0)
            break;
    }
    /* a whole batch (about 2048 / 110 records) went to one partition, and
     * the next batch went to another */
    ck_assert_int_ge(seen_switch, 15);
    ck_assert_int_ne(first, second);
    /* one partition only: always 0 */
    ck_assert_int_eq(
        put(acc, "u", QR_ACCUM_STICKY, 1, 0, 10, 1000, 1000, &part, &wake),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(part, 0);
    qr_accum_destroy(acc);
}
END_TEST

/* Records without a key go only to partitions marked up (issue 16 item
 * 12); with none up, to any. */
START_TEST(sticky_only_available_partitions)
{
    qr_accum_t *acc = new_accum(conf_of(512, 60000, 16 << 20));
    const uint8_t up[6] = {0, 1, 0, 0, 1, 0}, none[6] = {0};
    int32_t part;
    int used[6] = {0};

    ck_assert_int_eq(qr_accum_set_available(acc, "t", up, 6), QUIRE_ERR_NONE);
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(
            put(acc, "t", QR_ACCUM_STICKY, 6, i, 100, 1000, 1000, &part, NULL),
            QUIRE_ERR_NONE);
        ck_assert_msg(part == 1 || part == 4, "record %d to partition %d", i,
                      part);
        used[part]++;
    }
    /* both available ones take batches */
    ck_assert_int_gt(used[1], 0);
    ck_assert_int_gt(used[4], 0);
    /* a keyed (chosen) partition is taken as asked */
    ck_assert_int_eq(put(acc, "t", 2, 6, 400, 10, 1000, 1000, &part, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(part, 2);
    /* none up: every partition is a candidate again */
    ck_assert_int_eq(qr_accum_set_available(acc, "t", none, 6), QUIRE_ERR_NONE);
    memset(used, 0, sizeof(used));
    for (int i = 0; i < 2000; i++) {
        ck_assert_int_eq(
            put(acc, "t", QR_ACCUM_STICKY, 6, i, 100, 1000, 1000, &part, NULL),
            QUIRE_ERR_NONE);
        used[part]++;
    }
    for (int q = 0; q < 6; q++)
        ck_assert_int_gt(used[q], 0);
    ck_assert_int_eq(qr_accum_set_available(acc, "t", NULL, 3),
                     QUIRE_ERR_BAD_ARG);
    qr_accum_destroy(acc);
}
END_TEST

/* Selector taking only partition @p ctx. */
static int only_part(void *ctx, const char *topic, int32_t partition,
                     size_t bytes)
{
    (void)topic;
    (void)bytes;
    return partition == *(int32_t *)ctx;
}

/* A partition that loses its leader: its unsent sticky batches move to an
 * available one, in order, ahead of that one's open batch; batches with a
 * chosen partition and batches already sent stay. */
START_TEST(reroute_moves_unsent_sticky_batches)
{
    qr_accum_t *acc = new_accum(conf_of(512, 60000, 1 << 20));
    const uint8_t only1[3] = {0, 1, 0}, only2[3] = {0, 0, 1};
    qr_pbatch_t *list, *b, *next;
    int32_t part, want = 2;
    int64_t next_ms;
    int n = 0;

    ck_assert_int_eq(qr_accum_set_available(acc, "t", only1, 3),
                     QUIRE_ERR_NONE);
    /* sticky records fill several batches of partition 1 */
    for (int i = 0; i < 30; i++) {
        ck_assert_int_eq(
            put(acc, "t", QR_ACCUM_STICKY, 3, i, 100, 1000, 1000, &part, NULL),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(part, 1);
    }
    /* a record for partition 1 by choice joins its open batch: that batch
     * stays */
    ck_assert_int_eq(put(acc, "t", 1, 3, 30, 10, 1000, 1000, &part, NULL),
                     QUIRE_ERR_NONE);
    /* partition 1 loses its leader */
    ck_assert_int_eq(qr_accum_set_available(acc, "t", only2, 3),
                     QUIRE_ERR_NONE);
    ck_assert_uint_ge(qr_accum_reroute(acc), 2);
    ck_assert_uint_eq(qr_accum_reroute(acc), 0); /* nothing left to move */
    qr_accum_flushing(acc, 1);
    ck_assert_uint_gt(
        qr_accum_drain(acc, 2000, only_part, &want, &list, &next_ms), 0);
    /* the closed sticky batches, in order, now on partition 2 */
    for (b = list; b; b = next) {
        next = b->next;
        ck_assert_int_eq(b->partition, 2);
        n = check_batch(b, n);
        qr_accum_done(acc, b);
    }
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, 30);
    /* the mixed batch is still partition 1's, after them */
    want = 1;
    ck_assert_uint_eq(
        qr_accum_drain(acc, 2000, only_part, &want, &list, &next_ms), 1);
    ck_assert_int_eq(list->partition, 1);
    ck_assert_int_eq(check_batch(list, n), 31);
    qr_accum_done(acc, list);
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(too_large_and_bad_args)
{
    qr_accum_conf_t c = conf_of(1024, 0, 1 << 20);
    qr_accum_t *acc;

    c.max_batch = 2048;
    acc = new_accum(c);
    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 3000, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_MESSAGE_TOO_LARGE);
    /* bigger than batch.size but within max.request.size: its own batch */
    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 1500, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(put(acc, "t", 1, 1, 0, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(put(acc, "t", -7, 1, 0, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(put(acc, "t", 0, 0, 0, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_BAD_ARG);
    qr_accum_destroy(acc);

    c = conf_of(1024, 0, 100); /* smaller than one batch */
    acc = new_accum(c);
    ck_assert_int_eq(put(acc, "t", 0, 1, 0, 10, 1000, 1000, NULL, NULL),
                     QUIRE_ERR_MESSAGE_TOO_LARGE);
    qr_accum_destroy(acc);

    c = conf_of(1024, 0, 1 << 20);
    c.codec = QR_CODEC_SNAPPY;
    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_BAD_ARG);
    c.codec = 9;
    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_BAD_ARG);
    c = conf_of(1024, 0, 0);
    ck_assert_int_eq(qr_accum_new(&c, &acc), QUIRE_ERR_BAD_ARG);
    qr_accum_destroy(NULL);
}
END_TEST

typedef struct releaser {
    qr_accum_t *acc;
    int delay_ms;
} releaser_t;

/* Drains and gives back everything after a delay: memory comes back. */
static void *release_later(void *arg)
{
    releaser_t *r = arg;
    qr_pbatch_t *list, *next;
    int64_t next_ms;

    usleep((useconds_t)r->delay_ms * 1000);
    qr_accum_drain(r->acc, qr_clock_mono_ms(), take_all, NULL, &list, &next_ms);
    for (; list; list = next) {
        next = list->next;
        qr_accum_done(r->acc, list);
    }
    return NULL;
}

START_TEST(buffer_memory_blocks_then_fails)
{
    /* room for exactly two 1 KiB batches (plus record metadata) */
    qr_accum_t *acc = new_accum(
        conf_of(1024, 60000, 2 * (1024 + 64 * 16 + sizeof(qr_pbatch_t))));
    int64_t now = qr_clock_mono_ms(), t0;
    pthread_t th;
    releaser_t r = {acc, 200};

    ck_assert_int_eq(put(acc, "t", 0, 3, 0, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(put(acc, "t", 1, 3, 1, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    /* a third batch does not fit: no wait, then a bounded wait */
    ck_assert_int_eq(put(acc, "t", 2, 3, 2, 10, now, now, NULL, NULL),
                     QUIRE_ERR_QUEUE_FULL);
    t0 = qr_clock_mono_ms();
    ck_assert_int_eq(put(acc, "t", 2, 3, 2, 10, t0, t0 + 150, NULL, NULL),
                     QUIRE_ERR_QUEUE_FULL);
    ck_assert_int_ge(qr_clock_mono_ms(), t0 + 150);
    /* records for partitions with an open batch still go in */
    ck_assert_int_eq(put(acc, "t", 0, 3, 3, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    /* memory given back by the I/O side wakes a blocked sender; while it
     * waits every batch is ready regardless of linger.ms */
    ck_assert_int_eq(pthread_create(&th, NULL, release_later, &r), 0);
    t0 = qr_clock_mono_ms();
    ck_assert_int_eq(put(acc, "t", 2, 3, 4, 10, t0, t0 + 10000, NULL, NULL),
                     QUIRE_ERR_NONE);
    pthread_join(th, NULL);
    qr_accum_destroy(acc);
}
END_TEST

/*
 * buffer.memory is a bound on what the accumulator holds, record metadata
 * included (issue 22): 64 partitions of 1-byte records (16 bytes of
 * metadata each, about 9 bytes in the batch) used to reach 2.81x a 1 MiB
 * budget without blocking: batches opened within the budget, then their
 * metadata grew unchecked. Appends go on until QUEUE_FULL (no waiting);
 * then the heap actually held by the batches (malloc_usable_size of each
 * allocation) must stay within the budget plus 1% (the allocator rounds
 * sizes up; partition bookkeeping is outside it).
 */
START_TEST(buffer_memory_bounds_record_metadata)
{
    const int64_t budget = 1 << 20;
    const int32_t parts = 64;
    qr_accum_t *acc = new_accum(conf_of(16384, 60000, budget));
    int64_t now = qr_clock_mono_ms(), held = 0;
    qr_accum_stats_t st;
    qr_pbatch_t *list, *b, *next;
    quire_err_t err = QUIRE_ERR_NONE;
    int32_t part;
    int wake;
    int32_t i;

    /* a batch opened on every partition the budget allows, then each
     * filled until it needs a new one */
    for (i = 0; i < parts; i++)
        qr_accum_append(acc, "t", i, parts, now, NULL, 0, "x", 1, NULL, 0, NULL,
                        now, now, &part, &wake);
    for (i = 0; i < parts; i++) {
        long n = 0;

        do
            err = qr_accum_append(acc, "t", i, parts, now, NULL, 0, "x", 1,
                                  NULL, 0, NULL, now, now, &part, &wake);
        while (err == QUIRE_ERR_NONE && ++n < 1000000);
    }
    ck_assert_int_eq(err, QUIRE_ERR_QUEUE_FULL);
    qr_accum_stats(acc, &st);
    ck_assert_int_le(st.mem_used, budget);
    ck_assert_int_gt(st.records, 0);
    qr_accum_drain(acc, now, take_all, NULL, &list, &now);
    for (b = list; b; b = b->next)
        held +=
            (int64_t)(malloc_usable_size(b) + malloc_usable_size(b->buf) +
                      malloc_usable_size(b->out) + malloc_usable_size(b->recs));
    ck_assert_msg(held <= budget + budget / 100,
                  "batches hold %lld bytes for a budget of %lld (%.2fx)",
                  (long long)held, (long long)budget,
                  (double)held / (double)budget);
    for (b = list; b; b = next) {
        next = b->next;
        qr_accum_done(acc, b);
    }
    qr_accum_destroy(acc);
}
END_TEST

/*
 * Batches of batch.size given back are reused (issue 14: a new buffer per
 * batch cost the producer page faults on every batch): the next batch gets
 * the same buffers, its records start afresh, and the pooled memory counts
 * against buffer.memory, given up first when a larger batch needs room.
 */
START_TEST(batches_reused_from_pool)
{
    const int64_t budget = 3 * 2048;
    qr_accum_t *acc = new_accum(conf_of(2048, 0, budget));
    int64_t now = qr_clock_mono_ms(), next_ms;
    qr_pbatch_t *list;
    qr_accum_stats_t st;
    uint8_t *buf;
    int i = 0, first;

    /* 15 records of about 110 bytes: one batch (linger 0: ready), then
     * given back */
    for (; i < 15; i++)
        ck_assert_int_eq(put(acc, "t", 0, 1, i, 100, now, now, NULL, NULL),
                         QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_accum_drain(acc, now, take_all, NULL, &list, &next_ms),
                      1);
    ck_assert_int_eq(check_batch(list, 0), i);
    buf = list->buf;
    first = i;
    qr_accum_done(acc, list);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.pooled, 1);
    ck_assert_int_gt(st.pool_mem, 2048);
    ck_assert_int_eq(st.mem_used, 0);
    /* the next batch takes the pooled buffers, its records start afresh */
    ck_assert_int_eq(put(acc, "t", 0, 1, i++, 100, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.pooled, 0);
    ck_assert_int_eq(st.pool_mem, 0);
    ck_assert_uint_eq(qr_accum_drain(acc, now, take_all, NULL, &list, &next_ms),
                      1);
    ck_assert_ptr_eq(list->buf, buf);
    ck_assert_int_eq(list->count, 1);
    ck_assert_int_eq(list->attempts, 0);
    ck_assert_int_eq(list->order, 2);
    ck_assert_int_eq(check_batch(list, first), first + 1);
    qr_accum_done(acc, list);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.pooled, 1);
    /* a record larger than batch.size needs a batch of its own size, which
     * does not fit beside the pooled one: that is freed to make room */
    ck_assert_int_eq(put(acc, "t", 0, 1, i++, 3000, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.pooled, 0);
    ck_assert_int_eq(st.pool_mem, 0);
    ck_assert_int_gt(st.mem_used, 3000);
    ck_assert_int_le(st.mem_used, budget);
    qr_accum_destroy(acc);
}
END_TEST

/*
 * The producer's fast path: no count cached, or one cached at another
 * metadata version, or a partition not below it: NEED_MORE and nothing
 * appended; at the cached version, records go to the chosen, the sticky
 * or the key's partition (quire_partition_for_key over the count).
 */
static size_t key_len(const char *key)
{
    return key ? strlen(key) : 0;
}

START_TEST(append_cached_by_version)
{
    qr_accum_t *acc = new_accum(conf_of(1 << 16, 0, 1 << 20));
    int64_t now = qr_clock_mono_ms(), next_ms;
    qr_pbatch_t *list, *b, *next;
    qr_accum_stats_t st;
    int32_t part = -7;
    int wake = 0, n = 0;

#define CACHED(P, V, K)                                                        \
    qr_accum_append_cached(                                                    \
        acc, "t", (P), (V),                                                    \
        &(qr_accum_rec_t){.timestamp = 1700000000000LL,                        \
                          .key = (K),                                          \
                          .key_len = key_len(K),                               \
                          .value = "v",                                        \
                          .value_len = 1},                                     \
        0, &part, &wake)
    ck_assert_int_eq(CACHED(0, 1, NULL), QUIRE_ERR_NEED_MORE);
    ck_assert_int_eq(qr_accum_set_parts(acc, "t", 0, 1), QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(qr_accum_set_parts(acc, "t", 8, 1), QUIRE_ERR_NONE);
    ck_assert_int_eq(CACHED(0, 2, NULL), QUIRE_ERR_NEED_MORE);
    ck_assert_int_eq(CACHED(8, 1, NULL), QUIRE_ERR_NEED_MORE);
    ck_assert_int_eq(CACHED(-3, 1, NULL), QUIRE_ERR_NEED_MORE);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.records, 0);
    ck_assert_int_eq(CACHED(5, 1, NULL), QUIRE_ERR_NONE);
    ck_assert_int_eq(part, 5);
    ck_assert_int_eq(wake, 1);
    ck_assert_int_eq(CACHED(QR_ACCUM_STICKY, 1, NULL), QUIRE_ERR_NONE);
    ck_assert(part >= 0 && part < 8);
    ck_assert_int_eq(CACHED(QR_ACCUM_KEYED, 1, "some key"), QUIRE_ERR_NONE);
    ck_assert_int_eq(part, quire_partition_for_key("some key", 8, 8));
    /* the metadata moved on: refused until the count is left again */
    ck_assert_int_eq(qr_accum_set_parts(acc, "t", 16, 2), QUIRE_ERR_NONE);
    ck_assert_int_eq(CACHED(5, 1, NULL), QUIRE_ERR_NEED_MORE);
    ck_assert_int_eq(CACHED(12, 2, NULL), QUIRE_ERR_NONE);
    ck_assert_int_eq(part, 12);
    qr_accum_close(acc);
    ck_assert_int_eq(CACHED(12, 2, NULL), QUIRE_ERR_DESTROYED);
#undef CACHED
    qr_accum_drain(acc, now, take_all, NULL, &list, &next_ms);
    for (b = list; b; b = next) {
        next = b->next;
        n += b->count;
        qr_accum_done(acc, b);
    }
    ck_assert_int_eq(n, 4);
    qr_accum_destroy(acc);
}
END_TEST

typedef struct give_back {
    qr_accum_t *acc;
    qr_pbatch_t *b;
} give_back_t;

static void *give_back_later(void *arg)
{
    give_back_t *g = arg;

    usleep(1000);
    qr_accum_done(g->acc, g->b);
    return NULL;
}

/*
 * With 16 batches alive, 4 or more in flight and none pooled, a new batch
 * waits a little for one to come back instead of taking fresh memory
 * (issue 14): given back meanwhile, its buffer is reused; with nothing
 * given back, the append goes on with a new batch after the short wait
 * (buffer.memory stays the bound, never QUEUE_FULL for it); an append
 * that may not wait does not.
 */
START_TEST(new_batch_waits_for_one_in_flight)
{
    qr_accum_t *acc = new_accum(conf_of(1024, 0, 1 << 20));
    int64_t now = qr_clock_mono_ms(), next_ms, t0;
    qr_pbatch_t *list, *b, *next;
    qr_accum_stats_t st;
    give_back_t g;
    pthread_t th;
    int i;

    /* 16 one-record batches on 16 partitions, all drained: in flight */
    for (i = 0; i < 16; i++)
        ck_assert_int_eq(put(acc, "t", i, 32, i, 10, now, now, NULL, NULL),
                         QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_accum_drain(acc, now, take_all, NULL, &list, &next_ms),
                      16);
    /* may not wait: a new batch at once */
    ck_assert_int_eq(put(acc, "t", 16, 32, 16, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.batches, 17);
    /* may wait: one given back meanwhile is reused */
    g.acc = acc;
    g.b = list;
    list = list->next;
    ck_assert_int_eq(pthread_create(&th, NULL, give_back_later, &g), 0);
    ck_assert_int_eq(put(acc, "t", 17, 32, 17, 10, now,
                         qr_clock_mono_ms() + 10000, NULL, NULL),
                     QUIRE_ERR_NONE);
    pthread_join(th, NULL);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.batches, 17);
    /* 0 unless the helper thread ran later than the wait (a loaded
     * machine): then the append took a new batch and the pool has it */
    ck_assert_int_le(st.pooled, 1);
    /* nothing given back: a new batch after the short wait */
    t0 = qr_clock_mono_ms();
    ck_assert_int_eq(put(acc, "t", 18, 32, 18, 10, now,
                         qr_clock_mono_ms() + 10000, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_lt(qr_clock_mono_ms() - t0, 1000);
    qr_accum_stats(acc, &st);
    ck_assert_int_eq(st.batches, 18);
    for (b = list; b; b = next) {
        next = b->next;
        qr_accum_done(acc, b);
    }
    qr_accum_destroy(acc);
}
END_TEST

static void *close_later(void *arg)
{
    usleep(100 * 1000);
    qr_accum_close(arg);
    return NULL;
}

START_TEST(close_wakes_and_refuses)
{
    qr_accum_t *acc =
        new_accum(conf_of(1024, 60000, 1024 + 64 * 16 + sizeof(qr_pbatch_t)));
    int64_t now = qr_clock_mono_ms();
    qr_pbatch_t *list;
    int64_t next_ms;
    pthread_t th;

    ck_assert_int_eq(put(acc, "t", 0, 2, 0, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(pthread_create(&th, NULL, close_later, acc), 0);
    ck_assert_int_eq(put(acc, "t", 1, 2, 1, 10, now, now + 10000, NULL, NULL),
                     QUIRE_ERR_DESTROYED);
    pthread_join(th, NULL);
    ck_assert_int_eq(put(acc, "t", 0, 2, 2, 10, now, now, NULL, NULL),
                     QUIRE_ERR_DESTROYED);
    /* closing makes the lingering batch ready */
    ck_assert_uint_eq(qr_accum_drain(acc, now, take_all, NULL, &list, &next_ms),
                      1);
    qr_accum_done(acc, list);
    qr_accum_destroy(acc);
}
END_TEST

START_TEST(expire_and_wait_empty)
{
    qr_accum_t *acc = new_accum(conf_of(1024, 60000, 1 << 20));
    int64_t now = qr_clock_mono_ms();
    qr_pbatch_t *list, *inflight;
    int64_t next_ms;

    ck_assert_int_eq(put(acc, "t", 0, 2, 0, 10, now - 500, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(put(acc, "u", 0, 1, 1, 10, now - 50, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_accum_wait_empty(acc, qr_clock_mono_ms() + 50),
                     QUIRE_ERR_TIMED_OUT);
    ck_assert_uint_eq(qr_accum_expire(acc, NULL, now, 100, &list), 1);
    ck_assert_str_eq(list->topic, "t");
    qr_accum_done(acc, list);
    ck_assert_uint_eq(qr_accum_expire(acc, "t", now, 100, &list), 0);
    /* in flight: only a forced expiry (max_age < 0) skips the muting */
    ck_assert_int_eq(put(acc, "u", 0, 1, 2, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    qr_accum_flushing(acc, 1);
    ck_assert_uint_eq(
        qr_accum_drain(acc, now, take_all, NULL, &inflight, &next_ms), 1);
    qr_accum_flushing(acc, -1);
    ck_assert_int_eq(put(acc, "u", 0, 1, 3, 10, now, now, NULL, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_accum_expire(acc, "u", now + 1000, 100, &list), 0);
    ck_assert_uint_eq(qr_accum_expire(acc, "u", now, -1, &list), 1);
    qr_accum_done(acc, list);
    qr_accum_done(acc, inflight);
    ck_assert_int_eq(qr_accum_wait_empty(acc, qr_clock_mono_ms() + 50),
                     QUIRE_ERR_NONE);
    qr_accum_destroy(acc);
}
END_TEST

static const int codecs[] = {QR_CODEC_GZIP, QR_CODEC_LZ4, QR_CODEC_ZSTD};

START_TEST(compression_round_trip)
{
    qr_accum_conf_t c = conf_of(65536, 0, 1 << 22);
    qr_pbatch_t *list, *next;
    qr_accum_t *acc;
    int64_t next_ms;
    int i;

    c.codec = codecs[_i];
    acc = new_accum(c);
    for (i = 0; i < 500; i++)
        ck_assert_int_eq(put(acc, "t", 0, 1, i, 100, 1000, 1000, NULL, NULL),
                         QUIRE_ERR_NONE);
    qr_accum_drain(acc, 1000, take_all, NULL, &list, &next_ms);
    i = 0;
    for (; list; list = next) {
        qr_batch_hdr_t hdr;

        next = list->next;
        i = check_batch(list, i);
        ck_assert_int_eq(qr_batch_hdr_read(list->data, list->len, &hdr),
                         QUIRE_ERR_NONE);
        /* repetitive values compress: the codec bits are set */
        ck_assert_int_eq(qr_batch_codec(&hdr), codecs[_i]);
        ck_assert_uint_lt(list->len, qr_batch_builder_size(&list->b));
        qr_accum_done(acc, list);
    }
    ck_assert_int_eq(i, 500);
    qr_accum_destroy(acc);
}
END_TEST

typedef struct sender {
    qr_accum_t *acc;
    int id;
    int n;
} sender_t;

static void *send_many(void *arg)
{
    sender_t *s = arg;

    for (int i = 0; i < s->n; i++) {
        int64_t now = qr_clock_mono_ms();

        ck_assert_int_eq(
            put(s->acc, "t", s->id, 4, i, 50, now, now + 10000, NULL, NULL),
            QUIRE_ERR_NONE);
    }
    return NULL;
}

START_TEST(threads_append_while_draining)
{
    /* tight memory, so senders block and the drainer frees them */
    qr_accum_t *acc = new_accum(conf_of(4096, 0, 6 * (4096 + 64 * 16)));
    sender_t s[4];
    pthread_t th[4];
    int64_t got[4] = {0}, total = 0, next_ms;
    int next_idx[4] = {0};

    for (int t = 0; t < 4; t++) {
        s[t] = (sender_t){acc, t, 5000};
        ck_assert_int_eq(pthread_create(&th[t], NULL, send_many, &s[t]), 0);
    }
    while (total < 4 * 5000) {
        qr_pbatch_t *list, *next;

        qr_accum_drain(acc, qr_clock_mono_ms(), take_all, NULL, &list,
                       &next_ms);
        for (; list; list = next) {
            next = list->next;
            /* every partition's records arrive complete and in order */
            next_idx[list->partition] =
                check_batch(list, next_idx[list->partition]);
            got[list->partition] += list->count;
            total += list->count;
            qr_accum_done(acc, list);
        }
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(got[t], 5000);
    }
    qr_accum_destroy(acc);
}
END_TEST

static Suite *accum_suite(void)
{
    Suite *s = suite_create("accum");
    TCase *tc = tcase_create("accum");

    tcase_set_tags(tc, "unit");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, split_at_batch_size);
    tcase_add_test(tc, linger);
    tcase_add_test(tc, full_batch_ready_before_linger);
    tcase_add_test(tc, mute_and_retry_order);
    tcase_add_test(tc, pipelined_partition_retry_order);
    tcase_add_test(tc, selector_decides);
    tcase_add_test(tc, sticky_partition_per_batch);
    tcase_add_test(tc, sticky_only_available_partitions);
    tcase_add_test(tc, reroute_moves_unsent_sticky_batches);
    tcase_add_test(tc, too_large_and_bad_args);
    tcase_add_test(tc, buffer_memory_blocks_then_fails);
    tcase_add_test(tc, buffer_memory_bounds_record_metadata);
    tcase_add_test(tc, close_wakes_and_refuses);
    tcase_add_test(tc, batches_reused_from_pool);
    tcase_add_test(tc, append_cached_by_version);
    tcase_add_test(tc, new_batch_waits_for_one_in_flight);
    tcase_add_test(tc, expire_and_wait_empty);
    tcase_add_loop_test(tc, compression_round_trip, 0,
                        sizeof(codecs) / sizeof(codecs[0]));
    tcase_add_test(tc, threads_append_while_draining);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(accum_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
