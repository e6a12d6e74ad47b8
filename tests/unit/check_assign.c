/* check_assign: Kafka's replica placement and the controller's leader
 * election rule (coordinator/assign.c), and topic-creation checks made
 * before anything is written (coordinator/admin.c's plan). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "assign.h"

/* Kafka's own example (AdminUtils.assignReplicasToBrokers): 5 brokers,
 * 10 partitions, 3 replicas, start index 0, shift 0. */
START_TEST(test_kafka_example)
{
    static const int32_t want[10][3] = {
        {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
        {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
    };
    int32_t brokers[] = {3, 1, 4, 0, 2}; /* any order */
    char errstr[128];
    qr_assign_t a;

    ck_assert_int_eq(qr_assign_compute(brokers, 5, 0, 10, 3, 0, 0, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(a.part_cnt, 10);
    for (int p = 0; p < 10; p++) {
        ck_assert_uint_eq(a.parts[p].n, 3);
        for (int j = 0; j < 3; j++)
            ck_assert_msg(a.parts[p].ids[j] == want[p][j], "p%d r%d: %d != %d",
                          p, j, a.parts[p].ids[j], want[p][j]);
    }
    qr_assign_free(&a);
}
END_TEST

/* Adding partitions continues the placement as if computed at once. */
START_TEST(test_continue)
{
    int32_t brokers[] = {10, 20, 30, 40, 50};
    char errstr[128];
    qr_assign_t all, head, tail;

    ck_assert_int_eq(qr_assign_compute(brokers, 5, 0, 5, 2, 2, 1, &all, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_assign_compute(brokers, 5, 0, 3, 2, 2, 1, &head, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_assign_compute(brokers, 5, 3, 2, 2, 2, 1, &tail, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_NONE);
    qr_assign_append(&head, &tail);
    ck_assert_uint_eq(head.part_cnt, 5);
    ck_assert_uint_eq(tail.part_cnt, 0);
    for (int p = 0; p < 5; p++)
        ck_assert_mem_eq(head.parts[p].ids, all.parts[p].ids,
                         2 * sizeof(int32_t));
    qr_assign_free(&all);
    qr_assign_free(&head);
}
END_TEST

START_TEST(test_balance)
{
    int32_t brokers[] = {1, 2, 3}, count[4] = {0};
    char errstr[128];
    qr_assign_t a;

    ck_assert_int_eq(qr_assign_compute(brokers, 3, 0, 1000, 1, 7, 9, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_NONE);
    for (size_t p = 0; p < a.part_cnt; p++) {
        ck_assert_uint_eq(a.parts[p].n, 1);
        count[a.parts[p].ids[0]]++;
    }
    for (int b = 1; b <= 3; b++)
        ck_assert(count[b] == 333 || count[b] == 334);
    /* start index 7 mod 3 == 1: partition 0 on the second broker */
    ck_assert_int_eq(a.parts[0].ids[0], 2);
    qr_assign_free(&a);
    /* distinct replicas in every partition */
    int32_t five[] = {1, 2, 3, 4, 5};
    ck_assert_int_eq(
        qr_assign_compute(five, 5, 0, 50, 5, 3, 2, &a, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (size_t p = 0; p < a.part_cnt; p++)
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++)
                ck_assert_int_ne(a.parts[p].ids[i], a.parts[p].ids[j]);
    qr_assign_free(&a);
}
END_TEST

START_TEST(test_refused)
{
    int32_t brokers[] = {1, 2};
    char errstr[128];
    qr_assign_t a;

    ck_assert_int_eq(qr_assign_compute(brokers, 2, 0, 4, 3, 0, 0, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_INVALID_REPLICATION_FACTOR);
    ck_assert_ptr_nonnull(strstr(errstr, "3"));
    ck_assert_ptr_nonnull(strstr(errstr, "2 live brokers"));
    ck_assert_int_eq(qr_assign_compute(brokers, 2, 0, 0, 1, 0, 0, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_INVALID_PARTITIONS);
    ck_assert_int_eq(qr_assign_compute(brokers, 2, 0, 4, 0, 0, 0, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_INVALID_REPLICATION_FACTOR);
    ck_assert_int_eq(qr_assign_compute(brokers, 0, 0, 4, 1, 0, 0, &a, errstr,
                                       sizeof(errstr)),
                     QUIRE_ERR_BROKER_NOT_AVAILABLE);
    ck_assert_int_eq(qr_assign_compute(brokers, 2, 0,
                                       QR_ASSIGN_MAX_PARTITIONS + 1, 1, 0, 0,
                                       &a, errstr, sizeof(errstr)),
                     QUIRE_ERR_INVALID_PARTITIONS);
}
END_TEST

/* ---- the plan of a topic creation: checks before any write ---- */

static const struct {
    const char *topic;
    int32_t partitions, rf;
    const char *cfg_key, *cfg_val;
    quire_err_t want;
} plans[] = {
    {"../x", 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {"a/b", 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {"", 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {".", 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {"..", 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    {NULL, 1, 1, NULL, NULL, QUIRE_ERR_INVALID_TOPIC_EXCEPTION}, /* 250 */
    {"ok", 0, 1, NULL, NULL, QUIRE_ERR_INVALID_PARTITIONS},
    {"ok", -3, 1, NULL, NULL, QUIRE_ERR_INVALID_PARTITIONS},
    {"ok", 1, 0, NULL, NULL, QUIRE_ERR_INVALID_REPLICATION_FACTOR},
    {"ok", 1, 4, NULL, NULL, QUIRE_ERR_INVALID_REPLICATION_FACTOR},
    {"ok", 6, 3, NULL, NULL, QUIRE_ERR_NONE},
    {"ok", 1, 1, "retention.ms", "soon", QUIRE_ERR_INVALID_CONFIG},
    {"ok", 1, 1, "bogus", "1", QUIRE_ERR_INVALID_CONFIG},
    {"ok", 4, 1, "retention.ms", "60000", QUIRE_ERR_NONE},
};

START_TEST(test_plan)
{
    int32_t live[] = {1, 2, 3};
    char errstr[256] = "", longname[251];
    qr_topic_config_t cfg = {0};
    qr_zk_multi_t *m = (qr_zk_multi_t *)1;
    const char *topic = plans[_i].topic;
    quire_err_t err;

    if (!topic) {
        memset(longname, 'x', 250);
        longname[250] = '\0';
        topic = longname;
    }
    if (plans[_i].cfg_key)
        qr_topic_config_set(&cfg, plans[_i].cfg_key, plans[_i].cfg_val);
    err = qr_admin_plan_create(topic, plans[_i].partitions, plans[_i].rf, &cfg,
                               live, 3, 0, 0, &m, errstr, sizeof(errstr));
    ck_assert_int_eq(err, plans[_i].want);
    if (err) {
        ck_assert_ptr_null(m);
        ck_assert(errstr[0] != '\0');
    } else {
        ck_assert_int_eq(qr_zk_multi_count(m), 2);
        qr_zk_multi_destroy(m);
    }
    qr_topic_config_free(&cfg);
}
END_TEST

/* Kafka's distribution properties with replication: over many start
 * indexes and shifts, every broker leads the same number of partitions
 * (to one), holds the same number of replicas (to one), and no partition
 * has two replicas on one broker. */
START_TEST(test_distribution_rf3)
{
    int32_t brokers[] = {11, 12, 13, 14, 15, 16};
    char errstr[128];
    qr_assign_t a;

    for (uint32_t start = 0; start < 6; start++)
        for (uint32_t shift = 0; shift < 5; shift++) {
            int lead[6] = {0}, held[6] = {0};
            ck_assert_int_eq(qr_assign_compute(brokers, 6, 0, 36, 3, start,
                                               shift, &a, errstr,
                                               sizeof(errstr)),
                             QUIRE_ERR_NONE);
            for (size_t p = 0; p < a.part_cnt; p++) {
                ck_assert_uint_eq(a.parts[p].n, 3);
                lead[a.parts[p].ids[0] - 11]++;
                for (int i = 0; i < 3; i++) {
                    held[a.parts[p].ids[i] - 11]++;
                    for (int j = i + 1; j < 3; j++)
                        ck_assert_int_ne(a.parts[p].ids[i], a.parts[p].ids[j]);
                }
            }
            for (int b = 0; b < 6; b++) {
                ck_assert_int_eq(lead[b], 6);
                ck_assert_int_eq(held[b], 18);
            }
            qr_assign_free(&a);
        }
}
END_TEST

/* --replica-assignment: the accepted form, and each refusal naming the
 * partition and the broker id. */
static const struct {
    const char *spec, *want; /* want: a substring of the error, NULL: ok */
} specs[] = {
    {"1:2:3,2:3:1,3:1:2", NULL},
    {"1", NULL},
    {"3:1,1:2", NULL},
    {"1:2:3,2:9:1", "partition 1: broker 9 is not a live broker"},
    {"1:2,2:2", "partition 1: broker 2 is listed twice"},
    {"1:2,2:3:1", "partition 1 has 3 replicas, partition 0 has 2"},
    {"1:2,3", "partition 1 has 1 replicas, partition 0 has 2"},
    {"", "partition 0: expected a broker id"},
    {"1:,2", "partition 0: expected a broker id"},
    {"1:2,", "partition 1: expected a broker id"},
    {"a:b", "partition 0: expected a broker id"},
    {"1:-2", "partition 0: expected a broker id"},
    {"1;2", "partition 0: unexpected \";2\""},
    {"99999999999", "partition 0: broker id 99999999999 out of range"},
};

START_TEST(test_parse_assignment)
{
    int32_t live[] = {1, 2, 3};
    char errstr[256] = "";
    qr_assign_t a;
    quire_err_t err;

    err = qr_admin_parse_assignment(specs[_i].spec, live, 3, &a, errstr,
                                    sizeof(errstr));
    if (!specs[_i].want) {
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        ck_assert_uint_ge(a.part_cnt, 1);
        qr_assign_free(&a);
        return;
    }
    ck_assert_int_eq(err, QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT);
    ck_assert_msg(strstr(errstr, specs[_i].want), "\"%s\": got \"%s\"",
                  specs[_i].spec, errstr);
    ck_assert_ptr_null(a.parts);
}
END_TEST

START_TEST(test_parse_assignment_values)
{
    char errstr[256];
    qr_assign_t a;

    /* syntax only (no live list): any id */
    ck_assert_int_eq(qr_admin_parse_assignment("7:5,5:7", NULL, 0, &a, errstr,
                                               sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(a.part_cnt, 2);
    ck_assert_int_eq(a.parts[0].ids[0], 7);
    ck_assert_int_eq(a.parts[0].ids[1], 5);
    ck_assert_int_eq(a.parts[1].ids[0], 5);
    qr_assign_free(&a);
}
END_TEST

START_TEST(test_placement_env)
{
    uint32_t start, shift;

    setenv(QR_ADMIN_PLACEMENT_ENV, "4:7", 1);
    ck_assert_int_eq(qr_admin_placement_draws(&start, &shift), 1);
    ck_assert_uint_eq(start, 4);
    ck_assert_uint_eq(shift, 7);
    setenv(QR_ADMIN_PLACEMENT_ENV, "4", 1); /* malformed: random */
    ck_assert_int_eq(qr_admin_placement_draws(&start, &shift), 0);
    unsetenv(QR_ADMIN_PLACEMENT_ENV);
    ck_assert_int_eq(qr_admin_placement_draws(&start, &shift), 0);
}
END_TEST

/* ---- leader election ---- */

/* The election inputs: live brokers, those in controlled shutdown. */
static qr_elect_in_t in_of(const int32_t *live, size_t nlive,
                           const int32_t *shutting, size_t nshutting,
                           int unclean)
{
    qr_elect_in_t in = {live, nlive, shutting, nshutting, unclean};
    return in;
}

static void assert_isr(const qr_pstate_t *st, const int32_t *want, size_t n)
{
    ck_assert_uint_eq(st->isr_cnt, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(st->isr[i], want[i]);
}

START_TEST(test_elect_new)
{
    int32_t ids[] = {2, 3}, live[] = {3}, both[] = {2, 3}, two[] = {2};
    qr_replicas_t r = {ids, 2};
    qr_elect_in_t in = in_of(live, 1, NULL, 0, 0);
    qr_pstate_t out;

    ck_assert_int_eq(qr_assign_elect(&r, &in, NULL, &out), QR_ELECT_NEW);
    ck_assert_int_eq(out.leader, 3);
    ck_assert_int_eq(out.leader_epoch, 0);
    ck_assert_uint_eq(out.isr_cnt, 1);
    /* a broker stopping does not take a new partition */
    in = in_of(both, 2, two, 1, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &in, NULL, &out), QR_ELECT_NEW);
    ck_assert_int_eq(out.leader, 3);
    assert_isr(&out, live, 1);
    /* no live replica: no state yet */
    in = in_of(NULL, 0, NULL, 0, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &in, NULL, &out), QR_ELECT_NONE);
}
END_TEST

START_TEST(test_elect_rf1)
{
    int32_t ids[] = {5}, live[] = {5, 6};
    qr_replicas_t r = {ids, 1};
    qr_pstate_t cur = {.leader = 5,
                       .leader_epoch = 4,
                       .isr = {5},
                       .isr_cnt = 1},
                out, back;
    qr_elect_in_t all = in_of(live, 2, NULL, 0, 0);
    qr_elect_in_t no5 = in_of(live + 1, 1, NULL, 0, 0);

    /* unchanged */
    ck_assert_int_eq(qr_assign_elect(&r, &all, &cur, &out), QR_ELECT_NONE);
    /* the broker dies: -1, the ISR keeps the last member, epoch + 1 */
    ck_assert_int_eq(qr_assign_elect(&r, &no5, &cur, &out), QR_ELECT_OFFLINE);
    ck_assert_int_eq(out.leader, -1);
    ck_assert_int_eq(out.leader_epoch, 5);
    assert_isr(&out, ids, 1);
    /* it returns: leader again (it is the ISR) */
    ck_assert_int_eq(qr_assign_elect(&r, &all, &out, &back), QR_ELECT_CLEAN);
    ck_assert_int_eq(back.leader, 5);
    ck_assert_int_eq(back.leader_epoch, 6);
    /* still dead: nothing to write */
    ck_assert_int_eq(qr_assign_elect(&r, &no5, &out, &back), QR_ELECT_NONE);
    /* in controlled shutdown with nowhere to go: it keeps leading */
    qr_elect_in_t stop = in_of(live, 2, ids, 1, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &stop, &cur, &out), QR_ELECT_NONE);
}
END_TEST

/* The leader dies: the first live replica IN REPLICA ORDER that is in the
 * ISR leads, the ISR loses the dead, the epoch goes up by one; a broker
 * that returns outside the ISR is not made leader, and leadership does not
 * move back by itself when it rejoins the ISR (preferred election's job). */
START_TEST(test_elect_failover)
{
    int32_t ids[] = {1, 2, 3}, all[] = {1, 2, 3}, no1[] = {2, 3};
    int32_t isr32[] = {3, 2}, isr2[] = {2}, isr21[] = {2, 1};
    qr_replicas_t r = {ids, 3};
    qr_pstate_t cur = {.leader = 1,
                       .leader_epoch = 7,
                       .controller_epoch = 3,
                       .isr = {1, 3, 2},
                       .isr_cnt = 3},
                out, out2;
    qr_elect_in_t in_all = in_of(all, 3, NULL, 0, 0);
    qr_elect_in_t in_no1 = in_of(no1, 2, NULL, 0, 0);

    ck_assert_int_eq(qr_assign_elect(&r, &in_no1, &cur, &out), QR_ELECT_CLEAN);
    ck_assert_int_eq(out.leader, 2); /* replica order, not ISR order (3) */
    ck_assert_int_eq(out.leader_epoch, 8);
    ck_assert_int_eq(out.controller_epoch, 3); /* the caller sets its own */
    assert_isr(&out, isr32, 2);
    /* broker 1 returns outside the ISR: nothing changes */
    ck_assert_int_eq(qr_assign_elect(&r, &in_all, &out, &out2), QR_ELECT_NONE);
    /* the leader added it back to the ISR: still nothing */
    out.isr[out.isr_cnt++] = 1;
    ck_assert_int_eq(qr_assign_elect(&r, &in_all, &out, &out2), QR_ELECT_NONE);
    /* a follower dies: it leaves the ISR, same leader, epoch + 1 */
    qr_pstate_t two = {
        .leader = 2, .leader_epoch = 9, .isr = {2, 3}, .isr_cnt = 2};
    int32_t no3[] = {1, 2};
    qr_elect_in_t in_no3 = in_of(no3, 2, NULL, 0, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &in_no3, &two, &out2), QR_ELECT_ISR);
    ck_assert_int_eq(out2.leader, 2);
    ck_assert_int_eq(out2.leader_epoch, 10);
    assert_isr(&out2, isr2, 1);
    /* a leader outside its own ISR (hand-written state) is put back in */
    qr_pstate_t odd = {.leader = 2, .isr = {1}, .isr_cnt = 1};
    ck_assert_int_eq(qr_assign_elect(&r, &in_all, &odd, &out2), QR_ELECT_ISR);
    assert_isr(&out2, isr21, 2);
}
END_TEST

/* No live ISR member: offline with the ISR kept (unclean off), or the
 * first live replica alone (unclean on). */
START_TEST(test_elect_unclean)
{
    int32_t ids[] = {1, 2, 3}, all[] = {1, 2, 3}, only3[] = {3}, one[] = {1};
    int32_t three[] = {3}, isr12[] = {1, 2};
    qr_replicas_t r = {ids, 3};
    qr_pstate_t cur = {.leader = 1,
                       .leader_epoch = 2,
                       .isr = {1, 2},
                       .isr_cnt = 2},
                out, out2;
    qr_elect_in_t clean = in_of(only3, 1, NULL, 0, 0);
    qr_elect_in_t unclean = in_of(only3, 1, NULL, 0, 1);

    ck_assert_int_eq(qr_assign_elect(&r, &clean, &cur, &out), QR_ELECT_OFFLINE);
    ck_assert_int_eq(out.leader, -1);
    ck_assert_int_eq(out.leader_epoch, 3);
    assert_isr(&out, isr12, 2);
    /* stays so: nothing more to write */
    ck_assert_int_eq(qr_assign_elect(&r, &clean, &out, &out2), QR_ELECT_NONE);
    /* an ISR member returns: it leads, the ISR is what lives of it */
    qr_elect_in_t back1 = in_of(one, 1, NULL, 0, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &back1, &out, &out2), QR_ELECT_CLEAN);
    ck_assert_int_eq(out2.leader, 1);
    ck_assert_int_eq(out2.leader_epoch, 4);
    assert_isr(&out2, one, 1);
    /* unclean on: the live replica outside the ISR leads alone */
    ck_assert_int_eq(qr_assign_elect(&r, &unclean, &cur, &out),
                     QR_ELECT_UNCLEAN);
    ck_assert_int_eq(out.leader, 3);
    ck_assert_int_eq(out.leader_epoch, 3);
    assert_isr(&out, three, 1);
    /* ... also from an offline state, once it is switched on */
    ck_assert_int_eq(qr_assign_elect(&r, &clean, &cur, &out), QR_ELECT_OFFLINE);
    ck_assert_int_eq(qr_assign_elect(&r, &unclean, &out, &out2),
                     QR_ELECT_UNCLEAN);
    ck_assert_int_eq(out2.leader, 3);
    /* nobody alive at all: offline whatever the setting */
    qr_elect_in_t none = in_of(NULL, 0, NULL, 0, 1);
    ck_assert_int_eq(qr_assign_elect(&r, &none, &cur, &out), QR_ELECT_OFFLINE);
    (void)all;
}
END_TEST

/* Controlled shutdown: a stopping leader hands over to the next ISR member
 * in replica order; a stopping follower leaves the ISR; a stopping leader
 * with no other ISR member stays; a dead leader's only live ISR member
 * leads even while stopping (clean, better than offline). */
START_TEST(test_elect_controlled_shutdown)
{
    int32_t ids[] = {1, 2, 3}, all[] = {1, 2, 3}, s1[] = {1}, s2[] = {2};
    int32_t isr23[] = {2, 3}, isr13[] = {1, 3}, no3[] = {1, 2};
    qr_replicas_t r = {ids, 3};
    qr_pstate_t cur = {.leader = 1,
                       .leader_epoch = 5,
                       .isr = {1, 2, 3},
                       .isr_cnt = 3},
                out;
    qr_elect_in_t stop1 = in_of(all, 3, s1, 1, 0);
    qr_elect_in_t stop2 = in_of(all, 3, s2, 1, 0);

    ck_assert_int_eq(qr_assign_elect(&r, &stop1, &cur, &out), QR_ELECT_MOVED);
    ck_assert_int_eq(out.leader, 2);
    ck_assert_int_eq(out.leader_epoch, 6);
    assert_isr(&out, isr23, 2);
    ck_assert_int_eq(qr_assign_elect(&r, &stop2, &cur, &out), QR_ELECT_ISR);
    ck_assert_int_eq(out.leader, 1);
    assert_isr(&out, isr13, 2);
    /* alone in the ISR: stays leader, nothing written */
    qr_pstate_t alone = {
        .leader = 1, .leader_epoch = 5, .isr = {1}, .isr_cnt = 1};
    ck_assert_int_eq(qr_assign_elect(&r, &stop1, &alone, &out), QR_ELECT_NONE);
    /* leader 3 died; 2 is the only live ISR member and is stopping */
    qr_pstate_t l3 = {
        .leader = 3, .leader_epoch = 5, .isr = {3, 2}, .isr_cnt = 2};
    qr_elect_in_t dead3 = in_of(no3, 2, s2, 1, 0);
    ck_assert_int_eq(qr_assign_elect(&r, &dead3, &l3, &out), QR_ELECT_CLEAN);
    ck_assert_int_eq(out.leader, 2);
    assert_isr(&out, s2, 1);
}
END_TEST

static Suite *assign_suite(void)
{
    Suite *s = suite_create("assign");
    TCase *tc = tcase_create("placement");

    tcase_add_test(tc, test_kafka_example);
    tcase_add_test(tc, test_continue);
    tcase_add_test(tc, test_balance);
    tcase_add_test(tc, test_refused);
    tcase_add_loop_test(tc, test_plan, 0,
                        (int)(sizeof(plans) / sizeof(plans[0])));
    tcase_add_test(tc, test_distribution_rf3);
    tcase_add_loop_test(tc, test_parse_assignment, 0,
                        (int)(sizeof(specs) / sizeof(specs[0])));
    tcase_add_test(tc, test_parse_assignment_values);
    tcase_add_test(tc, test_placement_env);
    suite_add_tcase(s, tc);
    tc = tcase_create("elect");
    tcase_add_test(tc, test_elect_new);
    tcase_add_test(tc, test_elect_rf1);
    tcase_add_test(tc, test_elect_failover);
    tcase_add_test(tc, test_elect_unclean);
    tcase_add_test(tc, test_elect_controlled_shutdown);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(assign_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
