/*
 * failbench: replication failover figures with three real quire-broker
 * processes and libquire (issue 16's benchmarks; by hand:
 *   bench/failbench --zookeeper HOST:PORT --broker broker/quire-broker).
 *
 *   throughput: acks=all produce through libquire to a partition with
 *             replicas [1,2,3] against one with replicas [1] (both led
 *             by broker 1), alternating rounds, in the same run. Target:
 *             RF=3 at least 0.5x RF=1.
 *   failover: a replication-factor-3 partition (min.insync.replicas=2,
 *             followers fetching: 2,000 acks=all records written first
 *             and the ISR full); its leader is killed -9;
 *             time until the first acks=all record sent after the kill is
 *             acknowledged (by the new leader). Target: at most
 *             zookeeper.session.timeout.ms + 1 s. --runs times, each run
 *             killing the current leader and restarting it afterwards.
 *   shutdown: broker 1 leads 100 of 300 partitions (RF=3); SIGTERM with
 *             controlled.shutdown.enable; time until ZooKeeper's states
 *             show none led by broker 1 (target: at most 1 s), and until
 *             the process exited.
 *
 * Brokers live in a temporary directory each (removed at the end), listen
 * on 127.0.0.1 port 0 and report their port through --port-file. Every
 * wait is bounded.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quire.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

#define NB       3
#define WAIT_MS  60000
#define CS_PARTS 300
#define WARMUP   2000 /* acks=all records before each kill */

typedef struct bbroker {
    int id;
    pid_t pid;
    char dir[128], props[192], port_file[192], addr[64];
} bbroker_t;

static const char *broker_bin = "broker/quire-broker";
static char connect_str[512];
static int session_ms = 6000;
static bbroker_t brokers[NB];
static qr_zk_t *zk;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "failbench: %s\n", what);
    for (int i = 0; i < NB; i++) {
        char cmd[300];
        if (brokers[i].pid > 0) {
            kill(brokers[i].pid, SIGKILL);
            waitpid(brokers[i].pid, NULL, 0);
        }
        if (brokers[i].dir[0]) {
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", brokers[i].dir);
            if (system(cmd) != 0)
                fprintf(stderr, "failbench: %s left\n", brokers[i].dir);
        }
    }
    exit(1);
}

/* Sleeps @p ms while serving the ZooKeeper session (its pings). */
static int never(void *arg)
{
    (void)arg;
    return 0;
}

static void pump(int ms)
{
    qr_zk_sync_wait(zk, never, NULL, ms);
}

/* ---- brokers ---- */

static void broker_setup(bbroker_t *b, int id)
{
    FILE *fp;

    b->id = id;
    snprintf(b->dir, sizeof(b->dir), "/tmp/failbench-XXXXXX");
    if (!mkdtemp(b->dir))
        die("mkdtemp");
    snprintf(b->props, sizeof(b->props), "%s/server.properties", b->dir);
    snprintf(b->port_file, sizeof(b->port_file), "%s/port", b->dir);
    fp = fopen(b->props, "w");
    if (!fp)
        die("server.properties");
    fprintf(fp,
            "broker.id=%d\nlisteners=PLAINTEXT://127.0.0.1:0\n"
            "log.dirs=%s/logs\nzookeeper.connect=%s\n"
            "zookeeper.session.timeout.ms=%d\nnum.network.threads=1\n"
            "controlled.shutdown.retry.backoff.ms=2000\n",
            id, b->dir, connect_str, session_ms);
    fclose(fp);
}

static void broker_start(bbroker_t *b)
{
    int64_t deadline = now_ms() + WAIT_MS;
    FILE *fp;

    unlink(b->port_file);
    b->pid = fork();
    if (b->pid < 0)
        die("fork");
    if (b->pid == 0) {
        char log[256];
        snprintf(log, sizeof(log), "%s/broker.log", b->dir);
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(broker_bin, broker_bin, "--port-file", b->port_file, b->props,
              (char *)NULL);
        _exit(127);
    }
    while (!(fp = fopen(b->port_file, "r"))) {
        if (now_ms() > deadline || waitpid(b->pid, NULL, WNOHANG) == b->pid)
            die("a broker did not start (see its broker.log)");
        usleep(10000);
    }
    if (!fgets(b->addr, sizeof(b->addr), fp))
        die("port file");
    b->addr[strcspn(b->addr, "\n")] = '\0';
    fclose(fp);
}

/* Sends @p sig; @returns ms until the process exited. */
static int64_t broker_stop(bbroker_t *b, int sig)
{
    int64_t t0 = now_ms();

    kill(b->pid, sig);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
    return now_ms() - t0;
}

/* ---- ZooKeeper ---- */

/* Replicas first+p, first+p+1, ... (mod NB) of each partition, @p rf of
 * them. */
static void create_topic_rf(const char *topic, int parts, int first, int rf)
{
    qr_assign_t a = {0};
    qr_zk_sres_t res;
    char *path = qr_znode_topic_path(topic), *data;

    a.part_cnt = (size_t)parts;
    a.parts = calloc((size_t)parts, sizeof(*a.parts));
    for (int p = 0; p < parts; p++) {
        a.parts[p].n = (size_t)rf;
        a.parts[p].ids = calloc(NB, sizeof(int32_t));
        for (int k = 0; k < rf; k++)
            a.parts[p].ids[k] = (first + p + k) % NB + 1;
    }
    data = qr_znode_topic_encode(&a);
    if (qr_zk_sync_create(zk, path, data, (int)strlen(data), 0, 5000, &res))
        die("creating the topic");
    qr_zk_sres_free(&res);
    qr_assign_free(&a);
    free(data);
    free(path);
}

static void create_topic(const char *topic, int parts, int first)
{
    create_topic_rf(topic, parts, first, NB);
}

/* The topic override min.insync.replicas=2 (/config/topics/<t>), written
 * before the topic. */
static void min_insync_2(const char *topic)
{
    const char *data = "{\"version\":1,\"config\":{\"min.insync.replicas\":"
                       "\"2\"}}";
    char *path = qr_znode_config_path(topic);
    qr_zk_sres_t res;

    if (qr_zk_sync_create(zk, path, data, (int)strlen(data), 0, 5000, &res))
        die("writing the topic's config");
    qr_zk_sres_free(&res);
    free(path);
}

static int state_leader(const char *topic, int p, int *isr_cnt)
{
    char *path = qr_znode_state_path(topic, p), errstr[128];
    qr_zk_sres_t res;
    qr_pstate_t st;
    int leader = -2;

    if (qr_zk_sync_get(zk, path, 2000, &res) == QUIRE_ERR_NONE &&
        qr_znode_state_decode(res.data, res.len, &st, errstr, sizeof(errstr)) ==
            QUIRE_ERR_NONE) {
        leader = st.leader;
        if (isr_cnt)
            *isr_cnt = (int)st.isr_cnt;
    }
    qr_zk_sres_free(&res);
    free(path);
    return leader;
}

/* Partitions of @p topic led by @p id (-1: partitions without a full ISR
 * or leader yet). */
static int count_led(const char *topic, int parts, int id)
{
    int n = 0, isr = 0;

    for (int p = 0; p < parts; p++) {
        int l = state_leader(topic, p, &isr);
        n += id >= 0 ? l == id : (l < 0 || isr < NB);
    }
    return n;
}

/* ---- the producer ---- */

typedef struct acks {
    volatile int done;
    volatile quire_err_t err;
} acks_t;

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    acks_t *a = dr->opaque;

    (void)opaque;
    a->err = dr->err;
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
}

static quire_producer_t *producer_new(void)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod;
    char servers[256], errstr[256];

    snprintf(servers, sizeof(servers), "%s,%s,%s", brokers[0].addr,
             brokers[1].addr, brokers[2].addr);
    if (quire_conf_set(conf, "bootstrap.servers", servers, errstr,
                       sizeof(errstr)) ||
        quire_conf_set(conf, "acks", "all", errstr, sizeof(errstr)) ||
        quire_conf_set(conf, "linger.ms", "0", errstr, sizeof(errstr)) ||
        quire_conf_set(conf, "retry.backoff.ms", "20", errstr,
                       sizeof(errstr)) ||
        quire_conf_set(conf, "delivery.timeout.ms", "120000", errstr,
                       sizeof(errstr)))
        die(errstr);
    quire_conf_set_delivery_cb(conf, on_delivery, NULL);
    if (quire_producer_new(conf, &prod, errstr, sizeof(errstr)))
        die(errstr);
    return prod;
}

/* One acks=all record to @p topic-0; @returns its error once
 * acknowledged. */
static quire_err_t send_one(quire_producer_t *prod, const char *topic)
{
    acks_t a = {0, QUIRE_ERR_NONE};
    int64_t deadline = now_ms() + 2 * WAIT_MS;

    if (quire_producer_send(prod, topic, 0, NULL, 0, "x", 1, NULL, 0, 0, &a))
        die("send");
    while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE)) {
        if (now_ms() > deadline)
            die("no delivery report");
        pump(1);
    }
    return a.err;
}

/* ---- acks=all throughput ---- */

static atomic_long tp_done, tp_failed;

static void on_tp_delivery(const quire_delivery_t *dr, void *opaque)
{
    (void)opaque;
    if (dr->err != QUIRE_ERR_NONE)
        atomic_fetch_add(&tp_failed, 1);
    atomic_fetch_add(&tp_done, 1);
}

/* Sends @p n acks=all records of @p size bytes to @p topic-0 through a
 * producer of its own and waits for every delivery report. @returns the
 * ms it took from the first send to the last report. */
static int64_t send_many(const char *topic, long n, int size)
{
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *prod;
    char servers[256], errstr[256], *value = calloc(1, (size_t)size);
    int64_t t0, deadline;

    snprintf(servers, sizeof(servers), "%s,%s,%s", brokers[0].addr,
             brokers[1].addr, brokers[2].addr);
    if (quire_conf_set(conf, "bootstrap.servers", servers, errstr,
                       sizeof(errstr)) ||
        quire_conf_set(conf, "acks", "all", errstr, sizeof(errstr)) ||
        quire_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)))
        die(errstr);
    quire_conf_set_delivery_cb(conf, on_tp_delivery, NULL);
    if (quire_producer_new(conf, &prod, errstr, sizeof(errstr)))
        die(errstr);
    memset(value, 'v', (size_t)size);
    atomic_store(&tp_done, 0);
    atomic_store(&tp_failed, 0);
    t0 = now_ms();
    deadline = t0 + 10 * WAIT_MS;
    for (long i = 0; i < n; i++)
        while (quire_producer_send(prod, topic, 0, NULL, 0, value, (size_t)size,
                                   NULL, 0, 0, NULL) == QUIRE_ERR_QUEUE_FULL)
            if (now_ms() > deadline)
                die("send: queue full for 10 minutes");
            else
                pump(1);
    while (atomic_load(&tp_done) < n) {
        if (now_ms() > deadline)
            die("delivery reports missing after 10 minutes");
        pump(1); /* keeps our ZooKeeper session */
    }
    t0 = now_ms() - t0;
    quire_producer_close(prod, 10000);
    free(value);
    if (atomic_load(&tp_failed))
        die("records failed");
    return t0 > 0 ? t0 : 1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* RF=3 against RF=1, acks=all, both led by broker 1: @p rounds rounds of
 * @p n records each, the order alternating. */
static void throughput(int rounds, long n, int size)
{
    double r1[16], r3[16];

    if (rounds > 16)
        rounds = 16;
    create_topic_rf("tp1", 1, 0, 1);
    create_topic_rf("tp3", 1, 0, NB);
    for (int64_t d = now_ms() + WAIT_MS;
         state_leader("tp1", 0, NULL) != 1 || count_led("tp3", 1, -1) > 0;) {
        if (now_ms() > d)
            die("tp1/tp3 got no leader or no full ISR");
        pump(10);
    }
    send_many("tp1", n / 10, size); /* warm-up, not counted */
    send_many("tp3", n / 10, size);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int rf3 = (r + k) % 2;
            double mbs =
                (double)n * size / 1048576.0 /
                ((double)send_many(rf3 ? "tp3" : "tp1", n, size) / 1000.0);
            (rf3 ? r3 : r1)[r] = mbs;
            printf("throughput round %d: RF=%d acks=all %.1f MiB/s "
                   "(%ld records of %d bytes)\n",
                   r + 1, rf3 ? 3 : 1, mbs, n, size);
            fflush(stdout);
        }
    }
    qsort(r1, (size_t)rounds, sizeof(double), cmp_dbl);
    qsort(r3, (size_t)rounds, sizeof(double), cmp_dbl);
    printf("throughput: acks=all RF=1 median %.1f [%.1f..%.1f] MiB/s, "
           "RF=3 median %.1f [%.1f..%.1f] MiB/s, RF=3/RF=1 = %.2f "
           "(target >= 0.5)\n",
           r1[rounds / 2], r1[0], r1[rounds - 1], r3[rounds / 2], r3[0],
           r3[rounds - 1], r3[rounds / 2] / r1[rounds / 2]);
}

/* ---- the failover figures ---- */

/* Each run a topic of its own (its replicas all live and in the ISR,
 * whether or not the brokers replicate), led by broker run % 3 + 1. */
static void failover(int runs)
{
    quire_producer_t *prod = producer_new();

    for (int r = 0; r < runs; r++) {
        char topic[32];
        int leader;
        int64_t t0, t;
        quire_err_t err;

        snprintf(topic, sizeof(topic), "fo%d", r);
        min_insync_2(topic);
        create_topic(topic, 1, r);
        for (int64_t d = now_ms() + WAIT_MS; count_led(topic, 1, -1) > 0;) {
            if (now_ms() > d)
                die("the partition did not get a full ISR");
            pump(10);
        }
        leader = state_leader(topic, 0, NULL);
        if (leader < 1 || leader > NB)
            die("no leader");
        /* followers with something to copy, then the ISR full again */
        send_many(topic, WARMUP, 100);
        if (send_one(prod, topic) != QUIRE_ERR_NONE)
            die("the warm-up record failed");
        for (int64_t d = now_ms() + WAIT_MS; count_led(topic, 1, -1) > 0;) {
            if (now_ms() > d)
                die("the ISR did not fill again");
            pump(10);
        }
        t0 = now_ms();
        broker_stop(&brokers[leader - 1], SIGKILL);
        err = send_one(prod, topic);
        t = now_ms() - t0;
        printf("failover run %d: leader %d killed -9, first acks=all ack "
               "on broker %d after %lld ms (%s; session timeout %d ms, "
               "target <= %d ms)\n",
               r + 1, leader, state_leader(topic, 0, NULL), (long long)t,
               quire_err2str(err), session_ms, session_ms + 1000);
        fflush(stdout);
        broker_start(&brokers[leader - 1]);
    }
    quire_producer_close(prod, 10000);
}

/* The last change of broker @p id's leaderships, in the server's wall
 * clock (each state's mtime): when the move really ended, whatever the
 * time this program took to read 300 states. */
static int64_t last_moved_ms(const char *topic, int parts, int from)
{
    int64_t last = 0;

    for (int p = 0; p < parts; p++) {
        char *path = qr_znode_state_path(topic, p);
        qr_zk_sres_t res;
        if (p % NB == from - 1 &&
            qr_zk_sync_exists(zk, path, 2000, &res) == QUIRE_ERR_NONE &&
            res.stat.mtime > last)
            last = res.stat.mtime;
        qr_zk_sres_free(&res);
        free(path);
    }
    return last;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void shutdown_bench(void)
{
    int64_t t0, wall0, moved = -1, exited;
    char cmd[300];

    create_topic("cs", CS_PARTS, 0);
    for (int64_t d = now_ms() + WAIT_MS; count_led("cs", CS_PARTS, -1) > 0;) {
        if (now_ms() > d)
            die("the 300 partitions did not get full ISRs");
        pump(20);
    }
    printf("shutdown: broker 1 leads %d partitions\n",
           count_led("cs", CS_PARTS, 1));
    t0 = now_ms();
    wall0 = wall_ms();
    kill(brokers[0].pid, SIGTERM);
    while (now_ms() - t0 < WAIT_MS) {
        if (count_led("cs", CS_PARTS, 1) == 0) {
            moved = last_moved_ms("cs", CS_PARTS, 1) - wall0;
            break;
        }
    }
    printf("shutdown: leadership of broker 1 moved in %lld ms (SIGTERM to "
           "the last state's mtime; target <= 1000 ms)\n",
           (long long)moved);
    fflush(stdout);
    /* bounded: a broker that does not exit is reported, then killed */
    while (waitpid(brokers[0].pid, NULL, WNOHANG) == 0 &&
           now_ms() - t0 < WAIT_MS)
        usleep(10000);
    exited = now_ms() - t0;
    if (exited >= WAIT_MS) {
        printf("shutdown: broker 1 had not exited %d ms after SIGTERM; "
               "killed\n",
               WAIT_MS);
        broker_stop(&brokers[0], SIGKILL);
    } else {
        printf("shutdown: process exited after %lld ms\n", (long long)exited);
    }
    brokers[0].pid = 0;
    snprintf(cmd, sizeof(cmd),
             "grep -E 'signal|CTLSD|stopped' '%s/broker.log' | tail -5",
             brokers[0].dir);
    if (system(cmd) != 0)
        fprintf(stderr, "failbench: no broker log\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zookeeper", required_argument, NULL, 'z'},
        {"broker", required_argument, NULL, 'b'},
        {"session-timeout-ms", required_argument, NULL, 's'},
        {"runs", required_argument, NULL, 'r'},
        {"records", required_argument, NULL, 'n'},
        {"record-size", required_argument, NULL, 'S'},
        {"rounds", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *base = getenv("QUIRE_TEST_ZK");
    struct ev_loop *loop = ev_default_loop(0);
    char errstr[256], cmd[300];
    int c, runs = 3, size = 1000, rounds = 3;
    long records = 100000;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'z':
            base = optarg;
            break;
        case 'b':
            broker_bin = optarg;
            break;
        case 's':
            session_ms = atoi(optarg);
            break;
        case 'r':
            runs = atoi(optarg);
            break;
        case 'n':
            records = atol(optarg);
            break;
        case 'S':
            size = atoi(optarg);
            break;
        case 'R':
            rounds = atoi(optarg);
            break;
        default:
            printf("Usage: failbench --zookeeper HOST:PORT [--broker BIN] "
                   "[--session-timeout-ms MS] [--runs N] [--records N] "
                   "[--record-size BYTES] [--rounds N]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!base)
        die("--zookeeper (or QUIRE_TEST_ZK) is required");
    snprintf(connect_str, sizeof(connect_str), "%s/failbench-%ld", base,
             (long)getpid());
    zk = qr_zk_new(loop, connect_str, 10000, 10000, errstr, sizeof(errstr));
    if (!zk || qr_zk_sync_connect(zk, 10000, errstr, sizeof(errstr)))
        die(errstr);
    for (int i = 0; i < NB; i++) {
        broker_setup(&brokers[i], i + 1);
        broker_start(&brokers[i]);
    }
    printf("load average at start: ");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg") != 0)
        printf("?\n");
    throughput(rounds, records, size);
    failover(runs);
    shutdown_bench();
    printf("load average at the end: ");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg") != 0)
        printf("?\n");
    for (int i = 0; i < NB; i++) {
        if (brokers[i].pid > 0)
            broker_stop(&brokers[i], SIGKILL);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", brokers[i].dir);
        if (system(cmd) != 0)
            fprintf(stderr, "failbench: could not remove %s\n", brokers[i].dir);
    }
    qr_zk_destroy(zk);
    return 0;
}
