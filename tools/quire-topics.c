/*
 * quire-topics: create, alter, describe, list and delete topics in
 * ZooKeeper (issue 4, item 8; man/quire-topics.1). A thin main() over
 * coordinator/admin.c; it waits on a libev loop for ZooKeeper's answers.
 */
#include "config.h"

#include <ev.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "cli.h"
#include "zkcli.h"
#include "topic.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

#define PROG        "quire-topics"
#define TIMEOUT_MS  10000
#define MAX_CONFIGS 64

typedef enum action {
    ACT_NONE,
    ACT_CREATE,
    ACT_ALTER,
    ACT_DESCRIBE,
    ACT_LIST,
    ACT_DELETE
} action_t;

typedef struct opts {
    int action; /* action_t */
    const char *topic;
    int32_t partitions; /* -1: not given */
    int32_t rf;
    qr_topic_config_t config;
    const char *unset[MAX_CONFIGS];
    size_t unset_cnt;
    const char *assignment; /* --replica-assignment */
    int json;
    qr_cli_common_t cli;
    int under_replicated, unavailable; /* describe filters */
    int if_not_exists, if_exists;      /* issue 18: Kafka's options */
} opts_t;

static const char usage_text[] =
    "Usage: quire-topics ACTION [OPTION...]\n"
    "Create, alter, describe, list and delete quire topics in ZooKeeper.\n"
    "\n"
    "Actions (exactly one):\n"
    "  --create              create --topic with --partitions\n"
    "  --alter               add partitions to --topic or change its config\n"
    "  --describe            show partitions, leaders, replicas, ISR and\n"
    "                        config of --topic, or of every topic\n"
    "  --list                list the topics\n"
    "  --delete              mark --topic for deletion\n"
    "\n"
    "Options:\n"
    "  --topic T             the topic\n"
    "  --partitions N        number of partitions (create: required;\n"
    "                        alter: the new, larger number)\n"
    "  --replication-factor R  replicas of each partition (default 1; at\n"
    "                        most the number of live brokers)\n"
    "  --replica-assignment B1:B2,B3:B4,...\n"
    "                        create: the replicas of each partition by hand\n"
    "                        (broker ids; the first is the preferred leader),\n"
    "                        instead of --partitions/--replication-factor\n"
    "  --under-replicated-partitions\n"
    "                        describe: only partitions whose ISR is smaller\n"
    "                        than their replicas\n"
    "  --unavailable-partitions\n"
    "                        describe: only partitions without a live leader\n"
    "  --config K=V          a per-topic override (repeatable)\n"
    "  --delete-config K     remove an override (alter; repeatable)\n"
    "  --zookeeper CONNECT   host:port[,host:port...][/chroot]\n"
    "                        (default $QUIRE_ZOOKEEPER, else localhost:2181)\n"
    "  --if-not-exists       create: succeed when the topic exists\n"
    "  --if-exists           alter, delete: succeed when it does not\n"
    "  --json                machine-readable output (describe, list)\n"
    "  --verbose             log ZooKeeper client activity on stderr\n"
    "  --help                show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const struct option long_opts[] = {
    {"create", no_argument, NULL, 'C'},
    {"alter", no_argument, NULL, 'A'},
    {"describe", no_argument, NULL, 'D'},
    {"list", no_argument, NULL, 'L'},
    {"delete", no_argument, NULL, 'X'},
    {"topic", required_argument, NULL, 't'},
    {"partitions", required_argument, NULL, 'p'},
    {"replication-factor", required_argument, NULL, 'r'},
    {"replica-assignment", required_argument, NULL, 'a'},
    {"under-replicated-partitions", no_argument, NULL, 'U'},
    {"unavailable-partitions", no_argument, NULL, 'N'},
    {"config", required_argument, NULL, 'c'},
    {"delete-config", required_argument, NULL, 'u'},
    {"json", no_argument, NULL, 'j'},
    {"if-not-exists", no_argument, NULL, 'I'},
    {"if-exists", no_argument, NULL, 'E'},
    QR_CLI_ZK_LONG_OPTS_END,
};

/* ---- arguments ---- */

static int parse_one(void *opts, int c, const char *arg);

static const qr_cli_tool_t tool = {PROG, usage_text, "", long_opts, parse_one};

static int set_action(opts_t *o, action_t a)
{
    return qr_cli_set_action(PROG, &o->action, ACT_NONE, a,
                             "--create, --alter, --describe, --list, --delete");
}

static int add_config(opts_t *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[128], errstr[512];

    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
        qr_cli_usage_error(PROG, "--config \"%s\": expected KEY=VALUE", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if (qr_topic_config_check(key, eq + 1, errstr, sizeof(errstr))) {
        qr_cli_usage_error(PROG, "--config %s", errstr);
        return -1;
    }
    if (o->config.n >= MAX_CONFIGS) {
        qr_cli_usage_error(PROG, "too many --config options");
        return -1;
    }
    qr_topic_config_set(&o->config, key, eq + 1);
    return 0;
}

static int parse_number(const char *opt, const char *s, int64_t max,
                        int32_t *out)
{
    int64_t v;

    if (qr_cli_parse_int(s, 1, max, &v) != 0) {
        qr_cli_usage_error(PROG, "%s \"%s\": expected an integer in 1..%lld",
                           opt, s, (long long)max);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* @returns -1 on a usage error, 1 after --help/--version, 0 to go on. */
static int parse_one(void *opts, int c, const char *arg)
{
    opts_t *o = opts;

    switch (c) {
    case 'C':
        return set_action(o, ACT_CREATE);
    case 'A':
        return set_action(o, ACT_ALTER);
    case 'D':
        return set_action(o, ACT_DESCRIBE);
    case 'L':
        return set_action(o, ACT_LIST);
    case 'X':
        return set_action(o, ACT_DELETE);
    case 't':
        o->topic = arg;
        return 0;
    case 'p':
        return parse_number("--partitions", arg, QR_ASSIGN_MAX_PARTITIONS,
                            &o->partitions);
    case 'r':
        return parse_number("--replication-factor", arg, QR_ASSIGN_MAX_REPLICAS,
                            &o->rf);
    case 'a':
        o->assignment = arg;
        return 0;
    case 'U':
        o->under_replicated = 1;
        return 0;
    case 'N':
        o->unavailable = 1;
        return 0;
    case 'c':
        return add_config(o, arg);
    case 'u':
        if (o->unset_cnt >= MAX_CONFIGS) {
            qr_cli_usage_error(PROG, "too many --delete-config options");
            return -1;
        }
        o->unset[o->unset_cnt++] = arg;
        return 0;
    case 'j':
        o->json = 1;
        return 0;
    case 'I':
        o->if_not_exists = 1;
        return 0;
    case 'E':
        o->if_exists = 1;
        return 0;
    default:
        /* getopt named the option in one line (issue 18) */
        return -1;
    }
}

/* Everything that can be checked without ZooKeeper, so a bad command
 * writes nothing. */
static int check_opts(opts_t *o)
{
    const char *why;

    if (o->action == ACT_NONE) {
        qr_cli_usage_error(PROG, "give one of --create, --alter, --describe, "
                                 "--list, --delete");
        return -1;
    }
    if (!o->topic && (o->action == ACT_CREATE || o->action == ACT_ALTER ||
                      o->action == ACT_DELETE)) {
        qr_cli_usage_error(PROG, "--topic is required here");
        return -1;
    }
    if (o->topic &&
        qr_topic_name_check(o->topic, strlen(o->topic), &why) != 0) {
        qr_cli_usage_error(PROG, "invalid topic name \"%.64s%s\": %s", o->topic,
                           strlen(o->topic) > 64 ? "..." : "", why);
        return -1;
    }
    if (o->assignment &&
        (o->action != ACT_CREATE || o->partitions >= 0 || o->rf > 0)) {
        qr_cli_usage_error(PROG, "--replica-assignment is for --create, "
                                 "without --partitions and "
                                 "--replication-factor");
        return -1;
    }
    if (o->action == ACT_CREATE && o->partitions < 0 && !o->assignment) {
        qr_cli_usage_error(PROG, "--create needs --partitions");
        return -1;
    }
    if ((o->under_replicated || o->unavailable) && o->action != ACT_DESCRIBE) {
        qr_cli_usage_error(PROG, "--under-replicated-partitions and "
                                 "--unavailable-partitions are for "
                                 "--describe");
        return -1;
    }
    if (o->action == ACT_ALTER && o->partitions < 0 && !o->config.n &&
        !o->unset_cnt) {
        qr_cli_usage_error(PROG, "--alter needs --partitions, --config or "
                                 "--delete-config");
        return -1;
    }
    if ((o->if_not_exists && o->action != ACT_CREATE) ||
        (o->if_exists && o->action != ACT_ALTER && o->action != ACT_DELETE)) {
        qr_cli_usage_error(PROG, "--if-not-exists is for --create, "
                                 "--if-exists for --alter and --delete");
        return -1;
    }
    if (o->action != ACT_CREATE && o->rf > 0) {
        qr_cli_usage_error(PROG, "--replication-factor is for --create only");
        return -1;
    }
    if ((o->config.n && o->action != ACT_CREATE && o->action != ACT_ALTER) ||
        (o->unset_cnt && o->action != ACT_ALTER)) {
        qr_cli_usage_error(PROG, "--config is for --create and --alter, "
                                 "--delete-config for --alter");
        return -1;
    }
    return 0;
}

/* ---- output ---- */

static void print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)ids[i]);
}

static int is_live(const qr_admin_desc_t *d, int32_t id)
{
    for (size_t i = 0; i < d->broker_cnt; i++)
        if (d->brokers[i] == id)
            return 1;
    return 0;
}

/* Kafka's TopicCommand filters: under-replicated when the ISR is smaller
 * than the replica list, unavailable when there is no leader or it is not
 * a live broker. Without a filter every partition is shown. */
static int part_shown(const opts_t *o, const qr_admin_desc_t *d,
                      const qr_admin_part_t *part)
{
    size_t isr = part->has_state ? part->st.isr_cnt : 0;
    int32_t leader = part->has_state ? part->st.leader : -1;

    if (o->under_replicated && isr < part->replicas.n)
        return 1;
    if (o->unavailable && (leader < 0 || !is_live(d, leader)))
        return 1;
    return !o->under_replicated && !o->unavailable;
}

static void print_describe(const opts_t *o, const qr_admin_desc_t *d)
{
    int filtered = o->under_replicated || o->unavailable;

    for (size_t i = 0; i < d->topic_cnt; i++) {
        const qr_admin_topic_t *t = &d->topics[i];
        if (!filtered) {
            printf("Topic:%s\tPartitionCount:%zu\tReplicationFactor:%zu\t"
                   "Configs:",
                   t->name, t->part_cnt,
                   t->part_cnt ? t->parts[0].replicas.n : (size_t)0);
            for (size_t k = 0; k < t->config.n; k++)
                printf("%s%s=%s", k ? "," : "", t->config.keys[k],
                       t->config.values[k]);
            printf("%s\n", t->deleting ? "\tMarkedForDeletion:true" : "");
        }
        for (size_t p = 0; p < t->part_cnt; p++) {
            const qr_admin_part_t *part = &t->parts[p];
            if (!part_shown(o, d, part))
                continue;
            printf("\tTopic: %s\tPartition: %zu\tLeader: ", t->name, p);
            if (part->has_state && part->st.leader >= 0)
                printf("%d", (int)part->st.leader);
            else
                printf("none");
            printf("\tReplicas: ");
            print_ids(part->replicas.ids, part->replicas.n);
            printf("\tIsr: ");
            if (part->has_state)
                print_ids(part->st.isr, part->st.isr_cnt);
            printf("\n");
        }
    }
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static json_t *topic_json(const opts_t *opts, const qr_admin_desc_t *d,
                          const qr_admin_topic_t *t, int full)
{
    json_t *o = json_object(), *parts, *cfg;

    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "marked_for_deletion", json_boolean(t->deleting));
    if (!full)
        return o;
    cfg = json_object();
    for (size_t k = 0; k < t->config.n; k++)
        json_object_set_new(cfg, t->config.keys[k],
                            json_string(t->config.values[k]));
    json_object_set_new(o, "config", cfg);
    parts = json_array();
    for (size_t p = 0; p < t->part_cnt; p++) {
        const qr_admin_part_t *part = &t->parts[p];
        json_t *jp;
        if (!part_shown(opts, d, part))
            continue;
        jp = json_object();
        json_object_set_new(jp, "partition", json_integer((json_int_t)p));
        json_object_set_new(
            jp, "leader", json_integer(part->has_state ? part->st.leader : -1));
        json_object_set_new(
            jp, "leader_epoch",
            json_integer(part->has_state ? part->st.leader_epoch : -1));
        json_object_set_new(jp, "replicas",
                            ids_json(part->replicas.ids, part->replicas.n));
        json_object_set_new(jp, "isr",
                            part->has_state
                                ? ids_json(part->st.isr, part->st.isr_cnt)
                                : json_array());
        json_array_append_new(parts, jp);
    }
    json_object_set_new(o, "partitions", parts);
    return o;
}

static void print_json(const opts_t *o, const qr_admin_desc_t *d, int full)
{
    json_t *root = json_object(), *topics = json_array();
    char *s;

    for (size_t i = 0; i < d->topic_cnt; i++)
        json_array_append_new(topics, topic_json(o, d, &d->topics[i], full));
    json_object_set_new(root, "topics", topics);
    if (full)
        json_object_set_new(root, "brokers",
                            ids_json(d->brokers, d->broker_cnt));
    s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s)
        puts(s);
    free(s);
    json_decref(root);
}

/* ---- actions ---- */

/* Whether /brokers/ids has children. */
static int brokers_registered(qr_zk_t *zk)
{
    qr_zk_sres_t ids;
    int n;

    memset(&ids, 0, sizeof(ids));
    n = qr_zk_sync_children(zk, "/brokers/ids", TIMEOUT_MS, &ids) ==
            QUIRE_ERR_NONE &&
        ids.child_cnt > 0;
    qr_zk_sres_free(&ids);
    return n;
}

static quire_err_t run(qr_zk_t *zk, opts_t *o, char *errstr, size_t errstr_size)
{
    qr_admin_desc_t d;
    quire_err_t err;
    int already;

    switch (o->action) {
    case ACT_CREATE:
        if (o->assignment)
            err = qr_admin_create_assigned(zk, o->topic, o->assignment,
                                           &o->config, TIMEOUT_MS, errstr,
                                           errstr_size);
        else
            err = qr_admin_create(zk, o->topic, o->partitions,
                                  o->rf > 0 ? o->rf : 1, &o->config, TIMEOUT_MS,
                                  errstr, errstr_size);
        if (!err)
            printf("Created topic \"%s\".\n", o->topic);
        if (err == QUIRE_ERR_TOPIC_ALREADY_EXISTS && o->if_not_exists)
            return QUIRE_ERR_NONE; /* as Kafka's tool: nothing said */
        return err;
    case ACT_ALTER:
        err = qr_admin_alter(zk, o->topic, o->partitions, &o->config, o->unset,
                             o->unset_cnt, TIMEOUT_MS, errstr, errstr_size);
        if (!err)
            printf("Altered topic \"%s\".\n", o->topic);
        if (err == QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
            return QUIRE_ERR_NONE;
        return err;
    case ACT_DELETE:
        err = qr_admin_delete(zk, o->topic, &already, TIMEOUT_MS, errstr,
                              errstr_size);
        if (!err)
            printf("Topic %s is %smarked for deletion.\n", o->topic,
                   already ? "already " : "");
        if (err == QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
            return QUIRE_ERR_NONE;
        return err;
    case ACT_LIST:
    case ACT_DESCRIBE:
        err = qr_admin_describe(zk, o->topic, o->action == ACT_DESCRIBE, &d,
                                TIMEOUT_MS, errstr, errstr_size);
        if (err)
            return err;
        if (d.topic_cnt == 0 && !o->topic && !brokers_registered(zk)) {
            /* issue 18 item 11: nothing here, most likely the wrong path */
            qr_admin_desc_free(&d);
            qr_cli_no_brokers_msg(errstr, errstr_size, o->cli.zookeeper);
            return QUIRE_ERR_NOT_FOUND;
        }
        if (o->json)
            print_json(o, &d, o->action == ACT_DESCRIBE);
        else if (o->action == ACT_DESCRIBE)
            print_describe(o, &d);
        else
            for (size_t i = 0; i < d.topic_cnt; i++)
                printf("%s%s\n", d.topics[i].name,
                       d.topics[i].deleting ? " - marked for deletion" : "");
        qr_admin_desc_free(&d);
        return QUIRE_ERR_NONE;
    default:
        return QUIRE_ERR_BAD_ARG;
    }
}

int main(int argc, char **argv)
{
    opts_t o = {.partitions = -1, .rf = -1};
    qr_zk_t *zk;
    char errstr[512];
    int rc = QR_CLI_EXIT_OK, r;

    r = qr_cli_parse(&tool, argc, argv, &o, &o.cli);
    if (r == 0)
        r = check_opts(&o);
    if (r != 0) {
        qr_topic_config_free(&o.config);
        return r > 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_USAGE;
    }
    zk = qr_zkcli_open(PROG, o.cli.zookeeper, o.cli.verbose, TIMEOUT_MS, &rc);
    if (zk && run(zk, &o, errstr, sizeof(errstr)) != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "%s", errstr);
        rc = QR_CLI_EXIT_ERROR;
    }
    qr_zkcli_close(zk);
    qr_topic_config_free(&o.config);
    return rc;
}
