/*
 * segment: one .log file and its indexes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "diskfmt.h"
#include "logging.h"
#include "segment.h"

/* ---- names, create, open, lifetime ---- */

int qr_seg_path(const qr_seg_t *seg, const char *suffix, char *out, size_t size)
{
    return qr_dk_seg_path(out, size, seg->dir, seg->base_offset, suffix);
}

static quire_err_t seg_fail(const char *what, const char *path, int err)
{
    QR_LOG_ERR("LOG", "%s %s: %s (errno %d)", what, path, strerror(err), err);
    return QUIRE_ERR_KAFKA_STORAGE_ERROR;
}

/* Opens a .log. O_NOATIME when allowed (the broker owns its files): a
 * pread then never looks at the inode's access time, which with thousands
 * of segments is a cold inode (and a clock read) on every lookup. Only the
 * owner or CAP_FOWNER may ask for it (EPERM otherwise): then without. */
static int open_log_file(const char *path, int flags, mode_t mode)
{
#ifdef O_NOATIME
    int fd = open(path, flags | O_NOATIME, mode);
    if (fd >= 0 || errno != EPERM)
        return fd;
#endif
    return open(path, flags, mode);
}

static qr_seg_t *seg_alloc(const char *dir, int64_t base_offset,
                           const qr_seg_opts_t *opts)
{
    qr_seg_t *seg = qr_calloc(1, sizeof(*seg));
    seg->base_offset = base_offset;
    seg->fd = -1;
    seg->idx.f.fd = -1;
    seg->tidx.f.fd = -1;
    seg->opts = *opts;
    seg->dir = qr_strdup(dir);
    seg->max_ts_offset = base_offset;
    atomic_init(&seg->size, 0);
    atomic_init(&seg->next_offset, base_offset);
    atomic_init(&seg->max_ts, -1);
    atomic_init(&seg->refcnt, 1);
    atomic_init(&seg->files_open, 1);
    atomic_init(&seg->referenced, 1);
    pthread_mutex_init(&seg->sync_lock, NULL);
    pthread_mutex_init(&seg->open_lock, NULL);
    return seg;
}

static void cache_remove(qr_seg_t *seg);

static void seg_free(qr_seg_t *seg)
{
    cache_remove(seg);
    pthread_mutex_destroy(&seg->open_lock);
    qr_index_close(&seg->idx);
    qr_tindex_close(&seg->tidx);
    if (seg->fd >= 0)
        close(seg->fd);
    pthread_mutex_destroy(&seg->sync_lock);
    free(seg->dir);
    free(seg);
}

static quire_err_t open_indexes(qr_seg_t *seg, int create, int writable)
{
    char path[PATH_MAX];
    quire_err_t err;

    if (qr_seg_path(seg, QR_SEG_SUFFIX_INDEX, path, sizeof(path)) != 0)
        return seg_fail("name", seg->dir, errno);
    err = qr_index_open(&seg->idx, path, seg->base_offset,
                        seg->opts.index_max_bytes, create, writable);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (qr_seg_path(seg, QR_SEG_SUFFIX_TIMEINDEX, path, sizeof(path)) != 0)
        return seg_fail("name", seg->dir, errno);
    return qr_tindex_open(&seg->tidx, path, seg->base_offset,
                          seg->opts.index_max_bytes, create, writable);
}

quire_err_t qr_seg_reset_indexes(qr_seg_t *seg)
{
    qr_index_close(&seg->idx);
    qr_tindex_close(&seg->tidx);
    seg->bytes_since_index = 0;
    seg->sealed = 0;
    seg->idx_synced = 0;
    return open_indexes(seg, 1, 1);
}

quire_err_t qr_seg_create(const char *dir, int64_t base_offset,
                          const qr_seg_opts_t *opts, qr_seg_t **segp)
{
    char path[PATH_MAX];
    qr_seg_t *seg = seg_alloc(dir, base_offset, opts);
    quire_err_t err;

    if (qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path)) != 0) {
        err = seg_fail("name", dir, errno);
        goto fail;
    }
    seg->fd = open_log_file(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (seg->fd < 0) {
        err = seg_fail("create", path, errno);
        goto fail;
    }
    err = open_indexes(seg, 1, 1);
    if (err != QUIRE_ERR_NONE)
        goto fail;
    *segp = seg;
    return QUIRE_ERR_NONE;
fail:
    qr_seg_unlink(seg);
    seg_free(seg);
    return err == QUIRE_ERR_NONE ? QUIRE_ERR_KAFKA_STORAGE_ERROR : err;
}

quire_err_t qr_seg_open(const char *dir, int64_t base_offset,
                        const qr_seg_opts_t *opts, int active, qr_seg_t **segp,
                        int *idx_ok)
{
    char path[PATH_MAX];
    struct stat st;
    qr_seg_t *seg = seg_alloc(dir, base_offset, opts);
    quire_err_t err;
    const char *why = NULL;

    if (qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path)) != 0) {
        err = seg_fail("name", dir, errno);
        goto fail;
    }
    seg->fd = open_log_file(path, O_RDWR | O_CLOEXEC, 0);
    if (seg->fd < 0) {
        err = seg_fail("open", path, errno);
        goto fail;
    }
    if (fstat(seg->fd, &st) != 0) {
        err = seg_fail("fstat", path, errno);
        goto fail;
    }
    atomic_store(&seg->size, (uint64_t)st.st_size);
    seg->roll_base_ms =
        (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    *idx_ok = 1;
    err = open_indexes(seg, 0, active);
    if (err == QUIRE_ERR_NONE &&
        qr_index_check(&seg->idx, (uint64_t)st.st_size, &why) != 0)
        err = QUIRE_ERR_CORRUPT_MESSAGE;
    if (err == QUIRE_ERR_NONE &&
        qr_tindex_check(&seg->tidx, INT64_MAX, &why) != 0)
        err = QUIRE_ERR_CORRUPT_MESSAGE;
    if (err == QUIRE_ERR_NOT_FOUND || err == QUIRE_ERR_CORRUPT_MESSAGE) {
        QR_LOG_WARN("LOG", "%s/%020lld: index: %s; rebuilding it from the log",
                    dir, (long long)base_offset,
                    err == QUIRE_ERR_NOT_FOUND ? "file missing"
                    : why                      ? why
                          : "size not a whole number of entries");
        *idx_ok = 0;
        err = qr_seg_reset_indexes(seg);
    }
    if (err != QUIRE_ERR_NONE)
        goto fail;
    if (!active) {
        seg->sealed = 1;
        seg->idx_synced = *idx_ok;
    }
    *segp = seg;
    return QUIRE_ERR_NONE;
fail:
    seg_free(seg);
    return err;
}

quire_err_t qr_seg_reopen_cut(const qr_seg_t *old, uint64_t pos,
                              qr_seg_t **segp)
{
    static const char *const idx_suffixes[] = {QR_SEG_SUFFIX_INDEX,
                                               QR_SEG_SUFFIX_TIMEINDEX};
    char path[PATH_MAX];
    qr_seg_t *seg = seg_alloc(old->dir, old->base_offset, &old->opts);
    quire_err_t err;

    /* Unlinked, never truncated in place: readers of @p old may be inside
     * their mappings, which keep the old inodes. */
    for (size_t i = 0; i < QR_ARRAY_LEN(idx_suffixes); i++)
        if (qr_seg_path(seg, idx_suffixes[i], path, sizeof(path)) == 0 &&
            unlink(path) != 0 && errno != ENOENT) {
            err = seg_fail("unlink", path, errno);
            goto fail;
        }
    if (qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path)) != 0) {
        err = seg_fail("name", seg->dir, errno);
        goto fail;
    }
    seg->fd = open_log_file(path, O_RDWR | O_CLOEXEC, 0);
    if (seg->fd < 0) {
        err = seg_fail("open", path, errno);
        goto fail;
    }
    if ((err = qr_seg_truncate(seg, pos)) != QUIRE_ERR_NONE)
        goto fail;
    seg->roll_base_ms = old->roll_base_ms;
    *segp = seg;
    return QUIRE_ERR_NONE;
fail:
    seg_free(seg);
    return err;
}

/* ---- open files: the cache of sealed segments (issue 17 item 2) ----
 *
 * A CLOCK list over the sealed segments whose files are open: the hand is
 * the list's head; a segment read since the hand last passed (referenced)
 * gets a second chance, else it is closed if nobody but its partition
 * holds it. One lock for the list, taken on add, close and free, never
 * on a read that finds its segment open. */

static struct {
    pthread_mutex_t lock;
    qr_seg_t *head, *tail; /* head: next for the hand */
    size_t count, max;
} cache = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 1000};

/* cache.lock held */
static void cache_unlink(qr_seg_t *seg)
{
    if (seg->lru_prev)
        seg->lru_prev->lru_next = seg->lru_next;
    else
        cache.head = seg->lru_next;
    if (seg->lru_next)
        seg->lru_next->lru_prev = seg->lru_prev;
    else
        cache.tail = seg->lru_prev;
    seg->lru_prev = seg->lru_next = NULL;
    seg->in_cache = 0;
    cache.count--;
}

/* cache.lock held */
static void cache_append(qr_seg_t *seg)
{
    seg->lru_prev = cache.tail;
    seg->lru_next = NULL;
    if (cache.tail)
        cache.tail->lru_next = seg;
    else
        cache.head = seg;
    cache.tail = seg;
    seg->in_cache = 1;
    cache.count++;
}

static void close_files(qr_seg_t *seg)
{
    qr_index_close(&seg->idx);
    qr_tindex_close(&seg->tidx);
    if (seg->fd >= 0)
        close(seg->fd);
    seg->fd = -1;
}

/* Closes @p seg unless someone besides its partition holds it. The
 * store of files_open before the load of refcnt pairs with qr_seg_use()'s
 * keep-then-load (both seq_cst): either the user's reference is seen here,
 * or the user sees files_open 0 and reopens under open_lock. cache.lock
 * held. */
static int try_close(qr_seg_t *seg)
{
    int closed = 0;

    if (pthread_mutex_trylock(&seg->open_lock) != 0)
        return 0;
    atomic_store(&seg->files_open, 0);
    if (atomic_load(&seg->refcnt) == 1) {
        close_files(seg);
        closed = 1;
    } else {
        atomic_store(&seg->files_open, 1);
    }
    pthread_mutex_unlock(&seg->open_lock);
    return closed;
}

/* The hand: at most two passes over the list. cache.lock held. */
static void cache_sweep(void)
{
    size_t steps = 2 * cache.count;

    while (cache.count > cache.max && steps-- > 0 && cache.head) {
        qr_seg_t *seg = cache.head;
        cache_unlink(seg);
        if (!atomic_exchange(&seg->referenced, 0) && try_close(seg))
            continue;
        cache_append(seg); /* a second chance, or in use */
    }
}

static void cache_remove(qr_seg_t *seg)
{
    pthread_mutex_lock(&cache.lock);
    if (seg->in_cache)
        cache_unlink(seg);
    pthread_mutex_unlock(&cache.lock);
}

void qr_seg_cache_set_max(size_t max)
{
    pthread_mutex_lock(&cache.lock);
    cache.max = max ? max : 1;
    pthread_mutex_unlock(&cache.lock);
}

size_t qr_seg_cache_open_count(void)
{
    pthread_mutex_lock(&cache.lock);
    size_t n = cache.count;
    pthread_mutex_unlock(&cache.lock);
    return n;
}

void qr_seg_cache_add(qr_seg_t *seg)
{
    atomic_store(&seg->referenced, 1);
    pthread_mutex_lock(&cache.lock);
    if (!seg->in_cache && atomic_load(&seg->files_open))
        cache_append(seg);
    cache_sweep();
    pthread_mutex_unlock(&cache.lock);
}

/* Reopens a sealed segment's files: the .log read-write (recovery may cut
 * it), the trimmed indexes read-only. An index that cannot be opened any
 * more is left empty: lookups then scan the log from its start. */
static quire_err_t reopen_files(qr_seg_t *seg)
{
    char path[PATH_MAX + 16];
    const char *suffix = seg->deleted ? QR_SEG_SUFFIX_DELETED : "";

    if (qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, PATH_MAX) != 0)
        return seg_fail("name", seg->dir, errno);
    strcat(path, suffix);
    seg->fd = open_log_file(path, O_RDWR | O_CLOEXEC, 0);
    if (seg->fd < 0)
        return seg_fail("reopen", path, errno);
    if (seg->deleted || open_indexes(seg, 0, 0) != QUIRE_ERR_NONE) {
        qr_index_close(&seg->idx);
        qr_tindex_close(&seg->tidx);
        memset(&seg->idx.f, 0, sizeof(seg->idx.f));
        memset(&seg->tidx.f, 0, sizeof(seg->tidx.f));
        seg->idx.f.fd = seg->tidx.f.fd = -1;
        seg->idx.f.entry_size = QR_INDEX_ENTRY_SIZE;
        seg->tidx.f.entry_size = QR_TINDEX_ENTRY_SIZE;
        if (!seg->deleted)
            QR_LOG_WARN("LOG",
                        "%s: indexes of %020lld unreadable on reopen; "
                        "reads scan the segment",
                        seg->dir, (long long)seg->base_offset);
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_seg_use(qr_seg_t *seg)
{
    quire_err_t err = QUIRE_ERR_NONE;
    int reopened = 0;

    atomic_store_explicit(&seg->referenced, 1, memory_order_relaxed);
    /* after the caller's keep (a relaxed add): see try_close() */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&seg->files_open))
        return QUIRE_ERR_NONE;
    pthread_mutex_lock(&seg->open_lock);
    if (!atomic_load(&seg->files_open)) {
        err = reopen_files(seg);
        if (err == QUIRE_ERR_NONE) {
            atomic_store(&seg->files_open, 1);
            reopened = 1;
        } else {
            close_files(seg);
        }
    }
    pthread_mutex_unlock(&seg->open_lock);
    if (reopened)
        qr_seg_cache_add(seg);
    return err;
}

void qr_seg_close_files(qr_seg_t *seg)
{
    pthread_mutex_lock(&seg->open_lock);
    atomic_store(&seg->files_open, 0);
    close_files(seg);
    pthread_mutex_unlock(&seg->open_lock);
    cache_remove(seg);
}

void qr_seg_keep(qr_seg_t *seg)
{
    atomic_fetch_add_explicit(&seg->refcnt, 1, memory_order_relaxed);
}

void qr_seg_release(qr_seg_t *seg)
{
    if (!seg)
        return;
    if (atomic_fetch_sub_explicit(&seg->refcnt, 1, memory_order_acq_rel) == 1)
        seg_free(seg);
}

/* ---- batches in the file ---- */

/* The checks of qr_seg_read_hdr() on a header read into `buf`. */
static quire_err_t check_hdr(const uint8_t *buf, size_t n, uint64_t pos,
                             uint64_t end, qr_batch_hdr_t *hdr)
{
    if (n < QR_BATCH_HEADER_SIZE ||
        qr_batch_hdr_read(buf, QR_BATCH_HEADER_SIZE, hdr) != QUIRE_ERR_NONE)
        return QUIRE_ERR_TRUNCATED;
    if (hdr->length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD ||
        hdr->magic != QR_BATCH_MAGIC || hdr->last_offset_delta < 0)
        return QUIRE_ERR_CORRUPT_MESSAGE;
    if (pos + qr_batch_size(hdr) > end)
        return QUIRE_ERR_TRUNCATED;
    return QUIRE_ERR_NONE;
}

static quire_err_t pread_fail(const qr_seg_t *seg, int err)
{
    char path[PATH_MAX];
    qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path));
    return seg_fail("pread", path, err);
}

quire_err_t qr_seg_read_hdr(const qr_seg_t *seg, uint64_t pos, uint64_t end,
                            qr_batch_hdr_t *hdr)
{
    uint8_t buf[QR_BATCH_HEADER_SIZE];

    if (pos + QR_BATCH_HEADER_SIZE > end)
        return QUIRE_ERR_TRUNCATED;
    ssize_t n = qr_dk_pread_full(seg->fd, buf, sizeof(buf), (off_t)pos);
    if (n < 0)
        return pread_fail(seg, errno);
    return check_hdr(buf, (size_t)n, pos, end, hdr);
}

/* Bytes a lookup reads in one pread when the headers it may need all lie
 * within them: an index interval (4096 by default) and a batch. */
#define SCAN_BYTES 8192

/* A forward scan over batch headers with one pread for a whole bounded
 * region: a lookup walks the few batches between two index entries, and
 * one system call for all of them costs less than one per header (and
 * touches each page-cache page once). */
typedef struct hdr_scan {
    const qr_seg_t *seg;
    uint64_t end;   /* the published end */
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* bytes in buf */
    uint8_t buf[SCAN_BYTES];
} hdr_scan_t;

static void scan_init(hdr_scan_t *sc, const qr_seg_t *seg, uint64_t end)
{
    sc->seg = seg;
    sc->end = end;
    sc->start = 0;
    sc->len = 0;
}

/* The header at `pos`, checked as qr_seg_read_hdr() does. `upto` bounds
 * the headers the scan may still need (they start before it): when
 * [pos, upto) fits in the buffer it is read whole, else just the header. */
static quire_err_t scan_hdr(hdr_scan_t *sc, uint64_t pos, uint64_t upto,
                            qr_batch_hdr_t *hdr)
{
    if (pos + QR_BATCH_HEADER_SIZE > sc->end)
        return QUIRE_ERR_TRUNCATED;
    if (pos < sc->start || pos + QR_BATCH_HEADER_SIZE > sc->start + sc->len) {
        uint64_t want = QR_BATCH_HEADER_SIZE;
        if (upto > sc->end)
            upto = sc->end;
        if (upto > pos && upto - pos > want && upto - pos <= SCAN_BYTES)
            want = upto - pos;
        ssize_t n =
            qr_dk_pread_full(sc->seg->fd, sc->buf, (size_t)want, (off_t)pos);
        if (n < 0)
            return pread_fail(sc->seg, errno);
        sc->start = pos;
        sc->len = (size_t)n;
    }
    size_t at = (size_t)(pos - sc->start);
    return check_hdr(sc->buf + at, sc->len - at, pos, sc->end, hdr);
}

void qr_seg_index_batch(qr_seg_t *seg, const qr_batch_hdr_t *hdr, uint32_t pos)
{
    if (hdr->max_timestamp >
        atomic_load_explicit(&seg->max_ts, memory_order_relaxed)) {
        atomic_store_explicit(&seg->max_ts, hdr->max_timestamp,
                              memory_order_relaxed);
        seg->max_ts_offset = hdr->base_offset;
    }
    if (seg->bytes_since_index > seg->opts.index_interval_bytes) {
        /* A full index only makes lookups scan further until the roll
         * that a full index triggers; never an error here. */
        if (qr_index_append(&seg->idx, hdr->base_offset, pos) == QUIRE_ERR_NONE)
            qr_tindex_maybe_append(&seg->tidx, atomic_load(&seg->max_ts),
                                   seg->max_ts_offset);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += (uint32_t)qr_batch_size(hdr);
}

quire_err_t qr_seg_append(qr_seg_t *seg, const uint8_t *data, size_t len,
                          int *sys_errno, int *cut_failed)
{
    uint64_t old = atomic_load_explicit(&seg->size, memory_order_relaxed);
    size_t done = 0;
    int64_t next = 0;

    *sys_errno = 0;
    *cut_failed = 0;
    while (done < len) {
        ssize_t n =
            pwrite(seg->fd, data + done, len - done, (off_t)(old + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *sys_errno = n < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)n;
    }
    if (done < len) {
        char path[PATH_MAX];
        qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path));
        QR_LOG_ERR("LOG", "write %s at %llu: %s (errno %d)", path,
                   (unsigned long long)old, strerror(*sys_errno), *sys_errno);
        /* Nothing was published; cut the partial batch off the file too
         * so that neither recovery nor the next append ever sees it. */
        if (done > 0 && ftruncate(seg->fd, (off_t)old) != 0) {
            *cut_failed = 1;
            seg_fail("ftruncate", path, errno);
        }
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    for (size_t off = 0; off < len;) {
        qr_batch_hdr_t hdr;
        qr_batch_hdr_read(data + off, len - off, &hdr);
        qr_seg_index_batch(seg, &hdr, (uint32_t)(old + off));
        next = qr_batch_last_offset(&hdr) + 1;
        off += qr_batch_size(&hdr);
    }
    atomic_store_explicit(&seg->size, old + len, memory_order_release);
    atomic_store_explicit(&seg->next_offset, next, memory_order_release);
    return QUIRE_ERR_NONE;
}

/* qr_seg_find() from the index entry found for offset. */
static quire_err_t find_from(const qr_seg_t *seg, int64_t offset, uint64_t end,
                             uint32_t ent_pos, uint32_t next_pos, uint64_t *pos,
                             qr_batch_hdr_t *hdr)
{
    uint64_t p = ent_pos < end ? ent_pos : 0, upto;
    hdr_scan_t sc;

    /* The batch holding offset starts before the next entry's batch. */
    upto = next_pos > p ? (uint64_t)next_pos + QR_BATCH_HEADER_SIZE : end;
    scan_init(&sc, seg, end);
    while (p < end) {
        quire_err_t err = scan_hdr(&sc, p, upto, hdr);
        if (err != QUIRE_ERR_NONE)
            return err;
        if (qr_batch_last_offset(hdr) >= offset) {
            *pos = p;
            return QUIRE_ERR_NONE;
        }
        p += qr_batch_size(hdr);
    }
    return QUIRE_ERR_NOT_FOUND;
}

quire_err_t qr_seg_find(const qr_seg_t *seg, int64_t offset, uint64_t end,
                        uint64_t *pos, qr_batch_hdr_t *hdr)
{
    int64_t ent_off;
    uint32_t ent_pos, next_pos;

    qr_index_lookup_bound(&seg->idx, offset, &ent_off, &ent_pos, &next_pos);
    return find_from(seg, offset, end, ent_pos, next_pos, pos, hdr);
}

quire_err_t qr_seg_locate(const qr_seg_t *seg, int64_t offset, uint64_t end,
                          size_t max_bytes, uint64_t *pos, int64_t *base_offset,
                          size_t *len)
{
    int64_t ent_off;
    uint32_t ent_pos, next_pos;
    qr_batch_hdr_t hdr;
    quire_err_t err;

    qr_index_lookup_bound(&seg->idx, offset, &ent_off, &ent_pos, &next_pos);
    /* An entry for exactly this offset says a batch with that base offset
     * starts there; below the published end, it was published whole. If
     * the rest of the segment fits, nothing needs reading: a consumer
     * fetching the batch after the last one it got, when batches are at
     * least log.index.interval.bytes, costs no system call here. */
    if (ent_off == offset && ent_pos > 0 && ent_pos < end &&
        end - ent_pos <= max_bytes) {
        *pos = ent_pos;
        *base_offset = ent_off;
        *len = (size_t)(end - ent_pos);
        return QUIRE_ERR_NONE;
    }
    err = find_from(seg, offset, end, ent_pos, next_pos, pos, &hdr);
    if (err != QUIRE_ERR_NONE)
        return err;
    *base_offset = hdr.base_offset;
    return qr_seg_slice(seg, *pos, &hdr, end, max_bytes, len);
}

quire_err_t qr_seg_slice(const qr_seg_t *seg, uint64_t pos,
                         const qr_batch_hdr_t *first, uint64_t end,
                         size_t max_bytes, size_t *len)
{
    qr_batch_hdr_t hdr;
    uint64_t limit = pos + max_bytes, q;
    int64_t ent_off;
    uint32_t ent_pos;
    hdr_scan_t sc;

    if (limit > end || limit < pos) {
        /* The published end is a batch boundary: everything up to it is
         * whole batches, and no header needs reading. */
        *len = (size_t)(end - pos);
        return QUIRE_ERR_NONE;
    }
    q = pos + qr_batch_size(first); /* the first batch, whole, always */
    /* Skip to the last indexed boundary at or before the limit, then walk
     * the few batches between it and the limit. */
    qr_index_lookup_pos(&seg->idx,
                        (uint32_t)(limit > UINT32_MAX ? UINT32_MAX : limit),
                        &ent_off, &ent_pos);
    if (ent_pos > q && ent_pos <= limit)
        q = ent_pos;
    scan_init(&sc, seg, end);
    while (q < limit) {
        quire_err_t err = scan_hdr(&sc, q, limit + QR_BATCH_HEADER_SIZE, &hdr);
        if (err != QUIRE_ERR_NONE)
            return err;
        if (q + qr_batch_size(&hdr) > limit)
            break;
        q += qr_batch_size(&hdr);
    }
    if (q > end) /* a first batch past the end: the caller's header lied */
        return QUIRE_ERR_TRUNCATED;
    *len = (size_t)(q - pos);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_seg_find_ts(const qr_seg_t *seg, int64_t timestamp, uint64_t end,
                           int64_t *offset)
{
    int64_t ent_ts, ent_off, o;
    uint32_t p32 = 0;
    uint64_t p;
    qr_batch_hdr_t hdr;

    if (atomic_load(&seg->max_ts) < timestamp)
        return QUIRE_ERR_NOT_FOUND;
    if (qr_tindex_lookup_below(&seg->tidx, timestamp, &ent_ts, &ent_off))
        qr_index_lookup(&seg->idx, ent_off, &o, &p32);
    p = p32 < end ? p32 : 0;
    while (p < end) {
        quire_err_t err = qr_seg_read_hdr(seg, p, end, &hdr);
        if (err != QUIRE_ERR_NONE)
            return err;
        if (hdr.max_timestamp >= timestamp) {
            *offset = hdr.base_offset;
            return QUIRE_ERR_NONE;
        }
        p += qr_batch_size(&hdr);
    }
    return QUIRE_ERR_NOT_FOUND;
}

/* ---- seal, flush, truncate, delete ---- */

quire_err_t qr_seg_seal(qr_seg_t *seg)
{
    quire_err_t err;
    int64_t max_ts = atomic_load(&seg->max_ts);

    if (seg->sealed)
        return QUIRE_ERR_NONE;
    if (max_ts >= 0 && seg->tidx.f.writable)
        qr_tindex_maybe_append(&seg->tidx, max_ts, seg->max_ts_offset);
    err = qr_index_trim(&seg->idx);
    if (err == QUIRE_ERR_NONE)
        err = qr_tindex_trim(&seg->tidx);
    if (err == QUIRE_ERR_NONE)
        seg->sealed = 1;
    return err;
}

quire_err_t qr_seg_flush(qr_seg_t *seg)
{
    quire_err_t uerr = qr_seg_use(seg);
    if (uerr != QUIRE_ERR_NONE)
        return uerr;
    if (fdatasync(seg->fd) != 0) {
        char path[PATH_MAX];
        int err = errno;
        qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path));
        return seg_fail("fdatasync", path, err);
    }
    return qr_seg_sync_indexes(seg);
}

quire_err_t qr_seg_sync_indexes(qr_seg_t *seg)
{
    if (!atomic_load(&seg->sealed))
        return QUIRE_ERR_NONE;
    /* Once per sealed segment; a close and a flusher may both get here. */
    quire_err_t err = QUIRE_ERR_NONE;
    pthread_mutex_lock(&seg->sync_lock);
    if (!seg->idx_synced) {
        err = qr_index_sync(&seg->idx);
        if (err == QUIRE_ERR_NONE)
            err = qr_tindex_sync(&seg->tidx);
        if (err == QUIRE_ERR_NONE) {
            seg->idx_synced = 1;
        }
    }
    pthread_mutex_unlock(&seg->sync_lock);
    return err;
}

quire_err_t qr_seg_truncate(qr_seg_t *seg, uint64_t pos)
{
    if (ftruncate(seg->fd, (off_t)pos) != 0) {
        char path[PATH_MAX];
        int err = errno;
        qr_seg_path(seg, QR_SEG_SUFFIX_LOG, path, sizeof(path));
        return seg_fail("ftruncate", path, err);
    }
    atomic_store_explicit(&seg->size, pos, memory_order_release);
    return QUIRE_ERR_NONE;
}

static const char *const seg_suffixes[] = {
    QR_SEG_SUFFIX_LOG, QR_SEG_SUFFIX_INDEX, QR_SEG_SUFFIX_TIMEINDEX};

quire_err_t qr_seg_mark_deleted(qr_seg_t *seg)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(seg_suffixes); i++) {
        char from[PATH_MAX], to[PATH_MAX + 16];
        if (qr_seg_path(seg, seg_suffixes[i], from, sizeof(from)) != 0)
            return seg_fail("name", seg->dir, errno);
        snprintf(to, sizeof(to), "%s%s", from, QR_SEG_SUFFIX_DELETED);
        if (rename(from, to) != 0 && errno != ENOENT)
            return seg_fail("rename", from, errno);
    }
    seg->deleted = 1;
    return QUIRE_ERR_NONE;
}

void qr_seg_unlink(qr_seg_t *seg)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(seg_suffixes); i++) {
        char path[PATH_MAX], full[PATH_MAX + 16];
        if (qr_seg_path(seg, seg_suffixes[i], path, sizeof(path)) != 0)
            continue;
        snprintf(full, sizeof(full), "%s%s", path,
                 seg->deleted ? QR_SEG_SUFFIX_DELETED : "");
        if (unlink(full) != 0 && errno != ENOENT)
            QR_LOG_WARN("LOG", "unlink %s: %s (errno %d)", full,
                        strerror(errno), errno);
    }
}
