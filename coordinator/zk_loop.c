/*
 * zk_loop: the libev adapter for libzookeeper_st. See zk_loop.h.
 */
#include "config.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alloc.h"
#include "logging.h"
#include "quietlog.h"
#include "zk_loop.h"

struct qr_zk_loop {
    struct ev_loop *loop;
    zhandle_t *zh; /* borrowed */
    ev_prepare prepare;
    ev_io io;
    ev_timer timer;
};

static void process(qr_zk_loop_t *zl, int events)
{
    int rc = zookeeper_process(zl->zh, events);

    /* Connection loss, expiry and the like come back to zk.c through the
     * session watcher; here they are only worth a debug line. */
    if (rc != ZOK && rc != ZNOTHING)
        QR_DBG(QR_DBG_ZK, "ZK", "zookeeper_process: %s", zerror(rc));
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    qr_zk_loop_t *zl = w->data;
    int events = 0;

    (void)loop;
    if (revents & EV_READ)
        events |= ZOOKEEPER_READ;
    if (revents & EV_WRITE)
        events |= ZOOKEEPER_WRITE;
    process(zl, events);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    qr_zk_loop_t *zl = w->data;

    (void)loop;
    (void)revents;
    process(zl, 0);
}

/* Before every poll: ask the client what it wants, and say it to libev. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    qr_zk_loop_t *zl = w->data;
    struct timeval tv = {0, 0};
    int fd = -1, interest = 0, events = 0;
    int rc;

    (void)revents;
    rc = zookeeper_interest(zl->zh, &fd, &interest, &tv);
    /* Always stop and set again, even for an unchanged fd number: the
     * client may have reopened its socket under it (ev.pod). */
    ev_io_stop(loop, &zl->io);
    ev_timer_stop(loop, &zl->timer);
    if (rc != ZOK && rc != ZNOTHING) {
        /* ZINVALIDSTATE after expiry or close: zk.c reacts to the session
         * event; keep a slow timer so the state is re-read. */
        QR_DBG(QR_DBG_ZK, "ZK", "zookeeper_interest: %s", zerror(rc));
        ev_timer_set(&zl->timer, 0.5, 0.);
        ev_timer_start(loop, &zl->timer);
        return;
    }
    if (interest & ZOOKEEPER_READ)
        events |= EV_READ;
    if (interest & ZOOKEEPER_WRITE)
        events |= EV_WRITE;
    if (fd >= 0 && events) {
        ev_io_set(&zl->io, fd, events);
        ev_io_start(loop, &zl->io);
    }
    ev_timer_set(&zl->timer, tv.tv_sec + tv.tv_usec / 1e6, 0.);
    ev_timer_start(loop, &zl->timer);
}

qr_zk_loop_t *qr_zk_loop_new(struct ev_loop *loop, zhandle_t *zh)
{
    qr_zk_loop_t *zl = qr_calloc(1, sizeof(*zl));

    zl->loop = loop;
    zl->zh = zh;
    ev_prepare_init(&zl->prepare, on_prepare);
    zl->prepare.data = zl;
    ev_io_init(&zl->io, on_io, -1, 0);
    zl->io.data = zl;
    ev_timer_init(&zl->timer, on_timer, 0., 0.);
    zl->timer.data = zl;
    ev_prepare_start(loop, &zl->prepare);
    /* The prepare watcher alone does not keep the loop alive; the timer it
     * arms does. Arm it once now so ev_run() does not return at once. */
    ev_timer_set(&zl->timer, 0., 0.);
    ev_timer_start(loop, &zl->timer);
    return zl;
}

void qr_zk_loop_destroy(qr_zk_loop_t *zl)
{
    if (!zl)
        return;
    ev_prepare_stop(zl->loop, &zl->prepare);
    ev_io_stop(zl->loop, &zl->io);
    ev_timer_stop(zl->loop, &zl->timer);
    free(zl);
}

/* ---- logging ---- */

/* While ZooKeeper is unreachable the client logs the same few lines on
 * every attempt (several a second): each is shown once, then summarised
 * at most every QR_QUIET_INTERVAL_MS (issue 15). Keyed by "<func>@<line>",
 * which names the place in the client, not the errno or port that vary. */
static qr_quiet_t zkc_quiet = QR_QUIET_INIT(QR_QUIET_INTERVAL_MS);

uint64_t qr_zk_loop_log_settle(void)
{
    return qr_quiet_clear(&zkc_quiet, NULL);
}

/* The client formats "<date>:<pid>(0x<tid>):ZOO_<LEVEL>@<func>@<line>:
 * <msg>"; keep the level and what follows it. */
void qr_zk_loop_log(const char *message)
{
    char key[64];
    size_t klen;
    static const struct {
        const char *tag;
        int level;
    } levels[] = {
        {"ZOO_ERROR@", QR_LOG_LVL_ERR},
        {"ZOO_WARN@", QR_LOG_LVL_WARNING},
        {"ZOO_INFO@", QR_LOG_LVL_INFO},
        {"ZOO_DEBUG@", QR_LOG_LVL_DEBUG},
    };
    const char *text = message;
    int level = QR_LOG_LVL_INFO;

    for (size_t i = 0; i < QR_ARRAY_LEN(levels); i++) {
        const char *p = strstr(message, levels[i].tag);
        if (p) {
            level = levels[i].level;
            text = p + strlen(levels[i].tag);
            break;
        }
    }
    /* The client is chatty at INFO (every connect); quire shows its lines
     * at INFO only with debug=zk, and its warnings and errors always. */
    if (level >= QR_LOG_LVL_INFO && !(QR_LOG_DEBUG_NOW() & QR_DBG_ZK))
        return;
    if (qr_log_debug & QR_DBG_ZK) { /* debugging: every line */
        QR_LOG(level, "ZKC", "%s", text);
        return;
    }
    klen = strcspn(text, ":");
    if (klen >= sizeof(key))
        klen = sizeof(key) - 1;
    memcpy(key, text, klen);
    key[klen] = '\0';
    QR_LOG_QUIET(&zkc_quiet, level, "ZKC", key, "%s", text);
}

void qr_zk_loop_set_log_level(void)
{
    ZooLogLevel zlevel = ZOO_LOG_LEVEL_WARN;

    if (QR_LOG_DEBUG_NOW() & QR_DBG_ZK)
        zlevel = ZOO_LOG_LEVEL_DEBUG;
    else if (QR_LOG_LEVEL_NOW() < QR_LOG_LVL_WARNING)
        zlevel = ZOO_LOG_LEVEL_ERROR;
    zoo_set_debug_level(zlevel);
}
