/*
 * check_wire: quire's request/response structs through protobuf-c and back,
 * and every way a peer's header can be wrong.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.pb-c.h"
#include "wire.h"

static const qr_frame_limits_t lim = {QR_FRAME_MAX_DEFAULT,
                                      QR_FRAME_RESP_HEADER_MAX};

/* ---- helpers ---- */

/* A received frame: the encoded head followed by the payload, in one heap
 * buffer of exactly the right size (ASan sees any read past it). */
typedef struct rx {
    uint8_t *bytes;
    qr_frame_t frame;
} rx_t;

static void rx_make(rx_t *rx, const uint8_t *head, size_t hlen,
                    const void *payload, size_t plen)
{
    size_t total = hlen + plen;

    rx->bytes = malloc(total);
    ck_assert_ptr_nonnull(rx->bytes);
    memcpy(rx->bytes, head, hlen);
    if (plen)
        memcpy(rx->bytes + hlen, payload, plen);
    ck_assert_int_eq(qr_frame_parse(rx->bytes, total, &lim, &rx->frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(rx->frame.size, total);
}

static void rx_free(rx_t *rx)
{
    free(rx->bytes);
}

/* Encodes @p req, frames it with @p payload and decodes it into @p out. */
static void req_round_trip(const qr_req_t *req, const void *payload,
                           size_t plen, rx_t *rx, qr_req_t *out)
{
    uint8_t *head = NULL;
    size_t hlen = 0;

    ck_assert_uint_eq(qr_wire_req_payload_len(req), plen);
    ck_assert_int_eq(qr_wire_req_encode_alloc(req, &head, &hlen),
                     QUIRE_ERR_NONE);
    rx_make(rx, head, hlen, payload, plen);
    free(head);
    ck_assert_int_eq(qr_wire_req_decode(&rx->frame, out), QUIRE_ERR_NONE);
    ck_assert_int_eq(out->api, req->api);
    ck_assert_int_eq(out->api_version, req->api_version);
    ck_assert_int_eq(out->correlation_id, req->correlation_id);
    ck_assert(out->has_correlation_id);
    ck_assert_str_eq(out->client_id, req->client_id ? req->client_id : "");
}

static void resp_round_trip(const qr_resp_t *resp, const void *payload,
                            size_t plen, rx_t *rx, qr_resp_t *out)
{
    uint8_t buf[8192];
    size_t hlen = 0;

    ck_assert_uint_eq(qr_wire_resp_payload_len(resp), plen);
    ck_assert_int_eq(qr_wire_resp_encode(resp, buf, sizeof(buf), &hlen),
                     QUIRE_ERR_NONE);
    rx_make(rx, buf, hlen, payload, plen);
    ck_assert_int_eq(qr_wire_resp_decode(&rx->frame, out), QUIRE_ERR_NONE);
    ck_assert_int_eq(out->api, resp->api);
    ck_assert_int_eq(out->correlation_id, resp->correlation_id);
    ck_assert_int_eq(out->error_code, resp->error_code);
}

/* Packs a hand-made protobuf-c Request (to send what our encoder refuses)
 * and decodes it with @p payload. */
static quire_err_t decode_raw_req(const Quire__Request *pb, const void *payload,
                                  size_t plen, qr_req_t *out)
{
    size_t n = quire__request__get_packed_size(pb);
    uint8_t *hdr = malloc(n + 1);
    uint8_t *head = malloc(QR_FRAME_PREFIX + n);
    rx_t rx;
    quire_err_t err;

    quire__request__pack(pb, hdr);
    ck_assert_int_eq(qr_frame_prefix(head, n, plen), QUIRE_ERR_NONE);
    memcpy(head + QR_FRAME_PREFIX, hdr, n);
    rx_make(&rx, head, QR_FRAME_PREFIX + n, payload, plen);
    err = qr_wire_req_decode(&rx.frame, out);
    rx_free(&rx);
    free(head);
    free(hdr);
    return err;
}

static quire_err_t decode_raw_resp(const Quire__Response *pb,
                                   const void *payload, size_t plen,
                                   qr_resp_t *out)
{
    size_t n = quire__response__get_packed_size(pb);
    uint8_t *head = malloc(QR_FRAME_PREFIX + n);
    rx_t rx;
    quire_err_t err;

    ck_assert_int_eq(qr_frame_prefix(head, n, plen), QUIRE_ERR_NONE);
    quire__response__pack(pb, head + QR_FRAME_PREFIX);
    rx_make(&rx, head, QR_FRAME_PREFIX + n, payload, plen);
    err = qr_wire_resp_decode(&rx.frame, out);
    rx_free(&rx);
    free(head);
    return err;
}

/* Decodes arbitrary header bytes as a request frame without payload. */
static quire_err_t decode_header_bytes(const uint8_t *hdr, size_t n,
                                       qr_req_t *out)
{
    qr_frame_t frame = {0};
    uint8_t *copy = malloc(n ? n : 1);
    quire_err_t err;

    if (n)
        memcpy(copy, hdr, n);
    frame.header = copy;
    frame.header_len = (uint32_t)n;
    frame.payload = copy + n;
    frame.payload_len = 0;
    err = qr_wire_req_decode(&frame, out);
    free(copy);
    return err;
}

/* ---- versions ---- */

START_TEST(test_version_table)
{
    size_t n = 0;
    const qr_api_version_t *v = qr_wire_api_versions(&n);
    static const int keys[] = {0, 1, 2, 3, 18, 22, 23};

    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t j;
        for (j = 0; j < n; j++)
            if ((int)v[j].api_key == keys[i])
                break;
        ck_assert_uint_lt(j, n);
        ck_assert_int_le(v[j].min_version, v[j].max_version);
        ck_assert_int_eq(qr_wire_api_check(keys[i], v[j].max_version),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_wire_api_check(keys[i], v[j].max_version + 1),
                         QUIRE_ERR_UNSUPPORTED_VERSION);
        ck_assert_int_eq(qr_wire_api_check(keys[i], -1),
                         QUIRE_ERR_UNSUPPORTED_VERSION);
    }
    ck_assert_int_eq(qr_wire_api_check(4, 0), QUIRE_ERR_UNSUPPORTED_VERSION);
    ck_assert_str_eq(qr_wire_api_name(QR_API_LIST_OFFSETS), "ListOffsets");
    ck_assert_str_eq(qr_wire_api_name(99), "Unknown");
}
END_TEST

/* ---- request round trips ---- */

START_TEST(test_req_api_versions)
{
    qr_req_t req = {.api = QR_API_API_VERSIONS,
                    .correlation_id = 7,
                    .client_id = "quire-test"};
    qr_req_t out;
    rx_t rx;

    req_round_trip(&req, NULL, 0, &rx, &out);
    qr_wire_req_free(&out);
    ck_assert_ptr_null(out.mem);
    rx_free(&rx);
}
END_TEST

/* issue 22: InitProducerId both ways */
START_TEST(test_init_pid)
{
    qr_req_t req = {.api = QR_API_INIT_PRODUCER_ID, .correlation_id = 9};
    qr_resp_t resp = {.api = QR_API_INIT_PRODUCER_ID, .correlation_id = 9};
    qr_req_t out;
    qr_resp_t rout;
    rx_t rx;

    req.u.init_pid.transactional_id = NULL;
    req.u.init_pid.transaction_timeout_ms = 1234;
    req_round_trip(&req, NULL, 0, &rx, &out);
    ck_assert_str_eq(out.u.init_pid.transactional_id, "");
    ck_assert_int_eq(out.u.init_pid.transaction_timeout_ms, 1234);
    qr_wire_req_free(&out);
    rx_free(&rx);
    resp.u.init_pid.producer_id = 4000000001LL;
    resp.u.init_pid.producer_epoch = 7;
    resp_round_trip(&resp, NULL, 0, &rx, &rout);
    ck_assert_int_eq(rout.u.init_pid.error_code, QUIRE_ERR_NONE);
    ck_assert_int_eq(rout.u.init_pid.producer_id, 4000000001LL);
    ck_assert_int_eq(rout.u.init_pid.producer_epoch, 7);
    qr_wire_resp_free(&rout);
    rx_free(&rx);
    resp.u.init_pid.error_code = QUIRE_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    resp.u.init_pid.producer_id = -1;
    resp.u.init_pid.producer_epoch = -1;
    resp_round_trip(&resp, NULL, 0, &rx, &rout);
    ck_assert_int_eq(rout.u.init_pid.error_code,
                     QUIRE_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    ck_assert_int_eq(rout.u.init_pid.producer_id, -1);
    qr_wire_resp_free(&rout);
    rx_free(&rx);
}
END_TEST

START_TEST(test_req_metadata)
{
    static const char *const topics[] = {"orders", "a.b-c_d"};
    qr_req_t req = {.api = QR_API_METADATA, .correlation_id = -5};
    qr_req_t out;
    rx_t rx;

    req.u.metadata.topic_count = 2;
    req.u.metadata.topics = topics;
    req.u.metadata.allow_auto_topic_creation = true;
    req_round_trip(&req, NULL, 0, &rx, &out);
    ck_assert_uint_eq(out.u.metadata.topic_count, 2);
    ck_assert_str_eq(out.u.metadata.topics[0], "orders");
    ck_assert_str_eq(out.u.metadata.topics[1], "a.b-c_d");
    ck_assert(out.u.metadata.allow_auto_topic_creation);
    qr_wire_req_free(&out);
    rx_free(&rx);

    /* No topics: every topic. */
    req.u.metadata.topic_count = 0;
    req.u.metadata.topics = NULL;
    req.u.metadata.allow_auto_topic_creation = false;
    req_round_trip(&req, NULL, 0, &rx, &out);
    ck_assert_uint_eq(out.u.metadata.topic_count, 0);
    ck_assert(!out.u.metadata.allow_auto_topic_creation);
    qr_wire_req_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_req_produce)
{
    static const char payload[] = "AAAABBBBBBCCC"; /* 4 + 6 + 3 */
    qr_produce_part_t p1[] = {{0, 4, NULL}, {3, 6, NULL}};
    qr_produce_part_t p2[] = {{1, 3, NULL}, {2, 0, NULL}};
    qr_produce_topic_t topics[] = {{"t1", 2, p1}, {"t2", 2, p2}};
    qr_req_t req = {.api = QR_API_PRODUCE,
                    .correlation_id = 1 << 30,
                    .client_id = "producer-1"};
    qr_req_t out;
    rx_t rx;
    const qr_produce_req_t *pr;

    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = 30000;
    req.u.produce.topic_count = 2;
    req.u.produce.topics = topics;
    req_round_trip(&req, payload, 13, &rx, &out);
    pr = &out.u.produce;
    ck_assert_int_eq(pr->acks, -1);
    ck_assert_int_eq(pr->timeout_ms, 30000);
    ck_assert_uint_eq(pr->topic_count, 2);
    ck_assert_str_eq(pr->topics[0].topic, "t1");
    ck_assert_str_eq(pr->topics[1].topic, "t2");
    ck_assert_uint_eq(pr->topics[0].partition_count, 2);
    ck_assert_int_eq(pr->topics[0].partitions[1].partition, 3);
    /* The records are views into the payload, in header order. */
    ck_assert_ptr_eq(pr->topics[0].partitions[0].records, rx.frame.payload);
    ck_assert(memcmp(pr->topics[0].partitions[0].records, "AAAA", 4) == 0);
    ck_assert(memcmp(pr->topics[0].partitions[1].records, "BBBBBB", 6) == 0);
    ck_assert(memcmp(pr->topics[1].partitions[0].records, "CCC", 3) == 0);
    ck_assert_uint_eq(pr->topics[1].partitions[1].records_length, 0);
    ck_assert_ptr_null(pr->topics[1].partitions[1].records);
    qr_wire_req_free(&out);
    rx_free(&rx);

    /* acks 0 and 1 too. */
    for (int acks = 0; acks <= 1; acks++) {
        req.u.produce.acks = (int16_t)acks;
        req_round_trip(&req, payload, 13, &rx, &out);
        ck_assert_int_eq(out.u.produce.acks, acks);
        qr_wire_req_free(&out);
        rx_free(&rx);
    }
}
END_TEST

START_TEST(test_req_fetch)
{
    qr_fetch_part_t parts[] = {{0, 0, 1 << 20, -1, -1},
                               {5, 123456789012LL, 1024, -1, -1}};
    qr_fetch_topic_t topics[] = {{"logs", 2, parts}};
    qr_req_t req = {.api = QR_API_FETCH, .correlation_id = 99};
    qr_req_t out;
    rx_t rx;
    const qr_fetch_req_t *fr;

    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = 500;
    req.u.fetch.min_bytes = 1;
    req.u.fetch.max_bytes = 52428800;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = topics;
    req_round_trip(&req, NULL, 0, &rx, &out);
    fr = &out.u.fetch;
    ck_assert_int_eq(fr->replica_id, -1);
    ck_assert_int_eq(fr->max_wait_ms, 500);
    ck_assert_int_eq(fr->min_bytes, 1);
    ck_assert_int_eq(fr->max_bytes, 52428800);
    ck_assert_str_eq(fr->topics[0].topic, "logs");
    ck_assert_uint_eq(fr->topics[0].partition_count, 2);
    ck_assert_int_eq(fr->topics[0].partitions[1].partition, 5);
    ck_assert_int_eq(fr->topics[0].partitions[1].fetch_offset, 123456789012LL);
    ck_assert_int_eq(fr->topics[0].partitions[1].partition_max_bytes, 1024);
    ck_assert_int_eq(fr->topics[0].partitions[0].partition_max_bytes, 1 << 20);
    /* a consumer's request carries no fencing fields: they decode as -1
     * whatever the C struct held (zero-initialised callers stay as before) */
    ck_assert_int_eq(fr->topics[0].partitions[0].current_leader_epoch, -1);
    ck_assert_int_eq(fr->topics[0].partitions[0].replica_synced_offset, -1);
    qr_wire_req_free(&out);
    rx_free(&rx);
    parts[0].current_leader_epoch = 0;
    parts[0].replica_synced_offset = 0;
    req_round_trip(&req, NULL, 0, &rx, &out);
    fr = &out.u.fetch;
    ck_assert_int_eq(fr->topics[0].partitions[0].current_leader_epoch, -1);
    ck_assert_int_eq(fr->topics[0].partitions[0].replica_synced_offset, -1);
    qr_wire_req_free(&out);
    rx_free(&rx);
    /* a follower's (replica_id >= 0, issue 16) carries both */
    req.u.fetch.replica_id = 2;
    parts[1].current_leader_epoch = 7;
    parts[1].replica_synced_offset = 123456789000LL;
    req_round_trip(&req, NULL, 0, &rx, &out);
    fr = &out.u.fetch;
    ck_assert_int_eq(fr->replica_id, 2);
    ck_assert_int_eq(fr->topics[0].partitions[0].current_leader_epoch, 0);
    ck_assert_int_eq(fr->topics[0].partitions[0].replica_synced_offset, 0);
    ck_assert_int_eq(fr->topics[0].partitions[1].current_leader_epoch, 7);
    ck_assert_int_eq(fr->topics[0].partitions[1].replica_synced_offset,
                     123456789000LL);
    qr_wire_req_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_req_list_offsets)
{
    qr_list_offsets_part_t parts[] = {
        {0, QR_OFFSET_LATEST}, {1, QR_OFFSET_EARLIEST}, {2, 1700000000000LL}};
    qr_list_offsets_topic_t topics[] = {{"x", 3, parts}};
    qr_req_t req = {.api = QR_API_LIST_OFFSETS, .correlation_id = 3};
    qr_req_t out;
    rx_t rx;
    const qr_list_offsets_req_t *lr;

    req.u.list_offsets.replica_id = -1;
    req.u.list_offsets.topic_count = 1;
    req.u.list_offsets.topics = topics;
    req_round_trip(&req, NULL, 0, &rx, &out);
    lr = &out.u.list_offsets;
    ck_assert_int_eq(lr->replica_id, -1);
    ck_assert_uint_eq(lr->topics[0].partition_count, 3);
    ck_assert_int_eq(lr->topics[0].partitions[0].timestamp, -1);
    ck_assert_int_eq(lr->topics[0].partitions[1].timestamp, -2);
    ck_assert_int_eq(lr->topics[0].partitions[2].timestamp, 1700000000000LL);
    ck_assert_int_eq(lr->topics[0].partitions[2].partition, 2);
    qr_wire_req_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_req_offset_for_leader_epoch)
{
    qr_epoch_req_part_t parts[] = {{0, 5, 4}, {1, -1, -1}, {7, 2, 2}};
    qr_epoch_req_topic_t topics[] = {{"x", 3, parts}};
    qr_req_t req = {.api = QR_API_OFFSET_FOR_LEADER_EPOCH, .correlation_id = 9};
    qr_req_t out;
    rx_t rx;
    const qr_epoch_req_t *er;

    req.u.offset_for_leader_epoch.replica_id = 2;
    req.u.offset_for_leader_epoch.topic_count = 1;
    req.u.offset_for_leader_epoch.topics = topics;
    req_round_trip(&req, NULL, 0, &rx, &out);
    ck_assert_int_eq(out.api, QR_API_OFFSET_FOR_LEADER_EPOCH);
    er = &out.u.offset_for_leader_epoch;
    ck_assert_int_eq(er->replica_id, 2);
    ck_assert_str_eq(er->topics[0].topic, "x");
    ck_assert_uint_eq(er->topics[0].partition_count, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(er->topics[0].partitions[i].partition,
                         parts[i].partition);
        ck_assert_int_eq(er->topics[0].partitions[i].current_leader_epoch,
                         parts[i].current_leader_epoch);
        ck_assert_int_eq(er->topics[0].partitions[i].leader_epoch,
                         parts[i].leader_epoch);
    }
    qr_wire_req_free(&out);
    rx_free(&rx);
    ck_assert_str_eq(qr_wire_api_name(QR_API_OFFSET_FOR_LEADER_EPOCH),
                     "OffsetForLeaderEpoch");
    /* an epoch below -1 means nothing: never sent, refused when received */
    qr_epoch_req_part_t bad[] = {{0, -1, -2}};
    qr_epoch_req_topic_t bt[] = {{"x", 1, bad}};
    uint8_t *buf = NULL;
    size_t len = 0;
    req.u.offset_for_leader_epoch.topics = bt;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &buf, &len),
                     QUIRE_ERR_BAD_ARG);
    Quire__OffsetForLeaderEpochRequest__Partition pp =
        QUIRE__OFFSET_FOR_LEADER_EPOCH_REQUEST__PARTITION__INIT;
    Quire__OffsetForLeaderEpochRequest__Partition *ppp = &pp;
    Quire__OffsetForLeaderEpochRequest__Topic tp =
        QUIRE__OFFSET_FOR_LEADER_EPOCH_REQUEST__TOPIC__INIT;
    Quire__OffsetForLeaderEpochRequest__Topic *tpp = &tp;
    Quire__OffsetForLeaderEpochRequest er_pb =
        QUIRE__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
    Quire__Request pb = QUIRE__REQUEST__INIT;
    pp.has_current_leader_epoch = 1;
    pp.current_leader_epoch = -3;
    tp.topic = "x";
    tp.n_partitions = 1;
    tp.partitions = &ppp;
    er_pb.n_topics = 1;
    er_pb.topics = &tpp;
    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__OFFSET_FOR_LEADER_EPOCH;
    pb.has_correlation_id = 1;
    pb.correlation_id = 4;
    pb.body_case = QUIRE__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH;
    pb.offset_for_leader_epoch = &er_pb;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert(out.has_correlation_id);
    qr_wire_req_free(&out);
}
END_TEST

/* ---- response round trips ---- */

START_TEST(test_resp_api_versions)
{
    qr_resp_t resp = {.api = QR_API_API_VERSIONS, .correlation_id = 7};
    qr_resp_t out;
    rx_t rx;
    size_t n = 0;
    const qr_api_version_t *table = qr_wire_api_versions(&n);

    resp.u.api_versions.api_count = n;
    resp.u.api_versions.apis = table;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    ck_assert_int_eq(out.u.api_versions.error_code, QUIRE_ERR_NONE);
    ck_assert_uint_eq(out.u.api_versions.api_count, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(out.u.api_versions.apis[i].api_key, table[i].api_key);
        ck_assert_int_eq(out.u.api_versions.apis[i].min_version,
                         table[i].min_version);
        ck_assert_int_eq(out.u.api_versions.apis[i].max_version,
                         table[i].max_version);
    }
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_resp_metadata)
{
    static const int32_t reps[] = {1, 2, 3}, isr[] = {1, 3};
    qr_metadata_broker_t brokers[] = {{1, "127.0.0.1", 9092, NULL, 0},
                                      {2, "::1", 9093, NULL, 0}};
    qr_metadata_part_t parts[] = {
        {QUIRE_ERR_NONE, 0, 1, 4, 3, reps, 2, isr},
        {QUIRE_ERR_LEADER_NOT_AVAILABLE, 1, -1, -1, 0, NULL, 0, NULL},
    };
    qr_metadata_topic_t topics[] = {
        {QUIRE_ERR_NONE, "orders", 2, parts},
        {QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, "nope", 0, NULL},
    };
    qr_resp_t resp = {.api = QR_API_METADATA, .correlation_id = 11};
    qr_resp_t out;
    rx_t rx;
    const qr_metadata_resp_t *m;

    resp.u.metadata.broker_count = 2;
    resp.u.metadata.brokers = brokers;
    resp.u.metadata.controller_id = 2;
    resp.u.metadata.topic_count = 2;
    resp.u.metadata.topics = topics;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    m = &out.u.metadata;
    ck_assert_uint_eq(m->broker_count, 2);
    ck_assert_int_eq(m->brokers[1].node_id, 2);
    ck_assert_str_eq(m->brokers[1].host, "::1");
    ck_assert_int_eq(m->brokers[1].port, 9093);
    ck_assert_int_eq(m->controller_id, 2);
    ck_assert_uint_eq(m->topic_count, 2);
    ck_assert_str_eq(m->topics[0].topic, "orders");
    ck_assert_int_eq(m->topics[1].error_code,
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    ck_assert_uint_eq(m->topics[1].partition_count, 0);
    ck_assert_uint_eq(m->topics[0].partition_count, 2);
    ck_assert_int_eq(m->topics[0].partitions[0].leader, 1);
    ck_assert_int_eq(m->topics[0].partitions[0].leader_epoch, 4);
    ck_assert_uint_eq(m->topics[0].partitions[0].replica_count, 3);
    ck_assert_int_eq(m->topics[0].partitions[0].replicas[2], 3);
    ck_assert_uint_eq(m->topics[0].partitions[0].isr_count, 2);
    ck_assert_int_eq(m->topics[0].partitions[0].isr[1], 3);
    ck_assert_int_eq(m->topics[0].partitions[1].error_code,
                     QUIRE_ERR_LEADER_NOT_AVAILABLE);
    ck_assert_int_eq(m->topics[0].partitions[1].leader, -1);
    ck_assert_uint_eq(m->topics[0].partitions[1].replica_count, 0);
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_resp_produce)
{
    qr_produce_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, 1000, -1, 0},
        {1, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, -1, -1, -1},
        {2, QUIRE_ERR_CORRUPT_MESSAGE, -1, -1, -1},
    };
    qr_produce_topic_resp_t topics[] = {{"t", 3, parts}};
    qr_resp_t resp = {.api = QR_API_PRODUCE, .correlation_id = 12};
    qr_resp_t out;
    rx_t rx;
    const qr_produce_resp_t *p;

    resp.u.produce.topic_count = 1;
    resp.u.produce.topics = topics;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    p = &out.u.produce;
    ck_assert_str_eq(p->topics[0].topic, "t");
    ck_assert_uint_eq(p->topics[0].partition_count, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(p->topics[0].partitions[i].partition,
                         parts[i].partition);
        ck_assert_int_eq(p->topics[0].partitions[i].error_code,
                         parts[i].error_code);
        ck_assert_int_eq(p->topics[0].partitions[i].base_offset,
                         parts[i].base_offset);
        ck_assert_int_eq(p->topics[0].partitions[i].log_append_time,
                         parts[i].log_append_time);
        ck_assert_int_eq(p->topics[0].partitions[i].log_start_offset,
                         parts[i].log_start_offset);
    }
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_resp_fetch)
{
    static const char payload[] = "0123456789ab"; /* 10 + 0 + 2 */
    qr_fetch_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, 500, 0, 10, NULL, {0}},
        {1, QUIRE_ERR_OFFSET_OUT_OF_RANGE, 20, 5, 0, NULL, {0}},
        {2, QUIRE_ERR_NONE, 3, 0, 2, NULL, {0}},
    };
    qr_fetch_topic_resp_t topics[] = {{"logs", 3, parts}};
    qr_resp_t resp = {.api = QR_API_FETCH, .correlation_id = 13};
    qr_resp_t out;
    rx_t rx;
    const qr_fetch_resp_t *f;

    resp.u.fetch.topic_count = 1;
    resp.u.fetch.topics = topics;
    resp_round_trip(&resp, payload, 12, &rx, &out);
    f = &out.u.fetch;
    ck_assert_uint_eq(f->topics[0].partition_count, 3);
    ck_assert_int_eq(f->topics[0].partitions[0].high_watermark, 500);
    ck_assert_int_eq(f->topics[0].partitions[1].error_code,
                     QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    ck_assert_int_eq(f->topics[0].partitions[1].log_start_offset, 5);
    ck_assert_uint_eq(f->topics[0].partitions[0].records_length, 10);
    ck_assert(memcmp(f->topics[0].partitions[0].records, "0123456789", 10) ==
              0);
    ck_assert_ptr_null(f->topics[0].partitions[1].records);
    ck_assert(memcmp(f->topics[0].partitions[2].records, "ab", 2) == 0);
    ck_assert_ptr_eq(f->topics[0].partitions[2].records, rx.frame.payload + 10);
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_resp_list_offsets)
{
    qr_list_offsets_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, -1, 42},
        {1, QUIRE_ERR_NONE, 1700000000123LL, 7},
        {9, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1, -1},
    };
    qr_list_offsets_topic_resp_t topics[] = {{"x", 3, parts}};
    qr_resp_t resp = {.api = QR_API_LIST_OFFSETS, .correlation_id = 14};
    qr_resp_t out;
    rx_t rx;
    const qr_list_offsets_resp_t *l;

    resp.u.list_offsets.topic_count = 1;
    resp.u.list_offsets.topics = topics;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    l = &out.u.list_offsets;
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(l->topics[0].partitions[i].partition,
                         parts[i].partition);
        ck_assert_int_eq(l->topics[0].partitions[i].error_code,
                         parts[i].error_code);
        ck_assert_int_eq(l->topics[0].partitions[i].timestamp,
                         parts[i].timestamp);
        ck_assert_int_eq(l->topics[0].partitions[i].offset, parts[i].offset);
    }
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

START_TEST(test_resp_offset_for_leader_epoch)
{
    qr_epoch_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, 4, 1234567890123LL},
        {1, QUIRE_ERR_NONE, -1, -1},
        {2, QUIRE_ERR_FENCED_LEADER_EPOCH, -1, -1},
        {3, QUIRE_ERR_UNKNOWN_LEADER_EPOCH, -1, -1},
        {4, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, -1, -1},
    };
    qr_epoch_topic_resp_t topics[] = {{"x", 5, parts}};
    qr_resp_t resp = {.api = QR_API_OFFSET_FOR_LEADER_EPOCH,
                      .correlation_id = 15};
    qr_resp_t out;
    rx_t rx;
    const qr_epoch_resp_t *e;

    resp.u.offset_for_leader_epoch.topic_count = 1;
    resp.u.offset_for_leader_epoch.topics = topics;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    e = &out.u.offset_for_leader_epoch;
    ck_assert_str_eq(e->topics[0].topic, "x");
    ck_assert_uint_eq(e->topics[0].partition_count, 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(e->topics[0].partitions[i].partition,
                         parts[i].partition);
        ck_assert_int_eq(e->topics[0].partitions[i].error_code,
                         parts[i].error_code);
        ck_assert_int_eq(e->topics[0].partitions[i].leader_epoch,
                         parts[i].leader_epoch);
        ck_assert_int_eq(e->topics[0].partitions[i].end_offset,
                         parts[i].end_offset);
    }
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

/* An answer to a request that could not be read: no api, no body. */
START_TEST(test_resp_whole_request_error)
{
    qr_resp_t resp = {.api = QR_API_UNKNOWN,
                      .correlation_id = 77,
                      .error_code = QUIRE_ERR_UNSUPPORTED_VERSION};
    qr_resp_t out;
    rx_t rx;

    resp_round_trip(&resp, NULL, 0, &rx, &out);
    qr_wire_resp_free(&out);
    rx_free(&rx);

    /* A known api with a whole-request error and an empty body. */
    resp.api = QR_API_PRODUCE;
    resp.error_code = QUIRE_ERR_INVALID_REQUEST;
    resp_round_trip(&resp, NULL, 0, &rx, &out);
    ck_assert_uint_eq(out.u.produce.topic_count, 0);
    qr_wire_resp_free(&out);
    rx_free(&rx);
}
END_TEST

/* Local codes never reach the wire. */
START_TEST(test_local_codes_mapped)
{
    static const struct {
        quire_err_t in, out;
    } map[] = {
        {QUIRE_ERR_IO, QUIRE_ERR_KAFKA_STORAGE_ERROR},
        {QUIRE_ERR_TIMED_OUT, QUIRE_ERR_REQUEST_TIMED_OUT},
        {QUIRE_ERR_NEED_MORE, QUIRE_ERR_UNKNOWN_SERVER_ERROR},
        {QUIRE_ERR_ZK, QUIRE_ERR_UNKNOWN_SERVER_ERROR},
        {(quire_err_t)12345, QUIRE_ERR_UNKNOWN_SERVER_ERROR},
        {QUIRE_ERR_INVALID_RECORD, QUIRE_ERR_INVALID_RECORD},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        qr_produce_part_resp_t part = {0, map[i].in, -1, -1, -1};
        qr_produce_topic_resp_t topic = {"t", 1, &part};
        qr_resp_t resp = {.api = QR_API_PRODUCE, .correlation_id = 1};
        qr_resp_t out;
        rx_t rx;
        uint8_t buf[256];
        size_t len;

        resp.u.produce.topic_count = 1;
        resp.u.produce.topics = &topic;
        ck_assert_int_eq(qr_wire_resp_encode(&resp, buf, sizeof(buf), &len),
                         QUIRE_ERR_NONE);
        rx_make(&rx, buf, len, NULL, 0);
        ck_assert_int_eq(qr_wire_resp_decode(&rx.frame, &out), QUIRE_ERR_NONE);
        ck_assert_int_eq(out.u.produce.topics[0].partitions[0].error_code,
                         map[i].out);
        qr_wire_resp_free(&out);
        rx_free(&rx);
    }
}
END_TEST

/* A peer's unknown or local code becomes UNKNOWN_SERVER_ERROR. */
START_TEST(test_peer_codes_trusted_only_if_known)
{
    Quire__Response pb = QUIRE__RESPONSE__INIT;
    qr_resp_t out;

    pb.has_correlation_id = 1;
    pb.correlation_id = 5;
    pb.has_error_code = 1;
    pb.error_code = (Quire__ErrorCode)9999;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_int_eq(out.error_code, QUIRE_ERR_UNKNOWN_SERVER_ERROR);
    qr_wire_resp_free(&out);
    pb.error_code = QUIRE__ERROR_CODE__NEED_MORE;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_int_eq(out.error_code, QUIRE_ERR_UNKNOWN_SERVER_ERROR);
    qr_wire_resp_free(&out);
}
END_TEST

START_TEST(test_encode_buf_full)
{
    static const char *const topics[] = {"a-fairly-long-topic-name"};
    qr_req_t req = {.api = QR_API_METADATA, .correlation_id = 1};
    uint8_t buf[128];
    size_t need = 0, len = 0;

    req.u.metadata.topic_count = 1;
    req.u.metadata.topics = topics;
    ck_assert_int_eq(qr_wire_req_encode(&req, buf, 10, &need),
                     QUIRE_ERR_BUF_FULL);
    ck_assert_uint_gt(need, 10);
    ck_assert_int_eq(qr_wire_req_encode(&req, buf, need - 1, &len),
                     QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_wire_req_encode(&req, buf, need, &len), QUIRE_ERR_NONE);
    ck_assert_uint_eq(len, need);
    ck_assert_int_eq(qr_wire_req_encode(&req, NULL, 0, &len),
                     QUIRE_ERR_BUF_FULL);
}
END_TEST

/* What the broker would refuse is never sent. */
START_TEST(test_encode_refuses)
{
    qr_req_t req = {.api = QR_API_PRODUCE, .correlation_id = 1};
    qr_resp_t resp = {.api = QR_API_FETCH};
    char *long_name = malloc(QR_WIRE_TOPIC_MAX + 2);
    qr_fetch_part_t fp = {0, 0, 100, -1, -1};
    qr_fetch_topic_t ft = {long_name, 1, &fp};
    uint8_t *out = NULL;
    size_t len;

    req.u.produce.acks = 2;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    req.u.produce.acks = 1;
    req.u.produce.topic_count = QR_WIRE_TOPICS_MAX + 1;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    req.api_version = 9;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    req.api = (qr_api_t)4;
    req.api_version = 0;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_BAD_ARG);

    memset(long_name, 'a', QR_WIRE_TOPIC_MAX + 1);
    long_name[QR_WIRE_TOPIC_MAX + 1] = '\0';
    req.api = QR_API_FETCH;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &ft;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    long_name[QR_WIRE_TOPIC_MAX] = '\0'; /* exactly the limit is fine */
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &out, &len),
                     QUIRE_ERR_NONE);
    free(out);

    resp.u.fetch.topic_count = QR_WIRE_TOPICS_MAX + 1;
    ck_assert_int_eq(qr_wire_resp_encode_alloc(&resp, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    resp.api = (qr_api_t)42;
    ck_assert_int_eq(qr_wire_resp_encode_alloc(&resp, &out, &len),
                     QUIRE_ERR_BAD_ARG);
    free(long_name);
}
END_TEST

/* A Fetch response whose records do not fit 32-bit frame lengths. */
START_TEST(test_encode_payload_too_large)
{
    qr_fetch_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, 0, 0, 0xF0000000u, NULL, {0}},
        {1, QUIRE_ERR_NONE, 0, 0, 0x20000000u, NULL, {0}}};
    qr_fetch_topic_resp_t topic = {"t", 2, parts};
    qr_resp_t resp = {.api = QR_API_FETCH};
    uint8_t buf[256];
    size_t len;

    resp.u.fetch.topic_count = 1;
    resp.u.fetch.topics = &topic;
    ck_assert_uint_eq(qr_wire_resp_payload_len(&resp),
                      0xF0000000ull + 0x20000000ull);
    ck_assert_int_eq(qr_wire_resp_encode(&resp, buf, sizeof(buf), &len),
                     QUIRE_ERR_FRAME_TOO_LARGE);
}
END_TEST

/* ---- bad requests ---- */

static void init_produce(Quire__Request *pb, Quire__ProduceRequest *pr,
                         Quire__ProduceRequest__TopicData *td,
                         Quire__ProduceRequest__TopicData **tds,
                         Quire__ProduceRequest__PartitionData *pd,
                         Quire__ProduceRequest__PartitionData **pds)
{
    quire__request__init(pb);
    quire__produce_request__init(pr);
    quire__produce_request__topic_data__init(td);
    for (int i = 0; i < 2; i++) {
        quire__produce_request__partition_data__init(&pd[i]);
        pd[i].has_partition = 1;
        pd[i].partition = i;
        pd[i].has_records_length = 1;
        pd[i].records_length = 5;
        pds[i] = &pd[i];
    }
    td->topic = "t";
    td->n_data = 2;
    td->data = pds;
    tds[0] = td;
    pr->n_topic_data = 1;
    pr->topic_data = tds;
    pb->has_api = 1;
    pb->api = QUIRE__API_KEY__PRODUCE;
    pb->has_correlation_id = 1;
    pb->correlation_id = 321;
    pb->body_case = QUIRE__REQUEST__BODY_PRODUCE;
    pb->produce = pr;
}

/* The partition lengths (5 + 5) must sum to exactly the payload size. */
static const size_t payload_sizes[] = {0, 1, 9, 11, 20};

START_TEST(test_produce_lengths_must_sum)
{
    Quire__Request pb;
    Quire__ProduceRequest pr;
    Quire__ProduceRequest__TopicData td, *tds[1];
    Quire__ProduceRequest__PartitionData pd[2], *pds[2];
    char payload[32];
    qr_req_t out;

    memset(payload, 'r', sizeof(payload));
    init_produce(&pb, &pr, &td, tds, pd, pds);
    ck_assert_int_eq(decode_raw_req(&pb, payload, 10, &out), QUIRE_ERR_NONE);
    qr_wire_req_free(&out);
    ck_assert_int_eq(decode_raw_req(&pb, payload, payload_sizes[_i], &out),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert(out.has_correlation_id);
    ck_assert_int_eq(out.correlation_id, 321);
    ck_assert_int_eq(out.api, QR_API_PRODUCE);
    qr_wire_req_free(&out);
}
END_TEST

START_TEST(test_produce_bad_fields)
{
    Quire__Request pb;
    Quire__ProduceRequest pr;
    Quire__ProduceRequest__TopicData td, *tds[1];
    Quire__ProduceRequest__PartitionData pd[2], *pds[2];
    char payload[10] = {0};
    qr_req_t out;

    init_produce(&pb, &pr, &td, tds, pd, pds);
    pr.has_acks = 1;
    pr.acks = 2;
    ck_assert_int_eq(decode_raw_req(&pb, payload, 10, &out),
                     QUIRE_ERR_INVALID_REQUIRED_ACKS);
    ck_assert(out.has_correlation_id);
    qr_wire_req_free(&out);
    pr.acks = -2;
    ck_assert_int_eq(decode_raw_req(&pb, payload, 10, &out),
                     QUIRE_ERR_INVALID_REQUIRED_ACKS);
    qr_wire_req_free(&out);
    pr.acks = 1;
    pr.has_timeout_ms = 1;
    pr.timeout_ms = -1;
    ck_assert_int_eq(decode_raw_req(&pb, payload, 10, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    pr.timeout_ms = 0;
    /* A body that is not the api's. */
    pb.api = QUIRE__API_KEY__FETCH;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    /* No body at all. */
    pb.api = QUIRE__API_KEY__PRODUCE;
    pb.body_case = QUIRE__REQUEST__BODY__NOT_SET;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
}
END_TEST

START_TEST(test_unknown_api)
{
    Quire__Request pb = QUIRE__REQUEST__INIT;
    qr_req_t out;

    pb.has_api = 1;
    pb.api = (Quire__ApiKey)77;
    pb.has_correlation_id = 1;
    pb.correlation_id = 4242;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_UNSUPPORTED_VERSION);
    ck_assert(out.has_correlation_id);
    ck_assert_int_eq(out.correlation_id, 4242);
    ck_assert_int_eq(out.api, QR_API_UNKNOWN);
    qr_wire_req_free(&out);

    /* A known api at a version this build does not serve. */
    pb.api = QUIRE__API_KEY__METADATA;
    pb.has_api_version = 1;
    pb.api_version = 3;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_UNSUPPORTED_VERSION);
    ck_assert_int_eq(out.api, QR_API_METADATA);
    ck_assert_int_eq(out.api_version, 3);
    ck_assert_int_eq(out.correlation_id, 4242);
    qr_wire_req_free(&out);
    pb.api_version = -1;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_UNSUPPORTED_VERSION);
    qr_wire_req_free(&out);
}
END_TEST

START_TEST(test_envelope_fields_missing)
{
    Quire__Request pb = QUIRE__REQUEST__INIT;
    Quire__ApiVersionsRequest av = QUIRE__API_VERSIONS_REQUEST__INIT;
    qr_req_t out;

    /* No correlation_id: cannot be answered. */
    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__API_VERSIONS;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert(!out.has_correlation_id);
    qr_wire_req_free(&out);
    /* No api. */
    pb.has_api = 0;
    pb.has_correlation_id = 1;
    pb.correlation_id = 8;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert(out.has_correlation_id);
    qr_wire_req_free(&out);
    /* ApiVersions without a body is fine; with a payload it is not. */
    pb.has_api = 1;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_str_eq(out.client_id, "");
    qr_wire_req_free(&out);
    pb.body_case = QUIRE__REQUEST__BODY_API_VERSIONS;
    pb.api_versions = &av;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    qr_wire_req_free(&out);
    ck_assert_int_eq(decode_raw_req(&pb, "x", 1, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
}
END_TEST

START_TEST(test_strings_bounded)
{
    Quire__Request pb = QUIRE__REQUEST__INIT;
    Quire__MetadataRequest md = QUIRE__METADATA_REQUEST__INIT;
    char *big = malloc(QR_WIRE_STRING_MAX + 2);
    char *topics[1];
    qr_req_t out;

    memset(big, 'c', QR_WIRE_STRING_MAX + 1);
    big[QR_WIRE_STRING_MAX + 1] = '\0';
    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__METADATA;
    pb.has_correlation_id = 1;
    pb.body_case = QUIRE__REQUEST__BODY_METADATA;
    pb.metadata = &md;
    pb.client_id = big;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    big[QR_WIRE_STRING_MAX] = '\0';
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_uint_eq(strlen(out.client_id), QR_WIRE_STRING_MAX);
    qr_wire_req_free(&out);

    pb.client_id = NULL;
    big[QR_WIRE_TOPIC_MAX + 1] = '\0';
    topics[0] = big;
    md.n_topics = 1;
    md.topics = topics;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    free(big);
}
END_TEST

START_TEST(test_fetch_and_offsets_ranges)
{
    Quire__Request pb = QUIRE__REQUEST__INIT;
    Quire__FetchRequest fr = QUIRE__FETCH_REQUEST__INIT;
    Quire__FetchRequest__Topic ft = QUIRE__FETCH_REQUEST__TOPIC__INIT;
    Quire__FetchRequest__Partition fp = QUIRE__FETCH_REQUEST__PARTITION__INIT;
    Quire__FetchRequest__Topic *fts[] = {&ft};
    Quire__FetchRequest__Partition *fps[] = {&fp};
    Quire__ListOffsetsRequest lr = QUIRE__LIST_OFFSETS_REQUEST__INIT;
    Quire__ListOffsetsRequest__Topic lt =
        QUIRE__LIST_OFFSETS_REQUEST__TOPIC__INIT;
    Quire__ListOffsetsRequest__Partition lp =
        QUIRE__LIST_OFFSETS_REQUEST__PARTITION__INIT;
    Quire__ListOffsetsRequest__Topic *lts[] = {&lt};
    Quire__ListOffsetsRequest__Partition *lps[] = {&lp};
    qr_req_t out;

    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__FETCH;
    pb.has_correlation_id = 1;
    pb.body_case = QUIRE__REQUEST__BODY_FETCH;
    pb.fetch = &fr;
    ft.topic = "t";
    ft.n_partitions = 1;
    ft.partitions = fps;
    fr.n_topics = 1;
    fr.topics = fts;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_int_eq(out.u.fetch.replica_id, -1); /* proto default */
    qr_wire_req_free(&out);
    fp.has_partition_max_bytes = 1;
    fp.partition_max_bytes = -1;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    fp.partition_max_bytes = 0;
    fr.has_max_wait_ms = 1;
    fr.max_wait_ms = -5;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
    /* A Fetch request has no payload. */
    fr.max_wait_ms = 0;
    ck_assert_int_eq(decode_raw_req(&pb, "zz", 2, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);

    pb.api = QUIRE__API_KEY__LIST_OFFSETS;
    pb.body_case = QUIRE__REQUEST__BODY_LIST_OFFSETS;
    pb.list_offsets = &lr;
    lt.topic = "t";
    lt.n_partitions = 1;
    lt.partitions = lps;
    lr.n_topics = 1;
    lr.topics = lts;
    lp.has_timestamp = 1;
    lp.timestamp = -2;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    qr_wire_req_free(&out);
    lp.timestamp = -3;
    ck_assert_int_eq(decode_raw_req(&pb, NULL, 0, &out),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_wire_req_free(&out);
}
END_TEST

/* A header protobuf-c refuses still yields its correlation_id. */
START_TEST(test_garbage_body_keeps_correlation_id)
{
    /* api=0 (field 1), correlation_id=42 (field 3), then field 12
     * (produce) holding two bytes that are not a message. */
    static const uint8_t hdr[] = {0x08, 0x00, 0x18, 0x2A,
                                  0x62, 0x02, 0xFF, 0xFF};
    qr_req_t out;

    ck_assert_int_eq(decode_header_bytes(hdr, sizeof(hdr), &out),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert(out.has_correlation_id);
    ck_assert_int_eq(out.correlation_id, 42);
    qr_wire_req_free(&out);
}
END_TEST

static const struct {
    const char *what;
    uint8_t bytes[12];
    size_t len;
} garbage[] = {
    {"lone tag", {0x08}, 1},
    {"varint never ends", {0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 6},
    {"length past end", {0x22, 0x7F, 'a'}, 3},
    {"group wire type", {0x0B, 0x0C}, 2},
    {"field number 0", {0x00, 0x01}, 2},
    {"all ones",
     {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
     12},
    {"string as varint", {0x22, 0x05, 'h', 'e', 'l', 'l', 'o', 0x18}, 8},
    {"empty", {0}, 0},
};

START_TEST(test_garbage_header)
{
    qr_req_t out;
    quire_err_t err;

    err = decode_header_bytes(garbage[_i].bytes, garbage[_i].len, &out);
    ck_assert_msg(err == QUIRE_ERR_INVALID_REQUEST, "%s: %s", garbage[_i].what,
                  quire_err2name(err));
    qr_wire_req_free(&out);
}
END_TEST

/* An encoded Produce header, for the truncation and corruption loops. */
static size_t produce_header(uint8_t *buf, size_t cap)
{
    qr_produce_part_t parts[] = {{0, 4, NULL}, {1, 4, NULL}};
    qr_produce_topic_t topic = {"orders", 2, parts};
    qr_req_t req = {
        .api = QR_API_PRODUCE, .correlation_id = 5, .client_id = "c"};
    size_t len = 0;

    req.u.produce.acks = 1;
    req.u.produce.timeout_ms = 1000;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &topic;
    ck_assert_int_eq(qr_wire_req_encode(&req, buf, cap, &len), QUIRE_ERR_NONE);
    ck_assert_uint_le(len, cap);
    /* The loop tests below cover indexes 0..63. */
    ck_assert_uint_lt(len - QR_FRAME_PREFIX, 64);
    /* Only the header, without the frame prefix. */
    memmove(buf, buf + QR_FRAME_PREFIX, len - QR_FRAME_PREFIX);
    return len - QR_FRAME_PREFIX;
}

/* Decodes @p hdr with the 8-byte payload its lengths ask for; whatever the
 * outcome, a success must describe that payload exactly. */
static void decode_with_payload(const uint8_t *hdr, size_t n)
{
    uint8_t *copy = malloc(n + 8);
    qr_frame_t frame = {0};
    qr_req_t out;
    quire_err_t err;

    memcpy(copy, hdr, n);
    memcpy(copy + n, "RRRRSSSS", 8);
    frame.header = copy;
    frame.header_len = (uint32_t)n;
    frame.payload = copy + n;
    frame.payload_len = 8;
    err = qr_wire_req_decode(&frame, &out);
    if (err == QUIRE_ERR_NONE) {
        ck_assert_int_eq(out.api, QR_API_PRODUCE);
        ck_assert_uint_eq(qr_wire_req_payload_len(&out), 8);
    } else {
        ck_assert(err == QUIRE_ERR_INVALID_REQUEST ||
                  err == QUIRE_ERR_UNSUPPORTED_VERSION ||
                  err == QUIRE_ERR_INVALID_REQUIRED_ACKS);
    }
    qr_wire_req_free(&out);
    free(copy);
}

/* Every truncation point of a Produce header: an error (the lengths no
 * longer sum to the payload), never a crash or an over-read. */
START_TEST(test_truncated_header)
{
    uint8_t buf[256];
    size_t n = produce_header(buf, sizeof(buf));

    if ((size_t)_i >= n)
        return;
    decode_with_payload(buf, (size_t)_i);
}
END_TEST

/* Every byte of the header replaced by a few values: no crash, and any
 * success still describes the payload exactly. */
START_TEST(test_corrupted_header)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
    uint8_t buf[256];
    size_t n = produce_header(buf, sizeof(buf));

    if ((size_t)_i >= n)
        return;
    for (size_t v = 0; v < sizeof(values); v++) {
        uint8_t copy[256];
        memcpy(copy, buf, n);
        copy[_i] = values[v];
        decode_with_payload(copy, n);
    }
}
END_TEST

/* Pseudo-random headers (fixed seed, bounded count). */
START_TEST(test_random_headers)
{
    uint32_t x = 0x12345678u + (uint32_t)_i;
    uint8_t hdr[64];

    for (int round = 0; round < 200; round++) {
        size_t n;
        qr_req_t out;
        qr_resp_t rout;
        qr_frame_t frame = {0};

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = x % sizeof(hdr);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            hdr[i] = (uint8_t)x;
        }
        (void)decode_header_bytes(hdr, n, &out);
        qr_wire_req_free(&out);
        frame.header = hdr;
        frame.header_len = (uint32_t)n;
        frame.payload = hdr + n;
        (void)qr_wire_resp_decode(&frame, &rout);
        qr_wire_resp_free(&rout);
    }
}
END_TEST

/* ---- bad responses ---- */

START_TEST(test_bad_responses)
{
    Quire__Response pb = QUIRE__RESPONSE__INIT;
    Quire__FetchResponse fr = QUIRE__FETCH_RESPONSE__INIT;
    Quire__FetchResponse__TopicResponse ft =
        QUIRE__FETCH_RESPONSE__TOPIC_RESPONSE__INIT;
    Quire__FetchResponse__PartitionResponse fp =
        QUIRE__FETCH_RESPONSE__PARTITION_RESPONSE__INIT;
    Quire__FetchResponse__TopicResponse *fts[] = {&ft};
    Quire__FetchResponse__PartitionResponse *fps[] = {&fp};
    qr_resp_t out;

    /* No correlation_id. */
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    pb.has_correlation_id = 1;
    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__FETCH;
    pb.body_case = QUIRE__RESPONSE__BODY_FETCH;
    pb.fetch = &fr;
    fr.n_responses = 1;
    fr.responses = fts;
    ft.topic = "t";
    ft.n_partition_responses = 1;
    ft.partition_responses = fps;
    fp.has_records_length = 1;
    fp.records_length = 6;
    ck_assert_int_eq(decode_raw_resp(&pb, "abcdef", 6, &out), QUIRE_ERR_NONE);
    qr_wire_resp_free(&out);
    /* Records lengths must match the payload. */
    ck_assert_int_eq(decode_raw_resp(&pb, "abcde", 5, &out),
                     QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    ck_assert_int_eq(decode_raw_resp(&pb, "abcdefg", 7, &out),
                     QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    /* Unknown api, or a body that is not the api's. */
    pb.api = (Quire__ApiKey)55;
    ck_assert_int_eq(decode_raw_resp(&pb, "abcdef", 6, &out),
                     QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    pb.api = QUIRE__API_KEY__PRODUCE;
    ck_assert_int_eq(decode_raw_resp(&pb, "abcdef", 6, &out),
                     QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    /* A body without an api. */
    pb.has_api = 0;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
}
END_TEST

START_TEST(test_metadata_replicas_bounded)
{
    Quire__Response pb = QUIRE__RESPONSE__INIT;
    Quire__MetadataResponse md = QUIRE__METADATA_RESPONSE__INIT;
    Quire__MetadataResponse__TopicMetadata tm =
        QUIRE__METADATA_RESPONSE__TOPIC_METADATA__INIT;
    Quire__MetadataResponse__PartitionMetadata pm =
        QUIRE__METADATA_RESPONSE__PARTITION_METADATA__INIT;
    Quire__MetadataResponse__TopicMetadata *tms[] = {&tm};
    Quire__MetadataResponse__PartitionMetadata *pms[] = {&pm};
    Quire__MetadataResponse__Broker br = QUIRE__METADATA_RESPONSE__BROKER__INIT;
    Quire__MetadataResponse__Broker *brs[] = {&br};
    int32_t *reps = calloc(QR_WIRE_REPLICAS_MAX + 1, sizeof(int32_t));
    qr_resp_t out;

    pb.has_correlation_id = 1;
    pb.has_api = 1;
    pb.api = QUIRE__API_KEY__METADATA;
    pb.body_case = QUIRE__RESPONSE__BODY_METADATA;
    pb.metadata = &md;
    md.n_topics = 1;
    md.topics = tms;
    tm.n_partitions = 1;
    tm.partitions = pms;
    pm.n_replicas = QR_WIRE_REPLICAS_MAX;
    pm.replicas = reps;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_NONE);
    ck_assert_uint_eq(out.u.metadata.topics[0].partitions[0].replica_count,
                      QR_WIRE_REPLICAS_MAX);
    ck_assert_str_eq(out.u.metadata.topics[0].topic, "");
    qr_wire_resp_free(&out);
    pm.n_replicas = QR_WIRE_REPLICAS_MAX + 1;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    pm.n_replicas = 0;
    /* A port outside 0..65535. */
    md.n_brokers = 1;
    md.brokers = brs;
    br.has_port = 1;
    br.port = 70000;
    ck_assert_int_eq(decode_raw_resp(&pb, NULL, 0, &out), QUIRE_ERR_BAD_FRAME);
    qr_wire_resp_free(&out);
    free(reps);
}
END_TEST

/* Many partitions in one request: all decoded, the arena grows. */
START_TEST(test_many_partitions)
{
    enum { NT = 50, NP = 200 };
    qr_produce_topic_t *topics = calloc(NT, sizeof(*topics));
    qr_produce_part_t *parts = calloc(NT * NP, sizeof(*parts));
    char(*names)[16] = calloc(NT, 16);
    qr_req_t req = {.api = QR_API_PRODUCE, .correlation_id = 1};
    qr_req_t out;
    rx_t rx;
    uint8_t *payload = malloc(NT * NP);

    for (int i = 0; i < NT; i++) {
        snprintf(names[i], 16, "topic-%d", i);
        topics[i].topic = names[i];
        topics[i].partition_count = NP;
        topics[i].partitions = parts + i * NP;
        for (int j = 0; j < NP; j++) {
            parts[i * NP + j].partition = j;
            parts[i * NP + j].records_length = 1;
            payload[i * NP + j] = (uint8_t)(i + j);
        }
    }
    req.u.produce.acks = 1;
    req.u.produce.topic_count = NT;
    req.u.produce.topics = topics;
    req_round_trip(&req, payload, NT * NP, &rx, &out);
    ck_assert_uint_eq(out.u.produce.topic_count, NT);
    for (int i = 0; i < NT; i++) {
        ck_assert_str_eq(out.u.produce.topics[i].topic, names[i]);
        for (int j = 0; j < NP; j++)
            ck_assert_uint_eq(out.u.produce.topics[i].partitions[j].records[0],
                              (uint8_t)(i + j));
    }
    qr_wire_req_free(&out);
    rx_free(&rx);
    free(payload);
    free(names);
    free(parts);
    free(topics);
}
END_TEST

START_TEST(test_free_null_and_caller_built)
{
    qr_req_t req = {.api = QR_API_METADATA};
    qr_resp_t resp = {.api = QR_API_FETCH};

    qr_wire_req_free(NULL);
    qr_wire_resp_free(NULL);
    qr_wire_req_free(&req);
    qr_wire_resp_free(&resp);
    ck_assert_ptr_null(req.mem);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("round_trip");
    TCase *bad = tcase_create("bad_input");

    tcase_add_test(tc, test_version_table);
    tcase_add_test(tc, test_req_api_versions);
    tcase_add_test(tc, test_init_pid);
    tcase_add_test(tc, test_req_metadata);
    tcase_add_test(tc, test_req_produce);
    tcase_add_test(tc, test_req_fetch);
    tcase_add_test(tc, test_req_list_offsets);
    tcase_add_test(tc, test_req_offset_for_leader_epoch);
    tcase_add_test(tc, test_resp_api_versions);
    tcase_add_test(tc, test_resp_metadata);
    tcase_add_test(tc, test_resp_produce);
    tcase_add_test(tc, test_resp_fetch);
    tcase_add_test(tc, test_resp_list_offsets);
    tcase_add_test(tc, test_resp_offset_for_leader_epoch);
    tcase_add_test(tc, test_resp_whole_request_error);
    tcase_add_test(tc, test_local_codes_mapped);
    tcase_add_test(tc, test_encode_buf_full);
    tcase_add_test(tc, test_many_partitions);
    tcase_add_test(tc, test_free_null_and_caller_built);
    suite_add_tcase(s, tc);

    tcase_add_test(bad, test_peer_codes_trusted_only_if_known);
    tcase_add_test(bad, test_encode_refuses);
    tcase_add_test(bad, test_encode_payload_too_large);
    tcase_add_loop_test(bad, test_produce_lengths_must_sum, 0,
                        sizeof(payload_sizes) / sizeof(payload_sizes[0]));
    tcase_add_test(bad, test_produce_bad_fields);
    tcase_add_test(bad, test_unknown_api);
    tcase_add_test(bad, test_envelope_fields_missing);
    tcase_add_test(bad, test_strings_bounded);
    tcase_add_test(bad, test_fetch_and_offsets_ranges);
    tcase_add_test(bad, test_garbage_body_keeps_correlation_id);
    tcase_add_loop_test(bad, test_garbage_header, 0,
                        sizeof(garbage) / sizeof(garbage[0]));
    /* Upper bounds above any header produce_header() makes; indexes past
     * the real length return at once. */
    tcase_add_loop_test(bad, test_truncated_header, 0, 64);
    tcase_add_loop_test(bad, test_corrupted_header, 0, 64);
    tcase_add_loop_test(bad, test_random_headers, 0, 8);
    tcase_add_test(bad, test_bad_responses);
    tcase_add_test(bad, test_metadata_replicas_bounded);
    tcase_set_timeout(bad, 30);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
