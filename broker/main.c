/*
 * quire-broker: parse arguments, load server.properties, build the server,
 * run it (STYLE.md §2: main.c only; the broker itself is libqrbroker).
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or config error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "brokerconf.h"
#include "logging.h"
#include "server.h"

#define MAX_OVERRIDES 256

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: quire-broker [OPTIONS] [server.properties]\n"
            "  -c, --config FILE       read the configuration from FILE\n"
            "  -o, --override KEY=VAL  set KEY after the file (repeatable)\n"
            "  -p, --port-file PATH    once serving, write host:port to "
            "PATH\n"
            "  -h, --help              this text\n"
            "      --help-config       every configuration key\n"
            "  -V, --version           print the version\n"
            "See quire-broker(8) and quire-broker.properties(5).\n");
}

typedef struct args {
    const char *config;
    const char *port_file;
    const char *overrides[MAX_OVERRIDES];
    int override_cnt;
} args_t;

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"override", required_argument, NULL, 'o'},
        {"port-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, 'H'},
        {"help-config-man", no_argument, NULL, 'M'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:o:p:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'o':
            if (a->override_cnt == MAX_OVERRIDES) {
                fprintf(stderr, "quire-broker: too many --override\n");
                return 2;
            }
            a->overrides[a->override_cnt++] = optarg;
            break;
        case 'p':
            a->port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'H':
            qr_brokerconf_print_help(stdout);
            return 0;
        case 'M':
            qr_brokerconf_print_man(stdout);
            return 0;
        case 'V':
            printf("quire-broker %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        if (a->config || optind + 1 < argc) {
            fprintf(stderr, "quire-broker: one configuration file only\n");
            usage(stderr);
            return 2;
        }
        a->config = argv[optind];
    }
    if (!a->config) {
        fprintf(stderr, "quire-broker: no configuration file given\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

static int load_conf(const args_t *a, qr_brokerconf_t *bconf)
{
    char errstr[512];

    if (qr_brokerconf_load(bconf, a->config, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        fprintf(stderr, "quire-broker: %s\n", errstr);
        return 2;
    }
    for (int i = 0; i < a->override_cnt; i++) {
        char *kv = qr_strdup(a->overrides[i]), *eq = strchr(kv, '=');
        quire_err_t err;
        if (!eq) {
            fprintf(stderr, "quire-broker: --override %s: expected key=value\n",
                    a->overrides[i]);
            free(kv);
            return 2;
        }
        *eq = '\0';
        err = qr_brokerconf_set(bconf, kv, eq + 1, errstr, sizeof(errstr));
        free(kv);
        if (err != QUIRE_ERR_NONE) {
            fprintf(stderr, "quire-broker: --override: %s\n", errstr);
            return 2;
        }
    }
    if (qr_brokerconf_check(bconf, errstr, sizeof(errstr)) != QUIRE_ERR_NONE) {
        fprintf(stderr, "quire-broker: %s: %s\n", a->config, errstr);
        return 2;
    }
    return -1;
}

/* Each partition holds three files open (its active segment's log, offset
 * index and time index), so the soft limit on open files (often 1,024)
 * is raised to the hard one before any is opened; past the hard one the
 * administrator raises it (ulimit -Hn, LimitNOFILE=), as for Kafka. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        QR_LOG_INFO("MAIN", "open files limit raised from %llu to %llu",
                    (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

int main(int argc, char **argv)
{
    args_t a = {0};
    qr_brokerconf_t *bconf;
    qr_server_t *server;
    uint32_t debug = 0;
    char errstr[512];
    quire_err_t err;
    int rc;

    if ((rc = parse_args(argc, argv, &a)) >= 0)
        return rc;
    bconf = qr_brokerconf_new();
    if ((rc = load_conf(&a, bconf)) >= 0) {
        qr_brokerconf_destroy(bconf);
        return rc;
    }
    if (bconf->debug)
        (void)qr_log_debug_parse(bconf->debug, &debug, NULL);
    qr_log_setup(QR_LOG_LVL_INFO, debug, bconf->broker_id);
    raise_nofile();
    server = qr_server_new(bconf, a.port_file, errstr, sizeof(errstr));
    if (!server) {
        fprintf(stderr, "quire-broker: %s\n", errstr);
        qr_brokerconf_destroy(bconf);
        return 2;
    }
    err = qr_server_run(server);
    qr_server_destroy(server);
    return err == QUIRE_ERR_NONE ? 0 : 1;
}
