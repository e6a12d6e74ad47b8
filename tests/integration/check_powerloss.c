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
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
static void start_broker(void)
{
    qt_client_t *c;
    int rc = -1;
    for (long long end = now_ms() + START_MS; rc != 0 && now_ms() < end;)
        if ((rc = qt_broker_start(b, START_MS)) != 0)
            usleep(300000);
    ck_assert_msg(rc == 0, "broker did not start (see its log)");
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, TOPIC, 1, START_MS), 0);
    qt_client_close(c);
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

static int64_t list_offset(int64_t ts)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);
    int64_t off = -1;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_list_offset(c, TOPIC, 0, ts, &off, IO_MS),
                     QUIRE_ERR_NONE);
    qt_client_close(c);
    return off;
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

static Suite *powerloss_suite(void)
{
    Suite *s = suite_create("powerloss");
    TCase *tc = tcase_create("plfs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_power_cuts);
    tcase_add_test(tc, test_fsync_error);
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
