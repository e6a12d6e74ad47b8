/*
 * clientcli: broker discovery and conf helpers for the client tools.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "clientcli.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

/* Reads /brokers/ids and writes "host:port,..." into a new string. */
static char *brokers_from_zk(const char *prog, const char *zookeeper,
                             int *exit_code)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    qr_zk_sres_t ids, data;
    char errstr[256] = "", *list = NULL;
    size_t len = 0;
    qr_zk_t *zk;

    memset(&ids, 0, sizeof(ids));
    zk = qr_zk_new(loop, zookeeper, 10000, QR_CCLI_ZK_TIMEOUT_MS, errstr,
                   sizeof(errstr));
    if (!zk) {
        qr_cli_usage_error(prog, "--zookeeper: %s", errstr);
        *exit_code = QR_CLI_EXIT_USAGE;
        goto out;
    }
    if (qr_zk_sync_connect(zk, QR_CCLI_ZK_TIMEOUT_MS, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        qr_cli_error(prog, "cannot reach ZooKeeper at %s: %s", zookeeper,
                     *errstr ? errstr : "timed out");
        goto out;
    }
    if (qr_zk_sync_children(zk, "/brokers/ids", QR_CCLI_ZK_TIMEOUT_MS, &ids) !=
            QUIRE_ERR_NONE ||
        ids.child_cnt == 0) {
        qr_cli_no_brokers(prog, zookeeper);
        goto out;
    }
    for (size_t i = 0; i < ids.child_cnt; i++) {
        char path[64];
        qr_znode_broker_t b;
        char item[300];
        int n;

        snprintf(path, sizeof(path), "/brokers/ids/%s", ids.children[i]);
        if (qr_zk_sync_get(zk, path, QR_CCLI_ZK_TIMEOUT_MS, &data) !=
                QUIRE_ERR_NONE ||
            !data.data) {
            qr_zk_sres_free(&data);
            continue; /* went away meanwhile */
        }
        memset(&b, 0, sizeof(b));
        if (qr_znode_broker_decode(data.data, data.len, &b, NULL, 0) ==
            QUIRE_ERR_NONE) {
            n = snprintf(item, sizeof(item), "%s%s:%d", len ? "," : "", b.host,
                         b.port);
            list = qr_realloc(list, len + (size_t)n + 1);
            memcpy(list + len, item, (size_t)n + 1);
            len += (size_t)n;
        }
        free(b.host);
        qr_zk_sres_free(&data);
    }
    if (!list)
        qr_cli_error(prog, "no readable broker registration in %s", zookeeper);
out:
    qr_zk_sres_free(&ids);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
    return list;
}

/* issue 18: the library's lines go where the tool's go, at its level */
static void tool_log_cb(int level, const char *fac, const char *msg,
                        void *opaque)
{
    qr_cli_log_line(opaque, level, fac, msg);
}

static void conf_logging(quire_conf_t *conf)
{
    char dbg[64];
    size_t len = sizeof(dbg);

    quire_conf_set_log_cb(conf, tool_log_cb, NULL);
    quire_conf_set(conf, "log_level", qr_cli_log_verbose() ? "7" : "4", NULL,
                   0);
    if (qr_cli_log_verbose() &&
        quire_conf_get(conf, "debug", dbg, &len) == QUIRE_ERR_NONE && !*dbg)
        quire_conf_set(conf, "debug", "zk", NULL, 0);
}

int qr_ccli_set_brokers(quire_conf_t *conf, const char *prog,
                        const char *bootstrap, const char *zookeeper,
                        int *exit_code)
{
    char errstr[256];
    char *list = NULL;
    int rc = 0;

    *exit_code = QR_CLI_EXIT_OK;
    conf_logging(conf);
    if (!bootstrap) {
        list = brokers_from_zk(
            prog, zookeeper ? zookeeper : qr_cli_zookeeper_default(),
            exit_code);
        if (!list) {
            if (*exit_code != QR_CLI_EXIT_USAGE)
                *exit_code = QR_CLI_EXIT_ERROR;
            return -1;
        }
        bootstrap = list;
    }
    if (quire_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                       sizeof(errstr)) != QUIRE_ERR_NONE) {
        qr_cli_usage_error(prog, "--bootstrap-server: %s", errstr);
        *exit_code = QR_CLI_EXIT_USAGE;
        rc = -1;
    }
    free(list);
    return rc;
}

int qr_ccli_conf_set(quire_conf_t *conf, const char *prog, const char *key,
                     const char *value)
{
    char errstr[256];

    if (quire_conf_set(conf, key, value, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        qr_cli_usage_error(prog, "%s", errstr);
        return -1;
    }
    return 0;
}

int qr_ccli_conf_kv(quire_conf_t *conf, const char *prog, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char *key;
    int rc;

    if (!eq || eq == kv) {
        qr_cli_usage_error(prog, "expected key=value, got '%s'", kv);
        return -1;
    }
    key = qr_strndup(kv, (size_t)(eq - kv));
    rc = qr_ccli_conf_set(conf, prog, key, eq + 1);
    free(key);
    return rc;
}

int qr_ccli_new_failed(const char *prog, quire_err_t err, const char *errstr)
{
    if (err == QUIRE_ERR_CONF_INVALID || err == QUIRE_ERR_CONF_UNKNOWN ||
        err == QUIRE_ERR_BAD_ARG) {
        qr_cli_usage_error(prog, "%s", errstr);
        return QR_CLI_EXIT_USAGE;
    }
    qr_cli_error(prog, "%s", *errstr ? errstr : quire_err2str(err));
    return QR_CLI_EXIT_ERROR;
}
