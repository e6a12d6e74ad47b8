/*
 * check_repl_failover: issue 16's end-to-end failover tests, three real
 * brokers replicating (RF=3, min.insync.replicas=2) under a real
 * ZooKeeper.
 *
 *   kill_leader_10x: a libquire producer (acks=all, retries) writes to
 *     three partitions while the leader of partition 0 is killed -9 ten
 *     times (restarted each time, and back in the ISR before the next
 *     kill). Afterwards every acknowledged (partition, offset, value) reads
 *     back exactly there; the three replicas' logs agree (quire-dump-log)
 *     up to the high watermark; the HW ListOffsets shows on the current
 *     leader never goes backwards.
 *   zombie_leader: the leader of a partition is paused (SIGSTOP) past its
 *     session; a new leader is elected and takes writes; an acks=all
 *     produce queued on the paused leader is answered, after SIGCONT, with
 *     an error, never acknowledged; the old leader rejoins the ISR as a
 *     follower and its log agrees with the leader's.
 *   controlled_shutdown: the leader of a partition is stopped with SIGTERM
 *     (controlled.shutdown.enable) three times while the producer writes:
 *     no record fails, every acknowledged one reads back at its offset.
 *   idempotent_failover (issue 22): a zombie leader took an idempotent
 *     batch its successor never had; once it follows, truncates and
 *     leads again, the producer's retry of that batch is written (the
 *     truncated batch is forgotten), and after the next leader's kill -9
 *     the same retry to the new leader is answered with its original
 *     offset, not written twice.
 *
 * The producer is idempotent (libquire's default with acks=all), so the
 * read-back also checks that no record is in a log twice.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_client.h"
#include "qt_records.h"
#include "batch.h"
#include "clock.h"
#include "qt_repl.h"
#include "quire.h"
#include "znode.h"

#define START_MS 30000
#define WAIT_MS  30000
#define IO_MS    10000
#define NPARTS   3
#define MAXACK   2000000

static qt_repl_t cl;

/* Leader kills in kill_leader_10x: QT_REPL_KILLS, default 10 (make
 * nemesis-repl: 100). */
static int kills(void)
{
    const char *v = getenv("QT_REPL_KILLS");
    int n = v ? atoi(v) : 10;

    return n > 0 ? n : 10;
}

/* ---- cluster ---- */

static void start_cluster(void)
{
    qt_repl_start(&cl, "zookeeper.session.timeout.ms=2000\n"
                       "min.insync.replicas=2\n"
                       "controlled.shutdown.retry.backoff.ms=1000\n");
}

static void teardown(void)
{
    qt_repl_stop(&cl);
}

static void create_topic(const char *topic, const char *parts)
{
    qt_repl_create_topic(&cl, topic, parts);
}

static bool read_state(const char *topic, int p, qr_pstate_t *st)
{
    return qt_repl_state(&cl, topic, p, st, NULL);
}

/* Waits for a leader other than @p not and a full ISR (or any ISR when
 * @p full is false). @returns the leader. */
static int wait_leader(const char *topic, int p, int not, bool full)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    qr_pstate_t st = {.leader = -1};

    while (qt_now_ms() < deadline) {
        if (read_state(topic, p, &st) && st.leader >= 1 &&
            st.leader != not &&(!full || st.isr_cnt == 3))
            return st.leader;
        qt_sleep_ms(20);
    }
    ck_abort_msg("%s-%d: no leader%s (leader %d, %zu in the ISR)", topic, p,
                 full ? " with a full ISR" : "", st.leader, st.isr_cnt);
    return -1;
}

/* The HW consumers see on @p topic-@p p: ListOffsets latest on its
 * leader; -1 when the leader does not answer it now. */
static int64_t leader_hw(const char *topic, int p)
{
    qr_pstate_t st;
    qt_client_t *c;
    int64_t off = -1;

    if (!read_state(topic, p, &st) || st.leader < 1 ||
        !cl.b[st.leader - 1]->pid)
        return -1;
    c = qt_client_connect(cl.b[st.leader - 1]->addr, IO_MS);
    if (!c)
        return -1;
    if (qt_list_offset(c, topic, p, -1 /* latest */, &off, IO_MS) !=
        QUIRE_ERR_NONE)
        off = -1;
    qt_client_close(c);
    return off;
}

/* ---- the replicas' logs ---- */

/* quire-dump-log's batch and record lines of @p dir's segments, up to the
 * first batch at or past @p hw. @returns owned text. */
static char *dump_upto(const char *dir, int64_t hw)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap), line[4096];
    bool stop = false;

    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]->d_name);
        if (!stop && l > 4 && strcmp(names[i]->d_name + l - 4, ".log") == 0) {
            char cmd[1024];
            FILE *fp;
            snprintf(cmd, sizeof(cmd), "'%s' -r '%s/%s'", QT_DUMP_LOG, dir,
                     names[i]->d_name);
            fp = popen(cmd, "r");
            ck_assert_ptr_nonnull(fp);
            while (!stop && fgets(line, sizeof(line), fp)) {
                long long base;
                if (sscanf(line, "baseOffset: %lld", &base) == 1 && base >= hw)
                    stop = true;
                else {
                    size_t ll = strlen(line);
                    while (len + ll + 1 > cap)
                        out = realloc(out, cap *= 2);
                    memcpy(out + len, line, ll + 1);
                    len += ll;
                }
            }
            pclose(fp);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

/* Stops every broker (the logs are closed and flushed), then compares the
 * replicas of @p topic-@p p up to @p hw. */
static void replicas_agree(const char *topic, int p, int64_t hw)
{
    char dir[512], *first = NULL;

    for (int i = 0; i < 3; i++) {
        char *d;
        snprintf(dir, sizeof(dir), "%s/%s-%d", cl.b[i]->log_dir, topic, p);
        d = dump_upto(dir, hw);
        ck_assert_msg(strlen(d) > 0, "%s: nothing below the HW", dir);
        if (!first)
            first = d;
        else {
            ck_assert_msg(strcmp(first, d) == 0,
                          "%s-%d: broker %d's log differs from broker 1's "
                          "below the HW %lld",
                          topic, p, i + 1, (long long)hw);
            free(d);
        }
    }
    free(first);
}

/* ---- the producer ---- */

typedef struct acked {
    int32_t partition;
    int64_t offset;
    int seq;
} acked_t;

typedef struct prod {
    quire_producer_t *producer;
    pthread_t thread;
    atomic_int stop;
    atomic_int outstanding;
    pthread_mutex_t mu;
    acked_t *acks;
    size_t ack_cnt;
    atomic_long failed;
    quire_err_t last_err;
} prod_t;

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    prod_t *pr = opaque;

    pthread_mutex_lock(&pr->mu);
    if (dr->err == QUIRE_ERR_NONE && pr->ack_cnt < MAXACK)
        pr->acks[pr->ack_cnt++] =
            (acked_t){dr->partition, dr->offset, (int)(intptr_t)dr->opaque};
    else if (dr->err != QUIRE_ERR_NONE) {
        atomic_fetch_add(&pr->failed, 1);
        pr->last_err = dr->err;
    }
    pthread_mutex_unlock(&pr->mu);
    atomic_fetch_sub(&pr->outstanding, 1);
}

static void *produce_loop(void *arg)
{
    prod_t *pr = arg;
    char value[32];

    for (int seq = 0; !atomic_load(&pr->stop) && seq < MAXACK; seq++) {
        while (atomic_load(&pr->outstanding) >= 200 && !atomic_load(&pr->stop))
            usleep(1000);
        snprintf(value, sizeof(value), "v-%d", seq);
        atomic_fetch_add(&pr->outstanding, 1);
        if (quire_producer_send(pr->producer, "e2e", seq % NPARTS, NULL, 0,
                                value, strlen(value), NULL, 0, 0,
                                (void *)(intptr_t)seq) != QUIRE_ERR_NONE) {
            atomic_fetch_sub(&pr->outstanding, 1);
            atomic_fetch_add(&pr->failed, 1);
        }
        usleep(500); /* about 2,000 records a second */
    }
    return NULL;
}

static void prod_start(prod_t *pr)
{
    quire_conf_t *conf = quire_conf_new();
    char servers[1024], errstr[256];

    memset(pr, 0, sizeof(*pr));
    pthread_mutex_init(&pr->mu, NULL);
    pr->acks = calloc(MAXACK, sizeof(acked_t));
    snprintf(servers, sizeof(servers), "%s,%s,%s", cl.b[0]->addr, cl.b[1]->addr,
             cl.b[2]->addr);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", servers, errstr,
                                    sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_conf_set(conf, "acks", "all", errstr, sizeof(errstr)), 0);
    ck_assert_int_eq(quire_conf_set(conf, "delivery.timeout.ms", "60000",
                                    errstr, sizeof(errstr)),
                     0);
    ck_assert_int_eq(
        quire_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)), 0);
    quire_conf_set_delivery_cb(conf, on_delivery, pr);
    ck_assert_int_eq(
        quire_producer_new(conf, &pr->producer, errstr, sizeof(errstr)), 0);
    ck_assert_int_eq(pthread_create(&pr->thread, NULL, produce_loop, pr), 0);
}

static size_t acked_count(prod_t *pr)
{
    size_t n;

    pthread_mutex_lock(&pr->mu);
    n = pr->ack_cnt;
    pthread_mutex_unlock(&pr->mu);
    return n;
}

static void prod_stop(prod_t *pr)
{
    atomic_store(&pr->stop, 1);
    pthread_join(pr->thread, NULL);
    ck_assert_int_eq(quire_producer_close(pr->producer, 90000), QUIRE_ERR_NONE);
}

/* Every acknowledged record reads back at its offset, with its value. */
static void read_back(prod_t *pr, int64_t hw[NPARTS])
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *cons;
    char servers[1024], errstr[256], want[32];
    char **seen[NPARTS];
    int64_t got = 0, total = 0;

    snprintf(servers, sizeof(servers), "%s,%s,%s", cl.b[0]->addr, cl.b[1]->addr,
             cl.b[2]->addr);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", servers, errstr,
                                    sizeof(errstr)),
                     0);
    ck_assert_int_eq(quire_consumer_new(conf, &cons, errstr, sizeof(errstr)),
                     0);
    for (int p = 0; p < NPARTS; p++) {
        seen[p] = calloc((size_t)hw[p] + 1, sizeof(char *));
        total += hw[p];
        ck_assert_int_eq(quire_consumer_assign(cons, "e2e", p, 0), 0);
    }
    for (int64_t deadline = qt_now_ms() + WAIT_MS;
         got < total && qt_now_ms() < deadline;) {
        const quire_record_t *rec;
        quire_err_t err = quire_consumer_poll(cons, 500, &rec);
        if (err == QUIRE_ERR_TIMED_OUT)
            continue;
        ck_assert_msg(err == QUIRE_ERR_NONE, "poll: %s", quire_err2str(err));
        if (rec->offset < hw[rec->partition] &&
            !seen[rec->partition][rec->offset]) {
            seen[rec->partition][rec->offset] =
                strndup(rec->value, rec->value_len);
            got++;
        }
    }
    quire_consumer_close(cons);
    ck_assert_int_eq(got, total);
    /* idempotence: no value is in a log twice (each is produced once) */
    {
        char *dupseen = calloc(MAXACK, 1);
        for (int p = 0; p < NPARTS; p++)
            for (int64_t o = 0; o < hw[p]; o++) {
                int seq;
                ck_assert_msg(seen[p][o] &&
                                  sscanf(seen[p][o], "v-%d", &seq) == 1 &&
                                  seq >= 0 && seq < MAXACK,
                              "e2e-%d@%lld: unexpected value %s", p,
                              (long long)o, seen[p][o] ? seen[p][o] : "(none)");
                ck_assert_msg(!dupseen[seq],
                              "%s is in e2e-%d twice (again at %lld)",
                              seen[p][o], p, (long long)o);
                dupseen[seq] = 1;
            }
        free(dupseen);
    }
    for (size_t i = 0; i < pr->ack_cnt; i++) {
        const acked_t *a = &pr->acks[i];
        snprintf(want, sizeof(want), "v-%d", a->seq);
        ck_assert_msg(a->offset < hw[a->partition],
                      "acknowledged e2e-%d@%lld is past the HW %lld",
                      a->partition, (long long)a->offset,
                      (long long)hw[a->partition]);
        ck_assert_msg(seen[a->partition][a->offset] &&
                          strcmp(seen[a->partition][a->offset], want) == 0,
                      "acknowledged %s at e2e-%d@%lld reads back as %s", want,
                      a->partition, (long long)a->offset,
                      seen[a->partition][a->offset]
                          ? seen[a->partition][a->offset]
                          : "nothing");
    }
    for (int p = 0; p < NPARTS; p++) {
        for (int64_t o = 0; o < hw[p]; o++)
            free(seen[p][o]);
        free(seen[p]);
    }
}

/* acks=all Produce of @p len bytes to broker @p id's @p topic-0, asked
 * again
 * while the broker has not yet acted on the state that makes it the
 * leader (nothing is written then). */
static quire_err_t produce_to(int id, const char *topic, const uint8_t *batch,
                              size_t len, int64_t *base)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;
    uint8_t copy[4096];
    quire_err_t err;

    do {
        qt_client_t *c = qt_client_connect(cl.b[id - 1]->addr, IO_MS);
        ck_assert_ptr_nonnull(c);
        memcpy(copy, batch, len);
        err = qt_produce(c, topic, 0, -1, copy, len, base, IO_MS);
        qt_client_close(c);
        if (err == QUIRE_ERR_NOT_LEADER_FOR_PARTITION ||
            err == QUIRE_ERR_LEADER_NOT_AVAILABLE)
            qt_sleep_ms(50);
    } while ((err == QUIRE_ERR_NOT_LEADER_FOR_PARTITION ||
              err == QUIRE_ERR_LEADER_NOT_AVAILABLE) &&
             qt_now_ms() < deadline);
    return err;
}

/* Sends an acks=all Produce of @p len bytes to @p topic-0 on @p c without
 * waiting. @returns its correlation id. */
static int32_t queue_produce(qt_client_t *c, const char *topic,
                             const uint8_t *batch, size_t len)
{
    qr_produce_part_t part = {0, (uint32_t)len, NULL};
    qr_produce_topic_t t = {topic, 1, &part};
    qr_req_t req = {0};
    int32_t corr;

    req.api = QR_API_PRODUCE;
    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = 5000;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    corr = qt_client_send(c, &req, batch, len);
    ck_assert_int_gt(corr, 0);
    return corr;
}

/* The answer to @p corr on @p c is an error, not an acknowledgement. */
static void expect_refused(qt_client_t *c, int32_t corr)
{
    qr_resp_t resp;

    ck_assert_int_eq(qt_client_recv(c, &resp, 20000), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, corr);
    ck_assert_int_eq(resp.u.produce.topic_count, 1);
    ck_assert_int_ne(resp.u.produce.topics[0].partitions[0].error_code,
                     QUIRE_ERR_NONE);
    qr_wire_resp_free(&resp);
}

/* ---- tests ---- */

START_TEST(test_kill_leader_10x)
{
    prod_t pr;
    int64_t hw_max = -1, hw[NPARTS];
    size_t before;

    start_cluster();
    create_topic("e2e", "\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]");
    for (int p = 0; p < NPARTS; p++)
        wait_leader("e2e", p, -1, true);
    prod_start(&pr);
    for (int k = 0, n = kills(); k < n; k++) {
        int leader = wait_leader("e2e", 0, -1, true), next;
        int64_t deadline = qt_now_ms() + WAIT_MS, h;

        before = acked_count(&pr);
        while (acked_count(&pr) < before + 100 && qt_now_ms() < deadline) {
            if ((h = leader_hw("e2e", 0)) >= 0) {
                ck_assert_msg(h >= hw_max, "HW went back from %lld to %lld",
                              (long long)hw_max, (long long)h);
                hw_max = h;
            }
            qt_sleep_ms(20);
        }
        ck_assert_msg(acked_count(&pr) >= before + 100,
                      "kill %d: no progress (%zu acknowledged, %ld failed)", k,
                      acked_count(&pr), atomic_load(&pr.failed));
        ck_assert_int_eq(qt_broker_kill(cl.b[leader - 1]), 0);
        next = wait_leader("e2e", 0, leader, false);
        ck_assert_int_ne(next, leader);
        for (int i = 0; i < 20; i++) {
            if ((h = leader_hw("e2e", 0)) >= 0) {
                ck_assert_msg(h >= hw_max,
                              "HW went back from %lld to %lld on broker %d",
                              (long long)hw_max, (long long)h, next);
                hw_max = h;
            }
            qt_sleep_ms(20);
        }
        ck_assert_int_eq(qt_broker_start(cl.b[leader - 1], START_MS), 0);
    }
    prod_stop(&pr);
    ck_assert_int_gt(pr.ack_cnt, 1000);
    /* everyone back in the ISR: the HW is the log end everywhere */
    for (int p = 0; p < NPARTS; p++) {
        wait_leader("e2e", p, -1, true);
        hw[p] = leader_hw("e2e", p);
        ck_assert_int_ge(hw[p], 0);
    }
    read_back(&pr, hw);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(qt_broker_stop(cl.b[i], WAIT_MS), 0);
    for (int p = 0; p < NPARTS; p++)
        replicas_agree("e2e", p, hw[p]);
    fprintf(stderr, "kill_leader_10x: %zu acknowledged, %ld failed\n",
            pr.ack_cnt, atomic_load(&pr.failed));
    free(pr.acks);
}
END_TEST

START_TEST(test_zombie_leader)
{
    uint8_t batch[4096];
    size_t len;
    int64_t base = -1, hw;
    qt_client_t *c;
    int32_t corr;
    int next;

    start_cluster();
    create_topic("zb", "\"0\":[1,2,3]");
    ck_assert_int_eq(wait_leader("zb", 0, -1, true), 1);
    c = qt_client_connect(cl.b[0]->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    len = qt_batch(batch, sizeof(batch), 10, "zb", 0);
    ck_assert_int_eq(produce_to(1, "zb", batch, len, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);

    /* paused past its session: another ISR member leads */
    kill(cl.b[0]->pid, SIGSTOP);
    next = wait_leader("zb", 0, 1, false);
    /* queued on the paused leader: an acks=all produce */
    len = qt_batch(batch, sizeof(batch), 5, "zombie", 0);
    corr = queue_produce(c, "zb", batch, len);
    /* the new leader takes writes */
    {
        uint8_t more[4096];
        size_t mlen = qt_batch(more, sizeof(more), 10, "zb", 10);
        ck_assert_int_eq(produce_to(next, "zb", more, mlen, &base),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(base, 10);
    }
    kill(cl.b[0]->pid, SIGCONT);
    /* the zombie answers with an error, never an acknowledgement */
    expect_refused(c, corr);
    qt_client_close(c);
    /* it rejoins as a follower, truncates, catches up */
    ck_assert_int_eq(wait_leader("zb", 0, 1, true), next);
    hw = leader_hw("zb", 0);
    ck_assert_int_eq(hw, 20);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(qt_broker_stop(cl.b[i], WAIT_MS), 0);
    replicas_agree("zb", 0, hw);
}
END_TEST

/* SIGTERM of the leader of e2e-0 (controlled shutdown moves its
 * partitions first) three times while producing: a producer with retries
 * sees only retriable errors, so no record fails. */
START_TEST(test_controlled_shutdown)
{
    prod_t pr;
    int64_t hw[NPARTS];

    start_cluster();
    create_topic("e2e", "\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]");
    for (int p = 0; p < NPARTS; p++)
        wait_leader("e2e", p, -1, true);
    prod_start(&pr);
    for (int k = 0; k < 3; k++) {
        int leader = wait_leader("e2e", 0, -1, true);
        int64_t deadline = qt_now_ms() + WAIT_MS;
        size_t before = acked_count(&pr);

        while (acked_count(&pr) < before + 100 && qt_now_ms() < deadline)
            qt_sleep_ms(20);
        ck_assert_msg(acked_count(&pr) >= before + 100,
                      "stop %d: no progress (%zu acknowledged, %ld failed)", k,
                      acked_count(&pr), atomic_load(&pr.failed));
        ck_assert_int_eq(qt_broker_stop(cl.b[leader - 1], WAIT_MS), 0);
        ck_assert_int_ne(wait_leader("e2e", 0, leader, false), leader);
        ck_assert_int_eq(qt_broker_start(cl.b[leader - 1], START_MS), 0);
    }
    prod_stop(&pr);
    ck_assert_msg(atomic_load(&pr.failed) == 0,
                  "%ld records failed across controlled shutdowns (last: %s)",
                  atomic_load(&pr.failed), quire_err2str(pr.last_err));
    ck_assert_int_gt(pr.ack_cnt, 300);
    for (int p = 0; p < NPARTS; p++) {
        wait_leader("e2e", p, -1, true);
        hw[p] = leader_hw("e2e", p);
        ck_assert_int_ge(hw[p], 0);
    }
    read_back(&pr, hw);
    fprintf(stderr, "controlled_shutdown: %zu acknowledged, 0 failed\n",
            pr.ack_cnt);
    free(pr.acks);
}
END_TEST

#define IDEM_PID                                             \
    4242 /* a producer id no broker handed out: KIP-360 lets \
            an unknown producer start at any sequence */

/* One idempotent batch of @p n records "<prefix>-<seq+i>" of IDEM_PID,
 * epoch 0, base sequence @p seq. @returns its size. */
static size_t idem_batch(uint8_t *out, size_t cap, int32_t seq, int n,
                         const char *prefix)
{
    uint8_t buf[4096];
    qr_batch_builder_t b;
    const uint8_t *data;
    size_t len;
    char v[64];

    ck_assert_int_eq(qr_batch_builder_init(&b, buf, sizeof(buf), 0),
                     QUIRE_ERR_NONE);
    qr_batch_builder_set_producer(&b, IDEM_PID, 0, seq);
    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "%s-%d", prefix, seq + i);
        ck_assert_int_eq(qr_batch_builder_append(&b, qr_clock_real_ms(), NULL,
                                                 0, v, strlen(v), NULL, 0),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &data, &len),
                     QUIRE_ERR_NONE);
    ck_assert_uint_le(len, cap);
    memcpy(out, data, len);
    return len;
}

/* Makes broker @p id the leader of zi-0 as a controller would (same ISR,
 * leader epoch + 1) and tells the controller (an ISR change
 * notification), then waits until it answers ListOffsets. */
static void make_leader(int id)
{
    const char *note = "{\"version\":1,\"partitions\":[{\"topic\":\"zi\","
                       "\"partition\":0}]}";
    char *data, *path = qr_znode_state_path("zi", 0);
    struct Stat stat;
    qr_pstate_t st;
    int64_t deadline = qt_now_ms() + WAIT_MS;

    ck_assert(qt_repl_state(&cl, "zi", 0, &st, &stat));
    st.leader = id;
    st.leader_epoch++;
    data = qr_znode_state_encode(&st);
    ck_assert_int_eq(qt_zk_set(cl.zh, path, data, (int)strlen(data),
                               stat.version, NULL, 2000),
                     ZOK);
    free(data);
    free(path);
    ck_assert_int_eq(qt_zk_create(cl.zh, QR_ZNODE_ISR_CHANGE_PREFIX, note,
                                  (int)strlen(note), ZOO_SEQUENCE, NULL, 2000),
                     ZOK);
    while (leader_hw("zi", 0) < 0 && qt_now_ms() < deadline)
        qt_sleep_ms(50);
    ck_assert_int_ge(leader_hw("zi", 0), 0);
}

START_TEST(test_idempotent_failover)
{
    uint8_t batch[4096], retry[4096];
    size_t len, rlen;
    int64_t base = -1;
    qt_client_t *c;
    int32_t corr;
    int next, last;

    start_cluster();
    create_topic("zi", "\"0\":[1,2,3]");
    ck_assert_int_eq(wait_leader("zi", 0, -1, true), 1);
    /* sequences 0..9 at offsets 0..9, on every replica */
    len = idem_batch(batch, sizeof(batch), 0, 10, "p");
    ck_assert_int_eq(produce_to(1, "zi", batch, len, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);

    /* broker 1 paused past its session; sequences 10..14 queued on it (it
     * writes them at 10..14 when it resumes, before it learns it was
     * deposed); its successor takes 10 other records at 10..19 */
    c = qt_client_connect(cl.b[0]->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    kill(cl.b[0]->pid, SIGSTOP);
    next = wait_leader("zi", 0, 1, false);
    rlen = idem_batch(retry, sizeof(retry), 10, 5, "p");
    memcpy(batch, retry, rlen);
    corr = queue_produce(c, "zi", batch, rlen);
    len = qt_batch(batch, sizeof(batch), 10, "other", 10);
    ck_assert_int_eq(produce_to(next, "zi", batch, len, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 10);
    kill(cl.b[0]->pid, SIGCONT);
    expect_refused(c, corr);
    qt_client_close(c);

    /* broker 1 followed, truncated 10..14 away, caught up to 20; made the
     * leader again, it must not take the retry for a duplicate of what it
     * truncated: the retry is written, at 20 */
    ck_assert_int_eq(wait_leader("zi", 0, 1, true), next);
    make_leader(1);
    ck_assert_int_eq(produce_to(1, "zi", retry, rlen, &base), QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 20);
    ck_assert_int_eq(leader_hw("zi", 0), 25);

    /* its followers copied the batch: after its kill -9, the next leader
     * answers the same retry with offset 20 and writes nothing */
    wait_leader("zi", 0, -1, true);
    ck_assert_int_eq(qt_broker_kill(cl.b[0]), 0);
    last = wait_leader("zi", 0, 1, false);
    ck_assert_int_eq(produce_to(last, "zi", retry, rlen, &base),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 20);
    ck_assert_int_eq(leader_hw("zi", 0), 25);
}
END_TEST

static Suite *repl_suite(void)
{
    Suite *s = suite_create("repl_failover");
    TCase *tc = tcase_create("failover");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kill_leader_10x);
    tcase_add_test(tc, test_zombie_leader);
    tcase_add_test(tc, test_controlled_shutdown);
    tcase_add_test(tc, test_idempotent_failover);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 without a ZooKeeper */
    SRunner *sr = srunner_create(repl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
