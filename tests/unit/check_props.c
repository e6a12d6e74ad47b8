/*
 * check_props: the Java properties reader against what
 * java.util.Properties.load gives for the same bytes (JDK 9+).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "props.h"

#define MAX_KV 8

typedef struct kv {
    const char *k, *v;
    int line;
} kv_t;

typedef struct good_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    int n;
    kv_t kv[MAX_KV];
} good_case_t;

typedef struct got {
    int n;
    char *k[MAX_KV], *v[MAX_KV];
    int line[MAX_KV];
    int stop_at; /* return BAD_ARG on this entry (1-based); 0: never */
} got_t;

static quire_err_t collect(const char *key, const char *value, int line,
                           void *opaque)
{
    got_t *got = opaque;

    ck_assert_int_lt(got->n, MAX_KV);
    got->k[got->n] = strdup(key);
    got->v[got->n] = strdup(value);
    got->line[got->n] = line;
    got->n++;
    if (got->stop_at && got->n == got->stop_at)
        return QUIRE_ERR_BAD_ARG;
    return QUIRE_ERR_NONE;
}

static void got_free(got_t *got)
{
    for (int i = 0; i < got->n; i++) {
        free(got->k[i]);
        free(got->v[i]);
    }
    got->n = 0;
}

/* clang-format off */
static const good_case_t good[] = {
    /* separators, and whitespace around them */
    {"a=b", 0, 1, {{"a", "b", 1}}},
    {"a = b", 0, 1, {{"a", "b", 1}}},
    {"a:b", 0, 1, {{"a", "b", 1}}},
    {"a : b", 0, 1, {{"a", "b", 1}}},
    {"a b", 0, 1, {{"a", "b", 1}}},
    {"a\t\t b", 0, 1, {{"a", "b", 1}}},
    {"a \t = b", 0, 1, {{"a", "b", 1}}},
    {"a\fb", 0, 1, {{"a", "b", 1}}},
    {"a =  = b", 0, 1, {{"a", "= b", 1}}},
    {"a==b", 0, 1, {{"a", "=b", 1}}},
    {"a:=b", 0, 1, {{"a", "=b", 1}}},
    {"a b=c", 0, 1, {{"a", "b=c", 1}}},
    {"a=b:c d", 0, 1, {{"a", "b:c d", 1}}},
    /* leading whitespace goes, trailing whitespace stays */
    {"   \t\fa=b  ", 0, 1, {{"a", "b  ", 1}}},
    /* empty values and empty keys */
    {"a", 0, 1, {{"a", "", 1}}},
    {"a=", 0, 1, {{"a", "", 1}}},
    {"a   ", 0, 1, {{"a", "", 1}}},
    {"=v", 0, 1, {{"", "v", 1}}},
    {":v", 0, 1, {{"", "v", 1}}},
    /* nothing at all */
    {"", 0, 0, {{NULL, NULL, 0}}},
    {"\n\n  \n\t\r\n", 0, 0, {{NULL, NULL, 0}}},
    {"# only\n! comments\n", 0, 0, {{NULL, NULL, 0}}},
    /* comments, line numbers */
    {"# c\n! d\n  # e\na=b", 0, 1, {{"a", "b", 4}}},
    {"a=b # not a comment", 0, 1, {{"a", "b # not a comment", 1}}},
    {"#c \\\na=b", 0, 1, {{"a", "b", 2}}},
    {"x=1\n\n\ny=2\n", 0, 2, {{"x", "1", 1}, {"y", "2", 4}}},
    /* line ends: LF, CRLF, CR, mixed */
    {"a=1\r\nb=2\r\n", 0, 2, {{"a", "1", 1}, {"b", "2", 2}}},
    {"a=1\rb=2\r", 0, 2, {{"a", "1", 1}, {"b", "2", 2}}},
    {"a=1\n\r\nb=2", 0, 2, {{"a", "1", 1}, {"b", "2", 3}}},
    {"a=1\r\rb=2", 0, 2, {{"a", "1", 1}, {"b", "2", 3}}},
    {"a=1\n\rb=2", 0, 2, {{"a", "1", 1}, {"b", "2", 3}}},
    /* continuations */
    {"a=b\\\n   c", 0, 1, {{"a", "bc", 1}}},
    {"a=1,\\\n    2,\\\n\t3\nb=4", 0, 2, {{"a", "1,2,3", 1}, {"b", "4", 4}}},
    {"a=b\\\r\n  c\r\nd=e", 0, 2, {{"a", "bc", 1}, {"d", "e", 3}}},
    {"a=b\\\r  c\rd=e", 0, 2, {{"a", "bc", 1}, {"d", "e", 3}}},
    {"a=b\\\\\nc=d", 0, 2, {{"a", "b\\", 1}, {"c", "d", 2}}},
    {"a=b\\\\\\\n c", 0, 1, {{"a", "b\\c", 1}}},
    {"ke\\\n  y=v", 0, 1, {{"key", "v", 1}}},
    {"key\\\n  =v", 0, 1, {{"key", "v", 1}}},
    {"a=\\\n#b", 0, 1, {{"a", "#b", 1}}},
    {"a=b\\\n\nc=d", 0, 2, {{"a", "b", 1}, {"c", "d", 3}}},
    {"a=b\\\n", 0, 1, {{"a", "b", 1}}},
    {"a=b\\", 0, 1, {{"a", "b", 1}}},
    /* JDK 9+: a logical line still empty after a continuation can start a
     * comment */
    {"\\\n#x\na=b", 0, 1, {{"a", "b", 3}}},
    /* Java's quirk: a lone backslash at the end is an empty entry */
    {"\\", 0, 1, {{"", "", 1}}},
    /* escapes in keys */
    {"k\\=y=v", 0, 1, {{"k=y", "v", 1}}},
    {"k\\:y:v", 0, 1, {{"k:y", "v", 1}}},
    {"k\\ y v", 0, 1, {{"k y", "v", 1}}},
    {"\\#k=v", 0, 1, {{"#k", "v", 1}}},
    {"\\!k=v", 0, 1, {{"!k", "v", 1}}},
    {"k\\\\=v", 0, 1, {{"k\\", "v", 1}}},
    {"\\u006b=v", 0, 1, {{"k", "v", 1}}},
    /* escapes in values */
    {"a=\\t\\n\\r\\f", 0, 1, {{"a", "\t\n\r\f", 1}}},
    {"a=\\q\\\\\\=\\:\\#\\!\\ x", 0, 1, {{"a", "q\\=:#! x", 1}}},
    {"a=\\ \\ lead", 0, 1, {{"a", "  lead", 1}}},
    {"a=\\u0041\\u0062", 0, 1, {{"a", "Ab", 1}}},
    {"a=\\u00e9\\u00E9", 0, 1, {{"a", "\xc3\xa9\xc3\xa9", 1}}},
    {"a=\\u20AC", 0, 1, {{"a", "\xe2\x82\xac", 1}}},
    {"a=\\uD83D\\uDE00!", 0, 1, {{"a", "\xf0\x9f\x98\x80!", 1}}},
    {"a=\\uD83Dx", 0, 1, {{"a", "\xef\xbf\xbdx", 1}}},
    {"a=\\uDE00", 0, 1, {{"a", "\xef\xbf\xbd", 1}}},
    {"a=\\uD83D\\u0041", 0, 1, {{"a", "\xef\xbf\xbd" "A", 1}}},
    /* UTF-8 passes through */
    {"caf\xc3\xa9=cr\xc3\xa8me", 0, 1, {{"caf\xc3\xa9", "cr\xc3\xa8me", 1}}},
    /* duplicates are all reported, in order */
    {"a=1\na=2", 0, 2, {{"a", "1", 1}, {"a", "2", 2}}},
    /* a kafka-like file */
    {"# Licensed...\n\nbroker.id=0\nlog.dirs=/tmp/a,\\\n          /tmp/b\n"
     "zookeeper.connect=localhost:2181/quire\n", 0, 3,
     {{"broker.id", "0", 3}, {"log.dirs", "/tmp/a,/tmp/b", 4},
      {"zookeeper.connect", "localhost:2181/quire", 6}}},
};

typedef struct bad_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    int line;
    const char *msg;
} bad_case_t;

static const bad_case_t bad[] = {
    {"a=\\u12", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"a=\\u", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"a=\\u12g4", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"a=\\uZZZZ", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"a=\\u-123", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"x=1\n\\u=2", 0, 2, "t:2: malformed \\uxxxx encoding"},
    {"x=1\ny=\\u123", 0, 2, "t:2: malformed \\uxxxx encoding"},
    {"x=1\r\n\r\ny=\\\n\\u00", 0, 3, "t:3: malformed \\uxxxx encoding"},
    {"a=\\uD83D\\uDE0", 0, 1, "t:1: malformed \\uxxxx encoding"},
    {"a=\\u0000", 0, 1, "t:1: NUL character (\\u0000) in key or value"},
    {"a=b\0c", 5, 1, "t:1: NUL character in key or value"},
    {"x=1\nk\0=v", 8, 2, "t:2: NUL character in key or value"},
    {"a=\\\0", 4, 1, "t:1: NUL character in key or value"},
};
/* clang-format on */

START_TEST(test_good)
{
    const good_case_t *tc = &good[_i];
    size_t len = tc->len ? tc->len : strlen(tc->in);
    got_t got = {0};
    char errstr[256] = "";
    int errline = -1;

    ck_assert_int_eq(qr_props_parse_buf("t", tc->in, len, collect, &got,
                                        &errline, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(errline, 0);
    ck_assert_int_eq(got.n, tc->n);
    for (int i = 0; i < tc->n; i++) {
        ck_assert_str_eq(got.k[i], tc->kv[i].k);
        ck_assert_str_eq(got.v[i], tc->kv[i].v);
        ck_assert_int_eq(got.line[i], tc->kv[i].line);
    }
    got_free(&got);
}
END_TEST

START_TEST(test_bad)
{
    const bad_case_t *tc = &bad[_i];
    size_t len = tc->len ? tc->len : strlen(tc->in);
    got_t got = {0};
    char errstr[256] = "";
    int errline = -1;

    ck_assert_int_eq(qr_props_parse_buf("t", tc->in, len, collect, &got,
                                        &errline, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(errline, tc->line);
    ck_assert_str_eq(errstr, tc->msg);
    got_free(&got);
}
END_TEST

/* Every prefix of a file with every feature parses or fails cleanly (ASan
 * watches for reads past the end: the buffer is an exact-size copy). */
START_TEST(test_truncations)
{
    static const char text[] =
        "# c\r\n a = b\\\r\n  c\\u00e9\\uD83D\\uDE00\n\\#k\\ x:v\\\\\n"
        "e\\\n\n!x\r\nz\\u004";
    size_t n = sizeof(text) - 1;

    for (size_t len = 0; len <= n; len++) {
        char *copy = malloc(len ? len : 1);
        got_t got = {0};
        char errstr[256];

        memcpy(copy, text, len);
        quire_err_t err = qr_props_parse_buf("t", copy, len, collect, &got,
                                             NULL, errstr, sizeof(errstr));
        ck_assert(err == QUIRE_ERR_NONE || err == QUIRE_ERR_CONF_INVALID);
        got_free(&got);
        free(copy);
    }
}
END_TEST

START_TEST(test_callback_stops)
{
    got_t got = {0};
    char errstr[64] = "untouched";
    int errline = 0;

    got.stop_at = 2;
    ck_assert_int_eq(qr_props_parse_buf("t", "a=1\n\nb=2\nc=3", 12, collect,
                                        &got, &errline, errstr, sizeof(errstr)),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(got.n, 2);
    ck_assert_int_eq(errline, 3);
    ck_assert_str_eq(errstr, "untouched");
    got_free(&got);
}
END_TEST

static char *write_temp(const char *text, size_t len)
{
    char *path = strdup("/tmp/check_props.XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

START_TEST(test_file)
{
    static const char text[] = "# x\nbroker.id = 7\r\nlog.dirs=/a,\\\n /b\n";
    char *path = write_temp(text, sizeof(text) - 1);
    got_t got = {0};
    char errstr[256];

    ck_assert_int_eq(
        qr_props_parse_file(path, collect, &got, NULL, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(got.n, 2);
    ck_assert_str_eq(got.k[0], "broker.id");
    ck_assert_str_eq(got.v[0], "7");
    ck_assert_int_eq(got.line[0], 2);
    ck_assert_str_eq(got.v[1], "/a,/b");
    ck_assert_int_eq(got.line[1], 3);
    got_free(&got);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_file_bad_escape)
{
    static const char text[] = "a=1\nb=\\u12x4\n";
    char *path = write_temp(text, sizeof(text) - 1);
    got_t got = {0};
    char errstr[256], want[300];
    int errline = 0;

    ck_assert_int_eq(qr_props_parse_file(path, collect, &got, &errline, errstr,
                                         sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(errline, 2);
    snprintf(want, sizeof(want), "%s:2: malformed \\uxxxx encoding", path);
    ck_assert_str_eq(errstr, want);
    ck_assert_int_eq(got.n, 1);
    got_free(&got);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_file_errors)
{
    char errstr[256];
    got_t got = {0};

    ck_assert_int_eq(qr_props_parse_file("/nonexistent/x.properties", collect,
                                         &got, NULL, errstr, sizeof(errstr)),
                     QUIRE_ERR_IO);
    ck_assert_str_eq(errstr,
                     "/nonexistent/x.properties: No such file or directory");
    /* A directory opens but does not read. */
    ck_assert_int_eq(qr_props_parse_file("/tmp", collect, &got, NULL, errstr,
                                         sizeof(errstr)),
                     QUIRE_ERR_IO);
    ck_assert_str_eq(errstr, "/tmp: Is a directory");
    ck_assert_int_eq(got.n, 0);
}
END_TEST

START_TEST(test_file_too_large)
{
    char path[] = "/tmp/check_props.XXXXXX";
    char errstr[256], want[300];
    got_t got = {0};
    int fd = mkstemp(path);

    /* A sparse file one byte over the limit: refused before parsing. */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, QR_PROPS_MAX_FILE + 1), 0);
    close(fd);
    ck_assert_int_eq(
        qr_props_parse_file(path, collect, &got, NULL, errstr, sizeof(errstr)),
        QUIRE_ERR_IO);
    snprintf(want, sizeof(want), "%s: file larger than %d bytes", path,
             QR_PROPS_MAX_FILE);
    ck_assert_str_eq(errstr, want);
    ck_assert_int_eq(got.n, 0);
    unlink(path);
}
END_TEST

static Suite *props_suite(void)
{
    Suite *s = suite_create("props");
    TCase *tc = tcase_create("parse");

    tcase_set_tags(tc, "unit");
    tcase_add_loop_test(tc, test_good, 0,
                        (int)(sizeof(good) / sizeof(good[0])));
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_callback_stops);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_set_tags(tc, "unit");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_file);
    tcase_add_test(tc, test_file_bad_escape);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_file_too_large);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(props_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
