/*
 * brokerseq: the /brokers/seqid sequence. See brokerseq.h.
 */
#include "config.h"

#include <stdio.h>

#include "brokerseq.h"
#include "logging.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

/* Creates @p path with no data; an existing node is fine. */
static quire_err_t ensure(qr_zk_t *zk, const char *path, int timeout_ms,
                          char *errstr, size_t errstr_size)
{
    qr_zk_sres_t res;
    int rc;

    qr_zk_sync_create(zk, path, NULL, -1, 0, timeout_ms, &res);
    rc = res.rc;
    qr_zk_sres_free(&res);
    if (rc == ZOK || rc == ZNODEEXISTS)
        return QUIRE_ERR_NONE;
    snprintf(errstr, errstr_size, "creating %s: %s", path, zerror(rc));
    return rc == ZOPERATIONTIMEOUT ? QUIRE_ERR_TIMED_OUT : QUIRE_ERR_ZK;
}

/* One unconditional setData; *version is the node's new version. */
static int bump(qr_zk_t *zk, int timeout_ms, int32_t *version)
{
    qr_zk_sres_t res;
    int rc;

    qr_zk_sync_set(zk, QR_ZNODE_BROKER_SEQID, NULL, -1, -1, timeout_ms, &res);
    rc = res.rc;
    if (rc == ZOK && res.has_stat)
        *version = res.stat.version;
    else if (rc == ZOK)
        rc = ZSYSTEMERROR; /* no stat: cannot happen with a set */
    qr_zk_sres_free(&res);
    return rc;
}

static quire_err_t take(qr_zk_t *zk, int timeout_ms, int32_t *version,
                        char *errstr, size_t errstr_size)
{
    quire_err_t err;
    int rc = bump(zk, timeout_ms, version);

    if (rc == ZNONODE) {
        /* the first broker ever to ask: make the node, then ask again */
        if ((err = ensure(zk, QR_ZNODE_BROKERS, timeout_ms, errstr,
                          errstr_size)) != QUIRE_ERR_NONE ||
            (err = ensure(zk, QR_ZNODE_BROKER_SEQID, timeout_ms, errstr,
                          errstr_size)) != QUIRE_ERR_NONE)
            return err;
        rc = bump(zk, timeout_ms, version);
    }
    if (rc == ZOK)
        return QUIRE_ERR_NONE;
    snprintf(errstr, errstr_size, "setting %s: %s", QR_ZNODE_BROKER_SEQID,
             zerror(rc));
    return rc == ZOPERATIONTIMEOUT ? QUIRE_ERR_TIMED_OUT : QUIRE_ERR_ZK;
}

quire_err_t qr_brokerseq_next(struct ev_loop *loop, const char *zk_connect,
                              int session_timeout_ms, int timeout_ms,
                              int32_t reserved_max, int32_t *idp, char *errstr,
                              size_t errstr_size)
{
    qr_zk_t *zk = qr_zk_new(loop, zk_connect, session_timeout_ms, timeout_ms,
                            errstr, errstr_size);
    int32_t version = 0;
    quire_err_t err;

    if (!zk)
        return QUIRE_ERR_ZK;
    err = qr_zk_sync_connect(zk, timeout_ms, errstr, errstr_size);
    if (err == QUIRE_ERR_TIMED_OUT)
        snprintf(errstr, errstr_size, "no ZooKeeper session within %d ms",
                 timeout_ms);
    if (err == QUIRE_ERR_NONE)
        err = take(zk, timeout_ms, &version, errstr, errstr_size);
    qr_zk_destroy(zk);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (version < 1 || version > INT32_MAX - reserved_max) {
        snprintf(errstr, errstr_size,
                 "%s version %d: no broker id left above "
                 "reserved.broker.max.id %d",
                 QR_ZNODE_BROKER_SEQID, (int)version, (int)reserved_max);
        return QUIRE_ERR_STATE;
    }
    *idp = reserved_max + version;
    QR_LOG_INFO("ZK", "generated broker id %d (%s version %d)", (int)*idp,
                QR_ZNODE_BROKER_SEQID, (int)version);
    return QUIRE_ERR_NONE;
}
