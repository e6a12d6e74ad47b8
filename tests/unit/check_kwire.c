/*
 * check_kwire: Kafka's codec (proto/kwire) against bytes made by an
 * independent implementation, python3-kafka's protocol classes
 * (tests/data/kwire/gen_vectors.py wrote tests/data/kwire/vectors.txt).
 * Requests are decoded and their fields compared; responses are encoded
 * from the same values and compared byte for byte. Then hostile input:
 * every truncation of every request vector, and bad lengths.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kwire.h"

#define VECTORS QR_TEST_DATA "/kwire/vectors.txt"

/* The bytes of vector @p name (owned), from vectors.txt. */
static uint8_t *vec(const char *name, size_t *len)
{
    FILE *f = fopen(VECTORS, "r");
    char line[8192], *sp;
    uint8_t *out = NULL;

    ck_assert_msg(f != NULL, "cannot open %s", VECTORS);
    while (fgets(line, sizeof(line), f)) {
        sp = strchr(line, ' ');
        if (!sp || (size_t)(sp - line) != strlen(name) ||
            strncmp(line, name, strlen(name)) != 0)
            continue;
        sp++;
        sp[strcspn(sp, "\r\n")] = '\0';
        *len = strlen(sp) / 2;
        out = malloc(*len ? *len : 1);
        for (size_t i = 0; i < *len; i++) {
            unsigned v;
            ck_assert_int_eq(sscanf(sp + 2 * i, "%2x", &v), 1);
            out[i] = (uint8_t)v;
        }
        break;
    }
    fclose(f);
    ck_assert_msg(out != NULL, "no vector %s", name);
    return out;
}

/* The batch bytes gen_vectors.py puts in records fields. */
static const uint8_t *batch(size_t *len)
{
    static uint8_t b[66];

    for (int i = 0; i < 61; i++)
        b[i] = (uint8_t)i;
    memcpy(b + 61, "batch", 5);
    *len = sizeof(b);
    return b;
}

typedef quire_err_t (*decode_fn)(qr_kr_t *r, int16_t version, qr_req_t *req);

/* Decodes request vector @p name; @p req's arrays live in *@p mem. */
static void decode(const char *name, decode_fn fn, int16_t version,
                   int16_t api_key, int32_t corr, qr_req_t *req,
                   qr_karena_t **mem)
{
    size_t len;
    uint8_t *bytes = vec(name, &len);
    qr_kreq_hdr_t hdr;
    qr_kr_t r;

    /* the decoded views point into the bytes: keep them with the arena */
    *mem = qr_karena_new();
    uint8_t *keep = qr_karena_alloc(*mem, len);
    memcpy(keep, bytes, len);
    free(bytes);
    qr_kr_init(&r, keep, len, *mem);
    ck_assert_int_eq(qr_kwire_hdr_fixed(&r, &hdr), 0);
    ck_assert_int_eq(hdr.api_key, api_key);
    ck_assert_int_eq(hdr.api_version, version);
    ck_assert_int_eq(hdr.correlation_id, corr);
    ck_assert_int_eq(qr_kwire_hdr_rest(&r, &hdr, 0), 0);
    ck_assert_str_eq(hdr.client_id, "vec");
    memset(req, 0, sizeof(*req));
    ck_assert_int_eq(fn(&r, version, req), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_kr_left(&r), 0); /* read to the last byte */
}

START_TEST(test_metadata_req)
{
    qr_karena_t *mem;
    qr_req_t req;

    decode("metadata_v1_all", qr_kwire_metadata_decode, 1, 3, 1, &req, &mem);
    ck_assert_uint_eq(req.u.metadata.topic_count, 0);
    ck_assert(!req.u.metadata.no_topics);
    ck_assert(req.u.metadata.allow_auto_topic_creation);
    qr_karena_free(mem);
    decode("metadata_v1_none", qr_kwire_metadata_decode, 1, 3, 2, &req, &mem);
    ck_assert_uint_eq(req.u.metadata.topic_count, 0);
    ck_assert(req.u.metadata.no_topics);
    qr_karena_free(mem);
    decode("metadata_v4_two", qr_kwire_metadata_decode, 4, 3, 3, &req, &mem);
    ck_assert_uint_eq(req.u.metadata.topic_count, 2);
    ck_assert_str_eq(req.u.metadata.topics[0], "a");
    ck_assert_str_eq(req.u.metadata.topics[1], "bc");
    ck_assert(!req.u.metadata.allow_auto_topic_creation);
    qr_karena_free(mem);
}
END_TEST

START_TEST(test_produce_req)
{
    size_t blen;
    const uint8_t *b = batch(&blen);
    const qr_produce_req_t *p;
    qr_karena_t *mem;
    qr_req_t req;

    decode("produce_v3", qr_kwire_produce_decode, 3, 0, 4, &req, &mem);
    p = &req.u.produce;
    ck_assert_int_eq(p->acks, -1);
    ck_assert_int_eq(p->timeout_ms, 1500);
    ck_assert_uint_eq(p->topic_count, 1);
    ck_assert_str_eq(p->topics[0].topic, "t");
    ck_assert_uint_eq(p->topics[0].partition_count, 2);
    ck_assert_int_eq(p->topics[0].partitions[0].partition, 0);
    ck_assert_uint_eq(p->topics[0].partitions[0].records_length, blen);
    ck_assert_mem_eq(p->topics[0].partitions[0].records, b, blen);
    ck_assert_int_eq(p->topics[0].partitions[1].partition, 2);
    ck_assert_uint_eq(p->topics[0].partitions[1].records_length, 0);
    qr_karena_free(mem);
    decode("produce_v7", qr_kwire_produce_decode, 7, 0, 5, &req, &mem);
    p = &req.u.produce;
    ck_assert_int_eq(p->acks, 1);
    ck_assert_int_eq(p->timeout_ms, 30000);
    ck_assert_uint_eq(p->topic_count, 2);
    ck_assert_str_eq(p->topics[1].topic, "u");
    ck_assert_uint_eq(p->topics[1].partitions[0].records_length, 2);
    ck_assert_mem_eq(p->topics[1].partitions[0].records, "xy", 2);
    qr_karena_free(mem);
}
END_TEST

START_TEST(test_fetch_req)
{
    const qr_fetch_req_t *f;
    qr_karena_t *mem;
    qr_req_t req;

    decode("fetch_v4", qr_kwire_fetch_decode, 4, 1, 6, &req, &mem);
    f = &req.u.fetch;
    ck_assert_int_eq(f->replica_id, -1);
    ck_assert_int_eq(f->max_wait_ms, 500);
    ck_assert_int_eq(f->min_bytes, 1);
    ck_assert_int_eq(f->max_bytes, 52428800);
    ck_assert_uint_eq(f->topic_count, 1);
    ck_assert_uint_eq(f->topics[0].partition_count, 2);
    ck_assert_int_eq(f->topics[0].partitions[0].fetch_offset, 42);
    ck_assert_int_eq(f->topics[0].partitions[0].partition_max_bytes, 1048576);
    ck_assert_int_eq(f->topics[0].partitions[0].current_leader_epoch, -1);
    ck_assert_int_eq(f->topics[0].partitions[1].partition, 1);
    ck_assert_int_eq(f->topics[0].partitions[1].fetch_offset, 7);
    ck_assert_int_eq(f->topics[0].partitions[1].partition_max_bytes, 100);
    qr_karena_free(mem);
    decode("fetch_v10", qr_kwire_fetch_decode, 10, 1, 7, &req, &mem);
    f = &req.u.fetch;
    ck_assert_int_eq(f->max_wait_ms, 100);
    ck_assert_int_eq(f->min_bytes, 1024);
    ck_assert_int_eq(f->topics[0].partitions[0].partition, 3);
    ck_assert_int_eq(f->topics[0].partitions[0].current_leader_epoch, 5);
    ck_assert_int_eq(f->topics[0].partitions[0].fetch_offset, 12);
    ck_assert_int_eq(f->topics[0].partitions[0].partition_max_bytes, 65536);
    qr_karena_free(mem);
}
END_TEST

START_TEST(test_listoffsets_req)
{
    const qr_list_offsets_req_t *l;
    qr_karena_t *mem;
    qr_req_t req;

    decode("listoffsets_v1", qr_kwire_listoffsets_decode, 1, 2, 8, &req, &mem);
    l = &req.u.list_offsets;
    ck_assert_uint_eq(l->topics[0].partition_count, 3);
    ck_assert_int_eq(l->topics[0].partitions[0].timestamp, QR_OFFSET_EARLIEST);
    ck_assert_int_eq(l->topics[0].partitions[1].timestamp, QR_OFFSET_LATEST);
    ck_assert_int_eq(l->topics[0].partitions[2].timestamp, 1600000000000LL);
    qr_karena_free(mem);
    decode("listoffsets_v2", qr_kwire_listoffsets_decode, 2, 2, 9, &req, &mem);
    l = &req.u.list_offsets;
    ck_assert_uint_eq(l->topics[0].partition_count, 1);
    ck_assert_int_eq(l->topics[0].partitions[0].timestamp, QR_OFFSET_LATEST);
    qr_karena_free(mem);
}
END_TEST

/* Encodes @p resp's body at @p version and compares with vector @p name. */
static void expect_body(const char *name,
                        void (*fn)(qr_kout_t *, int16_t, const qr_resp_t *),
                        int16_t version, const qr_resp_t *resp)
{
    qr_kout_t o = {0};
    size_t len;
    uint8_t *want = vec(name, &len);

    fn(&o, version, resp);
    ck_assert_msg(o.w.len == len, "%s: %zu bytes, python3-kafka %zu", name,
                  o.w.len, len);
    ck_assert_mem_eq(o.w.p, want, len);
    qr_kw_free(&o.w);
    free(want);
}

START_TEST(test_metadata_resp)
{
    qr_metadata_broker_t brokers[] = {{1, "q1", 9092, "h1", 19092},
                                      {2, "q2", 9093, "h2", 19093},
                                      {3, "q3", 9094, NULL, 0}};
    int32_t r12[] = {1, 2}, r1[] = {1}, r2[] = {2};
    qr_metadata_part_t parts[] = {
        {QUIRE_ERR_NONE, 0, 1, 0, 2, r12, 1, r1},
        {QUIRE_ERR_REPLICA_NOT_AVAILABLE, 1, -1, 0, 1, r2, 0, NULL}};
    qr_metadata_topic_t topics[] = {
        {QUIRE_ERR_NONE, "t", 2, parts},
        {QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, "gone", 0, NULL}};
    qr_resp_t resp = {.api = QR_API_METADATA};

    /* broker 3 has no Kafka listener: left out of Kafka's answer */
    resp.u.metadata.broker_count = 3;
    resp.u.metadata.brokers = brokers;
    resp.u.metadata.controller_id = 1;
    resp.u.metadata.topic_count = 2;
    resp.u.metadata.topics = topics;
    expect_body("metadata_v1_resp", qr_kwire_metadata_encode, 1, &resp);
    resp.u.metadata.broker_count = 1;
    parts[0].replica_count = 1;
    resp.u.metadata.topic_count = 1;
    topics[0].partition_count = 1;
    expect_body("metadata_v5_resp", qr_kwire_metadata_encode, 5, &resp);
}
END_TEST

START_TEST(test_produce_resp)
{
    qr_produce_part_resp_t p3[] = {
        {0, QUIRE_ERR_NONE, 100, -1, -1},
        {2, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, -1, -1, -1}};
    qr_produce_part_resp_t p7[] = {{1, QUIRE_ERR_NONE, 7, -1, 0}};
    qr_produce_topic_resp_t t3 = {"t", 2, p3}, t7 = {"t", 1, p7};
    qr_resp_t resp = {.api = QR_API_PRODUCE};

    resp.u.produce.topic_count = 1;
    resp.u.produce.topics = &t3;
    expect_body("produce_v3_resp", qr_kwire_produce_encode, 3, &resp);
    resp.u.produce.topics = &t7;
    expect_body("produce_v7_resp", qr_kwire_produce_encode, 7, &resp);
}
END_TEST

START_TEST(test_fetch_resp)
{
    size_t blen;
    const uint8_t *b = batch(&blen);
    qr_fetch_part_resp_t p4[] = {
        {0, QUIRE_ERR_NONE, 50, 0, (uint32_t)blen, b, {0}},
        {1, QUIRE_ERR_OFFSET_OUT_OF_RANGE, -1, -1, 0, NULL, {0}}};
    qr_fetch_part_resp_t p11[] = {
        {3, QUIRE_ERR_NONE, 9, 2, (uint32_t)blen, b, {0}}};
    qr_fetch_topic_resp_t t4 = {"t", 2, p4}, t11 = {"t", 1, p11};
    qr_resp_t resp = {.api = QR_API_FETCH};

    resp.u.fetch.topic_count = 1;
    resp.u.fetch.topics = &t4;
    expect_body("fetch_v4_resp", qr_kwire_fetch_encode, 4, &resp);
    resp.u.fetch.topics = &t11;
    expect_body("fetch_v11_resp", qr_kwire_fetch_encode, 11, &resp);
}
END_TEST

/* The broker's path: each partition's records as a file range, cut out of
 * the memory between the partition's header and the next one. */
typedef struct cuts {
    size_t n;
    size_t at[4]; /* bytes written before each cut */
    size_t len[4];
    size_t before; /* bytes taken by earlier pieces */
} cuts_t;

static void on_cut(qr_kout_t *o, const qr_file_range_t *file)
{
    cuts_t *c = o->arg;

    c->at[c->n] = c->before + o->w.len;
    c->len[c->n++] = file->len;
    c->before += o->w.len + file->len;
    o->w.len = 0;
}

START_TEST(test_fetch_cut)
{
    qr_fetch_part_resp_t parts[] = {
        {0, QUIRE_ERR_NONE, 50, 0, 66, NULL, {7, 0, 66, NULL, NULL}},
        {1, QUIRE_ERR_NONE, 60, 0, 10, NULL, {7, 100, 10, NULL, NULL}}};
    qr_fetch_topic_resp_t t = {"t", 2, parts};
    qr_resp_t resp = {.api = QR_API_FETCH};
    cuts_t c = {0};
    qr_kout_t o = {0};

    resp.u.fetch.topic_count = 1;
    resp.u.fetch.topics = &t;
    o.cut = on_cut;
    o.arg = &c;
    qr_kwire_fetch_encode(&o, 4, &resp);
    ck_assert_uint_eq(c.n, 2);
    /* throttle 4, topics 4, name 3, partitions 4, then partition 0's 4 + 2
     * + 8 + 8 + 4 (aborted) + 4 (records length); v4 has no log start */
    ck_assert_uint_eq(c.at[0], 4 + 4 + 3 + 4 + 30);
    ck_assert_uint_eq(c.len[0], 66);
    ck_assert_uint_eq(c.at[1], c.at[0] + 66 + 30);
    ck_assert_uint_eq(c.len[1], 10);
    ck_assert_uint_eq(o.w.len, 0); /* records are the last field */
    qr_kw_free(&o.w);
}
END_TEST

START_TEST(test_listoffsets_resp)
{
    qr_list_offsets_part_resp_t p1[] = {
        {0, QUIRE_ERR_NONE, -1, 0},
        {1, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1, -1}};
    qr_list_offsets_part_resp_t p4[] = {
        {0, QUIRE_ERR_NONE, 1600000000000LL, 17}};
    qr_list_offsets_topic_resp_t t1 = {"t", 2, p1}, t4 = {"t", 1, p4};
    qr_resp_t resp = {.api = QR_API_LIST_OFFSETS};

    resp.u.list_offsets.topic_count = 1;
    resp.u.list_offsets.topics = &t1;
    expect_body("listoffsets_v1_resp", qr_kwire_listoffsets_encode, 1, &resp);
    resp.u.list_offsets.topics = &t4;
    expect_body("listoffsets_v4_resp", qr_kwire_listoffsets_encode, 4, &resp);
}
END_TEST

START_TEST(test_apiversions_resp)
{
    qr_kapi_range_t rows[] = {{0, 3, 7}, {18, 0, 3}};
    qr_kout_t o = {0};
    size_t len;
    uint8_t *want;

    qr_kwire_apiversions_encode(&o.w, 1, 0, rows, 2);
    want = vec("apiversions_v1_resp", &len);
    ck_assert_uint_eq(o.w.len, len);
    ck_assert_mem_eq(o.w.p, want, len);
    free(want);
    qr_kw_free(&o.w);
    /* the answer to an unsupported version: error 35 in a v0 body */
    qr_kwire_apiversions_encode(&o.w, 0, 35, rows, 2);
    want = vec("apiversions_v0_resp", &len);
    ck_assert_uint_eq(o.w.len, len);
    ck_assert_mem_eq(o.w.p, want, len);
    free(want);
    qr_kw_free(&o.w);
}
END_TEST

/* ---- hostile input ---- */

static const struct {
    const char *name;
    decode_fn fn;
    int16_t version;
} reqs[] = {
    {"metadata_v4_two", qr_kwire_metadata_decode, 4},
    {"produce_v3", qr_kwire_produce_decode, 3},
    {"produce_v7", qr_kwire_produce_decode, 7},
    {"fetch_v4", qr_kwire_fetch_decode, 4},
    {"fetch_v10", qr_kwire_fetch_decode, 10},
    {"listoffsets_v1", qr_kwire_listoffsets_decode, 1},
    {"listoffsets_v2", qr_kwire_listoffsets_decode, 2},
};

/* Every proper prefix of a request is refused, and nothing is read past
 * it (each prefix is its own heap copy, so ASan sees any over-read). */
START_TEST(test_truncated)
{
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        size_t len;
        uint8_t *full = vec(reqs[i].name, &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *p = malloc(cut ? cut : 1);
            qr_karena_t *mem = qr_karena_new();
            qr_kreq_hdr_t hdr;
            qr_req_t req = {0};
            qr_kr_t r;
            int bad;
            memcpy(p, full, cut);
            qr_kr_init(&r, p, cut, mem);
            bad = qr_kwire_hdr_fixed(&r, &hdr) != 0 ||
                  qr_kwire_hdr_rest(&r, &hdr, 0) != 0 ||
                  reqs[i].fn(&r, reqs[i].version, &req) != QUIRE_ERR_NONE;
            ck_assert_msg(bad, "%s cut at %zu of %zu accepted", reqs[i].name,
                          cut, len);
            qr_karena_free(mem);
            free(p);
        }
        free(full);
    }
}
END_TEST

/* Counts past the bytes there are, negative lengths, embedded NULs. */
START_TEST(test_bad_lengths)
{
    static const uint8_t huge_array[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'};
    static const uint8_t neg_array[] = {0xff, 0xff, 0xff, 0xf0};
    static const uint8_t nul_name[] = {0, 0, 0, 1, 0, 3, 'a', 0, 'b', 0};
    qr_karena_t *mem = qr_karena_new();
    qr_req_t req = {0};
    qr_kr_t r;

    qr_kr_init(&r, huge_array, sizeof(huge_array), mem);
    ck_assert_int_eq(qr_kwire_metadata_decode(&r, 1, &req),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_kr_init(&r, neg_array, sizeof(neg_array), mem);
    ck_assert_int_eq(qr_kwire_metadata_decode(&r, 1, &req),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_kr_init(&r, nul_name, sizeof(nul_name), mem);
    ck_assert_int_eq(qr_kwire_metadata_decode(&r, 1, &req),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_karena_free(mem);
}
END_TEST

START_TEST(test_frame)
{
    qr_frame_limits_t lim = {.max_frame = 100, .max_header = 0};
    uint8_t buf[120] = {0};
    qr_frame_t frame;

    ck_assert_int_eq(qr_kwire_frame_parse(buf, 3, &lim, &frame),
                     QUIRE_ERR_NEED_MORE);
    buf[3] = 101; /* past the limit: decided from 4 bytes */
    ck_assert_int_eq(qr_kwire_frame_parse(buf, 4, &lim, &frame),
                     QUIRE_ERR_FRAME_TOO_LARGE);
    buf[3] = 9; /* shorter than a header */
    ck_assert_int_eq(qr_kwire_frame_parse(buf, 13, &lim, &frame),
                     QUIRE_ERR_BAD_FRAME);
    buf[0] = 0x80; /* negative */
    ck_assert_int_eq(qr_kwire_frame_parse(buf, 4, &lim, &frame),
                     QUIRE_ERR_BAD_FRAME);
    buf[0] = 0;
    buf[3] = 12;
    ck_assert_int_eq(qr_kwire_frame_parse(buf, 15, &lim, &frame),
                     QUIRE_ERR_NEED_MORE);
    ck_assert_uint_eq(frame.size, 16);
    ck_assert_int_eq(qr_kwire_frame_parse(buf, 16, &lim, &frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.header_len, 12);
    ck_assert_ptr_eq(frame.header, buf + 4);
}
END_TEST

static Suite *kwire_suite(void)
{
    Suite *s = suite_create("kwire");
    TCase *tc = tcase_create("python3-kafka vectors");
    TCase *bad = tcase_create("hostile");

    tcase_add_test(tc, test_metadata_req);
    tcase_add_test(tc, test_produce_req);
    tcase_add_test(tc, test_fetch_req);
    tcase_add_test(tc, test_listoffsets_req);
    tcase_add_test(tc, test_metadata_resp);
    tcase_add_test(tc, test_produce_resp);
    tcase_add_test(tc, test_fetch_resp);
    tcase_add_test(tc, test_fetch_cut);
    tcase_add_test(tc, test_listoffsets_resp);
    tcase_add_test(tc, test_apiversions_resp);
    suite_add_tcase(s, tc);
    tcase_add_test(bad, test_truncated);
    tcase_add_test(bad, test_bad_lengths);
    tcase_add_test(bad, test_frame);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kwire_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
