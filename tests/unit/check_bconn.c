/*
 * check_bconn: where a client connection's response buffers go back to
 * (client/bconn.c frame_put). A frame of QR_RXPOOL_MIN bytes or more was
 * one of the rxpool's buffers and goes back through qr_rxpool_put(), to be
 * kept and handed out again; a smaller one is a plain malloc and is freed
 * by bconn itself, never touching the pool's mutex (nor its scan of the
 * buffers out), whether it was copied out of the staging buffer (below
 * 64 KiB) or read into a buffer of its own.
 *
 * The broker is this test itself: a thread on a loopback socket of this
 * process that answers each Fetch with a frame of a chosen size. The calls
 * to qr_rxpool_put() are counted by wrapping it at link time
 * (-Wl,--wrap=qr_rxpool_put in Makefile.am): bconn.o's calls go to
 * __wrap_qr_rxpool_put below, which counts and calls the real one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bconn.h"
#include "frame.h"
#include "rxpool.h"
#include "wire.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

/* ---- qr_rxpool_put, counted ---- */

void __real_qr_rxpool_put(qr_rxpool_t *pool, uint8_t *buf);
void __wrap_qr_rxpool_put(qr_rxpool_t *pool, uint8_t *buf);

static atomic_int n_puts;

void __wrap_qr_rxpool_put(qr_rxpool_t *pool, uint8_t *buf)
{
    atomic_fetch_add(&n_puts, 1);
    __real_qr_rxpool_put(pool, buf);
}

/* The calls so far (a function: Check prints its name, not the atomic's
 * expansion). */
static int puts_so_far(void)
{
    return atomic_load(&n_puts);
}

/* ---- the broker: one Fetch answered per entry of a plan ---- */

typedef struct answer {
    size_t records; /* payload bytes of the Fetch response */
    size_t cut;     /* nonzero: send only this many bytes of the frame */
} answer_t;

typedef struct peer {
    int lfd;
    const answer_t *plan;
    size_t n;
    atomic_int sent; /* answers written (whole or cut) */
    pthread_t th;
} peer_t;

static int read_full(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Reads one request frame; its correlation_id, or -1. */
static int32_t read_request(int fd)
{
    uint8_t prefix[4], *frame;
    qr_frame_limits_t lim = {.max_frame = 1 << 20,
                             .max_header = QR_FRAME_REQ_HEADER_MAX};
    qr_frame_t fr;
    qr_req_t req;
    int32_t corr = -1;
    size_t len;

    if (read_full(fd, prefix, 4) != 0)
        return -1;
    len = 4 + qr_frame_get_u32(prefix);
    if (len > lim.max_frame || !(frame = malloc(len)))
        return -1;
    memcpy(frame, prefix, 4);
    if (read_full(fd, frame + 4, len - 4) == 0 &&
        qr_frame_parse(frame, len, &lim, &fr) == QUIRE_ERR_NONE &&
        qr_wire_req_decode(&fr, &req) == QUIRE_ERR_NONE) {
        corr = req.correlation_id;
        qr_wire_req_free(&req);
    }
    free(frame);
    return corr;
}

/* A Fetch response of @p records payload bytes (every byte 0x5a). */
static int write_answer(int fd, int32_t corr, const answer_t *a)
{
    qr_fetch_part_resp_t part = {.partition = 0,
                                 .high_watermark = 1,
                                 .records_length = (uint32_t)a->records};
    qr_fetch_topic_resp_t topic = {
        .topic = "t", .partition_count = 1, .partitions = &part};
    qr_resp_t resp = {.api = QR_API_FETCH, .correlation_id = corr};
    uint8_t *hdr = NULL, *payload;
    size_t hlen = 0, total;
    int rc;

    resp.u.fetch.topic_count = 1;
    resp.u.fetch.topics = &topic;
    if (qr_wire_resp_encode_alloc(&resp, &hdr, &hlen) != QUIRE_ERR_NONE)
        return -1;
    total = hlen + a->records;
    payload = malloc(total);
    memcpy(payload, hdr, hlen);
    memset(payload + hlen, 0x5a, a->records);
    rc = write_full(fd, payload, a->cut ? a->cut : total);
    free(hdr);
    free(payload);
    return rc;
}

static void *peer_main(void *arg)
{
    peer_t *pr = arg;
    int fd = accept(pr->lfd, NULL, NULL);

    for (size_t i = 0; fd >= 0 && i < pr->n; i++) {
        int32_t corr = read_request(fd);
        if (corr < 0 || write_answer(fd, corr, &pr->plan[i]) != 0)
            break;
        atomic_fetch_add(&pr->sent, 1);
    }
    /* a cut answer stays cut: the connection is closed by the client */
    if (fd >= 0) {
        char c;
        while (read(fd, &c, 1) > 0)
            ;
        close(fd);
    }
    return NULL;
}

static int peer_start(peer_t *pr, const answer_t *plan, size_t n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);

    memset(pr, 0, sizeof(*pr));
    pr->plan = plan;
    pr->n = n;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pr->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(pr->lfd, 0);
    ck_assert_int_eq(bind(pr->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(pr->lfd, 1), 0);
    ck_assert_int_eq(getsockname(pr->lfd, (struct sockaddr *)&sa, &salen), 0);
    ck_assert_int_eq(pthread_create(&pr->th, NULL, peer_main, pr), 0);
    return ntohs(sa.sin_port);
}

static void peer_join(peer_t *pr)
{
    pthread_join(pr->th, NULL);
    close(pr->lfd);
}

/* ---- the client side ---- */

typedef struct client {
    struct ev_loop *loop;
    qr_rxpool_t *pool;
    qr_bconn_t *conn;
    int done;         /* responses (or failures) seen */
    quire_err_t err;  /* of the last one */
    uint32_t records; /* records_length of the last one */
    int take;         /* the callback takes the frame (as the consumer) */
    uint8_t *taken;
} client_t;

static void on_resp(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                    uint8_t **framebuf, void *arg)
{
    client_t *cl = arg;

    (void)conn;
    cl->done++;
    cl->err = err;
    cl->records = 0;
    if (err == QUIRE_ERR_NONE && resp->u.fetch.topic_count == 1)
        cl->records = resp->u.fetch.topics[0].partitions[0].records_length;
    if (err == QUIRE_ERR_NONE && cl->take) {
        cl->taken = *framebuf;
        *framebuf = NULL;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_open(client_t *cl, int port)
{
    qr_bconn_conf_t conf = {.client_id = "check_bconn",
                            .connect_timeout_ms = 5000,
                            .max_frame = 64 * MIB};

    memset(cl, 0, sizeof(*cl));
    cl->loop = ev_loop_new(EVFLAG_AUTO);
    cl->pool = qr_rxpool_new();
    ck_assert_ptr_nonnull(cl->loop);
    ck_assert_ptr_nonnull(cl->pool);
    conf.rxpool = cl->pool;
    ck_assert_int_eq(
        qr_bconn_new(cl->loop, 1, "127.0.0.1", port, &conf, &cl->conn),
        QUIRE_ERR_NONE);
}

static void client_close(client_t *cl)
{
    qr_bconn_destroy(cl->conn);
    qr_rxpool_destroy(cl->pool);
    ev_loop_destroy(cl->loop);
}

/* Queues one Fetch of partition t-0; its answer comes to on_resp. */
static void send_fetch(client_t *cl)
{
    qr_fetch_part_t part = {.partition = 0, .partition_max_bytes = 1 << 26};
    qr_fetch_topic_t topic = {
        .topic = "t", .partition_count = 1, .partitions = &part};
    qr_req_t req = {.api = QR_API_FETCH};

    req.u.fetch.replica_id = -1;
    req.u.fetch.max_bytes = 1 << 26;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &topic;
    ck_assert_int_eq(
        qr_bconn_send(cl->conn, &req, NULL, 0, 1, 5000, on_resp, cl),
        QUIRE_ERR_NONE);
}

/* Sends one Fetch and runs the loop until its answer (5 s at most). */
static void fetch_one(client_t *cl)
{
    int want = cl->done + 1;
    long long end = now_ms() + 5000;

    send_fetch(cl);
    while (cl->done < want && now_ms() < end) {
        ev_run(cl->loop, EVRUN_NOWAIT);
        usleep(100);
    }
    ck_assert_int_eq(cl->done, want);
    ck_assert_int_eq(cl->err, QUIRE_ERR_NONE);
}

/* Small answers (copied out of the stage, and read into a buffer of their
 * own above 64 KiB) never reach the pool; a pooled-size one does, once,
 * and is kept and handed out for the next. */
START_TEST(test_small_frames_skip_the_pool)
{
    static const answer_t plan[] = {
        {.records = 0},         {.records = 100},
        {.records = 200 * KIB}, {.records = MIB - 4 * KIB},
        {.records = 3 * MIB},   {.records = 3 * MIB},
        {.records = 10},
    };
    const size_t n = sizeof(plan) / sizeof(plan[0]);
    peer_t pr;
    client_t cl;
    qr_rxpool_stats_t st;

    client_open(&cl, peer_start(&pr, plan, n));
    for (size_t i = 0; i < n; i++) {
        int before = puts_so_far();
        fetch_one(&cl);
        ck_assert_uint_eq(cl.records, plan[i].records);
        /* frame = prefix + header + records: at least the records */
        ck_assert_int_eq(puts_so_far() - before,
                         plan[i].records >= QR_RXPOOL_MIN ? 1 : 0);
    }
    qr_rxpool_stats(cl.pool, &st);
    ck_assert_uint_eq(st.allocs, 1); /* the first 3 MiB frame */
    ck_assert_uint_eq(st.reuses, 1); /* the second took it again */
    ck_assert_uint_eq(st.kept, 1);
    client_close(&cl);
    peer_join(&pr);
}
END_TEST

/* A frame the callback takes is given back by its taker, not by bconn;
 * small or large, bconn puts nothing back. */
START_TEST(test_taken_frames_are_not_put)
{
    static const answer_t plan[] = {{.records = 100}, {.records = 2 * MIB}};
    peer_t pr;
    client_t cl;

    client_open(&cl, peer_start(&pr, plan, 2));
    cl.take = 1;
    for (size_t i = 0; i < 2; i++) {
        int before = puts_so_far();
        fetch_one(&cl);
        ck_assert_ptr_nonnull(cl.taken);
        ck_assert_int_eq(puts_so_far(), before);
        qr_rxpool_put(cl.pool, cl.taken); /* as the consumer does */
    }
    client_close(&cl);
    peer_join(&pr);
}
END_TEST

/* A frame cut short when the connection closes: bconn gives back the
 * buffer it was reading into, to the pool only when pooled-size. */
static void cut_frame(size_t records, int want_puts)
{
    answer_t plan[] = {{.records = 10}, {.records = records}};
    peer_t pr;
    client_t cl;
    long long end;

    /* more than the 64 KiB stage, so bconn reads into a buffer of the
     * frame's size, and less than the frame */
    plan[1].cut = 100 * KIB;
    client_open(&cl, peer_start(&pr, plan, 2));
    fetch_one(&cl);
    send_fetch(&cl);
    /* until the cut answer is written */
    end = now_ms() + 5000;
    while (atomic_load(&pr.sent) < 2 && now_ms() < end) {
        ev_run(cl.loop, EVRUN_NOWAIT);
        usleep(100);
    }
    ck_assert_int_eq(atomic_load(&pr.sent), 2);
    /* every byte is in the socket now: a few passes read them all */
    end = now_ms() + 100;
    for (int i = 0; i < 10 || now_ms() < end; i++) {
        ev_run(cl.loop, EVRUN_NOWAIT);
        usleep(100);
    }
    int before = puts_so_far();
    qr_bconn_close(cl.conn, QUIRE_ERR_NETWORK_EXCEPTION);
    ck_assert_int_eq(cl.done, 2);
    ck_assert_int_ne(cl.err, QUIRE_ERR_NONE);
    ck_assert_int_eq(puts_so_far() - before, want_puts);
    client_close(&cl);
    peer_join(&pr);
}

START_TEST(test_cut_frame_small)
{
    cut_frame(512 * KIB, 0);
}
END_TEST

START_TEST(test_cut_frame_pooled)
{
    cut_frame(2 * MIB, 1);
}
END_TEST

static Suite *bconn_suite(void)
{
    Suite *s = suite_create("bconn");
    TCase *tc = tcase_create("rxpool");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_small_frames_skip_the_pool);
    tcase_add_test(tc, test_taken_frames_are_not_put);
    tcase_add_test(tc, test_cut_frame_small);
    tcase_add_test(tc, test_cut_frame_pooled);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bconn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
