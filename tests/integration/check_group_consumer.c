/*
 * check_group_consumer: libquire's group consumer (quire_consumer_subscribe
 * and friends) against a real ZooKeeper and real brokers.
 *
 * Several consumers live in one test process: each has its own background
 * thread and ZooKeeper session, so they are members like any other. The
 * test polls them in turn from its one thread, which is also where their
 * rebalance callbacks run.
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_broker.h"
#include "qt_cluster.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif

#define START_MS 20000
#define MAXREC   4000
#define MAXPART  16

static qt_cluster_t cl;

static void conf_set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
}

/* Produces values "<first>".."<first+n-1>" spread over the partitions
 * (keyed), and waits until all are delivered. */
static void produce(const char *topic, int first, int n)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *p = NULL;
    char errstr[256];

    conf_set(conf, "bootstrap.servers", cl.b[0]->addr);
    conf_set(conf, "acks", "all");
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int i = first; i < first + n; i++) {
        char v[32];

        snprintf(v, sizeof(v), "%d", i);
        ck_assert_int_eq(quire_producer_send(p, topic, QUIRE_PARTITION_ANY, v,
                                             strlen(v), v, strlen(v), NULL, 0,
                                             0, NULL),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
}

/* ---- one member and what it saw ---- */

typedef struct member {
    quire_consumer_t *c;
    const char *name;
    int seen[MAXREC];             /* times each value was returned */
    int64_t next[MAXPART];        /* per partition: next offset seen */
    int64_t first[MAXPART];       /* first offset seen; -1 none */
    int owned[MAXPART];           /* from the callbacks */
    int64_t assigned_at[MAXPART]; /* ASSIGNED offset */
    int64_t revoked_at[MAXPART];  /* REVOKED position */
    char events[64][16];          /* "R3", "A6": kind and count */
    int nevents;
    int commit_in_revoke; /* commit(NULL) inside REVOKED */
    quire_err_t revoke_commit_err;
    int got;
} member_t;

/* Where a partition is kept in member_t: the regex test's second topic
 * (rx.two) after the first's partitions. */
static int slot(const char *topic, int32_t partition)
{
    int p = partition + (strcmp(topic, "rx.two") == 0 ? MAXPART / 2 : 0);

    ck_assert(partition >= 0 && p < MAXPART);
    return p;
}

static void on_rebalance(quire_consumer_t *c, quire_rebalance_event_t ev,
                         const quire_topic_partition_t *tps, size_t n,
                         void *opaque)
{
    member_t *m = opaque;

    ck_assert_ptr_eq(c, m->c);
    ck_assert_int_lt(m->nevents, 64);
    snprintf(m->events[m->nevents++], 16, "%c%zu",
             ev == QUIRE_REBALANCE_REVOKED ? 'R' : 'A', n);
    for (size_t i = 0; i < n; i++) {
        int p = slot(tps[i].topic, tps[i].partition);

        if (ev == QUIRE_REBALANCE_ASSIGNED) {
            ck_assert_msg(!m->owned[p], "%s: %d assigned twice", m->name, p);
            m->owned[p] = 1;
            m->assigned_at[p] = tps[i].offset;
            m->next[p] = -1; /* the next record sets it */
            m->first[p] = -1;
        } else {
            ck_assert_msg(m->owned[p], "%s: %d revoked, not owned", m->name, p);
            m->owned[p] = 0;
            m->revoked_at[p] = tps[i].offset;
        }
    }
    if (ev == QUIRE_REBALANCE_REVOKED && n > 0) {
        int64_t pos = -7;

        /* being handed back: its position can be read (and committed),
         * it can no longer be moved */
        ck_assert_int_eq(
            quire_consumer_position(c, tps[0].topic, tps[0].partition, &pos),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(pos, tps[0].offset);
        ck_assert_int_eq(
            quire_consumer_seek(c, tps[0].topic, tps[0].partition, 0),
            QUIRE_ERR_NOT_FOUND);
    }
    if (ev == QUIRE_REBALANCE_REVOKED && m->commit_in_revoke)
        m->revoke_commit_err = quire_consumer_commit(c, NULL, 0, 10000);
}

static member_t *member_new(const char *name, const char *group,
                            const char *strategy, const char *reset,
                            int autocommit)
{
    member_t *m = calloc(1, sizeof(*m));
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    ck_assert_ptr_nonnull(m);
    m->name = name;
    conf_set(conf, "zookeeper.connect", cl.zk_connect);
    conf_set(conf, "group.id", group);
    conf_set(conf, "partition.assignment.strategy", strategy);
    conf_set(conf, "auto.offset.reset", reset);
    conf_set(conf, "enable.auto.commit", autocommit ? "true" : "false");
    conf_set(conf, "fetch.max.wait.ms", "100");
    conf_set(conf, "rebalance.backoff.ms", "200");
    conf_set(conf, "zookeeper.session.timeout.ms", "4000");
    quire_conf_set_rebalance_cb(conf, on_rebalance, m);
    ck_assert_msg(quire_consumer_new(conf, &m->c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return m;
}

static void member_subscribe(member_t *m, const char *topic)
{
    char errstr[256];

    ck_assert_msg(quire_consumer_subscribe(m->c, &topic, 1, errstr,
                                           sizeof(errstr)) == QUIRE_ERR_NONE,
                  "%s", errstr);
}

/* Polls once (up to @p ms); checks per-partition order. @returns 1 when a
 * record came. */
static int member_poll(member_t *m, int ms)
{
    const quire_record_t *r;
    quire_err_t err = quire_consumer_poll(m->c, ms, &r);
    int v, p;

    if (err == QUIRE_ERR_TIMED_OUT)
        return 0;
    ck_assert_msg(err == QUIRE_ERR_NONE, "%s: poll: %s (%.*s)", m->name,
                  quire_err2str(err), r && r->value ? (int)r->value_len : 0,
                  r && r->value ? (const char *)r->value : "");
    p = slot(r->topic, r->partition);
    ck_assert_msg(m->owned[p], "%s: a record of %d, not owned", m->name, p);
    ck_assert_int_eq(sscanf((const char *)r->value, "%d", &v), 1);
    ck_assert(v >= 0 && v < MAXREC);
    /* offset order, nothing skipped within a partition */
    ck_assert_msg(m->next[p] < 0 || r->offset == m->next[p],
                  "%s: partition %d: offset %" PRId64 " after %" PRId64,
                  m->name, p, r->offset, m->next[p]);
    if (m->first[p] < 0)
        m->first[p] = r->offset;
    m->next[p] = r->offset + 1;
    m->seen[v]++;
    m->got++;
    return 1;
}

static int owned_count(const member_t *m)
{
    int n = 0;

    for (int p = 0; p < MAXPART; p++)
        n += m->owned[p];
    return n;
}

static void member_close(member_t *m)
{
    quire_consumer_close(m->c);
    free(m);
}

/* ---- tests ---- */

/* One member reads everything from the beginning, commits, leaves; the
 * next member of the group starts where it stopped. */
START_TEST(subscribe_commit_resume)
{
    member_t *a, *b;
    int64_t deadline, sum = 0;
    char id[256];

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "gc1", 4, 0, 20000), 0);
    produce("gc1", 0, 400);
    a = member_new("a", "g1", "range", "earliest", 0);
    ck_assert_int_eq(quire_consumer_member_id(a->c, id, sizeof(id)),
                     QUIRE_ERR_STATE);
    member_subscribe(a, "gc1");
    ck_assert_int_eq(quire_consumer_member_id(a->c, id, sizeof(id)),
                     QUIRE_ERR_NONE);
    ck_assert_msg(strncmp(id, "g1_", 3) == 0, "consumer id %s", id);
    deadline = qt_now_ms() + 30000;
    while (a->got < 400 && qt_now_ms() < deadline)
        member_poll(a, 200);
    ck_assert_int_eq(a->got, 400);
    ck_assert_str_eq(a->events[0], "A4");
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(a->assigned_at[p], QUIRE_OFFSET_BEGINNING);
    for (int v = 0; v < 400; v++)
        ck_assert_int_eq(a->seen[v], 1);
    /* committed: nothing yet (no auto commit), then every position */
    for (int p = 0; p < 4; p++) {
        int64_t off = 0;

        ck_assert_int_eq(quire_consumer_committed(a->c, "gc1", p, 10000, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, -1);
    }
    ck_assert_int_eq(quire_consumer_commit(a->c, NULL, 0, 10000),
                     QUIRE_ERR_NONE);
    for (int p = 0; p < 4; p++) {
        int64_t off = 0, pos = 0;

        ck_assert_int_eq(quire_consumer_committed(a->c, "gc1", p, 10000, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(quire_consumer_position(a->c, "gc1", p, &pos),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(off, pos);
        sum += off;
    }
    ck_assert_int_eq(sum, 400);
    member_close(a);

    produce("gc1", 400, 40);
    b = member_new("b", "g1", "range", "earliest", 1);
    member_subscribe(b, "gc1");
    deadline = qt_now_ms() + 30000;
    while (b->got < 40 && qt_now_ms() < deadline)
        member_poll(b, 200);
    ck_assert_int_eq(b->got, 40);
    for (int v = 0; v < 400; v++)
        ck_assert_int_eq(b->seen[v], 0);
    for (int v = 400; v < 440; v++)
        ck_assert_int_eq(b->seen[v], 1);
    /* the group's committed offsets were where b started */
    for (int p = 0; p < 4; p++)
        ck_assert_int_ge(b->assigned_at[p], 0);
    member_close(b);
    qt_cluster_stop(&cl);
}
END_TEST

/* A second member joins: the first is revoked (and commits inside the
 * callback) before anything is assigned; the second starts each moved
 * partition exactly where the first stopped: nothing lost, nothing twice. */
START_TEST(join_revoke_commit_handover)
{
    member_t *a, *b;
    int64_t deadline;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "gc2", 6, 0, 20000), 0);
    produce("gc2", 0, 600);
    a = member_new("a", "g2", "range", "earliest", 0);
    a->commit_in_revoke = 1;
    member_subscribe(a, "gc2");
    deadline = qt_now_ms() + 30000;
    while (a->got < 300 && qt_now_ms() < deadline)
        member_poll(a, 200);
    ck_assert_int_ge(a->got, 300);

    b = member_new("b", "g2", "range", "earliest", 0);
    member_subscribe(b, "gc2");
    deadline = qt_now_ms() + 30000;
    while ((owned_count(a) + owned_count(b) != 6 || owned_count(b) == 0) &&
           qt_now_ms() < deadline) {
        /* a keeps consuming until it is told to stop */
        member_poll(a, 50);
        member_poll(b, 50);
    }
    ck_assert_int_eq(owned_count(a), 3);
    ck_assert_int_eq(owned_count(b), 3);
    ck_assert_int_eq(a->revoke_commit_err, QUIRE_ERR_NONE);
    /* a: assigned 6, revoked 6 (eager), assigned 3; b: assigned 3 */
    ck_assert_str_eq(a->events[0], "A6");
    ck_assert_str_eq(a->events[1], "R6");
    ck_assert_str_eq(a->events[2], "A3");
    ck_assert_str_eq(b->events[0], "A3");
    for (int p = 0; p < 6; p++) {
        if (!b->owned[p])
            continue;
        /* where a stopped is where b starts: a's commit in its callback
         * was in ZooKeeper before the partition was released */
        ck_assert_int_eq(b->assigned_at[p], a->revoked_at[p]);
    }
    deadline = qt_now_ms() + 30000;
    while (a->got + b->got < 600 && qt_now_ms() < deadline) {
        member_poll(a, 50);
        member_poll(b, 50);
    }
    for (int v = 0; v < 600; v++)
        ck_assert_msg(a->seen[v] + b->seen[v] == 1, "value %d seen %d+%d", v,
                      a->seen[v], b->seen[v]);

    /* a leaves cleanly: b takes everything, from a's final commit */
    ck_assert_int_eq(quire_consumer_commit(a->c, NULL, 0, 10000),
                     QUIRE_ERR_NONE);
    member_close(a);
    produce("gc2", 600, 60);
    deadline = qt_now_ms() + 30000;
    while ((owned_count(b) != 6 || b->got < 660 - 300) &&
           qt_now_ms() < deadline)
        member_poll(b, 100);
    ck_assert_int_eq(owned_count(b), 6);
    for (int v = 600; v < 660; v++)
        ck_assert_int_eq(b->seen[v], 1);
    member_close(b);
    qt_cluster_stop(&cl);
}
END_TEST

/* sticky: a joining member moves only what it must; the first keeps its
 * other partitions without a revocation. */
START_TEST(sticky_is_incremental)
{
    member_t *a, *b;
    int64_t deadline;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "gc3", 4, 0, 20000), 0);
    produce("gc3", 0, 40);
    a = member_new("a", "g3", "sticky", "earliest", 1);
    member_subscribe(a, "gc3");
    deadline = qt_now_ms() + 30000;
    while (a->got < 40 && qt_now_ms() < deadline)
        member_poll(a, 100);
    ck_assert_int_eq(a->got, 40);
    b = member_new("b", "g3", "sticky", "earliest", 1);
    member_subscribe(b, "gc3");
    deadline = qt_now_ms() + 30000;
    while (owned_count(b) != 2 && qt_now_ms() < deadline) {
        member_poll(a, 50);
        member_poll(b, 50);
    }
    ck_assert_int_eq(owned_count(a), 2);
    ck_assert_int_eq(owned_count(b), 2);
    ck_assert_str_eq(a->events[0], "A4");
    ck_assert_str_eq(a->events[1], "R2"); /* only the two that moved */
    ck_assert_int_eq(a->nevents, 2);
    /* auto commit on revoke: b starts the moved ones after a's records */
    for (int p = 0; p < 4; p++)
        if (b->owned[p])
            ck_assert_int_eq(b->assigned_at[p], a->revoked_at[p]);
    member_close(a);
    member_close(b);
    qt_cluster_stop(&cl);
}
END_TEST

/* A regular expression subscription picks up a topic created later. */
START_TEST(regex_picks_up_new_topic)
{
    member_t *a = NULL;
    char errstr[256];
    int64_t deadline;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "rx.one", 2, 0, 20000), 0);
    a = member_new("a", "g4", "roundrobin", "earliest", 1);
    ck_assert_int_eq(
        quire_consumer_subscribe_regex(a->c, "rx\\.(", errstr, sizeof(errstr)),
        QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(
        quire_consumer_subscribe_regex(a->c, "rx\\..*", errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    deadline = qt_now_ms() + 30000;
    while (owned_count(a) != 2 && qt_now_ms() < deadline)
        member_poll(a, 100);
    ck_assert_int_eq(owned_count(a), 2);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "rx.two", 2, 0, 20000), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "other", 2, 0, 20000), 0);
    produce("rx.two", 0, 20);
    produce("other", 20, 20);
    deadline = qt_now_ms() + 30000;
    while (a->got < 20 && qt_now_ms() < deadline)
        member_poll(a, 100);
    ck_assert_int_eq(a->got, 20);
    for (int v = 0; v < 20; v++)
        ck_assert_int_eq(a->seen[v], 1);
    for (int i = 0; i < 10; i++)
        member_poll(a, 100);
    for (int v = 20; v < 40; v++)
        ck_assert_int_eq(a->seen[v], 0);
    member_close(a);
    qt_cluster_stop(&cl);
}
END_TEST

/* A committed offset outside the log follows auto.offset.reset (with a
 * warning naming the partition); one inside is where reading starts. */
START_TEST(committed_offset_out_of_range)
{
    member_t *a, *b;
    quire_topic_partition_t tps[2] = {{"gc6", 0, 100000}, {"gc6", 1, 3}};
    int64_t deadline;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "gc6", 2, 0, 20000), 0);
    produce("gc6", 0, 40);
    a = member_new("a", "g6", "range", "earliest", 0);
    member_subscribe(a, "gc6");
    deadline = qt_now_ms() + 30000;
    while (owned_count(a) != 2 && qt_now_ms() < deadline)
        member_poll(a, 100);
    ck_assert_int_eq(owned_count(a), 2);
    ck_assert_int_eq(quire_consumer_commit(a->c, tps, 2, 10000),
                     QUIRE_ERR_NONE);
    member_close(a);
    b = member_new("b", "g6", "range", "earliest", 0);
    member_subscribe(b, "gc6");
    deadline = qt_now_ms() + 30000;
    while (b->got < 37 && qt_now_ms() < deadline)
        member_poll(b, 100);
    ck_assert_int_eq(b->got, 37);
    ck_assert_int_eq(b->assigned_at[0], 100000);
    ck_assert_int_eq(b->assigned_at[1], 3);
    ck_assert_int_eq(b->first[0], 0); /* reset to the earliest */
    ck_assert_int_eq(b->first[1], 3);
    member_close(b);
    qt_cluster_stop(&cl);
}
END_TEST

/* Without a rebalance callback, auto commit on close commits every record
 * poll returned: a clean stop leaves nothing to deliver twice. */
START_TEST(autocommit_on_close_without_callback)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    const char *topic = "gc7";
    char errstr[256];
    int got = 0;
    int64_t deadline, sum = 0;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, topic, 3, 0, 20000), 0);
    produce(topic, 0, 90);
    conf_set(conf, "zookeeper.connect", cl.zk_connect);
    conf_set(conf, "group.id", "g7");
    conf_set(conf, "auto.offset.reset", "smallest");
    conf_set(conf, "auto.commit.interval.ms", "600000"); /* not by time */
    conf_set(conf, "fetch.max.wait.ms", "100");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_consumer_subscribe(c, &topic, 1, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    deadline = qt_now_ms() + 30000;
    while (got < 90 && qt_now_ms() < deadline) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 100, &r);

        if (err == QUIRE_ERR_TIMED_OUT)
            continue;
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        got++;
    }
    ck_assert_int_eq(got, 90);
    quire_consumer_close(c);

    /* what the group has: read by a consumer that does not join */
    conf = quire_conf_new();
    conf_set(conf, "zookeeper.connect", cl.zk_connect);
    conf_set(conf, "group.id", "g7");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    for (int p = 0; p < 3; p++) {
        int64_t off = -1;

        ck_assert_int_eq(quire_consumer_committed(c, topic, p, 10000, &off),
                         QUIRE_ERR_NONE);
        ck_assert_int_ge(off, 0);
        sum += off;
    }
    ck_assert_int_eq(sum, 90);
    quire_consumer_close(c);
    qt_cluster_stop(&cl);
}
END_TEST

/* Bad use gets its error; nothing crashes. */
START_TEST(bad_use)
{
    quire_conf_t *conf;
    quire_consumer_t *c = NULL;
    member_t *m;
    const char *topics[] = {"../x"};
    const char *good[] = {"gc5"};
    const quire_record_t *r;
    quire_topic_partition_t tp = {"gc5", 7, 10};
    char errstr[256];
    int64_t deadline;
    quire_err_t err;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "gc5", 2, 0, 20000), 0);
    produce("gc5", 0, 10);

    /* group.id without zookeeper.connect */
    conf = quire_conf_new();
    conf_set(conf, "bootstrap.servers", cl.b[0]->addr);
    conf_set(conf, "group.id", "g5");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "zookeeper.connect"));
    /* an illegal group id */
    conf_set(conf, "zookeeper.connect", cl.zk_connect);
    conf_set(conf, "group.id", "a/b");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "group.id"));
    /* no group: subscribe refused, assign works, commit refused */
    conf_set(conf, "group.id", "");
    ck_assert_int_eq(quire_consumer_new(conf, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_consumer_subscribe(c, good, 1, errstr, sizeof(errstr)),
        QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(quire_consumer_commit(c, NULL, 0, 1000), QUIRE_ERR_STATE);
    quire_consumer_close(c);
    c = NULL;

    m = member_new("m", "g5", "range", "none", 0);
    ck_assert_int_eq(
        quire_consumer_subscribe(m->c, topics, 1, errstr, sizeof(errstr)),
        QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert_int_eq(quire_consumer_subscribe(m->c, NULL, 0, NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(quire_consumer_commit(m->c, NULL, 0, 1000),
                     QUIRE_ERR_STATE);
    member_subscribe(m, "gc5");
    ck_assert_int_eq(quire_consumer_assign(m->c, "gc5", 0, 0), QUIRE_ERR_STATE);
    /* auto.offset.reset=none: each partition reports NO_OFFSET */
    deadline = qt_now_ms() + 30000;
    int no_offset = 0;
    while (no_offset < 2 && qt_now_ms() < deadline) {
        err = quire_consumer_poll(m->c, 200, &r);
        if (err == QUIRE_ERR_TIMED_OUT)
            continue;
        ck_assert_int_eq(err, QUIRE_ERR_NO_OFFSET);
        ck_assert_str_eq(r->topic, "gc5");
        no_offset++;
    }
    ck_assert_int_eq(no_offset, 2);
    /* a partition not owned */
    ck_assert_int_eq(quire_consumer_commit(m->c, &tp, 1, 10000),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    tp.offset = -5;
    ck_assert_int_eq(quire_consumer_commit(m->c, &tp, 1, 10000),
                     QUIRE_ERR_BAD_ARG);
    /* given offsets of owned partitions, then seek and read from there */
    tp.partition = 0;
    tp.offset = 0;
    ck_assert_int_eq(quire_consumer_commit(m->c, &tp, 1, 10000),
                     QUIRE_ERR_NONE);
    int64_t off = -7;
    ck_assert_int_eq(quire_consumer_committed(m->c, "gc5", 0, 10000, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(quire_consumer_committed(m->c, "gc5", 1, 10000, &off),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, -1);
    member_close(m);
    qt_cluster_stop(&cl);
}
END_TEST

static Suite *group_consumer_suite(void)
{
    Suite *s = suite_create("group_consumer");
    TCase *tc = tcase_create("groups");

    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, subscribe_commit_resume);
    tcase_add_test(tc, join_revoke_commit_handover);
    tcase_add_test(tc, sticky_is_incremental);
    tcase_add_test(tc, regex_picks_up_new_topic);
    tcase_add_test(tc, committed_offset_out_of_range);
    tcase_add_test(tc, autocommit_on_close_without_callback);
    tcase_add_test(tc, bad_use);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    sr = srunner_create(group_consumer_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
