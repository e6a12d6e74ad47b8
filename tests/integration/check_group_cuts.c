/*
 * check_group_cuts: consumer groups under ZooKeeper connection loss
 * (issue 21), with the loss made on purpose by tests/harness/zkproxy.py
 * between a member and the test's real ZooKeeper.
 *
 * In-process cases: members are qr_group_t objects on one libev loop in
 * this test (one ZooKeeper session each; some through the proxy), driven
 * step by step, so every interleaving below happens every time:
 *   release_reply_lost  A's delete of its owner node is applied but the
 *                       answer lost; B claims the partition while A is cut
 *                       off; A comes back (same session) and must leave
 *                       B's node alone (it reads before it deletes)
 *   claim_reply_lost    A's create of an owner node is applied but the
 *                       answer lost; the partition goes to B: A must find
 *                       the node is its own and release it, so B owns it
 *   commit_after_release  while A's release is in flight, a commit of that
 *                       partition is asked for: nothing may be written
 *   registration_taken  another session holds our member node: the error
 *                       reaches the application, then we join when it goes
 *   subscription_change a group of three where one member adds a topic,
 *                       then drops it: every partition owned within the
 *                       rebalance time, none twice (group_audit)
 * Process case (cuts): group_member processes all connect through the
 * proxy; membership churns (start, SIGTERM, SIGKILL) while the proxy cuts
 * connections at random moments, some right after a claim or a release
 * is applied: the auditor sees no partition with two holders, none stays
 * unowned longer than a rebalance after a session, and the group settles.
 * QUIRE_CUTS=N sets the number of cuts (50 by default), QUIRE_CUTS_SEED
 * the schedule (printed); `make group-nemesis`
 * runs 500.
 *
 * Runs under tests/harness/with-zk; exits 99 without QUIRE_TEST_ZK.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "group.h"
#include "group_audit.h"
#include "qt_zk.h"
#include "qt_zkproxy.h"
#include "zk.h"

#ifndef GROUP_MEMBER_BIN
#error "GROUP_MEMBER_BIN must name tests/integration/group_member"
#endif

#define T_MS       5000
#define WAIT_MS    20000
#define SESSION_MS 4000 /* in-process members */
#define BACKOFF_MS 200
#define GROUP      "g"

/* ---- in-process members ---- */

typedef struct tmem {
    struct ev_loop *loop;
    qr_zk_t *zk;
    qr_group_t *g;
    char id[32];
    const char *events; /* the auditor's file, or NULL */
    int assigned, revoked, errors, commits;
    quire_err_t last_err, commit_err;
} tmem_t;

typedef struct ctx {
    struct ev_loop *loop;
    char *direct; /* the test's chroot on the real server */
    const char *chroot;
    zhandle_t *zh; /* the test's own session (direct) */
    qt_zkproxy_t *proxy;
    ev_timer tick;
    qa_t qa;
} ctx_t;

static void event_line(tmem_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line in group_member's format (group_audit.h), if audited. */
static void event_line(tmem_t *m, const char *fmt, ...)
{
    if (!m->events)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %s ", qt_now_ms(), m->id);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    int fd = open(m->events, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, line, (size_t)n), n);
    close(fd);
}

static void on_assigned(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                        size_t n)
{
    tmem_t *m = opaque;
    (void)g;
    m->assigned++;
    for (size_t i = 0; i < n; i++)
        event_line(m, "ASSIGN %s %d %" PRId64, tps[i].topic,
                   (int)tps[i].partition, tps[i].offset);
}

static void on_revoked(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                       size_t n)
{
    tmem_t *m = opaque;
    (void)g;
    m->revoked++;
    for (size_t i = 0; i < n; i++)
        event_line(m, "REVOKE %s %d %" PRId64, tps[i].topic,
                   (int)tps[i].partition, tps[i].offset);
}

static void on_error(void *opaque, qr_group_t *g, quire_err_t err,
                     const char *msg)
{
    tmem_t *m = opaque;
    (void)g;
    m->errors++;
    m->last_err = err;
    event_line(m, "ERROR %s %s", quire_err2name(err), msg);
}

static void on_commit(qr_group_t *g, quire_err_t err, void *opaque)
{
    tmem_t *m = opaque;
    (void)g;
    m->commits++;
    m->commit_err = err;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static void ctx_init(ctx_t *x)
{
    memset(x, 0, sizeof(*x));
    x->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(x->loop);
    x->direct = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(x->direct);
    x->chroot = strchr(x->direct, '/');
    x->zh = qt_zk_connect(x->direct, T_MS);
    ck_assert_ptr_nonnull(x->zh);
    x->proxy = qt_zkproxy_start(qt_zk_env(), T_MS);
    ck_assert_msg(x->proxy != NULL, "zkproxy did not start");
    /* wakes the loop often, so run_until() checks its condition */
    ev_timer_init(&x->tick, on_tick, 0.01, 0.01);
    ev_timer_start(x->loop, &x->tick);
    qa_init(&x->qa);
}

static void ctx_fini(ctx_t *x)
{
    ev_timer_stop(x->loop, &x->tick);
    qt_zkproxy_stop(x->proxy);
    qt_zk_close(x->zh);
    ev_loop_destroy(x->loop);
    qa_fini(&x->qa);
    free(x->direct);
}

static void topic_create(ctx_t *x, const char *name, int parts)
{
    char path[256], json[1024];
    size_t off =
        (size_t)snprintf(json, sizeof(json), "{\"version\":1,\"partitions\":{");
    for (int p = 0; p < parts; p++)
        off += (size_t)snprintf(json + off, sizeof(json) - off, "%s\"%d\":[0]",
                                p ? "," : "", p);
    snprintf(json + off, sizeof(json) - off, "}}");
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    ck_assert_int_eq(
        qt_zk_create_all(x->zh, path, json, (int)strlen(json), T_MS), ZOK);
}

/* Starts member @p id subscribed to @p topics (comma-separated), through
 * the proxy or straight to the server. */
static void mem_start(ctx_t *x, tmem_t *m, const char *id, const char *topics,
                      int via_proxy, int audited)
{
    char errstr[256], *connect;
    memset(m, 0, sizeof(*m));
    m->loop = x->loop;
    snprintf(m->id, sizeof(m->id), "%s", id);
    m->events = audited ? x->qa.path : NULL;
    connect = via_proxy ? qt_zkproxy_connect_string(x->proxy, x->chroot)
                        : strdup(x->direct);
    m->zk =
        qr_zk_new(x->loop, connect, SESSION_MS, T_MS, errstr, sizeof(errstr));
    free(connect);
    ck_assert_msg(m->zk != NULL, "%s", errstr);
    ck_assert_int_eq(qr_zk_start(m->zk, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    qr_group_conf_t conf;
    qr_group_conf_init(&conf);
    conf.group_id = GROUP;
    conf.consumer_id = m->id;
    conf.rebalance_backoff_ms = BACKOFF_MS;
    conf.rebalance_coalesce_ms = 20;
    conf.auto_commit_interval_ms = 0;
    qr_group_cbs_t cbs = {.opaque = m,
                          .revoked = on_revoked,
                          .assigned = on_assigned,
                          .error = on_error};
    m->g = qr_group_new(m->zk, &conf, &cbs, errstr, sizeof(errstr));
    ck_assert_msg(m->g != NULL, "%s", errstr);
    char list[256], *save = NULL;
    const char *names[8];
    size_t n = 0;
    snprintf(list, sizeof(list), "%s", topics);
    for (char *t = strtok_r(list, ",", &save); t && n < 8;
         t = strtok_r(NULL, ",", &save))
        names[n++] = t;
    ck_assert_int_eq(qr_group_subscribe(m->g, names, n, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_group_start(m->g), QUIRE_ERR_NONE);
}

/* Leaves without a goodbye: the session closes, its ephemerals go. */
static void mem_stop(tmem_t *m)
{
    qr_group_destroy(m->g);
    qr_zk_destroy(m->zk);
    m->g = NULL;
    m->zk = NULL;
}

typedef int (*pred_t)(ctx_t *x, void *arg);

/* Runs the loop until @p pred holds, at most @p timeout_ms. */
static int run_until(ctx_t *x, pred_t pred, void *arg, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    while (!pred(x, arg)) {
        if (qt_now_ms() > deadline)
            return 0;
        ev_run(x->loop, EVRUN_ONCE);
    }
    return 1;
}

static void run_for(ctx_t *x, int ms)
{
    int64_t deadline = qt_now_ms() + ms;
    while (qt_now_ms() < deadline)
        ev_run(x->loop, EVRUN_ONCE);
}

/* The owner node of GROUP's @p topic-@p p: its data in @p id ("" when
 * absent) and its stat. @returns the get's rc. */
static int owner(ctx_t *x, const char *topic, int p, char *id, size_t size,
                 struct Stat *st)
{
    char path[256], *data = NULL;
    int len = 0;
    snprintf(path, sizeof(path), "/consumers/%s/owners/%s/%d", GROUP, topic, p);
    int rc = qt_zk_get(x->zh, path, &data, &len, st, false, T_MS);
    snprintf(id, size, "%.*s", rc == ZOK && data ? len : 0, data ? data : "");
    free(data);
    return rc;
}

typedef struct owned_arg {
    const char *topic;
    int p;
    const char *id;
} owned_arg_t;

static int pred_owned_by(ctx_t *x, void *arg)
{
    owned_arg_t *a = arg;
    char id[64];
    return owner(x, a->topic, a->p, id, sizeof(id), NULL) == ZOK &&
           strcmp(id, a->id) == 0;
}

static int pred_assigned(ctx_t *x, void *arg)
{
    (void)x;
    return ((tmem_t *)arg)->assigned > 0;
}

static int pred_proxy_event(ctx_t *x, void *arg)
{
    qt_zkproxy_pump(x->proxy, 0);
    return qt_zkproxy_wait_event(x->proxy, arg, 0, NULL, 0);
}

typedef struct reb_arg {
    tmem_t *m;
    uint64_t after;
} reb_arg_t;

/* @p m has finished a rebalance since the count was @p after, and is
 * connected. */
static int pred_rebalanced(ctx_t *x, void *arg)
{
    reb_arg_t *a = arg;
    (void)x;
    return qr_zk_connected(a->m->zk) && qr_group_rebalances(a->m->g) > a->after;
}

/* ---- item 1: a release whose answer is lost ---- */

START_TEST(release_reply_lost)
{
    ctx_t x;
    tmem_t a, b;
    ctx_init(&x);
    topic_create(&x, "t", 1);
    /* range gives the partition to the first id: "m1" (B) once it joins */
    mem_start(&x, &a, "m2", "t", 1, 0);
    ck_assert(run_until(&x, pred_assigned, &a, WAIT_MS));
    /* A's delete goes through, its answer is lost, and A stays cut off */
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "autoblock on"));
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "cut-reply delete 1 /owners/t/0"));
    uint64_t before = qr_group_rebalances(a.g);
    mem_start(&x, &b, "m1", "t", 0, 0);
    ck_assert(run_until(&x, pred_proxy_event, "cut-reply", WAIT_MS));
    owned_arg_t ob = {"t", 0, "m1"};
    ck_assert_msg(run_until(&x, pred_owned_by, &ob, WAIT_MS),
                  "B never claimed the released partition");
    struct Stat st0, st1;
    char id[64];
    ck_assert_int_eq(owner(&x, "t", 0, id, sizeof(id), &st0), ZOK);
    ck_assert_int_eq(st0.ephemeralOwner, qr_zk_session_id(b.zk));
    /* A comes back with the same session and finishes a rebalance */
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "unblock"));
    reb_arg_t ra = {&a, before};
    ck_assert_msg(run_until(&x, pred_rebalanced, &ra, WAIT_MS),
                  "A did not rebalance after reconnecting");
    ck_assert_int_eq(qr_zk_session_id(a.zk) != 0, 1);
    /* B's node is the very one B created: A did not delete it */
    ck_assert_int_eq(owner(&x, "t", 0, id, sizeof(id), &st1), ZOK);
    ck_assert_str_eq(id, "m1");
    ck_assert_msg(st1.czxid == st0.czxid,
                  "B's owner node was deleted and made again (czxid %lld, "
                  "was %lld)",
                  (long long)st1.czxid, (long long)st0.czxid);
    const qr_group_tp_t *tps;
    ck_assert_uint_eq(qr_group_assignment(a.g, &tps), 0);
    mem_stop(&a);
    mem_stop(&b);
    ctx_fini(&x);
}
END_TEST

/* ---- item 2: a claim whose answer is lost ---- */

START_TEST(claim_reply_lost)
{
    ctx_t x;
    tmem_t a, b;
    ctx_init(&x);
    topic_create(&x, "t", 1);
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "autoblock on"));
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "cut-reply create 1 /owners/t/0"));
    mem_start(&x, &a, "m2", "t", 1, 0);
    ck_assert(run_until(&x, pred_proxy_event, "cut-reply", WAIT_MS));
    /* the node is A's, A does not know; B joins and is given it */
    char id[64];
    ck_assert_int_eq(owner(&x, "t", 0, id, sizeof(id), NULL), ZOK);
    ck_assert_str_eq(id, "m2");
    mem_start(&x, &b, "m1", "t", 0, 0);
    run_for(&x, 500);
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "unblock"));
    /* A settles its claim by reading the node, finds it its own, and
     * releases it: B owns the partition */
    owned_arg_t ob = {"t", 0, "m1"};
    ck_assert_msg(run_until(&x, pred_owned_by, &ob, WAIT_MS),
                  "the node A claimed without hearing the answer is still "
                  "in B's way");
    ck_assert(run_until(&x, pred_assigned, &b, WAIT_MS));
    const qr_group_tp_t *tps;
    ck_assert_uint_eq(qr_group_assignment(a.g, &tps), 0);
    mem_stop(&a);
    mem_stop(&b);
    ctx_fini(&x);
}
END_TEST

/* ---- item 5: no commit once the release went out ---- */

static int pred_commit_or_write(ctx_t *x, void *arg)
{
    tmem_t *a = arg;
    qt_zkproxy_pump(x->proxy, 0);
    for (size_t i = 0; i < x->proxy->event_cnt; i++)
        if (strstr(x->proxy->events[i], "/offsets/t/0"))
            return 1;
    return a->commits > 0;
}

START_TEST(commit_after_release)
{
    ctx_t x;
    tmem_t a, b;
    char path[256], *data = NULL;
    ctx_init(&x);
    topic_create(&x, "t", 1);
    mem_start(&x, &a, "m2", "t", 1, 0);
    ck_assert(run_until(&x, pred_assigned, &a, WAIT_MS));
    ck_assert_int_eq(qr_group_offset_store(a.g, "t", 0, 5), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_group_commit(a.g, on_commit, &a), QUIRE_ERR_NONE);
    a.commits = 0;
    ck_assert(run_until(&x, pred_commit_or_write, &a, WAIT_MS));
    ck_assert_int_eq(a.commit_err, QUIRE_ERR_NONE);
    /* the answer to A's release is held back: the release is in flight */
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "hold-reply delete 1 /owners/t/0"));
    mem_start(&x, &b, "m1", "t", 0, 0);
    ck_assert(run_until(&x, pred_proxy_event, "held", WAIT_MS));
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "log on"));
    /* a commit asked for now must not write the partition */
    qr_group_offset_store(a.g, "t", 0, 9);
    a.commits = 0;
    ck_assert_int_eq(qr_group_commit(a.g, on_commit, &a), QUIRE_ERR_NONE);
    ck_assert(run_until(&x, pred_commit_or_write, &a, WAIT_MS));
    for (size_t i = 0; i < x.proxy->event_cnt; i++)
        ck_assert_msg(strstr(x.proxy->events[i], "/offsets/t/0") == NULL,
                      "a commit went out after the release: %s",
                      x.proxy->events[i]);
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "release"));
    owned_arg_t ob = {"t", 0, "m1"};
    ck_assert(run_until(&x, pred_owned_by, &ob, WAIT_MS));
    ck_assert(run_until(&x, pred_assigned, &b, WAIT_MS));
    run_for(&x, 300);
    snprintf(path, sizeof(path), "/consumers/%s/offsets/t/0", GROUP);
    int len = 0;
    ck_assert_int_eq(qt_zk_get(x.zh, path, &data, &len, NULL, false, T_MS),
                     ZOK);
    ck_assert_msg(len == 1 && data[0] == '5', "offset is %.*s, not 5", len,
                  data);
    free(data);
    mem_stop(&a);
    mem_stop(&b);
    ctx_fini(&x);
}
END_TEST

/* ---- item 6: registration failures reach the user ---- */

static int pred_error(ctx_t *x, void *arg)
{
    (void)x;
    return ((tmem_t *)arg)->errors > 0;
}

START_TEST(registration_taken)
{
    ctx_t x;
    tmem_t a;
    char path[256];
    ctx_init(&x);
    topic_create(&x, "t", 1);
    /* another session registered as m1 */
    zhandle_t *other = qt_zk_connect(x.direct, T_MS);
    ck_assert_ptr_nonnull(other);
    snprintf(path, sizeof(path), "/consumers/%s/ids", GROUP);
    ck_assert_int_eq(qt_zk_create_all(x.zh, path, NULL, -1, T_MS), ZOK);
    snprintf(path, sizeof(path), "/consumers/%s/ids/m1", GROUP);
    const char *reg = "{\"version\":1,\"subscription\":{\"t\":1},"
                      "\"pattern\":\"static\",\"timestamp\":\"1\"}";
    ck_assert_int_eq(qt_zk_create(other, path, reg, (int)strlen(reg),
                                  ZOO_EPHEMERAL, NULL, T_MS),
                     ZOK);
    mem_start(&x, &a, "m1", "t", 0, 0);
    ck_assert_msg(run_until(&x, pred_error, &a, WAIT_MS),
                  "a member node of another session was not reported");
    ck_assert_int_eq(a.last_err, QUIRE_ERR_EXISTS);
    ck_assert_int_eq(a.assigned, 0);
    /* when it goes, we join */
    qt_zk_close(other);
    ck_assert(run_until(&x, pred_assigned, &a, WAIT_MS));
    mem_stop(&a);
    ctx_fini(&x);
}
END_TEST

/* ---- item 4: subscription changes ---- */

typedef struct cover_arg {
    tmem_t *mem;
    size_t n;
    const char *const *topics;
    const int *parts;
    size_t tcnt;
} cover_arg_t;

/* Every partition of the topics has an owner node naming one of the
 * members, and the member's assignment says it holds it; no member
 * fetches a partition another one's node names. */
static int pred_covered(ctx_t *x, void *arg)
{
    cover_arg_t *a = arg;
    qa_update(&x->qa);
    for (size_t t = 0; t < a->tcnt; t++) {
        for (int p = 0; p < a->parts[t]; p++) {
            char id[64];
            if (owner(x, a->topics[t], p, id, sizeof(id), NULL) != ZOK)
                return 0;
            int held = 0;
            for (size_t i = 0; i < a->n; i++) {
                const qr_group_tp_t *tps;
                size_t k = qr_group_assignment(a->mem[i].g, &tps);
                for (size_t j = 0; j < k; j++) {
                    if (tps[j].partition != p ||
                        strcmp(tps[j].topic, a->topics[t]) != 0)
                        continue;
                    if (strcmp(a->mem[i].id, id) != 0)
                        return 0;
                    held++;
                }
            }
            if (held != 1)
                return 0;
        }
    }
    return 1;
}

static void resubscribe(tmem_t *m, const char *const *topics, size_t n)
{
    char errstr[256];
    ck_assert_int_eq(
        qr_group_subscribe(m->g, topics, n, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
}

START_TEST(subscription_change)
{
    static const char *const both[] = {"t1", "t2"}, *const one[] = {"t1"};
    static const int parts[] = {3, 6};
    ctx_t x;
    tmem_t m[3];
    ctx_init(&x);
    topic_create(&x, "t1", 3);
    topic_create(&x, "t2", 6);
    mem_start(&x, &m[0], "m1", "t1,t2", 0, 1);
    mem_start(&x, &m[1], "m2", "t1,t2", 0, 1);
    mem_start(&x, &m[2], "m3", "t1", 0, 1);
    cover_arg_t ca = {m, 3, both, parts, 2};
    ck_assert_msg(run_until(&x, pred_covered, &ca, WAIT_MS),
                  "the group of three never covered t1 and t2");
    /* m3 adds t2: it is given t2 partitions m1 and m2 own, which they
     * must release */
    uint64_t r0 = qr_group_rebalances(m[0].g);
    resubscribe(&m[2], both, 2);
    reb_arg_t ra = {&m[0], r0};
    ck_assert_msg(run_until(&x, pred_rebalanced, &ra, WAIT_MS),
                  "m1 did not rebalance when m3 subscribed to t2");
    ck_assert_msg(run_until(&x, pred_covered, &ca, WAIT_MS),
                  "not every partition owned once after m3 added t2");
    const char *live[] = {"m1", "m2", "m3"};
    qa_topic_t qt[] = {{"t1", 3}, {"t2", 6}};
    char why[256] = "";
    qa_update(&x.qa);
    ck_assert_msg(qa_settled(&x.qa, x.zh, GROUP, qt, 2, live, 3,
                             QR_ASSIGNOR_RANGE, 0, why, sizeof(why)),
                  "not the assignor's answer: %s", why);
    /* m3 drops t2: its t2 partitions go to m1 and m2 */
    r0 = qr_group_rebalances(m[0].g);
    resubscribe(&m[2], one, 1);
    ra.after = r0;
    ck_assert_msg(run_until(&x, pred_rebalanced, &ra, WAIT_MS),
                  "m1 did not rebalance when m3 dropped t2");
    ck_assert_msg(run_until(&x, pred_covered, &ca, WAIT_MS),
                  "t2 partitions left unowned after m3 dropped t2");
    const qr_group_tp_t *tps;
    size_t k = qr_group_assignment(m[2].g, &tps);
    for (size_t j = 0; j < k; j++)
        ck_assert_str_eq(tps[j].topic, "t1");
    qa_update(&x.qa);
    ck_assert_msg(x.qa.violations == 0, "auditor: %s", x.qa.first);
    for (int i = 0; i < 3; i++)
        mem_stop(&m[i]);
    ctx_fini(&x);
}
END_TEST

/* ---- churn with connection cuts (group_member processes) ---- */

#define CUT_MEMBERS  5
#define CUT_PARTS    8
#define CUT_SESSION  2000
#define CUT_MAXPROCS 64

typedef struct cproc {
    pid_t pid;
    char id[32];
} cproc_t;

typedef struct churn {
    ctx_t *x;
    char *connect; /* through the proxy */
    cproc_t procs[CUT_MAXPROCS];
    size_t cnt;
    int next;
} churn_t;

static cproc_t *churn_start(churn_t *c)
{
    ck_assert_uint_lt(c->cnt, CUT_MAXPROCS);
    cproc_t *m = &c->procs[c->cnt++];
    snprintf(m->id, sizeof(m->id), "c%03d", c->next++);
    char session[16];
    snprintf(session, sizeof(session), "%d", CUT_SESSION);
    const char *argv[] = {GROUP_MEMBER_BIN,
                          "--zookeeper",
                          c->connect,
                          "--group",
                          GROUP,
                          "--id",
                          m->id,
                          "--topics",
                          "t",
                          "--session-timeout-ms",
                          session,
                          "--events",
                          c->x->qa.path,
                          "--backoff-ms",
                          "300",
                          NULL};
    int sync[2];
    ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0 && !getenv("QUIRE_CUTS_VERBOSE"))
            dup2(devnull, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(sync[1]);
    char ch;
    while (read(sync[0], &ch, 1) < 0 && errno == EINTR)
        ;
    close(sync[0]);
    m->pid = pid;
    qa_note(&c->x->qa, "START", m->id);
    return m;
}

/* Ends member @p i: SIGTERM (a clean leave) or SIGKILL. */
static void churn_end(churn_t *c, size_t i, int sig)
{
    cproc_t *m = &c->procs[i];
    int status;
    if (sig == SIGTERM)
        qa_note(&c->x->qa, "TERM", m->id);
    kill(m->pid, sig);
    int64_t deadline = qt_now_ms() + 20000;
    while (waitpid(m->pid, &status, WNOHANG) == 0) {
        if (qt_now_ms() > deadline) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, &status, 0);
            ck_abort_msg("member %s did not leave in time", m->id);
        }
        qt_sleep_ms(10);
    }
    if (sig == SIGKILL)
        qa_note(&c->x->qa, "KILL", m->id);
    c->procs[i] = c->procs[--c->cnt];
}

/* The longest time a partition of the events file had no holder, leaving
 * out the stretches that began with a SIGKILL (the node outlives the
 * process by a session timeout), before the first full assignment. */
static int64_t longest_unowned(const char *path, int64_t *killed_max)
{
    char holder[CUT_PARTS][64] = {{0}};
    int64_t since[CUT_PARTS] = {0}, worst = 0;
    int by_kill[CUT_PARTS] = {0}, full = 0;
    char line[512];
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    *killed_max = 0;
    while (fgets(line, sizeof(line), fp)) {
        long long ms, off;
        char id[64], what[16], who[64], topic[64];
        int p;
        if (sscanf(line, "%lld %63s %15s", &ms, id, what) != 3)
            continue;
        if (strcmp(id, "test") == 0) {
            if (sscanf(line, "%*s %*s %*s %63s", who) == 1 &&
                strcmp(what, "KILL") == 0)
                for (int i = 0; i < CUT_PARTS; i++)
                    if (strcmp(holder[i], who) == 0) {
                        holder[i][0] = '\0';
                        since[i] = ms;
                        by_kill[i] = 1;
                    }
            continue;
        }
        if (sscanf(line, "%*s %*s %*s %63s %d %lld", topic, &p, &off) != 3 ||
            p < 0 || p >= CUT_PARTS)
            continue;
        if (strcmp(what, "ASSIGN") == 0) {
            if (full && !holder[p][0]) {
                int64_t gap = ms - since[p];
                if (by_kill[p] && gap > *killed_max)
                    *killed_max = gap;
                if (!by_kill[p] && gap > worst)
                    worst = gap;
            }
            snprintf(holder[p], sizeof(holder[p]), "%s", id);
            by_kill[p] = 0;
            int all = 1;
            for (int i = 0; i < CUT_PARTS; i++)
                all &= holder[i][0] != '\0';
            full |= all;
        } else if (strcmp(what, "REVOKE") == 0 && strcmp(holder[p], id) == 0) {
            holder[p][0] = '\0';
            since[p] = ms;
            by_kill[p] = 0;
        }
    }
    fclose(fp);
    return worst;
}

START_TEST(cuts)
{
    ctx_t x;
    churn_t c;
    const char *env = getenv("QUIRE_CUTS");
    int ncuts = env ? atoi(env) : 50;
    const char *senv = getenv("QUIRE_CUTS_SEED");
    unsigned seed = senv ? (unsigned)atol(senv) : (unsigned)qt_now_ms();
    ctx_init(&x);
    memset(&c, 0, sizeof(c));
    c.x = &x;
    c.connect = qt_zkproxy_connect_string(x.proxy, x.chroot);
    topic_create(&x, "t", CUT_PARTS);
    fprintf(stderr, "cuts: %d cuts, seed %u\n", ncuts, seed);
    srand(seed);
    for (int i = 0; i < CUT_MEMBERS; i++)
        churn_start(&c);
    static const char *const rules[] = {
        "cut",
        "cut-reply create 1 /owners/",
        "cut-reply delete 1 /owners/",
        "cut-request delete 1 /owners/",
        "cut-reply set 1 /offsets/",
        "cut-reply create 1 /ids/",
    };
    int64_t t0 = qt_now_ms();
    int changes = 0, made = 0;
    while (made < ncuts) {
        qt_sleep_ms(100 + rand() % 250);
        /* the test's own session lives by its requests */
        qt_zk_exists(x.zh, "/", NULL, false, T_MS);
        /* a cut: all at once, or armed on the next claim, release,
         * commit or registration */
        const char *rule = rules[rand() % (int)QR_ARRAY_LEN(rules)];
        ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "clear"));
        ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "%s", rule));
        made++;
        /* membership changes now and then */
        if (rand() % 5 == 0) {
            size_t i = (size_t)rand() % c.cnt;
            if (c.cnt > 2)
                churn_end(&c, i, rand() % 3 == 0 ? SIGKILL : SIGTERM);
            if (c.cnt < CUT_MEMBERS + 2)
                churn_start(&c);
            changes++;
        }
        qa_update(&x.qa);
        ck_assert_msg(x.qa.violations == 0, "auditor: %s", x.qa.first);
    }
    ck_assert(qt_zkproxy_cmd(x.proxy, T_MS, "clear"));
    const char *live[CUT_MAXPROCS];
    for (size_t i = 0; i < c.cnt; i++)
        live[i] = c.procs[i].id;
    qa_topic_t qt[] = {{"t", CUT_PARTS}};
    char why[256] = "";
    int settled = qa_settled(&x.qa, x.zh, GROUP, qt, 1, live, c.cnt,
                             QR_ASSIGNOR_RANGE, 30000, why, sizeof(why));
    int64_t killed_max, worst = longest_unowned(x.qa.path, &killed_max);
    fprintf(stderr,
            "cuts: %d cuts, %d membership changes in %.1f s; %d assigns, "
            "%d revokes; longest unowned: %lld ms (after a SIGKILL: %lld "
            "ms)\n",
            made, changes, (double)(qt_now_ms() - t0) / 1000, x.qa.assigns,
            x.qa.revokes, (long long)worst, (long long)killed_max);
    ck_assert_msg(x.qa.violations == 0, "auditor: %s", x.qa.first);
    ck_assert_msg(settled, "the group did not settle: %s", why);
    /* a rebalance after the members learn of the change: the lease
     * (3/4 session) plus backoffs, well under 10 s; an orphaned node
     * would keep its partition unowned until the churn ended */
    ck_assert_msg(worst < 10000, "a partition stayed unowned %lld ms",
                  (long long)worst);
    while (c.cnt)
        churn_end(&c, c.cnt - 1, SIGTERM);
    free(c.connect);
    ctx_fini(&x);
}
END_TEST

static Suite *cuts_suite(void)
{
    Suite *s = suite_create("group_cuts");
    TCase *tc = tcase_create("interleavings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, release_reply_lost);
    tcase_add_test(tc, claim_reply_lost);
    tcase_add_test(tc, commit_after_release);
    tcase_add_test(tc, registration_taken);
    tcase_add_test(tc, subscription_change);
    suite_add_tcase(s, tc);
    tc = tcase_create("churn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cuts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 without a server */
    SRunner *sr = srunner_create(cuts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
