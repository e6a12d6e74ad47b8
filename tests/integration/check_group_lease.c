/*
 * check_group_lease: the lease on a group member's partitions (issue 21,
 * item 3; quire(3) "Group membership"): a member SIGSTOPped past its
 * ZooKeeper session returns no record of its old partitions when it is
 * resumed, so the records of a partition come from one member at a time.
 *
 * Each run: a topic of 2 partitions with a backlog, two gc_member
 * processes (one partition each; the first works 2 ms per record, so it
 * always has records fetched and not yet returned), the first SIGSTOPped
 * for 5 s (its session is 2 s), its partition taken over by the second,
 * then SIGCONT. From the members' output (monotonic ms per record): the
 * window between the successor's first record of that partition and the
 * stopped member's last. A window >= 0 (the old member's last record
 * after the successor's first) is an overlap and fails.
 *
 * QUIRE_LEASE_RUNS=N runs N times (2 by default; the figures in the
 * issue's note are from 20) and prints every window.
 *
 * Runs under tests/harness/with-zk; exits 99 without QUIRE_TEST_ZK.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_cluster.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef GC_MEMBER_BIN
#error "GC_MEMBER_BIN must name tests/integration/gc_member"
#endif

#define NREC     4000 /* per partition */
#define STOP_MS  5000 /* past the 2 s session */
#define WAIT_MS  30000
#define MAX_RUNS 100

static qt_cluster_t cl;
static char dir[64];

static void cluster_start(void)
{
    snprintf(dir, sizeof(dir), "/tmp/gc-lease.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, 20000), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "t", 2, 0, 20000), 0);
}

static void cluster_stop(void)
{
    char cmd[128];

    qt_cluster_stop(&cl);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (getenv("GC_KEEP"))
        fprintf(stderr, "members' output kept in %s\n", dir);
    else if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void produce_backlog(void)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod = NULL;
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr, NULL, 0);
    quire_conf_set(conf, "linger.ms", "5", NULL, 0);
    ck_assert_int_eq(quire_producer_new(conf, &prod, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    for (int i = 0; i < 2 * NREC; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", i);

        ck_assert_int_eq(quire_producer_send(prod, "t", i % 2, NULL, 0, v,
                                             (size_t)n, NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(quire_producer_close(prod, 30000), QUIRE_ERR_NONE);
}

static pid_t member_start(const char *group, const char *out)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(GC_MEMBER_BIN, GC_MEMBER_BIN, "--zookeeper", cl.zk_connect,
              "--group", group, "--topic", "t", "--session-timeout-ms", "2000",
              "--fetch-wait-ms", "100", "--commit-ms", "200", "--record-ms",
              "2", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void member_end(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "member ended with status %d", status);
}

/* What one member's output says about @p part. After @p after (the
 * SIGCONT), the member's session has expired: it may join again and be
 * given the partition anew (an A line), but until then it must return
 * none of its records. */
typedef struct trace {
    int assigned;          /* the partition it was given last (A line) */
    long long first, last; /* first and last record of part under its
                              first ownership, 0: none */
    long long after;       /* the SIGCONT, or 0 */
    int late;              /* records of part after it, before a new A */
} trace_t;

static void trace_read(const char *out, int part, long long after, trace_t *t)
{
    char line[256];
    FILE *fp = fopen(out, "r");

    memset(t, 0, sizeof(*t));
    t->assigned = -1;
    t->after = after;
    if (!fp)
        return;
    int again = 0; /* given a partition after the SIGCONT */

    while (fgets(line, sizeof(line), fp)) {
        long long ms, off;
        int p;

        if (line[0] == 'A' && sscanf(line, "A %lld %d", &ms, &p) == 2) {
            t->assigned = p;
            again |= after && ms >= after;
        } else if (line[0] == 'M' &&
                   sscanf(line, "M %lld %d %lld", &ms, &p, &off) == 3 &&
                   p == part && !again) {
            if (!t->first)
                t->first = ms;
            t->last = ms;
            if (after && ms >= after)
                t->late++;
        }
    }
    fclose(fp);
}

/* Waits until both members have been given one partition each (their
 * output is flushed every 200 ms). @returns the first one's partition. */
static int wait_split(const char *out_a, const char *out_b)
{
    long long deadline = qt_now_ms() + WAIT_MS;

    for (;;) {
        trace_t a, b;

        trace_read(out_a, 0, 0, &a);
        trace_read(out_b, 0, 0, &b);
        if (a.assigned >= 0 && b.assigned >= 0 && a.assigned != b.assigned)
            return a.assigned;
        ck_assert_msg(qt_now_ms() < deadline,
                      "the two members never split the partitions");
        qt_sleep_ms(50);
    }
}

/* One run: @returns the window (ms) between the successor's first record
 * of the stopped member's partition and the stopped member's last. */
static long long one_run(int run)
{
    char group[32], out_a[128], out_b[128];
    trace_t a, b;
    int status;

    snprintf(group, sizeof(group), "lease%d", run);
    snprintf(out_a, sizeof(out_a), "%s/%s-a.out", dir, group);
    snprintf(out_b, sizeof(out_b), "%s/%s-b.out", dir, group);
    pid_t pa = member_start(group, out_a);
    qt_sleep_ms(300); /* a first, so it sorts first (range: partition 0) */
    pid_t pb = member_start(group, out_b);
    int part = wait_split(out_a, out_b);
    qt_sleep_ms(500); /* a works through its buffered records */
    ck_assert_int_eq(kill(pa, SIGSTOP), 0);
    ck_assert_int_eq(waitpid(pa, &status, WUNTRACED), pa);
    qt_sleep_ms(STOP_MS);
    long long cont = qt_now_ms();
    ck_assert_int_eq(kill(pa, SIGCONT), 0);
    qt_sleep_ms(2000);
    member_end(pa);
    member_end(pb);
    trace_read(out_a, part, cont, &a);
    trace_read(out_b, part, 0, &b);
    ck_assert_msg(a.last > 0, "run %d: a read nothing of partition %d", run,
                  part);
    ck_assert_msg(b.first > 0,
                  "run %d: b never read partition %d after a stopped", run,
                  part);
    fprintf(stderr,
            "lease run %d: partition %d: a's last record %lld ms, b's first "
            "%lld ms: window %lld ms; a returned %d record(s) after SIGCONT\n",
            run, part, a.last, b.first, a.last - b.first, a.late);
    ck_assert_msg(a.late == 0,
                  "run %d: a returned %d record(s) of partition %d after "
                  "SIGCONT, past its session",
                  run, a.late, part);
    ck_assert_msg(a.last < b.first,
                  "run %d: partition %d: a's last record (%lld) after b's "
                  "first (%lld)",
                  run, part, a.last, b.first);
    return a.last - b.first;
}

START_TEST(stopped_member)
{
    const char *env = getenv("QUIRE_LEASE_RUNS");
    int runs = env ? atoi(env) : 2;
    long long lo = 0, hi = 0;

    ck_assert_int_gt(runs, 0);
    ck_assert_int_le(runs, MAX_RUNS);
    cluster_start();
    produce_backlog();
    for (int r = 0; r < runs; r++) {
        long long w = one_run(r);

        lo = r == 0 || w < lo ? w : lo;
        hi = r == 0 || w > hi ? w : hi;
    }
    fprintf(stderr,
            "lease: %d runs, window (old member's last record minus the "
            "successor's first) from %lld to %lld ms: no overlap\n",
            runs, lo, hi);
    cluster_stop();
}
END_TEST

static Suite *lease_suite(void)
{
    Suite *s = suite_create("group_lease");
    TCase *tc = tcase_create("lease");
    const char *env = getenv("QUIRE_LEASE_RUNS");
    int runs = env ? atoi(env) : 2;

    /* about 10 s a run */
    tcase_set_timeout(tc, 40 + 20 * (runs > 0 && runs <= MAX_RUNS ? runs : 1));
    tcase_add_test(tc, stopped_member);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 without a server */
    SRunner *sr = srunner_create(lease_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
