/*
 * check_kawire: the topic-administration APIs' bytes (proto/kawire.h)
 * against kafka-python (tests/data/kadmin_vectors.txt, written by
 * gen_kadmin_vectors.py): every request vector decodes to the generator's
 * values and leaves nothing over, every strict prefix of one is refused,
 * and every response encoded from the generator's values is byte for byte
 * kafka-python's.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kawire.h"

#ifndef QR_TEST_DATA
#error QR_TEST_DATA must name tests/data
#endif

typedef quire_err_t (*dec_fn)(qr_kr_t *r, int16_t v, qr_req_t *req);
typedef void (*enc_fn)(qr_kout_t *o, int16_t v, const qr_resp_t *resp);

static dec_fn decoder(int key)
{
    switch (key) {
    case 19:
        return qr_kawire_create_topics_decode;
    case 20:
        return qr_kawire_delete_topics_decode;
    case 32:
        return qr_kawire_describe_configs_decode;
    }
    ck_abort_msg("api %d", key);
    return NULL;
}

static enc_fn encoder(int key)
{
    switch (key) {
    case 19:
        return qr_kawire_create_topics_encode;
    case 20:
        return qr_kawire_delete_topics_encode;
    case 32:
        return qr_kawire_describe_configs_encode;
    }
    ck_abort_msg("api %d", key);
    return NULL;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
    return n;
}

/* ---- the values of gen_kadmin_vectors.py ---- */

static void check_create(int v, const qr_create_topics_req_t *q)
{
    ck_assert_uint_eq(q->topic_count, 2);
    ck_assert_int_eq(q->timeout_ms, 5000);
    ck_assert_int_eq(q->validate_only, v >= 1);
    const qr_create_topic_t *a = &q->topics[0], *b = &q->topics[1];
    ck_assert_str_eq(a->name, "t1");
    ck_assert_int_eq(a->num_partitions, 3);
    ck_assert_int_eq(a->replication_factor, 2);
    ck_assert_uint_eq(a->assignment_count, 0);
    ck_assert_uint_eq(a->config_count, 2);
    ck_assert_str_eq(a->configs[0].name, "retention.ms");
    ck_assert_str_eq(a->configs[0].value, "1000");
    ck_assert_str_eq(a->configs[1].name, "k");
    ck_assert_ptr_eq(a->configs[1].value, NULL);
    ck_assert_str_eq(b->name, "t2");
    ck_assert_int_eq(b->num_partitions, -1);
    ck_assert_int_eq(b->replication_factor, -1);
    ck_assert_uint_eq(b->assignment_count, 2);
    ck_assert_int_eq(b->assignments[1].partition_index, 1);
    ck_assert_uint_eq(b->assignments[1].broker_count, 2);
    ck_assert_int_eq(b->assignments[1].broker_ids[0], 2);
    ck_assert_int_eq(b->assignments[1].broker_ids[1], 1);
    ck_assert_uint_eq(b->config_count, 0);
}

static void check_req(int key, int v, const qr_req_t *req)
{
    const qr_kadmin_req_t *u = &req->u.kadmin;
    switch (key) {
    case 19:
        check_create(v, &u->create);
        break;
    case 20:
        ck_assert_uint_eq(u->del.topic_count, 2);
        ck_assert_str_eq(u->del.topics[0], "t1");
        ck_assert_str_eq(u->del.topics[1], "t2");
        ck_assert_int_eq(u->del.timeout_ms, 3000);
        break;
    case 32:
        ck_assert_uint_eq(u->describe.resource_count, 2);
        ck_assert_int_eq(u->describe.include_synonyms, v >= 1);
        ck_assert_int_eq(u->describe.resources[0].resource_type, 2);
        ck_assert_str_eq(u->describe.resources[0].resource_name, "t1");
        ck_assert(!u->describe.resources[0].all_keys);
        ck_assert_uint_eq(u->describe.resources[0].key_count, 2);
        ck_assert_str_eq(u->describe.resources[0].keys[1], "segment.bytes");
        ck_assert_int_eq(u->describe.resources[1].resource_type, 4);
        ck_assert_str_eq(u->describe.resources[1].resource_name, "1");
        ck_assert(u->describe.resources[1].all_keys);
        ck_assert_uint_eq(u->describe.resources[1].key_count, 0);
        break;
    default:
        ck_abort_msg("api %d", key);
    }
}

static const qr_create_topic_result_t CRES[] = {
    {"t1", QUIRE_ERR_NONE, NULL},
    {"t2", QUIRE_ERR_TOPIC_ALREADY_EXISTS, "Topic 't2' already exists."}};
static const qr_delete_topic_result_t DRES[] = {
    {"t1", QUIRE_ERR_NONE}, {"t2", QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION}};
static const qr_config_synonym_t SYN[] = {
    {"retention.ms", "1000", QR_CONFIG_SOURCE_DYNAMIC_TOPIC},
    {"log.retention.hours", "168", QR_CONFIG_SOURCE_DEFAULT}};
static const qr_config_synonym_t SYN2[] = {
    {"log.segment.bytes", "1073741824", QR_CONFIG_SOURCE_DEFAULT}};

static void fill_resp(int key, int v, qr_resp_t *resp,
                      qr_config_entry_t entries[2],
                      qr_describe_result_t results[2])
{
    qr_kadmin_resp_t *u = &resp->u.kadmin;
    memset(resp, 0, sizeof(*resp));
    switch (key) {
    case 19:
        u->create.topic_count = 2;
        u->create.topics = CRES;
        break;
    case 20:
        u->del.topic_count = 2;
        u->del.topics = DRES;
        break;
    case 32:
        entries[0] = (qr_config_entry_t){"retention.ms", "1000", false,
                                         QR_CONFIG_SOURCE_DYNAMIC_TOPIC, false,
                                         2, SYN};
        entries[1] = (qr_config_entry_t){"segment.bytes", "1073741824", false,
                                         QR_CONFIG_SOURCE_DEFAULT, false, 1,
                                         SYN2};
        if (v == 1) { /* see the generator: kafka-python's v1 */
            entries[1].value = "1048576";
            entries[1].source = QR_CONFIG_SOURCE_DYNAMIC_TOPIC;
            entries[1].synonym_count = 0;
        }
        results[0] = (qr_describe_result_t){QUIRE_ERR_NONE, NULL, 2, "t1", 2,
                                            entries};
        results[1] = (qr_describe_result_t){QUIRE_ERR_INVALID_REQUEST,
                                            "Unsupported resource type: 8",
                                            8,
                                            "x",
                                            0,
                                            NULL};
        u->describe.result_count = 2;
        u->describe.results = results;
        break;
    }
}

static quire_err_t decode(int key, int v, const uint8_t *p, size_t n,
                          qr_karena_t *mem, qr_req_t *req, size_t *left)
{
    qr_kr_t r;
    qr_kr_init(&r, p, n, mem);
    memset(req, 0, sizeof(*req));
    quire_err_t err = decoder(key)(&r, (int16_t)v, req);
    *left = qr_kr_left(&r);
    return err;
}

START_TEST(test_kafka_python_vectors)
{
    FILE *fp = fopen(QR_TEST_DATA "/kadmin_vectors.txt", "r");
    ck_assert_msg(fp != NULL, "kadmin_vectors.txt");
    char line[8192], kind[8], hex[8000];
    int key, v, reqs = 0, resps = 0;
    while (fgets(line, sizeof(line), fp)) {
        hex[0] = '\0';
        ck_assert_int_eq(sscanf(line, "%7s %d %d %7999s", kind, &key, &v, hex),
                         4);
        uint8_t buf[4096];
        size_t n = unhex(hex, buf, sizeof(buf)), left;
        if (!strcmp(kind, "resp")) {
            qr_resp_t resp;
            qr_config_entry_t entries[2];
            qr_describe_result_t results[2];
            qr_kout_t o;
            fill_resp(key, v, &resp, entries, results);
            memset(&o, 0, sizeof(o));
            encoder(key)(&o, (int16_t)v, &resp);
            ck_assert_msg(o.w.len == n && !memcmp(o.w.p, buf, n),
                          "api %d v%d: %zu bytes, want %zu", key, v, o.w.len,
                          n);
            qr_kw_free(&o.w);
            resps++;
            continue;
        }
        qr_karena_t *mem = qr_karena_new();
        qr_req_t req;
        ck_assert_int_eq(decode(key, v, buf, n, mem, &req, &left),
                         QUIRE_ERR_NONE);
        ck_assert_uint_eq(left, 0);
        check_req(key, v, &req);
        /* every strict prefix is malformed */
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t *copy = malloc(cut + 1); /* exact: ASan sees overreads */
            memcpy(copy, buf, cut);
            ck_assert_msg(decode(key, v, copy, cut, mem, &req, &left) ==
                              QUIRE_ERR_INVALID_REQUEST,
                          "api %d v%d cut at %zu", key, v, cut);
            free(copy);
        }
        qr_karena_free(mem);
        reqs++;
    }
    fclose(fp);
    ck_assert_int_eq(reqs, 12);
    ck_assert_int_eq(resps, 12);
}
END_TEST

/* Counts past what the bytes could hold are refused before allocating. */
START_TEST(test_huge_counts)
{
    static const uint8_t create[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    static const uint8_t del[] = {0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0};
    qr_karena_t *mem = qr_karena_new();
    qr_req_t req;
    size_t left;
    ck_assert_int_eq(decode(19, 4, create, sizeof(create), mem, &req, &left),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert_int_eq(decode(20, 3, del, sizeof(del), mem, &req, &left),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert_int_eq(decode(32, 2, del, sizeof(del), mem, &req, &left),
                     QUIRE_ERR_INVALID_REQUEST);
    qr_karena_free(mem);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kawire");
    TCase *tc = tcase_create("kawire");
    tcase_add_test(tc, test_kafka_python_vectors);
    tcase_add_test(tc, test_huge_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
