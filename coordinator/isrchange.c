/*
 * isrchange: conditional ISR writes and change notifications. See
 * isrchange.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "isrchange.h"
#include "logging.h"
#include "znode.h"

#define WRITE_MAGIC 0x15c4a7e1u

typedef struct isr_write {
    uint32_t magic;
    struct isr_write *prev, *next; /* the object's list of writes out */
    qr_isrchange_t *ic;
    char *topic;
    int32_t partition;
    qr_pstate_t st;
    qr_isrchange_cb *cb;
    void *opaque;
} isr_write_t;

struct qr_isrchange {
    qr_zk_t *zk;
    qr_view_t *view;
    int32_t broker_id;
    isr_write_t *writes;
};

qr_isrchange_t *qr_isrchange_new(qr_zk_t *zk, qr_view_t *view,
                                 int32_t broker_id)
{
    qr_isrchange_t *ic = qr_calloc(1, sizeof(*ic));

    ic->zk = zk;
    ic->view = view;
    ic->broker_id = broker_id;
    return ic;
}

static void write_free(isr_write_t *w)
{
    qr_isrchange_t *ic = w->ic;

    if (w->prev)
        w->prev->next = w->next;
    else
        ic->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->magic = 0;
    free(w->topic);
    free(w);
}

/* Ends the write: callback, then free. */
static void finish(isr_write_t *w, quire_err_t result, int32_t version)
{
    w->cb(w->opaque, w->topic, w->partition, &w->st, result, version);
    write_free(w);
}

static void on_notified(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                        void *arg)
{
    (void)zk;
    (void)owner;
    (void)arg;
    /* The ISR is written either way; a lost notification only delays the
     * controller's view of it until it next reads the state. */
    if (res->rc != ZOK)
        QR_LOG_WARN("ISR", "%s: %s", QR_ZNODE_ISR_CHANGE_PREFIX,
                    zerror(res->rc));
}

static void notify(qr_isrchange_t *ic, const char *topic, int32_t partition)
{
    char *data = qr_znode_isr_change_encode(topic, partition);

    if (qr_zk_create(ic->zk, QR_ZNODE_ISR_CHANGE_PREFIX, data,
                     (int)strlen(data), ZOO_SEQUENCE, on_notified, ic,
                     NULL) != QUIRE_ERR_NONE)
        QR_LOG_WARN("ISR",
                    "%s-%d: ISR change notification not written "
                    "(not connected)",
                    topic, (int)partition);
    free(data);
}

/* After BADVERSION: deposed, or only a stale version? */
static void on_reread(qr_zk_t *zk, const qr_zk_res_t *res, void *owner,
                      void *arg)
{
    isr_write_t *w = arg;
    qr_pstate_t cur;
    char errstr[256];

    (void)zk;
    (void)owner;
    if (w->magic != WRITE_MAGIC)
        abort();
    if (res->rc == ZNONODE) {
        finish(w, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, -1);
        return;
    }
    if (res->rc != ZOK || !res->stat) {
        finish(w, qr_zk_err(res->rc), -1);
        return;
    }
    if (qr_znode_state_decode(res->data, res->len, &cur, errstr,
                              sizeof(errstr)) != QUIRE_ERR_NONE) {
        QR_LOG_WARN("ISR", "%s-%d: %s", w->topic, (int)w->partition, errstr);
        finish(w, QUIRE_ERR_BAD_JSON, -1);
        return;
    }
    if (cur.leader != w->ic->broker_id ||
        cur.leader_epoch != w->st.leader_epoch) {
        QR_LOG_WARN("ISR",
                    "%s-%d: deposed: the state now says leader %d at epoch "
                    "%d (we led at epoch %d)",
                    w->topic, (int)w->partition, (int)cur.leader,
                    (int)cur.leader_epoch, (int)w->st.leader_epoch);
        finish(w, QUIRE_ERR_NOT_LEADER_FOR_PARTITION, res->stat->version);
        return;
    }
    finish(w, QUIRE_ERR_ZK_BAD_VERSION, res->stat->version);
}

static void on_set(qr_zk_t *zk, const qr_zk_res_t *res, void *owner, void *arg)
{
    isr_write_t *w = arg;
    qr_isrchange_t *ic = owner;

    (void)zk;
    if (w->magic != WRITE_MAGIC)
        abort();
    if (res->rc == ZOK && res->stat) {
        qr_view_note_state(ic->view, w->topic, w->partition, &w->st,
                           res->stat->version);
        notify(ic, w->topic, w->partition);
        finish(w, QUIRE_ERR_NONE, res->stat->version);
        return;
    }
    if (res->rc == ZBADVERSION || res->rc == ZNONODE) {
        char *path = qr_znode_state_path(w->topic, w->partition);
        quire_err_t err = qr_zk_get(ic->zk, path, NULL, on_reread, ic, w);
        free(path);
        if (err == QUIRE_ERR_NONE)
            return;
        finish(w, err, -1);
        return;
    }
    finish(w, qr_zk_err(res->rc), -1);
}

quire_err_t qr_isrchange_write(qr_isrchange_t *ic, const char *topic,
                               int32_t partition, const qr_pstate_t *st,
                               int32_t version, qr_isrchange_cb *cb,
                               void *opaque)
{
    isr_write_t *w = qr_calloc(1, sizeof(*w));
    char *path = qr_znode_state_path(topic, partition);
    char *data = qr_znode_state_encode(st);
    quire_err_t err;

    w->magic = WRITE_MAGIC;
    w->ic = ic;
    w->topic = qr_strdup(topic);
    w->partition = partition;
    w->st = *st;
    w->cb = cb;
    w->opaque = opaque;
    w->next = ic->writes;
    if (ic->writes)
        ic->writes->prev = w;
    ic->writes = w;
    err = qr_zk_set(ic->zk, path, data, (int)strlen(data), version, on_set, ic,
                    w);
    free(path);
    free(data);
    if (err != QUIRE_ERR_NONE)
        write_free(w);
    return err;
}

void qr_isrchange_destroy(qr_isrchange_t *ic)
{
    if (!ic)
        return;
    qr_zk_forget(ic->zk, ic);
    while (ic->writes)
        write_free(ic->writes);
    free(ic);
}
