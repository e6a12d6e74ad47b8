/*
 * qt_repl: three brokers and partition states for replication tests. See
 * qt_repl.h.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_repl.h"
#include "znode.h"

#define START_MS 30000

void qt_repl_start(qt_repl_t *r, const char *props)
{
    memset(r, 0, sizeof(*r));
    r->connect = qt_zk_chroot_new(qt_zk_env(), 5000);
    ck_assert_ptr_nonnull(r->connect);
    r->zh = qt_zk_connect(r->connect, 5000);
    ck_assert_ptr_nonnull(r->zh);
    for (int i = 0; i < 3; i++) {
        r->b[i] = qt_broker_new(i + 1, r->connect, props);
        ck_assert_ptr_nonnull(r->b[i]);
        ck_assert_int_eq(qt_broker_start(r->b[i], START_MS), 0);
    }
}

void qt_repl_stop(qt_repl_t *r)
{
    for (int i = 0; i < 3; i++) {
        qt_broker_destroy(r->b[i]);
        r->b[i] = NULL;
    }
    if (r->zh)
        qt_zk_close(r->zh);
    r->zh = NULL;
    free(r->connect);
    r->connect = NULL;
}

void qt_repl_create_topic(qt_repl_t *r, const char *topic, const char *parts)
{
    char path[300], data[1024];

    snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
    snprintf(data, sizeof(data), "{\"version\":1,\"partitions\":{%s}}", parts);
    ck_assert_int_eq(
        qt_zk_create_all(r->zh, path, data, (int)strlen(data), 5000), ZOK);
}

bool qt_repl_state(qt_repl_t *r, const char *topic, int p, qr_pstate_t *st,
                   struct Stat *stat)
{
    char *path = qr_znode_state_path(topic, p), *data = NULL, errstr[128];
    int len = -1;
    bool ok = qt_zk_get(r->zh, path, &data, &len, stat, false, 2000) == ZOK &&
              qr_znode_state_decode(data, len, st, errstr, sizeof(errstr)) ==
                  QUIRE_ERR_NONE;

    free(data);
    free(path);
    return ok;
}
