/*
 * index: the mmap'd index files and the offset index over them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "diskfmt.h"
#include "index.h"
#include "logging.h"

/* ---- the mmap'd file ---- */

static quire_err_t sys_fail(const char *what, const char *path, int err)
{
    QR_LOG_ERR("LOG", "%s %s: %s (errno %d)", what, path, strerror(err), err);
    return QUIRE_ERR_KAFKA_STORAGE_ERROR;
}

static quire_err_t map_file(qr_idxfile_t *f, size_t bytes, int prot, int flags)
{
    f->map_size = bytes;
    f->max_entries = bytes / f->entry_size;
    if (bytes == 0) {
        f->map = NULL;
        return QUIRE_ERR_NONE;
    }
    void *m = mmap(NULL, bytes, prot, MAP_SHARED | flags, f->fd, 0);
    if (m == MAP_FAILED)
        return sys_fail("mmap", f->path, errno);
    /* An index being written is touched a page at a time as entries come.
     * Without this, each first touch of a page read ahead a large folio
     * of the sparse file, and zeroing it took 90% of the broker's CPU
     * with 1,000 partitions (perf: zero_user_segments under
     * qr_index_append and qr_tindex_maybe_append; issue 14). Advice only:
     * a kernel that ignores it still works. */
    if ((prot & PROT_WRITE) && madvise(m, bytes, MADV_RANDOM) != 0)
        QR_LOG(QR_LOG_LVL_DEBUG, "LOG", "madvise %s: %s", f->path,
               strerror(errno));
    f->map = m;
    return QUIRE_ERR_NONE;
}

/* Sets the file's length only, as Kafka does: a sparse file whose blocks
 * come as entries are written (qr_idxfile_reserve()), so an empty
 * partition costs no index blocks. Reserving 10 MiB per index up front
 * let one Metadata request that auto-created 100 topics take 2 GB. */
static quire_err_t prealloc(qr_idxfile_t *f, size_t bytes)
{
    if (ftruncate(f->fd, (off_t)bytes) != 0)
        return sys_fail("ftruncate", f->path, errno);
    return QUIRE_ERR_NONE;
}

/* Blocks are allocated this many bytes at a time, ahead of the entries. */
#define RESERVE_STEP 4096

/* A writable index holds no fd between uses (issue 14: 10,000 partitions
 * held 30,000 descriptors, the log and both indexes of each active
 * segment; now 10,000): the mapping is all a writer stores through, and
 * the rare calls that need a descriptor (the allocation of the next 4 KiB
 * of blocks, the trim at seal, the sync) open the file by name. -1 with
 * errno when it cannot be opened. */
static int use_fd(const qr_idxfile_t *f)
{
    return f->fd >= 0 ? f->fd : open(f->path, O_RDWR | O_CLOEXEC);
}

static void done_fd(const qr_idxfile_t *f, int fd)
{
    if (fd != f->fd && fd >= 0)
        close(fd);
}

int qr_idxfile_reserve(qr_idxfile_t *f, size_t n)
{
    size_t need = (n + 1) * f->entry_size, upto;
    int err;

    if (need <= f->reserved)
        return 0;
    upto = (need + RESERVE_STEP - 1) / RESERVE_STEP * RESERVE_STEP;
    if (upto > f->map_size)
        upto = f->map_size;
    /* Real blocks before the store: a full disk is an error here, never a
     * SIGBUS on a store into a hole of the mapping. */
    int fd = use_fd(f);
    err = fd < 0 ? errno
                 : posix_fallocate(fd, (off_t)f->reserved,
                                   (off_t)(upto - f->reserved));
    done_fd(f, fd);
    if (err == EOPNOTSUPP || err == EINVAL) {
        f->reserved = f->map_size; /* no fallocate here: sparse, as Kafka */
        return 0;
    }
    if (err != 0) {
        QR_LOG_WARN("LOG", "%s: no room for more index entries: %s (errno %d)",
                    f->path, strerror(err), err);
        /* full from now on: the segment rolls, and the roll reports the
         * disk */
        f->max_entries = n;
        return -1;
    }
    f->reserved = upto;
    return 0;
}

static quire_err_t open_existing(qr_idxfile_t *f, size_t max_bytes,
                                 int writable, qr_idxfile_used_fn used)
{
    struct stat st;
    f->fd = open(f->path, writable ? O_RDWR : O_RDONLY);
    if (f->fd < 0)
        return errno == ENOENT ? QUIRE_ERR_NOT_FOUND
                               : sys_fail("open", f->path, errno);
    if (fstat(f->fd, &st) != 0)
        return sys_fail("fstat", f->path, errno);
    size_t size = (size_t)st.st_size;
    if (!writable) {
        if (size % f->entry_size != 0)
            return QUIRE_ERR_CORRUPT_MESSAGE;
        /* populated now: no page fault on a lookup's first touch */
        quire_err_t err = map_file(f, size, PROT_READ, MAP_POPULATE);
        if (err == QUIRE_ERR_NONE)
            atomic_store(&f->entries, f->max_entries);
        /* A sealed index is only read: the mapping is enough. */
        qr_idxfile_drop_fd(f);
        return err;
    }
    size_t want = max_bytes / f->entry_size * f->entry_size;
    size_t have = size / f->entry_size * f->entry_size;
    if (want < have)
        want = have; /* log.index.size.max.bytes was lowered: keep them */
    quire_err_t err = prealloc(f, want);
    if (err == QUIRE_ERR_NONE)
        err = map_file(f, want, PROT_READ | PROT_WRITE, 0);
    if (err != QUIRE_ERR_NONE)
        return err;
    f->reserved = have; /* the entries' blocks exist: they were written */
    size_t n = 0;
    while (n < have / f->entry_size && used(qr_idxfile_at(f, n), n))
        n++;
    atomic_store(&f->entries, n);
    f->writable = 1;
    close(f->fd); /* reopened by name when needed (use_fd) */
    f->fd = -1;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_idxfile_open(qr_idxfile_t *f, const char *path,
                            size_t entry_size, size_t max_bytes, int create,
                            int writable, qr_idxfile_used_fn used)
{
    quire_err_t err;
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->entry_size = entry_size;
    f->path = qr_strdup(path);
    if (!create) {
        err = open_existing(f, max_bytes, writable, used);
    } else {
        f->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f->fd < 0) {
            err = sys_fail("create", path, errno);
        } else {
            size_t want = max_bytes / entry_size * entry_size;
            err = prealloc(f, want);
            if (err == QUIRE_ERR_NONE)
                err = map_file(f, want, PROT_READ | PROT_WRITE, 0);
            f->writable = 1;
            if (err == QUIRE_ERR_NONE) {
                close(f->fd); /* reopened by name when needed (use_fd) */
                f->fd = -1;
            }
        }
    }
    if (err != QUIRE_ERR_NONE)
        qr_idxfile_close(f);
    return err;
}

quire_err_t qr_idxfile_trim(qr_idxfile_t *f)
{
    if (!f->writable)
        return QUIRE_ERR_NONE;
    size_t n = atomic_load(&f->entries);
    int fd = use_fd(f);
    if (fd < 0 || ftruncate(fd, (off_t)(n * f->entry_size)) != 0) {
        int e = errno;
        done_fd(f, fd);
        return sys_fail(fd < 0 ? "open" : "ftruncate", f->path, e);
    }
    done_fd(f, fd);
    /* The mapping keeps its size: readers only touch [0, n), which stays
     * inside the file. The fd goes: a sealed index holds none, so a
     * partition of 10,000 segments keeps 10,000 fds (its logs), not
     * 30,000; qr_idxfile_sync() reopens the file by name. */
    f->writable = 0;
    qr_idxfile_drop_fd(f);
    return QUIRE_ERR_NONE;
}

void qr_idxfile_drop_fd(qr_idxfile_t *f)
{
    if (f->fd >= 0 && !f->writable) {
        close(f->fd);
        f->fd = -1;
    }
}

/* The fsync alone: on Linux the entries stored through the shared mapping
 * are pages of the file's page cache, marked dirty when written (the
 * kernel write-protects clean pages of a shared file mapping), so fsync()
 * writes them as it writes any dirty page; msync(MS_SYNC) is only the
 * same sync over the mapped range (mm/msync.c: vfs_fsync_range()). The
 * two made each index cost two syncs, each close of a partition five
 * (issue 14: the clean stop of 10,000 partitions). */
quire_err_t qr_idxfile_sync(qr_idxfile_t *f)
{
    int fd = f->fd;

    if (fd < 0) {
        fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) /* renamed by retention meanwhile: going away */
            return errno == ENOENT ? QUIRE_ERR_NONE
                                   : sys_fail("open", f->path, errno);
    }
    int rc = fsync(fd), e = errno;
    if (fd != f->fd)
        close(fd);
    if (rc != 0)
        return sys_fail("fsync", f->path, e);
    return QUIRE_ERR_NONE;
}

void qr_idxfile_close(qr_idxfile_t *f)
{
    if (f->map)
        munmap(f->map, f->map_size);
    f->map = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->path);
    f->path = NULL;
}

/* ---- the offset index ---- */

static int index_used(const uint8_t *p, size_t i)
{
    (void)i;
    return qr_dk_get32(p + 4) != 0; /* position 0 is never indexed */
}

quire_err_t qr_index_open(qr_index_t *idx, const char *path,
                          int64_t base_offset, size_t max_bytes, int create,
                          int writable)
{
    idx->base_offset = base_offset;
    return qr_idxfile_open(&idx->f, path, QR_INDEX_ENTRY_SIZE, max_bytes,
                           create, writable, index_used);
}

size_t qr_index_entries(const qr_index_t *idx)
{
    return qr_idxfile_count(&idx->f);
}

void qr_index_entry(const qr_index_t *idx, size_t i, int64_t *offset,
                    uint32_t *pos)
{
    const uint8_t *p = qr_idxfile_at(&idx->f, i);
    *offset = idx->base_offset + (int64_t)qr_dk_get32(p);
    *pos = qr_dk_get32(p + 4);
}

int qr_index_full(const qr_index_t *idx)
{
    return atomic_load_explicit(&idx->f.entries, memory_order_relaxed) >=
           idx->f.max_entries;
}

quire_err_t qr_index_append(qr_index_t *idx, int64_t offset, uint32_t pos)
{
    qr_idxfile_t *f = &idx->f;
    size_t n = atomic_load_explicit(&f->entries, memory_order_relaxed);
    int64_t rel = offset - idx->base_offset;

    if (!f->writable || rel < 0 || rel > INT32_MAX || pos == 0)
        return QUIRE_ERR_STATE;
    if (n >= f->max_entries || qr_idxfile_reserve(f, n) != 0)
        return QUIRE_ERR_BUF_FULL;
    if (n > 0) {
        int64_t last_off;
        uint32_t last_pos;
        qr_index_entry(idx, n - 1, &last_off, &last_pos);
        if (offset <= last_off || pos <= last_pos)
            return QUIRE_ERR_STATE;
    }
    uint8_t *p = qr_idxfile_at(f, n);
    qr_dk_put32(p, (uint32_t)rel);
    qr_dk_put32(p + 4, pos);
    atomic_store_explicit(&f->entries, n + 1, memory_order_release);
    return QUIRE_ERR_NONE;
}

void qr_index_lookup_bound(const qr_index_t *idx, int64_t offset,
                           int64_t *ent_off, uint32_t *ent_pos,
                           uint32_t *next_pos)
{
    size_t n = qr_index_entries(idx);
    size_t lo = 0, hi = n; /* first entry > offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t o;
        uint32_t p;
        qr_index_entry(idx, mid, &o, &p);
        if (o <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    *next_pos = 0;
    if (lo < n) {
        int64_t o;
        qr_index_entry(idx, lo, &o, next_pos);
    }
    if (lo == 0) {
        *ent_off = idx->base_offset;
        *ent_pos = 0;
        return;
    }
    qr_index_entry(idx, lo - 1, ent_off, ent_pos);
}

void qr_index_lookup(const qr_index_t *idx, int64_t offset, int64_t *ent_off,
                     uint32_t *ent_pos)
{
    uint32_t next;
    qr_index_lookup_bound(idx, offset, ent_off, ent_pos, &next);
}

void qr_index_lookup_pos(const qr_index_t *idx, uint32_t pos, int64_t *ent_off,
                         uint32_t *ent_pos)
{
    size_t lo = 0, hi = qr_index_entries(idx);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t o;
        uint32_t p;
        qr_index_entry(idx, mid, &o, &p);
        if (p <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *ent_off = idx->base_offset;
        *ent_pos = 0;
        return;
    }
    qr_index_entry(idx, lo - 1, ent_off, ent_pos);
}

quire_err_t qr_index_check(const qr_index_t *idx, uint64_t log_size,
                           const char **why)
{
    size_t n = qr_index_entries(idx);
    int64_t prev_off = idx->base_offset;
    uint32_t prev_pos = 0;
    const char *reason = NULL;

    for (size_t i = 0; i < n && !reason; i++) {
        int64_t o;
        uint32_t p;
        qr_index_entry(idx, i, &o, &p);
        if (o <= prev_off || p <= prev_pos)
            reason = "index entries not strictly increasing";
        else if (p >= log_size)
            reason = "index entry points past the end of the log";
        prev_off = o;
        prev_pos = p;
    }
    if (why)
        *why = reason;
    return reason ? QUIRE_ERR_CORRUPT_MESSAGE : QUIRE_ERR_NONE;
}

quire_err_t qr_index_trim(qr_index_t *idx)
{
    return qr_idxfile_trim(&idx->f);
}

quire_err_t qr_index_sync(qr_index_t *idx)
{
    return qr_idxfile_sync(&idx->f);
}

void qr_index_close(qr_index_t *idx)
{
    qr_idxfile_close(&idx->f);
}
