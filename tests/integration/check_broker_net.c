/*
 * check_broker_net: quire-broker's network layer against a real broker
 * process (and the harness's real ZooKeeper): ApiVersions, pipelining in
 * order, every malformed frame or header refused with its error or a
 * closed connection while a fresh connection still works, backpressure on
 * a client that does not read, IPv6, SIGTERM exit 0, bad config exit 2.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "qt_broker.h"
#include "qt_client.h"
#include "qt_zk.h"

#define START_MS 30000
#define IO_MS    5000

static qt_broker_t *broker; /* the TCase's broker (unchecked fixture) */
static char *zk_chroot;

static void start_shared(void)
{
    zk_chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_chroot);
    /* A small request limit so "too large" is cheap to send. */
    broker = qt_broker_new(1, zk_chroot,
                           "socket.request.max.bytes=2097152\n"
                           "message.max.bytes=1048576\n");
    ck_assert_ptr_nonnull(broker);
    ck_assert_int_eq(qt_broker_start(broker, START_MS), 0);
}

static void stop_shared(void)
{
    if (broker)
        ck_assert_int_eq(qt_broker_stop(broker, 20000), 0);
    qt_broker_destroy(broker);
    broker = NULL;
    free(zk_chroot);
}

/* A fresh connection answers ApiVersions with the whole table. */
static void assert_serving(const char *addr)
{
    qt_client_t *c = qt_client_connect(addr, IO_MS);
    qr_req_t req = {0};
    qr_resp_t resp;

    ck_assert_ptr_nonnull(c);
    req.api = QR_API_API_VERSIONS;
    ck_assert_int_eq(qt_client_call(c, &req, NULL, 0, &resp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.api, QR_API_API_VERSIONS);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
    size_t napis;
    (void)qr_wire_api_versions(&napis);
    ck_assert_uint_eq(resp.u.api_versions.api_count, napis);
    qr_wire_resp_free(&resp);
    qt_client_close(c);
}

START_TEST(test_api_versions)
{
    size_t n;
    const qr_api_version_t *table = qr_wire_api_versions(&n);
    qt_client_t *c = qt_client_connect(broker->addr, IO_MS);
    qr_req_t req = {0};
    qr_resp_t resp;

    ck_assert_ptr_nonnull(c);
    req.api = QR_API_API_VERSIONS;
    req.client_id = "check_broker_net";
    ck_assert_int_eq(qt_client_call(c, &req, NULL, 0, &resp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(resp.u.api_versions.api_count, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(resp.u.api_versions.apis[i].api_key, table[i].api_key);
        ck_assert_int_eq(resp.u.api_versions.apis[i].max_version,
                         table[i].max_version);
    }
    qr_wire_resp_free(&resp);
    qt_client_close(c);
}
END_TEST

/* Many requests in flight on one connection come back in order. */
START_TEST(test_pipelined_in_order)
{
    qt_client_t *c = qt_client_connect(broker->addr, IO_MS);
    enum { N = 500 };

    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < N; i++) {
        qr_req_t req = {0};
        req.api = QR_API_API_VERSIONS;
        req.correlation_id = 1000 + i;
        ck_assert_int_eq(qt_client_send(c, &req, NULL, 0), 1000 + i);
    }
    for (int i = 0; i < N; i++) {
        qr_resp_t resp;
        ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
        ck_assert_int_eq(resp.correlation_id, 1000 + i);
        qr_wire_resp_free(&resp);
    }
    qt_client_close(c);
}
END_TEST

/* ---- bad input: each one, then a fresh connection still works ---- */

static size_t put_frame(uint8_t *out, const uint8_t *hdr, size_t hl,
                        size_t payload)
{
    qr_frame_put_u32(out, (uint32_t)(4 + hl + payload));
    qr_frame_put_u32(out + 4, (uint32_t)hl);
    memcpy(out + 8, hdr, hl);
    memset(out + 8 + hl, 'x', payload);
    return 8 + hl + payload;
}

typedef struct bad_input {
    const char *what;
    uint8_t bytes[64];
    size_t len;          /* 0: built by the test */
    int closes;          /* 1: the broker must close the connection */
    quire_err_t err;     /* else: the request-level error answered */
    int32_t correlation; /* ... with this correlation_id */
} bad_input_t;

/* Raw protobuf headers (quire.Request): field 1 api, 2 api_version,
 * 3 correlation_id, all varints. */
static const bad_input_t bad_inputs[] = {
    {"frame_len above socket.request.max.bytes",
     {0x00, 0x30, 0x00, 0x00, 0, 0, 0, 0},
     8,
     1,
     0,
     0},
    {"frame_len 0xffffffff", {0xff, 0xff, 0xff, 0xff}, 4, 1, 0, 0},
    {"frame_len below 4", {0, 0, 0, 2, 0, 0}, 6, 1, 0, 0},
    {"header_len beyond the frame",
     {0, 0, 0, 6, 0, 0, 0, 9, 1, 2},
     10,
     1,
     0,
     0},
    {"header that is not protobuf",
     {0, 0, 0, 10, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
     14,
     1,
     0,
     0},
    {"header without a correlation_id",
     {0, 0, 0, 8, 0, 0, 0, 4, 0x08, 0x12, 0x10, 0x00},
     12,
     1,
     0,
     0},
    {"unknown api 77",
     {0, 0, 0, 10, 0, 0, 0, 6, 0x08, 77, 0x10, 0x00, 0x18, 5},
     14,
     0,
     QUIRE_ERR_UNSUPPORTED_VERSION,
     5},
    {"ApiVersions version 99",
     {0, 0, 0, 10, 0, 0, 0, 6, 0x08, 18, 0x10, 99, 0x18, 7},
     14,
     0,
     QUIRE_ERR_UNSUPPORTED_VERSION,
     7},
    {"negative api_version",
     {0,    0,    0,    19,   0,    0,    0,    15,   0x08, 18,   0x10, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x18, 8},
     23,
     0,
     QUIRE_ERR_UNSUPPORTED_VERSION,
     8},
    {"ApiVersions with a payload",
     {0, 0, 0, 13, 0, 0, 0, 6, 0x08, 18, 0x10, 0x00, 0x18, 9, 'a', 'b', 'c'},
     17,
     0,
     QUIRE_ERR_INVALID_REQUEST,
     9},
};

START_TEST(test_bad_input)
{
    const bad_input_t *b = &bad_inputs[_i];
    qt_client_t *c = qt_client_connect(broker->addr, IO_MS);
    qr_resp_t resp;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_client_send_raw(c, b->bytes, b->len), 0);
    if (b->closes) {
        ck_assert_msg(qt_client_wait_closed(c, IO_MS) == 0,
                      "%s: connection not closed", b->what);
    } else {
        ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
        ck_assert_msg(resp.error_code == b->err, "%s: got %s", b->what,
                      quire_err2name(resp.error_code));
        ck_assert_int_eq(resp.correlation_id, b->correlation);
        qr_wire_resp_free(&resp);
        /* The same connection keeps working after an answered error. */
        qr_req_t req = {0};
        req.api = QR_API_API_VERSIONS;
        ck_assert_int_eq(qt_client_call(c, &req, NULL, 0, &resp, IO_MS),
                         QUIRE_ERR_NONE);
        qr_wire_resp_free(&resp);
    }
    qt_client_close(c);
    assert_serving(broker->addr);
}
END_TEST

/* A frame cut anywhere and then abandoned: the broker keeps serving. */
START_TEST(test_truncated_then_gone)
{
    uint8_t frame[64];
    const uint8_t hdr[] = {0x08, 18, 0x10, 0x00, 0x18, 3};
    size_t len = put_frame(frame, hdr, sizeof(hdr), 0);

    for (size_t cut = 1; cut < len; cut++) {
        qt_client_t *c = qt_client_connect(broker->addr, IO_MS);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(qt_client_send_raw(c, frame, cut), 0);
        qt_client_close(c);
    }
    assert_serving(broker->addr);
}
END_TEST

/* A frame arriving one byte at a time is still one request. */
START_TEST(test_byte_by_byte)
{
    uint8_t frame[64];
    const uint8_t hdr[] = {0x08, 18, 0x10, 0x00, 0x18, 42};
    size_t len = put_frame(frame, hdr, sizeof(hdr), 0);
    qt_client_t *c = qt_client_connect(broker->addr, IO_MS);
    qr_resp_t resp;

    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < len; i++) {
        ck_assert_int_eq(qt_client_send_raw(c, frame + i, 1), 0);
        qt_sleep_ms(2);
    }
    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, 42);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_NONE);
    qr_wire_resp_free(&resp);
    qt_client_close(c);
}
END_TEST

/* Backpressure: a client that sends without ever reading fills its socket
 * and the broker stops reading it; the broker's memory stays bounded and
 * other clients are served. */
START_TEST(test_backpressure)
{
    qt_client_t *hog = qt_client_connect(broker->addr, IO_MS);
    uint8_t frame[64], *burst;
    const uint8_t hdr[] = {0x08, 18, 0x10, 0x00, 0x18, 1};
    size_t flen = put_frame(frame, hdr, sizeof(hdr), 0), sent = 0;
    const size_t burst_len = flen * 4096;
    long rss0 = qt_broker_rss_kb(broker), rss1;
    int64_t deadline = qt_now_ms() + 20000;

    ck_assert_ptr_nonnull(hog);
    burst = malloc(burst_len);
    for (size_t i = 0; i < 4096; i++)
        memcpy(burst + i * flen, frame, flen);
    fcntl(hog->fd, F_SETFL, fcntl(hog->fd, F_GETFL) | O_NONBLOCK);
    /* Send until the socket stays full for a while (the broker stopped
     * reading), bounded in bytes and time. */
    int stalls = 0;
    while (sent < (size_t)512 << 20 && qt_now_ms() < deadline && stalls < 20) {
        ssize_t n = send(hog->fd, burst, burst_len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            stalls++;
            qt_sleep_ms(50);
            continue;
        }
        ck_assert_int_ge(n, 0);
        stalls = 0;
        sent += (size_t)n;
    }
    ck_assert_msg(stalls >= 20, "the broker kept reading (%zu bytes sent)",
                  sent);
    rss1 = qt_broker_rss_kb(broker);
    /* Unanswered requests are bounded per connection: a few MiB at most,
     * whatever was sent. */
    ck_assert_msg(rss1 - rss0 < 64 * 1024, "RSS grew from %ld to %ld KiB", rss0,
                  rss1);
    assert_serving(broker->addr);
    free(burst);
    qt_client_close(hog);
    assert_serving(broker->addr);
}
END_TEST

/* ---- brokers of a test's own ---- */

START_TEST(test_ipv6_and_sigterm)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    qt_broker_t *b;

    ck_assert_ptr_nonnull(chroot);
    b = qt_broker_new(2, chroot, "listeners=PLAINTEXT://[::1]:0\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    ck_assert_msg(b->addr[0] == '[', "port file says %s", b->addr);
    assert_serving(b->addr);
    /* An open, idle connection does not hold the shutdown up. */
    qt_client_t *idle = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(idle);
    ck_assert_int_eq(qt_broker_stop(b, 20000), 0);
    ck_assert_int_eq(qt_client_wait_closed(idle, IO_MS), 0);
    qt_client_close(idle);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static int run_broker(const char *props_text, const char *extra_arg,
                      char **err_out)
{
    char path[] = "/tmp/check_broker_net-XXXXXX";
    int fd = mkstemp(path);
    qt_run_result_t res;
    char *argv[5];
    int i = 0, status;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, props_text, strlen(props_text)),
                     (ssize_t)strlen(props_text));
    close(fd);
    argv[i++] = (char *)QT_BROKER_BIN;
    if (extra_arg)
        argv[i++] = (char *)extra_arg;
    argv[i++] = path;
    argv[i] = NULL;
    ck_assert_int_eq(qt_run(argv, NULL, 20000, &res), 0);
    status = res.status;
    *err_out = strdup(res.err ? res.err : "");
    qt_run_free(&res);
    unlink(path);
    return status;
}

static void remove_dir(const char *dir)
{
    char *argv[] = {(char *)"rm", (char *)"-rf", (char *)dir, NULL};
    qt_run_result_t res;

    if (qt_run(argv, NULL, 10000, &res) == 0)
        qt_run_free(&res);
}

static const struct bad_conf {
    const char *text, *named;
} bad_confs[] = {
    {"broker.id=1\nzookeeper.connect=x:1\nbogus.key=3\n", "bogus.key"},
    {"broker.id=abc\nzookeeper.connect=x:1\n", "broker.id"},
    {"broker.id.generation.enable=false\nzookeeper.connect=x:1\n", "broker.id"},
    {"broker.id=1001\nzookeeper.connect=x:1\n", "reserved.broker.max.id"},
    {"broker.id=1\n", "zookeeper.connect"},
    {"broker.id=1\nzookeeper.connect=x:1\nlisteners=tcp://h:1\n", "listeners"},
    {"broker.id=1\nzookeeper.connect=x:1\nmessage.max.bytes=9\n",
     "message.max.bytes"},
};

START_TEST(test_bad_config_exits_2)
{
    char *err = NULL;
    int status = run_broker(bad_confs[_i].text, NULL, &err);

    ck_assert_msg(status == 2, "exit %d, stderr: %s", status, err);
    ck_assert_msg(strstr(err, bad_confs[_i].named) != NULL,
                  "stderr does not name %s: %s", bad_confs[_i].named, err);
    free(err);
}
END_TEST

START_TEST(test_listen_failure_exits_1)
{
    char *err = NULL, text[512], want[64];
    struct sockaddr_in sin = {0};
    socklen_t sl = sizeof(sin);
    int status, fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A port some other socket is listening on. */
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    snprintf(text, sizeof(text),
             "broker.id=1\nzookeeper.connect=%s\nlisteners=PLAINTEXT://"
             "127.0.0.1:%d\nlog.dirs=/tmp/check_broker_net-nolog\n",
             qt_zk_env(), ntohs(sin.sin_port));
    snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(sin.sin_port));
    status = run_broker(text, NULL, &err);
    close(fd);
    ck_assert_msg(status == 1, "exit %d, stderr: %s", status, err);
    ck_assert_msg(strstr(err, want) != NULL, "stderr: %s", err);
    free(err);
    remove_dir("/tmp/check_broker_net-nolog");
}
END_TEST

/* No ZooKeeper within zookeeper.connection.timeout.ms: exit 1, saying so. */
START_TEST(test_zk_unreachable_exits_1)
{
    char *err = NULL;
    int status = run_broker("broker.id=1\n"
                            "zookeeper.connect=127.0.0.1:1/nothing\n"
                            "zookeeper.connection.timeout.ms=1000\n"
                            "listeners=PLAINTEXT://127.0.0.1:0\n"
                            "log.dirs=/tmp/check_broker_net-zkdown\n",
                            NULL, &err);

    ck_assert_msg(status == 1, "exit %d, stderr: %s", status, err);
    ck_assert_msg(strstr(err, "zookeeper.connection.timeout.ms") != NULL, "%s",
                  err);
    free(err);
    remove_dir("/tmp/check_broker_net-zkdown");
}
END_TEST

/* The command line: --help, --version, --help-config exit 0; --override
 * applies after the file and is checked like it. */
START_TEST(test_command_line)
{
    char text[256], *err = NULL;
    qt_run_result_t res;
    char *help[] = {(char *)QT_BROKER_BIN, (char *)"--help", NULL};
    char *version[] = {(char *)QT_BROKER_BIN, (char *)"--version", NULL};
    char *keys[] = {(char *)QT_BROKER_BIN, (char *)"--help-config", NULL};
    char *none[] = {(char *)QT_BROKER_BIN, NULL};

    ck_assert_int_eq(qt_run(help, NULL, 10000, &res), 0);
    ck_assert_int_eq(res.status, 0);
    ck_assert_ptr_nonnull(strstr(res.out, "--port-file"));
    qt_run_free(&res);
    ck_assert_int_eq(qt_run(version, NULL, 10000, &res), 0);
    ck_assert_int_eq(res.status, 0);
    ck_assert_ptr_nonnull(strstr(res.out, PACKAGE_VERSION));
    qt_run_free(&res);
    ck_assert_int_eq(qt_run(keys, NULL, 10000, &res), 0);
    ck_assert_int_eq(res.status, 0);
    ck_assert_ptr_nonnull(strstr(res.out, "socket.request.max.bytes"));
    ck_assert_ptr_nonnull(strstr(res.out, "log.retention.hours"));
    qt_run_free(&res);
    ck_assert_int_eq(qt_run(none, NULL, 10000, &res), 0);
    ck_assert_int_eq(res.status, 2);
    qt_run_free(&res);
    snprintf(text, sizeof(text), "broker.id=1\nzookeeper.connect=%s\n",
             qt_zk_env());
    ck_assert_int_eq(run_broker(text, "--override=broker.id=x", &err), 2);
    ck_assert_msg(strstr(err, "broker.id") != NULL, "%s", err);
    free(err);
    ck_assert_int_eq(run_broker(text, "--override=nokey", &err), 2);
    ck_assert_msg(strstr(err, "key=value") != NULL, "%s", err);
    free(err);
}
END_TEST

/* connections.max.idle.ms closes a connection that says nothing. */
START_TEST(test_idle_close)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    qt_broker_t *b;
    qt_client_t *idle;

    ck_assert_ptr_nonnull(chroot);
    b = qt_broker_new(3, chroot, "connections.max.idle.ms=300\n");
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    idle = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(idle);
    ck_assert_int_eq(qt_client_wait_closed(idle, 5000), 0);
    qt_client_close(idle);
    /* A busy connection is not idle: requests keep it open. */
    idle = qt_client_connect(b->addr, IO_MS);
    for (int i = 0; i < 10; i++) {
        qr_req_t req = {0};
        qr_resp_t resp;
        req.api = QR_API_API_VERSIONS;
        ck_assert_int_eq(qt_client_call(idle, &req, NULL, 0, &resp, IO_MS),
                         QUIRE_ERR_NONE);
        qr_wire_resp_free(&resp);
        qt_sleep_ms(100);
    }
    qt_client_close(idle);
    ck_assert_int_eq(qt_broker_stop(b, 20000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static Suite *net_suite(void)
{
    Suite *s = suite_create("broker_net");
    TCase *tc = tcase_create("shared broker");
    TCase *own = tcase_create("own broker");

    tcase_add_unchecked_fixture(tc, start_shared, stop_shared);
    tcase_set_timeout(tc, 60);
    tcase_set_tags(tc, "integration zk");
    tcase_add_test(tc, test_api_versions);
    tcase_add_test(tc, test_pipelined_in_order);
    tcase_add_loop_test(tc, test_bad_input, 0,
                        (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
    tcase_add_test(tc, test_truncated_then_gone);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_backpressure);
    suite_add_tcase(s, tc);

    tcase_set_timeout(own, 60);
    tcase_set_tags(own, "integration zk");
    tcase_add_test(own, test_ipv6_and_sigterm);
    tcase_add_loop_test(own, test_bad_config_exits_2, 0,
                        (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
    tcase_add_test(own, test_listen_failure_exits_1);
    tcase_add_test(own, test_command_line);
    tcase_add_test(own, test_zk_unreachable_exits_1);
    tcase_add_test(own, test_idle_close);
    suite_add_tcase(s, own);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env(); /* exits 99 without the harness's ZooKeeper */
    sr = srunner_create(net_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
