/*
 * partlog: the partition log (see partlog.h for the contract and the lock
 * order).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "checkpoint.h"
#include "clock.h"
#include "diskfmt.h"
#include "logging.h"
#include "partlog_int.h"
#include "recovery.h"
#include "topic.h"

/* ---- config ---- */

void qr_plog_conf_defaults(qr_plog_conf_t *conf)
{
    conf->segment_bytes = 1073741824;
    conf->roll_ms = 168LL * 3600 * 1000;
    conf->retention_ms = 168LL * 3600 * 1000;
    conf->retention_bytes = -1;
    conf->index_interval_bytes = 4096;
    conf->index_size_max_bytes = 10485760;
    conf->flush_interval_messages = INT64_MAX;
    conf->flush_interval_ms = INT64_MAX;
    conf->segment_delete_delay_ms = 60000;
    conf->retention_check_interval_ms = 300000;
    conf->write_caching = 1;
}

quire_err_t qr_plog_conf_check(const qr_plog_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
    const char *key = NULL;

    if (conf->segment_bytes < QR_BATCH_HEADER_SIZE + 14 ||
        conf->segment_bytes > INT32_MAX)
        key = "log.segment.bytes: must be in [75, 2147483647]";
    else if (conf->roll_ms < 1)
        key = "log.roll.ms: must be at least 1";
    else if (conf->retention_ms < -1)
        key = "log.retention.ms: must be -1 or more";
    else if (conf->retention_bytes < -1)
        key = "log.retention.bytes: must be -1 or more";
    else if (conf->index_interval_bytes < 0 ||
             conf->index_interval_bytes > INT32_MAX)
        key = "log.index.interval.bytes: must be in [0, 2147483647]";
    else if (conf->index_size_max_bytes < QR_TINDEX_ENTRY_SIZE ||
             conf->index_size_max_bytes > INT32_MAX)
        key = "log.index.size.max.bytes: must be in [12, 2147483647]";
    else if (conf->flush_interval_messages < 1)
        key = "log.flush.interval.messages: must be at least 1";
    else if (conf->flush_interval_ms < 0)
        key = "log.flush.interval.ms: must be 0 or more";
    else if (conf->segment_delete_delay_ms < 0)
        key = "log.segment.delete.delay.ms: must be 0 or more";
    else if (conf->retention_check_interval_ms < 1)
        key = "log.retention.check.interval.ms: must be at least 1";
    else if (conf->write_caching != 0 && conf->write_caching != 1)
        key = "log.write.caching: must be true or false";
    if (!key)
        return QUIRE_ERR_NONE;
    snprintf(errstr, errstr_size, "%s", key);
    return QUIRE_ERR_INVALID_CONFIG;
}

static qr_seg_opts_t seg_opts(const qr_plog_conf_t *conf)
{
    qr_seg_opts_t o = {
        .index_interval_bytes = (uint32_t)conf->index_interval_bytes,
        .index_max_bytes = (size_t)conf->index_size_max_bytes,
    };
    return o;
}

/* ---- small helpers ---- */

int64_t qr_plog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qr_plog_set_offline(qr_plog_t *part, const char *why)
{
    if (atomic_exchange(&part->offline, 1) == 0)
        QR_LOG_ERR("LOG",
                   "%s: partition offline (log dir %s): %s; appends and "
                   "fetches fail with KAFKA_STORAGE_ERROR",
                   part->name, part->log_dir, why);
}

const char *qr_plog_name(const qr_plog_t *part)
{
    return part->name;
}

const char *qr_plog_topic(const qr_plog_t *part)
{
    return part->topic;
}

int32_t qr_plog_partition(const qr_plog_t *part)
{
    return part->partition;
}

const char *qr_plog_dir(const qr_plog_t *part)
{
    return part->dir;
}

int qr_plog_offline(const qr_plog_t *part)
{
    return atomic_load(&((qr_plog_t *)part)->offline);
}

int64_t qr_plog_log_start(const qr_plog_t *part)
{
    return atomic_load_explicit(&((qr_plog_t *)part)->log_start,
                                memory_order_acquire);
}

int64_t qr_plog_log_end(const qr_plog_t *part)
{
    return atomic_load_explicit(&((qr_plog_t *)part)->log_end,
                                memory_order_acquire);
}

int64_t qr_plog_high_watermark(const qr_plog_t *part)
{
    qr_plog_t *p = (qr_plog_t *)part;
    int64_t loc = atomic_load_explicit(&p->hw, memory_order_acquire);
    int64_t repl = atomic_load_explicit(&p->repl_hw, memory_order_acquire);
    return repl < loc ? repl : loc;
}

int64_t qr_plog_synced_end(const qr_plog_t *part)
{
    return qr_plog_recovery_point(part);
}

int64_t qr_plog_recovery_point(const qr_plog_t *part)
{
    return atomic_load(&((qr_plog_t *)part)->recovery_point);
}

unsigned long long qr_plog_sync_count(const qr_plog_t *part)
{
    return atomic_load(&((qr_plog_t *)part)->syncs);
}

void qr_plog_test_fail_syncs(qr_plog_t *part, int n)
{
    atomic_store(&part->test_fail_syncs, n > 0 ? n : 0);
}

/* ---- the visible end ---- */

/* Where the visible end lies: the offset, the base of the segment holding
 * its boundary, the byte end in that segment. */
typedef struct vis_end {
    int64_t off, base;
    uint64_t pos;
} vis_end_t;

/* Publishes @p v if it is past the current visible end (never backwards
 * but for @p force, at open). Returns 1 when it moved. */
static int hw_publish(qr_plog_t *part, const vis_end_t *v, int force)
{
    int moved = 0;

    pthread_mutex_lock(&part->hw_lock);
    if (force ||
        v->off > atomic_load_explicit(&part->hw, memory_order_relaxed)) {
        unsigned seq =
            atomic_load_explicit(&part->hw_seq, memory_order_relaxed);
        atomic_store_explicit(&part->hw_seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&part->hw_base, v->base, memory_order_relaxed);
        atomic_store_explicit(&part->hw_pos, v->pos, memory_order_relaxed);
        atomic_store_explicit(&part->hw, v->off, memory_order_relaxed);
        atomic_store_explicit(&part->hw_seq, seq + 2, memory_order_release);
        moved = 1;
    }
    pthread_mutex_unlock(&part->hw_lock);
    return moved;
}

static void hw_read(const qr_plog_t *part, vis_end_t *v)
{
    qr_plog_t *p = (qr_plog_t *)part;
    unsigned s1, s2;

    do {
        s1 = atomic_load_explicit(&p->hw_seq, memory_order_acquire);
        v->off = atomic_load_explicit(&p->hw, memory_order_relaxed);
        v->base = atomic_load_explicit(&p->hw_base, memory_order_relaxed);
        v->pos = atomic_load_explicit(&p->hw_pos, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&p->hw_seq, memory_order_relaxed);
    } while ((s1 & 1) || s1 != s2);
}

/* Bytes of @p seg below the visible end. */
static uint64_t visible_bytes(const qr_seg_t *seg, const vis_end_t *v)
{
    if (seg->base_offset < v->base)
        return qr_seg_size(seg);
    if (seg->base_offset > v->base)
        return 0;
    uint64_t size = qr_seg_size(seg);
    return v->pos < size ? v->pos : size;
}

size_t qr_plog_segment_count(qr_plog_t *part)
{
    pthread_rwlock_rdlock(&part->segs_lock);
    size_t n = part->nsegs;
    pthread_rwlock_unlock(&part->segs_lock);
    return n;
}

uint64_t qr_plog_size_bytes(qr_plog_t *part)
{
    uint64_t sum = 0;
    pthread_rwlock_rdlock(&part->segs_lock);
    for (size_t i = 0; i < part->nsegs; i++)
        sum += qr_seg_size(part->segs[i]);
    pthread_rwlock_unlock(&part->segs_lock);
    return sum;
}

void qr_plog_get_conf(qr_plog_t *part, qr_plog_conf_t *conf)
{
    pthread_mutex_lock(&part->lock);
    *conf = part->conf;
    pthread_mutex_unlock(&part->lock);
}

quire_err_t qr_plog_set_conf(qr_plog_t *part, const qr_plog_conf_t *conf,
                             char *errstr, size_t errstr_size)
{
    quire_err_t err = qr_plog_conf_check(conf, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    pthread_mutex_lock(&part->lock);
    part->conf = *conf;
    atomic_store(&part->write_caching, (int)conf->write_caching);
    atomic_store(&part->flush_ms, conf->flush_interval_ms);
    pthread_mutex_unlock(&part->lock);
    return QUIRE_ERR_NONE;
}

/* ---- the segment search ----
 *
 * A lookup with thousands of segments finds its partition cold: a binary
 * search over 10,000 bases (80 KB) touches ~11 cache lines, each a miss
 * (and a TLB miss every 4 KiB). The tree below (a static B+-tree of 8-key
 * nodes, each one cache line) needs one line per level: 5 for 10,000
 * segments, 2 of them the small top levels. */

#define TREE_FANOUT 8

void qr_plog_segs_changed(qr_plog_t *part)
{
    size_t len = part->nsegs, total = 0;
    int levels = 0;

    do {
        part->tree_len[levels] = len;
        part->tree_off[levels] = total;
        /* each level starts on a line: groups never straddle two */
        total += (len + TREE_FANOUT - 1) / TREE_FANOUT * TREE_FANOUT;
        levels++;
        len = (len + TREE_FANOUT - 1) / TREE_FANOUT;
    } while (part->tree_len[levels - 1] > TREE_FANOUT &&
             levels < QR_PLOG_TREE_LEVELS);
    free(part->tree);
    part->tree = NULL;
    part->tree_levels = 0;
    if (part->nsegs == 0)
        return;
    void *mem = NULL;
    size_t bytes = (total ? total : TREE_FANOUT) * sizeof(int64_t);
    if (posix_memalign(&mem, 64, bytes) != 0) {
        fprintf(stderr, "quire: out of memory allocating %zu bytes\n", bytes);
        abort();
    }
    int64_t *t = mem;
    memcpy(t, part->bases, part->nsegs * sizeof(*t));
    for (int l = 1; l < levels; l++)
        for (size_t e = 0; e < part->tree_len[l]; e++)
            t[part->tree_off[l] + e] =
                t[part->tree_off[l - 1] + e * TREE_FANOUT];
    part->tree = t;
    part->tree_levels = levels;
}

/* The index of the last segment whose base is <= offset; -1 if none.
 * segs_lock held. */
static ssize_t seg_floor(const qr_plog_t *part, int64_t offset)
{
    const int64_t *t = part->tree;
    size_t j = 0; /* the group at the top level: the only one */

    if (part->nsegs == 0 || t[0] > offset)
        return -1;
    for (int l = part->tree_levels - 1; l >= 0; l--) {
        const int64_t *g = t + part->tree_off[l] + j * TREE_FANOUT;
        size_t m = part->tree_len[l] - j * TREE_FANOUT, c = 0;
        if (m > TREE_FANOUT)
            m = TREE_FANOUT;
        /* g[0] <= offset: the level above chose this group for it */
        for (size_t k = 1; k < m; k++)
            c += g[k] <= offset;
        j = j * TREE_FANOUT + c;
    }
    return (ssize_t)j;
}

/* Appends without rebuilding the search tree (the caller does, once).
 * segs_lock held for writing */
static void segs_push_only(qr_plog_t *part, qr_seg_t *seg)
{
    if (part->nsegs == part->segs_cap) {
        part->segs_cap = part->segs_cap ? part->segs_cap * 2 : 16;
        part->segs =
            qr_realloc(part->segs, part->segs_cap * sizeof(*part->segs));
        part->bases =
            qr_realloc(part->bases, part->segs_cap * sizeof(*part->bases));
    }
    part->bases[part->nsegs] = seg->base_offset;
    part->segs[part->nsegs++] = seg;
}

/* segs_lock held for writing */
static void segs_push(qr_plog_t *part, qr_seg_t *seg)
{
    segs_push_only(part, seg);
    qr_plog_segs_changed(part);
}

static qr_seg_t *active_seg(qr_plog_t *part)
{
    /* The appender is the only writer of the array's tail, and holds
     * part->lock, so no segs_lock is needed to read it here. */
    return part->segs[part->nsegs - 1];
}

/* ---- lifetime ---- */

static qr_plog_t *plog_alloc(const char *log_dir, const char *topic,
                             int32_t partition, const qr_plog_conf_t *conf)
{
    qr_plog_t *part = qr_calloc(1, sizeof(*part));
    size_t n = strlen(topic) + 16;
    part->topic = qr_strdup(topic);
    part->partition = partition;
    part->log_dir = qr_strdup(log_dir);
    part->name = qr_malloc(n);
    snprintf(part->name, n, "%s-%d", topic, (int)partition);
    n = strlen(log_dir) + strlen(part->name) + 2;
    part->dir = qr_malloc(n);
    snprintf(part->dir, n, "%s/%s", log_dir, part->name);
    part->conf = *conf;
    atomic_init(&part->write_caching, (int)conf->write_caching);
    atomic_init(&part->flush_ms, conf->flush_interval_ms);
    pthread_mutex_init(&part->lock, NULL);
    pthread_mutex_init(&part->flush_lock, NULL);
    pthread_mutex_init(&part->hw_lock, NULL);
    pthread_mutex_init(&part->sync_lock, NULL);
    pthread_rwlock_init(&part->segs_lock, NULL);
    atomic_init(&part->refcnt, 1);
    part->epochs = qr_epochcache_new(part->dir, part->name);
    atomic_init(&part->leader_epoch, -1);
    atomic_init(&part->repl_hw, INT64_MAX);
    return part;
}

static void drop_segments(qr_plog_t *part, int unlink_files)
{
    qr_seg_t **segs;
    size_t n;

    pthread_rwlock_wrlock(&part->segs_lock);
    segs = part->segs;
    n = part->nsegs;
    part->segs = NULL;
    free(part->bases);
    part->bases = NULL;
    part->nsegs = part->segs_cap = 0;
    qr_plog_segs_changed(part);
    pthread_rwlock_unlock(&part->segs_lock);
    for (size_t i = 0; i < n; i++) {
        if (unlink_files)
            qr_seg_unlink(segs[i]);
        qr_seg_release(segs[i]);
    }
    free(segs);
    while (part->deleted_head) {
        qr_seg_t *seg = part->deleted_head;
        part->deleted_head = seg->next_deleted;
        qr_seg_unlink(seg);
        qr_seg_release(seg);
    }
}

static void plog_free(qr_plog_t *part)
{
    drop_segments(part, 0);
    while (part->waiters) {
        qr_plog_waiter_t *w = part->waiters;
        part->waiters = w->next;
        free(w);
    }
    pthread_mutex_destroy(&part->lock);
    pthread_mutex_destroy(&part->flush_lock);
    pthread_mutex_destroy(&part->hw_lock);
    pthread_mutex_destroy(&part->sync_lock);
    pthread_rwlock_destroy(&part->segs_lock);
    qr_epochcache_destroy(part->epochs);
    free(part->topic);
    free(part->name);
    free(part->dir);
    free(part->log_dir);
    free(part);
}

void qr_plog_keep(qr_plog_t *part)
{
    atomic_fetch_add_explicit(&part->refcnt, 1, memory_order_relaxed);
}

void qr_plog_release(qr_plog_t *part)
{
    if (!part)
        return;
    if (atomic_fetch_sub_explicit(&part->refcnt, 1, memory_order_acq_rel) == 1)
        plog_free(part);
}

/* ---- open and recovery ---- */

static int parse_seg_name(const char *name, const char *suffix, int64_t *base)
{
    size_t sl = strlen(suffix);
    if (strlen(name) != QR_SEG_NAME_DIGITS + sl ||
        strcmp(name + QR_SEG_NAME_DIGITS, suffix) != 0)
        return 0;
    int64_t v = 0;
    for (int i = 0; i < QR_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        if (v > (INT64_MAX - (name[i] - '0')) / 10)
            return 0;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int has_base(const int64_t *bases, size_t n, int64_t base)
{
    return n > 0 && bsearch(&base, bases, n, sizeof(*bases), cmp_i64) != NULL;
}

/* Lists the .log bases (sorted), removes leftovers: *.deleted files from a
 * delete delay cut short by a crash, and indexes without their log. */
static quire_err_t list_segments(qr_plog_t *part, int64_t **basesp, size_t *np,
                                 int *changed, char *errstr, size_t errsz)
{
    DIR *d = opendir(part->dir);
    struct dirent *de;
    int64_t *bases = NULL, base;
    size_t n = 0, cap = 0;
    char path[PATH_MAX + 256];

    if (!d) {
        snprintf(errstr, errsz, "%s: %s", part->dir, strerror(errno));
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        size_t dl = strlen(QR_SEG_SUFFIX_DELETED);
        if (len > dl &&
            strcmp(de->d_name + len - dl, QR_SEG_SUFFIX_DELETED) == 0) {
            snprintf(path, sizeof(path), "%s/%s", part->dir, de->d_name);
            QR_LOG_INFO("LOG", "%s: removing leftover %s", part->name,
                        de->d_name);
            unlink(path);
            *changed = 1;
            continue;
        }
        if (!parse_seg_name(de->d_name, QR_SEG_SUFFIX_LOG, &base))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            bases = qr_realloc(bases, cap * sizeof(*bases));
        }
        bases[n++] = base;
    }
    if (n > 1)
        qsort(bases, n, sizeof(*bases), cmp_i64);
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if ((parse_seg_name(de->d_name, QR_SEG_SUFFIX_INDEX, &base) ||
             parse_seg_name(de->d_name, QR_SEG_SUFFIX_TIMEINDEX, &base)) &&
            !has_base(bases, n, base)) {
            snprintf(path, sizeof(path), "%s/%s", part->dir, de->d_name);
            QR_LOG_INFO("LOG", "%s: removing %s, which has no log", part->name,
                        de->d_name);
            unlink(path);
            *changed = 1;
        }
    }
    closedir(d);
    *basesp = bases;
    *np = n;
    return QUIRE_ERR_NONE;
}

/* Deletes segment @p i (open time: the partition is not shared yet),
 * saying which and why (recovery.c's rule: only a segment with no valid
 * batch left). */
static void drop_seg(qr_plog_t *part, size_t i, const char *why)
{
    qr_seg_t *seg = part->segs[i];

    QR_LOG_WARN("LOG", "%s: deleting segment %020lld: %s", part->name,
                (long long)seg->base_offset, why);
    qr_seg_unlink(seg);
    qr_seg_release(seg);
    memmove(part->segs + i, part->segs + i + 1,
            (part->nsegs - i - 1) * sizeof(*part->segs));
    memmove(part->bases + i, part->bases + i + 1,
            (part->nsegs - i - 1) * sizeof(*part->bases));
    part->nsegs--;
}

/* The last segment must be where appends go on: based at the log end.
 * After a cut left it empty with another base, it is replaced. */
static quire_err_t fix_active(qr_plog_t *part, int64_t end, int *changed)
{
    qr_seg_t *seg = part->segs[part->nsegs - 1], *fresh;
    qr_seg_opts_t so = seg_opts(&part->conf);
    quire_err_t err;

    /* An empty last segment behind others is dropped: the one before it
     * ends at the log end and takes the appends (a roll follows when it
     * is full), so no new file is made for nothing. */
    while (part->nsegs > 1 && qr_seg_size(seg) == 0 &&
           seg->base_offset != end) {
        *changed = 1;
        drop_seg(part, part->nsegs - 1,
                 "empty after recovery and not based at the log end");
        seg = part->segs[part->nsegs - 1];
    }
    if (qr_seg_size(seg) > 0 || seg->base_offset == end)
        return QUIRE_ERR_NONE;
    *changed = 1;
    QR_LOG_WARN("LOG",
                "%s: replacing empty segment %020lld by one at "
                "the log end %lld",
                part->name, (long long)seg->base_offset, (long long)end);
    qr_seg_unlink(seg);
    qr_seg_release(seg);
    part->nsegs = 0;
    err = qr_seg_create(part->dir, end, &so, &fresh);
    if (err == QUIRE_ERR_NONE)
        segs_push_only(part, fresh);
    return err;
}

/* A segment after a cut (recovery.c's rule), just checked: deleted when
 * no valid batch is left in it and it is not the last (*dropped); kept
 * otherwise, the offsets between it and what comes before a gap, said in
 * the log. */
static void after_cut_one(qr_plog_t *part, size_t i, int64_t expect,
                          int *dropped)
{
    qr_seg_t *seg = part->segs[i];

    *dropped = 0;
    if (i + 1 < part->nsegs && qr_seg_size(seg) == 0) {
        drop_seg(part, i, "no valid batch in it after the cut before it");
        *dropped = 1;
    } else if (qr_seg_size(seg) > 0 && seg->base_offset > expect) {
        QR_LOG_WARN("LOG",
                    "%s: keeping segment %020lld after the cut: its batches "
                    "are valid; offsets %lld..%lld are missing",
                    part->name, (long long)seg->base_offset, (long long)expect,
                    (long long)seg->base_offset - 1);
    }
}

static quire_err_t cut_to(qr_plog_t *part, qr_seg_t *seg, int64_t limit,
                          int64_t expect, int *cut)
{
    uint64_t pos;
    qr_batch_hdr_t hdr;
    int again;
    quire_err_t err;

    if (atomic_load(&seg->next_offset) <= limit)
        return QUIRE_ERR_NONE;
    err = qr_seg_find(seg, limit, qr_seg_size(seg), &pos, &hdr);
    if (err == QUIRE_ERR_NOT_FOUND)
        return QUIRE_ERR_NONE;
    if (err != QUIRE_ERR_NONE)
        return err;
    if (hdr.base_offset < limit) /* keep the batch the point falls in */
        pos += qr_batch_size(&hdr);
    QR_LOG_WARN("LOG",
                "%s: segment %020lld: cutting at byte %llu, back to the "
                "recovery point %lld of the failed sync (offsets %lld..%lld "
                "dropped)",
                part->name, (long long)seg->base_offset,
                (unsigned long long)pos, (long long)limit,
                (long long)(hdr.base_offset < limit
                                ? qr_batch_last_offset(&hdr) + 1
                                : hdr.base_offset),
                (long long)atomic_load(&seg->next_offset) - 1);
    err = qr_seg_truncate(seg, pos);
    if (err == QUIRE_ERR_NONE) /* indexes rebuilt within the new end */
        err = qr_recovery_recover_segment(seg, part->name, expect, &again);
    *cut = 1;
    return err;
}

/* Segment i ends past the next one's base: two segments claim the same
 * offsets. It happens only when the storage lost a directory update (a
 * segment recovery deleted came back after a later append). Rule: the log
 * is continuous from its start, so the earlier segment wins and every
 * later one, all from before that cut, is deleted. Never served. */
static void overlap_error(qr_plog_t *part, size_t i)
{
    qr_seg_t *seg = part->segs[i];
    QR_LOG_ERR("LOG",
               "%s: segment %020lld ends at offset %lld, past the base of "
               "segment %020lld: overlapping segments (a directory update "
               "was lost); keeping the earlier one; the %zu later segments "
               "are checked after it and those overlapping it deleted",
               part->name, (long long)seg->base_offset,
               (long long)atomic_load(&seg->next_offset),
               (long long)part->segs[i + 1]->base_offset, part->nsegs - i - 1);
}

/* Scans or loads segment i; *scanned set when its indexes were rebuilt
 * (writable, unsealed). */
static quire_err_t recover_one(qr_plog_t *part, size_t i, int scan,
                               int64_t expect, int64_t limit, int *scanned,
                               int *cut)
{
    qr_seg_t *seg = part->segs[i];
    quire_err_t err;

    *scanned = scan;
    *cut = 0;
    if (scan)
        err = qr_recovery_recover_segment(seg, part->name, expect, cut);
    else
        err = qr_recovery_load_segment(seg, part->name);
    if (err == QUIRE_ERR_NONE && !*cut && i + 1 < part->nsegs &&
        atomic_load(&seg->next_offset) > part->segs[i + 1]->base_offset) {
        overlap_error(part, i);
        if (!*scanned) /* it becomes the active segment: writable */
            err = qr_recovery_recover_segment(seg, part->name, expect, cut);
        *scanned = 1;
        *cut = 1;
    }
    if (err == QUIRE_ERR_NONE && *scanned && limit != INT64_MAX)
        err = cut_to(part, seg, limit, expect, cut);
    return err;
}

static quire_err_t recover_all(qr_plog_t *part, const qr_plog_open_opts_t *o,
                               const int *idx_ok, int64_t limit, int *changed)
{
    int64_t rp = o->recovery_point;
    size_t first = part->nsegs; /* first segment to recover */
    int64_t expect = part->segs[0]->base_offset;
    int after_cut = 0; /* every segment after a cut is checked */
    quire_err_t err;

    if (!o->clean) {
        ssize_t i = rp < 0 ? 0 : seg_floor(part, rp);
        first = i < 0 ? 0 : (size_t)i;
        QR_LOG_INFO("LOG",
                    "%s: no clean shutdown: recovering from segment "
                    "%020lld (recovery point %lld)",
                    part->name, (long long)part->segs[first]->base_offset,
                    (long long)rp);
    }
    /* idx_ok is indexed by the segments as listed; drop_seg() shifts the
     * array, so k follows the listing while i follows the array. */
    for (size_t i = 0, k = 0; i < part->nsegs; k++) {
        qr_seg_t *seg = part->segs[i];
        int scanned = 0, cut = 0, dropped = 0;
        if (limit != INT64_MAX && i > 0 && seg->base_offset >= limit) {
            /* past the recovery point of a failed sync: nothing there is
             * known to have reached the disk */
            drop_seg(part, i, "past the recovery point of the failed sync");
            *changed = 1;
            continue;
        }
        /* held while it is worked on, so the cache cannot close it */
        qr_seg_keep(seg);
        err = qr_seg_use(seg);
        if (err == QUIRE_ERR_NONE)
            err = recover_one(part, i, k >= first || !idx_ok[k] || after_cut,
                              expect, limit, &scanned, &cut);
        if (err == QUIRE_ERR_NONE && after_cut)
            after_cut_one(part, i, expect, &dropped);
        if (err == QUIRE_ERR_NONE && !dropped && scanned && i + 1 < part->nsegs)
            err = qr_seg_seal(seg);
        if (err == QUIRE_ERR_NONE && !dropped && i + 1 < part->nsegs)
            qr_seg_cache_add(seg);
        qr_seg_release(seg);
        if (err != QUIRE_ERR_NONE)
            return err;
        *changed |= cut || dropped;
        after_cut |= cut;
        if (dropped)
            continue;
        /* an empty segment moves the end to its base, never back */
        if (qr_seg_size(seg) > 0 || seg->base_offset > expect || i == 0)
            expect = atomic_load(&seg->next_offset);
        i++;
    }
    if ((err = fix_active(part, expect, changed)) != QUIRE_ERR_NONE)
        return err;
    qr_plog_segs_changed(part);
    atomic_store(&part->log_start, part->segs[0]->base_offset);
    atomic_store(&part->log_end, expect);
    atomic_store(&part->hw, expect);
    /* After a crash nothing is synced here: what recovery kept may still
     * be only in the page cache, so the recovery point stays where the
     * checkpoint put it (within the log) and moves with the next flush. */
    if (o->clean) {
        rp = expect;
    } else if (rp < part->segs[0]->base_offset) {
        rp = part->segs[0]->base_offset;
    } else if (rp > expect) {
        /* The checkpoint said these were on disk: acknowledged records
         * are gone (the storage lost data it had confirmed). */
        QR_LOG_ERR("LOG",
                   "%s: recovery point %lld is past the recovered log end "
                   "%lld: offsets %lld..%lld, confirmed durable, are lost",
                   part->name, (long long)rp, (long long)expect,
                   (long long)expect, (long long)rp - 1);
        rp = expect;
    }
    atomic_store(&part->recovery_point, rp);
    return QUIRE_ERR_NONE;
}

/* After a failed sync the page cache may hold pages that never reached
 * the disk: drop it, so recovery reads the files from the disk. */
static void drop_page_cache(qr_plog_t *part)
{
    for (size_t i = 0; i < part->nsegs; i++) {
        qr_seg_t *seg = part->segs[i];
        int rc = EBADF;
        qr_seg_keep(seg); /* its files may be closed: reopened here */
        if (qr_seg_use(seg) == QUIRE_ERR_NONE)
            rc = posix_fadvise(seg->fd, 0, 0, POSIX_FADV_DONTNEED);
        qr_seg_release(seg);
        if (rc != 0)
            QR_LOG_WARN("LOG", "%s: segment %020lld: fadvise: %s", part->name,
                        (long long)seg->base_offset, strerror(rc));
    }
}

/* Makes what open changed on disk durable before anything relies on it: the
 * active segment (cut or new) and the directory (unlinks, creates). */
static quire_err_t sync_open_changes(qr_plog_t *part)
{
    quire_err_t err = qr_seg_flush(active_seg(part));
    if (err == QUIRE_ERR_NONE)
        err = qr_ckpt_sync_dir(part->dir);
    return err;
}

static quire_err_t open_segments(qr_plog_t *part, const qr_plog_open_opts_t *o,
                                 int64_t limit, char *errstr, size_t errsz)
{
    int64_t *bases = NULL;
    size_t n = 0;
    int *idx_ok, changed = 0;
    qr_seg_opts_t so = seg_opts(&part->conf);
    quire_err_t err = list_segments(part, &bases, &n, &changed, errstr, errsz);

    if (err != QUIRE_ERR_NONE)
        return err;
    if (n == 0) {
        qr_seg_t *seg;
        free(bases);
        err = qr_seg_create(part->dir, 0, &so, &seg);
        if (err != QUIRE_ERR_NONE) {
            snprintf(errstr, errsz, "%s: cannot create the first segment",
                     part->name);
            return err;
        }
        segs_push(part, seg);
        /* its entry is synced by the first sync of data (do_sync) */
        atomic_store(&part->dir_dirty, 1);
        return QUIRE_ERR_NONE;
    }
    idx_ok = qr_calloc(n, sizeof(*idx_ok));
    for (size_t i = 0; i < n && err == QUIRE_ERR_NONE; i++) {
        qr_seg_t *seg;
        err =
            qr_seg_open(part->dir, bases[i], &so, i + 1 == n, &seg, &idx_ok[i]);
        if (err == QUIRE_ERR_NONE && i + 1 < n && idx_ok[i])
            qr_seg_close_files(seg); /* reopened one at a time by recovery */
        if (err == QUIRE_ERR_NONE)
            segs_push_only(part, seg);
        else
            snprintf(errstr, errsz, "%s: cannot open segment %020lld",
                     part->name, (long long)bases[i]);
    }
    qr_plog_segs_changed(part); /* once, not per segment */
    if (err == QUIRE_ERR_NONE && limit != INT64_MAX)
        drop_page_cache(part);
    if (err == QUIRE_ERR_NONE) {
        err = recover_all(part, o, idx_ok, limit, &changed);
        if (err != QUIRE_ERR_NONE)
            snprintf(errstr, errsz, "%s: recovery failed", part->name);
    }
    if (err == QUIRE_ERR_NONE && changed &&
        (err = sync_open_changes(part)) != QUIRE_ERR_NONE)
        snprintf(errstr, errsz, "%s: syncing what recovery changed failed",
                 part->name);
    free(idx_ok);
    free(bases);
    return err;
}

/* The marker of a failed sync: 1 and *rp (-1 if unreadable) when present. */
static int read_sync_marker(qr_plog_t *part, int64_t *rp)
{
    char path[PATH_MAX + 64], buf[32];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", part->dir, QR_PLOG_FSYNC_FAILED_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    *rp = -1;
    if (n > 0) {
        char *end;
        buf[n] = '\0';
        long long v = strtoll(buf, &end, 10);
        if (end != buf && (*end == '\n' || *end == '\0') && v >= 0)
            *rp = v;
    }
    return 1;
}

static quire_err_t remove_sync_marker(qr_plog_t *part)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/%s", part->dir, QR_PLOG_FSYNC_FAILED_FILE);
    if (unlink(path) != 0 && errno != ENOENT) {
        QR_LOG_ERR("LOG", "unlink %s: %s (errno %d)", path, strerror(errno),
                   errno);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    return qr_ckpt_sync_dir(part->dir);
}

void qr_plog_sync_failed(qr_plog_t *part, const char *why)
{
    char path[PATH_MAX + 64], line[32];
    int64_t rp = qr_plog_recovery_point(part);
    int fd, ok = 0, n;

    /* The marker first, offline after: offline fails every produce at
     * once, and a client that saw its records fail may have the broker
     * killed (check_powerloss test_fsync_error did, 120 ms later, under
     * ASan); a restart without the marker would trust the pages the
     * failed sync left in the page cache and append after them. Records
     * appended meanwhile wait for a sync that now fails: never
     * acknowledged with acks=all. Once per failure is enough: the first
     * marker holds the point. */
    snprintf(path, sizeof(path), "%s/%s", part->dir, QR_PLOG_FSYNC_FAILED_FILE);
    if (access(path, F_OK) == 0) {
        qr_plog_set_offline(part, why);
        return;
    }
    n = snprintf(line, sizeof(line), "%lld\n", (long long)rp);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
        close(fd);
    }
    if (ok)
        ok = qr_ckpt_sync_dir(part->dir) == QUIRE_ERR_NONE;
    qr_plog_set_offline(part, why);
    if (ok)
        QR_LOG_ERR("LOG",
                   "%s: sync failed; the next open truncates the log back to "
                   "the recovery point %lld (%s)",
                   part->name, (long long)rp, path);
    else
        QR_LOG_ERR("LOG",
                   "%s: sync failed, and the marker %s could not be written "
                   "(%s); the log dir gets no clean-shutdown marker",
                   part->name, path, strerror(errno));
}

static void flush_job_run(qr_flush_job_t *job);
static void schedule_flush_locked(qr_plog_t *part);

/* The visible end for @p off (open time, a replicated high watermark):
 * the batch boundary at or below it. Takes segs_lock (read) briefly. */
static void vis_at(qr_plog_t *part, int64_t off, vis_end_t *v)
{
    qr_seg_t *seg = NULL;
    qr_batch_hdr_t hdr;
    uint64_t pos;
    ssize_t i;

    pthread_rwlock_rdlock(&part->segs_lock);
    i = seg_floor(part, off);
    if (part->nsegs > 0) {
        seg = part->segs[i < 0 ? 0 : (size_t)i];
        qr_seg_keep(seg);
    }
    pthread_rwlock_unlock(&part->segs_lock);
    v->off = v->base = seg ? seg->base_offset : off;
    v->pos = 0;
    if (i < 0 || !seg || qr_seg_use(seg) != QUIRE_ERR_NONE) {
        qr_seg_release(seg);
        return;
    }
    if (off >= atomic_load(&seg->next_offset)) {
        v->off = atomic_load(&seg->next_offset);
        v->pos = qr_seg_size(seg);
    } else if (qr_seg_find(seg, off, qr_seg_size(seg), &pos, &hdr) ==
               QUIRE_ERR_NONE) {
        v->off = hdr.base_offset;
        v->pos = pos;
    }
    qr_seg_release(seg);
}

/* What readers may see: the local visible end (hw_read), bounded by the
 * replicated high watermark when one is set below it. Its place on disk
 * is found once per value (rb_*, under hw_lock). */
static void vis_read(qr_plog_t *part, vis_end_t *v)
{
    int64_t repl;

    hw_read(part, v);
    repl = atomic_load_explicit(&part->repl_hw, memory_order_acquire);
    if (repl >= v->off)
        return;
    pthread_mutex_lock(&part->hw_lock);
    if (part->rb_valid && part->rb_for == repl) {
        v->off = part->rb_off;
        v->base = part->rb_base;
        v->pos = part->rb_pos;
        pthread_mutex_unlock(&part->hw_lock);
        return;
    }
    pthread_mutex_unlock(&part->hw_lock);
    vis_at(part, repl, v);
    pthread_mutex_lock(&part->hw_lock);
    if (atomic_load(&part->repl_hw) == repl) {
        part->rb_valid = 1;
        part->rb_for = repl;
        part->rb_off = v->off;
        part->rb_base = v->base;
        part->rb_pos = v->pos;
    }
    pthread_mutex_unlock(&part->hw_lock);
}

/* The visible end after open: the log end with write caching, else the
 * recovery point, with a flush queued to move it to the log end. */
static void open_visible_end(qr_plog_t *part)
{
    vis_end_t v;

    if (part->conf.write_caching) {
        qr_seg_t *seg = active_seg(part);
        v.off = qr_plog_log_end(part);
        v.base = seg->base_offset;
        v.pos = qr_seg_size(seg);
    } else {
        vis_at(part, qr_plog_recovery_point(part), &v);
    }
    hw_publish(part, &v, 1);
    if (v.off < qr_plog_log_end(part)) {
        pthread_mutex_lock(&part->flush_lock);
        schedule_flush_locked(part);
        pthread_mutex_unlock(&part->flush_lock);
    }
}

/* The directory: mkdir; the fsync of the log dir that makes it durable is
 * left to the first sync of the partition's data (do_sync), before
 * anything in it is acknowledged as durable (issue 14: an fsync per
 * partition at creation cost 10,000 partitions minutes; Kafka too syncs a
 * new log's parent directory at its first flush). A power loss before
 * that loses an empty partition, which the broker creates again. */
static quire_err_t make_dir(qr_plog_t *part, char *errstr, size_t errsz)
{
    if (mkdir(part->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errstr, errsz, "mkdir %s: %s", part->dir, strerror(errno));
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    atomic_store(&part->parent_dirty, 1);
    return QUIRE_ERR_NONE;
}

static quire_err_t open_log(qr_plog_t *part, const qr_plog_open_opts_t *opts,
                            char *errstr, size_t errsz)
{
    qr_plog_open_opts_t o = *opts;
    int64_t limit = INT64_MAX, mrp;
    quire_err_t err;

    if (read_sync_marker(part, &mrp)) {
        o.clean = 0;
        if (mrp >= 0)
            o.recovery_point = mrp;
        if (o.recovery_point >= 0)
            limit = o.recovery_point;
        QR_LOG_ERR("LOG",
                   "%s: a sync of this partition failed before (%s): not "
                   "trusting the page cache; recovering and truncating back "
                   "to the recovery point %lld",
                   part->name, QR_PLOG_FSYNC_FAILED_FILE,
                   (long long)o.recovery_point);
    }
    err = open_segments(part, &o, limit, errstr, errsz);
    if (err == QUIRE_ERR_NONE && limit != INT64_MAX &&
        (err = remove_sync_marker(part)) != QUIRE_ERR_NONE)
        snprintf(errstr, errsz, "%s: cannot remove %s", part->name,
                 QR_PLOG_FSYNC_FAILED_FILE);
    return err;
}

/* The batch headers of segments @p first.. for their leader epochs (open
 * time: the partition is not shared yet): every epoch when rebuilding
 * (@p newer 0), else only those newer than the latest cached (the file
 * holds the epochs below the recovery point; Kafka's LogSegment.recover). */
static quire_err_t learn_epochs(qr_plog_t *part, size_t first, int newer)
{
    quire_err_t err = QUIRE_ERR_NONE;

    for (size_t i = first; i < part->nsegs && err == QUIRE_ERR_NONE; i++) {
        qr_seg_t *seg = part->segs[i];
        uint64_t pos = 0, size;
        qr_batch_hdr_t hdr;
        qr_seg_keep(seg);
        err = qr_seg_use(seg);
        size = qr_seg_size(seg);
        while (err == QUIRE_ERR_NONE && pos < size &&
               qr_seg_read_hdr(seg, pos, size, &hdr) == QUIRE_ERR_NONE) {
            if (hdr.leader_epoch >= 0 &&
                (!newer ||
                 hdr.leader_epoch > qr_epochcache_latest(part->epochs)))
                qr_epochcache_assign(part->epochs, hdr.leader_epoch,
                                     hdr.base_offset);
            pos += qr_batch_size(&hdr);
        }
        qr_seg_release(seg);
    }
    return err;
}

/* The epoch cache at open: loaded, and cut to the recovered log (after a
 * crash the file may hold an epoch whose first batch never reached the
 * disk, or recovery cut a torn tail); past the recovery point (after a
 * crash) completed from the batches, since the file is written only by
 * syncs. A corrupt file is rebuilt from the batches' partitionLeaderEpoch
 * fields. */
static quire_err_t open_epochs(qr_plog_t *part, char *errstr, size_t errsz)
{
    char why[512] = "";
    quire_err_t err = qr_epochcache_load(part->epochs, why, sizeof(why));

    if (err == QUIRE_ERR_CORRUPT_MESSAGE) {
        QR_LOG_ERR("LOG", "%s: %s; rebuilding it from the log's batches",
                   part->name, why);
        qr_epochcache_clear(part->epochs);
        err = learn_epochs(part, 0, 0);
    } else if (err == QUIRE_ERR_NOT_FOUND) {
        err = QUIRE_ERR_NONE; /* a log from before replication: no epochs */
    }
    if (err == QUIRE_ERR_NONE &&
        qr_plog_recovery_point(part) < qr_plog_log_end(part)) {
        ssize_t i = seg_floor(part, qr_plog_recovery_point(part));
        err = learn_epochs(part, i < 0 ? 0 : (size_t)i, 1);
    }
    if (err == QUIRE_ERR_NONE) {
        if (qr_epochcache_truncate_from_end(part->epochs,
                                            qr_plog_log_end(part)))
            QR_LOG_WARN("LOG",
                        "%s: leader epochs starting at or after the log end "
                        "%lld dropped from %s",
                        part->name, (long long)qr_plog_log_end(part),
                        QR_EPOCHCACHE_FILE);
        qr_epochcache_truncate_from_start(part->epochs,
                                          qr_plog_log_start(part));
        err = qr_epochcache_persist(part->epochs);
    }
    if (err != QUIRE_ERR_NONE)
        snprintf(errstr, errsz, "%s: cannot load or write %s", part->name,
                 QR_EPOCHCACHE_FILE);
    return err;
}

quire_err_t qr_plog_open(const char *log_dir, const char *topic,
                         int32_t partition, const qr_plog_conf_t *conf,
                         const qr_plog_open_opts_t *opts, qr_plog_t **partp,
                         char *errstr, size_t errstr_size)
{
    const char *why = NULL;
    struct stat st;
    qr_plog_t *part;
    quire_err_t err;

    if (qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "%s", why);
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (partition < 0) {
        snprintf(errstr, errstr_size, "partition %d is negative",
                 (int)partition);
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    err = qr_plog_conf_check(conf, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    part = plog_alloc(log_dir, topic, partition, conf);
    part->flusher = opts->flusher;
    part->on_append = opts->on_append;
    part->on_append_opaque = opts->on_append_opaque;
    part->job.run = flush_job_run;
    part->last_flush_ms = qr_plog_now_ms();
    if (stat(part->dir, &st) != 0) {
        if (errno != ENOENT || !opts->create) {
            err = errno == ENOENT ? QUIRE_ERR_NOT_FOUND
                                  : QUIRE_ERR_KAFKA_STORAGE_ERROR;
            snprintf(errstr, errstr_size, "%s: %s", part->dir, strerror(errno));
            qr_plog_release(part);
            return err;
        }
        if ((err = make_dir(part, errstr, errstr_size)) != QUIRE_ERR_NONE) {
            qr_plog_release(part);
            return err;
        }
    }
    err = open_log(part, opts, errstr, errstr_size);
    if (err == QUIRE_ERR_NONE)
        err = open_epochs(part, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE) {
        QR_LOG_ERR("LOG", "%s", errstr);
        qr_plog_release(part);
        return err;
    }
    open_visible_end(part);
    QR_DBG(QR_DBG_LOG, "LOG", "%s: open, %zu segments, offsets %lld..%lld",
           part->name, part->nsegs, (long long)qr_plog_log_start(part),
           (long long)qr_plog_log_end(part));
    *partp = part;
    return QUIRE_ERR_NONE;
}

/* ---- append ---- */

quire_err_t qr_plog_do_roll(qr_plog_t *part)
{
    qr_seg_t *old = active_seg(part), *seg;
    qr_seg_opts_t so = seg_opts(&part->conf);
    int64_t base = qr_plog_log_end(part);
    quire_err_t err;

    /* An empty active segment is fresh enough, unless the log end moved
     * past its base without it (then offsets there could not be indexed
     * relative to it). */
    if (qr_seg_size(old) == 0 && old->base_offset == base)
        return QUIRE_ERR_NONE;
    err = qr_seg_create(part->dir, base, &so, &seg);
    if (err != QUIRE_ERR_NONE)
        return err;
    pthread_rwlock_wrlock(&part->segs_lock);
    segs_push(part, seg);
    pthread_rwlock_unlock(&part->segs_lock);
    /* The new files' directory entries are synced by the next sync, before
     * it acknowledges anything in them. */
    atomic_store(&part->dir_dirty, 1);
    /* Readers may still use the old indexes: sealing trims the files but
     * keeps the mappings. */
    if (qr_seg_seal(old) != QUIRE_ERR_NONE)
        QR_LOG_WARN("LOG", "%s: could not trim the indexes of %020lld",
                    part->name, (long long)old->base_offset);
    else
        qr_seg_cache_add(old); /* its files may now be closed when idle */
    /* Kafka flushes on roll: the sealed segment and its indexes are synced
     * in the background, so the recovery point moves past them. */
    pthread_mutex_lock(&part->flush_lock);
    schedule_flush_locked(part);
    pthread_mutex_unlock(&part->flush_lock);
    QR_DBG(QR_DBG_LOG, "LOG", "%s: rolled to segment %020lld", part->name,
           (long long)base);
    return QUIRE_ERR_NONE;
}

/* The roll checks made once per append: size, age, full indexes. The
 * offset span is judged per batch, in fitting(). */
static int should_roll(const qr_plog_t *part, const qr_seg_t *seg, size_t len,
                       int64_t now)
{
    uint64_t size = qr_seg_size(seg);
    if (size == 0)
        return 0;
    return size + len > (uint64_t)part->conf.segment_bytes ||
           now - seg->roll_base_ms > part->conf.roll_ms ||
           qr_index_full(&seg->idx) || qr_tindex_full(&seg->tidx);
}

/* Checks that the headers tile [data, data+len); counts records. */
static quire_err_t walk_batches(const uint8_t *data, size_t len,
                                int64_t max_batch, int64_t *records)
{
    *records = 0;
    if (len == 0)
        return QUIRE_ERR_CORRUPT_MESSAGE;
    for (size_t off = 0; off < len;) {
        qr_batch_hdr_t hdr;
        if (qr_batch_hdr_read(data + off, len - off, &hdr) != QUIRE_ERR_NONE ||
            hdr.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD ||
            qr_batch_size(&hdr) > len - off || hdr.magic != QR_BATCH_MAGIC ||
            hdr.last_offset_delta < 0)
            return QUIRE_ERR_CORRUPT_MESSAGE;
        if ((int64_t)qr_batch_size(&hdr) > max_batch)
            return QUIRE_ERR_MESSAGE_TOO_LARGE;
        *records += hdr.record_count > 0 ? hdr.record_count : 0;
        off += qr_batch_size(&hdr);
    }
    return QUIRE_ERR_NONE;
}

/* Writes base offsets from `next` on; returns the last offset. */
static int64_t assign_offsets(uint8_t *data, size_t len, int64_t next)
{
    for (size_t off = 0; off < len;) {
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(data + off, len - off, &hdr);
        qr_batch_set_base_offset(data + off, next);
        next += (int64_t)hdr.last_offset_delta + 1;
        off += qr_batch_size(&hdr);
    }
    return next - 1;
}

/* Bytes of the leading whole batches of [data, len) (offsets assigned)
 * that fit in `room` bytes of the segment based at `seg_base`: at least
 * one batch when `force` (an empty segment takes any size), and never a
 * batch whose last offset is more than INT32_MAX past the base, empty
 * segment or not: the indexes store offsets relative to it in 32 bits, and
 * recovery would judge such a segment corrupt. */
static size_t fitting(const uint8_t *data, size_t len, uint64_t room,
                      int64_t seg_base, int force)
{
    size_t off = 0;
    while (off < len) {
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(data + off, len - off, &hdr);
        if (off + qr_batch_size(&hdr) > room && !(force && off == 0))
            break;
        if (qr_batch_last_offset(&hdr) - seg_base > INT32_MAX)
            break;
        off += qr_batch_size(&hdr);
    }
    return off;
}

static quire_err_t write_locked(qr_plog_t *part, uint8_t *data, size_t len,
                                int64_t now)
{
    size_t done = 0;
    quire_err_t err;

    if (should_roll(part, active_seg(part), len, now) &&
        (err = qr_plog_do_roll(part)) != QUIRE_ERR_NONE)
        return err;
    while (done < len) {
        qr_seg_t *seg = active_seg(part);
        uint64_t size = qr_seg_size(seg);
        uint64_t room = (uint64_t)part->conf.segment_bytes > size
                            ? (uint64_t)part->conf.segment_bytes - size
                            : 0;
        size_t n =
            fitting(data + done, len - done, room, seg->base_offset, size == 0);
        int sys_errno, cut_failed;
        if (n == 0) {
            if (size == 0 && seg->base_offset == qr_plog_log_end(part)) {
                /* cannot happen: a batch's span is at most INT32_MAX */
                QR_LOG_ERR("LOG", "%s: batch at offset %lld fits no segment",
                           part->name, (long long)seg->base_offset);
                return QUIRE_ERR_CORRUPT_MESSAGE;
            }
            if ((err = qr_plog_do_roll(part)) != QUIRE_ERR_NONE)
                return err;
            continue;
        }
        err = qr_seg_append(seg, data + done, n, &sys_errno, &cut_failed);
        if (err != QUIRE_ERR_NONE) {
            if (cut_failed || (sys_errno != ENOSPC && sys_errno != EFBIG &&
                               sys_errno != EDQUOT))
                qr_plog_set_offline(part, strerror(sys_errno));
            return err;
        }
        if (seg->roll_base_ms == 0)
            seg->roll_base_ms = now;
        int64_t end = atomic_load(&seg->next_offset);
        atomic_store_explicit(&part->log_end, end, memory_order_release);
        if (part->conf.write_caching) {
            vis_end_t v = {end, seg->base_offset, qr_seg_size(seg)};
            hw_publish(part, &v, 0);
        }
        done += n;
    }
    return QUIRE_ERR_NONE;
}

/* The checks before an append: state, headers. part->lock held. */
static quire_err_t append_precheck(qr_plog_t *part, const uint8_t *data,
                                   size_t len, int64_t *records)
{
    if (part->closed)
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    if (atomic_load(&part->offline))
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    return walk_batches(data, len, part->conf.segment_bytes, records);
}

/* Writes checked batches (offsets in them), then the flush policy; *end
 * set to the visible end to announce through on_append (else left).
 * part->lock held. */
static quire_err_t write_appended(qr_plog_t *part, uint8_t *data, size_t len,
                                  int64_t records, int64_t *end)
{
    quire_err_t err = write_locked(part, data, len, qr_plog_now_ms());

    if (err != QUIRE_ERR_NONE)
        return err;
    if (part->conf.write_caching)
        *end = qr_plog_high_watermark(part);
    part->unflushed_msgs += records;
    /* Without write caching nothing is visible before it is synced:
     * every append asks for a sync (shared by all appends meanwhile). */
    if (part->unflushed_msgs >= part->conf.flush_interval_messages ||
        !part->conf.write_caching) {
        part->unflushed_msgs = 0;
        pthread_mutex_lock(&part->flush_lock);
        schedule_flush_locked(part);
        pthread_mutex_unlock(&part->flush_lock);
    }
    return QUIRE_ERR_NONE;
}

/* After a truncation not yet in the recovery-point checkpoint, a new
 * epoch's file written at append (see trunc_gen). part->lock held. */
static quire_err_t epochs_now(qr_plog_t *part)
{
    if (atomic_load(&part->trunc_gen) == atomic_load(&part->ckpt_gen) ||
        qr_epochcache_persist(part->epochs) == QUIRE_ERR_NONE)
        return QUIRE_ERR_NONE;
    qr_plog_set_offline(part, "writing " QR_EPOCHCACHE_FILE " failed");
    return QUIRE_ERR_KAFKA_STORAGE_ERROR;
}

unsigned long qr_plog_truncations(qr_plog_t *part)
{
    return atomic_load(&part->trunc_gen);
}

void qr_plog_checkpointed(qr_plog_t *part, unsigned long truncations)
{
    unsigned long was = atomic_load(&part->ckpt_gen);
    while ((long)(truncations - was) > 0 &&
           !atomic_compare_exchange_weak(&part->ckpt_gen, &was, truncations))
        ;
}

/* A leader's append: every batch gets partitionLeaderEpoch = @p epoch
 * (outside the CRC, like baseOffset); a new epoch enters the cache at
 * @p base. In memory: the sync that makes the batches durable writes
 * leader-epoch-checkpoint first (do_sync), and recovery re-learns the
 * epochs of batches past the recovery point (open_epochs). part->lock
 * held. */
static quire_err_t stamp_epoch(qr_plog_t *part, uint8_t *data, size_t len,
                               int32_t epoch, int64_t base)
{
    for (size_t off = 0; off < len;) {
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(data + off, len - off, &hdr);
        qr_batch_set_leader_epoch(data + off, epoch);
        off += qr_batch_size(&hdr);
    }
    if (qr_epochcache_latest(part->epochs) == epoch)
        return QUIRE_ERR_NONE;
    qr_epochcache_assign(part->epochs, epoch, base);
    QR_LOG_INFO("LOG", "%s: leader epoch %d starts at offset %lld", part->name,
                (int)epoch, (long long)base);
    if (epochs_now(part) != QUIRE_ERR_NONE) {
        qr_epochcache_truncate_from_end(part->epochs, base);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_plog_append(qr_plog_t *part, uint8_t *data, size_t len,
                           int64_t *base_offset, int64_t *last_offset)
{
    int64_t records, base, last, end = -1;
    quire_err_t err;

    pthread_mutex_lock(&part->lock);
    err = append_precheck(part, data, len, &records);
    if (err == QUIRE_ERR_NONE) {
        int32_t epoch = atomic_load(&part->leader_epoch);
        base = qr_plog_log_end(part);
        last = assign_offsets(data, len, base);
        if (epoch >= 0)
            err = stamp_epoch(part, data, len, epoch, base);
    }
    if (err == QUIRE_ERR_NONE)
        err = write_appended(part, data, len, records, &end);
    if (err == QUIRE_ERR_NONE) {
        *base_offset = base;
        *last_offset = last;
    }
    pthread_mutex_unlock(&part->lock);
    if (end >= 0 && part->on_append)
        part->on_append(part->on_append_opaque, part, end);
    return err;
}

quire_err_t qr_plog_append_replica(qr_plog_t *part, uint8_t *data, size_t len,
                                   int64_t *last)
{
    int64_t records, end = -1, next, prev_last = -1;
    quire_err_t err;

    pthread_mutex_lock(&part->lock);
    err = append_precheck(part, data, len, &records);
    /* The leader's offsets: the first batch at the log end, then
     * increasing (a gap is allowed, as after compaction). */
    next = qr_plog_log_end(part);
    for (size_t off = 0; err == QUIRE_ERR_NONE && off < len;) {
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(data + off, len - off, &hdr);
        if (off == 0 && hdr.base_offset < next)
            err = QUIRE_ERR_OFFSET_OUT_OF_RANGE;
        else if (hdr.base_offset < next ||
                 qr_batch_last_offset(&hdr) < hdr.base_offset)
            err = QUIRE_ERR_CORRUPT_MESSAGE;
        else if (hdr.leader_epoch >= 0 &&
                 qr_epochcache_assign(part->epochs, hdr.leader_epoch,
                                      hdr.base_offset))
            QR_DBG(QR_DBG_LOG, "LOG", "%s: leader epoch %d from offset %lld",
                   part->name, (int)hdr.leader_epoch,
                   (long long)hdr.base_offset);
        next = qr_batch_last_offset(&hdr) + 1;
        prev_last = next - 1;
        off += qr_batch_size(&hdr);
    }
    /* The cache's file is written by the sync that makes these batches
     * durable, before the recovery point passes them (do_sync); right
     * away after a truncation (epochs_now). */
    if (err == QUIRE_ERR_NONE)
        err = epochs_now(part);
    if (err == QUIRE_ERR_NONE)
        err = write_appended(part, data, len, records, &end);
    if (err == QUIRE_ERR_NONE) {
        *last = prev_last;
    } else {
        /* epochs of batches that were not written: not in the log */
        qr_epochcache_truncate_from_end(part->epochs, qr_plog_log_end(part));
    }
    pthread_mutex_unlock(&part->lock);
    if (end >= 0 && part->on_append)
        part->on_append(part->on_append_opaque, part, end);
    return err;
}

/* ---- read ---- */

void qr_plog_slice_release(qr_plog_slice_t *slice)
{
    qr_seg_release(slice->seg);
    slice->seg = NULL;
    slice->fd = -1;
    slice->len = 0;
}

/* Pins the first segment after `seg` (by base); NULL at the end. */
static qr_seg_t *next_seg(qr_plog_t *part, const qr_seg_t *seg)
{
    qr_seg_t *next = NULL;
    pthread_rwlock_rdlock(&part->segs_lock);
    ssize_t i = seg_floor(part, seg->base_offset);
    if (i + 1 < (ssize_t)part->nsegs) {
        next = part->segs[i + 1];
        qr_seg_keep(next);
    }
    pthread_rwlock_unlock(&part->segs_lock);
    if (next && qr_seg_use(next) != QUIRE_ERR_NONE) {
        qr_seg_release(next);
        return NULL;
    }
    return next;
}

/* Reads up to @p to_log_end ? the log end : the visible end. */
static quire_err_t read_slice(qr_plog_t *part, int64_t offset, size_t max_bytes,
                              int to_log_end, qr_plog_slice_t *slice)
{
    int64_t end_off, start;
    qr_seg_t *seg = NULL;
    vis_end_t vis;
    ssize_t i;

    memset(slice, 0, sizeof(*slice));
    slice->fd = -1;
    if (atomic_load(&part->gone))
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    if (atomic_load(&part->offline))
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    /* The visible end, then the log end: every byte below them was
     * published before them, so the segment ends loaded afterwards cover
     * them. Offsets between the two exist but are not served yet. */
    vis_read(part, &vis);
    if (to_log_end) /* every segment up to its published end */
        vis = (vis_end_t){INT64_MAX, INT64_MAX, 0};
    end_off = qr_plog_log_end(part);
    start = qr_plog_log_start(part);
    if (offset < start || offset > end_off)
        return QUIRE_ERR_OFFSET_OUT_OF_RANGE;
    if (offset >= vis.off)
        return QUIRE_ERR_NONE;
    pthread_rwlock_rdlock(&part->segs_lock);
    i = seg_floor(part, offset);
    if (i >= 0) {
        seg = part->segs[i];
        qr_seg_keep(seg);
    }
    pthread_rwlock_unlock(&part->segs_lock);
    if (!seg) /* retention moved the start meanwhile */
        return QUIRE_ERR_OFFSET_OUT_OF_RANGE;
    if (qr_seg_use(seg) != QUIRE_ERR_NONE) { /* closed by the cache */
        qr_seg_release(seg);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    for (;;) {
        uint64_t end = visible_bytes(seg, &vis), pos;
        int64_t base;
        quire_err_t err = qr_seg_locate(seg, offset, end, max_bytes, &pos,
                                        &base, &slice->len);
        if (err == QUIRE_ERR_NOT_FOUND) {
            qr_seg_t *next = next_seg(part, seg);
            qr_seg_release(seg);
            if (!next)
                return QUIRE_ERR_NONE;
            seg = next;
            continue;
        }
        if (err != QUIRE_ERR_NONE) {
            qr_seg_release(seg);
            slice->len = 0;
            if (err == QUIRE_ERR_KAFKA_STORAGE_ERROR)
                qr_plog_set_offline(part, "read failed");
            else
                QR_LOG_ERR("LOG",
                           "%s: bad batch in segment %020lld "
                           "below its published end",
                           part->name, (long long)seg->base_offset);
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        }
        slice->seg = seg;
        slice->fd = seg->fd;
        slice->pos = pos;
        slice->base_offset = base;
        return QUIRE_ERR_NONE;
    }
}

quire_err_t qr_plog_read(qr_plog_t *part, int64_t offset, size_t max_bytes,
                         qr_plog_slice_t *slice)
{
    return read_slice(part, offset, max_bytes, 0, slice);
}

quire_err_t qr_plog_read_replica(qr_plog_t *part, int64_t offset,
                                 size_t max_bytes, qr_plog_slice_t *slice)
{
    return read_slice(part, offset, max_bytes, 1, slice);
}

quire_err_t qr_plog_offset_for_time(qr_plog_t *part, int64_t timestamp,
                                    int64_t *offset)
{
    if (timestamp == QR_PLOG_TS_EARLIEST) {
        *offset = qr_plog_log_start(part);
        return QUIRE_ERR_NONE;
    }
    if (timestamp == QR_PLOG_TS_LATEST) {
        *offset = qr_plog_high_watermark(part);
        return QUIRE_ERR_NONE;
    }
    if (timestamp < 0)
        return QUIRE_ERR_INVALID_REQUEST;
    *offset = -1;
    vis_end_t vis;
    vis_read(part, &vis); /* nothing past what a fetch may read */
    for (size_t i = 0;; i++) {
        qr_seg_t *seg = NULL;
        pthread_rwlock_rdlock(&part->segs_lock);
        for (; i < part->nsegs && !seg; i++)
            if (atomic_load(&part->segs[i]->max_ts) >= timestamp) {
                seg = part->segs[i];
                qr_seg_keep(seg);
            }
        pthread_rwlock_unlock(&part->segs_lock);
        if (!seg)
            return QUIRE_ERR_NONE;
        i--; /* the loop's i++ moved past seg */
        quire_err_t err = qr_seg_use(seg);
        if (err == QUIRE_ERR_NONE)
            err = qr_seg_find_ts(seg, timestamp, visible_bytes(seg, &vis),
                                 offset);
        qr_seg_release(seg);
        if (err == QUIRE_ERR_NONE)
            return QUIRE_ERR_NONE;
        if (err != QUIRE_ERR_NOT_FOUND)
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        *offset = -1;
    }
}

/* ---- durability ---- */

/* fdatasync of every segment from the one holding the recovery point to
 * the active one, after an fsync of the directory when a roll created
 * files in it; *target is the end they cover (taken under the partition
 * lock, so offset and bytes agree). sync_lock held, no other lock. A
 * failure takes the partition offline for good (qr_plog_sync_failed()). */
static quire_err_t do_sync(qr_plog_t *part, vis_end_t *target, unsigned *fsyncs)
{
    qr_seg_t **segs = NULL;
    size_t n = 0;
    quire_err_t err = QUIRE_ERR_NONE;

    if (atomic_load(&part->offline))
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    pthread_mutex_lock(&part->lock);
    pthread_rwlock_rdlock(&part->segs_lock);
    if (part->nsegs > 0) {
        qr_seg_t *act = part->segs[part->nsegs - 1];
        target->off = qr_plog_log_end(part);
        target->base = act->base_offset;
        target->pos = qr_seg_size(act);
        ssize_t i = seg_floor(part, qr_plog_recovery_point(part));
        if (i < 0)
            i = 0;
        n = part->nsegs - (size_t)i;
        segs = qr_malloc(n * sizeof(*segs));
        for (size_t k = 0; k < n; k++) {
            segs[k] = part->segs[(size_t)i + k];
            qr_seg_keep(segs[k]);
        }
    }
    pthread_rwlock_unlock(&part->segs_lock);
    pthread_mutex_unlock(&part->lock);
    if (!segs) /* closed: its segments are gone, nothing to sync */
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    /* The partition directory's entry in the log dir (a new partition's
     * mkdir, deferred from open), then the epochs of the batches about to
     * be synced (the cache holds every epoch up to the target: assigned
     * under the partition lock before their batches were appended). */
    if (atomic_exchange(&part->parent_dirty, 0)) {
        err = qr_ckpt_sync_dir(part->log_dir);
        (*fsyncs)++;
    }
    if (err == QUIRE_ERR_NONE && qr_epochcache_dirty(part->epochs)) {
        err = qr_epochcache_persist(part->epochs);
        (*fsyncs) += 2; /* the file and the directory */
    }
    if (err == QUIRE_ERR_NONE && atomic_exchange(&part->dir_dirty, 0)) {
        err = qr_ckpt_sync_dir(part->dir);
        (*fsyncs)++;
    }
    for (size_t k = 0; k < n; k++) {
        if (err == QUIRE_ERR_NONE) {
            err = qr_seg_flush(segs[k]);
            atomic_fetch_add(&part->syncs, 1);
            (*fsyncs)++;
        }
        qr_seg_release(segs[k]);
    }
    free(segs);
    if (err == QUIRE_ERR_NONE && atomic_load(&part->test_fail_syncs) > 0) {
        atomic_fetch_sub(&part->test_fail_syncs, 1);
        QR_LOG_WARN("LOG", "%s: failing this sync (a test hook)", part->name);
        err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    if (err != QUIRE_ERR_NONE)
        qr_plog_sync_failed(part, "fdatasync failed");
    return err;
}

/* Records the outcome of a sync and detaches the waiters it satisfies (all
 * of them on error, or once offline: nothing is acknowledged after a
 * failed sync). *moved set when the visible end moved. flush_lock held. */
static qr_plog_waiter_t *sync_done_locked(qr_plog_t *part, quire_err_t err,
                                          const vis_end_t *target, int *moved)
{
    qr_plog_waiter_t *done = NULL, **pp = &part->waiters;
    int64_t rp = qr_plog_recovery_point(part);

    if (atomic_load(&part->offline) && err == QUIRE_ERR_NONE)
        err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
    if (err == QUIRE_ERR_NONE && target->off > rp) {
        rp = target->off;
        atomic_store(&part->recovery_point, rp);
    }
    if (err == QUIRE_ERR_NONE && !atomic_load(&part->write_caching))
        *moved = hw_publish(part, target, 0);
    part->last_flush_ms = qr_plog_now_ms();
    while (*pp) {
        qr_plog_waiter_t *w = *pp;
        if (err != QUIRE_ERR_NONE || w->last_offset < rp) {
            *pp = w->next;
            w->next = done;
            done = w;
        } else {
            pp = &w->next;
        }
    }
    return done;
}

static void complete_waiters(qr_plog_t *part, qr_plog_waiter_t *done,
                             quire_err_t err)
{
    while (done) {
        qr_plog_waiter_t *w = done;
        done = w->next;
        w->cb(w->opaque, part, w->last_offset, err);
        free(w);
    }
}

/* Queues the partition's flush job unless queued or running (a running
 * one re-queues itself when waiters remain). flush_lock held. */
static void schedule_flush_locked(qr_plog_t *part)
{
    if (part->flush_queued || part->flush_running || !part->flusher ||
        atomic_load(&part->offline))
        return;
    qr_plog_keep(part); /* the job's reference */
    part->flush_queued = 1;
    if (qr_flusher_enqueue(part->flusher, &part->job) != QUIRE_ERR_NONE) {
        part->flush_queued = 0;
        /* The flusher is going away: drop the reference; the caller sees
         * no queued job and waiters are completed by close. */
        atomic_fetch_sub(&part->refcnt, 1);
    }
}

/* One sync and its outcome, serialised with every other sync of the
 * partition (sync_lock): a sync racing a failing one would see success on
 * the same file description. With @p job, the flusher's flag is cleared
 * and the job re-queued when work arrived meanwhile. */
static quire_err_t sync_and_complete(qr_plog_t *part, int job)
{
    qr_plog_waiter_t *done;
    vis_end_t target = {0, 0, 0};
    int moved = 0;
    unsigned fsyncs = 0, waiters = 0;
    int64_t t0;
    quire_err_t err;

    pthread_mutex_lock(&part->sync_lock);
    t0 = qr_clock_mono_ns();
    err = do_sync(part, &target, &fsyncs);
    t0 = qr_clock_mono_ns() - t0;
    pthread_mutex_lock(&part->flush_lock);
    done = sync_done_locked(part, err, &target, &moved);
    /* issue 15: the flush metrics; the waiters this sync completed are the
     * group commit's size */
    for (qr_plog_waiter_t *w = done; w; w = w->next)
        waiters++;
    if (fsyncs > 0 && part->flusher)
        qr_flusher_note_sync(part->flusher, fsyncs, (uint64_t)t0, waiters);
    if (job) {
        part->flush_running = 0;
        /* arrived during the sync, or (write caching off) appended */
        if (part->waiters ||
            (!atomic_load(&part->write_caching) && !atomic_load(&part->gone) &&
             qr_plog_log_end(part) > qr_plog_recovery_point(part)))
            schedule_flush_locked(part);
    }
    pthread_mutex_unlock(&part->flush_lock);
    pthread_mutex_unlock(&part->sync_lock);
    if (moved && part->on_append)
        part->on_append(part->on_append_opaque, part,
                        qr_plog_high_watermark(part));
    complete_waiters(part, done,
                     err == QUIRE_ERR_NONE ? QUIRE_ERR_NONE
                                           : QUIRE_ERR_KAFKA_STORAGE_ERROR);
    return err;
}

static void flush_job_run(qr_flush_job_t *job)
{
    qr_plog_t *part = (qr_plog_t *)((char *)job - offsetof(qr_plog_t, job));

    pthread_mutex_lock(&part->flush_lock);
    part->flush_queued = 0;
    part->flush_running = 1;
    pthread_mutex_unlock(&part->flush_lock);
    sync_and_complete(part, 1);
    qr_plog_release(part);
}

quire_err_t qr_plog_flush_request(qr_plog_t *part, int64_t last_offset,
                                  qr_plog_flush_cb *cb, void *opaque,
                                  int *durable)
{
    quire_err_t err = QUIRE_ERR_NONE;

    *durable = 0;
    pthread_mutex_lock(&part->flush_lock);
    if (atomic_load(&part->gone)) {
        err = QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    } else if (atomic_load(&part->offline)) {
        err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
    } else if (last_offset < qr_plog_recovery_point(part)) {
        *durable = 1;
    } else if (!part->flusher) {
        err = QUIRE_ERR_STATE;
    } else {
        qr_plog_waiter_t *w = qr_malloc(sizeof(*w));
        w->last_offset = last_offset;
        w->cb = cb;
        w->opaque = opaque;
        w->next = part->waiters;
        part->waiters = w;
        schedule_flush_locked(part);
    }
    pthread_mutex_unlock(&part->flush_lock);
    return err;
}

quire_err_t qr_plog_flush(qr_plog_t *part)
{
    return sync_and_complete(part, 0);
}

void qr_plog_periodic(qr_plog_t *part, int64_t now_ms)
{
    int64_t interval;

    pthread_mutex_lock(&part->lock);
    interval = part->conf.flush_interval_ms;
    pthread_mutex_unlock(&part->lock);
    /* offline: a failed sync is never followed by one that moves the
     * recovery point over pages the kernel may have dropped */
    if (interval == INT64_MAX || atomic_load(&part->gone) ||
        atomic_load(&part->offline))
        return;
    pthread_mutex_lock(&part->flush_lock);
    if (qr_plog_log_end(part) > qr_plog_recovery_point(part) &&
        now_ms - part->last_flush_ms >= interval)
        schedule_flush_locked(part);
    pthread_mutex_unlock(&part->flush_lock);
}

/* ---- close and delete ---- */

static int mark_gone(qr_plog_t *part)
{
    int was;
    pthread_mutex_lock(&part->lock);
    was = part->closed;
    part->closed = 1;
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_lock(&part->flush_lock);
    atomic_store(&part->gone, 1);
    pthread_mutex_unlock(&part->flush_lock);
    return was;
}

quire_err_t qr_plog_close(qr_plog_t *part)
{
    quire_err_t err = QUIRE_ERR_NONE;

    if (!part)
        return QUIRE_ERR_NONE;
    if (mark_gone(part)) {
        qr_plog_release(part);
        return QUIRE_ERR_NONE;
    }
    if (!atomic_load(&part->offline)) {
        /* Everything durable (flush requests complete here), then the
         * active segment sealed, and its trimmed indexes synced; under the
         * sync lock, so a flusher's failure is never overtaken. The .log
         * is not synced again: that flush covered every byte of it, and
         * nothing is written to a closed log (appends and truncations
         * check part->closed under part->lock, set by mark_gone()). */
        err = qr_plog_flush(part);
        pthread_mutex_lock(&part->sync_lock);
        pthread_mutex_lock(&part->lock);
        qr_seg_t *seg = part->nsegs ? active_seg(part) : NULL;
        if (err == QUIRE_ERR_NONE && seg && !atomic_load(&part->offline)) {
            err = qr_seg_seal(seg);
            if (err == QUIRE_ERR_NONE)
                err = qr_seg_sync_indexes(seg);
            if (err != QUIRE_ERR_NONE)
                qr_plog_sync_failed(part, "sealing at close failed");
        }
        pthread_mutex_unlock(&part->lock);
        pthread_mutex_unlock(&part->sync_lock);
    }
    vis_end_t none = {0, 0, 0};
    int moved = 0;
    pthread_mutex_lock(&part->flush_lock);
    qr_plog_waiter_t *left =
        sync_done_locked(part, QUIRE_ERR_STATE, &none, &moved);
    pthread_mutex_unlock(&part->flush_lock);
    complete_waiters(part, left, QUIRE_ERR_KAFKA_STORAGE_ERROR);
    pthread_mutex_lock(&part->lock);
    drop_segments(part, 0);
    pthread_mutex_unlock(&part->lock);
    QR_DBG(QR_DBG_LOG, "LOG", "%s: closed", part->name);
    qr_plog_release(part);
    return err;
}

/* Removes whatever is left in the directory, then the directory. */
static quire_err_t remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX + 256];

    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir,
                     de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0 && errno != ENOENT) {
        QR_LOG_ERR("LOG", "rmdir %s: %s (errno %d)", dir, strerror(errno),
                   errno);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_plog_delete(qr_plog_t *part)
{
    qr_plog_waiter_t *left;
    quire_err_t err;
    char gone[PATH_MAX];
    vis_end_t none = {0, 0, 0};
    int moved = 0;

    if (!part)
        return QUIRE_ERR_NONE;
    mark_gone(part);
    pthread_mutex_lock(&part->flush_lock);
    left = sync_done_locked(part, QUIRE_ERR_STATE, &none, &moved);
    pthread_mutex_unlock(&part->flush_lock);
    complete_waiters(part, left, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    /* Renamed first, as Kafka does: a crash in the middle leaves a
     * "-delete" directory that the next start removes, never a partial
     * partition that would be loaded. The rename is made durable (the log
     * dir fsync'd) before the deletion is reported done: a power loss must
     * not bring the topic back. */
    snprintf(gone, sizeof(gone), "%s.%lld-delete", part->dir,
             (long long)qr_plog_now_ms());
    if (rename(part->dir, gone) != 0) {
        QR_LOG_ERR("LOG", "rename %s: %s (errno %d)", part->dir,
                   strerror(errno), errno);
        snprintf(gone, sizeof(gone), "%s", part->dir);
    }
    err = qr_ckpt_sync_dir(part->log_dir);
    pthread_mutex_lock(&part->lock);
    drop_segments(part, 0);
    pthread_mutex_unlock(&part->lock);
    if (remove_dir(gone) != QUIRE_ERR_NONE ||
        qr_ckpt_sync_dir(part->log_dir) != QUIRE_ERR_NONE)
        err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
    QR_LOG_INFO("LOG", "%s: deleted%s", part->name,
                err == QUIRE_ERR_NONE ? "" : " (not durably: see above)");
    qr_plog_release(part);
    return err;
}

/* ---- replication (issue 16) ---- */

void qr_plog_set_leader_epoch(qr_plog_t *part, int32_t epoch)
{
    atomic_store(&part->leader_epoch, epoch);
}

int32_t qr_plog_latest_epoch(qr_plog_t *part)
{
    return qr_epochcache_latest(part->epochs);
}

quire_err_t qr_plog_end_offset_for_epoch(qr_plog_t *part, int32_t epoch,
                                         int32_t *found_epoch,
                                         int64_t *end_offset)
{
    if (atomic_load(&part->gone))
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    if (atomic_load(&part->offline))
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    /* the log end under the lock: no append between it and the epochs */
    pthread_mutex_lock(&part->lock);
    qr_epochcache_end_offset_for(part->epochs, epoch, qr_plog_log_end(part),
                                 found_epoch, end_offset);
    pthread_mutex_unlock(&part->lock);
    return QUIRE_ERR_NONE;
}

void qr_plog_set_replicated_hw(qr_plog_t *part, int64_t hw)
{
    int64_t before, after;

    if (hw < 0)
        return;
    before = qr_plog_high_watermark(part);
    pthread_mutex_lock(&part->hw_lock);
    int64_t old = atomic_load(&part->repl_hw);
    if (old == INT64_MAX || hw > old)
        atomic_store_explicit(&part->repl_hw, hw, memory_order_release);
    pthread_mutex_unlock(&part->hw_lock);
    after = qr_plog_high_watermark(part);
    if (after > before && part->on_append)
        part->on_append(part->on_append_opaque, part, after);
}

int64_t qr_plog_replicated_hw(const qr_plog_t *part)
{
    int64_t repl = atomic_load(&((qr_plog_t *)part)->repl_hw);
    return repl == INT64_MAX ? -1 : repl;
}

/* The visible ends after a truncation to @p v (hw_lock): the local one
 * and the replicated high watermark never past it. */
static void clamp_visible(qr_plog_t *part, const vis_end_t *v)
{
    vis_end_t cur;

    hw_read(part, &cur);
    if (cur.off >= v->off)
        hw_publish(part, v, 1);
    pthread_mutex_lock(&part->hw_lock);
    if (atomic_load(&part->repl_hw) > v->off &&
        atomic_load(&part->repl_hw) != INT64_MAX)
        atomic_store(&part->repl_hw, v->off);
    part->rb_valid = 0;
    pthread_mutex_unlock(&part->hw_lock);
    if (qr_plog_recovery_point(part) > v->off)
        atomic_store(&part->recovery_point, v->off);
}

/* Flush waiters for offsets a truncation removed: those records are gone
 * (this replica follows another leader now). */
static void fail_waiters_from(qr_plog_t *part, int64_t end)
{
    qr_plog_waiter_t *done = NULL, **pp;

    pthread_mutex_lock(&part->flush_lock);
    for (pp = &part->waiters; *pp;) {
        qr_plog_waiter_t *w = *pp;
        if (w->last_offset >= end) {
            *pp = w->next;
            w->next = done;
            done = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&part->flush_lock);
    complete_waiters(part, done, QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
}

/* Segments [from, nsegs) leave the array (readers keep theirs); their
 * files are unlinked. Returns how many. part->lock held. */
static size_t drop_tail(qr_plog_t *part, size_t from)
{
    qr_seg_t **gone;
    size_t k;

    pthread_rwlock_wrlock(&part->segs_lock);
    k = part->nsegs - from;
    gone = qr_malloc((k ? k : 1) * sizeof(*gone));
    memcpy(gone, part->segs + from, k * sizeof(*gone));
    part->nsegs = from;
    qr_plog_segs_changed(part);
    pthread_rwlock_unlock(&part->segs_lock);
    for (size_t i = 0; i < k; i++) {
        QR_LOG_INFO("LOG", "%s: truncation deletes segment %020lld", part->name,
                    (long long)gone[i]->base_offset);
        qr_seg_unlink(gone[i]);
        qr_seg_release(gone[i]);
    }
    free(gone);
    if (k > 0)
        atomic_store(&part->dir_dirty, 1);
    return k;
}

/* Makes a truncation durable: the active segment's cut, the directory's
 * unlinks and creates, the epoch cache. A failure takes the partition
 * offline (qr_plog_sync_failed()). part->lock and sync_lock held. */
static quire_err_t truncation_durable(qr_plog_t *part, int64_t end)
{
    quire_err_t err = qr_seg_flush(active_seg(part));

    if (err == QUIRE_ERR_NONE && atomic_exchange(&part->dir_dirty, 0))
        err = qr_ckpt_sync_dir(part->dir);
    if (err != QUIRE_ERR_NONE) {
        qr_plog_sync_failed(part, "syncing a truncation failed");
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    qr_epochcache_truncate_from_end(part->epochs, end);
    atomic_fetch_add(&part->trunc_gen, 1);
    if (qr_epochcache_persist(part->epochs) != QUIRE_ERR_NONE) {
        qr_plog_set_offline(part, "writing " QR_EPOCHCACHE_FILE " failed");
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    return QUIRE_ERR_NONE;
}

/* The state checks of a truncation. part->lock held. */
static quire_err_t truncatable(const qr_plog_t *part)
{
    if (part->closed)
        return QUIRE_ERR_NOT_LEADER_FOR_PARTITION;
    if (atomic_load(&part->offline))
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_plog_truncate_fully(qr_plog_t *part, int64_t offset)
{
    qr_seg_opts_t so;
    qr_seg_t *seg;
    quire_err_t err;

    if (offset < 0)
        return QUIRE_ERR_BAD_ARG;
    pthread_mutex_lock(&part->sync_lock);
    pthread_mutex_lock(&part->lock);
    if ((err = truncatable(part)) != QUIRE_ERR_NONE)
        goto out;
    so = seg_opts(&part->conf);
    QR_LOG_WARN("LOG",
                "%s: truncating fully (offsets %lld..%lld) and starting "
                "at %lld",
                part->name, (long long)qr_plog_log_start(part),
                (long long)qr_plog_log_end(part) - 1, (long long)offset);
    /* Nothing visible, then nothing in the array, then the files. */
    vis_end_t v = {offset, offset, 0};
    clamp_visible(part, &v);
    hw_publish(part, &v, 1);
    pthread_mutex_lock(&part->hw_lock);
    if (atomic_load(&part->repl_hw) != INT64_MAX)
        atomic_store(&part->repl_hw, offset);
    pthread_mutex_unlock(&part->hw_lock);
    atomic_store(&part->recovery_point, offset);
    drop_tail(part, 0);
    err = qr_seg_create(part->dir, offset, &so, &seg);
    if (err != QUIRE_ERR_NONE) {
        qr_plog_set_offline(part, "creating a segment failed");
        goto out;
    }
    pthread_rwlock_wrlock(&part->segs_lock);
    segs_push(part, seg);
    atomic_store_explicit(&part->log_start, offset, memory_order_release);
    atomic_store_explicit(&part->log_end, offset, memory_order_release);
    pthread_rwlock_unlock(&part->segs_lock);
    atomic_store(&part->dir_dirty, 1);
    qr_epochcache_clear(part->epochs);
    err = truncation_durable(part, offset);
out:
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_unlock(&part->sync_lock);
    if (err == QUIRE_ERR_NONE)
        fail_waiters_from(part, 0);
    return err;
}

/* Where a truncation to @p offset cuts segment @p seg (pinned, in use):
 * the position of the batch holding @p offset (the whole batch goes, as
 * in Kafka) and the new log end. */
static quire_err_t cut_point(qr_seg_t *seg, int64_t offset, uint64_t *pos,
                             int64_t *end)
{
    qr_batch_hdr_t hdr;
    quire_err_t err;

    *pos = qr_seg_size(seg);
    *end = atomic_load(&seg->next_offset);
    if (offset >= *end)
        return QUIRE_ERR_NONE;
    err = qr_seg_find(seg, offset, qr_seg_size(seg), pos, &hdr);
    if (err == QUIRE_ERR_NOT_FOUND)
        return QUIRE_ERR_NONE;
    if (err == QUIRE_ERR_NONE)
        *end = hdr.base_offset;
    return err;
}

quire_err_t qr_plog_truncate_to(qr_plog_t *part, int64_t offset)
{
    qr_seg_t *seg, *fresh = NULL;
    uint64_t pos;
    int64_t end;
    size_t i;
    int cut = 0;
    quire_err_t err;

    if (offset < 0)
        return QUIRE_ERR_BAD_ARG;
    if (offset <= qr_plog_log_start(part))
        return offset < qr_plog_log_end(part)
                   ? qr_plog_truncate_fully(part, offset)
                   : QUIRE_ERR_NONE;
    pthread_mutex_lock(&part->sync_lock);
    pthread_mutex_lock(&part->lock);
    if ((err = truncatable(part)) != QUIRE_ERR_NONE ||
        offset >= qr_plog_log_end(part))
        goto out;
    /* The segment holding the cut: the array only changes under
     * part->lock, which is held. */
    i = (size_t)seg_floor(part, offset);
    seg = part->segs[i];
    qr_seg_keep(seg);
    err = qr_seg_use(seg);
    if (err == QUIRE_ERR_NONE)
        err = cut_point(seg, offset, &pos, &end);
    if (err != QUIRE_ERR_NONE) {
        qr_seg_release(seg);
        goto out;
    }
    QR_LOG_WARN("LOG",
                "%s: truncating to offset %lld: offsets %lld..%lld dropped "
                "(segment %020lld cut at byte %llu)",
                part->name, (long long)offset, (long long)end,
                (long long)qr_plog_log_end(part) - 1,
                (long long)seg->base_offset, (unsigned long long)pos);
    /* Readers first: nothing at or past the new end is visible, and
     * offsets past it are out of range, before any file changes. */
    vis_end_t v = {end, seg->base_offset, pos};
    clamp_visible(part, &v);
    atomic_store_explicit(&part->log_end, end, memory_order_release);
    drop_tail(part, i + 1);
    /* The cut segment becomes the active one: a new object over its files
     * (cut, indexes rebuilt writable); the old one stays with its
     * readers. */
    err = qr_seg_reopen_cut(seg, pos, &fresh);
    if (err == QUIRE_ERR_NONE)
        err = qr_recovery_recover_segment(fresh, part->name, seg->base_offset,
                                          &cut);
    qr_seg_release(seg);
    if (err == QUIRE_ERR_NONE && (cut || qr_seg_size(fresh) != pos)) {
        QR_LOG_ERR("LOG", "%s: segment %020lld changed under a truncation",
                   part->name, (long long)fresh->base_offset);
        err = QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    if (err != QUIRE_ERR_NONE) {
        qr_seg_release(fresh);
        qr_plog_set_offline(part, "truncating a segment failed");
        goto out;
    }
    /* The end of what was kept: below the cut batch's base when a gap
     * lies before it. */
    if (atomic_load(&fresh->next_offset) < end) {
        v.off = end = atomic_load(&fresh->next_offset);
        clamp_visible(part, &v);
        atomic_store_explicit(&part->log_end, end, memory_order_release);
    }
    pthread_rwlock_wrlock(&part->segs_lock);
    qr_seg_t *old = part->segs[i];
    part->segs[i] = fresh;
    pthread_rwlock_unlock(&part->segs_lock);
    qr_seg_release(old);
    err = truncation_durable(part, end);
out:
    pthread_mutex_unlock(&part->lock);
    pthread_mutex_unlock(&part->sync_lock);
    if (err == QUIRE_ERR_NONE)
        fail_waiters_from(part, qr_plog_log_end(part));
    return err;
}
