/*
 * check_replica: the leader's replica set (broker/replica.c): the HW as the
 * minimum over the ISR and never backwards, which offset of a follower
 * counts (synced or log end), Kafka's caught-up rule, ISR shrink and
 * expansion taking effect only once written, acks=all waits ended by the
 * HW, by min.insync.replicas and by deposition, and RF=1 reducing to the
 * leader's own offset.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"

#define LAG 10000

typedef struct sink {
    int64_t hw;    /* last set_hw */
    int sets;      /* set_hw calls */
    int wakes;     /* wake calls */
    int64_t order; /* set_hw values must increase */
} sink_t;

static void on_set_hw(void *opaque, int64_t hw)
{
    sink_t *s = opaque;

    ck_assert_int_gt(hw, s->order);
    s->order = hw;
    s->hw = hw;
    s->sets++;
}

static void on_wake(void *opaque)
{
    ((sink_t *)opaque)->wakes++;
}

typedef struct ack {
    qr_replica_waiter_t w;
    int calls;
    quire_err_t err;
} ack_t;

static void on_ack(void *opaque, quire_err_t err)
{
    ack_t *a = opaque;

    a->calls++;
    a->err = err;
}

/* Registers @p a for @p last; returns what qr_replica_ack_wait() did. */
static int wait_for(qr_replica_t *rs, ack_t *a, int64_t last, int32_t min)
{
    quire_err_t err = QUIRE_ERR_UNKNOWN_SERVER_ERROR;
    int r;

    memset(a, 0, sizeof(*a));
    a->w.cb = on_ack;
    a->w.opaque = a;
    r = qr_replica_ack_wait(rs, &a->w, last, min, &err);
    if (!r) {
        a->calls = 1;
        a->err = err;
    }
    return r;
}

static qr_replica_t *make(sink_t *s, int64_t hw, int64_t end, int caching)
{
    qr_replica_cbs_t cbs = {on_set_hw, on_wake, s};

    memset(s, 0, sizeof(*s));
    s->order = hw - 1;
    return qr_replica_new("t-0", 1, 5, hw, end, caching, &cbs);
}

static const int32_t r123[] = {1, 2, 3};

/* RF=1: the HW is the leader's own offset, the synced end without write
 * caching and the log end with it; acks=all waits for it alone. */
START_TEST(test_rf1_is_the_leader)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 0);
    int32_t one[] = {1};
    ack_t a;

    qr_replica_leader_end(rs, 10, 0);
    ck_assert_int_eq(qr_replica_hw(rs), 0); /* state unknown: no guess */
    qr_replica_set_state(rs, one, 1, one, 1, 5, 1, 0, 1000);
    ck_assert_int_eq(qr_replica_hw(rs), 0); /* nothing synced yet */
    ck_assert_int_eq(wait_for(rs, &a, 9, 1), 1);
    qr_replica_leader_end(rs, 10, 4);
    ck_assert_int_eq(qr_replica_hw(rs), 4);
    ck_assert_int_eq(a.calls, 0);
    qr_replica_leader_end(rs, 10, 10);
    ck_assert_int_eq(qr_replica_hw(rs), 10);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(s.hw, 10);
    ck_assert_int_eq(s.wakes, 2);
    /* already past: answered at once */
    ck_assert_int_eq(wait_for(rs, &a, 9, 1), 0);
    ck_assert_int_eq(a.err, QUIRE_ERR_NONE);
    /* write caching: the log end counts */
    qr_replica_set_write_caching(rs, 1);
    qr_replica_leader_end(rs, 15, 10);
    ck_assert_int_eq(qr_replica_hw(rs), 15);
    /* min.insync.replicas=2 with RF=1 is never met */
    ck_assert_int_eq(qr_replica_check_insync(rs, 2),
                     QUIRE_ERR_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(qr_replica_check_insync(rs, 1), QUIRE_ERR_NONE);
    qr_replica_destroy(rs);
}
END_TEST

/* HW = min over the ISR; a follower that never fetched holds it; it never
 * moves backwards, even when a follower's offset does (truncation). */
START_TEST(test_hw_min_over_isr)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 3, 5, 1);
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r123, 3, r123, 3, 5, 1, 0, 1000);
    qr_replica_leader_end(rs, 20, 20);
    ck_assert_int_eq(qr_replica_hw(rs), 3);
    ck_assert_int_eq(qr_replica_fetched(rs, 2, 12, -1, 20, 1100, &kick, &first),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_replica_hw(rs), 3); /* 3 has not fetched */
    ck_assert_int_eq(qr_replica_fetched(rs, 3, 8, -1, 20, 1100, &kick, &first),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_replica_hw(rs), 8);
    ck_assert_int_eq(qr_replica_fetched(rs, 3, 20, -1, 20, 1200, &kick, &first),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_replica_hw(rs), 12);
    ck_assert_int_eq(qr_replica_fetched(rs, 2, 6, -1, 20, 1300, &kick, &first),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_replica_hw(rs), 12); /* never backwards */
    ck_assert_int_eq(s.sets, 3); /* at creation (the log is bounded), 8, 12 */
    ck_assert_int_eq(kick, 0);   /* everyone is in the ISR already */
    qr_replica_destroy(rs);
}
END_TEST

/* Without write caching a follower counts with what it has synced; a
 * follower that does not report it (-1) holds the HW. */
START_TEST(test_synced_offset_counts)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 0);
    int32_t r12[] = {1, 2};
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 0, 1000);
    qr_replica_leader_end(rs, 10, 10);
    qr_replica_fetched(rs, 2, 10, -1, 10, 1000, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 0);
    qr_replica_fetched(rs, 2, 10, 7, 10, 1000, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 7);
    /* a synced end past the fetch offset is clamped to it */
    qr_replica_fetched(rs, 2, 9, 50, 10, 1000, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 9);
    /* the leader's own synced end counts too */
    qr_replica_leader_end(rs, 30, 10);
    qr_replica_fetched(rs, 2, 30, 30, 30, 1000, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 10);
    qr_replica_destroy(rs);
}
END_TEST

/* Kafka's caught-up rule: at the leader's end now, or at the leader's end
 * as of the previous fetch (then caught up at that fetch's time). */
START_TEST(test_caught_up_rule)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    qr_replica_info_t info;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r123, 3, r123, 3, 5, 1, 0, 1000);
    ck_assert_int_eq(qr_replica_info(rs, 2, &info), 0);
    ck_assert_int_eq(info.last_caught_up_ms, 1000); /* handed the ISR */
    /* behind: not caught up */
    qr_replica_fetched(rs, 2, 5, -1, 100, 2000, &kick, &first);
    qr_replica_info(rs, 2, &info);
    ck_assert_int_eq(info.last_caught_up_ms, 1000);
    ck_assert_int_eq(info.fetch_offset, 5);
    /* still behind the leader now (150), but at its end of the previous
     * fetch (100): caught up as of that fetch */
    qr_replica_fetched(rs, 2, 100, -1, 150, 3000, &kick, &first);
    qr_replica_info(rs, 2, &info);
    ck_assert_int_eq(info.last_caught_up_ms, 2000);
    /* at the leader's end: caught up now */
    qr_replica_fetched(rs, 2, 150, -1, 150, 4000, &kick, &first);
    qr_replica_info(rs, 2, &info);
    ck_assert_int_eq(info.last_caught_up_ms, 4000);
    /* a non-replica is refused and changes nothing; the first refusal
     * of each broker is flagged (logged once) */
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(
        qr_replica_fetched(rs, 9, 150, -1, 150, 4000, &kick, &first),
        QUIRE_ERR_REPLICA_NOT_AVAILABLE);
    ck_assert_int_eq(first, 1);
    first = 0;
    ck_assert_int_eq(
        qr_replica_fetched(rs, 9, 150, -1, 150, 4000, &kick, &first),
        QUIRE_ERR_REPLICA_NOT_AVAILABLE);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(qr_replica_info(rs, 9, &info), -1);
    ck_assert_int_eq(
        qr_replica_fetched(rs, 1, 150, -1, 150, 4000, &kick, &first),
        QUIRE_ERR_REPLICA_NOT_AVAILABLE); /* the leader itself */
    qr_replica_destroy(rs);
}
END_TEST

/* Shrink: planned after the lag, effective only once written; waits then
 * end, with NOT_ENOUGH_REPLICAS_AFTER_APPEND below min.insync.replicas. */
START_TEST(test_shrink)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    int32_t r12[] = {1, 2};
    qr_replica_isr_t plan;
    ack_t a1, a2;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 7, 1000);
    qr_replica_leader_end(rs, 10, 10);
    qr_replica_fetched(rs, 2, 10, -1, 10, 1000, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 10);
    qr_replica_leader_end(rs, 20, 20);
    ck_assert_int_eq(wait_for(rs, &a1, 19, 1), 1);
    ck_assert_int_eq(wait_for(rs, &a2, 19, 2), 1);
    ck_assert_int_eq(qr_replica_check_insync(rs, 2), QUIRE_ERR_NONE);
    /* not yet past the lag */
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1000 + LAG, LAG, &plan), 0);
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1001 + LAG, LAG, &plan), 1);
    ck_assert_uint_eq(plan.isr_cnt, 1);
    ck_assert_int_eq(plan.isr[0], 1);
    ck_assert_int_eq(plan.version, 7);
    ck_assert_int_eq(plan.leader_epoch, 5);
    ck_assert_int_eq(plan.controller_epoch, 1);
    /* one write at a time */
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1001 + LAG, LAG, &plan), 0);
    /* not written yet: the HW still waits for 2 */
    ck_assert_int_eq(qr_replica_hw(rs), 10);
    ck_assert_int_eq(a1.calls + a2.calls, 0);
    qr_replica_isr_written(rs, &plan, 8, 1001 + LAG);
    ck_assert_int_eq(qr_replica_hw(rs), 20);
    ck_assert_int_eq(a1.calls, 1);
    ck_assert_int_eq(a1.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(a2.calls, 1);
    ck_assert_int_eq(a2.err, QUIRE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    ck_assert_int_eq(qr_replica_check_insync(rs, 2),
                     QUIRE_ERR_NOT_ENOUGH_REPLICAS);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 1);
    /* the view reporting our own write changes nothing; an older version
     * is ignored */
    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 7, 9000);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 1);
    qr_replica_destroy(rs);
}
END_TEST

/* A failed write leaves the ISR as it was and lets the next check plan
 * again. */
START_TEST(test_shrink_write_failed)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    int32_t r12[] = {1, 2};
    qr_replica_isr_t plan;

    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 7, 0);
    ck_assert_int_eq(qr_replica_isr_plan(rs, LAG + 1, LAG, &plan), 1);
    qr_replica_isr_failed(rs);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 2);
    ck_assert_int_eq(qr_replica_isr_plan(rs, LAG + 1, LAG, &plan), 1);
    qr_replica_destroy(rs);
}
END_TEST

/* Expand: a follower outside the ISR joins once it reached the HW and the
 * start of this leader's epoch; the fetch kicks the check. */
START_TEST(test_expand)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 10, 15, 1); /* became leader at end 15 */
    int32_t r1[] = {1};
    qr_replica_isr_t plan;
    qr_replica_info_t info;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r123, 3, r1, 1, 5, 1, 3, 1000);
    qr_replica_leader_end(rs, 20, 20);
    ck_assert_int_eq(qr_replica_hw(rs), 20);
    qr_replica_fetched(rs, 2, 12, -1, 20, 1100, &kick, &first);
    ck_assert_int_eq(kick, 0);
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1100, LAG, &plan), 0);
    qr_replica_fetched(rs, 2, 20, -1, 20, 1200, &kick, &first);
    ck_assert_int_eq(kick, 1);
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1200, LAG, &plan), 1);
    ck_assert_uint_eq(plan.isr_cnt, 2);
    ck_assert_int_eq(plan.isr[1], 2);
    qr_replica_isr_written(rs, &plan, 4, 1200);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 2);
    qr_replica_info(rs, 2, &info);
    ck_assert_int_eq(info.in_isr, 1);
    /* in the ISR now: the HW waits for it */
    qr_replica_leader_end(rs, 30, 30);
    ck_assert_int_eq(qr_replica_hw(rs), 20);
    qr_replica_destroy(rs);
}
END_TEST

/* A follower at the HW but below the epoch's start offset does not join
 * (it may lack what this leader appended before the HW caught up). */
START_TEST(test_expand_needs_epoch_start)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 10, 15, 1);
    int32_t r1[] = {1};
    qr_replica_isr_t plan;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r123, 3, r1, 1, 5, 1, 3, 1000);
    qr_replica_fetched(rs, 2, 12, -1, 15, 1100, &kick, &first);
    ck_assert_int_eq(kick, 0);
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1100, LAG, &plan), 0);
    qr_replica_destroy(rs);
}
END_TEST

/* Deposed: waits end NOT_LEADER_FOR_PARTITION, nothing new is accepted,
 * no ISR is planned; destroy ends the waits left the same way. */
START_TEST(test_depose_and_destroy)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    int32_t r12[] = {1, 2};
    qr_replica_isr_t plan;
    ack_t a, b;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 0, 0);
    qr_replica_leader_end(rs, 5, 5);
    ck_assert_int_eq(wait_for(rs, &a, 4, 1), 1);
    qr_replica_depose(rs);
    ck_assert_int_eq(qr_replica_deposed(rs), 1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.err, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(wait_for(rs, &b, 4, 1), 0);
    ck_assert_int_eq(b.err, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(qr_replica_check_insync(rs, 1),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(qr_replica_fetched(rs, 2, 5, -1, 5, 10, &kick, &first),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(qr_replica_hw(rs), 0); /* a zombie's HW stays */
    ck_assert_int_eq(qr_replica_isr_plan(rs, LAG * 10, LAG, &plan), 0);
    qr_replica_destroy(rs);

    rs = make(&s, 0, 0, 1);
    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 0, 0);
    ck_assert_int_eq(wait_for(rs, &a, 4, 1), 1);
    qr_replica_destroy(rs);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.err, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
}
END_TEST

/* A state of another leader epoch belongs to another replica set. */
START_TEST(test_other_epoch_ignored)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    int32_t r1[] = {1};

    qr_replica_set_state(rs, r123, 3, r123, 3, 6, 1, 0, 0);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 1);
    qr_replica_set_state(rs, r123, 3, r1, 1, 5, 1, 0, 0);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 1);
    qr_replica_set_state(rs, r123, 3, r123, 3, 5, 1, 1, 0);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 3);
    qr_replica_destroy(rs);
}
END_TEST

/* A reassignment adds replicas by rewriting the assignment, not the state:
 * the same state version with a longer replica list adds the new ones
 * (out of the ISR, fetches accepted, joining once caught up); an older
 * version does the same and keeps the ISR as this leader wrote it. */
START_TEST(test_replicas_added_same_version)
{
    sink_t s;
    qr_replica_t *rs = make(&s, 0, 0, 1);
    int32_t r12[] = {1, 2}, r231[] = {2, 3, 1};
    qr_replica_isr_t plan;
    qr_replica_info_t info;
    int kick = 0, first = 0;

    qr_replica_set_state(rs, r12, 2, r12, 2, 5, 1, 3, 1000);
    qr_replica_leader_end(rs, 10, 10);
    ck_assert_int_eq(qr_replica_fetched(rs, 3, 0, -1, 10, 1000, &kick, &first),
                     QUIRE_ERR_REPLICA_NOT_AVAILABLE);
    ck_assert_int_eq(first, 1);
    qr_replica_set_state(rs, r231, 3, r12, 2, 5, 1, 3, 1100);
    ck_assert_int_eq(qr_replica_info(rs, 3, &info), 0);
    ck_assert_int_eq(info.in_isr, 0);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 2);
    /* not in the ISR: the HW does not wait for it */
    qr_replica_fetched(rs, 2, 10, -1, 10, 1100, &kick, &first);
    ck_assert_int_eq(qr_replica_hw(rs), 10);
    kick = 0;
    ck_assert_int_eq(qr_replica_fetched(rs, 3, 10, -1, 10, 1200, &kick, &first),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(kick, 1);
    ck_assert_int_eq(qr_replica_isr_plan(rs, 1200, LAG, &plan), 1);
    ck_assert_uint_eq(plan.isr_cnt, 3);
    ck_assert_int_eq(plan.version, 3);
    qr_replica_isr_written(rs, &plan, 4, 1200);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 3);
    /* the view's older state (version 3, ISR [1,2]) changes no ISR */
    qr_replica_set_state(rs, r231, 3, r12, 2, 5, 1, 3, 1300);
    ck_assert_uint_eq(qr_replica_isr(rs, NULL, 0), 3);
    qr_replica_destroy(rs);
}
END_TEST

static Suite *replica_suite(void)
{
    Suite *s = suite_create("replica");
    TCase *tc = tcase_create("rules");

    tcase_add_test(tc, test_rf1_is_the_leader);
    tcase_add_test(tc, test_hw_min_over_isr);
    tcase_add_test(tc, test_synced_offset_counts);
    tcase_add_test(tc, test_caught_up_rule);
    tcase_add_test(tc, test_shrink);
    tcase_add_test(tc, test_shrink_write_failed);
    tcase_add_test(tc, test_expand);
    tcase_add_test(tc, test_expand_needs_epoch_start);
    tcase_add_test(tc, test_depose_and_destroy);
    tcase_add_test(tc, test_other_epoch_ignored);
    tcase_add_test(tc, test_replicas_added_same_version);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replica_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
