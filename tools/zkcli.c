/*
 * zkcli: shared by the ZooKeeper admin tools. See zkcli.h.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "zk_sync.h"
#include "zkcli.h"

#define ZKCLI_FILE_MAX (64 << 20)

qr_zk_t *qr_zkcli_open(const char *prog, const char *connect, int verbose,
                       int timeout_ms, int *rc)
{
    struct ev_loop *loop;
    qr_zk_t *zk;
    char errstr[512];

    qr_cli_log_setup(verbose);
    loop = ev_default_loop(0);
    zk = qr_zk_new(loop, connect, 10000, timeout_ms, errstr, sizeof(errstr));
    if (!zk) {
        qr_cli_usage_error(prog, "--zookeeper: %s", errstr);
        ev_loop_destroy(loop);
        *rc = QR_CLI_EXIT_USAGE;
        return NULL;
    }
    if (qr_zk_sync_connect(zk, timeout_ms, errstr, sizeof(errstr))) {
        qr_cli_error(prog, "%s: %s", connect, errstr);
        qr_zkcli_close(zk);
        *rc = QR_CLI_EXIT_ERROR;
        return NULL;
    }
    return zk;
}

void qr_zkcli_close(qr_zk_t *zk)
{
    struct ev_loop *loop;

    if (!zk)
        return;
    loop = qr_zk_loop(zk);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
}

char *qr_zkcli_read_file(const char *prog, const char *opt, const char *path,
                         size_t *len)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    size_t n = 0, cap = 4096, got;

    if (!fp) {
        qr_cli_error(prog, "%s %s: %s", opt, path, strerror(errno));
        return NULL;
    }
    buf = qr_malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap && cap < ZKCLI_FILE_MAX) {
            cap *= 2;
            buf = qr_realloc(buf, cap + 1);
        } else if (n == cap) {
            qr_cli_error(prog, "%s %s: larger than 64 MiB", opt, path);
            fclose(fp);
            free(buf);
            return NULL;
        }
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int qr_zkcli_load_partlist(const char *prog, const char *opt, const char *path,
                           int with_replicas, qr_partlist_t *out)
{
    char errstr[512], *data;
    size_t len;
    int bad;

    memset(out, 0, sizeof(*out));
    if (!(data = qr_zkcli_read_file(prog, opt, path, &len)))
        return -1;
    bad = qr_partlist_decode(data, len, with_replicas, out, errstr,
                             sizeof(errstr)) != QUIRE_ERR_NONE;
    if (!bad && out->n == 0) {
        snprintf(errstr, sizeof(errstr), "lists no partitions");
        bad = 1;
    }
    if (bad)
        qr_cli_error(prog, "%s %s: %s", opt, path, errstr);
    free(data);
    return bad ? -1 : 0;
}
