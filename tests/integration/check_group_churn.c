/*
 * check_group_churn: libquire's group consumer in real consumer processes
 * (gc_member) against a real ZooKeeper and a real broker (issue 7, "no
 * loss, ordering" and "sticky keeps unmoved partitions flowing").
 *
 * churn: a producer thread writes numbered records to a 12-partition topic
 * while members are started, stopped cleanly (SIGTERM), SIGKILLed and
 * SIGSTOPped past their ZooKeeper session (2 s) and resumed. Then:
 *   - the union of the members' output holds every record produced;
 *   - within each ownership (assigned .. revoked) a member reads its
 *     partition in offset order without a hole, from where it was told;
 *     over its whole life, each partition in increasing offset order;
 *   - a member reads only partitions it owns, by its own account;
 *   - every record is read, and every read of it after the first at the
 *     same offset is excused by the one event that can cause it: it
 *     or an earlier read of it was made by a SIGSTOPped member after its
 *     session expired (between SIGCONT and the revocation that tells it
 *     so), or an earlier read was made by a member that was SIGKILLed or
 *     SIGSTOPped past its session afterwards, at an offset it had not
 *     committed (its C lines) before that, and the read again comes after
 *     it. A clean stop excuses nothing, and neither does a member's
 *     pause for the records it read after coming back;
 *   - a SIGSTOPped member's session did expire (it says so) and it comes
 *     back by itself: it is assigned partitions again after SIGCONT;
 *   - a record at two offsets (a produce retried after its answer was
 *     lost: acks=all without idempotence allows it) is two records, each
 *     checked as above; they are counted and printed.
 * Run for range and for sticky.
 *
 * console: quire-console-consumer --group processes: --max-messages
 * commits exactly what it printed; two members share the topic and,
 * stopped with SIGTERM, leave no record unread and none read twice;
 * --whitelist reads every record of every topic whose whole name matches
 * once, also of a topic created after it subscribed, and none of topics
 * the pattern matches only a part of.
 *
 * sticky_flow: two sticky members consume while a third joins; the 8
 * partitions that stay with their owner are never revoked and keep
 * flowing: the join adds no gap to their consumption longer than one
 * fetch wait (fetch.max.wait.ms) over the gaps the same partitions show
 * just before it (the machine's load makes those). The gap is measured
 * from each partition's last read before the join to its first read
 * after the rebalance, however late, over every read between; each gap
 * from when its record was reported delivered, if that came later (a
 * stalled producer or broker stalls every partition, moved or not, and
 * is not the group's doing). The gaps are printed.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
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

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif
#ifndef GC_MEMBER_BIN
#error "GC_MEMBER_BIN must name tests/integration/gc_member"
#endif
#ifndef QT_CONSOLE_BIN
#error "QT_CONSOLE_BIN must name tools/quire-console-consumer"
#endif

#define NPART    12
#define MAXMEM   16
#define MAXREC   20000
#define FETCH_MS 300

static qt_cluster_t cl;
static char dir[64];

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void cluster_start(const char *topic)
{
    snprintf(dir, sizeof(dir), "/tmp/gc-churn.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, 20000), 0);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, topic, NPART, 0, 20000), 0);
}

static void cluster_stop(void)
{
    char cmd[128];

    qt_cluster_stop(&cl);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (getenv("GC_KEEP")) /* the members' files, to look at */
        fprintf(stderr, "members' output kept in %s\n", dir);
    else if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* ---- the producer thread: record i ("i") to partition i % 12 ---- */

typedef struct producer {
    pthread_t th;
    const char *topic;
    int interval_us;
    volatile int stop;
    int sent;
    int failed; /* delivery errors (atomic) */
} producer_t;

/* when record i was reported delivered (acks=all: readable), mono ms */
static long long acked_at[MAXREC];

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    producer_t *p = opaque;
    intptr_t i = (intptr_t)dr->opaque - 1;

    if (dr->err != QUIRE_ERR_NONE)
        __atomic_add_fetch(&p->failed, 1, __ATOMIC_RELAXED);
    else if (i >= 0 && i < MAXREC)
        __atomic_store_n(&acked_at[i], mono_ms(), __ATOMIC_RELAXED);
}

static void *produce_main(void *arg)
{
    producer_t *p = arg;
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod = NULL;
    char errstr[256];

    quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr, NULL, 0);
    quire_conf_set(conf, "acks", "all", NULL, 0);
    quire_conf_set(conf, "linger.ms", "5", NULL, 0);
    quire_conf_set_delivery_cb(conf, on_delivery, p);
    if (quire_producer_new(conf, &prod, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        fprintf(stderr, "producer: %s\n", errstr);
        p->failed = -1;
        return NULL;
    }
    while (!p->stop && p->sent < MAXREC) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", p->sent);

        if (quire_producer_send(
                prod, p->topic, p->sent % NPART, NULL, 0, v, (size_t)n, NULL, 0,
                0, (void *)(intptr_t)(p->sent + 1)) != QUIRE_ERR_NONE)
            __atomic_add_fetch(&p->failed, 1, __ATOMIC_RELAXED);
        p->sent++;
        usleep((useconds_t)p->interval_us);
    }
    if (quire_producer_close(prod, 30000) != QUIRE_ERR_NONE)
        __atomic_add_fetch(&p->failed, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* ---- members ---- */

enum { M_LIVE, M_TERM, M_KILL };

/* a commit the member printed (C line): ZooKeeper had it by then */
typedef struct commit {
    long long at, off;
    int p;
} commit_t;

typedef struct member {
    pid_t pid;
    char out[128];
    int fate;          /* M_LIVE, M_TERM (clean stop), M_KILL */
    long long stop_at; /* SIGSTOP (past the session), mono ms; 0: never */
    long long cont_at; /* just before its SIGCONT */
    long long kill_at; /* just before its SIGKILL; 0: never */
    /* from its file (member_check): */
    long long zombie_to; /* after cont_at, until this revocation, it read
                            with its session expired */
    commit_t *commits;
    int ncommits;
} member_t;

static member_t mem[MAXMEM];
static int nmem;

static int member_start(const char *group, const char *topic,
                        const char *strategy)
{
    member_t *m = &mem[nmem];
    pid_t pid;

    ck_assert_int_lt(nmem, MAXMEM);
    memset(m, 0, sizeof(*m));
    snprintf(m->out, sizeof(m->out), "%s/m%d.out", dir, nmem);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char fetch[16];
        int fd = open(m->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        snprintf(fetch, sizeof(fetch), "%d", FETCH_MS);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(GC_MEMBER_BIN, GC_MEMBER_BIN, "--zookeeper", cl.zk_connect,
              "--group", group, "--topic", topic, "--strategy", strategy,
              "--session-timeout-ms", "2000", "--fetch-wait-ms", fetch,
              "--commit-ms", "300", (char *)NULL);
        _exit(127);
    }
    m->pid = pid;
    return nmem++;
}

static void member_term(int k)
{
    int status;

    ck_assert_int_eq(kill(mem[k].pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(mem[k].pid, &status, 0), mem[k].pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "member %d: status %d", k, status);
    mem[k].fate = M_TERM;
    mem[k].pid = 0;
}

static void member_kill(int k)
{
    mem[k].kill_at = mono_ms();
    kill(mem[k].pid, SIGKILL);
    waitpid(mem[k].pid, NULL, 0);
    mem[k].fate = M_KILL;
    mem[k].pid = 0;
}

/* SIGSTOP for @p ms (past the 2 s session), then SIGCONT. */
static void member_pause(int k, int ms)
{
    ck_assert_msg(!mem[k].stop_at, "m%d paused twice", k);
    mem[k].stop_at = mono_ms();
    ck_assert_int_eq(kill(mem[k].pid, SIGSTOP), 0);
    msleep(ms);
    mem[k].cont_at = mono_ms();
    ck_assert_int_eq(kill(mem[k].pid, SIGCONT), 0);
}

/* ---- reading what the members wrote ---- */

typedef struct seen {
    int member;
    long long at;
    long long off;
    int zombie; /* read with the member's session expired */
} seen_t;

/* per record: who read it and when */
static seen_t *reads[MAXREC];
static int nreads[MAXREC];

static void reads_add(int rec, seen_t s)
{
    reads[rec] =
        realloc(reads[rec], (size_t)(nreads[rec] + 1) * sizeof(seen_t));
    ck_assert_ptr_nonnull(reads[rec]);
    reads[rec][nreads[rec]++] = s;
}

static void reads_free(void)
{
    for (int i = 0; i < MAXREC; i++) {
        free(reads[i]);
        reads[i] = NULL;
        nreads[i] = 0;
    }
    for (int k = 0; k < nmem; k++) {
        free(mem[k].commits);
        mem[k].commits = NULL;
        mem[k].ncommits = 0;
    }
}

/* Member @p k's last commit of partition @p p printed before @p t: the
 * next offset to read; -1 when none. */
static long long committed_before(int k, int p, long long t)
{
    long long off = -1;

    for (int i = 0; i < mem[k].ncommits; i++)
        if (mem[k].commits[i].p == p && mem[k].commits[i].at < t)
            off = mem[k].commits[i].off;
    return off;
}

/* Whether @p b, a later read of the record @p a read, is excused: one of
 * them read by a member whose session had expired, or @p a at an offset
 * its member had not committed when it was SIGKILLed or SIGSTOPped, and
 * @p b after that. */
static int dup_excused(int p, const seen_t *a, const seen_t *b)
{
    const member_t *m = &mem[a->member];

    if (a->zombie || b->zombie)
        return 1;
    /* a SIGSTOPped member printed nothing between SIGSTOP and SIGCONT:
     * what it printed before SIGCONT it did before the stop */
    if (m->stop_at && a->at < m->cont_at && b->at >= m->stop_at &&
        a->off >= committed_before(a->member, p, m->cont_at))
        return 1;
    /* everything a SIGKILLed member printed came before the kill */
    if (m->kill_at && b->at >= m->kill_at &&
        a->off >= committed_before(a->member, p, LLONG_MAX))
        return 1;
    return 0;
}

/* Parses member @p k's file: ordering inside each ownership and over its
 * life; its commits and, when it was paused, whether its session expired
 * and until when it read without knowing; fills reads[]. @returns the
 * time of its last 'A' line. */
static long long member_check(int k, long long *first_a_after_resume)
{
    FILE *f = fopen(mem[k].out, "r");
    member_t *m = &mem[k];
    long long next[NPART], last[NPART], last_a = 0;
    int owned[NPART], expired = 0;
    char line[256];

    ck_assert_ptr_nonnull(f);
    for (int p = 0; p < NPART; p++) {
        next[p] = -1;
        last[p] = -1;
        owned[p] = 0;
    }
    *first_a_after_resume = 0;
    /* the zombie window ends at the first revocation (or assignment)
     * after SIGCONT: the expiry revokes everything at once */
    m->zombie_to = m->cont_at ? LLONG_MAX : 0;
    while (m->cont_at && fgets(line, sizeof(line), f)) {
        char kind;
        long long at;

        if (sscanf(line, "%c %lld", &kind, &at) == 2 && at >= m->cont_at) {
            if (kind == 'E' && strstr(line, "expired"))
                expired = 1;
            if ((kind == 'R' || kind == 'A') && m->zombie_to == LLONG_MAX)
                m->zombie_to = at;
        }
    }
    ck_assert_msg(!m->cont_at || expired,
                  "m%d: SIGSTOPped past its session, but no session "
                  "expiry reported after SIGCONT",
                  k);
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        char kind;
        long long at, off;
        int p, v;

        if (!strchr(line, '\n'))
            break; /* a line cut by SIGKILL */
        if (sscanf(line, "%c %lld %d %lld", &kind, &at, &p, &off) < 2)
            continue;
        if (kind == 'A') {
            ck_assert(p >= 0 && p < NPART);
            ck_assert_msg(!owned[p], "m%d: p%d assigned twice", k, p);
            owned[p] = 1;
            next[p] = off == QUIRE_OFFSET_BEGINNING ? 0 : off;
            last_a = at;
            if (m->cont_at && at > m->cont_at && !*first_a_after_resume)
                *first_a_after_resume = at;
        } else if (kind == 'R') {
            ck_assert(p >= 0 && p < NPART);
            ck_assert_msg(owned[p], "m%d: p%d revoked, not owned", k, p);
            owned[p] = 0;
        } else if (kind == 'C') {
            ck_assert(p >= 0 && p < NPART);
            m->commits = realloc(m->commits, (size_t)(m->ncommits + 1) *
                                                 sizeof(*m->commits));
            ck_assert_ptr_nonnull(m->commits);
            m->commits[m->ncommits++] = (commit_t){at, off, p};
        } else if (kind == 'M') {
            ck_assert_int_eq(
                sscanf(line, "M %lld %d %lld %d", &at, &p, &off, &v), 4);
            ck_assert(p >= 0 && p < NPART && v >= 0 && v < MAXREC);
            ck_assert_msg(v % NPART == p, "m%d: record %d in p%d", k, v, p);
            ck_assert_msg(owned[p], "m%d: record %d of p%d, not owned", k, v,
                          p);
            if (owned[p] && next[p] >= 0)
                ck_assert_msg(off == next[p],
                              "m%d: p%d offset %lld, expected %lld (a hole "
                              "or a step back)",
                              k, p, off, next[p]);
            ck_assert_msg(off > last[p],
                          "m%d: p%d offset %lld after %lld: out of order", k, p,
                          off, last[p]);
            last[p] = off;
            next[p] = off + 1;
            reads_add(v, (seen_t){k, at, off,
                                  m->cont_at && at >= m->cont_at &&
                                      at <= m->zombie_to});
        }
    }
    fclose(f);
    return last_a;
}

/* Records read so far, over every member's file (for waiting). */
static int distinct_read(int total)
{
    static char got[MAXREC];
    int n = 0;

    memset(got, 0, sizeof(got));
    for (int k = 0; k < nmem; k++) {
        FILE *f = fopen(mem[k].out, "r");
        char line[256];

        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            long long at, off;
            int p, v;

            if (sscanf(line, "M %lld %d %lld %d", &at, &p, &off, &v) == 4 &&
                v >= 0 && v < total && !got[v]) {
                got[v] = 1;
                n++;
            }
        }
        fclose(f);
    }
    return n;
}

static int seen_cmp(const void *a, const void *b)
{
    const seen_t *x = a, *y = b;

    return (x->at > y->at) - (x->at < y->at);
}

static const char *const strategies[] = {"range", "sticky"};

START_TEST(test_churn)
{
    const char *strategy = strategies[_i];
    char group[32];
    producer_t prod = {.topic = "churn", .interval_us = 4000};
    int kills = 0, stops = 0, terms = 0, dups = 0, written_twice = 0;
    long long t0 = mono_ms();

    snprintf(group, sizeof(group), "churn-%s", strategy);
    nmem = 0;
    cluster_start("churn");
    member_start(group, "churn", strategy); /* m0 */
    member_start(group, "churn", strategy); /* m1 */
    member_start(group, "churn", strategy); /* m2 */
    ck_assert_int_eq(pthread_create(&prod.th, NULL, produce_main, &prod), 0);
    msleep(2500);
    member_start(group, "churn", strategy); /* m3 */
    msleep(1200);
    member_term(1), terms++;
    msleep(1200);
    member_kill(2), kills++;
    member_start(group, "churn", strategy); /* m4 */
    msleep(1200);
    member_pause(0, 3500), stops++; /* past the 2 s session */
    msleep(1500);
    member_start(group, "churn", strategy); /* m5 */
    msleep(1000);
    member_kill(3), kills++;
    msleep(1200);
    member_term(4), terms++;
    member_start(group, "churn", strategy); /* m6 */
    msleep(1200);
    member_pause(5, 3000), stops++;
    msleep(1000);
    member_kill(6), kills++;
    member_start(group, "churn", strategy); /* m7 */
    msleep(1500);
    member_term(0), terms++;
    msleep(1500);
    prod.stop = 1;
    ck_assert_int_eq(pthread_join(prod.th, NULL), 0);
    ck_assert_int_eq(prod.failed, 0);
    /* the survivors (m5, m7) read the rest */
    for (long long until = mono_ms() + 30000;
         distinct_read(prod.sent) < prod.sent && mono_ms() < until;)
        msleep(200);
    for (int k = 0; k < nmem; k++)
        if (mem[k].pid)
            member_term(k);
    fprintf(stderr,
            "churn %s: %d records, %d members, %d clean stops, %d "
            "SIGKILLs, %d SIGSTOPs, %.1f s\n",
            strategy, prod.sent, nmem, terms, kills, stops,
            (double)(mono_ms() - t0) / 1000);

    /* per member: ordering, ownership; and the expired ones came back */
    for (int k = 0; k < nmem; k++) {
        long long back = 0;

        member_check(k, &back);
        if (mem[k].stop_at && mem[k].fate == M_TERM)
            ck_assert_msg(back > 0,
                          "m%d: not assigned again after its session "
                          "expired and it resumed",
                          k);
    }
    /* no loss; each read again of the same copy (offset) excused by its
     * own event. A record at two offsets was written twice: a produce
     * retried after its answer was lost, which acks=all without
     * idempotence allows; each copy is a record of its own, counted. */
    for (int v = 0; v < prod.sent; v++) {
        seen_t *r = reads[v];
        int copies = 1, again = 0;

        ck_assert_msg(nreads[v] > 0, "record %d was never read", v);
        qsort(r, (size_t)nreads[v], sizeof(*r), seen_cmp);
        for (int i = 1; i < nreads[v]; i++) {
            int ok = 0, same = 0;

            for (int j = 0; j < i && !ok; j++) {
                if (r[j].off != r[i].off)
                    continue;
                same = 1;
                ok = dup_excused(v % NPART, &r[j], &r[i]);
            }
            if (!same) { /* the first read of another copy */
                copies++;
                continue;
            }
            again = 1;
            ck_assert_msg(ok,
                          "record %d (p%d offset %lld) read by m%d at %lld "
                          "and again by m%d at %lld: no SIGKILL, no "
                          "SIGSTOP before an uncommitted read, no expired "
                          "session explains it",
                          v, v % NPART, r[i].off, r[0].member, r[0].at - t0,
                          r[i].member, r[i].at - t0);
        }
        dups += again;
        written_twice += copies > 1;
    }
    fprintf(stderr,
            "churn %s: every record read; %d read more than once; %d "
            "written more than once (produce retries)\n",
            strategy, dups, written_twice);
    reads_free();
    cluster_stop();
}
END_TEST

/* The gap before a read at @p at of record @p v, the previous read at
 * @p prev: counted from when the record could be read (reported
 * delivered), when that came later; a producer or broker that stalls is
 * not the consumer's gap. */
static long long read_gap(long long prev, long long at, int v)
{
    long long ready = v >= 0 && v < MAXREC
                          ? __atomic_load_n(&acked_at[v], __ATOMIC_RELAXED)
                          : 0;

    return at - (ready > prev ? ready : prev);
}

/* Largest gap between consecutive reads of partition @p p by member @p k
 * within [from, to] (read_gap); -1 when it read nothing there. */
static long long max_gap(int k, int p, long long from, long long to)
{
    FILE *f = fopen(mem[k].out, "r");
    long long prev = -1, gap = -1;
    char line[256];

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        long long at, off;
        int q, v;

        if (sscanf(line, "M %lld %d %lld %d", &at, &q, &off, &v) != 4 ||
            q != p || at < from || at > to)
            continue;
        if (prev >= 0 && read_gap(prev, at, v) > gap)
            gap = read_gap(prev, at, v);
        prev = at;
    }
    fclose(f);
    return gap;
}

/* Largest gap in member @p k's reads of partition @p p across a join:
 * from its last read before @p join to its first read after @p after,
 * however late, over every read between; -1 when @p p was not its own
 * at the join or it read nothing of it before. Sets *moved when @p p was
 * assigned or revoked from
 * @p join until @p end (when the members are stopped), and *stalled when
 * no read came after @p after at all (the gap is then counted to the
 * member's exit). */
static long long join_gap(int k, int p, long long join, long long after,
                          long long end, int *moved, int *stalled)
{
    FILE *f = fopen(mem[k].out, "r");
    long long prev = -1, gap = -1;
    int done = 0, owned = 0, v;
    char line[256];

    ck_assert_ptr_nonnull(f);
    *moved = *stalled = 0;
    while (fgets(line, sizeof(line), f)) {
        char kind;
        long long at, off;
        int q;

        if (sscanf(line, "%c %lld", &kind, &at) != 2)
            continue;
        if (kind == 'X') { /* its clean exit: the end of its reads */
            if (!done && prev >= 0) {
                *stalled = 1;
                if (at - prev > gap)
                    gap = at - prev;
            }
            break;
        }
        if (sscanf(line, "%c %lld %d %lld", &kind, &at, &q, &off) != 4 ||
            q != p)
            continue;
        if ((kind == 'A' || kind == 'R') && at < join)
            owned = kind == 'A'; /* whose it is when the third joins */
        if ((kind == 'A' || kind == 'R') && at >= join && at < end)
            *moved = 1;
        if (kind != 'M' || done)
            continue;
        if (sscanf(line, "M %lld %d %lld %d", &at, &q, &off, &v) != 4)
            v = -1;
        if (at >= join && prev >= 0 && read_gap(prev, at, v) > gap)
            gap = read_gap(prev, at, v);
        prev = at;
        if (at > after)
            done = 1;
    }
    fclose(f);
    if (!owned)
        return -1;
    return prev >= 0 ? (gap < 0 ? 0 : gap) : -1;
}

/* The time of member @p k's first A line; 0 when none yet. */
static long long first_assigned(int k)
{
    FILE *f = fopen(mem[k].out, "r");
    char line[256];
    long long at = 0;

    if (!f)
        return 0;
    while (!at && fgets(line, sizeof(line), f))
        if (sscanf(line, "A %lld", &at) != 1)
            at = 0;
    fclose(f);
    return at;
}

START_TEST(test_sticky_flow)
{
    producer_t prod = {.topic = "flow", .interval_us = 3000};
    long long join_at, settled = 0, worst = 0, worst_moved = 0, base;
    long long worst_base = 0, end;
    int unmoved = 0, stalled_any = 0;

    nmem = 0;
    memset(acked_at, 0, sizeof(acked_at));
    cluster_start("flow");
    member_start("flow", "flow", "sticky");
    member_start("flow", "flow", "sticky");
    ck_assert_int_eq(pthread_create(&prod.th, NULL, produce_main, &prod), 0);
    msleep(4000); /* settled, records flowing: one every 36 ms a partition */
    join_at = mono_ms();
    member_start("flow", "flow", "sticky");
    /* the join's assignment: the new member's first (later ones come from
     * the others leaving at the end); records keep coming well after it */
    for (long long until = join_at + 20000;
         !(settled = first_assigned(2)) && mono_ms() < until;)
        msleep(100);
    msleep(3000);
    prod.stop = 1;
    ck_assert_int_eq(pthread_join(prod.th, NULL), 0);
    msleep(1000);
    end = mono_ms();
    for (int k = 0; k < nmem; k++)
        member_term(k);
    ck_assert_msg(settled > 0, "the third member got no partition");
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < NPART; p++) {
            int moved, stalled;
            long long g =
                join_gap(k, p, join_at, settled, end, &moved, &stalled);

            if (g < 0)
                continue; /* not this member's */
            if (moved) {  /* printed: its gaps while it was here */
                g = max_gap(k, p, join_at - 1000, settled + 1000);
                if (g > worst_moved)
                    worst_moved = g;
                continue;
            }
            unmoved++;
            stalled_any |= stalled;
            if (g > worst)
                worst = g;
            base = max_gap(k, p, join_at - 3500, join_at - 1000);
            if (base > worst_base)
                worst_base = base;
            fprintf(stderr,
                    "sticky: m%d p%d unmoved, longest gap across the join "
                    "%lld ms%s (before the join: %lld ms)\n",
                    k, p, g, stalled ? ", never read again" : "", base);
        }
    fprintf(stderr,
            "sticky: join to settled %lld ms; %d unmoved partitions, "
            "longest gap %lld ms (before the join %lld ms; fetch wait %d "
            "ms); moved ones, around the join: %lld ms\n",
            settled - join_at, unmoved, worst, worst_base, FETCH_MS,
            worst_moved);
    /* 6 + 6 -> 4 + 4 + 4: sticky moves 4 and leaves 8 alone (never
     * revoked, so never stopped) */
    ck_assert_int_eq(unmoved, 8);
    ck_assert_msg(!stalled_any,
                  "an unmoved partition was never read again after the "
                  "join");
    /* The machine is shared: gaps of a few hundred ms come and go with
     * the load, join or not. So the join is measured against the same
     * partitions just before it: it may not add a stall longer than one
     * fetch wait to what the load already does. */
    ck_assert_msg(worst <= worst_base + FETCH_MS,
                  "an unmoved partition stalled %lld ms across the join "
                  "(before it: %lld ms; one fetch wait: %d ms)",
                  worst, worst_base, FETCH_MS);
    cluster_stop();
}
END_TEST

/* ---- quire-console-consumer --group ---- */

/* @p n records "first".."first+n-1" to partition i % @p parts,
 * delivered. */
static void produce_sync(const char *topic, int parts, int first, int n)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *p = NULL;
    char errstr[256];

    quire_conf_set(conf, "bootstrap.servers", cl.b[0]->addr, NULL, 0);
    quire_conf_set(conf, "acks", "all", NULL, 0);
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int i = first; i < first + n; i++) {
        char v[16];
        int len = snprintf(v, sizeof(v), "%d", i);

        ck_assert_int_eq(quire_producer_send(p, topic, i % parts, NULL, 0, v,
                                             (size_t)len, NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
}

/* A quire-console-consumer in group @p group printing to @p out, reading
 * "cons" or, with @p whitelist, the topics matching it (with @p max:
 * --max-messages). */
static pid_t console_start(const char *out, const char *group,
                           const char *whitelist, const char *max)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(QT_CONSOLE_BIN, QT_CONSOLE_BIN, "--zookeeper", cl.zk_connect,
              "--group", group, whitelist ? "--whitelist" : "--topic",
              whitelist ? whitelist : "cons", "--from-beginning",
              "--consumer-property", "fetch.max.wait.ms=100",
              "--consumer-property", "auto.commit.interval.ms=300",
              "--consumer-property", "zookeeper.session.timeout.ms=2000",
              max ? "--max-messages" : (char *)NULL, max, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Lines in file @p path. */
static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;

    if (!f)
        return 0;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* Counts the values in @p text (one a line) into @p got[]. */
static void count_values(const char *text, int *got, int max)
{
    for (const char *l = text; l && *l;) {
        int v = atoi(l);

        ck_assert_msg(v >= 0 && v < max, "unexpected line in output: %.20s", l);
        got[v]++;
        l = strchr(l, '\n');
        l = l ? l + 1 : NULL;
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static long long committed_sum(zhandle_t *zh, const char *group)
{
    long long sum = 0;

    for (int p = 0; p < NPART; p++) {
        char path[128], *data = NULL;

        snprintf(path, sizeof(path), "/consumers/%s/offsets/cons/%d", group, p);
        if (qt_zk_get(zh, path, &data, NULL, NULL, false, 10000) == ZOK)
            sum += atoll(data);
        free(data);
    }
    return sum;
}

/* --whitelist: records per topic, the largest value + 1, what it reads */
#define WL_N       60
#define WL_MAX     3200
#define WL_TOTAL_S "840" /* cons 720 + cots + coas */

START_TEST(test_console)
{
    enum { N1 = 600, N2 = 120, N = N1 + N2 };
    static int got[N];
    static int wgot[WL_MAX];
    char outb[128], outc[128], outw[128];
    char *argv[] = {QT_CONSOLE_BIN,
                    "--zookeeper",
                    NULL,
                    "--group",
                    "cg",
                    "--topic",
                    "cons",
                    "--from-beginning",
                    "--max-messages",
                    "100",
                    NULL};
    qt_run_result_t res;
    zhandle_t *zh;
    int status, total = 0, dups = 0;
    pid_t b, c, w;
    long long until;

    memset(got, 0, sizeof(got));
    cluster_start("cons");
    zh = qt_zk_connect(cl.zk_connect, 10000);
    ck_assert_ptr_nonnull(zh);
    argv[2] = cl.zk_connect;
    produce_sync("cons", NPART, 0, N1);

    /* --max-messages: prints 100, commits those 100, leaves */
    ck_assert_int_eq(qt_run(argv, NULL, 60000, &res), 0);
    ck_assert_msg(res.status == 0, "exit %d: %s", res.status, res.err);
    count_values(res.out, got, N);
    for (int v = 0; v < N; v++)
        total += got[v];
    ck_assert_int_eq(total, 100);
    ck_assert_ptr_nonnull(strstr(res.err, "Processed a total of 100"));
    qt_run_free(&res);
    ck_assert_int_eq(committed_sum(zh, "cg"), 100);

    /* two members share the rest; SIGTERM leaves cleanly */
    snprintf(outb, sizeof(outb), "%s/b.out", dir);
    snprintf(outc, sizeof(outc), "%s/c.out", dir);
    b = console_start(outb, "cg", NULL, NULL);
    c = console_start(outc, "cg", NULL, NULL);
    for (until = mono_ms() + 30000;
         committed_sum(zh, "cg") < N1 && mono_ms() < until;)
        msleep(200);
    ck_assert_int_eq(committed_sum(zh, "cg"), N1);
    ck_assert_int_eq(kill(b, SIGTERM), 0);
    ck_assert_int_eq(waitpid(b, &status, 0), b);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    produce_sync("cons", NPART, N1, N2); /* now all C's */
    for (until = mono_ms() + 30000;
         committed_sum(zh, "cg") < N && mono_ms() < until;)
        msleep(200);
    ck_assert_int_eq(kill(c, SIGTERM), 0);
    ck_assert_int_eq(waitpid(c, &status, 0), c);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(committed_sum(zh, "cg"), N);
    {
        char *tb = slurp(outb), *tc = slurp(outc);

        count_values(tb, got, N);
        count_values(tc, got, N);
        ck_assert_msg(*tb && *tc, "a member printed nothing");
        free(tb);
        free(tc);
    }
    for (int v = 0; v < N; v++) {
        ck_assert_msg(got[v] > 0, "record %d never printed", v);
        dups += got[v] > 1;
    }
    ck_assert_msg(dups == 0, "%d records printed twice by clean members", dups);
    /* the owner nodes went with them */
    ck_assert_int_eq(
        qt_zk_exists(zh, "/consumers/cg/owners/cons/0", NULL, false, 10000),
        ZNONODE);

    /* --whitelist, in another group: every topic whose whole name
     * matches, one of them created after the subscription; no other.
     * Values name the topic: cons 0.., cots 1000.., coas 2000.. (created
     * later), conss 3000.. and xcons 3100.. (no match). */
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "cots", 3, 0, 20000), 0);
    produce_sync("cots", 3, 1000, WL_N);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "conss", 3, 0, 20000),
                     0); /* co.s matches a prefix only */
    produce_sync("conss", 3, 3000, WL_N);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "xcons", 3, 0, 20000),
                     0); /* and here a suffix only */
    produce_sync("xcons", 3, 3100, WL_N);
    snprintf(outw, sizeof(outw), "%s/w.out", dir);
    w = console_start(outw, "cw", "co.s|nomatch", WL_TOTAL_S);
    for (until = mono_ms() + 30000;
         count_lines(outw) < N + WL_N && mono_ms() < until;)
        msleep(100);
    ck_assert_msg(count_lines(outw) == N + WL_N,
                  "--whitelist printed %d records of the topics there "
                  "before it, not %d",
                  count_lines(outw), N + WL_N);
    ck_assert_int_eq(qt_cluster_topic_create(&cl, "coas", 3, 0, 20000), 0);
    produce_sync("coas", 3, 2000, WL_N);
    for (until = mono_ms() + 30000;
         waitpid(w, &status, WNOHANG) == 0 && mono_ms() < until;)
        msleep(100);
    if (mono_ms() >= until) { /* what it printed says what is missing */
        kill(w, SIGKILL);
        waitpid(w, &status, 0);
    }
    memset(wgot, 0, sizeof(wgot));
    {
        char *tw = slurp(outw);

        count_values(tw, wgot, WL_MAX);
        free(tw);
    }
    for (int v = 0; v < WL_MAX; v++) {
        int want = v < N || (v >= 1000 && v < 1000 + WL_N) ||
                   (v >= 2000 && v < 2000 + WL_N);

        ck_assert_msg(wgot[v] == want,
                      "--whitelist printed record %d %d times, want %d (%s)", v,
                      wgot[v], want,
                      v >= 3100   ? "xcons: no match"
                      : v >= 3000 ? "conss: no match"
                      : v >= 2000 ? "coas, created after the subscription"
                      : v >= 1000 ? "cots"
                                  : "cons");
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "--whitelist --max-messages " WL_TOTAL_S ": status %d",
                  status);
    qt_zk_close(zh);
    cluster_stop();
}
END_TEST

static Suite *churn_suite(void)
{
    Suite *s = suite_create("group_churn");
    TCase *tc = tcase_create("churn");

    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 110);
    tcase_add_loop_test(tc, test_churn, 0,
                        (int)(sizeof(strategies) / sizeof(strategies[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("console");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_console);
    suite_add_tcase(s, tc);
    tc = tcase_create("sticky_flow");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sticky_flow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    qt_zk_env(); /* exits 99 without the harness's server */
    sr = srunner_create(churn_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
