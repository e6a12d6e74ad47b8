/* check_reassign: the controller's admin decisions, pure (issue 16 item
 * 10): Kafka's admin partition lists (coordinator/partlist.c), each step of
 * a partition reassignment (reassign.c) and the preferred replica election
 * rule (prefelect.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "partlist.h"
#include "prefelect.h"
#include "reassign.h"

/* ---- partlist ---- */

START_TEST(test_partlist_roundtrip)
{
    const char *in = "{\"version\":1,\"partitions\":[{\"topic\":\"a.b\","
                     "\"partition\":3,\"replicas\":[2,3]},{\"topic\":\"c\","
                     "\"partition\":0,\"replicas\":[1]}]}";
    char errstr[256], *out;
    qr_partlist_t pl, pl2;

    ck_assert_int_eq(
        qr_partlist_decode(in, strlen(in), 1, &pl, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(pl.n, 2);
    ck_assert_str_eq(pl.v[0].topic, "a.b");
    ck_assert_int_eq(pl.v[0].partition, 3);
    ck_assert_uint_eq(pl.v[0].replicas.n, 2);
    ck_assert_int_eq(pl.v[0].replicas.ids[1], 3);
    out = qr_partlist_encode(&pl, 1);
    ck_assert_str_eq(out, in);
    free(out);
    /* without replicas (preferred election); "version" may be left out */
    in = "{\"partitions\":[{\"topic\":\"x\",\"partition\":1}]}";
    ck_assert_int_eq(
        qr_partlist_decode(in, strlen(in), 0, &pl2, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(pl2.n, 1);
    ck_assert_uint_eq(pl2.v[0].replicas.n, 0);
    out = qr_partlist_encode(&pl2, 0);
    ck_assert_str_eq(out, "{\"version\":1,\"partitions\":[{\"topic\":\"x\","
                          "\"partition\":1}]}");
    free(out);
    ck_assert_ptr_nonnull(qr_partlist_find(&pl, "c", 0));
    ck_assert_ptr_null(qr_partlist_find(&pl, "c", 1));
    qr_partlist_remove(&pl, 0);
    ck_assert_uint_eq(pl.n, 1);
    ck_assert_str_eq(pl.v[0].topic, "c");
    qr_partlist_free(&pl);
    qr_partlist_free(&pl2);
}
END_TEST

static const struct {
    const char *json, *want;
} bad_lists[] = {
    {"not json", "not JSON"},
    {"[]", "expected {\"version\":1"},
    {"{\"version\":2,\"partitions\":[]}", "expected {\"version\":1"},
    {"{\"partitions\":[{\"topic\":\"t\"}]}", "partitions[0]: expected"},
    {"{\"partitions\":[{\"topic\":\"a/b\",\"partition\":0,\"replicas\":[1]}]}",
     "partitions[0]: topic \"a/b\""},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":-1,\"replicas\":[1]}]}",
     "partition -1 of t out of range"},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},"
     "{\"topic\":\"t\",\"partition\":0,\"replicas\":[2]}]}",
     "partitions[1]: t-0 is listed twice"},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
     "partitions[0]: \"replicas\" must be"},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}",
     "partitions[0]: \"replicas\" must be"},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,1]}]}",
     "partitions[0]: broker 1 is listed twice"},
    {"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[-3]}]}",
     "partitions[0]: replicas[0] is not a broker id"},
};

START_TEST(test_partlist_bad)
{
    char errstr[256] = "";
    qr_partlist_t pl;

    ck_assert_int_eq(qr_partlist_decode(bad_lists[_i].json,
                                        strlen(bad_lists[_i].json), 1, &pl,
                                        errstr, sizeof(errstr)),
                     QUIRE_ERR_BAD_JSON);
    ck_assert_msg(strstr(errstr, bad_lists[_i].want), "%s: got \"%s\"",
                  bad_lists[_i].json, errstr);
    ck_assert_uint_eq(pl.n, 0);
}
END_TEST

/* ---- reassignment steps: [1,2] -> [2,3] ---- */

START_TEST(test_reassign_steps)
{
    int32_t oar[] = {1, 2}, rar_ids[] = {2, 3}, live[] = {1, 2, 3};
    int32_t buf[2 * QR_ASSIGN_MAX_REPLICAS];
    qr_replicas_t ar = {oar, 2}, rar = {rar_ids, 2}, out = {buf, 0};
    qr_pstate_t st = {.leader = 1,
                      .leader_epoch = 4,
                      .isr = {1, 2},
                      .isr_cnt = 2},
                next;
    const char *why;
    int32_t ar2_ids[2 * QR_ASSIGN_MAX_REPLICAS];
    qr_replicas_t ar2 = {ar2_ids, 0};

    /* 1. expand: RAR first, then the old ones */
    ck_assert_int_eq(
        qr_reassign_step(&ar, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_EXPAND);
    ck_assert_uint_eq(out.n, 3);
    ck_assert_int_eq(out.ids[0], 2);
    ck_assert_int_eq(out.ids[1], 3);
    ck_assert_int_eq(out.ids[2], 1);
    ar2.n = out.n;
    memcpy(ar2.ids, out.ids, out.n * sizeof(int32_t));
    /* 2. wait: 3 is not in the ISR yet */
    ck_assert_int_eq(
        qr_reassign_step(&ar2, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_WAIT);
    ck_assert_ptr_nonnull(strstr(why, "ISR"));
    /* 3. 3 joined: shrink; leader 1 is not in RAR: 2 leads, epoch + 1,
     * ISR without 1, assignment RAR */
    st.isr[st.isr_cnt++] = 3;
    ck_assert_int_eq(
        qr_reassign_step(&ar2, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_SHRINK);
    ck_assert_int_eq(next.leader, 2);
    ck_assert_int_eq(next.leader_epoch, 5);
    ck_assert_uint_eq(next.isr_cnt, 2);
    ck_assert_int_eq(next.isr[0], 2);
    ck_assert_int_eq(next.isr[1], 3);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_int_eq(out.ids[0], 2);
    ck_assert_int_eq(out.ids[1], 3);
    /* 4. done */
    ck_assert_int_eq(
        qr_reassign_step(&rar, &rar, &next, live, 3, &out, &next, &why),
        QR_REASSIGN_DONE);
}
END_TEST

START_TEST(test_reassign_edges)
{
    int32_t oar[] = {1, 2, 3}, rar_ids[] = {1, 2}, to4[] = {4, 1},
            live[] = {1, 2, 3};
    int32_t buf[2 * QR_ASSIGN_MAX_REPLICAS];
    qr_replicas_t ar = {oar, 3}, rar = {rar_ids, 2}, r4 = {to4, 2},
                  out = {buf, 0};
    qr_pstate_t st = {.leader = 3,
                      .leader_epoch = 0,
                      .isr = {3, 1, 2},
                      .isr_cnt = 3},
                next;
    const char *why;

    /* shrinking only: straight to the shrink step; the leader 3 goes */
    ck_assert_int_eq(
        qr_reassign_step(&ar, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_SHRINK);
    ck_assert_int_eq(next.leader, 1);
    ck_assert_uint_eq(next.isr_cnt, 2);
    /* the leader stays when it is kept */
    st.leader = 2;
    ck_assert_int_eq(
        qr_reassign_step(&ar, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_SHRINK);
    ck_assert_int_eq(next.leader, 2);
    /* no leader: wait */
    st.leader = -1;
    ck_assert_int_eq(
        qr_reassign_step(&ar, &rar, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_WAIT);
    ck_assert_int_eq(
        qr_reassign_step(&ar, &rar, NULL, live, 3, &out, &next, &why),
        QR_REASSIGN_WAIT);
    /* a new replica that is not live: refused before it starts */
    st.leader = 1;
    ck_assert_int_eq(
        qr_reassign_step(&ar, &r4, &st, live, 3, &out, &next, &why),
        QR_REASSIGN_REFUSE);
    ck_assert_ptr_nonnull(strstr(why, "not a live broker"));
}
END_TEST

/* ---- preferred replica election ---- */

START_TEST(test_prefelect_decide)
{
    int32_t ids[] = {1, 2, 3}, all[] = {1, 2, 3}, no1[] = {2, 3};
    qr_replicas_t r = {ids, 3};
    qr_pstate_t cur = {.leader = 2,
                       .leader_epoch = 7,
                       .isr = {2, 3, 1},
                       .isr_cnt = 3},
                out;
    const char *why;

    ck_assert_int_eq(qr_prefelect_decide(&r, all, 3, &cur, &out, &why), 1);
    ck_assert_int_eq(out.leader, 1);
    ck_assert_int_eq(out.leader_epoch, 8);
    ck_assert_uint_eq(out.isr_cnt, 3);
    /* not live */
    ck_assert_int_eq(qr_prefelect_decide(&r, no1, 2, &cur, &out, &why), 0);
    ck_assert_str_eq(why, "the preferred replica is not live");
    /* not in the ISR */
    cur.isr_cnt = 2;
    ck_assert_int_eq(qr_prefelect_decide(&r, all, 3, &cur, &out, &why), 0);
    ck_assert_str_eq(why, "the preferred replica is not in the ISR");
    /* leads already */
    cur.leader = 1;
    ck_assert_int_eq(qr_prefelect_decide(&r, all, 3, &cur, &out, &why), 0);
    ck_assert_int_eq(qr_prefelect_decide(&r, all, 3, NULL, &out, &why), 0);
}
END_TEST

static Suite *reassign_suite(void)
{
    Suite *s = suite_create("reassign");
    TCase *tc = tcase_create("partlist");

    tcase_add_test(tc, test_partlist_roundtrip);
    tcase_add_loop_test(tc, test_partlist_bad, 0,
                        (int)(sizeof(bad_lists) / sizeof(bad_lists[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("steps");
    tcase_add_test(tc, test_reassign_steps);
    tcase_add_test(tc, test_reassign_edges);
    tcase_add_test(tc, test_prefelect_decide);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reassign_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
