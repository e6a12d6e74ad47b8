/*
 * check_metrics: the broker's /metrics and /health (issue 15) against a
 * real broker and a real ZooKeeper, read with a real HTTP client (curl).
 *
 *  - after producing and fetching known counts, the message and byte
 *    counters equal what was sent and read, the request counters and the
 *    latency histograms' counts equal the requests made (errors counted
 *    under their code), the partition gauges match the log, and
 *    `promtool check metrics` finds nothing wrong with the exposition;
 *  - unknown paths get 404, other methods 405; 200 scrapes at once and a
 *    slowloris connection get answers while produce keeps working;
 *  - a slowloris trickling its request a byte a second is cut off within
 *    the header bound (MHD's own timeout counts from the last byte and
 *    never fires), and the HTTP threads run at nice +10 from the broker's;
 *  - /health is 503 while the broker is connected but not yet registered
 *    (a proxy holds the registration's reply), 200 once registered, and
 *    503 again when its ZooKeeper server is stopped.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"
#include "qt_zkproxy.h"

#define START_MS 30000
#define IO_MS    10000
/* every scrape renders: the counts are checked right after traffic */
#define METRICS                              \
    "metrics.listeners=http://127.0.0.1:0\n" \
    "metrics.cache.ms=0\n"

/* ---- HTTP through curl ---- */

typedef struct http_res {
    int status;
    char ctype[128];
    char *body; /* owned */
} http_res_t;

/* curl prints the body, then a last line "STATUS CONTENT-TYPE". */
static void http(int port, const char *method, const char *path,
                 http_res_t *out)
{
    char url[128];
    char *argv[] = {"curl",       "-sS", "-X", (char *)method,
                    "-o",         "-",   "-w", "\n%{http_code} %{content_type}",
                    "--max-time", "20",  url,  NULL};
    qt_run_result_t res;
    char *nl;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    ck_assert_int_eq(qt_run(argv, NULL, 30000, &res), 0);
    ck_assert_msg(res.status == 0, "curl %s: %s", url, res.err);
    nl = strrchr(res.out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    memset(out, 0, sizeof(*out));
    ck_assert_int_ge(sscanf(nl + 1, "%d %127[^\n]", &out->status, out->ctype),
                     1);
    out->body = strdup(res.out);
    qt_run_free(&res);
}

static char *scrape(int port)
{
    http_res_t r;

    http(port, "GET", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strncmp(r.ctype, "text/plain; version=0.0.4", 25) == 0,
                  "content type %s", r.ctype);
    return r.body;
}

/* The value of the sample @p series ("name" or "name{labels}"), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void promtool_ok(const char *text)
{
    char *argv[] = {"promtool", "check", "metrics", NULL};
    qt_run_result_t res;

    ck_assert_int_eq(qt_run(argv, text, 30000, &res), 0);
    ck_assert_msg(res.status == 0 && res.err_len == 0 && res.out_len == 0,
                  "promtool check metrics (exit %d): %s%s", res.status, res.out,
                  res.err);
    qt_run_free(&res);
}

/* ---- the dashboard asks only for metrics that exist ---- */

/* Whether @p text has a sample of metric @p name. */
static int has_metric(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, name, n) == 0 && (p[n] == '{' || p[n] == ' '))
            return 1;
    return 0;
}

/* Checks every quire_* name in @p expr against the scrape. */
static int check_expr(const char *text, const char *expr)
{
    int names = 0;

    for (const char *p = strstr(expr, "quire_"); p; p = strstr(p, "quire_")) {
        char name[128];
        size_t n = 0;
        while ((isalnum((unsigned char)p[n]) || p[n] == '_') &&
               n < sizeof(name) - 1) {
            name[n] = p[n];
            n++;
        }
        name[n] = '\0';
        ck_assert_msg(has_metric(text, name),
                      "deploy/grafana/quire.json asks for %s, which the "
                      "broker does not export",
                      name);
        names++;
        p += n;
    }
    return names;
}

/* The dashboard is JSON Grafana can import (panels with targets, a
 * datasource input) and names only metrics in @p text. */
static void dashboard_matches(const char *text)
{
    json_error_t jerr;
    json_t *dash = json_load_file(QT_DASHBOARD, 0, &jerr);
    json_t *panels, *panel, *target, *var;
    size_t i, j;
    int names = 0;

    ck_assert_msg(dash != NULL, "%s:%d: %s", QT_DASHBOARD, jerr.line,
                  jerr.text);
    ck_assert(json_is_string(json_object_get(dash, "title")));
    ck_assert(json_is_array(json_object_get(dash, "__inputs")));
    panels = json_object_get(dash, "panels");
    ck_assert(json_is_array(panels) && json_array_size(panels) >= 4);
    json_array_foreach(panels, i, panel)
    {
        json_t *targets = json_object_get(panel, "targets");
        ck_assert(json_is_string(json_object_get(panel, "title")));
        ck_assert(json_is_array(targets) && json_array_size(targets) > 0);
        json_array_foreach(targets, j, target)
        {
            const char *expr =
                json_string_value(json_object_get(target, "expr"));
            ck_assert_ptr_nonnull(expr);
            names += check_expr(text, expr);
        }
    }
    json_array_foreach(
        json_object_get(json_object_get(dash, "templating"), "list"), i, var)
        names +=
        check_expr(text, json_string_value(json_object_get(var, "definition")));
    ck_assert_int_gt(names, 10);
    json_decref(dash);
}

/* ---- counters move with what a client does ---- */

static qt_broker_t *broker_with_metrics(const char *zk, int *port)
{
    qt_broker_t *b = qt_broker_new(1, zk, METRICS);

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    *port = qt_broker_metrics_port(b, START_MS);
    ck_assert_int_gt(*port, 0);
    return b;
}

#define NBATCH 7
#define NREC   50

START_TEST(test_counts_match_traffic)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    qt_client_t *c;
    qt_broker_t *b;
    int port;
    uint8_t buf[65536];
    size_t len, sent_bytes = 0, read_bytes = 0;
    int64_t base, offset = 0;
    int fetches = 0;
    char *text, series[256];
    long long records = 0;

    ck_assert_ptr_nonnull(chroot);
    b = broker_with_metrics(chroot, &port);
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, "m1", 1, 20000), 0);

    text = scrape(port);
    ck_assert(sample(text, "quire_messages_in_total") == 0);
    ck_assert(sample(text, "quire_bytes_in_total") == 0);
    ck_assert(sample(text, "quire_controller_active") == 1 ||
              sample(text, "quire_controller_active") == 0);
    free(text);

    for (int i = 0; i < NBATCH; i++) {
        len = qt_batch(buf, sizeof(buf), NREC, "m", i * NREC);
        ck_assert_int_eq(qt_produce(c, "m1", 0, 1, buf, len, &base, IO_MS),
                         QUIRE_ERR_NONE);
        sent_bytes += len;
    }
    /* one refused request, counted under its code */
    len = qt_batch(buf, sizeof(buf), 1, "x", 0);
    ck_assert_int_eq(qt_produce(c, "m1", 9, 1, buf, len, &base, IO_MS),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    while (offset < NBATCH * NREC) {
        qr_resp_t resp;
        const qr_fetch_part_resp_t *part;
        int64_t last = -1;
        ck_assert_int_eq(qt_fetch(c, "m1", 0, offset, 100, 1, 1 << 20, 1 << 20,
                                  &resp, &part, IO_MS),
                         QUIRE_ERR_NONE);
        fetches++;
        ck_assert_int_eq(part->error_code, QUIRE_ERR_NONE);
        long n = qt_count_records(part->records, part->records_length, NULL, 0,
                                  &last);
        ck_assert_int_gt(n, 0);
        records += n;
        read_bytes += part->records_length;
        offset = last + 1;
        qr_wire_resp_free(&resp);
    }
    ck_assert_int_eq(records, NBATCH * NREC);

    text = scrape(port);
    promtool_ok(text);
    ck_assert_msg(sample(text, "quire_messages_in_total") == NBATCH * NREC,
                  "quire_messages_in_total %g",
                  sample(text, "quire_messages_in_total"));
    ck_assert(sample(text, "quire_bytes_in_total") == (double)sent_bytes);
    ck_assert(sample(text, "quire_bytes_out_total") == (double)read_bytes);
    ck_assert(sample(text, "quire_requests_total{api=\"Produce\","
                           "error=\"NONE\"}") == NBATCH);
    ck_assert(sample(text, "quire_requests_total{api=\"Produce\","
                           "error=\"UNKNOWN_TOPIC_OR_PARTITION\"}") == 1);
    ck_assert(sample(text, "quire_request_duration_seconds_count{api="
                           "\"Produce\"}") == NBATCH + 1);
    ck_assert(sample(text, "quire_requests_total{api=\"Fetch\","
                           "error=\"NONE\"}") == fetches);
    ck_assert(sample(text, "quire_request_duration_seconds_count{api="
                           "\"Fetch\"}") == fetches);
    ck_assert(sample(text, "quire_request_duration_seconds_bucket{api="
                           "\"Fetch\",le=\"+Inf\"}") == fetches);
    ck_assert(sample(text, "quire_connections_open") >= 1);
    ck_assert(sample(text, "quire_connections_accepted_total") >= 1);
    ck_assert(sample(text, "quire_network_received_bytes_total") >
              (double)sent_bytes);
    ck_assert(sample(text, "quire_network_sent_bytes_total") >
              (double)read_bytes);
    ck_assert(sample(text, "quire_zookeeper_connected") == 1);
    ck_assert(sample(text, "quire_zookeeper_registered") == 1);
    ck_assert(sample(text, "quire_partitions_led") == 1);
    ck_assert(sample(text, "quire_partitions_under_replicated") == 0);
    ck_assert(sample(text, "quire_network_thread_busy_seconds_total"
                           "{thread=\"0\"}") >= 0);
    ck_assert(sample(text, "quire_log_flush_duration_seconds_count") >= 0);
#define PART(name) name "{topic=\"m1\",partition=\"0\"}"
    ck_assert(sample(text, PART("quire_partition_log_end_offset")) ==
              NBATCH * NREC);
    ck_assert(sample(text, PART("quire_partition_high_watermark")) ==
              NBATCH * NREC);
    ck_assert(sample(text, PART("quire_partition_log_start_offset")) == 0);
    ck_assert(sample(text, PART("quire_partition_size_bytes")) ==
              (double)sent_bytes);
    ck_assert(sample(text, PART("quire_partition_segments")) == 1);
    ck_assert(sample(text, PART("quire_partition_isr_size")) == 1);
    /* the controller role is polled each second: it shows up */
    for (int i = 0; i < 50; i++) {
        free(text);
        text = scrape(port);
        if (sample(text, "quire_controller_active") == 1)
            break;
        usleep(100000);
    }
    snprintf(series, sizeof(series), "quire_controller_active");
    ck_assert(sample(text, series) == 1);
    dashboard_matches(text);
    free(text);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, START_MS), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* ---- bad input ---- */

static int connect_port(int port)
{
    struct sockaddr_in sin = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/* Reads until the server closes; returns 1 if the reply was a 200. */
static int read_reply(int fd)
{
    char buf[65536], first[16] = {0};
    size_t got = 0;
    ssize_t n;
    struct pollfd pfd = {fd, POLLIN, 0};

    while (poll(&pfd, 1, 20000) == 1 && (n = read(fd, buf, sizeof(buf))) > 0) {
        if (got < sizeof(first) - 1) {
            size_t k = sizeof(first) - 1 - got;
            memcpy(first + got, buf, (size_t)n < k ? (size_t)n : k);
        }
        got += (size_t)n;
    }
    return strncmp(first, "HTTP/1.1 200", 12) == 0;
}

#define NSCRAPES 200

START_TEST(test_bad_requests)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    int fds[NSCRAPES], slow, port, ok = 0;
    qt_broker_t *b;
    qt_client_t *c;
    http_res_t r;
    uint8_t buf[4096];
    size_t len;
    int64_t base;

    ck_assert_ptr_nonnull(chroot);
    b = broker_with_metrics(chroot, &port);
    http(port, "GET", "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
    http(port, "POST", "/metrics", &r);
    ck_assert_int_eq(r.status, 405);
    free(r.body);
    http(port, "GET", "/health", &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);

    /* a slowloris client: half a request line, then nothing */
    slow = connect_port(port);
    ck_assert_int_eq(write(slow, "GET /met", 8), 8);
    /* 200 scrapes at once, all answered, while produce goes on */
    for (int i = 0; i < NSCRAPES; i++)
        fds[i] = connect_port(port);
    for (int i = 0; i < NSCRAPES; i++)
        ck_assert_int_eq(write(fds[i], get, strlen(get)), (ssize_t)strlen(get));
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, "m2", 1, 20000), 0);
    len = qt_batch(buf, sizeof(buf), 10, "s", 0);
    ck_assert_int_eq(qt_produce(c, "m2", 0, 1, buf, len, &base, IO_MS),
                     QUIRE_ERR_NONE);
    for (int i = 0; i < NSCRAPES; i++) {
        ok += read_reply(fds[i]);
        close(fds[i]);
    }
    ck_assert_int_eq(ok, NSCRAPES);
    ck_assert_int_eq(qt_produce(c, "m2", 0, 1, buf, len, &base, IO_MS),
                     QUIRE_ERR_NONE);
    close(slow);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, START_MS), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* ---- slowloris and priority ---- */

/* Field 19 (nice) and the name (comm) of /proc/PID/task/TID/stat. */
static int task_nice(int pid, const char *tid, char *comm, size_t comm_size)
{
    char path[128], line[1024], *close_paren;
    int nice = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, tid);
    fp = fopen(path, "r");
    if (!fp)
        return -100;
    if (!fgets(line, sizeof(line), fp)) {
        fclose(fp);
        return -100;
    }
    fclose(fp);
    close_paren = strrchr(line, ')');
    ck_assert_ptr_nonnull(close_paren);
    *close_paren = '\0';
    snprintf(comm, comm_size, "%s", strchr(line, '(') + 1);
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime cutime cstime priority nice(19) */
    ck_assert_int_eq(sscanf(close_paren + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%*u %*u %*d %*d %*d %d",
                            &nice),
                     1);
    return nice;
}

START_TEST(test_slowloris_and_priority)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    char comm[64], dummy[64];
    int port, fd, base, http_threads = 0, closed = 0, net_threads = 0,
        flushers = 0, janitors = 0;
    struct dirent *de;
    qt_broker_t *b;
    time_t t0;
    DIR *dir;
    char path[64];

    ck_assert_ptr_nonnull(chroot);
    b = broker_with_metrics(chroot, &port);

    /* the HTTP threads (the sweeper qr-httpd and MHD's, which inherits
     * its name unless MHD names it) are 10 nicer than the main thread;
     * the network threads, flushers and janitor are named too */
    snprintf(path, sizeof(path), "/proc/%d/task", (int)b->pid);
    dir = opendir(path);
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof(path), "%d", (int)b->pid);
    base = task_nice((int)b->pid, path, dummy, sizeof(dummy));
    while ((de = readdir(dir))) {
        int nice;

        if (de->d_name[0] == '.')
            continue;
        nice = task_nice((int)b->pid, de->d_name, comm, sizeof(comm));
        /* every thread the broker starts is named for its work */
        net_threads += strncmp(comm, "qr-net-", 7) == 0;
        flushers += strncmp(comm, "qr-flusher-", 11) == 0;
        janitors += strcmp(comm, "qr-janitor") == 0;
        if (strncmp(comm, "qr-httpd", 8) && strncmp(comm, "MHD", 3))
            continue;
        ck_assert_msg(nice == (base + 10 > 19 ? 19 : base + 10),
                      "thread %s (%s) at nice %d, the broker at %d", de->d_name,
                      comm, nice, base);
        http_threads++;
    }
    closedir(dir);
    ck_assert_int_ge(http_threads, 2);
    ck_assert_int_ge(net_threads, 1);
    ck_assert_int_ge(flushers, 1);
    ck_assert_int_eq(janitors, 1);

    /* one byte a second: never idle for MHD's timeout, yet cut off once
     * its headers are QR_HTTPD_HEADER_S (5 s) late; the sweeper looks
     * every second */
    fd = connect_port(port);
    t0 = time(NULL);
    for (size_t i = 0; i < strlen(req) && time(NULL) - t0 < 15; i++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char c;

        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1 ||
            (poll(&pfd, 1, 1000) == 1 && read(fd, &c, 1) <= 0)) {
            closed = 1;
            break;
        }
    }
    ck_assert_msg(closed, "a slowloris lived %ld s", (long)(time(NULL) - t0));
    ck_assert_int_le(time(NULL) - t0, 5 + 3);
    ck_assert_int_ge(time(NULL) - t0, 4);
    close(fd);
    /* the server still answers */
    {
        http_res_t r;

        http(port, "GET", "/health", &r);
        ck_assert_int_eq(r.status, 200);
        free(r.body);
        http(port, "GET", "/nope", &r);
        ck_assert_int_eq(r.status, 404);
        free(r.body);
    }
    ck_assert_int_eq(qt_broker_stop(b, START_MS), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* ---- /health follows registration and the ZooKeeper session ---- */

/* Polls /health until its status is @p status and its body starts with
 * @p body; returns 1 when it did within @p ms. */
static int health_becomes(int port, int status, const char *body, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        http_res_t r;
        int hit;
        http(port, "GET", "/health", &r);
        hit = r.status == status && strncmp(r.body, body, strlen(body)) == 0;
        free(r.body);
        if (hit)
            return 1;
        usleep(100000);
    }
    return 0;
}

START_TEST(test_health_follows_zookeeper)
{
    qt_zks_t zks;
    qt_zkproxy_t *proxy;
    qt_broker_t *b;
    char *zk;
    int port;

    ck_assert(qt_zks_start(&zks, 30000));
    proxy = qt_zkproxy_start(zks.hosts, 10000);
    ck_assert_ptr_nonnull(proxy);
    /* the registration's reply is held: connected, not registered */
    ck_assert(qt_zkproxy_cmd(proxy, 5000, "hold-reply create 1 /brokers/ids/"));
    zk = qt_zkproxy_connect_string(proxy, "/health");
    b = qt_broker_new(1, zk, METRICS);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_spawn(b), 0);
    port = qt_broker_metrics_port(b, START_MS);
    ck_assert_int_gt(port, 0);
    ck_assert(health_becomes(port, 503, "not registered", 20000));
    ck_assert(qt_zkproxy_cmd(proxy, 5000, "release"));
    ck_assert_int_eq(qt_broker_wait(b, START_MS), 0);
    ck_assert(health_becomes(port, 200, "ok", 20000));
    /* ZooKeeper stops: the session's connection is lost */
    ck_assert(qt_zks_stop(&zks, 30000));
    ck_assert(health_becomes(port, 503, "not connected to ZooKeeper", 20000));
    {
        char *text = scrape(port);
        ck_assert(sample(text, "quire_zookeeper_connected") == 0);
        ck_assert(sample(text, "quire_zookeeper_disconnects_total") >= 1);
        free(text);
    }
    qt_broker_kill(b);
    qt_broker_destroy(b);
    qt_zkproxy_stop(proxy);
    free(zk);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("scrape");
    TCase *th = tcase_create("health");

    tcase_set_timeout(tc, 120);
    tcase_set_tags(tc, "integration zk");
    tcase_add_test(tc, test_counts_match_traffic);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_slowloris_and_priority);
    suite_add_tcase(s, tc);
    tcase_set_timeout(th, 120);
    tcase_set_tags(th, "integration zk");
    tcase_add_test(th, test_health_follows_zookeeper);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
