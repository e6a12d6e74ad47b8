/*
 * check_fetcher: the follower's truncation rule (KIP-101 / KIP-279, Kafka's
 * getOffsetTruncationState) as a table, and the fetcher's bookkeeping of
 * followed partitions (references on the logs, re-follows that change the
 * epoch go back to truncation). The network side runs against real brokers
 * in tests/integration/check_repl_follower.c.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetcher.h"
#include "partlog.h"

typedef struct rule_case {
    const char *what;
    int32_t leader_epoch;
    int64_t leader_end;
    int32_t follower_epoch;
    int64_t follower_end;
    int64_t log_end, hw;
    int64_t want_offset;
    int want_done;
} rule_case_t;

static const rule_case_t rules[] = {
    /* the leader has no epochs: our high watermark (pre-KIP-101) */
    {"leader without epochs", 3, -1, -1, -1, 100, 80, 80, 1},
    /* same epoch on both: the shorter of the two ends */
    {"same epoch, leader shorter", 5, 90, 5, 100, 100, 70, 90, 1},
    {"same epoch, follower shorter", 5, 120, 5, 100, 100, 70, 100, 1},
    /* KIP-101 scenario 2: our epoch-1 tail the new leader never had; it
     * answers epoch 0 ending at 1, and our epoch 0 ends at 1 too */
    {"divergent tail", 0, 1, 0, 1, 2, 1, 1, 1},
    /* KIP-279: the leader answers an epoch we do not have; cut at the end
     * of our largest epoch below it and ask again */
    {"epoch unknown here", 4, 150, 2, 120, 200, 90, 120, 0},
    /* we have nothing at or below the leader's epoch: keep what it has */
    {"nothing at or below", 1, 40, -1, -1, 200, 10, 40, 1},
    /* never past our own log end */
    {"leader longer than us", 7, 500, 7, 500, 300, 100, 300, 1},
    {"leader without epochs, hw past end", 2, -1, -1, -1, 50, 60, 50, 1},
};

START_TEST(test_rule)
{
    const rule_case_t *c = &rules[_i];
    qr_fetcher_trunc_t t =
        qr_fetcher_truncation(c->leader_epoch, c->leader_end, c->follower_epoch,
                              c->follower_end, c->log_end, c->hw);

    ck_assert_msg(t.offset == c->want_offset && t.done == c->want_done,
                  "%s: got offset %lld done %d, want %lld %d", c->what,
                  (long long)t.offset, t.done, (long long)c->want_offset,
                  c->want_done);
}
END_TEST

/* ---- bookkeeping, on a real log, the thread not started ---- */

static char dir[] = "/tmp/check_fetcher-XXXXXX";

static qr_plog_t *open_log(const char *topic, int32_t p)
{
    qr_plog_conf_t conf;
    qr_plog_open_opts_t opts = {0};
    qr_plog_t *part = NULL;
    char errstr[256];

    qr_plog_conf_defaults(&conf);
    opts.create = 1;
    opts.clean = 1;
    opts.recovery_point = -1;
    ck_assert_int_eq(qr_plog_open(dir, topic, p, &conf, &opts, &part, errstr,
                                  sizeof(errstr)),
                     QUIRE_ERR_NONE);
    return part;
}

static qr_fetcher_t *new_fetcher(void)
{
    qr_fetcher_conf_t conf = {0};

    conf.broker_id = 2;
    conf.fetch_max_bytes = 1 << 20;
    conf.response_max_bytes = 10 << 20;
    conf.wait_max_ms = 500;
    conf.min_bytes = 1;
    conf.backoff_ms = 1000;
    conf.socket_timeout_ms = 30000;
    conf.max_frame = 64 << 20;
    return qr_fetcher_new(&conf);
}

START_TEST(test_follow_unfollow)
{
    qr_fetcher_t *f;
    qr_plog_t *a, *b;
    qr_fetcher_pstat_t st;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    a = open_log("t", 0);
    b = open_log("t", 1);
    f = new_fetcher();
    qr_fetcher_follow(f, a, 1, 4, "127.0.0.1", 9);
    qr_fetcher_follow(f, b, -1, 4, NULL, 0);
    ck_assert(qr_fetcher_stat(f, "t", 0, &st));
    ck_assert_int_eq(st.leader, 1);
    ck_assert_int_eq(st.leader_epoch, 4);
    ck_assert(st.truncating);
    ck_assert(qr_fetcher_stat(f, "t", 1, &st));
    ck_assert_int_eq(st.leader, -1);
    ck_assert(!qr_fetcher_stat(f, "t", 2, &st));
    /* a new epoch of the same leader is a new truncation too */
    qr_fetcher_follow(f, a, 1, 5, "127.0.0.1", 9);
    ck_assert(qr_fetcher_stat(f, "t", 0, &st));
    ck_assert_int_eq(st.leader_epoch, 5);
    ck_assert(st.truncating);
    ck_assert_int_eq(qr_fetcher_unfollow(f, "t", 0), 1);
    ck_assert_int_eq(qr_fetcher_unfollow(f, "t", 0), 0);
    ck_assert(!qr_fetcher_stat(f, "t", 0, &st));
    /* the fetcher's references are its own: the logs close cleanly
     * while it still holds b, and stop() releases it */
    ck_assert_int_eq(qr_plog_close(a), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_plog_close(b), QUIRE_ERR_NONE);
    qr_fetcher_stop(f);
    qr_fetcher_notify(f); /* harmless once stopped */
    qr_fetcher_destroy(f);
    qr_fetcher_destroy(NULL);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

static Suite *fetcher_suite(void)
{
    Suite *s = suite_create("fetcher");
    TCase *tc = tcase_create("truncation rule");

    tcase_set_tags(tc, "unit");
    tcase_add_loop_test(tc, test_rule, 0,
                        (int)(sizeof(rules) / sizeof(rules[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("bookkeeping");
    tcase_set_tags(tc, "unit");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_follow_unfollow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fetcher_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
