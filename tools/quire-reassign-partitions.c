/*
 * quire-reassign-partitions: moves partitions' replicas between brokers
 * (Kafka's kafka-reassign-partitions; issue 16 item 10;
 * man/quire-reassign-partitions.1): --generate proposes a placement,
 * --execute writes /admin/reassign_partitions for the controller
 * (coordinator/reassign.c), --verify reports each partition's progress.
 */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "adminreq.h"
#include "alloc.h"
#include "cli.h"
#include "topic.h"
#include "zkcli.h"

#define PROG        "quire-reassign-partitions"
#define TIMEOUT_MS  10000
#define MAX_BROKERS 1024

/* --verify's exit status while a partition is still moving. */
#define EXIT_IN_PROGRESS 3

typedef enum action {
    ACT_NONE,
    ACT_GENERATE,
    ACT_EXECUTE,
    ACT_VERIFY
} action_t;

typedef struct opts {
    int action; /* action_t */
    const char *topics_file, *reassign_file, *broker_list;
    int32_t brokers[MAX_BROKERS];
    size_t broker_cnt;
    qr_cli_common_t cli;
} opts_t;

static const char usage_text[] =
    "Usage: quire-reassign-partitions ACTION [OPTION...]\n"
    "Move partitions' replicas between brokers, as Kafka's\n"
    "kafka-reassign-partitions does.\n"
    "\n"
    "Actions (exactly one):\n"
    "  --generate   propose a placement of the topics in\n"
    "               --topics-to-move-json-file over --broker-list (prints\n"
    "               the current and the proposed assignment; writes nothing)\n"
    "  --execute    start the reassignment in --reassignment-json-file\n"
    "  --verify     show the progress of --reassignment-json-file's\n"
    "               partitions (exit 0 all done, 1 one failed, 3 one still\n"
    "               in progress)\n"
    "\n"
    "Options:\n"
    "  --topics-to-move-json-file FILE\n"
    "               {\"topics\":[{\"topic\":\"t\"},...],\"version\":1}\n"
    "  --broker-list ID,ID,...  the brokers to place replicas on\n"
    "  --reassignment-json-file FILE\n"
    "               {\"version\":1,\"partitions\":[{\"topic\":\"t\","
    "\"partition\":0,\n"
    "               \"replicas\":[2,3]},...]}\n"
    "  --zookeeper CONNECT   host:port[,host:port...][/chroot]\n"
    "                        (default $QUIRE_ZOOKEEPER, else localhost:2181)\n"
    "  --verbose             log ZooKeeper client activity on stderr\n"
    "  --help                show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 (--verify) still\n"
    "in progress.\n";

static const struct option long_opts[] = {
    {"generate", no_argument, NULL, 'g'},
    {"execute", no_argument, NULL, 'e'},
    {"verify", no_argument, NULL, 'y'},
    {"topics-to-move-json-file", required_argument, NULL, 't'},
    {"broker-list", required_argument, NULL, 'B'},
    {"reassignment-json-file", required_argument, NULL, 'r'},
    QR_CLI_ZK_LONG_OPTS_END,
};

/* ---- arguments ---- */

static int set_action(opts_t *o, action_t a)
{
    return qr_cli_set_action(PROG, &o->action, ACT_NONE, a,
                             "--generate, --execute, --verify");
}

static int parse_brokers(opts_t *o, const char *s)
{
    char *copy = qr_strdup(s), *save = NULL, *tok;
    int rc = 0;

    for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (qr_cli_parse_int(tok, 0, INT32_MAX, &v) != 0) {
            qr_cli_usage_error(PROG,
                               "--broker-list: \"%s\" is not a broker "
                               "id",
                               tok);
            rc = -1;
        } else if (o->broker_cnt == MAX_BROKERS) {
            qr_cli_usage_error(PROG, "--broker-list: too many brokers");
            rc = -1;
        } else {
            for (size_t i = 0; i < o->broker_cnt && rc == 0; i++)
                if (o->brokers[i] == (int32_t)v) {
                    qr_cli_usage_error(PROG,
                                       "--broker-list: broker %d "
                                       "twice",
                                       (int)v);
                    rc = -1;
                }
            o->brokers[o->broker_cnt++] = (int32_t)v;
        }
    }
    if (rc == 0 && o->broker_cnt == 0) {
        qr_cli_usage_error(PROG, "--broker-list is empty");
        rc = -1;
    }
    free(copy);
    return rc;
}

static int parse_one(void *opts, int c, const char *arg)
{
    opts_t *o = opts;

    switch (c) {
    case 'g':
        return set_action(o, ACT_GENERATE);
    case 'e':
        return set_action(o, ACT_EXECUTE);
    case 'y':
        return set_action(o, ACT_VERIFY);
    case 't':
        o->topics_file = arg;
        return 0;
    case 'B':
        o->broker_list = arg;
        return parse_brokers(o, arg);
    case 'r':
        o->reassign_file = arg;
        return 0;
    default:
        return -1;
    }
}

static const qr_cli_tool_t tool = {PROG, usage_text, "", long_opts, parse_one};

static int check_opts(const opts_t *o)
{
    if (o->action == ACT_NONE) {
        qr_cli_usage_error(PROG, "give one of --generate, --execute, "
                                 "--verify");
        return -1;
    }
    if (o->action == ACT_GENERATE && (!o->topics_file || !o->broker_list)) {
        qr_cli_usage_error(PROG, "--generate needs --topics-to-move-json-file "
                                 "and --broker-list");
        return -1;
    }
    if (o->action != ACT_GENERATE && !o->reassign_file) {
        qr_cli_usage_error(PROG, "--execute and --verify need "
                                 "--reassignment-json-file");
        return -1;
    }
    return 0;
}

/* ---- files ---- */

/* {"topics":[{"topic":"t"},...],"version":1}: one entry per topic. */
static int load_topics(const char *path, qr_partlist_t *out)
{
    char *data, errstr[256] = "";
    size_t len;
    json_error_t jerr;
    json_t *root, *topics;

    memset(out, 0, sizeof(*out));
    if (!(data = qr_zkcli_read_file(PROG, "--topics-to-move-json-file", path,
                                    &len)))
        return -1;
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    topics = json_object_get(root, "topics");
    if (!root)
        snprintf(errstr, sizeof(errstr), "not JSON: %s", jerr.text);
    else if (!json_is_array(topics) || json_array_size(topics) == 0)
        snprintf(errstr, sizeof(errstr),
                 "expected {\"topics\":[{\"topic\":\"t\"},...]}");
    for (size_t i = 0; !errstr[0] && i < json_array_size(topics); i++) {
        json_t *t = json_object_get(json_array_get(topics, i), "topic");
        const char *name = json_string_value(t), *why = NULL;
        if (!name || qr_topic_name_check(name, strlen(name), &why))
            snprintf(errstr, sizeof(errstr), "topics[%zu]: %s", i,
                     why ? why : "expected {\"topic\":\"t\"}");
        else
            qr_partlist_add(out, name, 0, NULL, 0);
    }
    json_decref(root);
    if (errstr[0]) {
        qr_cli_error(PROG, "--topics-to-move-json-file %s: %s", path, errstr);
        qr_partlist_free(out);
        return -1;
    }
    return 0;
}

static void print_list(const char *title, const qr_partlist_t *pl)
{
    char *s = qr_partlist_encode(pl, 1);

    printf("%s\n\n%s\n\n", title, s);
    free(s);
}

/* ---- actions ---- */

/* Every broker of --broker-list is registered: a proposal naming another
 * could never be executed. */
static quire_err_t brokers_live(qr_zk_t *zk, const opts_t *o, char *errstr,
                                size_t errstr_size)
{
    int32_t *live;
    size_t nlive;
    quire_err_t err;

    if ((err = qr_admin_live_brokers(zk, TIMEOUT_MS, &live, &nlive, errstr,
                                     errstr_size)))
        return err;
    for (size_t i = 0; i < o->broker_cnt && !err; i++)
        if (!qr_partlist_has_id(live, nlive, o->brokers[i])) {
            snprintf(errstr, errstr_size,
                     "--broker-list: broker %d is not a live broker",
                     (int)o->brokers[i]);
            err = QUIRE_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
    free(live);
    return err;
}

static int generate(qr_zk_t *zk, const opts_t *o, const qr_partlist_t *topics)
{
    qr_partlist_t cur = {NULL, 0}, prop;
    char errstr[512];

    if (brokers_live(zk, o, errstr, sizeof(errstr)) ||
        qr_adminreq_current(zk, topics, 0, &cur, TIMEOUT_MS, errstr,
                            sizeof(errstr)) ||
        qr_adminreq_generate(&cur, o->brokers, o->broker_cnt, &prop, errstr,
                             sizeof(errstr))) {
        qr_cli_error(PROG, "%s", errstr);
        qr_partlist_free(&cur);
        return QR_CLI_EXIT_ERROR;
    }
    print_list("Current partition replica assignment", &cur);
    print_list("Proposed partition reassignment configuration", &prop);
    qr_partlist_free(&cur);
    qr_partlist_free(&prop);
    return QR_CLI_EXIT_OK;
}

static int execute(qr_zk_t *zk, const qr_partlist_t *req)
{
    qr_partlist_t cur;
    char errstr[512];

    /* the assignment before, for a rollback, as Kafka prints it */
    if (qr_adminreq_current(zk, req, 1, &cur, TIMEOUT_MS, errstr,
                            sizeof(errstr)) ||
        qr_adminreq_reassign(zk, req, TIMEOUT_MS, errstr, sizeof(errstr))) {
        qr_cli_error(PROG, "%s", errstr);
        qr_partlist_free(&cur);
        return QR_CLI_EXIT_ERROR;
    }
    print_list("Current partition replica assignment", &cur);
    printf("Save this to use as the --reassignment-json-file option during "
           "rollback\n");
    print_list("Successfully started reassignment of partitions", req);
    qr_partlist_free(&cur);
    return QR_CLI_EXIT_OK;
}

static int verify(qr_zk_t *zk, const qr_partlist_t *req)
{
    static const char *const text[] = {"completed successfully",
                                       "is still in progress", "failed"};
    qr_adminreq_status_t *st = qr_calloc(req->n + 1, sizeof(*st));
    char errstr[512];
    int rc = QR_CLI_EXIT_OK;

    if (qr_adminreq_verify(zk, req, st, TIMEOUT_MS, errstr, sizeof(errstr))) {
        qr_cli_error(PROG, "%s", errstr);
        free(st);
        return QR_CLI_EXIT_ERROR;
    }
    printf("Status of partition reassignment:\n");
    for (size_t i = 0; i < req->n; i++) {
        printf("Reassignment of partition %s-%d %s\n", req->v[i].topic,
               (int)req->v[i].partition, text[st[i]]);
        if (st[i] == QR_ADMINREQ_FAILED)
            rc = QR_CLI_EXIT_ERROR;
        else if (st[i] == QR_ADMINREQ_IN_PROGRESS && rc == QR_CLI_EXIT_OK)
            rc = EXIT_IN_PROGRESS;
    }
    free(st);
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    qr_partlist_t in = {NULL, 0};
    qr_zk_t *zk;
    int r, rc = QR_CLI_EXIT_OK;

    r = qr_cli_parse(&tool, argc, argv, &o, &o.cli);
    if (r == 0)
        r = check_opts(&o);
    if (r != 0)
        return r > 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_USAGE;
    if ((o.action == ACT_GENERATE
             ? load_topics(o.topics_file, &in)
             : qr_zkcli_load_partlist(PROG, "--reassignment-json-file",
                                      o.reassign_file, 1, &in)) != 0)
        return QR_CLI_EXIT_ERROR;
    if (!(zk = qr_zkcli_open(PROG, o.cli.zookeeper, o.cli.verbose, TIMEOUT_MS,
                             &rc))) {
        qr_partlist_free(&in);
        return rc;
    }
    if (o.action == ACT_GENERATE)
        rc = generate(zk, &o, &in);
    else if (o.action == ACT_EXECUTE)
        rc = execute(zk, &in);
    else
        rc = verify(zk, &in);
    qr_partlist_free(&in);
    qr_zkcli_close(zk);
    return rc;
}
