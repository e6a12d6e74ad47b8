/*
 * quire-load: loads topics into files laid out as Camus did, in parallel,
 * exactly once across kills and reruns (issue 12; man/quire-load.1).
 *
 *   run     plan, load with --parallelism workers, commit offsets
 *   splits  print the plan, one "topic partition first last" per task
 *   map     load the splits given on stdin (Hadoop Streaming's mapper)
 *   commit  advance the job's offsets over the files in --output
 *
 * Exactly once: a task writes each run of records of one UTC hour to a
 * temporary file, fsyncs it, renames it to <topic>+<p>+<first>+<last>.<ext>
 * in its hour directory and fsyncs that directory. The files of a
 * partition never overlap, so the job's committed offset (ZooKeeper,
 * /consumers/<job>/offsets/<topic>/<p>, Kafka's layout) is always the end
 * of the chain of files that starts at the stored offset: the main thread
 * writes it after each task, and every start adopts what a killed run
 * renamed but had not committed, then plans only what no file covers.
 * run and map share run_task(); the ZooKeeper handle stays on the main
 * thread, each worker has a libquire consumer of its own.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "clientcli.h"
#include "zkcli.h"
#include "clock.h"
#include "group.h"
#include "loadfmt.h"
#include "loadplan.h"
#include "logging.h"
#include "quire.h"
#include "topic.h"
#include "zk.h"
#include "zk_sync.h"

#define PROG          "quire-load"
#define ZK_TIMEOUT_MS 10000
#define MAX_TOPICS    10000
#define MAX_PARTS     100000

typedef enum cmd { CMD_RUN, CMD_SPLITS, CMD_MAP, CMD_COMMIT } cmd_t;

typedef struct opts {
    cmd_t cmd;
    const char *job;
    const char **topics;
    size_t topic_cnt;
    const char *whitelist;
    const char *output;
    qr_lfmt_t fmt;
    const char *ext;
    int deflate;
    int64_t split_records;
    int64_t parallelism;
    int64_t timeout_ms;
    int allow_gaps;
    int dry_run;
    const char **props;
    size_t prop_cnt;
    qr_cli_common_t cli;
} opts_t;

/* One partition of the plan. */
typedef struct part {
    char *topic;
    int32_t partition;
    int64_t stored;    /* the job's offset in ZooKeeper; -1: none */
    int64_t log_start; /* -1: not asked */
    int64_t end;       /* the high watermark at the snapshot */
    int64_t from;      /* where the chain of files starts */
    int64_t committed; /* what this run wrote (or found) in ZooKeeper */
    qr_lranges_t files;
    int64_t records, bytes, file_cnt; /* this run's, for the summary */
} part_t;

enum { T_PENDING, T_DONE, T_FAILED };

/* One task: a range of one partition. */
typedef struct task {
    size_t part;
    int64_t first, last;
    atomic_int state;
    int handled;      /* main thread: folded into its partition */
    qr_lranges_t out; /* files renamed into place, by the worker */
    int64_t records, bytes;
    char err[512];
} task_t;

typedef struct load {
    const opts_t *o;
    part_t *parts;
    size_t part_cnt, part_cap;
    task_t *tasks;
    size_t task_cnt, task_cap;
    int64_t planned;    /* records */
    quire_conf_t *conf; /* each worker's consumer takes a copy */
    char tmpdir[4096];
    atomic_size_t next_task;
    atomic_size_t tasks_done;
    atomic_int workers;
    atomic_int stop;
    atomic_llong recs, bytes;
    pthread_mutex_t out_lock; /* stdout lines of map */
} load_t;

static const struct option long_opts[] = {
    {"job", required_argument, NULL, 'j'},
    {"topic", required_argument, NULL, 't'},
    {"whitelist", required_argument, NULL, 'w'},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"avro-codec", required_argument, NULL, 'c'},
    {"split-records", required_argument, NULL, 's'},
    {"parallelism", required_argument, NULL, 'p'},
    {"timeout-ms", required_argument, NULL, 'T'},
    {"allow-gaps", no_argument, NULL, 'g'},
    {"dry-run", no_argument, NULL, 'n'},
    {"property", required_argument, NULL, 'P'},
    QR_CLI_BROKER_LONG_OPTS_END,
};

static const char usage_text[] =
    "Usage: " PROG " COMMAND [OPTIONS]\n"
    "Commands:\n"
    "  run     load the topics' new records into --output and commit\n"
    "  splits  print the tasks, one \"topic partition first last\" a line\n"
    "  map     load the tasks read on stdin (a Hadoop Streaming mapper)\n"
    "  commit  advance the job's offsets over the files in --output\n"
    "Options:\n"
    "  --job NAME              the job; its offsets are the consumer "
    "group NAME\n"
    "  --topic T               a topic to load (repeatable)\n"
    "  --whitelist REGEX       every topic whose whole name matches\n"
    "  --output DIR            where files go (map: stdout without it)\n"
    "  --format avro|json|text records as Avro (default), JSON lines or\n"
    "                          the value as a line\n"
    "  --avro-codec null|deflate  Avro block compression (default null)\n"
    "  --split-records N       cut a partition's range into tasks of at "
    "most N\n"
    "                          records (default 5000000; 0: one task a "
    "partition)\n"
    "  --parallelism N         tasks at once (default: the number of "
    "cores)\n"
    "  --timeout-ms N          fail a task that gets no record for N ms\n"
    "                          (default 30000)\n"
    "  --allow-gaps            go on from the log start when retention "
    "deleted\n"
    "                          offsets that were not loaded\n"
    "  --dry-run               print the plan, load and commit nothing\n"
    "  --zookeeper H:P[/chroot]  default $QUIRE_ZOOKEEPER "
    "or " QR_CLI_ZOOKEEPER_DEFAULT "\n"
    "  --bootstrap-server H:P[,...]  brokers (default: those registered "
    "in\n"
    "                          ZooKeeper)\n"
    "  --property KEY=VALUE    a consumer setting (repeatable)\n"
    "  -v, --verbose           log debugging information\n"
    "  -h, --help              show this help and exit (also after a\n"
    "                          command: " PROG " run -h)\n"
    "  -V, --version           show the version and exit\n";

/* ---- options ---- */

static int parse_cmd(opts_t *o, const char *s)
{
    static const char *const names[] = {"run", "splits", "map", "commit"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            o->cmd = (cmd_t)i;
            return 0;
        }
    qr_cli_usage_error(PROG,
                       "unknown command \"%s\" (run, splits, map or "
                       "commit)",
                       s);
    return -1;
}

static int parse_num(const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *out)
{
    if (qr_cli_parse_int(s, min, max, out) == 0)
        return 0;
    qr_cli_usage_error(
        PROG, "%s \"%s\": a number from %" PRId64 " to %" PRId64 " is needed",
        opt, s, min, max);
    return -1;
}

/* @returns 0, 1 after --help/--version, -1 on a usage error. */
static int parse_one(void *opts, int c, const char *arg)
{
    opts_t *o = opts;

    switch (c) {
    case 'j':
        o->job = arg;
        return 0;
    case 't':
        o->topics = qr_realloc(o->topics, (o->topic_cnt + 1) * sizeof(char *));
        o->topics[o->topic_cnt++] = arg;
        return 0;
    case 'w':
        o->whitelist = arg;
        return 0;
    case 'o':
        o->output = arg;
        return 0;
    case 'f':
        o->ext = qr_lname_ext(arg);
        if (!o->ext) {
            qr_cli_usage_error(PROG, "--format \"%s\": avro, json or text",
                               arg);
            return -1;
        }
        o->fmt = !strcmp(arg, "avro")   ? QR_LFMT_AVRO
                 : !strcmp(arg, "json") ? QR_LFMT_JSON
                                        : QR_LFMT_TEXT;
        return 0;
    case 'c':
        if (strcmp(arg, "null") && strcmp(arg, "deflate")) {
            qr_cli_usage_error(PROG, "--avro-codec \"%s\": null or deflate",
                               arg);
            return -1;
        }
        o->deflate = !strcmp(arg, "deflate");
        return 0;
    case 's':
        return parse_num("--split-records", arg, 0, INT64_MAX,
                         &o->split_records);
    case 'p':
        return parse_num("--parallelism", arg, 1, 1024, &o->parallelism);
    case 'T':
        return parse_num("--timeout-ms", arg, 1, INT32_MAX, &o->timeout_ms);
    case 'g':
        o->allow_gaps = 1;
        return 0;
    case 'n':
        o->dry_run = 1;
        return 0;
    case 'P':
        o->props = qr_realloc(o->props, (o->prop_cnt + 1) * sizeof(char *));
        o->props[o->prop_cnt++] = arg;
        return 0;
    default:
        /* getopt named the option in one line (issue 18) */
        return -1;
    }
}

/* -h, -V and -v as the other tools have them: after the command too
 * ("quire-load run -h" said "invalid option"). */
static const qr_cli_tool_t tool = {PROG, usage_text, "vhV", long_opts,
                                   parse_one};

static int check_opts(opts_t *o)
{
    if (o->cmd != CMD_MAP && !o->topic_cnt && !o->whitelist) {
        qr_cli_usage_error(PROG, "give --topic or --whitelist");
        return -1;
    }
    if (o->cmd == CMD_MAP && (o->topic_cnt || o->whitelist)) {
        qr_cli_usage_error(PROG, "map reads its tasks on stdin: no --topic "
                                 "or --whitelist");
        return -1;
    }
    if ((o->cmd != CMD_MAP || o->output) && !o->job) {
        qr_cli_usage_error(PROG, "give --job (the consumer group of the "
                                 "job's offsets)");
        return -1;
    }
    if (o->job && !qr_group_id_valid(o->job)) {
        qr_cli_usage_error(PROG,
                           "--job \"%s\": letters, digits, '.', '_' "
                           "and '-' only",
                           o->job);
        return -1;
    }
    if ((o->cmd == CMD_RUN || o->cmd == CMD_COMMIT) && !o->output) {
        qr_cli_usage_error(PROG, "give --output DIR");
        return -1;
    }
    for (size_t i = 0; i < o->topic_cnt; i++)
        if (qr_topic_name_check(o->topics[i], strlen(o->topics[i]), NULL)) {
            qr_cli_usage_error(PROG, "--topic \"%s\": bad topic name",
                               o->topics[i]);
            return -1;
        }
    return 0;
}

/* ---- ZooKeeper: topics and the job's offsets ---- */

/* Node @p path as a string; NULL when absent or empty. */
static char *zk_str(qr_zk_t *zk, const char *path)
{
    qr_zk_sres_t res;
    char *out = NULL;
    if (qr_zk_sync_get(zk, path, ZK_TIMEOUT_MS, &res) == QUIRE_ERR_NONE &&
        res.data && res.len > 0)
        out = qr_strndup(res.data, (size_t)res.len);
    qr_zk_sres_free(&res);
    return out;
}

/* The partition count of @p topic from /brokers/topics; 0 when absent. */
static int32_t topic_parts(qr_zk_t *zk, const char *topic)
{
    char path[300];
    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    char *s = zk_str(zk, path);
    if (!s)
        return 0;
    json_t *root = json_loads(s, 0, NULL);
    json_t *parts = root ? json_object_get(root, "partitions") : NULL;
    size_t n = json_is_object(parts) ? json_object_size(parts) : 0;
    json_decref(root);
    free(s);
    return n > MAX_PARTS ? MAX_PARTS : (int32_t)n;
}

static char *offset_path(const char *job, const char *topic, int32_t p)
{
    size_t n = strlen(job) + strlen(topic) + 48;
    char *s = qr_malloc(n);
    snprintf(s, n, "/consumers/%s/offsets/%s/%d", job, topic, (int)p);
    return s;
}

static int64_t read_offset(qr_zk_t *zk, const char *job, const char *topic,
                           int32_t p)
{
    char *path = offset_path(job, topic, p);
    char *s = zk_str(zk, path);
    int64_t v = -1;
    if (s && qr_group_offset_decode(s, (int)strlen(s), &v) != QUIRE_ERR_NONE)
        v = -1;
    free(s);
    free(path);
    return v;
}

/* Writes the job's offset as Kafka's consumers do (decimal text), making
 * the parents as needed. */
static quire_err_t write_offset(qr_zk_t *zk, const char *job, const char *topic,
                                int32_t p, int64_t off)
{
    char data[32];
    qr_zk_sres_t res;
    int len = snprintf(data, sizeof(data), "%" PRId64, off);
    char *path = offset_path(job, topic, p);
    quire_err_t err =
        qr_zk_sync_set(zk, path, data, len, -1, ZK_TIMEOUT_MS, &res);
    if (res.rc == ZNONODE) {
        /* create each missing parent, then the node */
        for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
            *s = '\0';
            qr_zk_sres_free(&res);
            qr_zk_sync_create(zk, path, NULL, -1, 0, ZK_TIMEOUT_MS, &res);
            *s = '/';
        }
        qr_zk_sres_free(&res);
        err = qr_zk_sync_create(zk, path, data, len, 0, ZK_TIMEOUT_MS, &res);
    }
    qr_zk_sres_free(&res);
    free(path);
    return err;
}

/* The topics of --topic, or those --whitelist matches, sorted. */
static int list_topics(qr_zk_t *zk, const opts_t *o, char ***topicsp,
                       size_t *cntp)
{
    char **v = NULL;
    size_t n = 0;
    if (!o->whitelist) {
        v = qr_calloc(o->topic_cnt, sizeof(char *));
        for (size_t i = 0; i < o->topic_cnt; i++)
            v[n++] = qr_strdup(o->topics[i]);
        *topicsp = v, *cntp = n;
        return 0;
    }
    size_t len = strlen(o->whitelist) + 8;
    char *re_s = qr_malloc(len), why[256];
    regex_t re;
    snprintf(re_s, len, "^(%s)$", o->whitelist);
    int rc = regcomp(&re, re_s, REG_EXTENDED | REG_NOSUB);
    free(re_s);
    if (rc) {
        regerror(rc, &re, why, sizeof(why));
        qr_cli_usage_error(PROG, "--whitelist \"%s\": %s", o->whitelist, why);
        return -1;
    }
    qr_zk_sres_t res;
    quire_err_t err =
        qr_zk_sync_children(zk, "/brokers/topics", ZK_TIMEOUT_MS, &res);
    if (err != QUIRE_ERR_NONE && res.rc != ZNONODE) {
        qr_cli_error(PROG, "listing /brokers/topics: %s", quire_err2str(err));
        qr_zk_sres_free(&res);
        regfree(&re);
        return -1;
    }
    v = qr_calloc(res.child_cnt + 1, sizeof(char *));
    for (size_t i = 0; i < res.child_cnt && n < MAX_TOPICS; i++)
        if (regexec(&re, res.children[i], 0, NULL, 0) == 0 &&
            /* a name that is no topic's ("..") never becomes a path */
            qr_topic_name_check(res.children[i], strlen(res.children[i]),
                                NULL) == QUIRE_ERR_NONE)
            v[n++] = qr_strdup(res.children[i]);
    qr_zk_sres_free(&res);
    regfree(&re);
    *topicsp = v, *cntp = n;
    return 0;
}

/* ---- the cluster: consumers and log bounds ---- */

static quire_conf_t *consumer_conf(const opts_t *o, int *exit_code)
{
    quire_conf_t *conf = quire_conf_new();
    quire_conf_set(conf, "client.id", PROG, NULL, 0);
    for (size_t i = 0; i < o->prop_cnt; i++)
        if (qr_ccli_conf_kv(conf, PROG, o->props[i]) != 0) {
            *exit_code = QR_CLI_EXIT_USAGE;
            quire_conf_destroy(conf);
            return NULL;
        }
    if (qr_ccli_set_brokers(conf, PROG, o->cli.bootstrap, o->cli.zookeeper,
                            exit_code) != 0) {
        quire_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static quire_consumer_t *consumer_new(const quire_conf_t *conf, char *errstr,
                                      size_t errstr_size)
{
    quire_conf_t *dup = quire_conf_dup(conf);
    quire_consumer_t *c = NULL;
    if (!dup) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (quire_consumer_new(dup, &c, errstr, errstr_size) != QUIRE_ERR_NONE) {
        quire_conf_destroy(dup);
        return NULL;
    }
    return c;
}

/* Fills log_start and end of every partition from their leaders. */
static int log_bounds(load_t *ld, quire_consumer_t *c)
{
    size_t n = ld->part_cnt;
    quire_topic_partition_t *tps = qr_calloc(n ? n : 1, sizeof(*tps));
    quire_err_t err = QUIRE_ERR_NONE;
    for (int pass = 0; pass < 2 && err == QUIRE_ERR_NONE; pass++) {
        for (size_t i = 0; i < n; i++) {
            tps[i].topic = ld->parts[i].topic;
            tps[i].partition = ld->parts[i].partition;
            tps[i].offset = pass ? QUIRE_OFFSET_END : QUIRE_OFFSET_BEGINNING;
        }
        err =
            quire_consumer_offsets_for_times(c, tps, n, (int)ld->o->timeout_ms);
        for (size_t i = 0; i < n && err == QUIRE_ERR_NONE; i++)
            *(pass ? &ld->parts[i].end : &ld->parts[i].log_start) =
                tps[i].offset;
    }
    free(tps);
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "reading the partitions' log start and end: %s",
                     quire_err2str(err));
        return -1;
    }
    return 0;
}

static part_t *add_part(load_t *ld, const char *topic, int32_t p)
{
    if (ld->part_cnt == ld->part_cap) {
        ld->part_cap = ld->part_cap ? ld->part_cap * 2 : 16;
        ld->parts = qr_realloc(ld->parts, ld->part_cap * sizeof(part_t));
    }
    part_t *part = &ld->parts[ld->part_cnt++];
    memset(part, 0, sizeof(*part));
    part->topic = qr_strdup(topic);
    part->partition = p;
    part->stored = part->log_start = part->end = part->committed = -1;
    return part;
}

static task_t *add_task(load_t *ld, size_t part, int64_t first, int64_t last)
{
    if (ld->task_cnt == ld->task_cap) {
        ld->task_cap = ld->task_cap ? ld->task_cap * 2 : 16;
        ld->tasks = qr_realloc(ld->tasks, ld->task_cap * sizeof(task_t));
    }
    task_t *t = &ld->tasks[ld->task_cnt++];
    memset(t, 0, sizeof(*t));
    t->part = part;
    t->first = first;
    t->last = last;
    atomic_init(&t->state, T_PENDING);
    return t;
}

/* ---- the plan ---- */

/* Adds every partition of the topics, with the job's stored offsets. */
static int add_topics(load_t *ld, qr_zk_t *zk)
{
    char **topics = NULL;
    size_t n = 0;
    int rc = 0;
    if (list_topics(zk, ld->o, &topics, &n) != 0)
        return QR_CLI_EXIT_USAGE;
    if (n == 0)
        fprintf(stderr, "%s: --whitelist \"%s\" matches no topic\n", PROG,
                ld->o->whitelist);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int32_t cnt = topic_parts(zk, topics[i]);
        if (cnt == 0) {
            qr_cli_error(PROG, "topic %s does not exist", topics[i]);
            rc = QR_CLI_EXIT_ERROR;
        }
        for (int32_t p = 0; p < cnt; p++)
            add_part(ld, topics[i], p)->stored =
                read_offset(zk, ld->o->job, topics[i], p);
    }
    for (size_t i = 0; i < n; i++)
        free(topics[i]);
    free(topics);
    return rc;
}

/* The committed files of every partition under --output. */
static int scan_output(load_t *ld)
{
    char errstr[512];
    for (size_t i = 0; i < ld->part_cnt;) {
        size_t j = i;
        while (j < ld->part_cnt &&
               !strcmp(ld->parts[j].topic, ld->parts[i].topic))
            j++;
        qr_lranges_t *rs = qr_calloc(j - i, sizeof(*rs));
        if (qr_lscan_topic(ld->o->output, ld->parts[i].topic, rs,
                           (int32_t)(j - i), errstr, sizeof(errstr))) {
            qr_cli_error(PROG, "%s", errstr);
            for (size_t k = 0; k < j - i; k++)
                qr_lranges_free(&rs[k]);
            free(rs);
            return -1;
        }
        for (size_t k = i; k < j; k++)
            ld->parts[k].files = rs[k - i];
        free(rs);
        i = j;
    }
    return 0;
}

/* Where partition @p part's chain starts and how far its files reach;
 * -1 when offsets it has not loaded are gone (retention) and
 * --allow-gaps is not given. */
static int part_start(load_t *ld, part_t *part, int64_t *adoptedp)
{
    part->from = part->stored >= 0 ? part->stored : part->log_start;
    int64_t adopted = qr_lcover_end(&part->files, part->from);
    if (part->stored > part->end) {
        qr_cli_error(PROG,
                     "%s-%d: the job's offset %" PRId64 " is past the "
                     "log end %" PRId64 " (was the topic re-created?)",
                     part->topic, (int)part->partition, part->stored,
                     part->end);
        return -1;
    }
    if (adopted < part->log_start && adopted < part->end) {
        if (!ld->o->allow_gaps && ld->o->cmd != CMD_COMMIT) {
            qr_cli_error(PROG,
                         "%s-%d: offsets %" PRId64 "..%" PRId64
                         " were deleted by retention before this job loaded "
                         "them (the log starts at %" PRId64 "); rerun with "
                         "--allow-gaps to go on from there",
                         part->topic, (int)part->partition, adopted,
                         part->log_start - 1, part->log_start);
            return -1;
        }
        if (ld->o->cmd != CMD_COMMIT) {
            fprintf(stderr,
                    "%s: %s-%d: skipping offsets %" PRId64 "..%" PRId64
                    ", deleted by retention (--allow-gaps)\n",
                    PROG, part->topic, (int)part->partition, adopted,
                    part->log_start - 1);
            part->from = part->log_start;
            adopted = qr_lcover_end(&part->files, part->from);
        }
    }
    *adoptedp = adopted;
    return 0;
}

/* Plans run, splits and commit: adopts committed files past the stored
 * offsets, then cuts what no file covers, up to the snapshot's ends, into
 * tasks. Nothing is written before every partition checked out. */
static int plan(load_t *ld, qr_zk_t *zk, quire_consumer_t *c)
{
    int rc = add_topics(ld, zk);
    if (rc != 0)
        return rc;
    if (log_bounds(ld, c) != 0 || (ld->o->output && scan_output(ld) != 0))
        return QR_CLI_EXIT_ERROR;
    int64_t *adopted = qr_calloc(ld->part_cnt + 1, sizeof(int64_t));
    for (size_t i = 0; i < ld->part_cnt && rc == 0; i++)
        if (part_start(ld, &ld->parts[i], &adopted[i]) != 0)
            rc = QR_CLI_EXIT_ERROR;
    for (size_t i = 0; i < ld->part_cnt && rc == 0; i++) {
        part_t *part = &ld->parts[i];
        part->committed = part->stored;
        if (adopted[i] != part->stored &&
            (adopted[i] > part->from || part->stored >= 0)) {
            if (adopted[i] > part->from)
                fprintf(stderr,
                        "%s: %s-%d: adopting committed files up to offset "
                        "%" PRId64 "\n",
                        PROG, part->topic, (int)part->partition,
                        adopted[i] - 1);
            if (!ld->o->dry_run && ld->o->cmd != CMD_SPLITS) {
                quire_err_t err = write_offset(zk, ld->o->job, part->topic,
                                               part->partition, adopted[i]);
                if (err != QUIRE_ERR_NONE) {
                    qr_cli_error(PROG, "committing %s-%d: %s", part->topic,
                                 (int)part->partition, quire_err2str(err));
                    rc = QR_CLI_EXIT_ERROR;
                    break;
                }
                part->committed = adopted[i];
            }
        }
        if (ld->o->cmd == CMD_COMMIT)
            continue;
        qr_lranges_t gaps = {0};
        ld->planned += qr_lplan_gaps(&part->files, adopted[i], part->end,
                                     ld->o->split_records, &gaps);
        for (size_t g = 0; g < gaps.n; g++)
            add_task(ld, i, gaps.v[g].first, gaps.v[g].last);
        qr_lranges_free(&gaps);
    }
    free(adopted);
    return rc;
}

/* ---- map's input: one task a line ---- */

/* "topic partition first last", or Streaming's "<byte offset>\t<line>". */
static int parse_split(load_t *ld, char *line, size_t lineno)
{
    char *s = line, *tab = strchr(line, '\t'), *f[5], *save = NULL;
    int n = 0;
    int64_t p, first, last;
    line[strcspn(line, "\r\n")] = '\0';
    if (tab && (size_t)(tab - line) == strspn(line, "0123456789") && tab > line)
        s = tab + 1;
    for (char *t = strtok_r(s, " \t", &save); t && n < 5;
         t = strtok_r(NULL, " \t", &save))
        f[n++] = t;
    if (n == 0)
        return 0; /* an empty line */
    if (n != 4 || qr_topic_name_check(f[0], strlen(f[0]), NULL) ||
        qr_cli_parse_int(f[1], 0, INT32_MAX, &p) ||
        qr_cli_parse_int(f[2], 0, INT64_MAX - 1, &first) ||
        qr_cli_parse_int(f[3], 0, INT64_MAX - 1, &last) || first > last) {
        qr_cli_usage_error(PROG,
                           "stdin line %zu: expected \"topic partition "
                           "first last\" (first <= last)",
                           lineno);
        return -1;
    }
    size_t i = 0;
    while (i < ld->part_cnt &&
           (ld->parts[i].partition != p || strcmp(ld->parts[i].topic, f[0])))
        i++;
    if (i == ld->part_cnt)
        add_part(ld, f[0], (int32_t)p);
    add_task(ld, i, first, last);
    ld->planned += last - first + 1;
    return 0;
}

static int read_splits(load_t *ld, FILE *in)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, in) > 0)
        rc = parse_split(ld, line, ++lineno);
    free(line);
    return rc;
}

/* Checks map's tasks against the logs: nothing below the log start unless
 * --allow-gaps (which trims them), nothing past the end. */
static int check_splits(load_t *ld, quire_consumer_t *c)
{
    if (log_bounds(ld, c) != 0)
        return QR_CLI_EXIT_ERROR;
    for (size_t i = 0; i < ld->task_cnt; i++) {
        task_t *t = &ld->tasks[i];
        part_t *part = &ld->parts[t->part];
        if (t->last >= part->end) {
            qr_cli_error(PROG,
                         "task %s %d %" PRId64 " %" PRId64 ": past the "
                         "log end %" PRId64,
                         part->topic, (int)part->partition, t->first, t->last,
                         part->end);
            return QR_CLI_EXIT_ERROR;
        }
        if (t->first >= part->log_start)
            continue;
        if (!ld->o->allow_gaps) {
            qr_cli_error(PROG,
                         "%s-%d: offsets %" PRId64 "..%" PRId64
                         " were deleted by retention (the log starts at "
                         "%" PRId64 "); rerun with --allow-gaps to go on "
                         "from there",
                         part->topic, (int)part->partition, t->first,
                         part->log_start - 1, part->log_start);
            return QR_CLI_EXIT_ERROR;
        }
        ld->planned -=
            (t->last < part->log_start ? t->last + 1 : part->log_start) -
            t->first;
        t->first = part->log_start;
        if (t->first > t->last) /* wholly deleted: nothing to do */
            atomic_store(&t->state, T_DONE), t->handled = 1;
    }
    return 0;
}

/* ---- files: temporary, then renamed into place durably ---- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* mkdir -p of @p dir below @p output, each level's entry made durable by
 * an fsync of its parent. */
static int mkdirs_sync(const char *output, char *dir)
{
    for (char *s = dir + strlen(output) + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        int rc = mkdir(dir, 0755);
        int e = errno;
        char *slash = strrchr(dir, '/');
        if (rc == 0 || e == EEXIST) {
            *slash = '\0';
            rc = fsync_dir(dir);
            e = errno;
            *slash = '/';
        }
        *s = c;
        if (rc != 0 && e != EEXIST) {
            errno = e;
            return -1;
        }
        if (c == '\0')
            return 0;
    }
}

/* A file being written by a task: records first.. of one UTC hour. */
typedef struct tfile {
    qr_lwriter_t *w;
    char tmp[4352];
    int64_t first, ts, hour;
} tfile_t;

static int64_t hour_of(int64_t ts_ms)
{
    return ts_ms >= 0 ? ts_ms / 3600000 : (ts_ms - 3599999) / 3600000;
}

static quire_err_t tfile_open(load_t *ld, task_t *t, tfile_t *tf, int64_t first,
                              int64_t ts)
{
    const part_t *part = &ld->parts[t->part];
    snprintf(tf->tmp, sizeof(tf->tmp), "%s/%s+%d+%" PRId64 ".%ld.tmp",
             ld->tmpdir, part->topic, (int)part->partition, first,
             (long)getpid());
    tf->first = first;
    tf->ts = ts;
    tf->hour = hour_of(ts);
    tf->w = qr_lwriter_open(ld->o->fmt, ld->o->deflate, tf->tmp, t->err,
                            sizeof(t->err));
    return tf->w ? QUIRE_ERR_NONE : QUIRE_ERR_IO;
}

/* Closes (fsync) the file covering first..@p last, renames it into its
 * hour directory and fsyncs that directory: then it is committed. */
static quire_err_t tfile_publish(load_t *ld, task_t *t, tfile_t *tf,
                                 int64_t last)
{
    const part_t *part = &ld->parts[t->part];
    char dir[4096], path[4352];
    quire_err_t err = qr_lwriter_close(tf->w, t->err, sizeof(t->err));
    tf->w = NULL;
    if (err != QUIRE_ERR_NONE)
        return err;
    if (qr_lpath_hour(dir, sizeof(dir), ld->o->output, part->topic, tf->ts)) {
        snprintf(t->err, sizeof(t->err), "output path too long");
        return QUIRE_ERR_IO;
    }
    snprintf(path, sizeof(path), "%s/%s+%d+%" PRId64 "+%" PRId64 ".%s", dir,
             part->topic, (int)part->partition, tf->first, last, ld->o->ext);
    if (mkdirs_sync(ld->o->output, dir) != 0 || rename(tf->tmp, path) != 0 ||
        fsync_dir(dir) != 0) {
        int e = errno;
        snprintf(t->err, sizeof(t->err), "committing %.400s: %s", path,
                 strerror(e));
        return QUIRE_ERR_IO;
    }
    qr_lranges_add(&t->out, tf->first, last);
    return QUIRE_ERR_NONE;
}

/* ---- tasks ---- */

/* Writes one record: a line on stdout (map without --output), or into the
 * file of its hour, starting a new file when the hour changes. */
static quire_err_t put_record(load_t *ld, task_t *t, tfile_t *tf,
                              const quire_record_t *rec, int64_t next)
{
    quire_err_t err = QUIRE_ERR_NONE;
    if (!ld->o->output) {
        pthread_mutex_lock(&ld->out_lock);
        int rc = qr_lfmt_line(stdout, ld->o->fmt, rec);
        pthread_mutex_unlock(&ld->out_lock);
        if (rc) {
            snprintf(t->err, sizeof(t->err), "writing stdout: %s",
                     strerror(errno));
            return QUIRE_ERR_IO;
        }
        return QUIRE_ERR_NONE;
    }
    if (tf->w && hour_of(rec->timestamp) != tf->hour)
        err = tfile_publish(ld, t, tf, next - 1);
    if (err == QUIRE_ERR_NONE && !tf->w)
        err = tfile_open(ld, t, tf, next, rec->timestamp);
    if (err == QUIRE_ERR_NONE)
        err = qr_lwriter_append(tf->w, rec, t->err, sizeof(t->err));
    return err;
}

/* Fetches exactly first..last of the task's partition and writes it: the
 * map code of both run and Streaming. */
static quire_err_t run_task(load_t *ld, quire_consumer_t *c, task_t *t)
{
    const part_t *part = &ld->parts[t->part];
    tfile_t tf = {0};
    int64_t next = t->first, idle = qr_clock_mono_ms();
    int progressed = 0;
    quire_err_t err =
        quire_consumer_assign(c, part->topic, part->partition, t->first);
    if (err != QUIRE_ERR_NONE)
        snprintf(t->err, sizeof(t->err), "%s-%d: %s", part->topic,
                 (int)part->partition, quire_err2str(err));
    while (err == QUIRE_ERR_NONE && next <= t->last) {
        const quire_record_t *rec;
        err = quire_consumer_poll(c, 200, &rec);
        if (err == QUIRE_ERR_TIMED_OUT) {
            err = QUIRE_ERR_NONE;
            if (progressed) /* the clock is read only when idle */
                idle = qr_clock_mono_ms(), progressed = 0;
            if (atomic_load(&ld->stop))
                err = QUIRE_ERR_DESTROYED;
            else if (qr_clock_mono_ms() - idle > ld->o->timeout_ms)
                err = QUIRE_ERR_TIMED_OUT;
            if (err != QUIRE_ERR_NONE)
                snprintf(t->err, sizeof(t->err),
                         "%s-%d: no record at offset %" PRId64 " (%s)",
                         part->topic, (int)part->partition, next,
                         err == QUIRE_ERR_TIMED_OUT ? "timed out" : "stopped");
            continue;
        }
        if (err != QUIRE_ERR_NONE) {
            snprintf(t->err, sizeof(t->err), "%s-%d at offset %" PRId64 ": %s",
                     part->topic, (int)part->partition, next,
                     quire_err2str(err));
            break;
        }
        progressed = 1;
        /* a fetch of the worker's previous partition may still land after
         * its unassign: only this task's partition counts */
        if (rec->offset < next || rec->partition != part->partition ||
            strcmp(rec->topic, part->topic) != 0)
            continue;
        if (rec->offset > t->last)
            break;
        size_t bytes = qr_lfmt_record_bytes(rec);
        err = put_record(ld, t, &tf, rec, next);
        next = rec->offset + 1;
        t->records++;
        t->bytes += (int64_t)bytes;
        atomic_fetch_add(&ld->recs, 1);
        atomic_fetch_add(&ld->bytes, (long long)bytes);
    }
    quire_consumer_unassign(c, part->topic, part->partition);
    if (tf.w && err == QUIRE_ERR_NONE) /* the last file covers to the end */
        err = tfile_publish(ld, t, &tf, t->last);
    if (tf.w) {
        char ignored[256];
        qr_lwriter_close(tf.w, ignored, sizeof(ignored));
        unlink(tf.tmp);
    }
    return err;
}

static void *worker(void *arg)
{
    load_t *ld = arg;
    char errstr[512];
    quire_consumer_t *c = consumer_new(ld->conf, errstr, sizeof(errstr));
    if (!c) {
        fprintf(stderr, "%s: error: %s\n", PROG, errstr);
        atomic_store(&ld->stop, 1);
    }
    while (c && !atomic_load(&ld->stop)) {
        size_t i = atomic_fetch_add(&ld->next_task, 1);
        if (i >= ld->task_cnt)
            break;
        task_t *t = &ld->tasks[i];
        if (atomic_load(&t->state) != T_PENDING)
            continue;
        quire_err_t err = run_task(ld, c, t);
        if (err != QUIRE_ERR_NONE)
            atomic_store(&ld->stop, 1);
        atomic_store(&t->state, err == QUIRE_ERR_NONE ? T_DONE : T_FAILED);
        atomic_fetch_add(&ld->tasks_done, 1);
    }
    quire_consumer_close(c);
    atomic_fetch_sub(&ld->workers, 1);
    return NULL;
}

/* ---- the main thread: commits and progress ---- */

/* Commits the end of the partition's chain of files when it moved. */
static int commit_part(load_t *ld, qr_zk_t *zk, part_t *part)
{
    int64_t end = qr_lcover_end(&part->files, part->from);
    if (end <= part->committed || (end == part->from && part->stored < 0))
        return 0;
    quire_err_t err =
        write_offset(zk, ld->o->job, part->topic, part->partition, end);
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "committing %s-%d at %" PRId64 ": %s", part->topic,
                     (int)part->partition, end, quire_err2str(err));
        return -1;
    }
    part->committed = end;
    return 0;
}

/* Folds finished tasks into their partitions and commits them. */
static int fold_tasks(load_t *ld, qr_zk_t *zk)
{
    int rc = 0;
    for (size_t i = 0; i < ld->task_cnt; i++) {
        task_t *t = &ld->tasks[i];
        int st = atomic_load(&t->state);
        if (t->handled || st == T_PENDING)
            continue;
        t->handled = 1;
        part_t *part = &ld->parts[t->part];
        part->records += t->records;
        part->bytes += t->bytes;
        part->file_cnt += (int64_t)t->out.n;
        for (size_t k = 0; k < t->out.n; k++)
            qr_lranges_add(&part->files, t->out.v[k].first, t->out.v[k].last);
        if (st == T_FAILED) {
            qr_cli_error(PROG, "%s", t->err);
            rc = -1;
        }
        if (zk && commit_part(ld, zk, part) != 0) {
            atomic_store(&ld->stop, 1);
            rc = -1;
        }
    }
    return rc;
}

static int cond_progress(void *arg)
{
    load_t *ld = arg;
    return atomic_load(&ld->workers) == 0;
}

static void progress(load_t *ld, int64_t *t_prev, long long *r_prev,
                     long long *b_prev)
{
    int64_t now = qr_clock_mono_ms();
    long long r = atomic_load(&ld->recs), b = atomic_load(&ld->bytes);
    double dt = (double)(now - *t_prev) / 1000.0;
    if (dt <= 0)
        dt = 0.001;
    fprintf(stderr,
            "%s: tasks %zu/%zu, %.0f records/s, %.1f MB/s, %lld records "
            "left\n",
            PROG, atomic_load(&ld->tasks_done), ld->task_cnt,
            (double)(r - *r_prev) / dt, (double)(b - *b_prev) / dt / 1e6,
            (long long)ld->planned - r);
    *t_prev = now, *r_prev = r, *b_prev = b;
}

/* Runs every task with --parallelism workers; the main thread keeps the
 * ZooKeeper session (when @p zk), commits, and prints progress. */
static int execute(load_t *ld, qr_zk_t *zk)
{
    size_t nw = (size_t)ld->o->parallelism;
    if (nw > ld->task_cnt)
        nw = ld->task_cnt;
    pthread_t *th = qr_calloc(nw + 1, sizeof(*th));
    int64_t t_prev = qr_clock_mono_ms(), t0 = t_prev;
    long long r_prev = 0, b_prev = 0;
    int rc = 0;
    atomic_store(&ld->workers, (int)nw);
    for (size_t i = 0; i < nw; i++)
        if (pthread_create(&th[i], NULL, worker, ld) != 0)
            QR_ASSERT(!"pthread_create");
    while (atomic_load(&ld->workers) > 0) {
        if (zk)
            qr_zk_sync_wait(zk, cond_progress, ld, 100);
        else
            usleep(100000);
        if (fold_tasks(ld, zk) != 0)
            rc = -1;
        if (qr_clock_mono_ms() - t_prev >= 1000)
            progress(ld, &t_prev, &r_prev, &b_prev);
    }
    for (size_t i = 0; i < nw; i++)
        pthread_join(th[i], NULL);
    progress(ld, &t_prev, &r_prev, &b_prev); /* the last second's */
    free(th);
    if (fold_tasks(ld, zk) != 0)
        rc = -1;
    for (size_t i = 0; i < ld->task_cnt && rc == 0; i++)
        if (atomic_load(&ld->tasks[i].state) != T_DONE)
            rc = -1; /* a worker could not start */
    double s = (double)(qr_clock_mono_ms() - t0) / 1000.0;
    fprintf(stderr, "%s: %lld records, %.1f MB in %.2f s (%.0f records/s)\n",
            PROG, atomic_load(&ld->recs), (double)atomic_load(&ld->bytes) / 1e6,
            s, s > 0 ? (double)atomic_load(&ld->recs) / s : 0.0);
    return rc;
}

/* One line per topic: records, bytes, files, committed offsets. */
static void summary(const load_t *ld, FILE *fp)
{
    for (size_t i = 0; i < ld->part_cnt;) {
        int64_t recs = 0, bytes = 0, files = 0;
        size_t j = i;
        for (; j < ld->part_cnt &&
               !strcmp(ld->parts[j].topic, ld->parts[i].topic);
             j++) {
            recs += ld->parts[j].records;
            bytes += ld->parts[j].bytes;
            files += ld->parts[j].file_cnt;
        }
        fprintf(fp,
                "topic %s: %" PRId64 " records, %" PRId64 " bytes, "
                "%" PRId64 " files",
                ld->parts[i].topic, recs, bytes, files);
        if (ld->o->cmd != CMD_MAP) {
            fprintf(fp, "; committed");
            for (size_t k = i; k < j; k++) {
                if (ld->parts[k].committed >= 0)
                    fprintf(fp, " %d=%" PRId64, (int)ld->parts[k].partition,
                            ld->parts[k].committed);
                else
                    fprintf(fp, " %d=-", (int)ld->parts[k].partition);
            }
        }
        fprintf(fp, "\n");
        i = j;
    }
}

static void print_tasks(const load_t *ld, FILE *fp)
{
    for (size_t i = 0; i < ld->task_cnt; i++) {
        const task_t *t = &ld->tasks[i];
        fprintf(fp, "%s %d %" PRId64 " %" PRId64 "\n", ld->parts[t->part].topic,
                (int)ld->parts[t->part].partition, t->first, t->last);
    }
}

/* ---- the output directory ---- */

/* Makes <output>/_temporary/<job>, takes the job's lock (exclusive for
 * run: no two runs of a job at once; shared for map), and for run removes
 * what killed runs left there. @returns the lock's fd, or -1. */
static int prepare_output(load_t *ld)
{
    const opts_t *o = ld->o;
    char lock[4200];
    snprintf(ld->tmpdir, sizeof(ld->tmpdir), "%s/_temporary/%s", o->output,
             o->job);
    snprintf(lock, sizeof(lock), "%s.lock", ld->tmpdir);
    int fd = -1;
    if (mkdir(o->output, 0755) != 0 && errno != EEXIST)
        goto fail;
    char *tmp = qr_strdup(ld->tmpdir);
    int rc = mkdirs_sync(o->output, tmp);
    free(tmp);
    if (rc != 0 || (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        goto fail;
    if (flock(fd, (o->cmd == CMD_MAP ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        qr_cli_error(PROG, "another quire-load of job %s is using %s", o->job,
                     o->output);
        close(fd);
        return -1;
    }
    if (o->cmd == CMD_RUN) {
        DIR *d = opendir(ld->tmpdir);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char path[4400];
            if (n > 4 && !strcmp(de->d_name + n - 4, ".tmp")) {
                snprintf(path, sizeof(path), "%s/%s", ld->tmpdir, de->d_name);
                unlink(path);
            }
        }
        if (d)
            closedir(d);
    }
    return fd;
fail:
    qr_cli_error(PROG, "cannot write to the output directory %s: %s", o->output,
                 strerror(errno));
    return -1;
}

/* ---- main ---- */

static void load_free(load_t *ld)
{
    for (size_t i = 0; i < ld->part_cnt; i++) {
        free(ld->parts[i].topic);
        qr_lranges_free(&ld->parts[i].files);
    }
    for (size_t i = 0; i < ld->task_cnt; i++)
        qr_lranges_free(&ld->tasks[i].out);
    free(ld->parts);
    free(ld->tasks);
    quire_conf_destroy(ld->conf);
    pthread_mutex_destroy(&ld->out_lock);
}

static int parse_args(opts_t *o, int argc, char **argv)
{
    int r;
    o->fmt = QR_LFMT_AVRO;
    o->ext = "avro";
    o->split_records = 5000000;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->parallelism = ncpu > 0 ? ncpu : 1;
    o->timeout_ms = 30000;
    if (argc < 2) {
        qr_cli_usage_error(PROG, "give a command: run, splits, map or commit");
        return -1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, stdout);
        return 1;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        qr_cli_print_version(PROG);
        return 1;
    }
    if (parse_cmd(o, argv[1]) != 0)
        return -1;
    optind = 2;
    r = qr_cli_parse(&tool, argc, argv, o, &o->cli);
    return r == 0 ? check_opts(o) : r;
}

/* map: the tasks on stdin, into --output or as lines on stdout. */
static int cmd_map(load_t *ld)
{
    char errstr[512];
    int rc, lock = -1;
    if (read_splits(ld, stdin) != 0)
        return QR_CLI_EXIT_USAGE;
    if (ld->task_cnt == 0)
        return QR_CLI_EXIT_OK;
    quire_consumer_t *c = consumer_new(ld->conf, errstr, sizeof(errstr));
    if (!c) {
        qr_cli_error(PROG, "%s", errstr);
        return QR_CLI_EXIT_ERROR;
    }
    rc = check_splits(ld, c);
    quire_consumer_close(c);
    if (rc == 0 && ld->o->output && (lock = prepare_output(ld)) < 0)
        rc = QR_CLI_EXIT_ERROR;
    if (rc == 0 && ld->o->dry_run)
        print_tasks(ld, stdout);
    else if (rc == 0)
        rc = execute(ld, NULL) == 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_ERROR;
    if (rc == 0 && !ld->o->dry_run)
        summary(ld, stderr);
    if (lock >= 0)
        close(lock);
    return rc;
}

/* run, splits, commit: the plan from ZooKeeper, the logs and --output. */
static int cmd_plan(load_t *ld, qr_zk_t *zk)
{
    const opts_t *o = ld->o;
    char errstr[512];
    int rc, lock = -1;
    quire_consumer_t *c = consumer_new(ld->conf, errstr, sizeof(errstr));
    if (!c) {
        qr_cli_error(PROG, "%s", errstr);
        return QR_CLI_EXIT_ERROR;
    }
    if (o->cmd != CMD_SPLITS && !o->dry_run &&
        (lock = prepare_output(ld)) < 0) {
        quire_consumer_close(c);
        return QR_CLI_EXIT_ERROR;
    }
    rc = plan(ld, zk, c);
    quire_consumer_close(c);
    if (rc == 0 && (o->cmd == CMD_SPLITS || o->dry_run)) {
        if (o->cmd == CMD_RUN)
            printf("# %zu task(s), %" PRId64 " record(s): topic partition "
                   "first last\n",
                   ld->task_cnt, ld->planned);
        print_tasks(ld, stdout);
    } else if (rc == 0 && o->cmd == CMD_RUN) {
        rc = execute(ld, zk) == 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_ERROR;
        summary(ld, stdout);
    } else if (rc == 0) {
        summary(ld, stdout);
    }
    if (lock >= 0)
        close(lock);
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    load_t ld = {0};
    int rc = parse_args(&o, argc, argv);
    if (rc != 0) {
        free(o.topics);
        free(o.props);
        return rc > 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_USAGE;
    }
    qr_cli_log_setup(o.cli.verbose);
    ld.o = &o;
    pthread_mutex_init(&ld.out_lock, NULL);
    ld.conf = consumer_conf(&o, &rc);
    if (!ld.conf) {
        load_free(&ld);
        return rc;
    }
    if (o.cmd == CMD_MAP) {
        rc = cmd_map(&ld);
    } else {
        qr_zk_t *zk = qr_zkcli_open(PROG, o.cli.zookeeper, o.cli.verbose,
                                    ZK_TIMEOUT_MS, &rc);
        if (zk)
            rc = cmd_plan(&ld, zk);
        qr_zkcli_close(zk);
    }
    load_free(&ld);
    free(o.topics);
    free(o.props);
    return rc;
}
