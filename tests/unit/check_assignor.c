/*
 * check_assignor: the range, roundrobin and sticky strategies (DESIGN.md
 * §6): Kafka's documented examples, uneven subscriptions, bad input, and
 * properties over random inputs (every partition of a subscribed topic
 * assigned exactly once to a subscribed member, balance bounds, stickiness
 * as minimal movement, the same answer from a half-applied rebalance).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "assignor.h"

#define MAXM 24
#define MAXT 6
#define MAXP 4096

/* One test input with its storage. */
typedef struct fix {
    qr_asg_topic_t topics[MAXT];
    char tnames[MAXT][8];
    const char *members[MAXM];
    char mnames[MAXM][12];
    uint8_t subs[MAXM * MAXT];
    int32_t prev[MAXP];
    int32_t owner[MAXP];
    qr_asg_in_t in;
} fix_t;

static void fix_init(fix_t *f, size_t mc, size_t tc, const int32_t *parts)
{
    memset(f, 0, sizeof(*f));
    for (size_t t = 0; t < tc; t++) {
        snprintf(f->tnames[t], sizeof(f->tnames[t]), "t%zu", t);
        f->topics[t].name = f->tnames[t];
        f->topics[t].part_cnt = parts[t];
    }
    for (size_t m = 0; m < mc; m++) {
        snprintf(f->mnames[m], sizeof(f->mnames[m]),
                 mc <= 10 ? "C%zu" : "C%02zu", m);
        f->members[m] = f->mnames[m];
        for (size_t t = 0; t < tc; t++)
            f->subs[m * tc + t] = 1;
    }
    for (size_t p = 0; p < MAXP; p++)
        f->prev[p] = -1;
    f->in.topics = f->topics;
    f->in.topic_cnt = tc;
    f->in.members = f->members;
    f->in.member_cnt = mc;
    f->in.subs = f->subs;
    f->in.prev = NULL;
}

static void run(qr_assignor_kind_t kind, fix_t *f)
{
    char errstr[256] = "";
    ck_assert_uint_le(qr_asg_part_total(&f->in), MAXP);
    quire_err_t err =
        qr_assignor_run(kind, &f->in, f->owner, errstr, sizeof(errstr));
    ck_assert_msg(err == QUIRE_ERR_NONE, "%s", errstr);
}

/* "C0[t0p0 t0p2] C1[t0p1]": Kafka's javadoc notation, members in order. */
static void render(const fix_t *f, char *out, size_t size)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t m = 0; m < f->in.member_cnt; m++) {
        off += (size_t)snprintf(out + off, size - off, "%s%s[", m ? " " : "",
                                f->members[m]);
        int first = 1;
        for (size_t t = 0, p = 0; t < f->in.topic_cnt; t++) {
            for (int32_t i = 0; i < f->topics[t].part_cnt; i++, p++) {
                if (f->owner[p] != (int32_t)m)
                    continue;
                off += (size_t)snprintf(out + off, size - off, "%s%sp%d",
                                        first ? "" : " ", f->tnames[t], (int)i);
                first = 0;
            }
        }
        off += (size_t)snprintf(out + off, size - off, "]");
    }
}

static void expect(const fix_t *f, const char *want)
{
    char got[2048];
    render(f, got, sizeof(got));
    ck_assert_str_eq(got, want);
}

/* ---- names ---- */

START_TEST(test_names)
{
    qr_assignor_kind_t k;
    ck_assert_int_eq(qr_assignor_parse("range", &k), 0);
    ck_assert_int_eq(k, QR_ASSIGNOR_RANGE);
    ck_assert_int_eq(qr_assignor_parse("roundrobin", &k), 0);
    ck_assert_int_eq(k, QR_ASSIGNOR_ROUNDROBIN);
    ck_assert_int_eq(qr_assignor_parse("sticky", &k), 0);
    ck_assert_int_eq(k, QR_ASSIGNOR_STICKY);
    ck_assert_int_eq(qr_assignor_parse("Range", &k), -1);
    ck_assert_int_eq(qr_assignor_parse("", &k), -1);
    ck_assert_int_eq(qr_assignor_parse(NULL, &k), -1);
    for (int i = 0; i < QR_ASSIGNOR_COUNT; i++) {
        ck_assert_int_eq(qr_assignor_parse(qr_assignor_name(i), &k), 0);
        ck_assert_int_eq(k, i);
    }
    ck_assert_str_eq(qr_assignor_name(QR_ASSIGNOR_COUNT), "?");
    ck_assert_str_eq(qr_assignor_name((qr_assignor_kind_t)-1), "?");
}
END_TEST

/* ---- bad input: one test per case ---- */

static void spoil(fix_t *f, int i)
{
    switch (i) {
    case 0: /* members out of order */
        f->members[0] = "C9";
        break;
    case 1: /* duplicate member */
        f->members[1] = f->members[0];
        break;
    case 2:
        f->members[2] = NULL;
        break;
    case 3: /* topics out of order */
        f->topics[0].name = "zz";
        break;
    case 4:
        f->topics[1].name = NULL;
        break;
    case 5:
        f->topics[1].part_cnt = -1;
        break;
    case 6: /* too many partitions in all */
        f->topics[0].part_cnt = QR_ASG_MAX_PARTITIONS;
        break;
    case 7:
        f->in.subs = NULL;
        break;
    case 8:
        f->in.prev = f->prev;
        f->prev[3] = 3; /* only 3 members */
        break;
    case 9:
        f->in.prev = f->prev;
        f->prev[0] = -2;
        break;
    case 10:
        f->in.member_cnt = QR_ASG_MAX_MEMBERS + 1;
        break;
    case 11:
        f->in.members = NULL;
        break;
    case 12:
        f->in.topics = NULL;
        break;
    case 13: /* duplicate topic */
        f->topics[1].name = f->topics[0].name;
        break;
    }
}
#define SPOIL_CASES 14

START_TEST(test_bad_input)
{
    static const int32_t parts[] = {3, 4};
    fix_t f;
    fix_init(&f, 3, 2, parts);
    spoil(&f, _i);
    for (int k = 0; k < QR_ASSIGNOR_COUNT; k++) {
        char errstr[256] = "";
        ck_assert_int_eq(
            qr_assignor_run(k, &f.in, f.owner, errstr, sizeof(errstr)),
            QUIRE_ERR_BAD_ARG);
        ck_assert_msg(errstr[0] != '\0', "no reason given");
    }
}
END_TEST

START_TEST(test_bad_kind)
{
    static const int32_t parts[] = {3};
    fix_t f;
    char errstr[256] = "";
    fix_init(&f, 2, 1, parts);
    ck_assert_int_eq(qr_assignor_run(QR_ASSIGNOR_COUNT, &f.in, f.owner, errstr,
                                     sizeof(errstr)),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_ptr_nonnull(strstr(errstr, "strategy"));
    ck_assert_int_eq(qr_assignor_check(NULL, errstr, sizeof(errstr)),
                     QUIRE_ERR_BAD_ARG);
}
END_TEST

START_TEST(test_empty)
{
    static const int32_t parts[] = {0, 5};
    fix_t f;
    for (int k = 0; k < QR_ASSIGNOR_COUNT; k++) {
        fix_init(&f, 0, 2, parts); /* no members: nobody owns anything */
        run(k, &f);
        for (int p = 0; p < 5; p++)
            ck_assert_int_eq(f.owner[p], -1);
        fix_init(&f, 2, 0, parts); /* no topics */
        run(k, &f);
        ck_assert_uint_eq(qr_asg_part_total(&f.in), 0);
    }
}
END_TEST

/* ---- range ---- */

START_TEST(test_range_kafka)
{
    /* RangeAssignor javadoc */
    static const int32_t parts[] = {3, 3};
    fix_t f;
    fix_init(&f, 2, 2, parts);
    run(QR_ASSIGNOR_RANGE, &f);
    expect(&f, "C0[t0p0 t0p1 t1p0 t1p1] C1[t0p2 t1p2]");
}
END_TEST

START_TEST(test_range_arith)
{
    /* 10 partitions over 3: 4, 3, 3; 2 over 3: 1, 1, 0 */
    static const int32_t parts[] = {10, 2};
    fix_t f;
    fix_init(&f, 3, 2, parts);
    run(QR_ASSIGNOR_RANGE, &f);
    expect(&f, "C0[t0p0 t0p1 t0p2 t0p3 t1p0] C1[t0p4 t0p5 t0p6 t1p1] "
               "C2[t0p7 t0p8 t0p9]");
}
END_TEST

START_TEST(test_range_uneven)
{
    /* C0 on t0; C1 on t0, t1; C2 on t1, t2; nobody on t3 */
    static const int32_t parts[] = {3, 5, 2, 4};
    fix_t f;
    fix_init(&f, 3, 4, parts);
    memset(f.subs, 0, sizeof(f.subs));
    f.subs[0 * 4 + 0] = 1;
    f.subs[1 * 4 + 0] = f.subs[1 * 4 + 1] = 1;
    f.subs[2 * 4 + 1] = f.subs[2 * 4 + 2] = 1;
    run(QR_ASSIGNOR_RANGE, &f);
    expect(&f, "C0[t0p0 t0p1] C1[t0p2 t1p0 t1p1 t1p2] C2[t1p3 t1p4 t2p0 "
               "t2p1]");
    for (int p = 10; p < 14; p++)
        ck_assert_int_eq(f.owner[p], -1);
}
END_TEST

/* ---- roundrobin ---- */

START_TEST(test_roundrobin_kafka)
{
    static const int32_t parts[] = {3, 3};
    fix_t f;
    fix_init(&f, 2, 2, parts);
    run(QR_ASSIGNOR_ROUNDROBIN, &f);
    expect(&f, "C0[t0p0 t0p2 t1p1] C1[t0p1 t1p0 t1p2]");
}
END_TEST

START_TEST(test_roundrobin_kafka_uneven)
{
    /* RoundRobinAssignor javadoc, different subscriptions */
    static const int32_t parts[] = {1, 2, 3};
    fix_t f;
    fix_init(&f, 3, 3, parts);
    memset(f.subs, 0, sizeof(f.subs));
    f.subs[0 * 3 + 0] = 1;
    f.subs[1 * 3 + 0] = f.subs[1 * 3 + 1] = 1;
    f.subs[2 * 3 + 0] = f.subs[2 * 3 + 1] = f.subs[2 * 3 + 2] = 1;
    run(QR_ASSIGNOR_ROUNDROBIN, &f);
    expect(&f, "C0[t0p0] C1[t1p0] C2[t1p1 t2p0 t2p1 t2p2]");
}
END_TEST

/* ---- sticky ---- */

static void set_prev(fix_t *f, int32_t m, const int *flat, size_t n)
{
    f->in.prev = f->prev;
    for (size_t i = 0; i < n; i++)
        f->prev[flat[i]] = m;
}

START_TEST(test_sticky_kafka)
{
    /* StickyAssignor javadoc: t0..t3 with 2 partitions each, C0, C1, C2
     * own [t0p0 t1p1 t3p0], [t0p1 t2p0 t3p1], [t1p0 t2p1]; C1 leaves. The
     * survivors keep everything and split C1's three partitions. */
    static const int32_t parts[] = {2, 2, 2, 2};
    static const int c0[] = {0, 3, 6}, c2[] = {2, 5};
    fix_t f;
    fix_init(&f, 2, 4, parts);
    f.members[1] = "C2";
    set_prev(&f, 0, c0, 3);
    set_prev(&f, 1, c2, 2);
    run(QR_ASSIGNOR_STICKY, &f);
    expect(&f, "C0[t0p0 t0p1 t1p1 t3p0] C2[t1p0 t2p0 t2p1 t3p1]");
}
END_TEST

START_TEST(test_sticky_fresh)
{
    /* nothing owned yet: contiguous blocks, the extras to the first */
    static const int32_t parts[] = {4, 4};
    fix_t f;
    fix_init(&f, 3, 2, parts);
    run(QR_ASSIGNOR_STICKY, &f);
    expect(&f, "C0[t0p0 t0p1 t0p2] C1[t0p3 t1p0 t1p1] C2[t1p2 t1p3]");
}
END_TEST

START_TEST(test_sticky_extra_to_holder)
{
    /* 7 partitions, C0 holds 1, C1 holds 6; C2 joins. Quotas 3/2/2 would
     * cost 4 moves; giving the extra to C1 (which holds more than 2)
     * costs 3, the minimum. */
    static const int32_t parts[] = {7};
    static const int c0[] = {0}, c1[] = {1, 2, 3, 4, 5, 6};
    fix_t f;
    fix_init(&f, 3, 1, parts);
    set_prev(&f, 0, c0, 1);
    set_prev(&f, 1, c1, 6);
    run(QR_ASSIGNOR_STICKY, &f);
    expect(&f, "C0[t0p0 t0p4] C1[t0p1 t0p2 t0p3] C2[t0p5 t0p6]");
}
END_TEST

START_TEST(test_sticky_uneven)
{
    /* the roundrobin javadoc's subscriptions: sticky balances better
     * (1, 2, 3 instead of 1, 1, 4) */
    static const int32_t parts[] = {1, 2, 3};
    fix_t f;
    fix_init(&f, 3, 3, parts);
    memset(f.subs, 0, sizeof(f.subs));
    f.subs[0 * 3 + 0] = 1;
    f.subs[1 * 3 + 0] = f.subs[1 * 3 + 1] = 1;
    f.subs[2 * 3 + 0] = f.subs[2 * 3 + 1] = f.subs[2 * 3 + 2] = 1;
    run(QR_ASSIGNOR_STICKY, &f);
    expect(&f, "C0[t0p0] C1[t1p0 t1p1] C2[t2p0 t2p1 t2p2]");
    /* and it keeps a previous owner where that stays balanced */
    static const int c2[] = {1};
    set_prev(&f, 2, c2, 1);
    run(QR_ASSIGNOR_STICKY, &f);
    ck_assert_int_eq(f.owner[1], 2);
}
END_TEST

/* ---- properties over random inputs ---- */

typedef struct rng {
    unsigned s;
} rng_t;

static unsigned rnd(rng_t *r, unsigned n)
{
    r->s = r->s * 1103515245u + 12345u;
    return ((r->s >> 8) & 0xffffff) % n;
}

/* Random group: 1..MAXM members, 1..MAXT topics of 0..40 partitions,
 * uniform subscriptions when @p uniform, random prev (some owners gone). */
static void random_fix(fix_t *f, rng_t *r, int uniform)
{
    int32_t parts[MAXT];
    size_t tc = 1 + rnd(r, MAXT), mc = 1 + rnd(r, MAXM);
    for (size_t t = 0; t < tc; t++)
        parts[t] = (int32_t)rnd(r, 41);
    fix_init(f, mc, tc, parts);
    for (size_t m = 0; m < mc; m++)
        for (size_t t = 0; t < tc; t++)
            f->subs[m * tc + t] =
                uniform ? (uint8_t)(t != 0 || tc == 1) : (uint8_t)rnd(r, 2);
    f->in.prev = rnd(r, 4) ? f->prev : NULL;
    size_t total = qr_asg_part_total(&f->in);
    for (size_t p = 0; p < total; p++)
        f->prev[p] = (int32_t)rnd(r, (unsigned)mc + 2) - 2 < 0
                         ? -1
                         : (int32_t)rnd(r, (unsigned)mc);
}

static size_t topic_of(const fix_t *f, size_t p)
{
    size_t t = 0;
    while (p >= (size_t)f->topics[t].part_cnt)
        p -= (size_t)f->topics[t++].part_cnt;
    return t;
}

/* Every partition of a topic someone subscribes to has exactly one owner,
 * a subscriber; other partitions have none. */
static void check_complete(const fix_t *f)
{
    size_t total = qr_asg_part_total(&f->in), tc = f->in.topic_cnt;
    for (size_t p = 0; p < total; p++) {
        size_t t = topic_of(f, p);
        int any = 0;
        for (size_t m = 0; m < f->in.member_cnt; m++)
            any |= f->subs[m * tc + t];
        if (!any) {
            ck_assert_int_eq(f->owner[p], -1);
            continue;
        }
        ck_assert_int_ge(f->owner[p], 0);
        ck_assert_int_lt(f->owner[p], (int)f->in.member_cnt);
        ck_assert_msg(f->subs[(size_t)f->owner[p] * tc + t],
                      "partition %zu given to %d, not subscribed", p,
                      (int)f->owner[p]);
    }
}

static void counts(const fix_t *f, size_t *cnt, long topic)
{
    size_t total = qr_asg_part_total(&f->in);
    memset(cnt, 0, MAXM * sizeof(*cnt));
    for (size_t p = 0; p < total; p++)
        if (f->owner[p] >= 0 && (topic < 0 || topic_of(f, p) == (size_t)topic))
            cnt[f->owner[p]]++;
}

/* Counts of the members subscribed to @p topic (-1: to the first
 * subscribed topic of member 0, i.e. all, with uniform subscriptions)
 * differ by at most one. */
static void check_balanced(const fix_t *f, long topic)
{
    size_t cnt[MAXM], lo = (size_t)-1, hi = 0, tc = f->in.topic_cnt;
    counts(f, cnt, topic);
    for (size_t m = 0; m < f->in.member_cnt; m++) {
        if (topic >= 0 && !f->subs[m * tc + (size_t)topic])
            continue;
        lo = cnt[m] < lo ? cnt[m] : lo;
        hi = cnt[m] > hi ? cnt[m] : hi;
    }
    ck_assert_msg(hi <= lo + 1, "unbalanced: %zu .. %zu", lo, hi);
}

START_TEST(test_prop_complete)
{
    for (int seed = _i * 10; seed < _i * 10 + 10; seed++) {
        rng_t r = {(unsigned)seed * 7919u + 1};
        fix_t *f = qr_malloc(sizeof(*f));
        int32_t first[MAXP];
        random_fix(f, &r, seed % 2);
        size_t total = qr_asg_part_total(&f->in);
        for (int k = 0; k < QR_ASSIGNOR_COUNT; k++) {
            run(k, f);
            check_complete(f);
            /* deterministic: the same input gives the same answer */
            memcpy(first, f->owner, total * sizeof(*first));
            run(k, f);
            ck_assert_int_eq(memcmp(first, f->owner, total * sizeof(*first)),
                             0);
        }
        free(f);
    }
}

END_TEST

START_TEST(test_prop_balance)
{
    for (int seed = _i * 10; seed < _i * 10 + 10; seed++) {
        rng_t r = {(unsigned)seed * 104729u + 3};
        fix_t *f = qr_malloc(sizeof(*f));
        random_fix(f, &r, 1);
        /* range: balanced per topic whatever the subscriptions */
        run(QR_ASSIGNOR_RANGE, f);
        for (size_t t = 0; t < f->in.topic_cnt; t++)
            check_balanced(f, (long)t);
        /* roundrobin and sticky: balanced over everything with equal
         * subscriptions */
        run(QR_ASSIGNOR_ROUNDROBIN, f);
        check_balanced(f, -1);
        run(QR_ASSIGNOR_STICKY, f);
        check_balanced(f, -1);
        random_fix(f, &r, 0);
        run(QR_ASSIGNOR_RANGE, f);
        for (size_t t = 0; t < f->in.topic_cnt; t++)
            check_balanced(f, (long)t);
        free(f);
    }
}

END_TEST

/* With equal subscriptions, sticky moves exactly the minimum any balanced
 * assignment must: each member's excess over n/M, less one for each of the
 * n%M extras that can go to a member holding more than n/M. */
START_TEST(test_prop_sticky_minimal)
{
    for (int seed = _i * 10; seed < _i * 10 + 10; seed++) {
        rng_t r = {(unsigned)seed * 15485863u + 5};
        fix_t *f = qr_malloc(sizeof(*f));
        random_fix(f, &r, 1);
        f->in.prev = f->prev;
        size_t total = qr_asg_part_total(&f->in), mc = f->in.member_cnt;
        size_t tc = f->in.topic_cnt, held[MAXM] = {0}, n = 0;
        for (size_t p = 0; p < total; p++) {
            if (!f->subs[topic_of(f, p)])
                continue; /* member 0's row is everyone's */
            n++;
            if (f->prev[p] >= 0)
                held[f->prev[p]]++;
        }
        size_t per = n / mc, extra = n % mc, excess = 0, over = 0;
        for (size_t m = 0; m < mc; m++) {
            excess += held[m] > per ? held[m] - per : 0;
            over += held[m] > per;
        }
        size_t bound = excess - (over < extra ? over : extra);
        run(QR_ASSIGNOR_STICKY, f);
        check_balanced(f, -1);
        size_t moved = 0;
        for (size_t p = 0; p < total; p++)
            moved += f->subs[topic_of(f, p)] && f->prev[p] >= 0 &&
                     f->owner[p] != f->prev[p];
        ck_assert_msg(moved == bound, "moved %zu, minimum %zu (tc %zu)", moved,
                      bound, tc);
        free(f);
    }
}

END_TEST

/* A member may read the owner nodes half-way through a rebalance: some
 * partitions that move already released, some already claimed by their
 * new owner. With equal subscriptions it must compute the same answer. */
START_TEST(test_prop_sticky_halfway)
{
    for (int seed = _i * 10; seed < _i * 10 + 10; seed++) {
        rng_t r = {(unsigned)seed * 32452843u + 7};
        fix_t *f = qr_malloc(sizeof(*f));
        int32_t target[MAXP];
        random_fix(f, &r, 1);
        f->in.prev = f->prev;
        size_t total = qr_asg_part_total(&f->in);
        run(QR_ASSIGNOR_STICKY, f);
        memcpy(target, f->owner, total * sizeof(*target));
        for (int round = 0; round < 8; round++) {
            int32_t before[MAXP];
            memcpy(before, f->prev, total * sizeof(*before));
            for (size_t p = 0; p < total; p++) {
                if (target[p] == before[p])
                    continue;
                switch (rnd(&r, 3)) {
                case 0: /* not released yet */
                    f->prev[p] = before[p];
                    break;
                case 1: /* released, not yet claimed */
                    f->prev[p] = -1;
                    break;
                default: /* claimed by its new owner */
                    f->prev[p] = target[p];
                    break;
                }
            }
            run(QR_ASSIGNOR_STICKY, f);
            ck_assert_int_eq(memcmp(target, f->owner, total * sizeof(*target)),
                             0);
            memcpy(f->prev, before, total * sizeof(*before));
        }
        free(f);
    }
}

END_TEST

static Suite *assignor_suite(void)
{
    Suite *s = suite_create("assignor");
    TCase *tc = tcase_create("examples");
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_bad_input, 0, SPOIL_CASES);
    tcase_add_test(tc, test_bad_kind);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_range_kafka);
    tcase_add_test(tc, test_range_arith);
    tcase_add_test(tc, test_range_uneven);
    tcase_add_test(tc, test_roundrobin_kafka);
    tcase_add_test(tc, test_roundrobin_kafka_uneven);
    tcase_add_test(tc, test_sticky_kafka);
    tcase_add_test(tc, test_sticky_fresh);
    tcase_add_test(tc, test_sticky_extra_to_holder);
    tcase_add_test(tc, test_sticky_uneven);
    suite_add_tcase(s, tc);
    tc = tcase_create("properties");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_prop_complete, 0, 30);
    tcase_add_loop_test(tc, test_prop_balance, 0, 30);
    tcase_add_loop_test(tc, test_prop_sticky_minimal, 0, 30);
    tcase_add_loop_test(tc, test_prop_sticky_halfway, 0, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(assignor_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
