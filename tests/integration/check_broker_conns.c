/*
 * check_broker_conns: 5,000 idle connections open at once on a real
 * broker; its RSS stays bounded (an idle connection holds no buffer) and a
 * producer on another connection is unaffected.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#define NCONNS 5000
#define IO_MS  10000

static int open_raw(const qt_broker_t *b)
{
    struct sockaddr_in sin = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)b->port);
    inet_pton(AF_INET, b->host, &sin.sin_addr);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

START_TEST(test_many_idle_connections)
{
    struct rlimit rl;
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    qt_broker_t *b;
    qt_client_t *c;
    int *fds = calloc(NCONNS, sizeof(int));
    long rss0, rss1;
    uint8_t buf[4096];
    size_t len;

    /* The test and the broker it starts both need > 5,000 descriptors. */
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 2 * NCONNS + 500) {
        rl.rlim_cur =
            rl.rlim_max < 2 * NCONNS + 500 ? rl.rlim_max : 2 * NCONNS + 500;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_msg(rl.rlim_cur >= NCONNS + 200,
                  "RLIMIT_NOFILE hard limit %lu is too low",
                  (unsigned long)rl.rlim_max);
    ck_assert_ptr_nonnull(chroot);
    /* Every connection comes from 127.0.0.1: lift the per-address cap. */
    b = qt_broker_new(1, chroot,
                      "num.partitions=1\nmax.connections.per.ip=10000\n");
    ck_assert_int_eq(qt_broker_start(b, 30000), 0);
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, "busy", 1, 20000), 0);
    len = qt_batch(buf, sizeof(buf), 10, "k", 0);
    ck_assert_int_eq(qt_produce(c, "busy", 0, 1, buf, len, NULL, IO_MS),
                     QUIRE_ERR_NONE);
    rss0 = qt_broker_rss_kb(b);

    for (int i = 0; i < NCONNS; i++) {
        fds[i] = open_raw(b);
        ck_assert_msg(fds[i] >= 0, "connection %d: %s", i, strerror(errno));
    }
    /* Let the broker accept every one of them. */
    qt_sleep_ms(1000);
    rss1 = qt_broker_rss_kb(b);
    fprintf(stderr,
            "check_broker_conns: RSS %ld KiB before, %ld KiB with "
            "%d idle connections\n",
            rss0, rss1, NCONNS);
    /* Well under 10 KiB per idle connection (sanitizer builds included). */
    ck_assert_msg(rss1 - rss0 < NCONNS * 10, "RSS grew by %ld KiB",
                  rss1 - rss0);

    /* The producer on its own connection is unaffected. */
    for (int i = 1; i <= 10; i++) {
        int64_t base;
        len = qt_batch(buf, sizeof(buf), 10, "k", i * 10);
        ck_assert_int_eq(qt_produce(c, "busy", 0, -1, buf, len, &base, IO_MS),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(base, i * 10);
    }
    /* And the idle ones still work when they speak. */
    for (int i = 0; i < NCONNS; i += 997) {
        qt_client_t wrap = {0};
        qr_req_t req = {0};
        qr_resp_t resp;
        wrap.fd = fds[i];
        wrap.next_corr = 1;
        req.api = QR_API_API_VERSIONS;
        ck_assert_int_eq(qt_client_call(&wrap, &req, NULL, 0, &resp, IO_MS),
                         QUIRE_ERR_NONE);
        qr_wire_resp_free(&resp);
        free(wrap.buf);
    }
    for (int i = 0; i < NCONNS; i++)
        close(fds[i]);
    free(fds);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static Suite *conns_suite(void)
{
    Suite *s = suite_create("broker_conns");
    TCase *tc = tcase_create("idle connections");

    tcase_set_timeout(tc, 120);
    tcase_set_tags(tc, "integration zk slow");
    tcase_add_test(tc, test_many_idle_connections);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(conns_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
