/*
 * check_fuzz_kafka: the Kafka request decoder's seeds and regression
 * inputs in `make check` (issue 13), without clang or libFuzzer.
 *
 * - Every seed of tests/fuzz/corpus_kafka/ (gen_kafka_corpus.py: one frame
 *   per API and version served, from kafka-python) decodes through
 *   qr_kreq_decode(), the broker's entry, to the API and version its name
 *   says: the generator and the decoders agree, and the table serves
 *   exactly what the corpus holds.
 * - Every seed and every tests/fuzz/regress_kafka/ input goes through the
 *   fuzz target's LLVMFuzzerTestOneInput() (its contracts, under ASan and
 *   UBSan in CI).
 * - Mutations of every seed, deterministic: the frame cut short at every
 *   byte with its size patched to match (a truncated body), and every byte
 *   set to 0x00, 0xff and 0x80 in turn (lengths and counts gone wrong),
 *   each in a heap buffer of exactly its size.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kreq.h"

#define MAX_INPUTS 1024

typedef struct input {
    char name[256];
    uint8_t *data;
    size_t size;
} input_t;

typedef struct inputs {
    input_t v[MAX_INPUTS];
    int count;
} inputs_t;

static inputs_t seeds, regress;

static int cmp_input(const void *a, const void *b)
{
    return strcmp(((const input_t *)a)->name, ((const input_t *)b)->name);
}

static void load(const char *kind, inputs_t *in)
{
    char dir[4096], path[4400];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof(dir), "%s/%s_kafka", QR_FUZZ_DIR, kind);
    in->count = 0;
    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL && in->count < MAX_INPUTS) {
        input_t *it = &in->v[in->count];
        FILE *f;
        long size;

        if (e->d_name[0] == '.')
            continue;
        snprintf(it->name, sizeof(it->name), "%s", e->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if ((f = fopen(path, "rb")) == NULL)
            abort();
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        rewind(f);
        it->size = (size_t)size;
        it->data = malloc(it->size ? it->size : 1);
        if (!it->data || fread(it->data, 1, it->size, f) != it->size)
            abort();
        fclose(f);
        in->count++;
    }
    closedir(d);
    qsort(in->v, (size_t)in->count, sizeof(in->v[0]), cmp_input);
}

/* Runs @p n bytes through the target from a heap copy of exactly n. */
static void run(const uint8_t *p, size_t n)
{
    uint8_t *buf = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(buf);
    if (n)
        memcpy(buf, p, n);
    ck_assert_int_eq(LLVMFuzzerTestOneInput(buf, n), 0);
    free(buf);
}

/* "<api name>_v<version>": the table's row by its snake_case name. */
static int seed_api(const char *name, int *key, int *version)
{
    const char *v = strrchr(name, '_');
    size_t n;
    const qr_kreq_api_t *apis = qr_kreq_apis(&n);

    if (!v || v[1] != 'v')
        return 0;
    *version = atoi(v + 2);
    for (size_t i = 0; i < n; i++) {
        char snake[64];
        size_t k = 0;

        for (const char *c = apis[i].name; *c && k < sizeof(snake) - 2; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                if (c != apis[i].name)
                    snake[k++] = '_';
                snake[k++] = (char)(*c - 'A' + 'a');
            } else {
                snake[k++] = *c;
            }
        }
        snake[k] = '\0';
        if (strlen(snake) == (size_t)(v - name) &&
            strncmp(snake, name, (size_t)(v - name)) == 0) {
            *key = apis[i].api_key;
            return 1;
        }
    }
    return 0;
}

START_TEST(test_seeds_found)
{
    size_t n, versions = 0, single = 0;
    const qr_kreq_api_t *apis = qr_kreq_apis(&n);

    for (size_t i = 0; i < n; i++)
        versions += (size_t)(apis[i].max_version - apis[i].min_version + 1);
    for (int i = 0; i < seeds.count; i++) {
        int key, version;
        single += seed_api(seeds.v[i].name, &key, &version);
    }
    /* one seed per API and version served, no more, no fewer */
    ck_assert_uint_eq(single, versions);
}
END_TEST

START_TEST(test_seed_decodes)
{
    const input_t *it = &seeds.v[_i];
    qr_karena_t *mem;
    qr_kreq_info_t info;
    qr_frame_t frame;
    qr_req_t req;
    int key, version;
    const qr_frame_limits_t lim = {QR_FRAME_MAX_DEFAULT,
                                   QR_FRAME_REQ_HEADER_MAX};

    if (!seed_api(it->name, &key, &version))
        return; /* a stream, or a bad-input seed */
    ck_assert_int_eq(qr_kwire_frame_parse(it->data, it->size, &lim, &frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.size, it->size);
    mem = qr_karena_new();
    ck_assert_msg(qr_kreq_decode(&frame, mem, &req, &info) == QUIRE_ERR_NONE,
                  "%s does not decode", it->name);
    ck_assert_int_eq(req.api, key);
    ck_assert_int_eq(req.api_version, version);
    ck_assert_int_eq(req.correlation_id, 7);
    ck_assert_str_eq(req.client_id, "fuzz-seed");
    qr_karena_free(mem);
}
END_TEST

START_TEST(test_seed)
{
    run(seeds.v[_i].data, seeds.v[_i].size);
}
END_TEST

START_TEST(test_regress)
{
    run(regress.v[_i].data, regress.v[_i].size);
}
END_TEST

START_TEST(test_mutations)
{
    const input_t *it = &seeds.v[_i];
    uint8_t *m = malloc(it->size);
    static const uint8_t values[] = {0x00, 0xff, 0x80};

    ck_assert_ptr_nonnull(m);
    /* truncated bodies: size patched to what is left */
    for (size_t n = 4; n < it->size; n++) {
        memcpy(m, it->data, n);
        m[0] = (uint8_t)((n - 4) >> 24);
        m[1] = (uint8_t)((n - 4) >> 16);
        m[2] = (uint8_t)((n - 4) >> 8);
        m[3] = (uint8_t)(n - 4);
        run(m, n);
    }
    /* one byte changed */
    for (size_t i = 0; i < it->size; i++)
        for (size_t k = 0; k < sizeof(values); k++) {
            memcpy(m, it->data, it->size);
            if (m[i] == values[k])
                continue;
            m[i] = values[k];
            run(m, it->size);
        }
    free(m);
}
END_TEST

static Suite *fuzz_kafka_suite(void)
{
    Suite *s = suite_create("fuzz_kafka");
    TCase *tc = tcase_create("replay");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seeds_found);
    tcase_add_loop_test(tc, test_seed_decodes, 0, seeds.count);
    tcase_add_loop_test(tc, test_seed, 0, seeds.count);
    tcase_add_loop_test(tc, test_regress, 0, regress.count);
    tcase_add_loop_test(tc, test_mutations, 0, seeds.count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    load("corpus", &seeds);
    load("regress", &regress);
    sr = srunner_create(fuzz_kafka_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < seeds.count; i++)
        free(seeds.v[i].data);
    for (int i = 0; i < regress.count; i++)
        free(regress.v[i].data);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
