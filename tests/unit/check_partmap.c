/*
 * check_partmap: the table of led partitions (broker/partmap.c): sorted
 * lookups, replace and take, references outliving removal, and parked
 * fetches being posted to their network thread on notify and never after
 * unwait.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partmap.h"

static const qr_topic_produce_t prod1000 = {1000, 0, 0, 1},
                                prod2000 = {2000, 1, 0, 1};

static char dir[] = "/tmp/check_partmap-XXXXXX";

/* A real, empty partition log in a temporary directory. */
static qr_plog_t *open_log(const char *topic, int32_t partition)
{
    qr_plog_conf_t conf;
    qr_plog_open_opts_t opts = {0};
    qr_plog_t *part = NULL;
    char errstr[256];

    qr_plog_conf_defaults(&conf);
    conf.segment_bytes = 1 << 20;
    conf.index_size_max_bytes = 4096;
    opts.create = 1;
    opts.clean = 1;
    opts.recovery_point = -1;
    ck_assert_msg(qr_plog_open(dir, topic, partition, &conf, &opts, &part,
                               errstr, sizeof(errstr)) == QUIRE_ERR_NONE,
                  "%s", errstr);
    return part;
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

START_TEST(test_put_get_take)
{
    qr_partmap_t *map = qr_partmap_new();
    const char *topics[] = {"b", "a", "c", "a"};
    const int32_t parts[] = {0, 1, 5, 0};
    qr_pentry_t *e;

    for (int i = 0; i < 4; i++)
        qr_partmap_put(map, topics[i], parts[i], i, &prod1000,
                       open_log(topics[i], parts[i]));
    ck_assert_uint_eq(qr_partmap_count(map), 4);
    for (int i = 0; i < 4; i++) {
        e = qr_partmap_get(map, topics[i], parts[i]);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->topic, topics[i]);
        ck_assert_int_eq(e->partition, parts[i]);
        ck_assert_int_eq(e->leader_epoch, i);
        ck_assert_str_eq(qr_plog_topic(e->part), topics[i]);
        qr_pentry_release(e);
    }
    ck_assert_ptr_null(qr_partmap_get(map, "a", 2));
    ck_assert_ptr_null(qr_partmap_get(map, "d", 0));
    ck_assert_ptr_null(qr_partmap_get(map, "", 0));

    /* A topic's entries, in partition order; none for an unknown one. */
    {
        size_t n;
        qr_pentry_t **v = qr_partmap_topic(map, "a", &n);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(v[0]->partition, 0);
        ck_assert_int_eq(v[1]->partition, 1);
        ck_assert_int_eq(atomic_load(&v[0]->max_message_bytes), 1000);
        for (size_t i = 0; i < n; i++)
            qr_pentry_release(v[i]);
        free(v);
        ck_assert_ptr_null(qr_partmap_topic(map, "ab", &n));
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(qr_partmap_topic(map, "", &n));
        ck_assert_uint_eq(n, 0);
        v = qr_partmap_topic(map, "c", &n);
        ck_assert_uint_eq(n, 1);
        qr_pentry_release(v[0]);
        free(v);
    }

    /* Taken out: gone from the map, still usable through the reference. */
    e = qr_partmap_take(map, "a", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(qr_partmap_get(map, "a", 1));
    ck_assert_int_eq(qr_plog_log_end(e->part), 0);
    qr_pentry_release(e);
    ck_assert_ptr_null(qr_partmap_take(map, "a", 1));
    ck_assert_uint_eq(qr_partmap_count(map), 3);
    while ((e = qr_partmap_take_any(map)) != NULL)
        qr_pentry_release(e);
    ck_assert_uint_eq(qr_partmap_count(map), 0);
    qr_partmap_destroy(map);
}
END_TEST

/* A new leader epoch replaces the entry; a holder of the old one keeps a
 * valid entry until it lets go. */
START_TEST(test_replace)
{
    qr_partmap_t *map = qr_partmap_new();
    qr_pentry_t *old, *cur;

    qr_partmap_put(map, "t", 0, 1, &prod1000, open_log("t", 0));
    old = qr_partmap_get(map, "t", 0);
    qr_partmap_put(map, "t", 0, 2, &prod2000, open_log("t", 0));
    cur = qr_partmap_get(map, "t", 0);
    ck_assert_ptr_ne(old, cur);
    ck_assert_int_eq(old->leader_epoch, 1);
    ck_assert_int_eq(cur->leader_epoch, 2);
    ck_assert_int_eq(atomic_load(&cur->max_message_bytes), 2000);
    ck_assert_int_eq(atomic_load(&cur->log_append_time), 1);
    ck_assert_uint_eq(qr_partmap_count(map), 1);
    qr_pentry_release(old);
    qr_pentry_release(cur);
    qr_partmap_destroy(map);
}
END_TEST

static int ran;

static void count_run(qr_nt_work_t *work)
{
    (void)work;
    ran++;
}

/* notify costs per partition and thread, not per waiter (issue 17 item
 * 3): however many fetches wait, it posts one item to their thread, which
 * then wakes each of them once; after unwait, nothing reaches a waiter. */
#define MANY 1000
START_TEST(test_waiters)
{
    qr_partmap_t *map = qr_partmap_new();
    qr_netthread_t *nt = qr_netthread_new(NULL, 0);
    static qr_nt_work_t works[MANY];
    static qr_pwaiter_t ws[MANY];
    qr_pentry_t *e;

    memset(works, 0, sizeof(works));
    memset(ws, 0, sizeof(ws));
    qr_partmap_put(map, "w", 0, 0, &prod1000, open_log("w", 0));
    e = qr_partmap_get(map, "w", 0);
    for (int i = 0; i < MANY; i++) {
        works[i].fn = count_run;
        ws[i].nt = nt;
        ws[i].work = &works[i];
        qr_pentry_wait(e, &ws[i]);
    }
    ck_assert_int_eq(atomic_load(&e->refcnt), 2 + MANY); /* map, us, ws */
    qr_pentry_notify(e);
    qr_pentry_notify(e); /* the thread's item is queued once only */
    /* one reference for the one pending post; no waiter posted yet */
    ck_assert_int_eq(atomic_load(&e->refcnt), 3 + MANY);
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(works[i].queued, 0);
    qr_pentry_unwait(&ws[0]);
    qr_pentry_unwait(&ws[0]); /* twice is harmless */
    ck_assert_ptr_null(ws[0].entry);
    ran = 0;
    qr_netthread_destroy(nt); /* runs the thread's item, then each wake */
    ck_assert_int_eq(ran, MANY - 1);
    ck_assert_int_eq(atomic_load(&e->refcnt), 1 + MANY); /* post done */
    for (int i = 1; i < MANY; i++)
        qr_pentry_unwait(&ws[i]);
    ck_assert_int_eq(atomic_load(&e->refcnt), 2);
    qr_pentry_notify(e); /* nobody waits: nothing posted, nothing kept */
    ck_assert_int_eq(atomic_load(&e->refcnt), 2);
    qr_pentry_release(e);
    qr_partmap_destroy(map);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("partmap");
    TCase *tc = tcase_create("map");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_put_get_take);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_waiters);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
