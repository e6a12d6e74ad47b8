/*
 * check_conf: the typed config table engine, on a test table with one field
 * of every type (and nullable and required ones).
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

typedef struct tconf {
    int threads;         /* INT 14..1000 */
    int64_t start;       /* INT64, no range */
    int autoc;           /* BOOL */
    char *name;          /* STRING */
    int comp;            /* ENUM */
    qr_conf_list_t dirs; /* LIST */
    qr_conf_list_t boot; /* LIST of 1..2 items, nullable */
    int64_t seg;         /* SIZE 14..INT_MAX */
    int64_t ret;         /* DURATION_MS >= 0 */
    int64_t ret_null;    /* DURATION_MS, nullable */
    char *client;        /* STRING, nullable */
    int id;              /* INT, required */
    int flag;            /* BOOL, nullable */
    int plain;           /* INT, no range */
    uint64_t set[QR_CONF_SET_WORDS(14)];
} tconf_t;

static const char *const comp_values[] = {"none", "gzip", "lz4", "zstd", NULL};

#define F(field) offsetof(tconf_t, field)
#define NORANGE  1, 0

/* clang-format off */
static const qr_conf_prop_t props[] = {
    {"num.threads", QR_CONF_INT, F(threads), "16", 14, 1000, NULL,
     QR_CONF_F_RESTART, "Threads."},
    {"offset.start", QR_CONF_INT64, F(start), "-5", NORANGE, NULL, 0,
     "First offset."},
    {"auto.create", QR_CONF_BOOL, F(autoc), "true", NORANGE, NULL,
     QR_CONF_F_RELOADABLE, "Create topics on first use."},
    {"name", QR_CONF_STRING, F(name), "quire", NORANGE, NULL, 0,
     "A name."},
    {"compression.type", QR_CONF_ENUM, F(comp), "gzip", NORANGE,
     comp_values, 0, "Codec."},
    {"log.dirs", QR_CONF_LIST, F(dirs), "/tmp/a, /tmp/b", NORANGE, NULL, 0,
     "Where logs live."},
    {"bootstrap", QR_CONF_LIST, F(boot), NULL, 1, 2, NULL,
     QR_CONF_F_NULLABLE, "Seeds."},
    {"segment.bytes", QR_CONF_SIZE, F(seg), "1073741824", 14, INT_MAX, NULL,
     0, "The maximum size of a segment."},
    {"retention.ms", QR_CONF_DURATION_MS, F(ret), "604800000", 0, INT64_MAX,
     NULL, 0, "Retention."},
    {"log.retention.ms", QR_CONF_DURATION_MS, F(ret_null), NULL, -1,
     INT64_MAX, NULL, QR_CONF_F_NULLABLE, "Overrides retention.ms."},
    {"client.id", QR_CONF_STRING, F(client), NULL, NORANGE, NULL,
     QR_CONF_F_NULLABLE, "Client id."},
    {"broker.id", QR_CONF_INT, F(id), NULL, 0, INT_MAX, NULL,
     QR_CONF_F_REQUIRED, "This broker's id."},
    {"flag", QR_CONF_BOOL, F(flag), NULL, NORANGE, NULL,
     QR_CONF_F_NULLABLE, "A tri-state."},
    {"plain", QR_CONF_INT, F(plain), "0", NORANGE, NULL, 0, "Any int."},
};
/* clang-format on */

static const qr_conf_table_t table = {"test.properties", props,
                                      sizeof(props) / sizeof(props[0]),
                                      offsetof(tconf_t, set)};

_Static_assert(sizeof(props) / sizeof(props[0]) == 14, "set[] size");

static void load_defaults(tconf_t *c)
{
    char errstr[256] = "";

    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(qr_conf_defaults(&table, c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
}

/* The field of @p key as text: lists joined by '|', NULL strings "(null)". */
static void render(const tconf_t *c, const char *key, char *out, size_t size)
{
    const qr_conf_prop_t *prop = qr_conf_find(&table, key);
    const char *f;

    ck_assert_ptr_nonnull(prop);
    f = (const char *)c + prop->offset;
    switch (prop->type) {
    case QR_CONF_INT:
    case QR_CONF_BOOL:
    case QR_CONF_ENUM:
        snprintf(out, size, "%d", *(const int *)f);
        break;
    case QR_CONF_INT64:
    case QR_CONF_SIZE:
    case QR_CONF_DURATION_MS:
        snprintf(out, size, "%" PRId64, *(const int64_t *)f);
        break;
    case QR_CONF_STRING: {
        const char *s = *(char *const *)f;
        snprintf(out, size, "%s", s ? s : "(null)");
        break;
    }
    case QR_CONF_LIST: {
        const qr_conf_list_t *l = (const qr_conf_list_t *)f;
        size_t w = 0;
        out[0] = '\0';
        for (size_t i = 0; i < l->n; i++)
            w += (size_t)snprintf(out + w, size - w, "%s%s", i ? "|" : "",
                                  l->v[i]);
        break;
    }
    default:
        ck_abort_msg("bad type");
    }
}

static void assert_field(const tconf_t *c, const char *key, const char *want)
{
    char buf[512];

    render(c, key, buf, sizeof(buf));
    ck_assert_msg(strcmp(buf, want) == 0, "%s: got '%s', want '%s'", key, buf,
                  want);
}

START_TEST(test_defaults)
{
    tconf_t c;

    load_defaults(&c);
    assert_field(&c, "num.threads", "16");
    assert_field(&c, "offset.start", "-5");
    assert_field(&c, "auto.create", "1");
    assert_field(&c, "name", "quire");
    assert_field(&c, "compression.type", "1");
    assert_field(&c, "log.dirs", "/tmp/a|/tmp/b");
    assert_field(&c, "segment.bytes", "1073741824");
    assert_field(&c, "retention.ms", "604800000");
    assert_field(&c, "plain", "0");
    /* nullable and required ones are unset */
    ck_assert_int_eq(c.ret_null, -1);
    ck_assert_ptr_null(c.client);
    ck_assert_int_eq(c.flag, -1);
    ck_assert_int_eq(c.id, -1);
    ck_assert_ptr_null(c.boot.v);
    ck_assert_uint_eq(c.boot.n, 0);
    for (size_t i = 0; i < table.count; i++)
        ck_assert_int_eq(qr_conf_is_set(&table, &c, props[i].name), 0);
    ck_assert_int_eq(qr_conf_is_set(&table, &c, "no.such.key"), -1);
    qr_conf_free(&table, &c);
}
END_TEST

typedef struct set_case {
    const char *key, *value, *want;
} set_case_t;

/* clang-format off */
static const set_case_t good_sets[] = {
    {"num.threads", "14", "14"},
    {"num.threads", " 1000 ", "1000"},
    {"num.threads", "+20", "20"},
    {"num.threads", "0020", "20"},
    {"plain", "-2147483648", "-2147483648"},
    {"plain", "2147483647", "2147483647"},
    {"offset.start", "-9223372036854775808", "-9223372036854775808"},
    {"offset.start", "9223372036854775807", "9223372036854775807"},
    {"offset.start", "0", "0"},
    {"auto.create", "false", "0"},
    {"auto.create", "FALSE", "0"},
    {"auto.create", "True", "1"},
    {"auto.create", " tRuE\t", "1"},
    {"name", "  hello world  ", "hello world"},
    {"name", "", ""},
    {"name", "caf\xc3\xa9", "caf\xc3\xa9"},
    {"compression.type", "none", "0"},
    {"compression.type", " zstd ", "3"},
    {"compression.type", "lz4", "2"},
    {"log.dirs", "/a", "/a"},
    {"log.dirs", " /a , /b,/c ", "/a|/b|/c"},
    {"log.dirs", "", ""},
    {"log.dirs", "   ", ""},
    {"bootstrap", "h:1", "h:1"},
    {"bootstrap", "h:1,h:2", "h:1|h:2"},
    {"segment.bytes", "14", "14"},
    {"segment.bytes", "2147483647", "2147483647"},
    {"retention.ms", "0", "0"},
    {"retention.ms", "9223372036854775807", "9223372036854775807"},
    {"log.retention.ms", "-1", "-1"},
    {"log.retention.ms", "5", "5"},
    {"client.id", "me", "me"},
    {"broker.id", "0", "0"},
    {"flag", "false", "0"},
};

typedef struct bad_set {
    const char *key, *value;
    quire_err_t err;
    const char *msg;
} bad_set_t;

static const bad_set_t bad_sets[] = {
    {"num.threads", "13", QUIRE_ERR_CONF_INVALID,
     "num.threads: must be between 14 and 1000, got 13"},
    {"num.threads", "1001", QUIRE_ERR_CONF_INVALID,
     "num.threads: must be between 14 and 1000, got 1001"},
    {"num.threads", "abc", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got 'abc'"},
    {"num.threads", "", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got ''"},
    {"num.threads", "20x", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '20x'"},
    {"num.threads", "2 0", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '2 0'"},
    {"num.threads", "0x10", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '0x10'"},
    {"num.threads", "1.5", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '1.5'"},
    {"num.threads", "-", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '-'"},
    {"num.threads", "+-3", QUIRE_ERR_CONF_INVALID,
     "num.threads: expected an integer, got '+-3'"},
    {"plain", "2147483648", QUIRE_ERR_CONF_INVALID,
     "plain: integer out of range, got '2147483648'"},
    {"plain", "-2147483649", QUIRE_ERR_CONF_INVALID,
     "plain: integer out of range, got '-2147483649'"},
    {"offset.start", "9223372036854775808", QUIRE_ERR_CONF_INVALID,
     "offset.start: integer out of range, got '9223372036854775808'"},
    {"offset.start", "-99999999999999999999", QUIRE_ERR_CONF_INVALID,
     "offset.start: integer out of range, got '-99999999999999999999'"},
    {"offset.start", "1e3", QUIRE_ERR_CONF_INVALID,
     "offset.start: expected an integer, got '1e3'"},
    {"auto.create", "yes", QUIRE_ERR_CONF_INVALID,
     "auto.create: expected true or false, got 'yes'"},
    {"auto.create", "1", QUIRE_ERR_CONF_INVALID,
     "auto.create: expected true or false, got '1'"},
    {"auto.create", "truee", QUIRE_ERR_CONF_INVALID,
     "auto.create: expected true or false, got 'truee'"},
    {"auto.create", "", QUIRE_ERR_CONF_INVALID,
     "auto.create: expected true or false, got ''"},
    {"compression.type", "GZIP", QUIRE_ERR_CONF_INVALID,
     "compression.type: must be one of none, gzip, lz4, zstd; got 'GZIP'"},
    {"compression.type", "snappy", QUIRE_ERR_CONF_INVALID,
     "compression.type: must be one of none, gzip, lz4, zstd; got 'snappy'"},
    {"compression.type", "", QUIRE_ERR_CONF_INVALID,
     "compression.type: must be one of none, gzip, lz4, zstd; got ''"},
    {"log.dirs", "a,,b", QUIRE_ERR_CONF_INVALID,
     "log.dirs: empty item in list"},
    {"log.dirs", "a,", QUIRE_ERR_CONF_INVALID,
     "log.dirs: empty item in list"},
    {"log.dirs", ",a", QUIRE_ERR_CONF_INVALID,
     "log.dirs: empty item in list"},
    {"log.dirs", " , ", QUIRE_ERR_CONF_INVALID,
     "log.dirs: empty item in list"},
    {"bootstrap", "", QUIRE_ERR_CONF_INVALID,
     "bootstrap: must have between 1 and 2 items, got 0"},
    {"bootstrap", "a,b,c", QUIRE_ERR_CONF_INVALID,
     "bootstrap: must have between 1 and 2 items, got 3"},
    {"segment.bytes", "10", QUIRE_ERR_CONF_INVALID,
     "segment.bytes: must be between 14 and 2147483647, got 10"},
    {"segment.bytes", "2147483648", QUIRE_ERR_CONF_INVALID,
     "segment.bytes: must be between 14 and 2147483647, got 2147483648"},
    {"segment.bytes", "1k", QUIRE_ERR_CONF_INVALID,
     "segment.bytes: expected an integer, got '1k'"},
    {"retention.ms", "-1", QUIRE_ERR_CONF_INVALID,
     "retention.ms: must be between 0 and 9223372036854775807, got -1"},
    {"retention.ms", "7d", QUIRE_ERR_CONF_INVALID,
     "retention.ms: expected an integer, got '7d'"},
    {"log.retention.ms", "-2", QUIRE_ERR_CONF_INVALID,
     "log.retention.ms: must be between -1 and 9223372036854775807, got -2"},
    {"broker.id", "-1", QUIRE_ERR_CONF_INVALID,
     "broker.id: must be between 0 and 2147483647, got -1"},
    {"flag", "maybe", QUIRE_ERR_CONF_INVALID,
     "flag: expected true or false, got 'maybe'"},
    {"no.such.key", "1", QUIRE_ERR_CONF_UNKNOWN,
     "no.such.key: unknown configuration key"},
    {"", "1", QUIRE_ERR_CONF_UNKNOWN, ": unknown configuration key"},
    {"Num.Threads", "20", QUIRE_ERR_CONF_UNKNOWN,
     "Num.Threads: unknown configuration key"},
};
/* clang-format on */

START_TEST(test_good_set)
{
    const set_case_t *tc = &good_sets[_i];
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(
        qr_conf_set(&table, &c, tc->key, tc->value, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    assert_field(&c, tc->key, tc->want);
    ck_assert_int_eq(qr_conf_is_set(&table, &c, tc->key), 1);
    /* The others stay unset. */
    for (size_t i = 0; i < table.count; i++)
        if (strcmp(props[i].name, tc->key) != 0)
            ck_assert_int_eq(qr_conf_is_set(&table, &c, props[i].name), 0);
    qr_conf_free(&table, &c);
}
END_TEST

START_TEST(test_bad_set)
{
    const bad_set_t *tc = &bad_sets[_i];
    char errstr[256] = "", before[512], after[512];
    tconf_t c;

    load_defaults(&c);
    if (tc->err == QUIRE_ERR_CONF_INVALID)
        render(&c, tc->key, before, sizeof(before));
    ck_assert_int_eq(
        qr_conf_set(&table, &c, tc->key, tc->value, errstr, sizeof(errstr)),
        tc->err);
    ck_assert_str_eq(errstr, tc->msg);
    /* A refused value leaves the field as it was, and unset. */
    if (tc->err == QUIRE_ERR_CONF_INVALID) {
        render(&c, tc->key, after, sizeof(after));
        ck_assert_str_eq(after, before);
        ck_assert_int_eq(qr_conf_is_set(&table, &c, tc->key), 0);
    }
    qr_conf_free(&table, &c);
}
END_TEST

START_TEST(test_replace_frees)
{
    char errstr[256];
    tconf_t c;

    /* Strings and lists set again and again: LeakSanitizer checks that
     * every old value and the final ones are freed. */
    load_defaults(&c);
    for (int i = 0; i < 5; i++) {
        char v[32];
        snprintf(v, sizeof(v), "n%d", i);
        ck_assert_int_eq(
            qr_conf_set(&table, &c, "name", v, errstr, sizeof(errstr)),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(
            qr_conf_set(&table, &c, "client.id", v, errstr, sizeof(errstr)),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_conf_set(&table, &c, "log.dirs", "a,b,c,d,e,f",
                                     errstr, sizeof(errstr)),
                         QUIRE_ERR_NONE);
        /* a failed list set after a good one keeps the good one */
        ck_assert_int_eq(
            qr_conf_set(&table, &c, "log.dirs", "x,,y", errstr, sizeof(errstr)),
            QUIRE_ERR_CONF_INVALID);
        ck_assert_int_eq(qr_conf_set(&table, &c, "bootstrap", "a,b,c", errstr,
                                     sizeof(errstr)),
                         QUIRE_ERR_CONF_INVALID);
    }
    assert_field(&c, "name", "n4");
    assert_field(&c, "log.dirs", "a|b|c|d|e|f");
    qr_conf_free(&table, &c);
    ck_assert_ptr_null(c.name);
    ck_assert_ptr_null(c.client);
    ck_assert_ptr_null(c.dirs.v);
    ck_assert_uint_eq(c.dirs.n, 0);
    /* Freeing twice (or a NULL object) is harmless. */
    qr_conf_free(&table, &c);
    qr_conf_free(&table, NULL);
}
END_TEST

START_TEST(test_required)
{
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(qr_conf_check_required(&table, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr, "broker.id: missing required configuration key");
    ck_assert_int_eq(
        qr_conf_set(&table, &c, "broker.id", "3", errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_conf_check_required(&table, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(c.id, 3);
    qr_conf_free(&table, &c);
}
END_TEST

START_TEST(test_nullable)
{
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(qr_conf_is_set(&table, &c, "log.retention.ms"), 0);
    ck_assert_int_eq(c.ret_null, -1);
    /* Set explicitly to the same -1: now it counts as given. */
    ck_assert_int_eq(qr_conf_set(&table, &c, "log.retention.ms", "-1", errstr,
                                 sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_conf_is_set(&table, &c, "log.retention.ms"), 1);
    ck_assert_int_eq(c.ret_null, -1);
    /* An empty string is a value for a nullable string, not NULL. */
    ck_assert_int_eq(
        qr_conf_set(&table, &c, "client.id", "", errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_ptr_nonnull(c.client);
    ck_assert_str_eq(c.client, "");
    qr_conf_free(&table, &c);
}
END_TEST

/* A table of 70 props, so the set bitmap spans two words. */
#define WIDE 70
typedef struct wide {
    int v[WIDE];
    uint64_t set[QR_CONF_SET_WORDS(WIDE)];
} wide_t;

START_TEST(test_set_bitmap_wide)
{
    static char names[WIDE][16];
    qr_conf_prop_t wprops[WIDE];
    qr_conf_table_t wtable = {"wide", wprops, WIDE, offsetof(wide_t, set)};
    char errstr[256];
    wide_t w;

    ck_assert_uint_eq(QR_CONF_SET_WORDS(WIDE), 2);
    ck_assert_uint_eq(QR_CONF_SET_WORDS(64), 1);
    ck_assert_uint_eq(QR_CONF_SET_WORDS(65), 2);
    for (int i = 0; i < WIDE; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        wprops[i] =
            (qr_conf_prop_t){names[i],
                             QR_CONF_INT,
                             offsetof(wide_t, v) + (size_t)i * sizeof(int),
                             "7",
                             1,
                             0,
                             NULL,
                             0,
                             "x"};
    }
    memset(&w, 0xff, sizeof(w)); /* defaults must clear the bitmap */
    ck_assert_int_eq(qr_conf_defaults(&wtable, &w, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(w.set[0], 0);
    ck_assert_uint_eq(w.set[1], 0);
    for (int i = 0; i < WIDE; i += 3)
        ck_assert_int_eq(
            qr_conf_set(&wtable, &w, names[i], "1", errstr, sizeof(errstr)),
            QUIRE_ERR_NONE);
    for (int i = 0; i < WIDE; i++) {
        ck_assert_int_eq(qr_conf_is_set(&wtable, &w, names[i]), i % 3 == 0);
        ck_assert_int_eq(w.v[i], i % 3 == 0 ? 1 : 7);
    }
    ck_assert_uint_eq(w.set[1] >> (WIDE - 64), 0);
    qr_conf_free(&wtable, &w);
}
END_TEST

START_TEST(test_bad_default)
{
    static const qr_conf_prop_t bprops[] = {
        {"ok", QR_CONF_STRING, 0, "x", 1, 0, NULL, 0, "fine"},
        {"broken", QR_CONF_INT, sizeof(char *), "lots", 1, 0, NULL, 0, "no"},
    };
    struct {
        char *s;
        int i;
        uint64_t set[1];
    } b;
    qr_conf_table_t btable = {"b", bprops, 2, offsetof(__typeof__(b), set)};
    char errstr[256] = "";

    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(qr_conf_defaults(&btable, &b, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(errstr, "broken: expected an integer, got 'lots'");
    qr_conf_free(&btable, &b);
}
END_TEST

/* ---- files ---- */

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/check_conf.XXXXXX");
    int fd = mkstemp(path);
    size_t len = strlen(text);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void expect_file_error(const char *text, quire_err_t err, int line,
                              const char *msg)
{
    char *path = write_temp(text);
    char errstr[512] = "", want[600];
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(
        qr_conf_load_file(&table, &c, path, errstr, sizeof(errstr)), err);
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
    ck_assert_str_eq(errstr, want);
    qr_conf_free(&table, &c);
    unlink(path);
    free(path);
}

START_TEST(test_file_good)
{
    char *path = write_temp("# a test file\n"
                            "broker.id = 4\r\n"
                            "log.dirs=/d1,\\\n"
                            "         /d2\n"
                            "name = first\n"
                            "  ! comment\n"
                            "name : second\n"
                            "compression.type lz4\n"
                            "auto.create=FALSE\n"
                            "client.id=\\u00e9t\\u00e9\n"
                            "segment.bytes=1048576\n"
                            "bootstrap=h:9,h:8\n"
                            "bootstrap=h:1\n");
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(
        qr_conf_load_file(&table, &c, path, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(c.id, 4);
    assert_field(&c, "log.dirs", "/d1|/d2");
    /* a key given twice: the later wins */
    ck_assert_str_eq(c.name, "second");
    ck_assert_int_eq(c.comp, 2);
    ck_assert_int_eq(c.autoc, 0);
    ck_assert_str_eq(c.client, "\xc3\xa9t\xc3\xa9");
    ck_assert_int_eq(c.seg, 1048576);
    assert_field(&c, "bootstrap", "h:1");
    ck_assert_int_eq(qr_conf_check_required(&table, &c, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    /* set bitmap: exactly the keys of the file */
    static const char *const given[] = {
        "broker.id",   "log.dirs",  "name",          "compression.type",
        "auto.create", "client.id", "segment.bytes", "bootstrap"};
    for (size_t i = 0; i < table.count; i++) {
        int want = 0;
        for (size_t j = 0; j < sizeof(given) / sizeof(given[0]); j++)
            if (strcmp(given[j], props[i].name) == 0)
                want = 1;
        ck_assert_int_eq(qr_conf_is_set(&table, &c, props[i].name), want);
    }
    ck_assert_int_eq(c.threads, 16); /* untouched default */
    qr_conf_free(&table, &c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_file_errors)
{
    expect_file_error("broker.id=1\n\n"
                      "log.dirz=/x\n",
                      QUIRE_ERR_CONF_UNKNOWN, 3,
                      "log.dirz: unknown configuration key");
    expect_file_error("# comment\nbroker.id=1\nlog.dirs=/a,\\\n  /b\n"
                      "\n\n\n\n\n\n\n"
                      "segment.bytes=10\n",
                      QUIRE_ERR_CONF_INVALID, 12,
                      "segment.bytes: must be between 14 and 2147483647, "
                      "got 10");
    expect_file_error("num.threads=\\\n   12\n", QUIRE_ERR_CONF_INVALID, 1,
                      "num.threads: must be between 14 and 1000, got 12");
    expect_file_error("a.b\\\n.c=1", QUIRE_ERR_CONF_UNKNOWN, 1,
                      "a.b.c: unknown configuration key");
    expect_file_error("x\r\nauto.create=yes\r\n", QUIRE_ERR_CONF_UNKNOWN, 1,
                      "x: unknown configuration key");
    expect_file_error("name=ok\r\nauto.create=yes\r\n", QUIRE_ERR_CONF_INVALID,
                      2, "auto.create: expected true or false, got 'yes'");
    expect_file_error("plain=99999999999\n", QUIRE_ERR_CONF_INVALID, 1,
                      "plain: integer out of range, got '99999999999'");
    expect_file_error("plain=12 # no trailing comments\n",
                      QUIRE_ERR_CONF_INVALID, 1,
                      "plain: expected an integer, got "
                      "'12 # no trailing comments'");
    /* A props-level error has no key in it. */
    expect_file_error("name=a\nname=\\u00zz\n", QUIRE_ERR_CONF_INVALID, 2,
                      "malformed \\uxxxx encoding");
}
END_TEST

START_TEST(test_file_first_error_stops)
{
    char *path = write_temp("name=before\nplain=x\nclient.id=after\n");
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(
        qr_conf_load_file(&table, &c, path, errstr, sizeof(errstr)),
        QUIRE_ERR_CONF_INVALID);
    ck_assert_str_eq(c.name, "before");
    ck_assert_ptr_null(c.client);
    qr_conf_free(&table, &c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_file_missing)
{
    char errstr[256] = "";
    tconf_t c;

    load_defaults(&c);
    ck_assert_int_eq(qr_conf_load_file(&table, &c, "/nonexistent/s.properties",
                                       errstr, sizeof(errstr)),
                     QUIRE_ERR_IO);
    ck_assert_str_eq(errstr,
                     "/nonexistent/s.properties: No such file or directory");
    qr_conf_free(&table, &c);
}
END_TEST

/* ---- help and man ---- */

static char *capture(void (*fn)(const qr_conf_table_t *, FILE *),
                     const qr_conf_table_t *t)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    ck_assert_ptr_nonnull(fp);
    fn(t, fp);
    fclose(fp);
    return out;
}

START_TEST(test_help)
{
    char *out = capture(qr_conf_print_help, &table);

    ck_assert_ptr_nonnull(strstr(out, "Keys of test.properties:\n"));
    ck_assert_ptr_nonnull(strstr(
        out, "\nsegment.bytes\n    type: size; default: 1073741824; "
             "range: 14 to 2147483647\n    The maximum size of a segment.\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\ncompression.type\n    type: enum; default: gzip; "
                    "values: none, gzip, lz4, zstd\n    Codec.\n"));
    ck_assert_ptr_nonnull(strstr(
        out, "\nnum.threads\n    type: int; default: 16; range: 14 to 1000; "
             "restart\n"));
    ck_assert_ptr_nonnull(strstr(
        out, "\nauto.create\n    type: bool; default: true; reloadable\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\nbroker.id\n    type: int; default: none (required); "
                    "range: 0 to 2147483647\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\nclient.id\n    type: string; default: unset\n"));
    ck_assert_ptr_nonnull(strstr(out,
                                 "\nbootstrap\n    type: list; default: unset; "
                                 "items: 1 to 2\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\nlog.dirs\n    type: list; default: /tmp/a, /tmp/b\n"));
    /* every key is there */
    for (size_t i = 0; i < table.count; i++) {
        char want[128];
        snprintf(want, sizeof(want), "\n%s\n    type: %s;", props[i].name,
                 qr_conf_type2str(props[i].type));
        ck_assert_msg(strstr(out, want), "missing %s", props[i].name);
    }
    free(out);
}
END_TEST

START_TEST(test_man)
{
    static const char *const vals[] = {"a", "b", NULL};
    static const qr_conf_prop_t mprops[] = {
        {"log.segment.bytes", QR_CONF_SIZE, 0, "1073741824", 14, INT_MAX, NULL,
         0, "Segment size."},
        {"mode", QR_CONF_ENUM, 8, "a", 1, 0, vals, QR_CONF_F_RESTART,
         ".dotted \\ doc"},
        {"sep", QR_CONF_STRING, 16, "", 1, 0, NULL, 0, "Separator."},
    };
    qr_conf_table_t mtable = {"m", mprops, 3, 24};
    char *out = capture(qr_conf_print_man, &mtable);

    ck_assert_str_eq(out, ".TP\n.B log.segment.bytes\n"
                          "Segment size. (size; default: 1073741824; "
                          "range: 14 to 2147483647)\n"
                          ".TP\n.B mode\n"
                          "\\&.dotted \\e doc (enum; default: a; "
                          "values: a, b; restart)\n"
                          ".TP\n.B sep\n"
                          "Separator. (string; default: \"\")\n");
    free(out);

    /* The real table: one .TP per key, in table order. */
    out = capture(qr_conf_print_man, &table);
    const char *p = out;
    for (size_t i = 0; i < table.count; i++) {
        char want[128];
        snprintf(want, sizeof(want), ".TP\n.B %s\n", props[i].name);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "missing or out of order: %s", props[i].name);
        p++;
    }
    ck_assert_ptr_null(strstr(p, ".TP"));
    free(out);
}
END_TEST

START_TEST(test_find)
{
    ck_assert_ptr_eq(qr_conf_find(&table, "segment.bytes"), &props[7]);
    ck_assert_ptr_null(qr_conf_find(&table, "segment"));
    ck_assert_str_eq(qr_conf_type2str(QR_CONF_DURATION_MS), "duration_ms");
    ck_assert_str_eq(qr_conf_type2str(QR_CONF_TYPE_COUNT), "?");
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("values");

    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_good_set, 0,
                        (int)(sizeof(good_sets) / sizeof(good_sets[0])));
    tcase_add_loop_test(tc, test_bad_set, 0,
                        (int)(sizeof(bad_sets) / sizeof(bad_sets[0])));
    tcase_add_test(tc, test_replace_frees);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_nullable);
    tcase_add_test(tc, test_set_bitmap_wide);
    tcase_add_test(tc, test_bad_default);
    tcase_add_test(tc, test_find);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_set_tags(tc, "unit");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_file_good);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_file_first_error_stops);
    tcase_add_test(tc, test_file_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("docs");
    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_man);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
