/*
 * check_producer: the producer's behaviour against peers that misbehave
 * (issue 22): close() while other threads are inside send(), send() while
 * the network is slow, and answers that are not what was asked.
 *
 * Where a real broker can show the behaviour, a real one runs (qt_broker).
 * Where the point is a peer a real broker never is (one that answers
 * Metadata but never a Produce, or answers a Produce with another body),
 * the peer is the small loopback server below (fbroker): it speaks quire's
 * wire protocol through proto/wire.c, like the broker.
 *
 * Links libquire's code statically (libqrclient) to read the producer's
 * counters (producer_int.h), and defines getaddrinfo() to delay chosen
 * lookups of the real resolver.
 */
#include "config.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "producer_int.h"
#include "qt_broker.h"
#include "qt_zk.h"
#include "quire.h"
#include "wire.h"

/* ---- fbroker: a loopback peer that answers Metadata itself ---- */

typedef enum fb_mode {
    FB_MUTE,       /* reads everything, answers nothing */
    FB_NO_PRODUCE, /* answers Metadata, never a Produce */
    FB_WRONG_BODY, /* answers a Produce with a Metadata body */
} fb_mode_t;

#define FB_CONNS 8
#define FB_BUF   (1u << 20)

typedef struct fbroker {
    int lfd;
    int port;
    int stop_pipe[2];
    fb_mode_t mode;
    pthread_t thread;
    atomic_int produces; /* Produce requests received */
} fbroker_t;

typedef struct fb_conn {
    int fd;
    uint8_t *buf;
    size_t len;
} fb_conn_t;

static void fb_answer(fbroker_t *fb, int fd, const qr_req_t *req)
{
    qr_metadata_broker_t mb = {.node_id = 1, .host = "127.0.0.1"};
    qr_metadata_part_t mp = {.partition = 0, .leader = 1, .leader_epoch = 0};
    qr_metadata_topic_t mt = {.topic = "t", .partition_count = 1};
    qr_resp_t resp;
    uint8_t *out;
    size_t len, off = 0;

    if (req->api == QR_API_PRODUCE) {
        atomic_fetch_add(&fb->produces, 1);
        if (fb->mode != FB_WRONG_BODY)
            return;
    }
    memset(&resp, 0, sizeof(resp));
    resp.correlation_id = req->correlation_id;
    resp.api = QR_API_METADATA; /* also the wrong body for a Produce */
    if (req->api == QR_API_METADATA) {
        mb.port = fb->port;
        mt.partitions = &mp;
        resp.u.metadata.broker_count = 1;
        resp.u.metadata.brokers = &mb;
        resp.u.metadata.controller_id = 1;
        resp.u.metadata.topic_count = 1;
        resp.u.metadata.topics = &mt;
    } else if (req->api != QR_API_PRODUCE) {
        resp.api = req->api;
        resp.error_code = QUIRE_ERR_UNSUPPORTED_VERSION;
    }
    if (qr_wire_resp_encode_alloc(&resp, &out, &len) != QUIRE_ERR_NONE)
        return;
    while (off < len) {
        ssize_t n = write(fd, out + off, len - off);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(out);
}

/* Reads what @p c has; answers each complete frame. @returns -1 on EOF. */
static int fb_read(fbroker_t *fb, fb_conn_t *c)
{
    qr_frame_limits_t lim = {.max_frame = FB_BUF - 4, .max_header = 1 << 20};
    ssize_t n = read(c->fd, c->buf + c->len, FB_BUF - c->len);
    qr_frame_t frame;
    qr_req_t req;

    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    while (qr_frame_parse(c->buf, c->len, &lim, &frame) == QUIRE_ERR_NONE) {
        if (fb->mode != FB_MUTE &&
            qr_wire_req_decode(&frame, &req) == QUIRE_ERR_NONE) {
            fb_answer(fb, c->fd, &req);
            qr_wire_req_free(&req);
        }
        memmove(c->buf, c->buf + frame.size, c->len - frame.size);
        c->len -= frame.size;
    }
    return 0;
}

static void *fb_main(void *arg)
{
    fbroker_t *fb = arg;
    fb_conn_t conns[FB_CONNS];
    int nconns = 0;

    for (;;) {
        struct pollfd pfd[FB_CONNS + 2];

        pfd[0].fd = fb->stop_pipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd = fb->lfd;
        pfd[1].events = nconns < FB_CONNS ? POLLIN : 0;
        for (int i = 0; i < nconns; i++) {
            pfd[i + 2].fd = conns[i].fd;
            pfd[i + 2].events = POLLIN;
        }
        if (poll(pfd, (nfds_t)nconns + 2, -1) < 0)
            continue;
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN) {
            int fd = accept(fb->lfd, NULL, NULL);

            if (fd >= 0) {
                conns[nconns].fd = fd;
                conns[nconns].buf = malloc(FB_BUF);
                conns[nconns].len = 0;
                nconns++;
            }
        }
        for (int i = nconns - 1; i >= 0; i--) {
            if (!(pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (fb_read(fb, &conns[i]) < 0) {
                close(conns[i].fd);
                free(conns[i].buf);
                conns[i] = conns[--nconns];
            }
        }
    }
    for (int i = 0; i < nconns; i++) {
        close(conns[i].fd);
        free(conns[i].buf);
    }
    return NULL;
}

static fbroker_t *fb_start(fb_mode_t mode)
{
    fbroker_t *fb = calloc(1, sizeof(*fb));
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);

    ck_assert_ptr_nonnull(fb);
    fb->mode = mode;
    fb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fb->lfd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fb->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fb->lfd, 64), 0);
    ck_assert_int_eq(getsockname(fb->lfd, (struct sockaddr *)&sa, &slen), 0);
    fb->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pipe(fb->stop_pipe), 0);
    ck_assert_int_eq(pthread_create(&fb->thread, NULL, fb_main, fb), 0);
    return fb;
}

static void fb_stop(fbroker_t *fb)
{
    ck_assert_int_eq(write(fb->stop_pipe[1], "x", 1), 1);
    pthread_join(fb->thread, NULL);
    close(fb->stop_pipe[0]);
    close(fb->stop_pipe[1]);
    close(fb->lfd);
    free(fb);
}

/* ---- producer helpers ---- */

static void conf_set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    ck_assert_msg(quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s: %s", key, errstr);
}

static quire_conf_t *conf_for_port(int port)
{
    quire_conf_t *conf = quire_conf_new();
    char addr[64];

    ck_assert_ptr_nonnull(conf);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    conf_set(conf, "bootstrap.servers", addr);
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

/* ---- close() while other threads are inside send() ---- */

#define CLOSE_ROUNDS  1000
#define CLOSE_SENDERS 4

/*
 * The race close() must win does not show by itself: a sender leaves
 * send() microseconds after it is woken, long before close() gets to free
 * anything. So a sender thread may ask for a pause: this definition of
 * pthread_mutex_unlock (which the client's code links to instead of
 * libc's) unlocks, then sleeps once for PAUSE_MS on such a thread (a
 * close that does not wait takes under 20 ms here, under ASan). A
 * sender then sits inside send() right after a lock it dropped (metadata
 * looked up, memory waited for), and a close() that does not wait for it
 * frees what it touches next.
 */
#define PAUSE_MS 50

static _Thread_local int pause_once;

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    static int (*real)(pthread_mutex_t *);
    int rc;

    if (!real)
        real = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT,
                                                 "pthread_mutex_unlock");
    rc = real(m);
    if (pause_once) {
        pause_once = 0;
        usleep(PAUSE_MS * 1000);
    }
    return rc;
}

typedef struct sender {
    quire_producer_t *p;
    atomic_int *done;
    int pause; /* pause inside send() after the first unlock */
    quire_err_t err;
} sender_t;

static const char value1k[1000];

/* One send() call, then it counts itself done. */
static void *sender_main(void *arg)
{
    sender_t *s = arg;

    pause_once = s->pause;
    s->err = quire_producer_send(s->p, "t", 0, NULL, 0, value1k,
                                 sizeof(value1k), NULL, 0, 0, NULL);
    atomic_fetch_add(s->done, 1);
    return NULL;
}

/*
 * Each round, CLOSE_SENDERS threads each make one send() call and the
 * main thread closes the producer while they are in it: blocked on
 * metadata that never comes (a peer that never answers), running through
 * it slowly (metadata known, memory free), or blocked on buffer.memory
 * (a peer that answers Metadata but never a Produce, so nothing is given
 * back). Close starts once every sender is inside send() or done with it
 * (the producer's own count plus the test's): a call that started after
 * close returned would use a freed handle, the application's bug. Every
 * sender gets NONE (it finished first) or DESTROYED, and nothing touches
 * freed memory (ASan).
 */
START_TEST(close_while_sending)
{
    fbroker_t *mute = fb_start(FB_MUTE), *noprod = fb_start(FB_NO_PRODUCE);

    (void)qt_zk_env();
    const char *env = getenv("QUIRE_CLOSE_ROUNDS");
    int rounds = env ? atoi(env) : CLOSE_ROUNDS;

    for (int round = 0; round < rounds; round++) {
        int kind = round % 3; /* 0: no metadata, 1: running, 2: memory */
        quire_conf_t *conf =
            conf_for_port(kind == 0 ? mute->port : noprod->port);
        sender_t s[CLOSE_SENDERS];
        pthread_t th[CLOSE_SENDERS];
        atomic_int done;
        qr_producer_stats_t st;
        quire_producer_t *p;
        int64_t t0;

        conf_set(conf, "max.block.ms", "60000");
        conf_set(conf, "buffer.memory", "65536");
        conf_set(conf, "batch.size", "4096");
        conf_set(conf, "linger.ms", "0");
        p = producer_new(conf);
        if (kind != 0)
            ck_assert_int_eq(quire_producer_send(p, "t", 0, NULL, 0, "x", 1,
                                                 NULL, 0, 0, NULL),
                             QUIRE_ERR_NONE);
        /* memory: fill buffer.memory until a new batch would not fit */
        for (qr_producer_stats(p, &st);
             kind == 2 && st.acc.mem_used + 2 * 8192 < 65536;
             qr_producer_stats(p, &st))
            ck_assert_int_eq(quire_producer_send(p, "t", 0, NULL, 0, value1k,
                                                 sizeof(value1k), NULL, 0, 0,
                                                 NULL),
                             QUIRE_ERR_NONE);
        atomic_init(&done, 0);
        for (int i = 0; i < CLOSE_SENDERS; i++) {
            /* in one round of five, one sender pauses (the others, and
             * the other rounds, are left to the scheduler) */
            s[i] = (sender_t){
                .p = p, .done = &done, .pause = i == 0 && round % 5 == 0};
            ck_assert_int_eq(pthread_create(&th[i], NULL, sender_main, &s[i]),
                             0);
        }
        t0 = qt_now_ms();
        for (;;) {
            /* done first: a sender read as inside may be done by the
             * time done is read, and would count twice */
            int ndone = atomic_load(&done);

            qr_producer_stats(p, &st);
            if (st.senders + ndone == CLOSE_SENDERS)
                break;
            ck_assert_msg(qt_now_ms() - t0 < 20000,
                          "round %d: senders did not start", round);
            sched_yield();
        }
        quire_producer_close(p, 0);
        for (int i = 0; i < CLOSE_SENDERS; i++) {
            pthread_join(th[i], NULL);
            ck_assert_msg(s[i].err == QUIRE_ERR_DESTROYED ||
                              (kind != 0 && s[i].err == QUIRE_ERR_NONE),
                          "round %d sender %d: %s", round, i,
                          quire_err2name(s[i].err));
        }
    }
    fb_stop(mute);
    fb_stop(noprod);
}
END_TEST

/* ---- send() while a name lookup hangs ---- */

/*
 * getaddrinfo as the client's code sees it: libc's, except while the gate
 * is armed, when one lookup waits until the senders have completed
 * GATE_SENDS sends while it waits (or 10 s pass): a resolver that hangs,
 * produced without leaving loopback.
 */
#define GATE_SENDS 200

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_armed, gate_entered, gate_open, gate_by_sends;
static long gate_sends; /* sends completed while a lookup waits */

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    struct timespec ts;

    if (!real)
        real = (int (*)(const char *, const char *, const struct addrinfo *,
                        struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
    pthread_mutex_lock(&gate_lock);
    if (gate_armed && !gate_entered) {
        gate_entered = 1;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10;
        while (gate_sends < GATE_SENDS &&
               pthread_cond_timedwait(&gate_cv, &gate_lock, &ts) == 0)
            ;
        gate_by_sends = gate_sends >= GATE_SENDS;
        gate_open = 1;
        pthread_cond_broadcast(&gate_cv);
    }
    pthread_mutex_unlock(&gate_lock);
    return real(node, service, hints, res);
}

typedef struct gsender {
    quire_producer_t *p;
    quire_err_t err;
} gsender_t;

/* Sends until the gate opens (at most 100,000 records). */
static void *gate_sender(void *arg)
{
    gsender_t *g = arg;

    for (int i = 0; i < 100000; i++) {
        int open;

        g->err = quire_producer_send(g->p, "t", 0, NULL, 0, "v", 1, NULL, 0, 0,
                                     NULL);
        if (g->err != QUIRE_ERR_NONE)
            break;
        pthread_mutex_lock(&gate_lock);
        if (gate_entered && !gate_open && ++gate_sends >= GATE_SENDS)
            pthread_cond_broadcast(&gate_cv);
        open = gate_open;
        pthread_mutex_unlock(&gate_lock);
        if (open)
            break;
    }
    return NULL;
}

/*
 * The leader's connection is made while its name lookup hangs: the drain
 * found a ready batch for a leader it had no connection to. Senders on
 * four threads must go on appending meanwhile (their records fit
 * buffer.memory, and the metadata is known): nothing may wait on the
 * network under the accumulator's lock. The peer is fbroker (it names
 * itself leader, node 1, at the bootstrap address, so the leader is a
 * second connection).
 */
START_TEST(send_while_lookup_hangs)
{
    fbroker_t *fb = fb_start(FB_NO_PRODUCE);
    quire_conf_t *conf = conf_for_port(fb->port);
    gsender_t g[4];
    pthread_t th[4];
    quire_producer_t *p;

    (void)qt_zk_env();
    conf_set(conf, "linger.ms", "500");
    conf_set(conf, "max.block.ms", "2000");
    /* idempotence (on by default) asks InitProducerId of the leader before
     * the first drain, so the leader's connection would be made before the
     * gate is armed; this test is about the drain's connect */
    conf_set(conf, "enable.idempotence", "false");
    p = producer_new(conf);
    /* metadata through the bootstrap connection (its lookup is not
     * gated); the first batch is then ready after linger.ms, and the
     * drain wants a connection to the leader */
    ck_assert_int_eq(
        quire_producer_send(p, "t", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    pthread_mutex_lock(&gate_lock);
    gate_armed = 1;
    pthread_mutex_unlock(&gate_lock);
    for (int i = 0; i < 4; i++) {
        g[i] = (gsender_t){.p = p};
        ck_assert_int_eq(pthread_create(&th[i], NULL, gate_sender, &g[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(g[i].err == QUIRE_ERR_NONE, "sender %d: %s", i,
                      quire_err2name(g[i].err));
    }
    pthread_mutex_lock(&gate_lock);
    ck_assert_msg(gate_entered, "the leader's name was never looked up");
    ck_assert_msg(gate_by_sends,
                  "senders completed %ld sends in 10 s while a lookup hung",
                  gate_sends);
    pthread_mutex_unlock(&gate_lock);
    quire_producer_close(p, 0);
    fb_stop(fb);
}
END_TEST

/* ---- answers that are not what was asked ---- */

static atomic_int dr_count;
static quire_err_t dr_err;

static void on_dr(const quire_delivery_t *dr, void *opaque)
{
    (void)opaque;
    dr_err = dr->err;
    atomic_fetch_add(&dr_count, 1);
}

/*
 * A peer answers a Produce with a Metadata body (same correlation_id): the
 * record fails at once with QUIRE_ERR_BAD_FRAME, a protocol error, instead
 * of its answer being read through the wrong member of the response union
 * (or retried into the same peer until delivery.timeout.ms).
 */
START_TEST(produce_answered_with_another_body)
{
    fbroker_t *fb = fb_start(FB_WRONG_BODY);
    quire_conf_t *conf = conf_for_port(fb->port);
    quire_producer_t *p;

    (void)qt_zk_env();
    conf_set(conf, "delivery.timeout.ms", "60000");
    quire_conf_set_delivery_cb(conf, on_dr, NULL);
    p = producer_new(conf);
    ck_assert_int_eq(
        quire_producer_send(p, "t", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_flush(p, 20000), QUIRE_ERR_NONE);
    ck_assert_int_eq(atomic_load(&dr_count), 1);
    ck_assert_msg(dr_err == QUIRE_ERR_BAD_FRAME, "delivery report: %s",
                  quire_err2name(dr_err));
    ck_assert_int_eq(atomic_load(&fb->produces), 1);
    quire_producer_close(p, 0);
    fb_stop(fb);
}
END_TEST

/*
 * header_cnt so large that header_cnt * sizeof(header) wraps: refused
 * before anything is allocated or read (MESSAGE_TOO_LARGE: so many
 * headers cannot fit max.request.size), not a small allocation followed
 * by writes past it.
 */
START_TEST(header_count_overflow)
{
    fbroker_t *fb = fb_start(FB_NO_PRODUCE);
    quire_conf_t *conf = conf_for_port(fb->port);
    quire_header_t h[2] = {{"a", "1", 1}, {"b", "2", 1}};
    quire_producer_t *p;

    (void)qt_zk_env();
    p = producer_new(conf);
    /* metadata first, so a send would go as far as the header array */
    ck_assert_int_eq(
        quire_producer_send(p, "t", 0, NULL, 0, "v", 1, h, 2, 0, NULL),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_producer_send(p, "t", 0, NULL, 0, "v", 1, h,
                                         SIZE_MAX / 32 + 2, 0, NULL),
                     QUIRE_ERR_MESSAGE_TOO_LARGE);
    ck_assert_int_eq(quire_producer_send(p, "t", 0, NULL, 0, "v", 1, h,
                                         1048576 / 2 + 1, 0, NULL),
                     QUIRE_ERR_MESSAGE_TOO_LARGE);
    quire_producer_close(p, 0);
    fb_stop(fb);
}
END_TEST

static Suite *producer_suite(void)
{
    Suite *s = suite_create("producer");
    TCase *tc;

    tc = tcase_create("close");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, close_while_sending);
    suite_add_tcase(s, tc);

    tc = tcase_create("network");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, send_while_lookup_hangs);
    tcase_add_test(tc, produce_answered_with_another_body);
    tcase_add_test(tc, header_count_overflow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 when the harness gave no ZooKeeper */
    signal(SIGPIPE, SIG_IGN);
    sr = srunner_create(producer_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
