/*
 * qt_loadgen: broker-only throughput figures (issue 5). Starts a real
 * quire-broker (QT_BROKER_BIN: build it without sanitizers, -O2, for
 * figures), then
 *   produce: sends one prebuilt 1 MiB Produce request over and over, with
 *            several in flight, for a bounded time and byte count, and
 *            reports MB/s, records/s and the broker's CPU per record (from
 *            /proc/<pid>/stat);
 *   fetch:   reads everything back with large Fetch requests (the broker
 *            uses sendfile) and reports MB/s.
 * Run it under tests/harness/with-zk (it needs QUIRE_TEST_ZK):
 *   tests/harness/with-zk tests/integration/qt_loadgen [-s SECONDS]
 *       [-p PARTITIONS] [-k IN_FLIGHT] [-a ACKS] [-v VALUE_BYTES]
 * Everything is bounded: at most -s seconds and -m MiB produced.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "qt_broker.h"
#include "qt_client.h"
#include "qt_zk.h"

#define REQ_BYTES (1u << 20)
#define IO_MS     30000

typedef struct opts {
    int seconds, partitions, inflight, acks, value_bytes, max_mib;
} opts_t;

/* One batch of @n records of @vlen-byte values into @buf. */
static size_t build_batch(uint8_t *buf, size_t cap, int n, int vlen)
{
    qr_batch_builder_t b;
    const uint8_t *out;
    size_t len;
    char *val = malloc((size_t)vlen);

    memset(val, 'q', (size_t)vlen);
    if (qr_batch_builder_init(&b, buf, cap, 0) != QUIRE_ERR_NONE)
        return 0;
    for (int i = 0; i < n; i++)
        if (qr_batch_builder_append(&b, 1700000000000LL + i, NULL, 0, val,
                                    (size_t)vlen, NULL, 0) != QUIRE_ERR_NONE)
            break;
    free(val);
    if (qr_batch_builder_finish(&b, NULL, 0, &out, &len) != QUIRE_ERR_NONE)
        return 0;
    return len;
}

/* The request: every partition gets an equal share of 1 MiB, as one batch.
 * @records gets the number of records in the whole request. */
static uint8_t *build_request(const opts_t *o, size_t *len, long *records)
{
    size_t share = REQ_BYTES / (size_t)o->partitions, off = 0, hlen;
    int per_batch = (int)((share - 64) / ((size_t)o->value_bytes + 8));
    qr_produce_part_t *parts = calloc((size_t)o->partitions, sizeof(*parts));
    uint8_t *payload = malloc(REQ_BYTES + 4096), *hdr, *req;
    qr_produce_topic_t t = {"load", (size_t)o->partitions, parts};
    qr_req_t r = {0};

    *records = 0;
    for (int p = 0; p < o->partitions; p++) {
        size_t bl =
            build_batch(payload + off, share, per_batch, o->value_bytes);
        if (bl == 0) {
            fprintf(stderr, "qt_loadgen: cannot build a batch\n");
            exit(1);
        }
        parts[p].partition = p;
        parts[p].records_length = (uint32_t)bl;
        off += bl;
        *records += per_batch;
    }
    r.api = QR_API_PRODUCE;
    r.correlation_id = 1;
    r.u.produce.acks = (int16_t)o->acks;
    r.u.produce.timeout_ms = IO_MS;
    r.u.produce.topic_count = 1;
    r.u.produce.topics = &t;
    if (qr_wire_req_encode_alloc(&r, &hdr, &hlen) != QUIRE_ERR_NONE) {
        fprintf(stderr, "qt_loadgen: cannot encode\n");
        exit(1);
    }
    req = malloc(hlen + off);
    memcpy(req, hdr, hlen);
    memcpy(req + hlen, payload, off);
    free(hdr);
    free(payload);
    free(parts);
    *len = hlen + off;
    return req;
}

static void check_produce_resp(qt_client_t *c)
{
    qr_resp_t resp;
    quire_err_t err = qt_client_recv(c, &resp, IO_MS);

    if (err != QUIRE_ERR_NONE || resp.error_code != QUIRE_ERR_NONE) {
        fprintf(stderr, "qt_loadgen: produce failed: %s\n",
                quire_err2name(err ? err : resp.error_code));
        exit(1);
    }
    for (size_t t = 0; t < resp.u.produce.topic_count; t++)
        for (size_t p = 0; p < resp.u.produce.topics[t].partition_count; p++)
            if (resp.u.produce.topics[t].partitions[p].error_code) {
                fprintf(stderr, "qt_loadgen: partition %zu: %s\n", p,
                        quire_err2name(
                            resp.u.produce.topics[t].partitions[p].error_code));
                exit(1);
            }
    qr_wire_resp_free(&resp);
}

static void run_produce(const opts_t *o, qt_broker_t *b, qt_client_t *c)
{
    size_t len;
    long per_req, sent = 0, answered = 0;
    uint8_t *req = build_request(o, &len, &per_req);
    long long cpu0 = qt_broker_cpu_ticks(b), cpu1;
    int64_t t0 = qt_now_ms(), t1, end = t0 + o->seconds * 1000LL;
    long max_reqs = (long)o->max_mib;
    double secs, mb, tick = (double)sysconf(_SC_CLK_TCK);

    while (qt_now_ms() < end && sent < max_reqs) {
        if (qt_client_send_raw(c, req, len) != 0) {
            fprintf(stderr, "qt_loadgen: send failed\n");
            exit(1);
        }
        sent++;
        if (o->acks != 0 && sent - answered >= o->inflight) {
            check_produce_resp(c);
            answered++;
        }
    }
    while (o->acks != 0 && answered < sent) {
        check_produce_resp(c);
        answered++;
    }
    if (o->acks == 0) {
        /* No answers: a ListOffsets after them on the same connection
         * completes when the broker has handled every produce. */
        int64_t end_off;
        qt_list_offset(c, "load", 0, QR_OFFSET_LATEST, &end_off, IO_MS);
    }
    t1 = qt_now_ms();
    cpu1 = qt_broker_cpu_ticks(b);
    secs = (double)(t1 - t0) / 1e3;
    mb = (double)sent * (double)len / 1e6;
    printf("produce: %ld requests of %zu bytes (%ld records each, %d "
           "partitions, acks=%d, %d in flight) in %.2f s\n",
           sent, len, per_req, o->partitions, o->acks, o->inflight, secs);
    printf("produce: %.1f MB/s, %.0f records/s, broker CPU %.3f us/record "
           "(%.2f CPU-s)\n",
           mb / secs, (double)(sent * per_req) / secs,
           (double)(cpu1 - cpu0) / tick * 1e6 / (double)(sent * per_req),
           (double)(cpu1 - cpu0) / tick);
    free(req);
}

static void run_fetch(const opts_t *o, qt_broker_t *b, qt_client_t *c)
{
    qr_fetch_part_t *fp = calloc((size_t)o->partitions, sizeof(*fp));
    qr_fetch_topic_t t = {"load", (size_t)o->partitions, fp};
    long long cpu0 = qt_broker_cpu_ticks(b), cpu1;
    int64_t t0 = qt_now_ms(), t1;
    uint64_t bytes = 0;
    double tick = (double)sysconf(_SC_CLK_TCK), secs;

    for (int p = 0; p < o->partitions; p++) {
        fp[p].partition = p;
        fp[p].fetch_offset = 0;
        fp[p].partition_max_bytes = 8 << 20;
    }
    for (;;) {
        qr_req_t req = {0};
        qr_resp_t resp;
        uint64_t got = 0;
        req.api = QR_API_FETCH;
        req.u.fetch.replica_id = -1;
        req.u.fetch.max_bytes = 32 << 20;
        req.u.fetch.topic_count = 1;
        req.u.fetch.topics = &t;
        if (qt_client_call(c, &req, NULL, 0, &resp, IO_MS) != QUIRE_ERR_NONE) {
            fprintf(stderr, "qt_loadgen: fetch failed\n");
            exit(1);
        }
        for (size_t i = 0; i < resp.u.fetch.topics[0].partition_count; i++) {
            const qr_fetch_part_resp_t *pr =
                &resp.u.fetch.topics[0].partitions[i];
            size_t off = 0;
            int64_t last = -1;
            got += pr->records_length;
            /* Advance past the last whole batch (headers only). */
            while (off + QR_BATCH_HEADER_SIZE <= pr->records_length) {
                qr_batch_hdr_t h;
                qr_batch_hdr_read(pr->records + off, pr->records_length - off,
                                  &h);
                last = qr_batch_last_offset(&h);
                off += qr_batch_size(&h);
            }
            if (last >= 0)
                fp[i].fetch_offset = last + 1;
        }
        qr_wire_resp_free(&resp);
        if (got == 0)
            break;
        bytes += got;
    }
    t1 = qt_now_ms();
    cpu1 = qt_broker_cpu_ticks(b);
    secs = (double)(t1 - t0) / 1e3;
    printf("fetch: %.1f MB in %.2f s: %.1f MB/s, broker CPU %.2f CPU-s\n",
           (double)bytes / 1e6, secs, (double)bytes / 1e6 / secs,
           (double)(cpu1 - cpu0) / tick);
    free(fp);
}

int main(int argc, char **argv)
{
    opts_t o = {10, 4, 8, 1, 100, 2048};
    char extra[256], *chroot;
    qt_broker_t *b;
    qt_client_t *c;
    int opt;

    while ((opt = getopt(argc, argv, "s:p:k:a:v:m:")) != -1) {
        switch (opt) {
        case 's':
            o.seconds = atoi(optarg);
            break;
        case 'p':
            o.partitions = atoi(optarg);
            break;
        case 'k':
            o.inflight = atoi(optarg);
            break;
        case 'a':
            o.acks = atoi(optarg);
            break;
        case 'v':
            o.value_bytes = atoi(optarg);
            break;
        case 'm':
            o.max_mib = atoi(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: %s [-s SECONDS] [-p PARTITIONS] "
                    "[-k IN_FLIGHT] [-a ACKS] [-v VALUE_BYTES] "
                    "[-m MAX_MIB]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.partitions < 1 || o.partitions > 64 || o.inflight < 1 ||
        o.seconds < 1 || o.value_bytes < 1 || o.value_bytes > 65536) {
        fprintf(stderr, "qt_loadgen: bad arguments\n");
        return 2;
    }
    chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    snprintf(extra, sizeof(extra), "num.partitions=%d\n", o.partitions);
    b = chroot ? qt_broker_new(1, chroot, extra) : NULL;
    if (!b || qt_broker_start(b, 30000) != 0)
        return 1;
    c = qt_client_connect(b->addr, IO_MS);
    if (!c || qt_wait_topic(c, "load", o.partitions, 30000) != 0)
        return 1;
    run_produce(&o, b, c);
    run_fetch(&o, b, c);
    qt_client_close(c);
    qt_broker_stop(b, 60000);
    qt_broker_destroy(b);
    free(chroot);
    return 0;
}
