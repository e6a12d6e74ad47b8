/*
 * retention: which segments go, and the delayed unlink.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "checkpoint.h"
#include "diskfmt.h"
#include "logging.h"
#include "partlog_int.h"
#include "retention.h"

/* The segment's age reference: its greatest timestamp, else its mtime. */
static int64_t seg_time(const qr_seg_t *seg)
{
    int64_t ts = atomic_load(&((qr_seg_t *)seg)->max_ts);
    struct stat st;

    char path[PATH_MAX];

    if (ts >= 0)
        return ts;
    /* by name: the cache may have closed the segment's fd */
    if (qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path)) != 0 ||
        stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* How many leading segments to delete; may roll the active one. Part lock
 * held (the only writer of the segment array). */
static size_t count_deletable(qr_plog_t *part, int64_t now, const char **why)
{
    const qr_plog_conf_t *c = &part->conf;
    uint64_t total = 0;
    size_t k = 0;

    for (size_t i = 0; i < part->nsegs; i++)
        total += qr_seg_size(part->segs[i]);
    for (size_t i = 0; i < part->nsegs; i++) {
        qr_seg_t *seg = part->segs[i];
        uint64_t size = qr_seg_size(seg);
        int active = i + 1 == part->nsegs;
        int64_t t = seg_time(seg);
        int by_time =
            c->retention_ms >= 0 && t >= 0 && now - t > c->retention_ms;
        int by_size = c->retention_bytes >= 0 && !active &&
                      total - size >= (uint64_t)c->retention_bytes;
        if (size == 0 || !(by_time || by_size))
            break;
        if (active && qr_plog_do_roll(part) != QUIRE_ERR_NONE)
            break;
        *why = by_time ? "retention.ms" : "retention.bytes";
        total -= size;
        k++;
    }
    return k;
}

quire_err_t qr_retention_run(qr_plog_t *part, int64_t now_ms, int *deleted)
{
    const char *why = NULL;
    quire_err_t err = QUIRE_ERR_NONE;
    qr_seg_t **gone;
    size_t k;

    if (deleted)
        *deleted = 0;
    pthread_mutex_lock(&part->lock);
    if (part->closed || atomic_load(&part->offline) || part->nsegs == 0) {
        pthread_mutex_unlock(&part->lock);
        return QUIRE_ERR_NONE;
    }
    k = count_deletable(part, now_ms, &why);
    if (k == 0) {
        pthread_mutex_unlock(&part->lock);
        return QUIRE_ERR_NONE;
    }
    /* Renamed first, and the renames made durable (the directory synced)
     * before the log start moves: a deletion, once seen, never comes back
     * after a power loss. Readers still use the fds meanwhile. */
    for (size_t i = 0; i < k; i++)
        if (qr_seg_mark_deleted(part->segs[i]) != QUIRE_ERR_NONE)
            err = QUIRE_ERR_KAFKA_STORAGE_ERROR; /* unlinked by old names */
    if (qr_ckpt_sync_dir(part->dir) != QUIRE_ERR_NONE) {
        /* Nothing was removed from the log: the renamed files are still
         * served by their fds, and the next open removes them. */
        qr_plog_sync_failed(part, "fsync of the directory failed");
        pthread_mutex_unlock(&part->lock);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    gone = qr_malloc(k * sizeof(*gone));
    pthread_rwlock_wrlock(&part->segs_lock);
    memcpy(gone, part->segs, k * sizeof(*gone));
    memmove(part->segs, part->segs + k,
            (part->nsegs - k) * sizeof(*part->segs));
    memmove(part->bases, part->bases + k,
            (part->nsegs - k) * sizeof(*part->bases));
    part->nsegs -= k;
    qr_plog_segs_changed(part);
    atomic_store_explicit(&part->log_start, part->segs[0]->base_offset,
                          memory_order_release);
    pthread_rwlock_unlock(&part->segs_lock);
    for (size_t i = 0; i < k; i++) {
        qr_seg_t *seg = gone[i];
        seg->delete_at_ms = now_ms + part->conf.segment_delete_delay_ms;
        seg->next_deleted = part->deleted_head;
        part->deleted_head = seg; /* keeps the list's reference */
        QR_LOG_INFO("LOG",
                    "%s: segment %020lld deleted by %s, log start now %lld",
                    part->name, (long long)seg->base_offset, why,
                    (long long)part->segs[0]->base_offset);
    }
    free(gone);
    /* the epochs of deleted segments go with them (Kafka's
     * truncateFromStart); a failure here loses nothing: the next open cuts
     * the cache to the log again */
    if (qr_epochcache_truncate_from_start(part->epochs,
                                          qr_plog_log_start(part)) &&
        qr_epochcache_persist(part->epochs) != QUIRE_ERR_NONE)
        QR_LOG_WARN("LOG", "%s: could not rewrite %s after retention",
                    part->name, QR_EPOCHCACHE_FILE);
    pthread_mutex_unlock(&part->lock);
    if (deleted)
        *deleted = (int)k;
    return err;
}

int qr_retention_reap(qr_plog_t *part, int64_t now_ms, int force)
{
    int n = 0;
    pthread_mutex_lock(&part->lock);
    for (qr_seg_t **pp = &part->deleted_head; *pp;) {
        qr_seg_t *seg = *pp;
        if (force || now_ms >= seg->delete_at_ms) {
            *pp = seg->next_deleted;
            qr_seg_unlink(seg);
            qr_seg_release(seg);
            n++;
        } else {
            pp = &seg->next_deleted;
        }
    }
    /* Not needed for correctness (a .deleted file that comes back is
     * removed at open), but the space is then freed for good. */
    if (n > 0 && qr_ckpt_sync_dir(part->dir) != QUIRE_ERR_NONE)
        QR_LOG_WARN("LOG", "%s: fsync of the directory after unlinks failed",
                    part->name);
    pthread_mutex_unlock(&part->lock);
    return n;
}

int qr_retention_pending(qr_plog_t *part)
{
    int n = 0;
    pthread_mutex_lock(&part->lock);
    for (qr_seg_t *seg = part->deleted_head; seg; seg = seg->next_deleted)
        n++;
    pthread_mutex_unlock(&part->lock);
    return n;
}
