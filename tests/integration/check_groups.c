/*
 * check_groups: consumer groups over a real ZooKeeper (DESIGN.md §6, issue
 * 7), with real member processes (group_member) that the tests start, stop
 * cleanly, SIGKILL and SIGSTOP past their session timeout, audited by
 * group_audit (no partition ever has two holders; clean handovers start
 * at the old owner's committed position; after membership settles every
 * partition has exactly one live owner, the assignor's).
 *
 * Runs under tests/harness/with-zk; exits 99 without QUIRE_TEST_ZK. The
 * session-expiry case starts a server of its own (restart-empty). The
 * figures case prints timings; nothing here asserts a speed.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "group_audit.h"
#include "qt_zk.h"

#define T_MS       5000
#define SETTLE_MS  20000
#define SESSION_MS 2000 /* members' session timeout: ~2 s */
#define MAXPROC    96

typedef struct mproc {
    pid_t pid;
    char id[64];
    int stopped; /* SIGSTOPped */
} mproc_t;

typedef struct env {
    char *connect; /* the test's chroot */
    zhandle_t *zh;
    char group[32];
    qa_t qa;
    const char *strategy;
    qr_assignor_kind_t kind;
    const char *topics; /* --topics, or NULL */
    const char *regex;  /* --regex, or NULL */
    int session_ms;
    mproc_t procs[MAXPROC];
    size_t proc_cnt;
    int next_id;
    int changes;          /* membership changes made */
    const char *extra[4]; /* more group_member arguments, or NULL */
} env_t;

static void env_init(env_t *e, const char *strategy, const char *topics,
                     const char *regex)
{
    memset(e, 0, sizeof(*e));
    e->connect = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(e->connect);
    e->zh = qt_zk_connect(e->connect, T_MS);
    ck_assert_ptr_nonnull(e->zh);
    snprintf(e->group, sizeof(e->group), "grp");
    e->strategy = strategy;
    ck_assert_int_eq(qr_assignor_parse(strategy, &e->kind), 0);
    e->topics = topics;
    e->regex = regex;
    e->session_ms = SESSION_MS;
    qa_init(&e->qa);
}

static void topic_create(env_t *e, const char *name, int parts)
{
    char path[256], json[4096];
    size_t off =
        (size_t)snprintf(json, sizeof(json), "{\"version\":1,\"partitions\":{");
    for (int p = 0; p < parts; p++)
        off += (size_t)snprintf(json + off, sizeof(json) - off, "%s\"%d\":[0]",
                                p ? "," : "", p);
    snprintf(json + off, sizeof(json) - off, "}}");
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    int rc = qt_zk_exists(e->zh, path, NULL, false, T_MS);
    if (rc == ZOK)
        rc = qt_zk_set(e->zh, path, json, (int)strlen(json), -1, NULL, T_MS);
    else
        rc = qt_zk_create_all(e->zh, path, json, (int)strlen(json), T_MS);
    ck_assert_int_eq(rc, ZOK);
}

static mproc_t *member_start(env_t *e)
{
    ck_assert_uint_lt(e->proc_cnt, MAXPROC);
    mproc_t *m = &e->procs[e->proc_cnt++];
    snprintf(m->id, sizeof(m->id), "%s_m%03d", e->group, e->next_id++);
    char session[16];
    snprintf(session, sizeof(session), "%d", e->session_ms);
    const char *argv[32];
    int n = 0;
    argv[n++] = GROUP_MEMBER_BIN;
    argv[n++] = "--zookeeper";
    argv[n++] = e->connect;
    argv[n++] = "--group";
    argv[n++] = e->group;
    argv[n++] = "--id";
    argv[n++] = m->id;
    argv[n++] = e->topics ? "--topics" : "--regex";
    argv[n++] = e->topics ? e->topics : e->regex;
    argv[n++] = "--strategy";
    argv[n++] = e->strategy;
    argv[n++] = "--session-timeout-ms";
    argv[n++] = session;
    argv[n++] = "--events";
    argv[n++] = e->qa.path;
    for (int i = 0; i < 4 && e->extra[i]; i++)
        argv[n++] = e->extra[i];
    argv[n] = NULL;
    /* a close-on-exec pipe tells when the child has become group_member:
     * a signal sent before that would hit a copy of this test, with
     * Check's handlers still installed */
    int sync[2];
    ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        /* never outlive the test, whatever happens to it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(sync[1]);
    char c;
    while (read(sync[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(sync[0]);
    m->pid = pid;
    qa_note(&e->qa, "START", m->id);
    e->changes++;
    return m;
}

static void wait_gone(mproc_t *m, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    int status;
    while (waitpid(m->pid, &status, WNOHANG) == 0) {
        if (qt_now_ms() > deadline) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, &status, 0);
            ck_abort_msg("member %s did not exit in time", m->id);
        }
        qt_sleep_ms(10);
    }
    m->pid = 0;
}

static void member_stop(env_t *e, mproc_t *m)
{
    ck_assert_int_gt(m->pid, 0);
    qa_note(&e->qa, "TERM", m->id);
    kill(m->pid, SIGTERM);
    wait_gone(m, 15000);
    e->changes++;
}

static void member_kill(env_t *e, mproc_t *m)
{
    ck_assert_int_gt(m->pid, 0);
    kill(m->pid, SIGKILL);
    wait_gone(m, 5000);
    qa_note(&e->qa, "KILL", m->id);
    e->changes++;
}

static void member_sigstop(env_t *e, mproc_t *m)
{
    int status;
    kill(m->pid, SIGSTOP);
    ck_assert_int_eq(waitpid(m->pid, &status, WUNTRACED), m->pid);
    ck_assert(WIFSTOPPED(status));
    m->stopped = 1;
    qa_note(&e->qa, "STOP", m->id);
    e->changes++;
}

static void member_cont(env_t *e, mproc_t *m)
{
    qa_note(&e->qa, "CONT", m->id);
    kill(m->pid, SIGCONT);
    m->stopped = 0;
    e->changes++;
}

/* The ids of running (not stopped) members. */
static size_t live_ids(const env_t *e, const char **ids)
{
    size_t n = 0;
    for (size_t i = 0; i < e->proc_cnt; i++)
        if (e->procs[i].pid && !e->procs[i].stopped)
            ids[n++] = e->procs[i].id;
    return n;
}

static void settle(env_t *e, const qa_topic_t *topics, size_t topic_cnt)
{
    const char *ids[MAXPROC];
    char why[512] = "";
    size_t n = live_ids(e, ids);
    int ok = qa_settled(&e->qa, e->zh, e->group, topics, topic_cnt, ids, n,
                        e->kind, SETTLE_MS, why, sizeof(why));
    ck_assert_msg(e->qa.violations == 0, "audit: %s", e->qa.first);
    ck_assert_msg(ok, "not settled with %zu live members: %s", n, why);
}

static void env_fini(env_t *e)
{
    for (size_t i = 0; i < e->proc_cnt; i++) {
        mproc_t *m = &e->procs[i];
        if (!m->pid)
            continue;
        kill(m->pid, SIGKILL);
        waitpid(m->pid, NULL, 0);
        m->pid = 0;
    }
    qa_fini(&e->qa);
    qt_zk_close(e->zh);
    free(e->connect);
}

static mproc_t *pick(env_t *e, unsigned *seed)
{
    size_t cand[MAXPROC], n = 0;
    for (size_t i = 0; i < e->proc_cnt; i++)
        if (e->procs[i].pid && !e->procs[i].stopped)
            cand[n++] = i;
    ck_assert_uint_gt(n, 0);
    return &e->procs[cand[rand_r(seed) % n]];
}

/* ---- a first group ---- */

START_TEST(test_join_and_leave)
{
    static const qa_topic_t topics[] = {{"orders", 10}, {"views", 3}};
    env_t e;
    env_init(&e, "range", "orders,views", NULL);
    topic_create(&e, "orders", 10);
    topic_create(&e, "views", 3);
    mproc_t *a = member_start(&e);
    settle(&e, topics, 2);
    member_start(&e);
    member_start(&e);
    settle(&e, topics, 2);
    member_stop(&e, a);
    settle(&e, topics, 2);
    /* offsets were committed as the members consumed */
    char *data = NULL;
    char path[128];
    snprintf(path, sizeof(path), "/consumers/%s/offsets/orders/0", e.group);
    ck_assert_int_eq(qt_zk_get(e.zh, path, &data, NULL, NULL, false, T_MS),
                     ZOK);
    ck_assert_int_gt(atoi(data), 0);
    free(data);
    ck_assert_int_gt(e.qa.handovers_checked, 0);
    env_fini(&e);
}
END_TEST

/* ---- churn: many membership changes, audited ---- */

static const char *const strategies[] = {"range", "roundrobin", "sticky"};

START_TEST(test_churn)
{
    static const qa_topic_t topics[] = {{"ca", 8}, {"cb", 12}};
    env_t e;
    unsigned seed = 1234u + (unsigned)_i;
    env_init(&e, strategies[_i], "ca,cb", NULL);
    topic_create(&e, "ca", 8);
    topic_create(&e, "cb", 12);
    for (int i = 0; i < 4; i++)
        member_start(&e);
    settle(&e, topics, 2);
    int64_t t0 = qt_now_ms();
    int rounds = 0;
    /* `make soak` raises the count */
    const char *soak = getenv("QUIRE_GROUPS_CHANGES");
    int want = soak && atoi(soak) > 0 ? atoi(soak) : 72;
    while (e.changes < want) {
        mproc_t *stopped = NULL;
        for (int c = 0; c < 4; c++) {
            const char *ids[MAXPROC];
            size_t live = live_ids(&e, ids);
            int what = rand_r(&seed) % 4;
            if (live < 3 || (what == 0 && live < 7))
                member_start(&e);
            else if (what == 1)
                member_stop(&e, pick(&e, &seed));
            else if (what == 2 || stopped)
                member_kill(&e, pick(&e, &seed));
            else
                member_sigstop(&e, stopped = pick(&e, &seed));
        }
        settle(&e, topics, 2);
        if (stopped) {
            /* past its session timeout: it wakes up expired, stops, and
             * joins again */
            member_cont(&e, stopped);
            settle(&e, topics, 2);
        }
        rounds++;
    }
    fprintf(stderr,
            "churn %s: %d membership changes in %d rounds, %.1f s; %d "
            "assignments, %d revocations, %d clean handovers checked\n",
            strategies[_i], e.changes, rounds, (qt_now_ms() - t0) / 1000.0,
            e.qa.assigns, e.qa.revokes, e.qa.handovers_checked);
    ck_assert_int_gt(e.qa.handovers_checked, 10);
    env_fini(&e);
}
END_TEST

/* ---- sticky: only what moves is revoked ---- */

static const char *holder_of(const qa_t *qa, const char *topic, int32_t p)
{
    for (size_t i = 0; i < qa->part_cnt; i++)
        if (qa->parts[i].partition == p &&
            strcmp(qa->parts[i].topic, topic) == 0)
            return qa->parts[i].holder;
    ck_abort_msg("%s-%d never seen", topic, (int)p);
    return NULL;
}

START_TEST(test_sticky_incremental)
{
    static const qa_topic_t topics[] = {{"st", 12}};
    env_t e;
    env_init(&e, "sticky", "st", NULL);
    topic_create(&e, "st", 12);
    for (int i = 0; i < 3; i++)
        member_start(&e);
    settle(&e, topics, 1);
    char before[12][QA_ID_MAX];
    for (int p = 0; p < 12; p++)
        memcpy(before[p], holder_of(&e.qa, "st", p), QA_ID_MAX);
    int revokes = e.qa.revokes;
    member_start(&e);
    settle(&e, topics, 1);
    int moved = 0;
    for (int p = 0; p < 12; p++)
        moved += strcmp(before[p], holder_of(&e.qa, "st", p)) != 0;
    /* 12 over 4: each of the three gives up exactly one, and only those
     * three were revoked */
    ck_assert_int_eq(moved, 3);
    ck_assert_int_eq(e.qa.revokes - revokes, 3);
    env_fini(&e);
}
END_TEST

/* ---- subscriptions and topics that change ---- */

START_TEST(test_regex_picks_up_new_topic)
{
    static const qa_topic_t one[] = {{"rx-a", 3}};
    static const qa_topic_t two[] = {{"rx-a", 3}, {"rx-b", 2}};
    env_t e;
    env_init(&e, "roundrobin", NULL, "rx-.*");
    topic_create(&e, "rx-a", 3);
    topic_create(&e, "other", 2);
    member_start(&e);
    member_start(&e);
    settle(&e, one, 1);
    topic_create(&e, "rx-b", 2);
    settle(&e, two, 2);
    char path[128];
    snprintf(path, sizeof(path), "/consumers/%s/owners/other/0", e.group);
    ck_assert_int_eq(qt_zk_exists(e.zh, path, NULL, false, T_MS), ZNONODE);
    env_fini(&e);
}
END_TEST

START_TEST(test_partition_added)
{
    static const qa_topic_t four[] = {{"pa", 4}};
    static const qa_topic_t six[] = {{"pa", 6}};
    env_t e;
    env_init(&e, "range", "pa", NULL);
    topic_create(&e, "pa", 4);
    member_start(&e);
    member_start(&e);
    settle(&e, four, 1);
    topic_create(&e, "pa", 6); /* rewrites the partition list */
    settle(&e, six, 1);
    env_fini(&e);
}
END_TEST

/* ---- offsets are written only when they changed ---- */

START_TEST(test_commit_only_when_changed)
{
    static const qa_topic_t topics[] = {{"oc", 1}};
    env_t e;
    env_init(&e, "range", "oc", NULL);
    topic_create(&e, "oc", 1);
    /* a member that consumes nothing (tick 100 s) but commits every
     * 100 ms: its first commit writes the starting position, and no
     * interval after that writes again */
    e.extra[0] = "--tick-ms";
    e.extra[1] = "100000";
    e.extra[2] = "--commit-ms";
    e.extra[3] = "100";
    member_start(&e);
    settle(&e, topics, 1);
    char path[128];
    snprintf(path, sizeof(path), "/consumers/%s/offsets/oc/0", e.group);
    ck_assert(qt_zk_wait_exists(e.zh, path, true, 10000));
    struct Stat st;
    ck_assert_int_eq(qt_zk_exists(e.zh, path, &st, false, T_MS), ZOK);
    ck_assert_int_eq(st.version, 0);
    qt_sleep_ms(1500);
    ck_assert_int_eq(qt_zk_exists(e.zh, path, &st, false, T_MS), ZOK);
    ck_assert_int_eq(st.version, 0);
    env_fini(&e);
}
END_TEST

/* ---- a node held by someone else: back off, report, never give up ---- */

START_TEST(test_claim_conflict_retries)
{
    static const qa_topic_t topics[] = {{"sq", 2}};
    env_t e;
    env_init(&e, "range", "sq", NULL);
    topic_create(&e, "sq", 2);
    /* another session (think: an older session of the same member that
     * the server has not expired yet) holds sq-0 under the member's own
     * id: its ephemeralOwner is not the member's session, so the member
     * must not take it for its own */
    zhandle_t *squatter = qt_zk_connect(e.connect, T_MS);
    ck_assert_ptr_nonnull(squatter);
    char path[128];
    snprintf(path, sizeof(path), "/consumers/%s/owners/sq", e.group);
    ck_assert_int_eq(qt_zk_create_all(squatter, path, NULL, -1, T_MS), ZOK);
    snprintf(path, sizeof(path), "/consumers/%s/owners/sq/0", e.group);
    const char *id = "grp_m000"; /* member_start()'s first id */
    ck_assert_int_eq(qt_zk_create(squatter, path, id, (int)strlen(id),
                                  ZOO_EPHEMERAL, NULL, T_MS),
                     ZOK);
    member_start(&e);
    /* past rebalance.max.retries (4, 500 ms apart) the member says so */
    int64_t deadline = qt_now_ms() + 15000;
    while (e.qa.rebalance_errors == 0 && qt_now_ms() < deadline) {
        qt_sleep_ms(100);
        qa_update(&e.qa);
    }
    ck_assert_int_gt(e.qa.rebalance_errors, 0);
    ck_assert_int_eq(e.qa.assigns, 0);
    /* and it keeps trying: the node goes, the member takes it */
    qt_zk_close(squatter);
    settle(&e, topics, 1);
    env_fini(&e);
}
END_TEST

/* ---- session expiry: the server restarted empty ---- */

START_TEST(test_session_expiry)
{
    static const qa_topic_t topics[] = {{"ex", 6}};
    qt_zks_t zks;
    ck_assert(qt_zks_start(&zks, 30000));
    env_t e;
    memset(&e, 0, sizeof(e));
    char connect[300];
    snprintf(connect, sizeof(connect), "%s/expiry", zks.hosts);
    e.connect = strdup(connect);
    zhandle_t *root = qt_zk_connect(zks.hosts, T_MS);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(qt_zk_create_all(root, "/expiry", NULL, -1, T_MS), ZOK);
    e.zh = qt_zk_connect(e.connect, T_MS);
    snprintf(e.group, sizeof(e.group), "grp");
    e.strategy = "range";
    e.kind = QR_ASSIGNOR_RANGE;
    e.topics = "ex";
    e.session_ms = 4000;
    qa_init(&e.qa);
    topic_create(&e, "ex", 6);
    for (int i = 0; i < 3; i++)
        member_start(&e);
    settle(&e, topics, 1);
    int revokes = e.qa.revokes;
    qt_zk_close(e.zh);
    qt_zk_close(root);
    ck_assert(qt_zks_restart_empty(&zks, 30000));
    /* everything is gone, topics too: put the topic back as an operator
     * would; the members must find their way by themselves */
    root = qt_zk_connect(zks.hosts, T_MS);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(qt_zk_create_all(root, "/expiry", NULL, -1, T_MS), ZOK);
    e.zh = qt_zk_connect(e.connect, T_MS);
    ck_assert_ptr_nonnull(e.zh);
    topic_create(&e, "ex", 6);
    settle(&e, topics, 1);
    /* every member stopped fetching when its session expired */
    ck_assert_int_ge(e.qa.revokes - revokes, 6);
    env_fini(&e);
    qt_zk_close(root);
    ck_assert(qt_zks_stop(&zks, 30000));
}
END_TEST

/* ---- figures (printed, not asserted) ---- */

START_TEST(test_figures)
{
    static const qa_topic_t topics[] = {{"fig", 64}};
    env_t e;
    env_init(&e, strategies[_i], "fig", NULL);
    e.session_ms = 6000;
    e.qa.expect_parts = 64;
    topic_create(&e, "fig", 64);
    for (int i = 0; i < 10; i++)
        member_start(&e);
    settle(&e, topics, 1);
    /* a new member: from its registration to every partition owned */
    mproc_t *m = member_start(&e);
    char path[128];
    snprintf(path, sizeof(path), "/consumers/%s/ids/%s", e.group, m->id);
    struct Stat st;
    ck_assert(qt_zk_wait_exists(e.zh, path, true, 10000));
    ck_assert_int_eq(qt_zk_exists(e.zh, path, &st, false, T_MS), ZOK);
    e.qa.full_ms = 0;
    settle(&e, topics, 1);
    /* the registration's ctime is wall-clock ms (same machine); the
     * events carry monotonic ms */
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    int64_t skew = (real.tv_sec - mono.tv_sec) * 1000 +
                   (real.tv_nsec - mono.tv_nsec) / 1000000;
    int64_t join_ms = e.qa.full_ms + skew - st.ctime;
    /* a member killed: from the kill to its partitions owned again */
    e.qa.full_ms = 0;
    mproc_t *victim = &e.procs[3];
    int64_t t_kill = qt_now_ms();
    member_kill(&e, victim);
    settle(&e, topics, 1);
    int64_t kill_ms = e.qa.full_ms - t_kill;
    fprintf(stderr,
            "FIGURES %s: 10 members + 1, 64 partitions: all owned %lld ms "
            "after the new registration's ctime; SIGKILL with "
            "zookeeper.session.timeout.ms=6000: all "
            "owned again %lld ms after the kill\n",
            strategies[_i], (long long)join_ms, (long long)kill_ms);
    env_fini(&e);
}
END_TEST

static Suite *groups_suite(void)
{
    Suite *s = suite_create("groups");
    TCase *tc = tcase_create("basic");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_join_and_leave);
    tcase_add_test(tc, test_sticky_incremental);
    tcase_add_test(tc, test_regex_picks_up_new_topic);
    tcase_add_test(tc, test_partition_added);
    tcase_add_test(tc, test_claim_conflict_retries);
    tcase_add_test(tc, test_commit_only_when_changed);
    suite_add_tcase(s, tc);

    for (int i = 0; i < 3; i++) {
        static const char *const names[] = {"churn-range", "churn-roundrobin",
                                            "churn-sticky"};
        tc = tcase_create(names[i]);
        tcase_set_tags(tc, "integration zk slow");
        tcase_set_timeout(tc, 150);
        tcase_add_loop_test(tc, test_churn, i, i + 1);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("expiry");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_session_expiry);
    suite_add_tcase(s, tc);

    tc = tcase_create("figures");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, test_figures, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 when the harness did not provide a server */
    SRunner *sr = srunner_create(groups_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
