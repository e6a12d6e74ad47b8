/*
 * check_powerloss: a broker whose log dir lives on plfs (a filesystem
 * that forgets what was not synced, tests/harness/plfs.c) through power
 * cuts: kill -9 the broker, drop the unsynced layer, remount, restart.
 *
 * Each cycle: restart and check everything seen so far; sometimes create,
 * fill and delete a topic; then acks=all producers (libquire) write while a
 * consumer reads, and the power is cut at a random point (segments roll
 * every few dozen records and retention deletes old ones all the time, so
 * cuts land in rolls and deletions). The checks, after every restart:
 *   - every acknowledged record reads back at its offset (unless retention
 *     deleted it: below the log start);
 *   - no offset ever holds two values (acknowledged, seen by a consumer,
 *     read back after a restart);
 *   - no consumer saw an offset that later held another value, or vanished;
 *   - the log start never goes back (a deleted segment never returns);
 *   - a deleted topic's directory never returns.
 * QT_POWERLOSS_CYCLES sets the number of cycles (default 4, a few seconds
 * each; `make nemesis-powerloss` runs 50).
 *
 * A second test injects an fsync error (plfs fails one fsync with EIO and
 * keeps the pages unwritten but readable, as Linux does): the broker must
 * acknowledge nothing of the failed write, and after a restart without a
 * power loss must not trust the page cache, so that records acknowledged
 * later survive the next power cut.
 *
 * The "cleanstop" case (CK_RUN_CASE=cleanstop runs it alone) cuts the
 * power after and during clean stops (SIGTERM), on six partitions:
 *   - after a clean stop, every record acknowledged with acks=1 before it
 *     reads back at its offset, nothing else is there, and the restart
 *     trusts the clean-shutdown marker (no recovery: the broker's log);
 *   - a cut at a random moment of the stop (QT_POWERLOSS_STOP_CYCLES,
 *     default 8): every acks=all record reads back, no offset holds two
 *     values, a partition whose close had not finished is recovered, and
 *     a restart that trusts the marker has every acks=1 record
 *     acknowledged before the stop.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_plfs.h"
#include "qt_zk.h"
#include "quire.h"

#define START_MS 30000
#define IO_MS    10000
#define TOPIC    "pl"
#define MAXOFF   200000
#define VALSZ    24

static qt_plfs_t fs;
static char root[256];
static char *zk_chroot;
static qt_broker_t *b;

/* offset -> value: what the producer was told, what anyone read */
static char (*acked)[VALSZ], (*seen)[VALSZ];
static pthread_mutex_t acked_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t max_acked = -1, max_start;
static long n_acked, n_read, n_cuts, n_deleted_topics, n_failed_acks;
static char deleted[64][64];
static int ndeleted;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void topics_cmd(const char *const *args)
{
    char *argv[16];
    int n = 0;
    qt_run_result_t res;

    argv[n++] = QT_TOPICS_BIN;
    argv[n++] = "--zookeeper";
    argv[n++] = zk_chroot;
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    ck_assert_int_eq(qt_run(argv, NULL, 20000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-topics: %s", res.err);
    qt_run_free(&res);
}

/* The broker's log dir on plfs: the props file gets it instead of the
 * harness's own. */
static void setup_broker(const char *extra)
{
    char path[320], *text = NULL;
    size_t len = 0;
    FILE *fp;

    b = qt_broker_new(0, zk_chroot, extra);
    ck_assert_ptr_nonnull(b);
    snprintf(path, sizeof(path), "%.300s/logs", fs.mnt);
    fp = fopen(b->props, "r");
    ck_assert_ptr_nonnull(fp);
    FILE *mem = open_memstream(&text, &len);
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        if (!strncmp(line, "log.dirs=", 9))
            fprintf(mem, "log.dirs=%s\n", path);
        else if (!strncmp(line, "zookeeper.session.timeout.ms=", 29))
            fprintf(mem, "zookeeper.session.timeout.ms=2000\n");
        else
            fputs(line, mem);
    }
    fclose(fp);
    fclose(mem);
    fp = fopen(b->props, "w");
    fputs(text, fp);
    fclose(fp);
    free(text);
    snprintf(b->log_dir, sizeof(b->log_dir), "%s", path);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/qt-pl-XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(qt_plfs_init(&fs, QT_PLFS, root), 0);
    zk_chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_chroot);
    acked = calloc(MAXOFF, VALSZ);
    seen = calloc(MAXOFF, VALSZ);
    ck_assert_ptr_nonnull(acked);
    ck_assert_ptr_nonnull(seen);
}

static void teardown(void)
{
    if (b) {
        qt_broker_kill(b);
        qt_broker_destroy(b);
        b = NULL;
    }
    qt_plfs_destroy(&fs);
    free(acked);
    free(seen);
}

/* After a kill -9 the old ZooKeeper session lives on until it expires
 * (2 s): the new broker refuses to start until then. */
static void start_broker_for(const char *topic, int parts)
{
    qt_client_t *c;
    int rc = -1;
    for (long long end = now_ms() + START_MS; rc != 0 && now_ms() < end;)
        if ((rc = qt_broker_start(b, START_MS)) != 0)
            usleep(300000);
    ck_assert_msg(rc == 0, "broker did not start (see its log)");
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, topic, parts, START_MS), 0);
    qt_client_close(c);
}

static void start_broker(void)
{
    start_broker_for(TOPIC, 1);
}

static void powercut(void)
{
    qt_broker_kill(b);
    qt_plfs_powercut(&fs);
    ck_assert_int_eq(qt_plfs_mount(&fs, QT_PLFS), 0);
    n_cuts++;
}

/* ---- producing ---- */

static void on_dr(const quire_delivery_t *dr, void *opaque)
{
    const char *value = dr->opaque;
    (void)opaque;
    if (dr->err != QUIRE_ERR_NONE || dr->offset < 0) {
        n_failed_acks++;
        free((void *)value);
        return;
    }
    ck_assert_int_lt(dr->offset, MAXOFF);
    pthread_mutex_lock(&acked_mu);
    if (!strcmp(dr->topic, TOPIC)) {
        ck_assert_msg(!acked[dr->offset][0] ||
                          !strcmp(acked[dr->offset], value),
                      "offset %lld acknowledged twice: %s and %s",
                      (long long)dr->offset, acked[dr->offset], value);
        snprintf(acked[dr->offset], VALSZ, "%s", value);
        if (dr->offset > max_acked)
            max_acked = dr->offset;
        n_acked++;
    }
    pthread_mutex_unlock(&acked_mu);
    free((void *)value);
}

static quire_conf_t *conf_new(void)
{
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];
    ck_assert_msg(quire_conf_set(conf, "bootstrap.servers", b->addr, errstr,
                                 sizeof(errstr)) == QUIRE_ERR_NONE,
                  "%s", errstr);
    return conf;
}

static void conf_set(quire_conf_t *conf, const char *k, const char *v)
{
    char errstr[256];
    ck_assert_msg(quire_conf_set(conf, k, v, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s=%s: %s", k, v, errstr);
}

static quire_producer_t *producer_new(void)
{
    quire_conf_t *conf = conf_new();
    quire_producer_t *p = NULL;
    char errstr[256];
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", "2");
    conf_set(conf, "retries", "0");
    quire_conf_set_delivery_cb(conf, on_dr, NULL);
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return p;
}

static void send_one(quire_producer_t *p, const char *topic, int cycle, int i)
{
    char *value = malloc(VALSZ);
    snprintf(value, VALSZ, "c%03d-%05d", cycle, i);
    quire_err_t err = quire_producer_send(p, topic, 0, NULL, 0, value,
                                          strlen(value), NULL, 0, 0, value);
    if (err != QUIRE_ERR_NONE)
        free(value);
}

/* ---- consuming and checking ---- */

/* One record read at @p offset: never two values at one offset. */
static void check_read(int64_t offset, const char *value, size_t len)
{
    char v[VALSZ];
    snprintf(v, sizeof(v), "%.*s", (int)len, value);
    ck_assert_int_lt(offset, MAXOFF);
    pthread_mutex_lock(&acked_mu);
    ck_assert_msg(!acked[offset][0] || !strcmp(acked[offset], v),
                  "offset %lld holds %s, but %s was acknowledged there",
                  (long long)offset, v, acked[offset]);
    pthread_mutex_unlock(&acked_mu);
    ck_assert_msg(!seen[offset][0] || !strcmp(seen[offset], v),
                  "offset %lld holds %s, but a consumer saw %s there",
                  (long long)offset, v, seen[offset]);
    snprintf(seen[offset], VALSZ, "%s", v);
    n_read++;
}

static quire_consumer_t *consumer_new(int64_t from)
{
    quire_conf_t *conf = conf_new();
    quire_consumer_t *c = NULL;
    char errstr[256];
    conf_set(conf, "fetch.max.wait.ms", "50");
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    ck_assert_int_eq(quire_consumer_assign(c, TOPIC, 0, from), QUIRE_ERR_NONE);
    return c;
}

/* Reads what is there for up to @p ms; returns the next offset. */
static int64_t consume_for(quire_consumer_t *c, int ms, int64_t next)
{
    for (long long end = now_ms() + ms; now_ms() < end;) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 20, &r);
        if (err != QUIRE_ERR_NONE)
            continue;
        check_read(r->offset, r->value, r->value_len);
        next = r->offset + 1;
    }
    return next;
}

static int64_t list_offset_of(const char *topic, int32_t partition, int64_t ts)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    int64_t off = -1;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_list_offset(c, topic, partition, ts, &off, IO_MS),
                     QUIRE_ERR_NONE);
    qt_client_close(c);
    return off;
}

static int64_t list_offset(int64_t ts)
{
    return list_offset_of(TOPIC, 0, ts);
}

/* After a restart: the log start never went back; every acknowledged
 * record from it on reads back at its offset, and every offset a consumer
 * saw still holds what it saw. */
static void verify_all(void)
{
    int64_t start = list_offset(-2), end = -1;
    long long deadline = now_ms() + 30000;

    ck_assert_msg(start >= max_start,
                  "log start %lld went back below %lld: deleted segments "
                  "returned",
                  (long long)start, (long long)max_start);
    max_start = start;
    /* the visible end reaches every acknowledged record once synced */
    while ((end = list_offset(-1)) <= max_acked && now_ms() < deadline)
        usleep(50000);
    ck_assert_msg(end > max_acked,
                  "high watermark %lld: acknowledged offset %lld is gone",
                  (long long)end, (long long)max_acked);
    quire_consumer_t *c = consumer_new(start);
    int64_t next = start;
    while (next < end && now_ms() < deadline)
        next = consume_for(c, 100, next);
    quire_consumer_close(c);
    ck_assert_msg(next >= end, "read up to %lld of %lld", (long long)next,
                  (long long)end);
    /* what was seen below the start was deleted by retention: fine; from
     * the start on, every acknowledged or seen offset was read again */
    for (int64_t o = start; o < end; o++) {
        if (acked[o][0])
            ck_assert_msg(!strcmp(seen[o], acked[o]),
                          "acknowledged offset %lld (%s) not read back",
                          (long long)o, acked[o]);
    }
    /* offsets seen before but past the end now: vanished */
    for (int64_t o = end; o < MAXOFF && o <= max_acked + 1000; o++)
        ck_assert_msg(!seen[o][0],
                      "offset %lld was seen (%s) but is past the end %lld "
                      "after the power cut",
                      (long long)o, seen[o], (long long)end);
}

static void verify_deleted_topics(void)
{
    for (int i = 0; i < ndeleted; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%.320s/%.63s-0", b->log_dir, deleted[i]);
        ck_assert_msg(access(path, F_OK) != 0,
                      "deleted topic %s came back (%s)", deleted[i], path);
    }
}

/* Creates, fills (acks=all) and deletes a topic; returns once the broker
 * has deleted its directory: the deletion is done. */
static void delete_cycle(int cycle)
{
    char name[64], path[1024];
    snprintf(name, sizeof(name), "gone%d", cycle);
    const char *create[] = {"--create",     "--topic", name,
                            "--partitions", "1",       NULL};
    topics_cmd(create);
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, name, 1, START_MS), 0);
    qt_client_close(c);
    quire_producer_t *p = producer_new();
    for (int i = 0; i < 20; i++)
        send_one(p, name, cycle, i);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    quire_producer_close(p, 5000);
    snprintf(path, sizeof(path), "%.320s/%.63s-0", b->log_dir, name);
    ck_assert_int_eq(access(path, F_OK), 0);
    const char *del[] = {"--delete", "--topic", name, NULL};
    topics_cmd(del);
    long long deadline = now_ms() + 30000;
    while (access(path, F_OK) == 0 && now_ms() < deadline)
        usleep(20000);
    ck_assert_msg(access(path, F_OK) != 0, "%s not deleted", name);
    snprintf(deleted[ndeleted++], sizeof(deleted[0]), "%s", name);
    n_deleted_topics++;
}

/* Producers write while a consumer reads; the power goes at a random
 * point. */
static void produce_and_cut(int cycle, unsigned *seed)
{
    quire_producer_t *p = producer_new();
    quire_consumer_t *c = consumer_new(QUIRE_OFFSET_END);
    int chunks = 4 + (int)(rand_r(seed) % 9);
    int64_t next = 0;

    for (int k = 0; k < chunks; k++) {
        for (int i = 0; i < 25; i++)
            send_one(p, TOPIC, cycle, k * 25 + i);
        if (k + 1 < chunks)
            next = consume_for(c, 10 + (int)(rand_r(seed) % 40), next);
    }
    /* in flight: some acknowledged, some not, some read, when the power
     * goes (every sync waits quire.test.flush.delay.ms first, so there is
     * always something appended but not yet synced) */
    consume_for(c, (int)(rand_r(seed) % 15), next);
    /* the log start as of now: retention's deletions so far are done */
    int64_t start = list_offset(-2);
    if (start > max_start)
        max_start = start;
    powercut();
    quire_consumer_close(c);
    quire_producer_close(p, 3000);
}

static int cycles(void)
{
    const char *e = getenv("QT_POWERLOSS_CYCLES");
    int n = e ? atoi(e) : 4;
    return n > 0 ? n : 4;
}

START_TEST(test_power_cuts)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int n = cycles();

    fprintf(stderr, "check_powerloss: %d cycles, seed %u\n", n, seed);
    setup_broker("num.partitions=1\n"
                 "log.segment.bytes=2048\n"
                 "log.retention.bytes=3000\n"
                 "log.retention.check.interval.ms=50\n"
                 "log.segment.delete.delay.ms=500\n"
                 "log.flush.offset.checkpoint.interval.ms=300\n"
                 "quire.test.flush.delay.ms=20\n");
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    const char *create[] = {"--create",     "--topic", TOPIC,
                            "--partitions", "1",       NULL};
    topics_cmd(create);
    for (int cycle = 0; cycle < n; cycle++) {
        if (cycle > 0)
            start_broker();
        else {
            qt_client_t *c = qt_client_connect(b->addr, IO_MS);
            ck_assert_int_eq(qt_wait_topic(c, TOPIC, 1, START_MS), 0);
            qt_client_close(c);
        }
        verify_all();
        verify_deleted_topics();
        if (cycle % 3 == 1) {
            delete_cycle(cycle);
            powercut(); /* right after the deletion was reported done */
            start_broker();
            verify_deleted_topics();
        }
        produce_and_cut(cycle, &seed);
    }
    start_broker();
    verify_all();
    verify_deleted_topics();
    fprintf(stderr,
            "check_powerloss: %d cycles, %ld power cuts, %ld records "
            "acknowledged (acks=all), %ld failed or unanswered, %ld reads "
            "checked, log start %lld (retention), %ld topics deleted\n",
            n, n_cuts, n_acked, n_failed_acks, n_read, (long long)max_start,
            n_deleted_topics);
    ck_assert_int_gt(n_acked, 0);
    if (n >= 4)
        ck_assert_int_gt(max_start, 0); /* retention deleted segments */
}
END_TEST

/* fsyncgate: one fsync fails; nothing of it is acknowledged, and a restart
 * without a power loss does not trust the pages the failed fsync left. */
START_TEST(test_fsync_error)
{
    setup_broker("num.partitions=1\n"
                 "log.flush.offset.checkpoint.interval.ms=600000\n");
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    const char *create[] = {"--create",     "--topic", TOPIC,
                            "--partitions", "1",       NULL};
    topics_cmd(create);
    qt_client_t *qc = qt_client_connect(b->addr, IO_MS);
    ck_assert_int_eq(qt_wait_topic(qc, TOPIC, 1, START_MS), 0);
    qt_client_close(qc);

    quire_producer_t *p = producer_new();
    for (int i = 0; i < 10; i++)
        send_one(p, TOPIC, 0, i);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    long good = n_acked;
    ck_assert_int_eq(good, 10);
    /* the next fsync fails: a large write spans whole unwritten pages */
    ck_assert_int_eq(qt_plfs_fail_next_fsync(&fs), 0);
    usleep(200000);
    for (int i = 0; i < 300; i++)
        send_one(p, TOPIC, 1, i);
    quire_producer_flush(p, 20000);
    quire_producer_close(p, 5000);
    ck_assert_int_eq(n_acked, good); /* nothing of it acknowledged */

    /* the broker dies; the machine does not: the pages are still there */
    qt_broker_kill(b);
    start_broker();
    p = producer_new();
    for (int i = 0; i < 20; i++)
        send_one(p, TOPIC, 2, i);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    quire_producer_close(p, 5000);
    ck_assert_int_eq(n_acked, good + 20);
    verify_all();
    /* now the power goes: what was acknowledged after the error stays */
    powercut();
    start_broker();
    verify_all();
    fprintf(stderr,
            "check_powerloss: fsync error: %ld acknowledged, %ld "
            "failed, all read back after the power cut\n",
            n_acked, n_failed_acks);
}
END_TEST

/* ---- clean stops (issue 19 follow-up) ----
 *
 * A clean stop (SIGTERM, the broker exits 0) flushes every partition,
 * writes the checkpoints and then the clean-shutdown marker: after it, a
 * power cut loses nothing and the restart trusts the marker (no
 * recovery). A power cut during the stop must leave a restart that trusts
 * nothing whose data did not reach the disk. The broker's stderr goes to
 * a file (qt_broker_t.log_path) so that the test reads its account of
 * each stop and start: "clean-shutdown marker written", per partition
 * "<topic>-<p>: closed" (debug=log) at the stop; at the next start
 * "clean shutdown (.quire_cleanshutdown found)" or, per partition, "no
 * clean shutdown: recovering". */

#define CS_TOPIC  "cs"
#define CS_PARTS  6
#define CS_MAXOFF 8192 /* 40 cycles (nemesis-powerloss) fill about 4,000 */

/* [partition][offset] -> value, as in the single-partition tests; weak:
 * acknowledged by acks=1 in the last cycle, which only a stop that
 * completed (its marker trusted) must keep */
static char (*cs_acked)[CS_MAXOFF][VALSZ], (*cs_seen)[CS_MAXOFF][VALSZ];
static char (*cs_weak)[CS_MAXOFF][VALSZ];
static int64_t cs_acked_end[CS_PARTS]; /* highest acknowledged offset + 1 */
static long cs_n_acked, cs_n_failed, cs_n_read, cs_n_gaps;

static void cs_alloc(void)
{
    cs_acked = calloc(CS_PARTS, sizeof(*cs_acked));
    cs_seen = calloc(CS_PARTS, sizeof(*cs_seen));
    cs_weak = calloc(CS_PARTS, sizeof(*cs_weak));
    ck_assert_ptr_nonnull(cs_acked);
    ck_assert_ptr_nonnull(cs_seen);
    ck_assert_ptr_nonnull(cs_weak);
}

static void cs_free(void)
{
    free(cs_acked);
    free(cs_seen);
    free(cs_weak);
}

/* @p opaque: non-NULL for the weak producer (cs_weak) */
static void cs_on_dr(const quire_delivery_t *dr, void *opaque)
{
    char *value = dr->opaque;
    pthread_mutex_lock(&acked_mu);
    if (dr->err != QUIRE_ERR_NONE || dr->offset < 0) {
        cs_n_failed++;
    } else if (opaque) {
        ck_assert_int_lt(dr->partition, CS_PARTS);
        ck_assert_int_lt(dr->offset, CS_MAXOFF);
        snprintf(cs_weak[dr->partition][dr->offset], VALSZ, "%s", value);
    } else {
        int32_t p = dr->partition;
        ck_assert_int_lt(p, CS_PARTS);
        ck_assert_int_lt(dr->offset, CS_MAXOFF);
        char *slot = cs_acked[p][dr->offset];
        ck_assert_msg(!slot[0] || !strcmp(slot, value),
                      "%s-%d offset %lld acknowledged twice: %s and %s",
                      CS_TOPIC, (int)p, (long long)dr->offset, slot, value);
        snprintf(slot, VALSZ, "%s", value);
        if (dr->offset + 1 > cs_acked_end[p])
            cs_acked_end[p] = dr->offset + 1;
        cs_n_acked++;
    }
    pthread_mutex_unlock(&acked_mu);
    free(value);
}

static quire_producer_t *cs_producer_new(const char *acks, int weak)
{
    quire_conf_t *conf = conf_new();
    quire_producer_t *p = NULL;
    char errstr[256];
    conf_set(conf, "acks", acks);
    conf_set(conf, "linger.ms", "2");
    conf_set(conf, "retries", "0");
    /* a batch must fit in a segment (log.segment.bytes=1024) */
    conf_set(conf, "batch.size", "512");
    quire_conf_set_delivery_cb(conf, cs_on_dr, weak ? cs_weak : NULL);
    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return p;
}

/* @p n records to @p partition, values "<tag>-p<partition>-<i>"
 * (partition < 100, n <= 10000). */
static void cs_send(quire_producer_t *p, int32_t partition, const char *tag,
                    int n)
{
    for (int i = 0; i < n; i++) {
        char *value = malloc(VALSZ);
        snprintf(value, VALSZ, "%.6s-p%02u-%04u", tag,
                 (unsigned)partition % 100, (unsigned)i % 10000);
        if (quire_producer_send(p, CS_TOPIC, partition, NULL, 0, value,
                                strlen(value), NULL, 0, 0,
                                value) != QUIRE_ERR_NONE)
            free(value);
    }
}

static void cs_create_topic(int parts)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", parts);
    const char *create[] = {"--create",     "--topic", CS_TOPIC,
                            "--partitions", n,         NULL};
    topics_cmd(create);
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, CS_TOPIC, parts, START_MS), 0);
    qt_client_close(c);
}

/* The broker's log as a file: its size now, and its text from @p off
 * (owned by the caller). */
static long blog_size(void)
{
    struct stat st;
    return stat(b->log_path, &st) == 0 ? (long)st.st_size : 0;
}

static char *blog_from(long off)
{
    FILE *fp = fopen(b->log_path, "r");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t n;

    ck_assert_ptr_nonnull(fp);
    fseek(fp, off, SEEK_SET);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(fp);
    fclose(mem);
    return text;
}

/* The first start attempt in @p text: up to the end of its "partitions
 * loaded" line. A start that fails (the old ZooKeeper session still
 * there) closes its logs cleanly, so the attempts after it start clean:
 * only the first one says what the power cut left. Cut in place. */
static void blog_first_start(char *text)
{
    char *loaded = strstr(text, " partitions loaded from ");
    char *nl = loaded ? strchr(loaded, '\n') : NULL;
    if (nl)
        nl[1] = '\0';
}

static void cs_fail(const char *text, const char *what)
{
    fprintf(stderr, "---- the broker's log ----\n%s---- end ----\n", text);
    ck_abort_msg("%s", what);
}

/* A start that trusted the marker: the marker line, and no partition
 * recovered nor index rebuilt. */
static int blog_clean_start(const char *text)
{
    return strstr(text, "clean shutdown (.quire_cleanshutdown found)") &&
           !strstr(text, "no clean shutdown") && !strstr(text, "recovered ") &&
           !strstr(text, "rebuilding it");
}

static int blog_has_part(const char *text, int32_t p, const char *what)
{
    char needle[128];
    snprintf(needle, sizeof(needle), " %s-%d: %s", CS_TOPIC, (int)p, what);
    return strstr(text, needle) != NULL;
}

/* Reads every partition from 0 to its end and checks each offset: what
 * was acknowledged there, what was read there before; an offset read
 * before never vanishes. @p exact: nothing but acknowledged records (each
 * record sent was acknowledged, acks=1, nothing failed). @p weak: the
 * weak acknowledgements hold too (the last stop completed). */
/* Whether offset @p o of partition @p p must read back now. */
static int cs_required(int32_t p, int64_t o, int exact, int weak)
{
    return exact || cs_acked[p][o][0] || cs_seen[p][o][0] ||
           (weak && cs_weak[p][o][0]);
}

static void cs_check_record(const quire_record_t *r, int exact, int weak)
{
    int32_t p = r->partition;
    int64_t o = r->offset;
    char v[VALSZ];

    snprintf(v, sizeof(v), "%.*s", (int)r->value_len, (const char *)r->value);
    ck_assert_msg(!cs_acked[p][o][0] || !strcmp(cs_acked[p][o], v),
                  "%s-%d offset %lld holds %s, but %s was acknowledged there",
                  CS_TOPIC, p, (long long)o, v, cs_acked[p][o]);
    ck_assert_msg(!cs_seen[p][o][0] || !strcmp(cs_seen[p][o], v),
                  "%s-%d offset %lld holds %s, but %s was read there before",
                  CS_TOPIC, p, (long long)o, v, cs_seen[p][o]);
    ck_assert_msg(!weak || !cs_weak[p][o][0] || !strcmp(cs_weak[p][o], v),
                  "%s-%d offset %lld holds %s, but %s was acknowledged there "
                  "(acks=1) before a cut the restart did not see (it "
                  "trusted the marker)",
                  CS_TOPIC, p, (long long)o, v, cs_weak[p][o]);
    ck_assert_msg(!exact || cs_acked[p][o][0],
                  "%s-%d offset %lld holds %s, never acknowledged", CS_TOPIC, p,
                  (long long)o, v);
    snprintf(cs_seen[p][o], VALSZ, "%s", v);
    cs_n_read++;
}

/* Reads every partition from 0 to its end and checks each record: what
 * was acknowledged at its offset, what was read there before. Every
 * offset acknowledged (acks=all; acks=1 too with @p weak: the last stop
 * completed) or read before reads back: none vanishes. Other offsets may
 * be missing after a cut (recovery.c: a new segment whose directory entry
 * reached the disk before the data of the one it follows leaves a gap of
 * offsets nobody was told of); @p exact: none, and nothing but
 * acknowledged records (each record sent was acknowledged). */
static void cs_verify(int parts, int exact, int weak)
{
    int64_t end[CS_PARTS];
    long long deadline = now_ms() + 30000, idle;
    quire_consumer_t *c;
    quire_conf_t *conf = conf_new();
    char errstr[256];
    static char got[CS_PARTS][CS_MAXOFF];
    long need = 0, have = 0;

    memset(got, 0, sizeof(got));
    for (int p = 0; p < parts; p++) {
        ck_assert_int_eq(list_offset_of(CS_TOPIC, p, -2), 0);
        /* after a recovery the visible end reaches the log end with the
         * first flush */
        while ((end[p] = list_offset_of(CS_TOPIC, p, -1)) < cs_acked_end[p] &&
               now_ms() < deadline)
            usleep(50000);
        ck_assert_msg(end[p] >= cs_acked_end[p],
                      "%s-%d: end %lld: acknowledged offset %lld is gone",
                      CS_TOPIC, p, (long long)end[p],
                      (long long)cs_acked_end[p] - 1);
        if (exact)
            ck_assert_msg(end[p] == cs_acked_end[p],
                          "%s-%d: end %lld, but only offsets below %lld "
                          "were acknowledged",
                          CS_TOPIC, p, (long long)end[p],
                          (long long)cs_acked_end[p]);
        ck_assert_int_le(end[p], CS_MAXOFF);
        for (int64_t o = 0; o < end[p]; o++)
            need += cs_required(p, o, exact, weak);
        for (int64_t o = end[p]; o < CS_MAXOFF; o++) {
            ck_assert_msg(!cs_seen[p][o][0],
                          "%s-%d offset %lld was read before (%s) but is "
                          "past the end %lld now",
                          CS_TOPIC, p, (long long)o, cs_seen[p][o],
                          (long long)end[p]);
            ck_assert_msg(!weak || !cs_weak[p][o][0],
                          "%s-%d offset %lld (%s) acknowledged (acks=1) "
                          "before a cut the restart did not see (it trusted "
                          "the marker) is past the end %lld",
                          CS_TOPIC, p, (long long)o, cs_weak[p][o],
                          (long long)end[p]);
        }
    }
    conf_set(conf, "fetch.max.wait.ms", "50");
    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int p = 0; p < parts; p++)
        ck_assert_int_eq(quire_consumer_assign(c, CS_TOPIC, p, 0),
                         QUIRE_ERR_NONE);
    /* until every required offset came, then 300 ms more for the rest */
    for (idle = now_ms();
         now_ms() < deadline && (have < need || now_ms() - idle < 300);) {
        const quire_record_t *r;
        if (quire_consumer_poll(c, 50, &r) != QUIRE_ERR_NONE)
            continue;
        ck_assert_int_lt(r->partition, parts);
        if (r->offset >= end[r->partition] || got[r->partition][r->offset])
            continue; /* appended since: not this check's */
        int required = cs_required(r->partition, r->offset, exact, weak);
        cs_check_record(r, exact, weak);
        got[r->partition][r->offset] = 1;
        have += required;
        idle = now_ms();
    }
    quire_consumer_close(c);
    for (int p = 0; p < parts; p++)
        for (int64_t o = 0; o < end[p]; o++) {
            ck_assert_msg(got[p][o] || !cs_required(p, o, exact, weak),
                          "%s-%d offset %lld (below the end %lld; %s) not "
                          "read back",
                          CS_TOPIC, p, (long long)o, (long long)end[p],
                          cs_acked[p][o][0]  ? "acknowledged"
                          : cs_seen[p][o][0] ? "read before"
                          : exact            ? "the log has no gap"
                                             : "acknowledged with acks=1");
            cs_n_gaps += !got[p][o];
        }
}

/* Segment files (.log) in a partition's directory, as the broker sees
 * them. */
static int cs_segments(int32_t p)
{
    char path[512];
    int n = 0;
    struct dirent *de;
    snprintf(path, sizeof(path), "%.300s/%s-%d", b->log_dir, CS_TOPIC, (int)p);
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".log"))
            n++;
    }
    closedir(d);
    return n;
}

/* The broker of the clean-stop tests: segments of about a dozen records,
 * every sync held back 20 ms (so a stop always finds unsynced appends),
 * no periodic checkpoint in the way, "<partition>: closed" logged. */
static void cs_setup_broker(void)
{
    setup_broker("num.partitions=1\n"
                 "log.segment.bytes=1024\n"
                 "log.flush.offset.checkpoint.interval.ms=600000\n"
                 "quire.test.flush.delay.ms=20\n"
                 "debug=log\n");
    snprintf(b->log_path, sizeof(b->log_path), "%.300s/broker.log", b->dir);
    cs_alloc();
}

/* acks=1 records acknowledged, a clean stop, a power cut: nothing lost,
 * nothing recovered, nothing else there. Partition 0 rolls several
 * segments, 1 and 2 hold a few records in their first segment, 3 none. */
START_TEST(test_cut_after_clean_stop)
{
    static const int counts[] = {150, 30, 4, 0};
    const int parts = 4;
    char *text;
    long off;

    cs_setup_broker();
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    cs_create_topic(parts);
    quire_producer_t *p = cs_producer_new("1", 0);
    for (int k = 0; k < 3; k++) /* several batches each */
        for (int32_t q = 0; q < parts; q++)
            cs_send(p, q, k == 0 ? "a" : k == 1 ? "b" : "c", counts[q] / 3);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    quire_producer_close(p, 5000);
    ck_assert_int_eq(cs_n_failed, 0);
    for (int32_t q = 0; q < parts; q++)
        ck_assert_int_eq(cs_acked_end[q], counts[q] / 3 * 3);
    ck_assert_int_ge(cs_segments(0), 3); /* rolled */
    ck_assert_int_eq(cs_segments(1), 1);

    off = blog_size();
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0); /* a clean exit */
    text = blog_from(off);
    if (!strstr(text, "clean-shutdown marker written"))
        cs_fail(text, "the clean stop wrote no clean-shutdown marker");
    free(text);
    powercut();

    off = blog_size();
    start_broker_for(CS_TOPIC, parts);
    text = blog_from(off);
    blog_first_start(text);
    if (!blog_clean_start(text))
        cs_fail(text, "the start after a clean stop and a power cut did not "
                      "trust the clean-shutdown marker, or recovered");
    free(text);
    cs_verify(parts, 1, 0);
    ck_assert_int_ge(cs_segments(0), 3);
    fprintf(stderr,
            "check_powerloss: clean stop then power cut: %ld records "
            "(acks=1) read back, %d segments in %s-0, no recovery\n",
            cs_n_read, cs_segments(0), CS_TOPIC);
    cs_free();
}
END_TEST

static int stop_cycles(void)
{
    const char *e = getenv("QT_POWERLOSS_STOP_CYCLES");
    int n = e ? atoi(e) : 8;
    return n > 0 ? n : 8;
}

/* What the test saw of one stop cut short: the broker's account of the
 * stop (@p stop) and of the first start after the cut (@p start). */
static void cs_check_restart(const char *stop, const char *start, int exited,
                             int parts)
{
    int clean = blog_clean_start(start);
    char what[256];

    if (exited && !clean)
        cs_fail(start, "the broker had exited cleanly before the power cut, "
                       "yet the next start did not trust its clean-shutdown "
                       "marker");
    /* "closed" is logged once the partition's last sync returned; the
     * marker is written only after every close */
    for (int32_t p = 0; p < parts; p++)
        if (!blog_has_part(stop, p, "closed") &&
            !blog_has_part(start, p, "no clean shutdown: recovering")) {
            snprintf(what, sizeof(what),
                     "%s-%d had not finished closing when the power went, "
                     "yet the next start did not recover it",
                     CS_TOPIC, (int)p);
            cs_fail(start, what);
        }
}

/* When the broker said @p needle (CLOCK_REALTIME ms; -1: it did not),
 * from its log's "2026-12-04T18:39:24.615Z" timestamps. */
static long long blog_when(const char *text, const char *needle)
{
    const char *at = strstr(text, needle), *line = at;
    struct tm tm;
    int ms;

    if (!at)
        return -1;
    while (line > text && line[-1] != '\n')
        line--;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* acks=all records acknowledged before the stop and in flight at it,
 * acks=1 records acknowledged before it and not yet synced (so the closes
 * have data to sync) and in flight at it, SIGTERM, and the power cut a
 * random moment later. An acks=1 record acknowledged at any time was
 * appended before the closes, so a restart that trusts the marker has it.
 * The first stop runs to its end and says how long the broker takes from
 * the signal to its clean-shutdown marker; three cuts in four land in
 * that span (before the closes, between them, around the marker), the
 * fourth anywhere up to the process's exit and a little after. */
START_TEST(test_cut_during_clean_stop)
{
    const int parts = CS_PARTS, n = stop_cycles();
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    long long stop_ms = 0, marker_ms = 0;
    int n_exited = 0, n_mid_close = 0, n_before_close = 0, n_clean = 0;

    fprintf(stderr,
            "check_powerloss: clean stops cut short: %d cycles, "
            "seed %u\n",
            n, seed);
    cs_setup_broker();
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    cs_create_topic(parts);
    for (int cycle = 0; cycle < n; cycle++) {
        char tag[16], *stop, *start;
        quire_producer_t *p = cs_producer_new("all", 0);
        quire_producer_t *w = cs_producer_new("1", 1);
        long long delay, t0, w0;
        int exited = 0, closed = 0, clean;
        long off;

        snprintf(tag, sizeof(tag), "c%d", cycle);
        for (int32_t q = 0; q < parts; q++)
            cs_send(p, q, tag, 5 + (int)(rand_r(&seed) % 20));
        ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
        memset(cs_weak, 0, CS_PARTS * sizeof(*cs_weak));
        snprintf(tag, sizeof(tag), "w%d", cycle);
        for (int32_t q = 0; q < parts; q++)
            cs_send(w, q, tag, 10 + (int)(rand_r(&seed) % 20));
        ck_assert_int_eq(quire_producer_flush(w, 20000), QUIRE_ERR_NONE);
        /* in flight at the signal: acks=all, and acks=1 (answered during
         * the stop's drain, so appended before the closes) */
        snprintf(tag, sizeof(tag), "d%d", cycle);
        for (int32_t q = 0; q < parts; q++)
            cs_send(p, q, tag, (int)(rand_r(&seed) % 20));
        snprintf(tag, sizeof(tag), "x%d", cycle);
        for (int32_t q = 0; q < parts; q++)
            cs_send(w, q, tag, (int)(rand_r(&seed) % 10));
        usleep((useconds_t)(rand_r(&seed) % 5000));

        off = blog_size();
        t0 = now_ms();
        w0 = wall_ms();
        kill(b->pid, SIGTERM);
        if (cycle == 0)
            delay = 30000; /* to its end */
        else if (cycle % 4 != 0)
            delay = rand_r(&seed) % (marker_ms * 6 / 5 + 1);
        else
            delay = rand_r(&seed) % (stop_ms * 5 / 4 + 1);
        while (now_ms() - t0 < delay) {
            int status;
            if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
                b->pid = 0;
                exited = 1;
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                              "the broker's stop failed (wait status %#x)",
                              status);
                break;
            }
            usleep(500);
        }
        powercut();
        quire_producer_close(p, 3000); /* the rest fail */
        quire_producer_close(w, 3000);
        stop = blog_from(off);
        if (cycle == 0) {
            ck_assert_msg(exited, "the broker did not stop within 30 s");
            stop_ms = now_ms() - t0;
            marker_ms = blog_when(stop, "clean-shutdown marker written") - w0;
            if (marker_ms < 0 || marker_ms > stop_ms)
                cs_fail(stop, "no clean-shutdown marker, or one after the "
                              "exit");
        }
        for (int32_t q = 0; q < parts; q++)
            closed += blog_has_part(stop, q, "closed");
        n_exited += exited;
        n_mid_close += !exited && closed > 0;
        n_before_close += closed == 0;

        off = blog_size();
        start_broker_for(CS_TOPIC, parts);
        start = blog_from(off);
        blog_first_start(start);
        cs_check_restart(stop, start, exited, parts);
        clean = blog_clean_start(start);
        n_clean += clean;
        free(stop);
        free(start);
        cs_verify(parts, 0, clean);
    }
    fprintf(stderr,
            "check_powerloss: clean stops cut short: %d cycles (from the "
            "signal, the marker at %lld ms, the exit at %lld ms): %d cuts "
            "after the exit, %d during or after the closes, %d before any "
            "close; %d restarts trusted the marker; %ld records "
            "acknowledged (acks=all), %ld failed, %ld reads checked, %ld "
            "unacknowledged offsets missing after cuts\n",
            n, marker_ms, stop_ms, n_exited, n_mid_close, n_before_close,
            n_clean, cs_n_acked, cs_n_failed, cs_n_read, cs_n_gaps);
    ck_assert_int_gt(cs_n_acked, 0);
    cs_free();
}
END_TEST

static Suite *powerloss_suite(void)
{
    Suite *s = suite_create("powerloss");
    TCase *tc = tcase_create("plfs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_power_cuts);
    tcase_add_test(tc, test_fsync_error);
    suite_add_tcase(s, tc);
    /* CK_RUN_CASE=cleanstop runs these alone */
    tc = tcase_create("cleanstop");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_cut_after_clean_stop);
    tcase_add_test(tc, test_cut_during_clean_stop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_plfs_require();
    (void)qt_zk_env(); /* exits 99 without the harness's ZooKeeper */
    SRunner *sr = srunner_create(powerloss_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
