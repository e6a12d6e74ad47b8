/*
 * quire-leader-election: asks the controller to move leadership back to
 * each partition's preferred replica (Kafka's
 * kafka-preferred-replica-election / kafka-leader-election; issue 16 item
 * 10; man/quire-leader-election.1), by writing
 * /admin/preferred_replica_election in Kafka 0.8.2's format.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "adminreq.h"
#include "cli.h"
#include "zkcli.h"

#define PROG       "quire-leader-election"
#define TIMEOUT_MS 10000

static const char usage_text[] =
    "Usage: quire-leader-election (--all-topic-partitions |\n"
    "                              --path-to-json-file FILE) [OPTION...]\n"
    "Ask the controller to make each partition's preferred replica (the\n"
    "first of its replicas) its leader, when that replica is live and in\n"
    "the ISR.\n"
    "\n"
    "  --all-topic-partitions   every partition of every topic\n"
    "  --path-to-json-file FILE the partitions in FILE:\n"
    "                           "
    "{\"partitions\":[{\"topic\":\"t\",\"partition\":0},"
    "...]}\n"
    "  --zookeeper CONNECT      host:port[,host:port...][/chroot]\n"
    "                           (default $QUIRE_ZOOKEEPER, else "
    "localhost:2181)\n"
    "  --verbose                log ZooKeeper client activity on stderr\n"
    "  --help                   show this help and exit\n"
    "  --version                show the version and exit\n"
    "\n"
    "Exit status: 0 election started, 1 failure, 2 usage error.\n";

static const struct option long_opts[] = {
    {"all-topic-partitions", no_argument, NULL, 'a'},
    {"path-to-json-file", required_argument, NULL, 'f'},
    QR_CLI_ZK_LONG_OPTS_END,
};

typedef struct opts {
    int all;
    const char *file;
    qr_cli_common_t cli;
} opts_t;

static int parse_one(void *opts, int c, const char *arg)
{
    opts_t *o = opts;

    switch (c) {
    case 'a':
        o->all = 1;
        return 0;
    case 'f':
        o->file = arg;
        return 0;
    default:
        return -1;
    }
}

static const qr_cli_tool_t tool = {PROG, usage_text, "", long_opts, parse_one};

/* @returns -1 usage error, 1 done (--help, --version), 0 go on. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    int r = qr_cli_parse(&tool, argc, argv, o, &o->cli);

    if (r == 0 && o->all == (o->file != NULL)) {
        qr_cli_usage_error(PROG, "give exactly one of --all-topic-partitions "
                                 "and --path-to-json-file");
        return -1;
    }
    return r;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    qr_partlist_t req = {NULL, 0}, written = {NULL, 0};
    char errstr[512];
    qr_zk_t *zk;
    int r, rc = QR_CLI_EXIT_OK;

    if ((r = parse_args(argc, argv, &o)) != 0)
        return r > 0 ? QR_CLI_EXIT_OK : QR_CLI_EXIT_USAGE;
    if (o.file && qr_zkcli_load_partlist(PROG, "--path-to-json-file", o.file, 0,
                                         &req) != 0)
        return QR_CLI_EXIT_ERROR;
    if (!(zk = qr_zkcli_open(PROG, o.cli.zookeeper, o.cli.verbose, TIMEOUT_MS,
                             &rc))) {
        qr_partlist_free(&req);
        return rc;
    }
    if (qr_adminreq_preferred(zk, o.file ? &req : NULL, &written, TIMEOUT_MS,
                              errstr, sizeof(errstr)) != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "%s", errstr);
        rc = QR_CLI_EXIT_ERROR;
    } else {
        printf("Successfully started preferred replica election for %zu "
               "partition%s:",
               written.n, written.n == 1 ? "" : "s");
        for (size_t i = 0; i < written.n; i++)
            printf(" %s-%d", written.v[i].topic, (int)written.v[i].partition);
        printf("\n");
    }
    qr_partlist_free(&written);
    qr_partlist_free(&req);
    qr_zkcli_close(zk);
    return rc;
}
