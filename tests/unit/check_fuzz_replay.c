/*
 * check_fuzz_replay: replays the fuzz targets' committed inputs through the
 * same LLVMFuzzerTestOneInput() that `make fuzz` builds (tests/fuzz/), with
 * gcc and the sanitizers but without libFuzzer, so they run in `make check`:
 *   - tests/fuzz/regress_<target>/: inputs that once crashed the target
 *     (a finding, fixed since); each must now pass;
 *   - tests/fuzz/corpus_<target>/: the seeds, which must pass too (and keep
 *     the target's source building and its contracts holding on good input).
 * Built once per target (check_fuzz_request, check_fuzz_batch); the target
 * is named by QR_FUZZ_TARGET, the folder by QR_FUZZ_DIR.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define MAX_INPUTS 1024

/* The inputs of one folder, found by main() before the tests fork. */
typedef struct inputs {
    char *path[MAX_INPUTS];
    int count;
} inputs_t;

static inputs_t regress, seeds;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the regular files of QR_FUZZ_DIR/<kind>_<target>/, sorted; a
 * missing folder is an empty list. */
static void list_inputs(const char *kind, inputs_t *in)
{
    char dir[4096];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof(dir), "%s/%s_%s", QR_FUZZ_DIR, kind, QR_FUZZ_TARGET);
    in->count = 0;
    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL && in->count < MAX_INPUTS) {
        size_t n = strlen(dir) + strlen(e->d_name) + 2;

        if (e->d_name[0] == '.')
            continue;
        in->path[in->count] = malloc(n);
        if (in->path[in->count] == NULL)
            abort();
        snprintf(in->path[in->count], n, "%s/%s", dir, e->d_name);
        in->count++;
    }
    closedir(d);
    qsort(in->path, (size_t)in->count, sizeof(in->path[0]), cmp_str);
}

/* Feeds one file to the target in a heap buffer of exactly its size, as
 * libFuzzer does (ASan sees any read past it). */
static void replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    buf = malloc(size ? (size_t)size : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    ck_assert_int_eq(LLVMFuzzerTestOneInput(buf, (size_t)size), 0);
    free(buf);
}

START_TEST(test_regress)
{
    replay(regress.path[_i]);
}
END_TEST

START_TEST(test_seed)
{
    replay(seeds.path[_i]);
}
END_TEST

START_TEST(test_seeds_found)
{
    /* A wrong QR_FUZZ_DIR must not make this program pass vacuously. */
    ck_assert_int_gt(seeds.count, 0);
}
END_TEST

static Suite *fuzz_replay_suite(void)
{
    Suite *s = suite_create("fuzz_" QR_FUZZ_TARGET);
    TCase *tc = tcase_create("replay");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seeds_found);
    tcase_add_loop_test(tc, test_seed, 0, seeds.count);
    tcase_add_loop_test(tc, test_regress, 0, regress.count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    list_inputs("corpus", &seeds);
    list_inputs("regress", &regress);
    sr = srunner_create(fuzz_replay_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < seeds.count; i++)
        free(seeds.path[i]);
    for (int i = 0; i < regress.count; i++)
        free(regress.path[i]);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
