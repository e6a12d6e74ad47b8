/*
 * check_repl_follower: the follower side of replication (issue 16 items 2
 * and 6) on three real brokers under one real ZooKeeper.
 *
 * A topic whose partitions have replicas [1,2,3] and [2,3,1] is written to
 * ZooKeeper directly (Kafka's layout); the controller elects leaders; data
 * is produced to the leaders. Every follower's log must then agree byte
 * for byte with its leader's up to the leader's high watermark: the
 * concatenated .log files compared directly, and quire-dump-log's reading
 * of them (every batch and record, positions aside, since segments roll on
 * each replica by itself). A follower killed with SIGKILL and restarted
 * catches up the same way. A replica whose tail diverges from the new
 * leader's (it took writes as leader that its successor never had)
 * truncates them away, by the leader's OffsetsForLeaderEpoch answer.
 * A follower hundreds of full Fetch answers behind (the fetcher pipelines
 * its Fetches then) catches up byte for byte, over leader changes.
 *
 * Waits have deadlines for failure only; nothing asserts on speed.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#define START_MS 30000
#define IO_MS    10000
#define WAIT_MS  60000
#define NBROKERS 3
#define NPARTS   2
#define B1       (1u << 1)
#define B2       (1u << 2)
#define ALL3     (B1 | B2 | (1u << 3))
/* The tests that need an unclean election (the only replica in sync is
 * dead) to construct a divergent log deterministically ask for it where
 * the broker has the key (before it, elections were unclean anyway). */
#define UNCLEAN_KEY "unclean.leader.election.enable"

/* Small segments, so the logs roll on every replica; write caching off
 * (the default) so acks=all means synced. */
#define BROKER_EXTRA                                                \
    "auto.create.topics.enable=false\nlog.segment.bytes=65536\n"    \
    "replica.fetch.backoff.ms=100\nreplica.fetch.wait.max.ms=200\n" \
    "zookeeper.session.timeout.ms=6000\n"

typedef struct cluster {
    char *chroot;
    qt_broker_t *b[NBROKERS + 1]; /* by broker id */
    int frozen[NBROKERS + 1];     /* SIGSTOPped: not asked */
    zhandle_t *zh;
} cluster_t;

/* "unclean.leader.election.enable=true\n" when quire-broker knows the
 * key, else "". */
static const char *unclean_props(void)
{
    char line[512];
    int found = 0;
    FILE *pp = popen(QT_BROKER_BIN " --help-config", "r");

    ck_assert_ptr_nonnull(pp);
    while (fgets(line, sizeof(line), pp))
        if (strncmp(line, UNCLEAN_KEY "\n", strlen(UNCLEAN_KEY) + 1) == 0)
            found = 1;
    ck_assert_int_eq(pclose(pp), 0);
    return found ? UNCLEAN_KEY "=true\n" : "";
}

static void cluster_start(cluster_t *cl, const char *extra)
{
    char conf[1024];

    snprintf(conf, sizeof(conf), "%s%s", BROKER_EXTRA, extra ? extra : "");
    cl->chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(cl->chroot);
    cl->zh = qt_zk_connect(cl->chroot, 10000);
    ck_assert_ptr_nonnull(cl->zh);
    for (int id = 1; id <= NBROKERS; id++) {
        cl->b[id] = qt_broker_new(id, cl->chroot, conf);
        ck_assert_ptr_nonnull(cl->b[id]);
        ck_assert_int_eq(qt_broker_start(cl->b[id], START_MS), 0);
    }
}

static void cluster_stop(cluster_t *cl)
{
    for (int id = 1; id <= NBROKERS; id++) {
        if (cl->b[id]->pid)
            ck_assert_int_eq(qt_broker_stop(cl->b[id], 30000), 0);
        qt_broker_destroy(cl->b[id]);
    }
    qt_zk_close(cl->zh);
    free(cl->chroot);
}

/* The test's own session, opened anew: nothing services it while the
 * test produces and reads dumps, and on a loaded machine (ASan, other
 * jobs) that outlasted its timeout (the old session expired unnoticed
 * until a wait failed on it). */
static zhandle_t *live_zh(cluster_t *cl)
{
    qt_zk_close(cl->zh);
    cl->zh = qt_zk_connect(cl->chroot, 10000);
    ck_assert_ptr_nonnull(cl->zh);
    return cl->zh;
}

/* Kills broker @p id with SIGKILL and waits until ZooKeeper expired its
 * session (its registration gone), so it may start again. */
static void crash(cluster_t *cl, int id)
{
    char path[64];

    snprintf(path, sizeof(path), "/brokers/ids/%d", id);
    ck_assert_int_eq(qt_broker_kill(cl->b[id]), 0);
    ck_assert(qt_zk_wait_exists(live_zh(cl), path, false, WAIT_MS));
}

/* The topic's assignment, as quire-topics (or Kafka's tools) write it. */
static void create_topic(cluster_t *cl, const char *topic, const char *json)
{
    char path[256];

    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    ck_assert_int_eq(
        qt_zk_create_all(live_zh(cl), path, json, (int)strlen(json), 10000),
        ZOK);
}

/* The leader of topic-partition per Metadata, once it has one. */
static int32_t wait_leader(cluster_t *cl, const char *topic, int32_t p,
                           int32_t not_this)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;

    while (qt_now_ms() < deadline) {
        for (int id = 1; id <= NBROKERS; id++) {
            const char *topics[1] = {topic};
            qr_req_t req = {0};
            qr_resp_t resp;
            qt_client_t *c;
            int32_t leader = -1;
            if (!cl->b[id]->pid || cl->frozen[id])
                continue;
            c = qt_client_connect(cl->b[id]->addr, IO_MS);
            if (!c)
                continue;
            req.api = QR_API_METADATA;
            req.u.metadata.topic_count = 1;
            req.u.metadata.topics = topics;
            if (qt_client_call(c, &req, NULL, 0, &resp, IO_MS) ==
                QUIRE_ERR_NONE) {
                if (resp.u.metadata.topic_count == 1)
                    for (size_t k = 0;
                         k < resp.u.metadata.topics[0].partition_count; k++) {
                        const qr_metadata_part_t *mp =
                            &resp.u.metadata.topics[0].partitions[k];
                        if (mp->partition == p &&
                            mp->error_code == QUIRE_ERR_NONE)
                            leader = mp->leader;
                    }
                qr_wire_resp_free(&resp);
            }
            qt_client_close(c);
            if (leader > 0 && leader != not_this && cl->b[leader]->pid &&
                !cl->frozen[leader])
                return leader;
            break;
        }
        qt_sleep_ms(100);
    }
    return -1;
}

/* Produces @p batches batches of @p per records to the leader, retrying
 * while leadership settles (nothing is appended by a refused request). */
static void produce(cluster_t *cl, const char *topic, int32_t p, int batches,
                    int per, const char *prefix, int acks)
{
    uint8_t buf[65536];
    int32_t leader = wait_leader(cl, topic, p, -1);
    qt_client_t *c;

    ck_assert_int_gt(leader, 0);
    c = qt_client_connect(cl->b[leader]->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < batches; i++) {
        size_t len = qt_batch(buf, sizeof(buf), per, prefix, i * per);
        int64_t deadline = qt_now_ms() + WAIT_MS;
        quire_err_t err;
        ck_assert_uint_gt(len, 0);
        while ((err = qt_produce(c, topic, p, acks, buf, len, NULL, IO_MS)) ==
                   QUIRE_ERR_NOT_LEADER_FOR_PARTITION &&
               qt_now_ms() < deadline)
            qt_sleep_ms(100);
        ck_assert_msg(err == QUIRE_ERR_NONE, "produce to %s-%d: %s", topic,
                      (int)p, quire_err2str(err));
    }
    qt_client_close(c);
}

/* ---- reading a replica's log from disk ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment files of topic-p on broker @p b, sorted (by base offset:
 * the names are zero-padded). @returns the count; *out owned. */
static int segments(const qt_broker_t *b, const char *topic, int32_t p,
                    char ***out)
{
    char dir[600];
    DIR *d;
    struct dirent *de;
    char **v = NULL;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/%s-%d", b->log_dir, topic, (int)p);
    d = opendir(dir);
    if (!d) {
        *out = NULL;
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l == 24 && !strcmp(de->d_name + 20, ".log")) {
            v = realloc(v, (size_t)(n + 1) * sizeof(*v));
            v[n] = malloc(strlen(dir) + 32);
            sprintf(v[n++], "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof(*v), cmp_str);
    *out = v;
    return n;
}

static void free_strv(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

typedef struct replica_log {
    uint8_t *bytes; /* the whole batches below `upto`, concatenated */
    size_t len;
    int64_t end; /* offset after the last whole batch read */
    char *dump;  /* quire-dump-log -r of them, positions removed */
} replica_log_t;

/* Concatenates the whole batches of every segment whose offsets are below
 * @p upto (-1: all). */
static void read_bytes(char **segs, int n, int64_t upto, replica_log_t *rl)
{
    rl->bytes = NULL;
    rl->len = 0;
    rl->end = 0;
    for (int i = 0; i < n; i++) {
        FILE *fp = fopen(segs[i], "rb");
        struct stat st;
        uint8_t *buf;
        size_t off = 0;
        if (!fp)
            continue;
        if (fstat(fileno(fp), &st) != 0) {
            fclose(fp);
            continue;
        }
        buf = malloc((size_t)st.st_size + 1);
        st.st_size = (off_t)fread(buf, 1, (size_t)st.st_size, fp);
        fclose(fp);
        while (off + QR_BATCH_HEADER_SIZE <= (size_t)st.st_size) {
            qr_batch_hdr_t hdr;
            size_t sz;
            if (qr_batch_hdr_read(buf + off, (size_t)st.st_size - off, &hdr) !=
                QUIRE_ERR_NONE)
                break;
            sz = qr_batch_size(&hdr);
            if (sz > (size_t)st.st_size - off ||
                (upto >= 0 && qr_batch_last_offset(&hdr) >= upto))
                break;
            rl->bytes = realloc(rl->bytes, rl->len + sz);
            memcpy(rl->bytes + rl->len, buf + off, sz);
            rl->len += sz;
            rl->end = qr_batch_last_offset(&hdr) + 1;
            off += sz;
        }
        free(buf);
    }
}

/* quire-dump-log -r over the segments, keeping the batches (and their
 * records) below @p upto, without the per-segment "position:" field. */
static char *read_dump(char **segs, int n, int64_t upto)
{
    size_t cmdlen = strlen(QT_DUMP_LOG) + 16;
    char *cmd, line[8192], *out = NULL;
    size_t outlen = 0;
    int keep = 1, st;
    FILE *pp;

    for (int i = 0; i < n; i++)
        cmdlen += strlen(segs[i]) + 3;
    if (n == 0)
        return strdup("");
    cmd = malloc(cmdlen);
    strcpy(cmd, QT_DUMP_LOG " -r");
    for (int i = 0; i < n; i++) {
        strcat(cmd, " '");
        strcat(cmd, segs[i]);
        strcat(cmd, "'");
    }
    pp = popen(cmd, "r");
    free(cmd);
    ck_assert_ptr_nonnull(pp);
    while (fgets(line, sizeof(line), pp)) {
        char *pos;
        long long base, last;
        if (sscanf(line, "baseOffset: %lld lastOffset: %lld", &base, &last) ==
            2)
            keep = upto < 0 || last < upto;
        else if (strncmp(line, "| ", 2) != 0)
            continue; /* "Dumping <path>" names the replica's own file */
        if (!keep)
            continue;
        if ((pos = strstr(line, " position: ")) != NULL) {
            char *sp = strchr(pos + 11, ' ');
            memmove(pos, sp ? sp : pos + strlen(pos),
                    strlen(sp ? sp : pos + strlen(pos)) + 1);
        }
        out = realloc(out, outlen + strlen(line) + 1);
        strcpy(out + outlen, line);
        outlen += strlen(line);
    }
    st = pclose(pp);
    /* a segment being appended to may end in a torn batch (exit 1): only
     * the kept part is compared */
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1,
                  "quire-dump-log failed (status %d)", st);
    return out ? out : strdup("");
}

static void read_replica(const qt_broker_t *b, const char *topic, int32_t p,
                         int64_t upto, replica_log_t *rl)
{
    char **segs;
    int n = segments(b, topic, p, &segs);

    read_bytes(segs, n, upto, rl);
    rl->dump = read_dump(segs, n, upto);
    free_strv(segs, n);
}

static void free_replica(replica_log_t *rl)
{
    free(rl->bytes);
    free(rl->dump);
}

static int64_t latest(cluster_t *cl, int32_t leader, const char *topic,
                      int32_t p)
{
    qt_client_t *c = qt_client_connect(cl->b[leader]->addr, IO_MS);
    int64_t off = -1;

    ck_assert_ptr_nonnull(c);
    /* -1 when leadership moved meanwhile (the caller asks again) */
    if (qt_list_offset(c, topic, p, QR_OFFSET_LATEST, &off, IO_MS) !=
        QUIRE_ERR_NONE)
        off = -1;
    qt_client_close(c);
    return off;
}

/* Waits until every live replica of topic-p holds the leader's log up to
 * the leader's high watermark, then asserts they agree byte for byte and
 * batch for batch. @returns that high watermark. */
static int64_t assert_agree(cluster_t *cl, const char *topic, int32_t p,
                            unsigned replicas, int64_t want)
{
    int32_t leader = wait_leader(cl, topic, p, -1);
    int64_t deadline = qt_now_ms() + WAIT_MS, hw = -1;
    replica_log_t lead = {0}, fol[NBROKERS + 1];
    int ok = 0;

    ck_assert_int_gt(leader, 0);
    memset(fol, 0, sizeof(fol));
    while (!ok && qt_now_ms() < deadline) {
        leader = wait_leader(cl, topic, p, -1);
        ck_assert_int_gt(leader, 0);
        hw = latest(cl, leader, topic, p);
        ok = hw >= want;
        for (int id = 1; id <= NBROKERS && ok; id++) {
            replica_log_t rl;
            if (id == leader || !cl->b[id]->pid || !(replicas & (1u << id)))
                continue;
            read_replica(cl->b[id], topic, p, hw, &rl);
            ok = rl.end == hw;
            free_replica(&rl);
        }
        if (!ok)
            qt_sleep_ms(200);
    }
    ck_assert_msg(ok,
                  "%s-%d: followers did not reach the leader's high "
                  "watermark %lld (want %lld)",
                  topic, (int)p, (long long)hw, (long long)want);
    read_replica(cl->b[leader], topic, p, hw, &lead);
    ck_assert_int_eq(lead.end, hw);
    for (int id = 1; id <= NBROKERS; id++) {
        if (id == leader || !cl->b[id]->pid || !(replicas & (1u << id)))
            continue;
        read_replica(cl->b[id], topic, p, hw, &fol[id]);
        ck_assert_uint_eq(fol[id].len, lead.len);
        ck_assert_msg(memcmp(fol[id].bytes, lead.bytes, lead.len) == 0,
                      "%s-%d: broker %d's log differs from leader %d's", topic,
                      (int)p, id, (int)leader);
        ck_assert_str_eq(fol[id].dump, lead.dump);
        free_replica(&fol[id]);
    }
    ck_assert_uint_gt(lead.len, 0);
    free_replica(&lead);
    return hw;
}

/* ---- tests ---- */

/* Followers copy the leaders byte for byte; one killed with SIGKILL while
 * the leaders take more writes catches up after its restart. */
START_TEST(test_followers_agree)
{
    cluster_t cl = {0};
    const char *json = "{\"version\":1,\"partitions\":"
                       "{\"0\":[1,2,3],\"1\":[2,3,1]}}";
    int64_t hw0, hw1;

    cluster_start(&cl, NULL);
    create_topic(&cl, "rf3", json);
    /* more than a segment's worth, acks=all and acks=1 */
    produce(&cl, "rf3", 0, 40, 50, "a", -1);
    produce(&cl, "rf3", 1, 40, 50, "b", 1);
    hw0 = assert_agree(&cl, "rf3", 0, ALL3, 2000);
    hw1 = assert_agree(&cl, "rf3", 1, ALL3, 2000);
    ck_assert_int_eq(hw0, 2000);
    ck_assert_int_eq(hw1, 2000);

    /* broker 3 follows both partitions: kill it, write on, restart it */
    crash(&cl, 3);
    produce(&cl, "rf3", 0, 30, 50, "c", -1);
    produce(&cl, "rf3", 1, 30, 50, "d", 1);
    ck_assert_int_eq(qt_broker_start(cl.b[3], START_MS), 0);
    hw0 = assert_agree(&cl, "rf3", 0, ALL3, 3500);
    hw1 = assert_agree(&cl, "rf3", 1, ALL3, 3500);
    /* a produce retried across the epoch change may be there twice */
    ck_assert_int_ge(hw0, 3500);
    ck_assert_int_ge(hw1, 3500);
    cluster_stop(&cl);
}
END_TEST

/* The offset broker @p b's replication-offset-checkpoint holds for
 * topic-p (Kafka's format: version, count, "topic partition offset"
 * lines); -1 when absent. */
static int64_t checkpointed_hw(const qt_broker_t *b, const char *topic,
                               int32_t p)
{
    char path[600], t[256], line[512];
    int part;
    long long off;
    int64_t hw = -1;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/replication-offset-checkpoint",
             b->log_dir);
    fp = fopen(path, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (sscanf(line, "%255s %d %lld", t, &part, &off) == 3 &&
            !strcmp(t, topic) && part == p)
            hw = off;
    fclose(fp);
    return hw;
}

/* The log end of topic-p on broker @p b, read from its files. */
static int64_t disk_end(const qt_broker_t *b, const char *topic, int32_t p)
{
    replica_log_t rl;
    int64_t end;

    read_replica(b, topic, p, -1, &rl);
    end = rl.end;
    free_replica(&rl);
    return end;
}

/* A replica with a tail its successor never had (it took writes alone,
 * then died; the other replica was elected uncleanly and took different
 * writes at the same offsets) truncates that tail when it returns, by
 * the leader's OffsetsForLeaderEpoch answer: its high watermark (its own
 * log end, as the only replica in sync then) would keep the tail. */
START_TEST(test_divergent_tail)
{
    cluster_t cl = {0};

    cluster_start(&cl, unclean_props());
    create_topic(&cl, "div", "{\"version\":1,\"partitions\":{\"0\":[1,2]}}");
    ck_assert_int_eq(wait_leader(&cl, "div", 0, -1), 1);
    produce(&cl, "div", 0, 10, 5, "a", -1);
    ck_assert_int_eq(assert_agree(&cl, "div", 0, B1 | B2, 50), 50);
    /* broker 2 leaves; broker 1 alone takes 25 records at 50..74 */
    ck_assert_int_eq(qt_broker_stop(cl.b[2], 30000), 0);
    ck_assert(
        qt_zk_wait_exists(live_zh(&cl), "/brokers/ids/2", false, WAIT_MS));
    produce(&cl, "div", 0, 5, 5, "x", 1);
    ck_assert_int_eq(disk_end(cl.b[1], "div", 0), 75);
    /* broker 1 dies; broker 2 returns and leads (unclean election), and
     * takes 15 other records at 50..64 */
    crash(&cl, 1);
    ck_assert_int_eq(qt_broker_start(cl.b[2], START_MS), 0);
    ck_assert_int_eq(wait_leader(&cl, "div", 0, 1), 2);
    produce(&cl, "div", 0, 3, 5, "y", 1);
    /* broker 1 returns as a follower: 50..74 go, 50..64 come from 2 */
    ck_assert_int_eq(qt_broker_start(cl.b[1], START_MS), 0);
    ck_assert_int_eq(assert_agree(&cl, "div", 0, B1 | B2, 65), 65);
    ck_assert_int_eq(disk_end(cl.b[1], "div", 0), 65);
    cluster_stop(&cl);
}
END_TEST

/* KIP-101's first scenario: a follower restarts holding a record past its
 * high watermark (it learns the leader's HW one fetch later), and the
 * leader dies before the follower fetched again. Truncating to the high
 * watermark at restart (Kafka before KIP-101) loses that record once the
 * follower is elected; asking the leader where its epoch ends does not,
 * and a leader that cannot answer leaves the log alone. */
START_TEST(test_kip101_hw_truncation)
{
    cluster_t cl = {0};
    int64_t deadline;
    char extra[512];

    /* the follower's long poll holds its HW back; checkpoints often */
    snprintf(extra, sizeof(extra),
             "%sreplica.fetch.wait.max.ms=60000\n"
             "log.flush.offset.checkpoint.interval.ms=100\n",
             unclean_props());
    cluster_start(&cl, extra);
    create_topic(&cl, "k1", "{\"version\":1,\"partitions\":{\"0\":[1,2]}}");
    ck_assert_int_eq(wait_leader(&cl, "k1", 0, -1), 1);
    produce(&cl, "k1", 0, 1, 1, "m1", -1); /* offset 0, acks=all */
    produce(&cl, "k1", 0, 1, 1, "m2", 1);  /* offset 1 */
    /* broker 2 holds both records, its checkpointed HW says 1 */
    deadline = qt_now_ms() + WAIT_MS;
    while ((disk_end(cl.b[2], "k1", 0) != 2 ||
            checkpointed_hw(cl.b[2], "k1", 0) != 1) &&
           qt_now_ms() < deadline)
        qt_sleep_ms(50);
    ck_assert_int_eq(disk_end(cl.b[2], "k1", 0), 2);
    ck_assert_int_eq(checkpointed_hw(cl.b[2], "k1", 0), 1);
    /* broker 2 crashes and restarts while the leader is frozen */
    crash(&cl, 2);
    ck_assert_int_eq(kill(cl.b[1]->pid, SIGSTOP), 0);
    cl.frozen[1] = 1;
    ck_assert_int_eq(qt_broker_start(cl.b[2], START_MS), 0);
    /* the leader's session expires: broker 2 is elected */
    ck_assert_int_eq(wait_leader(&cl, "k1", 0, 1), 2);
    ck_assert_int_eq(qt_broker_kill(cl.b[1]), 0);
    ck_assert_int_eq(disk_end(cl.b[2], "k1", 0), 2);
    deadline = qt_now_ms() + WAIT_MS;
    while (latest(&cl, 2, "k1", 0) != 2 && qt_now_ms() < deadline)
        qt_sleep_ms(100);
    ck_assert_int_eq(latest(&cl, 2, "k1", 0), 2);
    cluster_stop(&cl);
}
END_TEST

/* Whether broker @p id is in the ISR of topic-p, per the partition's
 * state znode (Kafka's layout: "isr":[1,2]). */
static int in_isr(cluster_t *cl, const char *topic, int32_t p, int id)
{
    char path[256], *data = NULL, *s, *end;
    int len = 0, found = 0;

    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state",
             topic, (int)p);
    if (qt_zk_get(live_zh(cl), path, &data, &len, NULL, false, 10000) != ZOK)
        return 0;
    s = data ? strstr(data, "\"isr\"") : NULL;
    s = s ? strchr(s, '[') : NULL;
    while (s && *s && *s != ']') {
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1)
            break;
        found |= v == id;
        s = end;
        while (*s == ' ')
            s++;
    }
    free(data);
    return found;
}

static void wait_in_isr(cluster_t *cl, const char *topic, int32_t p, int id)
{
    int64_t deadline = qt_now_ms() + WAIT_MS;

    while (!in_isr(cl, topic, p, id) && qt_now_ms() < deadline)
        qt_sleep_ms(100);
    ck_assert_msg(in_isr(cl, topic, p, id), "%s-%d: broker %d not in the ISR",
                  topic, (int)p, id);
}

/* A follower far behind: with replica.fetch.max.bytes at two batches,
 * each of the 500 batches it lacks comes in one of hundreds of full Fetch
 * answers, pipelined (the next Fetch goes out before an answer is
 * appended). The log it copies spans two leader epochs, and leadership
 * moves once more while it catches up (a controlled shutdown, so the
 * pipelined Fetch in flight meets a new epoch). Its log must end byte
 * for byte the leaders', as must that of the follower that caught up
 * after the first leader change. */
START_TEST(test_far_behind)
{
    cluster_t cl = {0};

    cluster_start(&cl, "replica.fetch.max.bytes=2048\n");
    create_topic(&cl, "far", "{\"version\":1,\"partitions\":{\"0\":[1,2,3]}}");
    ck_assert_int_eq(wait_leader(&cl, "far", 0, -1), 1);
    ck_assert_int_eq(qt_broker_stop(cl.b[3], 30000), 0);
    ck_assert(
        qt_zk_wait_exists(live_zh(&cl), "/brokers/ids/3", false, WAIT_MS));
    produce(&cl, "far", 0, 250, 40, "a", 1);
    /* (acks=1: what broker 2 has not fetched yet would go with leader 1) */
    ck_assert_int_eq(assert_agree(&cl, "far", 0, B1 | B2, 10000), 10000);
    /* leader 1 hands over to broker 2 (a new epoch), which takes more */
    ck_assert_int_eq(qt_broker_stop(cl.b[1], 30000), 0);
    ck_assert_int_eq(wait_leader(&cl, "far", 0, 1), 2);
    produce(&cl, "far", 0, 250, 40, "b", 1);
    /* broker 1 is 250 batches behind; it must be in sync to lead again */
    ck_assert_int_eq(qt_broker_start(cl.b[1], START_MS), 0);
    ck_assert_int_eq(assert_agree(&cl, "far", 0, B1 | B2, 20000), 20000);
    wait_in_isr(&cl, "far", 0, 1);
    /* broker 3 is 500 batches behind: while it fetches them, leadership
     * moves back to broker 1 */
    ck_assert_int_eq(qt_broker_start(cl.b[3], START_MS), 0);
    ck_assert_int_eq(qt_broker_stop(cl.b[2], 30000), 0);
    ck_assert_int_gt(wait_leader(&cl, "far", 0, 2), 0);
    produce(&cl, "far", 0, 50, 40, "c", 1);
    ck_assert_int_eq(qt_broker_start(cl.b[2], START_MS), 0);
    ck_assert_int_eq(assert_agree(&cl, "far", 0, ALL3, 22000), 22000);
    cluster_stop(&cl);
}
END_TEST

static Suite *repl_suite(void)
{
    Suite *s = suite_create("repl_follower");
    TCase *tc = tcase_create("three brokers");

    tcase_set_timeout(tc, 300);
    tcase_set_tags(tc, "integration zk slow");
    tcase_add_test(tc, test_followers_agree);
    tcase_add_test(tc, test_divergent_tail);
    tcase_add_test(tc, test_kip101_hw_truncation);
    tcase_add_test(tc, test_far_behind);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(repl_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
