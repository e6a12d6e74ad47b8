/*
 * quire-consumer-groups: list, describe, reset and delete consumer groups
 * (issue 7, item 6; man/quire-consumer-groups.1). Groups live in ZooKeeper
 * under Kafka's layout (coordinator/group.h); log-end and earliest offsets
 * come from the partition leaders through libquire's simple consumer
 * (assigned at END or BEGINNING, whose position the consumer resolves with
 * ListOffsets).
 */
#include "config.h"

#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "clock.h"
#include "clientcli.h"
#include "group.h"
#include "quire.h"
#include "topic.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

#define PROG       "quire-consumer-groups"
#define TIMEOUT_MS 10000
#define MAX_PARTS  100000

typedef enum action {
    ACT_NONE,
    ACT_LIST,
    ACT_DESCRIBE,
    ACT_RESET,
    ACT_DELETE
} action_t;

typedef enum reset_to {
    TO_NONE,
    TO_EARLIEST,
    TO_LATEST,
    TO_OFFSET,
    TO_SHIFT,
    TO_DATETIME
} reset_to_t;

typedef struct opts {
    action_t action;
    const char *group;
    const char *topic; /* T or T:P[,P...] */
    const char *zookeeper;
    const char *bootstrap;
    reset_to_t to;
    int64_t value; /* --to-offset N, --shift-by N, --to-datetime (ms) */
    int execute;
    int verbose;
    int all_groups; /* --all-groups: --describe or --reset-offsets each */
    int all_topics; /* --all-topics: every topic the group has offsets for */
} opts_t;

/* One partition of the group's view. */
typedef struct row {
    char *topic;
    int32_t partition;
    int64_t committed;        /* -1: none */
    char *owner;              /* NULL: none */
    int64_t earliest, latest; /* -1: unknown */
    int64_t target;           /* reset: the new offset */
    int64_t by_time;          /* --to-datetime: the leader's answer, -1 */
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
} rows_t;

static const struct option long_opts[] = {
    {"list", no_argument, NULL, 'L'},
    {"describe", no_argument, NULL, 'D'},
    {"reset-offsets", no_argument, NULL, 'R'},
    {"delete", no_argument, NULL, 'X'},
    {"group", required_argument, NULL, 'g'},
    {"all-groups", no_argument, NULL, 'a'},
    {"all-topics", no_argument, NULL, 'A'},
    {"topic", required_argument, NULL, 't'},
    {"to-earliest", no_argument, NULL, 'e'},
    {"to-latest", no_argument, NULL, 'l'},
    {"to-offset", required_argument, NULL, 'o'},
    {"shift-by", required_argument, NULL, 's'},
    {"to-datetime", required_argument, NULL, 'd'},
    {"dry-run", no_argument, NULL, 'n'},
    {"execute", no_argument, NULL, 'x'},
    {"zookeeper", required_argument, NULL, 'z'},
    {"bootstrap-server", required_argument, NULL, 'b'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
    printf("Usage: %s ACTION [OPTIONS]\n"
           "Actions:\n"
           "  --list                        the groups\n"
           "  --describe --group G          owners, committed and log-end "
           "offsets, lag, members\n"
           "  --reset-offsets --group G --topic T[:P[,P...]] (--to-earliest |"
           "\n      --to-latest | --to-offset N | --shift-by N |\n"
           "      --to-datetime YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM]) "
           "[--dry-run | --execute]\n"
           "  --delete --group G            remove a group without members\n"
           "  --all-groups                  instead of --group G, with "
           "--describe or\n"
           "                                --reset-offsets: every group\n"
           "  --all-topics                  instead of --topic, with "
           "--reset-offsets:\n"
           "                                every topic the group has "
           "offsets for\n"
           "Options:\n"
           "  --zookeeper H:P[/chroot]      default $QUIRE_ZOOKEEPER or %s\n"
           "  --bootstrap-server H:P[,...]  brokers for log-end offsets "
           "(default:\n"
           "                                the brokers registered in "
           "ZooKeeper)\n"
           "  --verbose, --help, --version\n",
           PROG, QR_CLI_ZOOKEEPER_DEFAULT);
}

static int set_action(opts_t *o, action_t a)
{
    if (o->action != ACT_NONE) {
        qr_cli_usage_error(PROG, "give exactly one of --list, --describe, "
                                 "--reset-offsets, --delete");
        return -1;
    }
    o->action = a;
    return 0;
}

/* --to-datetime: YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM|-HH:MM|+HHMM|-HHMM],
 * as Kafka's tool reads it (local time without a zone), in ms since the
 * epoch. @returns 0, or -1 for anything else. */
static int parse_datetime(const char *s, int64_t *msp)
{
    int y, mo, d, h, mi, sec, n = 0, ms = 0, zone = 0, has_zone = 0;
    struct tm tm;
    time_t t;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &n) != 6 ||
        n != 19)
        return -1;
    s += n;
    if (*s == '.') {
        int digits = 0;

        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*s - '0');
        if (digits == 0 || digits > 9)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (*s == 'Z') {
        has_zone = 1;
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1, zh, zm;

        if (sscanf(s + 1, "%2d:%2d%n", &zh, &zm, &n) == 2 && n == 5)
            s += 6;
        else if (s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
                 s[3] >= '0' && s[3] <= '9' && s[4] >= '0' && s[4] <= '9') {
            zh = (s[1] - '0') * 10 + (s[2] - '0');
            zm = (s[3] - '0') * 10 + (s[4] - '0');
            s += 5;
        } else
            return -1;
        if (zh > 23 || zm > 59)
            return -1;
        has_zone = 1;
        zone = sign * (zh * 3600 + zm * 60);
    }
    if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    t = has_zone ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* 31 April and the like */
        return -1;
    *msp = ((int64_t)t - zone) * 1000 + ms;
    return *msp >= 0 ? 0 : -1;
}

static int set_to(opts_t *o, reset_to_t to, const char *arg)
{
    if (o->to != TO_NONE) {
        qr_cli_usage_error(PROG, "give one --to-* or --shift-by");
        return -1;
    }
    o->to = to;
    if (to == TO_OFFSET &&
        qr_cli_parse_int(arg, 0, INT64_MAX, &o->value) != 0) {
        qr_cli_usage_error(PROG, "--to-offset \"%s\": expected an offset >= 0",
                           arg);
        return -1;
    }
    if (to == TO_SHIFT &&
        qr_cli_parse_int(arg, INT64_MIN + 1, INT64_MAX, &o->value) != 0) {
        qr_cli_usage_error(PROG, "--shift-by \"%s\": expected an integer", arg);
        return -1;
    }
    if (to == TO_DATETIME && parse_datetime(arg, &o->value) != 0) {
        qr_cli_usage_error(PROG,
                           "--to-datetime \"%s\": expected "
                           "YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM]",
                           arg);
        return -1;
    }
    return 0;
}

/* 0: go on; 1: done (help, version); -1: usage error */
static int parse_one(opts_t *o, int c)
{
    switch (c) {
    case 'L':
        return set_action(o, ACT_LIST);
    case 'D':
        return set_action(o, ACT_DESCRIBE);
    case 'R':
        return set_action(o, ACT_RESET);
    case 'X':
        return set_action(o, ACT_DELETE);
    case 'g':
        o->group = optarg;
        return 0;
    case 'a':
        o->all_groups = 1;
        return 0;
    case 'A':
        o->all_topics = 1;
        return 0;
    case 't':
        o->topic = optarg;
        return 0;
    case 'e':
        return set_to(o, TO_EARLIEST, NULL);
    case 'l':
        return set_to(o, TO_LATEST, NULL);
    case 'o':
        return set_to(o, TO_OFFSET, optarg);
    case 's':
        return set_to(o, TO_SHIFT, optarg);
    case 'd':
        return set_to(o, TO_DATETIME, optarg);
    case 'n':
        o->execute = 0;
        return 0;
    case 'x':
        o->execute = 1;
        return 0;
    case 'z':
        o->zookeeper = optarg;
        return 0;
    case 'b':
        o->bootstrap = optarg;
        return 0;
    case 'v':
        o->verbose = 1;
        return 0;
    case 'h':
        usage();
        return 1;
    case 'V':
        qr_cli_print_version(PROG);
        return 1;
    default:
        /* getopt named the option in one line (issue 18) */
        return -1;
    }
}

static int check_opts(const opts_t *o)
{
    if (o->action == ACT_NONE) {
        qr_cli_usage_error(PROG, "give one of --list, --describe, "
                                 "--reset-offsets, --delete");
        return -1;
    }
    if (o->all_groups &&
        (o->group || (o->action != ACT_DESCRIBE && o->action != ACT_RESET))) {
        qr_cli_usage_error(PROG, "--all-groups is for --describe and "
                                 "--reset-offsets, instead of --group");
        return -1;
    }
    if (o->action != ACT_LIST && !o->group && !o->all_groups) {
        qr_cli_usage_error(PROG, "--group is required here");
        return -1;
    }
    if (o->group && !qr_group_id_valid(o->group)) {
        qr_cli_usage_error(PROG, "invalid group id \"%.64s\"", o->group);
        return -1;
    }
    if (o->all_topics && (o->topic || o->action != ACT_RESET)) {
        qr_cli_usage_error(PROG, "--all-topics is for --reset-offsets, "
                                 "instead of --topic");
        return -1;
    }
    if (o->action == ACT_RESET &&
        (!(o->topic || o->all_topics) || o->to == TO_NONE)) {
        qr_cli_usage_error(PROG, "--reset-offsets needs --topic and one of "
                                 "--to-earliest, --to-latest, --to-offset, "
                                 "--to-datetime, --shift-by");
        return -1;
    }
    if (o->action != ACT_RESET && (o->to != TO_NONE || o->topic)) {
        qr_cli_usage_error(PROG, "--topic, --to-* and --shift-by are for "
                                 "--reset-offsets");
        return -1;
    }
    return 0;
}

/* ---- reading the group ---- */

static void rows_free(rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].topic);
        free(r->v[i].owner);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static row_t *rows_add(rows_t *r, const char *topic, int32_t p)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = qr_realloc(r->v, r->cap * sizeof(*r->v));
    }
    row_t *row = &r->v[r->n++];
    memset(row, 0, sizeof(*row));
    row->topic = qr_strdup(topic);
    row->partition = p;
    row->committed = row->earliest = row->latest = row->target = -1;
    row->by_time = -1;
    return row;
}

static int row_cmp(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c
             : (x->partition > y->partition) - (x->partition < y->partition);
}

static char *gpath(const char *group, const char *kind, const char *topic,
                   const char *part)
{
    size_t n = strlen(group) + strlen(kind) + (topic ? strlen(topic) : 0) +
               (part ? strlen(part) : 0) + 32;
    char *p = qr_malloc(n);
    if (!topic)
        snprintf(p, n, "/consumers/%s%s%s", group, *kind ? "/" : "", kind);
    else if (!part)
        snprintf(p, n, "/consumers/%s/%s/%s", group, kind, topic);
    else
        snprintf(p, n, "/consumers/%s/%s/%s/%s", group, kind, topic, part);
    return p;
}

/* Reads node @p path as a string; NULL when absent or empty. */
static char *get_str(qr_zk_t *zk, const char *path)
{
    qr_zk_sres_t res;
    char *out = NULL;
    if (qr_zk_sync_get(zk, path, TIMEOUT_MS, &res) == QUIRE_ERR_NONE &&
        res.data && res.len > 0)
        out = qr_strndup(res.data, (size_t)res.len);
    qr_zk_sres_free(&res);
    return out;
}

/* Every partition with a committed offset or an owner, sorted. */
static quire_err_t read_rows(qr_zk_t *zk, const char *group, rows_t *rows,
                             char *errstr, size_t errstr_size)
{
    static const char *const kinds[] = {"offsets", "owners"};
    for (size_t k = 0; k < 2; k++) {
        qr_zk_sres_t topics;
        char *path = gpath(group, kinds[k], NULL, NULL);
        quire_err_t err = qr_zk_sync_children(zk, path, TIMEOUT_MS, &topics);
        free(path);
        if (err == QUIRE_ERR_NOT_FOUND || topics.rc == ZNONODE) {
            qr_zk_sres_free(&topics);
            continue;
        }
        if (err != QUIRE_ERR_NONE) {
            snprintf(errstr, errstr_size, "reading %s: %s", kinds[k],
                     quire_err2str(err));
            qr_zk_sres_free(&topics);
            return err;
        }
        for (size_t t = 0; t < topics.child_cnt; t++) {
            qr_zk_sres_t parts;
            path = gpath(group, kinds[k], topics.children[t], NULL);
            qr_zk_sync_children(zk, path, TIMEOUT_MS, &parts);
            free(path);
            for (size_t i = 0; parts.rc == ZOK && i < parts.child_cnt; i++) {
                int64_t p;
                if (qr_cli_parse_int(parts.children[i], 0, INT32_MAX, &p))
                    continue;
                row_t *row = NULL;
                for (size_t j = 0; j < rows->n && !row; j++)
                    if (rows->v[j].partition == p &&
                        !strcmp(rows->v[j].topic, topics.children[t]))
                        row = &rows->v[j];
                if (!row && rows->n >= MAX_PARTS)
                    break;
                if (!row)
                    row = rows_add(rows, topics.children[t], (int32_t)p);
                path = gpath(group, kinds[k], topics.children[t],
                             parts.children[i]);
                char *s = get_str(zk, path);
                free(path);
                if (k == 0 && s)
                    qr_group_offset_decode(s, (int)strlen(s), &row->committed);
                else if (k == 1)
                    row->owner = s, s = NULL;
                free(s);
            }
            qr_zk_sres_free(&parts);
        }
        qr_zk_sres_free(&topics);
    }
    qsort(rows->v, rows->n, sizeof(row_t), row_cmp);
    return QUIRE_ERR_NONE;
}

static size_t live_members(qr_zk_t *zk, const char *group, qr_zk_sres_t *ids)
{
    char *path = gpath(group, "ids", NULL, NULL);
    qr_zk_sync_children(zk, path, TIMEOUT_MS, ids);
    free(path);
    return ids->rc == ZOK ? ids->child_cnt : 0;
}

/* NON_EMPTY_GROUP (and why in @p errstr) while the group has members of
 * either kind: ZooKeeper-coordinated (ids) or Kafka-protocol ones (their
 * coordinator's node, znode.h), as Kafka's tool refuses an active group. */
static quire_err_t check_idle(qr_zk_t *zk, const char *group, char *errstr,
                              size_t errstr_size)
{
    qr_zk_sres_t res;
    size_t live = live_members(zk, group, &res);
    qr_zk_sres_free(&res);
    if (live) {
        snprintf(errstr, errstr_size,
                 "group %s has %zu live member(s): stop them first", group,
                 live);
        return QUIRE_ERR_NON_EMPTY_GROUP;
    }
    char *path = gpath(group, QR_ZNODE_GROUP_KAFKA, NULL, NULL);
    qr_zk_sync_children(zk, path, TIMEOUT_MS, &res);
    free(path);
    quire_err_t err = QUIRE_ERR_NONE;
    if (res.rc == ZOK && res.child_cnt > 0) {
        snprintf(errstr, errstr_size,
                 "group %s has Kafka-protocol members (coordinated by broker "
                 "%s): stop them first",
                 group, res.children[0]);
        err = QUIRE_ERR_NON_EMPTY_GROUP;
    }
    qr_zk_sres_free(&res);
    return err;
}

static int group_exists(qr_zk_t *zk, const char *group)
{
    qr_zk_sres_t res;
    char *path = gpath(group, "", NULL, NULL);
    qr_zk_sync_exists(zk, path, TIMEOUT_MS, &res);
    free(path);
    int rc = res.rc == ZOK;
    qr_zk_sres_free(&res);
    return rc;
}

/* ---- offsets from the brokers ---- */

/* Resolves earliest and/or latest of every row through libquire: a
 * partition assigned at BEGINNING or END reports -1 as its position until
 * the leader's ListOffsets answer is in. */
static int fetch_bounds(const opts_t *o, rows_t *rows, int earliest, char *why,
                        size_t why_size)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c = NULL;
    char errstr[256];
    int exit_code, rc = -1;
    if (qr_ccli_set_brokers(conf, PROG, o->bootstrap, o->zookeeper,
                            &exit_code) != 0) {
        snprintf(why, why_size, "no broker to ask");
        quire_conf_destroy(conf);
        return -1;
    }
    if (quire_consumer_new(conf, &c, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        snprintf(why, why_size, "%s", errstr);
        quire_conf_destroy(conf);
        return -1;
    }
    for (int pass = earliest ? 0 : 1; pass < 2; pass++) {
        int64_t start = pass == 0 ? QUIRE_OFFSET_BEGINNING : QUIRE_OFFSET_END;
        for (size_t i = 0; i < rows->n; i++)
            quire_consumer_assign(c, rows->v[i].topic, rows->v[i].partition,
                                  start);
        int64_t deadline = qr_clock_mono_ms() + TIMEOUT_MS;
        size_t done = 0;
        while (done < rows->n && qr_clock_mono_ms() < deadline) {
            done = 0;
            for (size_t i = 0; i < rows->n; i++) {
                int64_t pos = -1;
                quire_consumer_position(c, rows->v[i].topic,
                                        rows->v[i].partition, &pos);
                if (pos >= 0) {
                    *(pass == 0 ? &rows->v[i].earliest : &rows->v[i].latest) =
                        pos;
                    done++;
                }
            }
            if (done < rows->n)
                usleep(20000);
        }
        if (done < rows->n) {
            snprintf(why, why_size,
                     "%zu partition(s) without an answer from their leader",
                     rows->n - done);
            goto out;
        }
    }
    if (o->to == TO_DATETIME) {
        quire_topic_partition_t *tps = qr_calloc(rows->n, sizeof(*tps));
        quire_err_t err;

        for (size_t i = 0; i < rows->n; i++) {
            tps[i].topic = rows->v[i].topic;
            tps[i].partition = rows->v[i].partition;
            tps[i].offset = o->value;
        }
        err = quire_consumer_offsets_for_times(c, tps, rows->n, TIMEOUT_MS);
        for (size_t i = 0; i < rows->n; i++)
            rows->v[i].by_time = tps[i].offset;
        free(tps);
        if (err != QUIRE_ERR_NONE) {
            snprintf(why, why_size, "offsets by time: %s", quire_err2str(err));
            goto out;
        }
    }
    rc = 0;
out:
    quire_consumer_close(c);
    return rc;
}

/* ---- actions ---- */

/* the groups' names into @p res (none when /consumers is missing) */
static quire_err_t list_groups(qr_zk_t *zk, qr_zk_sres_t *res, char *errstr,
                               size_t errstr_size)
{
    quire_err_t err = qr_zk_sync_children(zk, "/consumers", TIMEOUT_MS, res);
    if (res->rc == ZNONODE)
        err = QUIRE_ERR_NONE;
    else if (err != QUIRE_ERR_NONE)
        snprintf(errstr, errstr_size, "listing /consumers: %s",
                 quire_err2str(err));
    return err;
}

static quire_err_t do_list(qr_zk_t *zk, char *errstr, size_t errstr_size)
{
    qr_zk_sres_t res;
    quire_err_t err = list_groups(zk, &res, errstr, errstr_size);
    for (size_t i = 0; err == QUIRE_ERR_NONE && i < res.child_cnt; i++)
        printf("%s\n", res.children[i]);
    qr_zk_sres_free(&res);
    return err;
}

static void print_members(qr_zk_t *zk, const char *group,
                          const qr_zk_sres_t *ids)
{
    printf("\nMEMBER SUBSCRIPTION\n");
    for (size_t i = 0; i < ids->child_cnt; i++) {
        char *path = gpath(group, "ids", ids->children[i], NULL);
        char *data = get_str(zk, path);
        free(path);
        qr_group_member_t m;
        char why[256];
        if (!data || qr_group_member_decode(data, (int)strlen(data), &m, why,
                                            sizeof(why)) != QUIRE_ERR_NONE) {
            printf("%s (unreadable registration)\n", ids->children[i]);
            free(data);
            continue;
        }
        printf("%s %s", ids->children[i], m.white_list ? "pattern " : "");
        for (size_t t = 0; t < m.topic_cnt; t++)
            printf("%s%s", t ? "," : "", m.topics[t]);
        printf("\n");
        qr_group_member_free(&m);
        free(data);
    }
}

static void print_num(int64_t v)
{
    if (v < 0)
        printf(" %14s", "-");
    else
        printf(" %14" PRId64, v);
}

static quire_err_t do_describe(qr_zk_t *zk, const opts_t *o, char *errstr,
                               size_t errstr_size)
{
    if (!group_exists(zk, o->group)) {
        snprintf(errstr, errstr_size, "group %s does not exist", o->group);
        return QUIRE_ERR_GROUP_ID_NOT_FOUND;
    }
    rows_t rows = {0};
    quire_err_t err = read_rows(zk, o->group, &rows, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    char why[256] = "";
    if (rows.n && fetch_bounds(o, &rows, 0, why, sizeof(why)) != 0)
        fprintf(stderr, "%s: log-end offsets and lag unknown: %s\n", PROG, why);
    printf("%-24s %9s %14s %14s %14s  %s\n", "TOPIC", "PARTITION",
           "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "OWNER");
    for (size_t i = 0; i < rows.n; i++) {
        row_t *r = &rows.v[i];
        printf("%-24s %9d", r->topic, (int)r->partition);
        print_num(r->committed);
        print_num(r->latest);
        print_num(
            r->latest >= 0 && r->committed >= 0
                ? (r->latest > r->committed ? r->latest - r->committed : 0)
                : -1);
        printf("  %s\n", r->owner ? r->owner : "-");
    }
    qr_zk_sres_t ids;
    live_members(zk, o->group, &ids);
    print_members(zk, o->group, &ids);
    qr_zk_sres_free(&ids);
    rows_free(&rows);
    return QUIRE_ERR_NONE;
}

/* "T" (every partition the group has an offset for, or all of the topic's
 * partitions) or "T:P[,P...]". */
static quire_err_t reset_rows(qr_zk_t *zk, const opts_t *o, rows_t *rows,
                              char *errstr, size_t errstr_size)
{
    char topic[QR_TOPIC_NAME_MAX + 1];
    const char *colon = strchr(o->topic, ':');
    size_t tlen = colon ? (size_t)(colon - o->topic) : strlen(o->topic);
    if (tlen > QR_TOPIC_NAME_MAX ||
        qr_topic_name_check(o->topic, tlen, NULL) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "--topic \"%s\": bad topic name",
                 o->topic);
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    }
    memcpy(topic, o->topic, tlen);
    topic[tlen] = '\0';
    /* the topic's partitions, from its assignment: every one when none is
     * named, else the bound a named one is checked against at once (issue
     * 18: asking a leader about a partition that does not exist waited
     * for nothing) */
    char tpath[sizeof("/brokers/topics/") + QR_TOPIC_NAME_MAX];
    snprintf(tpath, sizeof(tpath), "/brokers/topics/%s", topic);
    char *json = get_str(zk, tpath);
    if (!json) {
        snprintf(errstr, errstr_size, "topic %s does not exist", topic);
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    json_t *root = json_loads(json, 0, NULL);
    json_t *parts = root ? json_object_get(root, "partitions") : NULL;
    size_t n = json_is_object(parts) ? json_object_size(parts) : 0;
    json_decref(root);
    free(json);
    if (n > MAX_PARTS)
        n = MAX_PARTS;
    if (colon) {
        char *list = qr_strdup(colon + 1), *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p;
             p = strtok_r(NULL, ",", &save)) {
            int64_t v;
            if (qr_cli_parse_int(p, 0, INT32_MAX, &v) != 0) {
                snprintf(errstr, errstr_size, "--topic: bad partition \"%s\"",
                         p);
                free(list);
                return QUIRE_ERR_BAD_ARG;
            }
            if ((size_t)v >= n) {
                snprintf(errstr, errstr_size,
                         "partition %.100s:%d does not exist (the topic "
                         "has %zu partition(s))",
                         topic, (int)v, n);
                free(list);
                return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
            rows_add(rows, topic, (int32_t)v);
        }
        free(list);
    } else {
        for (size_t p = 0; p < n; p++)
            rows_add(rows, topic, (int32_t)p);
    }
    if (rows->n == 0) {
        snprintf(errstr, errstr_size, "no partition to reset");
        return QUIRE_ERR_BAD_ARG;
    }
    for (size_t i = 0; i < rows->n; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)rows->v[i].partition);
        char *path = gpath(o->group, "offsets", rows->v[i].topic, part);
        char *s = get_str(zk, path);
        free(path);
        if (s)
            qr_group_offset_decode(s, (int)strlen(s), &rows->v[i].committed);
        free(s);
    }
    return QUIRE_ERR_NONE;
}

static quire_err_t write_offset(qr_zk_t *zk, const char *group, const row_t *r)
{
    char part[16], data[32];
    qr_zk_sres_t res;
    snprintf(part, sizeof(part), "%d", (int)r->partition);
    int len = snprintf(data, sizeof(data), "%" PRId64, r->target);
    char *parents[] = {qr_strdup("/consumers"), gpath(group, "", NULL, NULL),
                       gpath(group, "offsets", NULL, NULL),
                       gpath(group, "offsets", r->topic, NULL)};
    for (size_t i = 0; i < 4; i++) {
        qr_zk_sync_create(zk, parents[i], NULL, -1, 0, TIMEOUT_MS, &res);
        qr_zk_sres_free(&res);
        free(parents[i]);
    }
    char *path = gpath(group, "offsets", r->topic, part);
    quire_err_t err = qr_zk_sync_set(zk, path, data, len, -1, TIMEOUT_MS, &res);
    if (res.rc == ZNONODE) {
        qr_zk_sres_free(&res);
        err = qr_zk_sync_create(zk, path, data, len, 0, TIMEOUT_MS, &res);
    }
    qr_zk_sres_free(&res);
    free(path);
    return err;
}

/* --all-topics: reset_rows() for every topic the group has offsets for */
static quire_err_t reset_rows_all(qr_zk_t *zk, const opts_t *o, rows_t *rows,
                                  char *errstr, size_t errstr_size)
{
    if (!o->all_topics)
        return reset_rows(zk, o, rows, errstr, errstr_size);
    char *path = gpath(o->group, "offsets", NULL, NULL);
    qr_zk_sres_t res;
    quire_err_t err = qr_zk_sync_children(zk, path, TIMEOUT_MS, &res);
    free(path);
    if (res.rc == ZNONODE || (err == QUIRE_ERR_NONE && !res.child_cnt)) {
        snprintf(errstr, errstr_size, "group %s has no committed offsets",
                 o->group);
        err = QUIRE_ERR_BAD_ARG;
    } else if (err != QUIRE_ERR_NONE)
        snprintf(errstr, errstr_size, "listing the group's topics: %s",
                 quire_err2str(err));
    for (size_t i = 0; err == QUIRE_ERR_NONE && i < res.child_cnt; i++) {
        opts_t one = *o;
        one.topic = res.children[i];
        err = reset_rows(zk, &one, rows, errstr, errstr_size);
    }
    qr_zk_sres_free(&res);
    return err;
}

static quire_err_t do_reset(qr_zk_t *zk, const opts_t *o, char *errstr,
                            size_t errstr_size)
{
    quire_err_t busy = check_idle(zk, o->group, errstr, errstr_size);
    if (busy != QUIRE_ERR_NONE)
        return busy;
    rows_t rows = {0};
    quire_err_t err = reset_rows_all(zk, o, &rows, errstr, errstr_size);
    char why[256] = "";
    if (err == QUIRE_ERR_NONE && fetch_bounds(o, &rows, 1, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "cannot read the partitions' offsets: %s",
                 why);
        err = QUIRE_ERR_ALL_BROKERS_DOWN;
    }
    for (size_t i = 0; err == QUIRE_ERR_NONE && i < rows.n; i++) {
        row_t *r = &rows.v[i];
        int64_t t = o->value,
                from = r->committed >= 0 ? r->committed : r->earliest;
        if (o->to == TO_EARLIEST)
            t = r->earliest;
        else if (o->to == TO_LATEST)
            t = r->latest;
        else if (o->to == TO_DATETIME) /* no record that recent: the end */
            t = r->by_time >= 0 ? r->by_time : r->latest;
        else if (o->to == TO_SHIFT &&
                 __builtin_add_overflow(from, o->value, &t))
            t = o->value < 0 ? 0 : INT64_MAX;
        /* as Kafka's tool does: stay inside the log */
        r->target = t < r->earliest ? r->earliest
                    : t > r->latest ? r->latest
                                    : t;
        if (o->to == TO_OFFSET && r->target != t) /* issue 18: say so */
            fprintf(stderr,
                    "%s: %s:%d: --to-offset %" PRId64
                    " is outside the log [%" PRId64 ", %" PRId64
                    "]: clamped to %" PRId64 "\n",
                    PROG, r->topic, (int)r->partition, t, r->earliest,
                    r->latest, r->target);
    }
    if (err == QUIRE_ERR_NONE) {
        printf("%-24s %9s %14s %14s\n", "TOPIC", "PARTITION", "CURRENT-OFFSET",
               "NEW-OFFSET");
        for (size_t i = 0; i < rows.n; i++) {
            printf("%-24s %9d", rows.v[i].topic, (int)rows.v[i].partition);
            print_num(rows.v[i].committed);
            print_num(rows.v[i].target);
            printf("\n");
        }
        if (!o->execute)
            printf("(dry run: nothing written; add --execute to write)\n");
    }
    for (size_t i = 0; err == QUIRE_ERR_NONE && o->execute && i < rows.n; i++) {
        err = write_offset(zk, o->group, &rows.v[i]);
        if (err != QUIRE_ERR_NONE)
            snprintf(errstr, errstr_size, "writing %s-%d: %s", rows.v[i].topic,
                     (int)rows.v[i].partition, quire_err2str(err));
    }
    rows_free(&rows);
    return err;
}

static quire_err_t delete_tree(qr_zk_t *zk, const char *path)
{
    qr_zk_sres_t res;
    quire_err_t err = qr_zk_sync_children(zk, path, TIMEOUT_MS, &res);
    for (size_t i = 0; err == QUIRE_ERR_NONE && i < res.child_cnt; i++) {
        size_t n = strlen(path) + strlen(res.children[i]) + 2;
        char *child = qr_malloc(n);
        snprintf(child, n, "%s/%s", path, res.children[i]);
        err = delete_tree(zk, child);
        free(child);
    }
    int gone = res.rc == ZNONODE;
    qr_zk_sres_free(&res);
    if (gone)
        return QUIRE_ERR_NONE;
    if (err != QUIRE_ERR_NONE)
        return err;
    err = qr_zk_sync_delete(zk, path, -1, TIMEOUT_MS, &res);
    if (res.rc == ZNONODE)
        err = QUIRE_ERR_NONE;
    qr_zk_sres_free(&res);
    return err;
}

static quire_err_t do_delete(qr_zk_t *zk, const opts_t *o, char *errstr,
                             size_t errstr_size)
{
    if (!group_exists(zk, o->group)) {
        snprintf(errstr, errstr_size, "group %s does not exist", o->group);
        return QUIRE_ERR_GROUP_ID_NOT_FOUND;
    }
    quire_err_t busy = check_idle(zk, o->group, errstr, errstr_size);
    if (busy != QUIRE_ERR_NONE)
        return busy;
    char *path = gpath(o->group, "", NULL, NULL);
    quire_err_t err = delete_tree(zk, path);
    free(path);
    if (err != QUIRE_ERR_NONE)
        snprintf(errstr, errstr_size,
                 "deleting group %s: %s (did a member "
                 "join meanwhile?)",
                 o->group, quire_err2str(err));
    else
        printf("Deleted group %s.\n", o->group);
    return err;
}

static quire_err_t run_one(qr_zk_t *zk, const opts_t *o, char *errstr,
                           size_t errstr_size)
{
    switch (o->action) {
    case ACT_LIST:
        return do_list(zk, errstr, errstr_size);
    case ACT_DESCRIBE:
        return do_describe(zk, o, errstr, errstr_size);
    case ACT_RESET:
        return do_reset(zk, o, errstr, errstr_size);
    case ACT_DELETE:
        return do_delete(zk, o, errstr, errstr_size);
    case ACT_NONE:
        break;
    }
    return QUIRE_ERR_BAD_ARG;
}

/* --all-groups (Kafka's): the action for every group, each under a GROUP
 * line; a group's error is said and the others still done. */
static quire_err_t run(qr_zk_t *zk, const opts_t *o, char *errstr,
                       size_t errstr_size)
{
    if (!o->all_groups)
        return run_one(zk, o, errstr, errstr_size);
    qr_zk_sres_t res;
    quire_err_t err = list_groups(zk, &res, errstr, errstr_size);
    quire_err_t last = err;
    size_t failed = 0;
    for (size_t i = 0; err == QUIRE_ERR_NONE && i < res.child_cnt; i++) {
        opts_t one = *o;
        char why[512] = "";
        one.group = res.children[i];
        printf("%sGROUP %s\n", i ? "\n" : "", one.group);
        quire_err_t e = run_one(zk, &one, why, sizeof(why));
        if (e != QUIRE_ERR_NONE) {
            qr_cli_error(PROG, "%s", why);
            snprintf(errstr, errstr_size, "%zu group(s) had an error",
                     ++failed);
            last = e;
        }
    }
    qr_zk_sres_free(&res);
    return last;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    char errstr[512] = "";
    int c, r = 0, rc = QR_CLI_EXIT_OK;

    o.zookeeper = qr_cli_zookeeper_default();
    opterr = 0; /* qr_cli_bad_option() says it in one line (issue 18) */
    while (r == 0 && (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1)
        r = c == '?' ? qr_cli_bad_option(PROG, argv) : parse_one(&o, c);
    if (r == 0 && optind < argc) {
        qr_cli_usage_error(PROG, "unexpected argument \"%s\"", argv[optind]);
        r = -1;
    }
    if (r == 0)
        r = check_opts(&o);
    if (r != 0)
        return r > 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_USAGE;
    qr_cli_log_setup(o.verbose);
    struct ev_loop *loop = ev_default_loop(0);
    qr_zk_t *zk =
        qr_zk_new(loop, o.zookeeper, 10000, TIMEOUT_MS, errstr, sizeof(errstr));
    if (!zk) {
        qr_cli_usage_error(PROG, "--zookeeper: %s", errstr);
        return QR_CLI_EXIT_USAGE;
    }
    if (qr_zk_sync_connect(zk, TIMEOUT_MS, errstr, sizeof(errstr))) {
        qr_cli_error(PROG, "%s: %s", o.zookeeper, errstr);
        rc = QR_CLI_EXIT_ERROR;
    } else if (run(zk, &o, errstr, sizeof(errstr)) != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "%s", errstr);
        rc = QR_CLI_EXIT_ERROR;
    }
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
    return rc;
}
