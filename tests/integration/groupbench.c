/*
 * groupbench: figures of libquire's group consumer (issue 7), with real
 * member processes (gc_member), a real broker and a real ZooKeeper. Not a
 * test: it prints numbers and asserts nothing about speed.
 *
 *   make -C tests/integration groupbench gc_member
 *   tests/harness/with-zk tests/integration/groupbench [-n RECORDS]
 *
 * 1. throughput: RECORDS records (100-byte values) preloaded into 12
 *    partitions; a fresh group of 1, 2 and 4 members reads them all; the
 *    rate is RECORDS over the time from the first assignment to the
 *    moment the members' counts (reported every 100 ms) reach RECORDS.
 * 2. join: 9 members own the 64 partitions of a topic; a 10th member
 *    registers. The time from its /consumers/<g>/ids node's creation to
 *    the last owner node created for the new assignment (ZooKeeper's
 *    ctimes, one server clock), with every partition owned again; for
 *    range and sticky.
 * 3. SIGKILL: 4 members (zookeeper.session.timeout.ms=6000) read 12
 *    partitions of a topic written continuously; one is SIGKILLed; the
 *    time until every one of its partitions has a record read by another
 *    member (the member's output times, one monotonic clock).
 */
#include "config.h"

#include <fcntl.h>
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
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif
#ifndef GC_MEMBER_BIN
#error "GC_MEMBER_BIN must name tests/integration/gc_member"
#endif

#define MAXMEM 16

static char *zk_connect;
static qt_broker_t *broker;
static zhandle_t *zh;
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

static void die(const char *what)
{
    fprintf(stderr, "groupbench: %s\n", what);
    exit(1);
}

static void topic_create(const char *topic, int parts)
{
    char n[16];
    char *argv[] = {QT_TOPICS_BIN, "--zookeeper", zk_connect,     "--create",
                    "--topic",     (char *)topic, "--partitions", n,
                    NULL};
    qt_run_result_t res;

    snprintf(n, sizeof(n), "%d", parts);
    if (qt_run(argv, NULL, 20000, &res) != 0 || res.status != 0)
        die("quire-topics --create failed");
    qt_run_free(&res);
}

/* ---- producing ---- */

typedef struct producer {
    pthread_t th;
    const char *topic;
    int parts;
    long n;          /* records to write (paced: 0 = as fast as possible) */
    int interval_us; /* > 0: one record every interval, until stop */
    volatile int stop;
} producer_t;

static void *produce_main(void *arg)
{
    producer_t *p = arg;
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod = NULL;
    char errstr[256], value[100];
    long i;

    memset(value, 'v', sizeof(value));
    quire_conf_set(conf, "bootstrap.servers", broker->addr, NULL, 0);
    quire_conf_set(conf, "linger.ms", p->interval_us ? "5" : "20", NULL, 0);
    if (quire_producer_new(conf, &prod, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE)
        die(errstr);
    for (i = 0; !p->stop && (p->interval_us || i < p->n); i++) {
        while (quire_producer_send(prod, p->topic, (int32_t)(i % p->parts),
                                   NULL, 0, value, sizeof(value), NULL, 0, 0,
                                   NULL) == QUIRE_ERR_QUEUE_FULL)
            ;
        if (p->interval_us)
            usleep((useconds_t)p->interval_us);
    }
    if (quire_producer_close(prod, 60000) != QUIRE_ERR_NONE)
        die("records not delivered");
    return NULL;
}

/* ---- members ---- */

typedef struct member {
    pid_t pid;
    char out[128];
} member_t;

static member_t mem[MAXMEM];
static int nmem;

static int member_start(const char *group, const char *topic,
                        const char *strategy, const char *session, int quiet)
{
    member_t *m = &mem[nmem];
    pid_t pid;

    snprintf(m->out, sizeof(m->out), "%s/%s-m%d.out", dir, group, nmem);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int fd = open(m->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(GC_MEMBER_BIN, GC_MEMBER_BIN, "--zookeeper", zk_connect,
              "--group", group, "--topic", topic, "--strategy", strategy,
              "--session-timeout-ms", session, "--fetch-wait-ms", "100",
              "--commit-ms", "100", quiet ? "--quiet" : NULL, (char *)NULL);
        _exit(127);
    }
    m->pid = pid;
    return nmem++;
}

static void members_stop(void)
{
    for (int k = 0; k < nmem; k++)
        if (mem[k].pid) {
            kill(mem[k].pid, SIGTERM);
            waitpid(mem[k].pid, NULL, 0);
            mem[k].pid = 0;
        }
    nmem = 0;
}

/* Sum of the members' last P counts; *first_a: the earliest A line. */
static long long progress(long long *first_a)
{
    long long sum = 0;

    *first_a = 0;
    for (int k = 0; k < nmem; k++) {
        FILE *f = fopen(mem[k].out, "r");
        char line[128];
        long long at, n, last = 0;

        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "P %lld %lld", &at, &n) == 2)
                last = n;
            else if (sscanf(line, "A %lld", &at) == 1 &&
                     (!*first_a || at < *first_a))
                *first_a = at;
        }
        fclose(f);
        sum += last;
    }
    return sum;
}

static void bench_throughput(long n)
{
    producer_t prod = {.topic = "tput", .parts = 12, .n = n};
    long long t0 = mono_ms();
    static const int counts[] = {1, 2, 4};

    topic_create("tput", 12);
    if (pthread_create(&prod.th, NULL, produce_main, &prod) ||
        pthread_join(prod.th, NULL))
        die("producer thread");
    printf("throughput: %ld records of 100 bytes preloaded in %.1f s\n", n,
           (double)(mono_ms() - t0) / 1000);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        char group[32];
        long long first = 0, done = 0, got = 0;
        long long until = mono_ms() + 300000;

        snprintf(group, sizeof(group), "tput%d", counts[i]);
        for (int k = 0; k < counts[i]; k++)
            member_start(group, "tput", "range", "6000", 1);
        while (mono_ms() < until) {
            got = progress(&first);
            if (got >= n) {
                done = mono_ms();
                break;
            }
            msleep(20);
        }
        members_stop();
        if (!done || !first)
            printf("  %d member(s): only %lld of %ld records in 300 s\n",
                   counts[i], got, n);
        else
            printf("  %d member(s): %lld records in %lld ms: %.0f "
                   "records/s (%.1f MB/s of values)\n",
                   counts[i], got, done - first,
                   (double)got * 1000 / (double)(done - first),
                   (double)got * 100 / 1e6 * 1000 / (double)(done - first));
    }
}

/* ---- join: ZooKeeper's view ---- */

static int64_t ctime_of(const char *path)
{
    struct Stat st;

    if (qt_zk_exists(zh, path, &st, false, 10000) != ZOK)
        return -1;
    return st.ctime;
}

/* Owner nodes of the 64 partitions: how many exist, the latest ctime, and
 * how many are @p id's. */
static int owners(const char *group, const char *topic, int parts,
                  const char *id, int64_t *latest, int *mine)
{
    int n = 0;

    *latest = 0;
    *mine = 0;
    for (int p = 0; p < parts; p++) {
        char path[256], *data = NULL;
        struct Stat st;
        int len = 0;

        snprintf(path, sizeof(path), "/consumers/%s/owners/%s/%d", group, topic,
                 p);
        if (qt_zk_get(zh, path, &data, &len, &st, false, 10000) != ZOK)
            continue;
        n++;
        if (st.ctime > *latest)
            *latest = st.ctime;
        if (id && data && (size_t)len == strlen(id) &&
            !memcmp(data, id, (size_t)len))
            (*mine)++;
        free(data);
    }
    return n;
}

static void bench_join(const char *strategy)
{
    char group[32], topic[32], ids[128];
    struct String_vector before, after;
    const char *newid = NULL;
    int64_t reg, latest = 0;
    int mine = 0, n = 0, settled = 0;
    long long until;

    snprintf(group, sizeof(group), "join-%s", strategy);
    snprintf(topic, sizeof(topic), "join-%s", strategy);
    snprintf(ids, sizeof(ids), "/consumers/%s/ids", group);
    topic_create(topic, 64);
    for (int k = 0; k < 9; k++)
        member_start(group, topic, strategy, "6000", 1);
    /* settled: 64 owners and no change for 2 s */
    until = mono_ms() + 60000;
    for (int64_t prev = -1; mono_ms() < until; msleep(500)) {
        n = owners(group, topic, 64, NULL, &latest, &mine);
        settled = n == 64 && latest == prev ? settled + 1 : 0;
        prev = latest;
        if (settled >= 4)
            break;
    }
    if (settled < 4)
        die("9 members did not settle on 64 partitions");
    if (qt_zk_children(zh, ids, &before, false, 10000) != ZOK)
        die("ids");
    member_start(group, topic, strategy, "6000", 1);
    until = mono_ms() + 30000;
    reg = -1;
    while (mono_ms() < until) {
        if (!newid && qt_zk_children(zh, ids, &after, false, 10000) == ZOK) {
            for (int i = 0; i < after.count && !newid; i++) {
                int old = 0;

                for (int j = 0; j < before.count; j++)
                    old |= !strcmp(after.data[i], before.data[j]);
                if (!old)
                    newid = strdup(after.data[i]);
            }
            deallocate_String_vector(&after);
            if (newid) {
                char path[256];

                snprintf(path, sizeof(path), "%s/%s", ids, newid);
                reg = ctime_of(path);
            }
        }
        if (newid && owners(group, topic, 64, newid, &latest, &mine) == 64 &&
            mine > 0)
            break;
        msleep(10);
    }
    deallocate_String_vector(&before);
    members_stop();
    if (!newid || reg < 0 || mine == 0)
        printf("  join (%s): the 10th member got no partition in 30 s\n",
               strategy);
    else
        printf("  join (%s, 10 members, 64 partitions): registration to "
               "all 64 owned again: %lld ms (the new member owns %d)\n",
               strategy, (long long)(latest - reg), mine);
    free((char *)newid);
}

/* ---- SIGKILL: the members' view ---- */

static void bench_kill(const char *strategy)
{
    char group[32], topic[32];
    producer_t prod = {.parts = 12, .interval_us = 2000};
    int owned[12] = {0};
    long long killed_at, back[12] = {0}, worst = 0;
    int victim = 0, nowned = 0;

    snprintf(group, sizeof(group), "kill-%s", strategy);
    snprintf(topic, sizeof(topic), "kill-%s", strategy);
    prod.topic = topic;
    topic_create(topic, 12);
    if (pthread_create(&prod.th, NULL, produce_main, &prod))
        die("producer thread");
    for (int k = 0; k < 4; k++)
        member_start(group, topic, strategy, "6000", 0);
    msleep(8000); /* settled */
    /* the victim's partitions: its A lines not followed by R */
    {
        FILE *f = fopen(mem[victim].out, "r");
        char line[256];
        long long at;
        int p;

        if (!f)
            die("member output");
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "A %lld %d", &at, &p) == 2 && p >= 0 && p < 12)
                owned[p] = 1;
            else if (sscanf(line, "R %lld %d", &at, &p) == 2 && p >= 0 &&
                     p < 12)
                owned[p] = 0;
        }
        fclose(f);
    }
    killed_at = mono_ms();
    kill(mem[victim].pid, SIGKILL);
    waitpid(mem[victim].pid, NULL, 0);
    mem[victim].pid = 0;
    for (int p = 0; p < 12; p++)
        nowned += owned[p];
    for (long long until = mono_ms() + 30000; mono_ms() < until; msleep(100)) {
        int left = 0;

        for (int k = 1; k < nmem; k++) {
            FILE *f = fopen(mem[k].out, "r");
            char line[256];
            long long at;
            int p;

            if (!f)
                continue;
            while (fgets(line, sizeof(line), f))
                if (sscanf(line, "M %lld %d", &at, &p) == 2 && p >= 0 &&
                    p < 12 && owned[p] && at > killed_at &&
                    (!back[p] || at < back[p]))
                    back[p] = at;
            fclose(f);
        }
        for (int p = 0; p < 12; p++)
            left += owned[p] && !back[p];
        if (!left)
            break;
    }
    prod.stop = 1;
    pthread_join(prod.th, NULL);
    members_stop();
    for (int p = 0; p < 12; p++)
        if (owned[p]) {
            if (!back[p]) {
                printf("  SIGKILL (%s): partition %d not read again in "
                       "30 s\n",
                       strategy, p);
                return;
            }
            if (back[p] - killed_at > worst)
                worst = back[p] - killed_at;
        }
    printf("  SIGKILL (%s, session 6000 ms, 4 members): its %d partitions "
           "read again after %lld ms\n",
           strategy, nowned, worst);
}

int main(int argc, char **argv)
{
    long n = 200000;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n')
            return 2;
        n = atol(optarg);
    }
    qt_zk_env();
    snprintf(dir, sizeof(dir), "/tmp/groupbench.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp");
    zk_connect = qt_zk_chroot_new(qt_zk_env(), 10000);
    if (!zk_connect || !(zh = qt_zk_connect(zk_connect, 10000)))
        die("ZooKeeper");
    broker = qt_broker_new(1, zk_connect, NULL);
    if (!broker || qt_broker_start(broker, 20000) != 0)
        die("broker");
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_throughput(n);
    printf("join:\n");
    bench_join("range");
    bench_join("sticky");
    printf("SIGKILL:\n");
    bench_kill("range");
    bench_kill("sticky");
    qt_broker_destroy(broker);
    qt_zk_close(zh);
    free(zk_connect);
    {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
    return 0;
}
