/*
 * check_kgroupcoord: Kafka's group coordinator state machine
 * (coordinator/kgroupcoord.h), driven directly with a fake clock: join,
 * sync, heartbeat, leave, session expiry, the rebalance timeout, the
 * initial delay, MEMBER_ID_REQUIRED, and every error a member can meet.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kgroupcoord.h"

#define SESSION   10000
#define REBALANCE 20000

/* ---- recorders for the callbacks ---- */

typedef struct jrec {
    int called;
    quire_err_t err;
    int32_t gen;
    char member_id[128], leader[128], protocol[32];
    size_t nmembers;
    char members[4][128];
} jrec_t;

static void on_join(void *arg, const qr_kgc_join_res_t *res)
{
    jrec_t *j = arg;
    j->called++;
    j->err = res->error_code;
    j->gen = res->generation_id;
    snprintf(j->member_id, sizeof(j->member_id), "%s", res->member_id);
    snprintf(j->leader, sizeof(j->leader), "%s", res->leader_id);
    snprintf(j->protocol, sizeof(j->protocol), "%s", res->protocol_name);
    j->nmembers = res->member_count;
    for (size_t i = 0; i < res->member_count && i < 4; i++) {
        snprintf(j->members[i], sizeof(j->members[i]), "%s",
                 res->members[i].member_id);
        /* the metadata of the chosen protocol: "<protocol>-meta" */
        char want[64];
        snprintf(want, sizeof(want), "%s-meta", res->protocol_name);
        ck_assert_uint_eq(res->members[i].metadata_len, strlen(want));
        ck_assert(!memcmp(res->members[i].metadata, want, strlen(want)));
    }
}

typedef struct srec {
    int called;
    quire_err_t err;
    char assignment[64];
} srec_t;

static void on_sync(void *arg, quire_err_t err, const uint8_t *a, size_t len)
{
    srec_t *s = arg;
    s->called++;
    s->err = err;
    ck_assert_uint_lt(len, sizeof(s->assignment));
    memcpy(s->assignment, a ? (const char *)a : "", len);
    s->assignment[len] = '\0';
}

/* ---- helpers ---- */

static qr_kgc_t *kgc_make(int32_t delay)
{
    qr_kgc_conf_t conf = {.min_session_timeout_ms = 6000,
                          .max_session_timeout_ms = 300000,
                          .initial_rebalance_delay_ms = delay,
                          .member_id_seed = 0xabc};
    return qr_kgc_new(&conf);
}

static const qr_kgc_protocol_t range_rr[] = {
    {"range", (const uint8_t *)"range-meta", 10},
    {"roundrobin", (const uint8_t *)"roundrobin-meta", 15}};
static const qr_kgc_protocol_t rr_only[] = {
    {"roundrobin", (const uint8_t *)"roundrobin-meta", 15}};
static const qr_kgc_protocol_t sticky_only[] = {
    {"sticky", (const uint8_t *)"sticky-meta", 11}};

static qr_kgc_join_req_t jreq(const char *member_id)
{
    return (qr_kgc_join_req_t){.group_id = "g",
                               .member_id = member_id,
                               .client_id = "c",
                               .client_host = "/127.0.0.1",
                               .session_timeout_ms = SESSION,
                               .rebalance_timeout_ms = REBALANCE,
                               .protocol_type = "consumer",
                               .protocol_count = 2,
                               .protocols = range_rr};
}

static void join(qr_kgc_t *kgc, const char *member_id, int64_t now, jrec_t *j)
{
    memset(j, 0, sizeof(*j));
    qr_kgc_join_req_t r = jreq(member_id);
    qr_kgc_join(kgc, &r, now, on_join, j);
}

static void sync_inst(qr_kgc_t *kgc, const char *member_id, const char *inst,
                      int32_t gen, const qr_kgc_assignment_t *as, size_t n,
                      int64_t now, srec_t *s)
{
    memset(s, 0, sizeof(*s));
    qr_kgc_sync_req_t r = {.group_id = "g",
                           .generation_id = gen,
                           .member_id = member_id,
                           .group_instance_id = inst,
                           .assignment_count = n,
                           .assignments = as};
    qr_kgc_sync(kgc, &r, now, on_sync, s);
}

static void sync_(qr_kgc_t *kgc, const char *member_id, int32_t gen,
                  const qr_kgc_assignment_t *as, size_t n, int64_t now,
                  srec_t *s)
{
    sync_inst(kgc, member_id, NULL, gen, as, n, now, s);
}

/* A group of two stable members a (leader) and b at generation 2, at
 * time 0; returns their ids. */
static qr_kgc_t *two_stable(char *a, char *b)
{
    qr_kgc_t *kgc = kgc_make(0);
    jrec_t ja, jb, ja2;
    srec_t sa, sb;
    join(kgc, "", 0, &ja);
    ck_assert_int_eq(ja.called, 1);
    ck_assert_int_eq(ja.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(ja.gen, 1);
    strcpy(a, ja.member_id);
    ck_assert_str_eq(ja.leader, a);
    ck_assert_uint_eq(ja.nmembers, 1);
    qr_kgc_assignment_t as1[] = {{a, (const uint8_t *)"all", 3}};
    sync_(kgc, a, 1, as1, 1, 0, &sa);
    ck_assert_int_eq(sa.called, 1);
    ck_assert_str_eq(sa.assignment, "all");
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 1, 0), QUIRE_ERR_NONE);

    join(kgc, "", 0, &jb); /* waits for a to rejoin */
    ck_assert_int_eq(jb.called, 0);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 1, 0),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    join(kgc, a, 0, &ja2);
    ck_assert_int_eq(ja2.called, 1);
    ck_assert_int_eq(jb.called, 1);
    ck_assert_int_eq(ja2.gen, 2);
    ck_assert_int_eq(jb.gen, 2);
    strcpy(b, jb.member_id);
    ck_assert_str_ne(a, b);
    ck_assert_str_eq(ja2.leader, a);
    ck_assert_str_eq(jb.leader, a);
    ck_assert_uint_eq(ja2.nmembers, 2); /* the leader sees everyone */
    ck_assert_uint_eq(jb.nmembers, 0);
    ck_assert_str_eq(ja2.protocol, "range");

    sync_(kgc, b, 2, NULL, 0, 0, &sb); /* b first: waits for the leader */
    ck_assert_int_eq(sb.called, 0);
    qr_kgc_assignment_t as2[] = {{a, (const uint8_t *)"p0", 2},
                                 {b, (const uint8_t *)"p1", 2}};
    sync_(kgc, a, 2, as2, 2, 0, &sa);
    ck_assert_int_eq(sa.called, 1);
    ck_assert_int_eq(sb.called, 1);
    ck_assert_int_eq(sb.err, QUIRE_ERR_NONE);
    ck_assert_str_eq(sa.assignment, "p0");
    ck_assert_str_eq(sb.assignment, "p1");
    return kgc;
}

/* ---- tests ---- */

START_TEST(test_join_sync_stable)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 2, 1), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, 1), QUIRE_ERR_NONE);

    /* Stable: a follower rejoining with the same protocols gets the
     * generation back without a rebalance; a sync gets its share again */
    jrec_t j;
    join(kgc, b, 2, &j);
    ck_assert_int_eq(j.called, 1);
    ck_assert_int_eq(j.gen, 2);
    srec_t s;
    sync_(kgc, b, 2, NULL, 0, 2, &s);
    ck_assert_int_eq(s.called, 1);
    ck_assert_str_eq(s.assignment, "p1");

    qr_kgc_desc_t d;
    qr_kgc_describe(kgc, "g", &d);
    ck_assert_str_eq(d.state, "Stable");
    ck_assert_str_eq(d.protocol_type, "consumer");
    ck_assert_str_eq(d.protocol, "range");
    ck_assert_uint_eq(d.member_count, 2);
    ck_assert_str_eq(d.members[0].member_id, a);
    ck_assert_str_eq(d.members[0].client_host, "/127.0.0.1");
    ck_assert_uint_eq(d.members[1].assignment_len, 2);
    ck_assert(!memcmp(d.members[1].metadata, "range-meta", 10));
    qr_kgc_describe(kgc, "nope", &d);
    ck_assert_str_eq(d.state, "Dead");
    ck_assert_uint_eq(d.member_count, 0);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_leave)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", b, NULL, 5), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", b, NULL, 5),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_leave(kgc, "other", b, NULL, 5),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, 5),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    /* a rebalances alone: all partitions are its own */
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 2, 5),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    jrec_t j;
    join(kgc, a, 6, &j);
    ck_assert_int_eq(j.called, 1);
    ck_assert_int_eq(j.gen, 3);
    ck_assert_uint_eq(j.nmembers, 1);
    /* the last one leaves: the group is gone */
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", a, NULL, 7), QUIRE_ERR_NONE);
    ck_assert(!qr_kgc_has_group(kgc, "g"));
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_leave_while_joining)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    jrec_t ja, jc;
    join(kgc, "", 10, &jc); /* c: rebalance */
    join(kgc, a, 10, &ja);
    ck_assert_int_eq(ja.called, 0);
    /* b leaves instead of rejoining: the join phase completes at once */
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", b, NULL, 11), QUIRE_ERR_NONE);
    ck_assert_int_eq(ja.called, 1);
    ck_assert_int_eq(jc.called, 1);
    ck_assert_int_eq(ja.gen, 3);
    ck_assert_uint_eq(ja.nmembers, 2);
    /* a member leaving while its join waits gets UNKNOWN_MEMBER_ID */
    jrec_t jd;
    join(kgc, "", 12, &jd);
    ck_assert_int_eq(jd.called, 0);
    qr_kgc_desc_t d;
    qr_kgc_describe(kgc, "g", &d);
    ck_assert_str_eq(d.state, "PreparingRebalance");
    ck_assert_str_eq(d.protocol, "");
    ck_assert_str_eq(d.members[2].member_id, "c-0000000000000abc-4");
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", d.members[2].member_id, NULL, 13),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(jd.called, 1);
    ck_assert_int_eq(jd.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_session_expiry)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    ck_assert_int_eq(qr_kgc_next_deadline(kgc), SESSION);
    qr_kgc_tick(kgc, SESSION - 1);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 2, SESSION - 1),
                     QUIRE_ERR_NONE);
    /* b sent nothing for a session timeout: removed, a must rejoin */
    ck_assert_int_eq(qr_kgc_next_deadline(kgc), SESSION);
    qr_kgc_tick(kgc, SESSION);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, SESSION),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 2, SESSION),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    jrec_t j;
    join(kgc, a, SESSION + 1, &j);
    ck_assert_int_eq(j.gen, 3);
    ck_assert_uint_eq(j.nmembers, 1);
    /* a member waiting in SyncGroup is not expired; after the sync it is */
    srec_t s;
    qr_kgc_assignment_t as[] = {{a, (const uint8_t *)"x", 1}};
    ck_assert_int_eq(qr_kgc_next_deadline(kgc), 2 * SESSION + 1);
    sync_(kgc, a, 3, as, 1, 2 * SESSION, &s);
    ck_assert_int_eq(s.called, 1);
    qr_kgc_tick(kgc, 3 * SESSION);
    ck_assert(!qr_kgc_has_group(kgc, "g"));
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_rebalance_timeout)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    jrec_t ja, jc;
    join(kgc, "", 100, &jc);
    join(kgc, a, 200, &ja);
    ck_assert_int_eq(ja.called, 0);
    /* b heartbeats (so its session holds) but never rejoins */
    for (int64_t t = 5000; t < 100 + REBALANCE; t += 5000)
        ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, t),
                         QUIRE_ERR_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(qr_kgc_next_deadline(kgc), 100 + REBALANCE);
    qr_kgc_tick(kgc, 100 + REBALANCE - 1);
    ck_assert_int_eq(ja.called, 0);
    qr_kgc_tick(kgc, 100 + REBALANCE);
    ck_assert_int_eq(ja.called, 1);
    ck_assert_int_eq(jc.called, 1);
    ck_assert_int_eq(ja.gen, 3);
    ck_assert_uint_eq(ja.nmembers, 2);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, 100 + REBALANCE),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_initial_delay)
{
    qr_kgc_t *kgc = kgc_make(3000);
    jrec_t ja, jb;
    join(kgc, "", 0, &ja);
    join(kgc, "", 100, &jb);
    ck_assert_int_eq(ja.called + jb.called, 0);
    ck_assert_int_eq(qr_kgc_next_deadline(kgc), 3000);
    qr_kgc_tick(kgc, 2999);
    ck_assert_int_eq(ja.called + jb.called, 0);
    qr_kgc_tick(kgc, 3000);
    ck_assert_int_eq(ja.called, 1);
    ck_assert_int_eq(jb.called, 1);
    ck_assert_int_eq(ja.gen, 1); /* one generation for both */
    ck_assert_uint_eq(ja.nmembers, 2);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_member_id_required)
{
    qr_kgc_t *kgc = kgc_make(0);
    jrec_t j = {0};
    qr_kgc_join_req_t r = jreq("");
    r.require_known_member_id = 1;
    qr_kgc_join(kgc, &r, 0, on_join, &j);
    ck_assert_int_eq(j.called, 1);
    ck_assert_int_eq(j.err, QUIRE_ERR_MEMBER_ID_REQUIRED);
    ck_assert_str_ne(j.member_id, "");
    char id[128];
    strcpy(id, j.member_id);
    join(kgc, id, 10, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_NONE);
    ck_assert_str_eq(j.member_id, id);
    ck_assert_int_eq(j.gen, 1);
    /* a pending id never used expires after its session timeout */
    memset(&j, 0, sizeof(j));
    qr_kgc_join(kgc, &r, 20, on_join, &j);
    strcpy(id, j.member_id);
    qr_kgc_tick(kgc, 20 + SESSION);
    join(kgc, id, 21 + SESSION, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_errors)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    jrec_t j;
    srec_t s;
    /* unknown member, illegal generation */
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", "who", NULL, 2, 1),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "nogroup", a, NULL, 2, 1),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, NULL, 1, 1),
                     QUIRE_ERR_ILLEGAL_GENERATION);
    sync_(kgc, a, 1, NULL, 0, 1, &s);
    ck_assert_int_eq(s.err, QUIRE_ERR_ILLEGAL_GENERATION);
    sync_(kgc, "who", 2, NULL, 0, 1, &s);
    ck_assert_int_eq(s.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    join(kgc, "who", 1, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", a, NULL, 1, 1),
                     QUIRE_ERR_ILLEGAL_GENERATION);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", "who", NULL, 2, 1),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", "", NULL, -1, 1),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", a, NULL, 2, 1),
                     QUIRE_ERR_NONE);

    /* protocols: another type, or none in common */
    qr_kgc_join_req_t r = jreq("");
    r.protocol_type = "connect";
    memset(&j, 0, sizeof(j));
    qr_kgc_join(kgc, &r, 1, on_join, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r = jreq("");
    r.protocol_count = 1;
    r.protocols = sticky_only;
    qr_kgc_join(kgc, &r, 1, on_join, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r = jreq("");
    r.session_timeout_ms = 10;
    qr_kgc_join(kgc, &r, 1, on_join, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_INVALID_SESSION_TIMEOUT);
    r = jreq("");
    r.group_id = "";
    qr_kgc_join(kgc, &r, 1, on_join, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_INVALID_GROUP_ID);
    r = jreq("x-1");
    r.group_id = "absent";
    qr_kgc_join(kgc, &r, 1, on_join, &j);
    ck_assert_int_eq(j.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert(!qr_kgc_has_group(kgc, "absent"));
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "", "", NULL, -1, 1),
                     QUIRE_ERR_INVALID_GROUP_ID);

    /* a new member that speaks only roundrobin: the group moves to it */
    r = jreq("");
    r.protocol_count = 1;
    r.protocols = rr_only;
    jrec_t jc, ja, jb;
    memset(&jc, 0, sizeof(jc));
    qr_kgc_join(kgc, &r, 2, on_join, &jc);
    /* PreparingRebalance: sync and commit are refused, heartbeats say
     * rejoin */
    sync_(kgc, b, 2, NULL, 0, 2, &s);
    ck_assert_int_eq(s.err, QUIRE_ERR_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", a, NULL, 2, 2),
                     QUIRE_ERR_NONE);
    join(kgc, a, 3, &ja);
    join(kgc, b, 3, &jb);
    ck_assert_int_eq(jc.called, 1);
    ck_assert_str_eq(ja.protocol, "roundrobin");
    ck_assert_int_eq(ja.gen, 3);
    /* CompletingRebalance: commits refused until the leader syncs */
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", a, NULL, 3, 3),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 3, 3),
                     QUIRE_ERR_NONE); /* Kafka 2.5+ */
    /* a join with new protocols while b waits in sync: b's sync is void */
    sync_(kgc, b, 3, NULL, 0, 3, &s);
    ck_assert_int_eq(s.called, 0);
    r = jreq(jc.member_id);
    qr_kgc_join(kgc, &r, 4, on_join, &jc);
    ck_assert_int_eq(s.called, 1);
    ck_assert_int_eq(s.err, QUIRE_ERR_REBALANCE_IN_PROGRESS);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_standalone_commit)
{
    qr_kgc_t *kgc = kgc_make(0);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "solo", "", NULL, -1, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "solo", "m", NULL, 4, 0),
                     QUIRE_ERR_ILLEGAL_GENERATION);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_rejoin_twice_and_unload)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    jrec_t j1, j2;
    join(kgc, a, 10, &j1);
    ck_assert_int_eq(j1.called, 0);
    join(kgc, a, 11, &j2); /* the same member again: the first is void */
    ck_assert_int_eq(j1.called, 1);
    ck_assert_int_eq(j1.err, QUIRE_ERR_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(j2.called, 0);
    /* another broker takes the group: waiting joins are told so */
    qr_kgc_unload(kgc, "g");
    ck_assert_int_eq(j2.called, 1);
    ck_assert_int_eq(j2.err, QUIRE_ERR_NOT_COORDINATOR);
    ck_assert(!qr_kgc_has_group(kgc, "g"));
    qr_kgc_destroy(kgc);
}
END_TEST

static void count_groups(void *arg, const char *group_id,
                         const char *protocol_type, const char *state)
{
    ck_assert_str_eq(group_id, "g");
    ck_assert_str_eq(protocol_type, "consumer");
    ck_assert_str_eq(state, "Stable");
    (*(int *)arg)++;
}

static int keep_none(void *arg, const char *group_id)
{
    (void)arg;
    (void)group_id;
    return 0;
}

START_TEST(test_list_and_destroy)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_stable(a, b);
    int n = 0;
    qr_kgc_list(kgc, count_groups, &n);
    ck_assert_int_eq(n, 1);
    jrec_t j;
    join(kgc, a, 10, &j);
    qr_kgc_unload_if(kgc, keep_none, NULL);
    ck_assert_int_eq(j.err, QUIRE_ERR_NOT_COORDINATOR);
    n = 0;
    qr_kgc_list(kgc, count_groups, &n);
    ck_assert_int_eq(n, 0);
    qr_kgc_destroy(kgc);
    /* destroy answers what still waits */
    kgc = kgc_make(3000);
    join(kgc, "", 0, &j);
    ck_assert_int_eq(j.called, 0);
    qr_kgc_destroy(kgc);
    ck_assert_int_eq(j.err, QUIRE_ERR_COORDINATOR_NOT_AVAILABLE);
    qr_kgc_destroy(NULL);
}
END_TEST

/* ---- static membership (KIP-345) ---- */

static void join_inst(qr_kgc_t *kgc, const char *member_id, const char *inst,
                      int64_t now, jrec_t *j)
{
    memset(j, 0, sizeof(*j));
    qr_kgc_join_req_t r = jreq(member_id);
    r.group_instance_id = inst;
    r.require_known_member_id = 1; /* v5: static members skip it */
    qr_kgc_join(kgc, &r, now, on_join, j);
}

/* Two static members a (instance ia, leader) and b (ib), Stable at
 * generation 2 with shares "pa" and "pb", at time 2. */
static qr_kgc_t *two_static(char *a, char *b)
{
    qr_kgc_t *kgc = kgc_make(0);
    jrec_t ja, jb;
    srec_t sa, sb;
    join_inst(kgc, "", "ia", 0, &ja);
    ck_assert_int_eq(ja.err, QUIRE_ERR_NONE); /* no MEMBER_ID_REQUIRED */
    ck_assert_int_eq(ja.gen, 1);
    strcpy(a, ja.member_id);
    ck_assert(!strncmp(a, "ia-", 3)); /* named after the instance */
    qr_kgc_assignment_t as1[] = {{a, (const uint8_t *)"all", 3}};
    sync_inst(kgc, a, "ia", 1, as1, 1, 0, &sa);
    ck_assert_str_eq(sa.assignment, "all");
    join_inst(kgc, "", "ib", 1, &jb);
    ck_assert_int_eq(jb.called, 0);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, "ia", 1, 1),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    join_inst(kgc, a, "ia", 1, &ja);
    ck_assert_int_eq(ja.gen, 2);
    ck_assert_int_eq(jb.gen, 2);
    strcpy(b, jb.member_id);
    qr_kgc_assignment_t as2[] = {{a, (const uint8_t *)"pa", 2},
                                 {b, (const uint8_t *)"pb", 2}};
    sync_inst(kgc, b, "ib", 2, NULL, 0, 2, &sb);
    sync_inst(kgc, a, "ia", 2, as2, 2, 2, &sa);
    ck_assert_str_eq(sb.assignment, "pb");
    return kgc;
}

/* A static member that restarts (joins again with no member id) within
 * its session timeout takes its old place: no rebalance, its old share,
 * and the old id is fenced. */
START_TEST(test_static_restart)
{
    char a[128], b[128], b2[128];
    qr_kgc_t *kgc = two_static(a, b);
    jrec_t jb;
    srec_t sb, so;
    join_inst(kgc, "", "ib", 3, &jb);
    ck_assert_int_eq(jb.called, 1); /* answered at once */
    ck_assert_int_eq(jb.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(jb.gen, 2); /* the same generation */
    ck_assert_str_eq(jb.leader, a);
    ck_assert_uint_eq(jb.nmembers, 0);
    strcpy(b2, jb.member_id);
    ck_assert_str_ne(b2, b);
    /* the other member sees no rebalance */
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, "ia", 2, 3), QUIRE_ERR_NONE);
    sync_inst(kgc, b2, "ib", 2, NULL, 0, 3, &sb);
    ck_assert_int_eq(sb.err, QUIRE_ERR_NONE);
    ck_assert_str_eq(sb.assignment, "pb");
    /* the old process is fenced wherever it carries the instance id */
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, "ib", 2, 4),
                     QUIRE_ERR_FENCED_INSTANCE_ID);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", b, NULL, 2, 4),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", b, "ib", 2, 4),
                     QUIRE_ERR_FENCED_INSTANCE_ID);
    ck_assert_int_eq(qr_kgc_commit_check(kgc, "g", b2, "ib", 2, 4),
                     QUIRE_ERR_NONE);
    sync_inst(kgc, b, "ib", 2, NULL, 0, 4, &so);
    ck_assert_int_eq(so.err, QUIRE_ERR_FENCED_INSTANCE_ID);
    jrec_t jo;
    join_inst(kgc, b, "ib", 4, &jo);
    ck_assert_int_eq(jo.err, QUIRE_ERR_FENCED_INSTANCE_ID);
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", b, "ib", 4),
                     QUIRE_ERR_FENCED_INSTANCE_ID);
    /* a known member id with an instance id the group lacks */
    join_inst(kgc, a, "nope", 4, &jo);
    ck_assert_int_eq(jo.err, QUIRE_ERR_UNKNOWN_MEMBER_ID);
    qr_kgc_desc_t d;
    qr_kgc_describe(kgc, "g", &d);
    ck_assert_str_eq(d.state, "Stable");
    ck_assert_uint_eq(d.member_count, 2);
    ck_assert_str_eq(d.members[1].member_id, b2);
    ck_assert_str_eq(d.members[1].group_instance_id, "ib");
    /* LeaveGroup v3 by instance id alone: removed, the other rebalances */
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", "", "ib", 5), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a, "ia", 2, 5),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    qr_kgc_destroy(kgc);
}
END_TEST

/* The leader restarts: the answer names the old leader id, so the new
 * process assigns nothing; it becomes the leader of later generations.
 * A static member is removed by its session timeout, like any. */
START_TEST(test_static_leader_and_expiry)
{
    char a[128], b[128], a2[128];
    qr_kgc_t *kgc = two_static(a, b);
    jrec_t ja, jb;
    srec_t sa;
    join_inst(kgc, "", "ia", 3, &ja);
    ck_assert_int_eq(ja.err, QUIRE_ERR_NONE);
    strcpy(a2, ja.member_id);
    ck_assert_str_eq(ja.leader, a); /* not a2: no assignment to make */
    ck_assert_uint_eq(ja.nmembers, 0);
    sync_inst(kgc, a2, "ia", 2, NULL, 0, 3, &sa);
    ck_assert_str_eq(sa.assignment, "pa");
    /* b stops heartbeating; a2 keeps on: b's session ends, a rebalance */
    for (int64_t t = 3; t < SESSION + 2; t += 1000)
        ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a2, "ia", 2, t),
                         QUIRE_ERR_NONE);
    qr_kgc_tick(kgc, SESSION + 2);
    ck_assert_int_eq(qr_kgc_heartbeat(kgc, "g", a2, "ia", 2, SESSION + 2),
                     QUIRE_ERR_REBALANCE_IN_PROGRESS);
    join_inst(kgc, a2, "ia", SESSION + 3, &ja);
    ck_assert_int_eq(ja.gen, 3);
    ck_assert_str_eq(ja.leader, a2); /* the replaced leader leads now */
    ck_assert_uint_eq(ja.nmembers, 1);
    /* b's instance is free again: it joins as a new member */
    join_inst(kgc, "", "ib", SESSION + 4, &jb);
    ck_assert_int_eq(jb.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(jb.called, 0); /* waits for the rebalance */
    qr_kgc_destroy(kgc);
}
END_TEST

/* A static member restarting while the group rebalances: the old join
 * is answered FENCED_INSTANCE_ID and the new one takes its place. */
START_TEST(test_static_restart_while_joining)
{
    char a[128], b[128];
    qr_kgc_t *kgc = two_static(a, b);
    jrec_t ja, jb, jb2;
    ck_assert_int_eq(qr_kgc_leave(kgc, "g", "", "nobody", 3),
                     QUIRE_ERR_UNKNOWN_MEMBER_ID);
    /* b rejoins with other metadata: a rebalance, b waits for a */
    memset(&jb, 0, sizeof(jb));
    qr_kgc_join_req_t r = jreq(b);
    r.group_instance_id = "ib";
    r.protocol_count = 1;
    r.protocols = rr_only;
    qr_kgc_join(kgc, &r, 3, on_join, &jb);
    ck_assert_int_eq(jb.called, 0);
    join_inst(kgc, "", "ib", 4, &jb2); /* b's process restarted */
    ck_assert_int_eq(jb.called, 1);
    ck_assert_int_eq(jb.err, QUIRE_ERR_FENCED_INSTANCE_ID);
    ck_assert_int_eq(jb2.called, 0);
    join_inst(kgc, a, "ia", 5, &ja);
    ck_assert_int_eq(ja.gen, 3);
    ck_assert_int_eq(jb2.called, 1);
    ck_assert_int_eq(jb2.gen, 3);
    ck_assert_str_ne(jb2.member_id, b);
    ck_assert_uint_eq(ja.nmembers, 2);
    qr_kgc_destroy(kgc);
}
END_TEST

START_TEST(test_pick)
{
    /* the same answer whatever the order of the ids */
    int32_t ids[] = {1, 2, 3, 4, 5}, rev[] = {5, 4, 3, 2, 1};
    ck_assert_int_eq(qr_kgc_pick(ids, 0, "g"), -1);
    ck_assert_int_eq(qr_kgc_pick(ids, 1, "g"), 1);
    int per[6] = {0}, moved = 0;
    for (int i = 0; i < 500; i++) {
        char g[32];
        snprintf(g, sizeof(g), "group-%d", i);
        int32_t c = qr_kgc_pick(ids, 5, g);
        ck_assert_int_eq(c, qr_kgc_pick(rev, 5, g));
        per[c]++;
        /* broker 3 dies: only its groups move */
        int32_t left[] = {1, 2, 4, 5};
        int32_t c2 = qr_kgc_pick(left, 4, g);
        if (c != 3)
            ck_assert_int_eq(c2, c);
        else
            moved++;
    }
    ck_assert_int_eq(moved, per[3]);
    for (int b = 1; b <= 5; b++) /* spread: about 100 each */
        ck_assert_int_gt(per[b], 50);
}
END_TEST

static Suite *kgc_suite(void)
{
    Suite *s = suite_create("kgroupcoord");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, test_join_sync_stable);
    tcase_add_test(tc, test_leave);
    tcase_add_test(tc, test_leave_while_joining);
    tcase_add_test(tc, test_session_expiry);
    tcase_add_test(tc, test_rebalance_timeout);
    tcase_add_test(tc, test_initial_delay);
    tcase_add_test(tc, test_member_id_required);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_standalone_commit);
    tcase_add_test(tc, test_rejoin_twice_and_unload);
    tcase_add_test(tc, test_list_and_destroy);
    tcase_add_test(tc, test_static_restart);
    tcase_add_test(tc, test_static_leader_and_expiry);
    tcase_add_test(tc, test_static_restart_while_joining);
    tcase_add_test(tc, test_pick);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kgc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
