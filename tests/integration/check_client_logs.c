/*
 * check_client_logs: libquire under the application's control (issue 18
 * items 2, 5-11 and 13's zookeeper.connection.timeout.ms; issue 15 item 4
 * on the client side), against a real ZooKeeper and a real broker:
 * lines go to the log callback at the handle's log_level and debug
 * contexts, repeats are summarised (a broker down for 10 s costs a
 * handful of lines), the error callback hears of client-wide trouble,
 * reconnects back off exponentially, a clean close says nothing, an
 * expired record has its own error code and its delivery report carries
 * its key and value, flush from the delivery callback fails at once,
 * consumer close reports a failed final commit, and a ZooKeeper path
 * without brokers is named as a missing chroot.
 */
#include "config.h"

#include <check.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_cluster.h"
#include "qt_zk.h"
#include "qt_zkproxy.h"
#include "quire.h"

#define START_MS  20000
#define MAX_LINES 4096

static qt_cluster_t cl;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what the callbacks saw ---- */

typedef struct seen {
    pthread_mutex_t lock;
    int n;
    int level[MAX_LINES];
    char fac[MAX_LINES][16];
    char msg[MAX_LINES][200];
    int64_t at[MAX_LINES];
    int errs;
    quire_err_t err[64];
    char reason[64][256];
} seen_t;

static void on_log(int level, const char *fac, const char *msg, void *opaque)
{
    seen_t *s = opaque;

    pthread_mutex_lock(&s->lock);
    if (s->n < MAX_LINES) {
        s->level[s->n] = level;
        snprintf(s->fac[s->n], sizeof(s->fac[0]), "%s", fac);
        snprintf(s->msg[s->n], sizeof(s->msg[0]), "%s", msg);
        s->at[s->n] = now_ms();
        s->n++;
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_error(quire_err_t err, const char *reason, void *opaque)
{
    seen_t *s = opaque;

    pthread_mutex_lock(&s->lock);
    if (s->errs < 64) {
        s->err[s->errs] = err;
        snprintf(s->reason[s->errs], sizeof(s->reason[0]), "%s", reason);
        s->errs++;
    }
    pthread_mutex_unlock(&s->lock);
}

static seen_t *seen_new(void)
{
    seen_t *s = calloc(1, sizeof(*s));

    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

/* lines at @p max_level or more severe (not debug) */
static int lines_upto(seen_t *s, int max_level)
{
    int n = 0;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++)
        n += s->level[i] <= max_level;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int errors_of(seen_t *s, quire_err_t err)
{
    int n = 0;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->errs; i++)
        n += s->err[i] == err;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void dump(seen_t *s)
{
    for (int i = 0; i < s->n; i++)
        fprintf(stderr, "  [%d %s] %s\n", s->level[i], s->fac[i], s->msg[i]);
}

static void set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
}

static quire_conf_t *conf_new(seen_t *s, const char *bootstrap)
{
    quire_conf_t *conf = quire_conf_new();

    ck_assert_ptr_nonnull(conf);
    if (bootstrap)
        set(conf, "bootstrap.servers", bootstrap);
    if (s) {
        quire_conf_set_log_cb(conf, on_log, s);
        quire_conf_set_error_cb(conf, on_error, s);
    }
    return conf;
}

static quire_producer_t *producer_new(quire_conf_t *conf)
{
    quire_producer_t *p = NULL;
    char errstr[256];

    ck_assert_msg(quire_producer_new(conf, &p, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return p;
}

static quire_consumer_t *consumer_new(quire_conf_t *conf)
{
    quire_consumer_t *c = NULL;
    char errstr[256];

    ck_assert_msg(quire_consumer_new(conf, &c, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return c;
}

/* @p n records "k<i>"/"v<i>" into @p topic (auto-created), delivered */
static void produce(const char *topic, int n)
{
    quire_producer_t *p = producer_new(conf_new(NULL, cl.b[0]->addr));

    for (int i = 0; i < n; i++) {
        char k[16], v[16];

        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        ck_assert_int_eq(quire_producer_send(p, topic, 0, k, strlen(k), v,
                                             strlen(v), NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
}

/* stderr into a file of its own, to see that the library wrote nothing */
static int stderr_to(char *path, size_t size)
{
    int fd, saved = dup(2);

    snprintf(path, size, "/tmp/check_client_logs.%d.err", (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static long stderr_back(int saved, const char *path)
{
    struct stat st;

    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(stat(path, &st), 0);
    unlink(path);
    return (long)st.st_size;
}

/* items 6, 7 and issue 15 item 4: with its only broker down for 10 s, a
 * producer that keeps sending says so in a handful of lines, all through
 * the log callback (nothing on stderr), and the error callback hears
 * ALL_BROKERS_DOWN once */
START_TEST(broker_down_quiet)
{
    seen_t *s = seen_new();
    quire_producer_t *p;
    char errpath[128];
    int saved, lines;
    int64_t end;
    long errbytes;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    produce("down", 1);
    saved = stderr_to(errpath, sizeof(errpath));
    p = producer_new(conf_new(s, cl.b[0]->addr));
    ck_assert_int_eq(
        quire_producer_send(p, "down", 0, "a", 1, "b", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_eq(qt_broker_stop(cl.b[0], 20000), 0);
    end = now_ms() + 10000;
    for (int i = 0; i < 200 && now_ms() < end; i++) {
        /* accepted (queued), the broker being known */
        quire_producer_send(p, "down", 0, "a", 1, "b", 1, NULL, 0, 0, NULL);
        usleep(100 * 1000);
    }
    quire_producer_close(p, 0);
    errbytes = stderr_back(saved, errpath);
    lines = lines_upto(s, 6);
    if (lines > 12 || lines == 0)
        dump(s);
    ck_assert_msg(lines >= 1, "nothing said about the broker being down");
    ck_assert_msg(lines <= 12, "%d lines for a broker down 10 s", lines);
    ck_assert_int_eq(errbytes, 0);
    ck_assert_int_eq(errors_of(s, QUIRE_ERR_ALL_BROKERS_DOWN), 1);
    qt_cluster_stop(&cl);
    free(s);
}
END_TEST

/* item 8: reconnects to a broker that keeps refusing back off
 * exponentially (reconnect.backoff.ms doubled up to .max.ms, +-20%) */
START_TEST(reconnect_backoff_grows)
{
    seen_t *s = seen_new();
    quire_conf_t *conf;
    quire_consumer_t *c;
    char addr[320];
    int64_t at[64];
    int n = 0;
    int32_t cnt;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    /* the broker's own address once it is gone: a real refusal */
    snprintf(addr, sizeof(addr), "%s", cl.b[0]->addr);
    ck_assert_int_eq(qt_broker_stop(cl.b[0], 20000), 0);
    conf = conf_new(s, addr);
    set(conf, "debug", "net");
    set(conf, "reconnect.backoff.ms", "50");
    set(conf, "reconnect.backoff.max.ms", "10000");
    c = consumer_new(conf);
    ck_assert_int_ne(quire_consumer_partition_count(c, "t", 7000, &cnt),
                     QUIRE_ERR_NONE);
    quire_consumer_close(c);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n && n < 64; i++)
        if (strstr(s->msg[i], "connection to ") && strstr(s->msg[i], "closed"))
            at[n++] = s->at[i];
    pthread_mutex_unlock(&s->lock);
    /* 50, 100, 200, 400, 800, 1600, 3200 ms: 7 in 7 s; flat 50 ms would
     * be over a hundred */
    ck_assert_msg(n >= 5 && n <= 12, "%d connection attempts in 7 s", n);
    /* waits only ever come late: the 4th gap is at least 0.8 x 400 ms */
    ck_assert_msg(at[4] - at[3] >= 320, "4th backoff %lld ms",
                  (long long)(at[4] - at[3]));
    qt_cluster_stop(&cl);
    free(s);
}
END_TEST

/* item 2: debug= is per handle, on a consumer too, and a producer's does
 * not leak into the process */
START_TEST(debug_per_handle)
{
    seen_t *a = seen_new(), *b = seen_new(), *pd = seen_new();
    quire_conf_t *conf;
    quire_consumer_t *ca, *cb;
    quire_producer_t *p;
    const quire_record_t *rec;
    int got = 0;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    conf = conf_new(pd, cl.b[0]->addr);
    set(conf, "debug", "all");
    p = producer_new(conf);
    ck_assert_int_eq(
        quire_producer_send(p, "dbg", 0, "k", 1, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_gt(pd->n - lines_upto(pd, 6), 0);

    conf = conf_new(a, cl.b[0]->addr);
    set(conf, "debug", "fetch");
    ca = consumer_new(conf);
    cb = consumer_new(conf_new(b, cl.b[0]->addr));
    ck_assert_int_eq(
        quire_consumer_assign(ca, "dbg", 0, QUIRE_OFFSET_BEGINNING),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(
        quire_consumer_assign(cb, "dbg", 0, QUIRE_OFFSET_BEGINNING),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 100 && got < 2; i++) {
        if (quire_consumer_poll(ca, 100, &rec) == QUIRE_ERR_NONE)
            got++;
        if (quire_consumer_poll(cb, 100, &rec) == QUIRE_ERR_NONE)
            got++;
    }
    ck_assert_int_eq(got, 2);
    quire_consumer_close(ca);
    quire_consumer_close(cb);
    ck_assert_msg(a->n - lines_upto(a, 6) > 0, "debug=fetch: no debug line");
    if (b->n - lines_upto(b, 6) != 0)
        dump(b);
    ck_assert_int_eq(b->n - lines_upto(b, 6), 0);
    qt_cluster_stop(&cl);
    free(a);
    free(b);
    free(pd);
}
END_TEST

/* item 5: a clean close logs nothing above DEBUG, even with a metadata
 * request unanswered: the first one goes to a listener that never
 * answers (a broker hung before its first response), and close fails
 * it with DESTROYED */
START_TEST(clean_close_quiet)
{
    seen_t *s = seen_new();
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    quire_producer_t *p;
    char addr[64];
    int lfd;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    produce("closeq", 1);
    p = producer_new(conf_new(s, cl.b[0]->addr));
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(quire_producer_send(p, "closeq", QUIRE_PARTITION_ANY,
                                             "k", 1, "v", 1, NULL, 0, 0, NULL),
                         QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_close(p, 30000), QUIRE_ERR_NONE);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
    p = producer_new(conf_new(s, addr));
    /* the kernel completes the connection; the request waits unanswered */
    usleep(500 * 1000);
    ck_assert_int_eq(quire_producer_close(p, 0), QUIRE_ERR_NONE);
    close(lfd);
    if (lines_upto(s, 5))
        dump(s);
    ck_assert_int_eq(lines_upto(s, 5), 0);
    free(s);
    qt_cluster_stop(&cl);
}
END_TEST

/* ---- delivery reports ---- */

typedef struct drs {
    pthread_mutex_t lock;
    int n;
    quire_err_t err[8];
    char key[8][32], value[8][32], topic[8][32];
    int32_t partition[8];
    quire_err_t flush_err, close_err;
    quire_producer_t *p;
    int flush_in_cb;
} drs_t;

static drs_t drs;

static void on_dr(const quire_delivery_t *dr, void *opaque)
{
    drs_t *d = opaque;

    pthread_mutex_lock(&d->lock);
    if (d->n < 8) {
        d->err[d->n] = dr->err;
        snprintf(d->key[d->n], sizeof(d->key[0]), "%.*s", (int)dr->key_len,
                 dr->key ? (const char *)dr->key : "");
        snprintf(d->value[d->n], sizeof(d->value[0]), "%.*s",
                 (int)dr->value_len, dr->value ? (const char *)dr->value : "");
        snprintf(d->topic[d->n], sizeof(d->topic[0]), "%s",
                 dr->topic ? dr->topic : "");
        d->partition[d->n] = dr->partition;
        d->n++;
    }
    pthread_mutex_unlock(&d->lock);
    if (d->flush_in_cb) {
        /* item 10: both must come back at once, not block this thread */
        d->flush_err = quire_producer_flush(d->p, 600000);
        d->close_err = quire_producer_close(d->p, 600000);
    }
}

/* item 9: an expired record fails with MSG_TIMED_OUT (not a broker's
 * REQUEST_TIMED_OUT), and its report carries key, value, topic and
 * partition, as a delivered one's does */
START_TEST(expired_record_report)
{
    quire_conf_t *conf;
    quire_producer_t *p;

    memset(&drs, 0, sizeof(drs));
    pthread_mutex_init(&drs.lock, NULL);
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    conf = conf_new(NULL, cl.b[0]->addr);
    set(conf, "request.timeout.ms", "1000");
    set(conf, "delivery.timeout.ms", "1500");
    quire_conf_set_delivery_cb(conf, on_dr, &drs);
    p = producer_new(conf);
    ck_assert_int_eq(quire_producer_send(p, "exp", 0, "k-ok", 4, "v-ok", 4,
                                         NULL, 0, 0, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(p, 30000), QUIRE_ERR_NONE);
    ck_assert_int_eq(qt_broker_stop(cl.b[0], 20000), 0);
    ck_assert_int_eq(quire_producer_send(p, "exp", 0, "k-exp", 5, "v-exp", 5,
                                         NULL, 0, 0, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(p, 60000), QUIRE_ERR_NONE);
    ck_assert_int_eq(drs.n, 2);
    ck_assert_int_eq(drs.err[0], QUIRE_ERR_NONE);
    ck_assert_str_eq(drs.key[0], "k-ok");
    ck_assert_str_eq(drs.value[0], "v-ok");
    ck_assert_int_eq(drs.err[1], QUIRE_ERR_MSG_TIMED_OUT);
    ck_assert_str_eq(drs.key[1], "k-exp");
    ck_assert_str_eq(drs.value[1], "v-exp");
    ck_assert_str_eq(drs.topic[1], "exp");
    ck_assert_int_eq(drs.partition[1], 0);
    quire_producer_close(p, 0);
    qt_cluster_stop(&cl);
}
END_TEST

/* item 10: flush (and close) from the delivery callback return a state
 * error at once */
START_TEST(flush_from_callback)
{
    quire_conf_t *conf;

    memset(&drs, 0, sizeof(drs));
    pthread_mutex_init(&drs.lock, NULL);
    drs.flush_in_cb = 1;
    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    conf = conf_new(NULL, cl.b[0]->addr);
    quire_conf_set_delivery_cb(conf, on_dr, &drs);
    drs.p = producer_new(conf);
    ck_assert_int_eq(
        quire_producer_send(drs.p, "fcb", 0, "k", 1, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(drs.p, 60000), QUIRE_ERR_NONE);
    ck_assert_int_eq(drs.n, 1);
    ck_assert_int_eq(drs.flush_err, QUIRE_ERR_STATE);
    ck_assert_int_eq(drs.close_err, QUIRE_ERR_STATE);
    ck_assert_int_eq(quire_producer_close(drs.p, 10000), QUIRE_ERR_NONE);
    qt_cluster_stop(&cl);
}
END_TEST

/* items 7 and 10: a group consumer whose ZooKeeper goes away hears it
 * through the error callback, and close says the final commit failed */
START_TEST(close_reports_commit_failure)
{
    seen_t *s = seen_new();
    qt_zkproxy_t *px;
    quire_conf_t *conf;
    quire_consumer_t *c;
    const quire_record_t *rec;
    const char *topics[] = {"grpclose"};
    char errstr[256], connect[512];
    const char *chroot;
    int got = 0;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    produce("grpclose", 5);
    px = qt_zkproxy_start(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(px);
    chroot = strchr(cl.zk_connect, '/');
    snprintf(connect, sizeof(connect), "127.0.0.1:%d%s", px->port, chroot);
    conf = conf_new(s, cl.b[0]->addr);
    set(conf, "zookeeper.connect", connect);
    set(conf, "group.id", "g-close");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "auto.commit.interval.ms", "600000");
    set(conf, "request.timeout.ms", "3000");
    c = consumer_new(conf);
    ck_assert_msg(quire_consumer_subscribe(c, topics, 1, errstr,
                                           sizeof(errstr)) == QUIRE_ERR_NONE,
                  "%s", errstr);
    for (int i = 0; i < 300 && got < 5; i++)
        if (quire_consumer_poll(c, 100, &rec) == QUIRE_ERR_NONE && rec->topic)
            got++;
    ck_assert_int_eq(got, 5);
    /* ZooKeeper unreachable from here on */
    ck_assert(qt_zkproxy_cmd(px, 5000, "block"));
    ck_assert(qt_zkproxy_cmd(px, 5000, "cut"));
    for (int i = 0; i < 100 && !errors_of(s, QUIRE_ERR_ZK_CONNECTION_LOSS); i++)
        quire_consumer_poll(c, 100, &rec);
    ck_assert_int_ge(errors_of(s, QUIRE_ERR_ZK_CONNECTION_LOSS), 1);
    ck_assert_int_ne(quire_consumer_close(c), QUIRE_ERR_NONE);
    qt_zkproxy_stop(px);
    qt_cluster_stop(&cl);
    free(s);
}
END_TEST

/* item 11: a ZooKeeper path without brokers is named as a missing chroot:
 * an error from discovery, the error callback for a group */
START_TEST(wrong_chroot)
{
    seen_t *s = seen_new();
    quire_conf_t *conf;
    quire_producer_t *p = NULL;
    quire_consumer_t *c;
    const quire_record_t *rec;
    const char *topics[] = {"anything"};
    char errstr[256];
    char *empty;

    ck_assert_int_eq(qt_cluster_start(&cl, 1, NULL, START_MS), 0);
    empty = qt_zk_chroot_new(qt_zk_env(), 10000); /* no broker there */
    ck_assert_ptr_nonnull(empty);
    conf = conf_new(NULL, NULL);
    set(conf, "zookeeper.connect", empty);
    ck_assert_int_ne(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_msg(strstr(errstr, "is the chroot missing?") &&
                      strstr(errstr, empty),
                  "%s", errstr);
    quire_conf_destroy(conf);

    conf = conf_new(s, cl.b[0]->addr);
    set(conf, "zookeeper.connect", empty);
    set(conf, "group.id", "g-chroot");
    c = consumer_new(conf);
    ck_assert_int_eq(
        quire_consumer_subscribe(c, topics, 1, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 100 && !errors_of(s, QUIRE_ERR_NOT_FOUND); i++)
        quire_consumer_poll(c, 100, &rec);
    ck_assert_int_eq(errors_of(s, QUIRE_ERR_NOT_FOUND), 1);
    ck_assert_msg(strstr(s->reason[0], "is the chroot missing?"), "%s",
                  s->reason[0]);
    quire_consumer_close(c);
    free(empty);
    qt_cluster_stop(&cl);
    free(s);
}
END_TEST

/* item 13: discovery through zookeeper.connect waits
 * zookeeper.connection.timeout.ms, as documented */
START_TEST(zk_discovery_timeout)
{
    quire_conf_t *conf = conf_new(NULL, NULL);
    quire_producer_t *p = NULL;
    char errstr[256], connect[64];

    snprintf(connect, sizeof(connect), "127.0.0.1:%d", qt_free_port());
    set(conf, "zookeeper.connect", connect);
    set(conf, "zookeeper.connection.timeout.ms", "1000");
    /* far past the test's own timeout: must not be what is waited */
    set(conf, "socket.connection.setup.timeout.ms", "600000");
    ck_assert_int_eq(quire_producer_new(conf, &p, errstr, sizeof(errstr)),
                     QUIRE_ERR_ZK_CONNECTION_LOSS);
    quire_conf_destroy(conf);
}
END_TEST

static Suite *logs_suite(void)
{
    Suite *s = suite_create("client_logs");
    TCase *tc = tcase_create("cluster");

    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, broker_down_quiet);
    tcase_add_test(tc, reconnect_backoff_grows);
    tcase_add_test(tc, debug_per_handle);
    tcase_add_test(tc, clean_close_quiet);
    tcase_add_test(tc, expired_record_report);
    tcase_add_test(tc, flush_from_callback);
    tcase_add_test(tc, close_reports_commit_failure);
    tcase_add_test(tc, wrong_chroot);
    tcase_add_test(tc, zk_discovery_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    sr = srunner_create(logs_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
