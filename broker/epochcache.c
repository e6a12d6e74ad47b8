/*
 * epochcache: leader epoch -> first offset, and leader-epoch-checkpoint
 * (see epochcache.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "checkpoint.h"
#include "epochcache.h"
#include "logging.h"

struct qr_epochcache {
    pthread_mutex_t lock;
    qr_epoch_entry_t *v; /* lock: epochs and start offsets increasing */
    size_t n, cap;       /* lock */
    /* lock: changes counted; written: the count the file holds (loaded or
     * last written). Different: the file is behind the cache. */
    uint64_t gen, written;
    /* Serialises writers of the file; taken before lock, never under it,
     * so that the write's fsyncs never hold the entries' lock (an
     * appender asking for the latest epoch does not wait for a disk). */
    pthread_mutex_t write_lock;
    char *path; /* <dir>/leader-epoch-checkpoint */
    char *name; /* topic-partition, for logs */
};

qr_epochcache_t *qr_epochcache_new(const char *dir, const char *name)
{
    qr_epochcache_t *ec = qr_calloc(1, sizeof(*ec));
    size_t n = strlen(dir) + sizeof(QR_EPOCHCACHE_FILE) + 1;

    pthread_mutex_init(&ec->lock, NULL);
    pthread_mutex_init(&ec->write_lock, NULL);
    ec->path = qr_malloc(n);
    snprintf(ec->path, n, "%s/%s", dir, QR_EPOCHCACHE_FILE);
    ec->name = qr_strdup(name);
    return ec;
}

void qr_epochcache_destroy(qr_epochcache_t *ec)
{
    if (!ec)
        return;
    pthread_mutex_destroy(&ec->lock);
    pthread_mutex_destroy(&ec->write_lock);
    free(ec->v);
    free(ec->path);
    free(ec->name);
    free(ec);
}

/* lock held */
static void push(qr_epochcache_t *ec, int32_t epoch, int64_t start)
{
    if (ec->n == ec->cap) {
        ec->cap = ec->cap ? ec->cap * 2 : 8;
        ec->v = qr_realloc(ec->v, ec->cap * sizeof(*ec->v));
    }
    ec->v[ec->n].epoch = epoch;
    ec->v[ec->n].start_offset = start;
    ec->n++;
}

/* ---- the file ---- */

/* Parses one decimal integer in [lo, hi] at *p, then skips one separator
 * @p sep. Returns 0 on success. */
static int parse_num(const char **p, const char *end, long long lo,
                     long long hi, char sep, long long *out)
{
    const char *s = *p;
    int neg = 0;
    long long v = 0;

    if (s < end && *s == '-') {
        neg = 1;
        s++;
    }
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (LLONG_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    if (neg)
        v = -v;
    if (v < lo || v > hi || s >= end || *s != sep)
        return -1;
    *out = v;
    *p = s + 1;
    return 0;
}

static quire_err_t parse(qr_epochcache_t *ec, const char *buf, size_t len,
                         char *errstr, size_t errsz)
{
    const char *p = buf, *end = buf + len;
    long long version, count, epoch, start;

    if (parse_num(&p, end, 0, 0, '\n', &version) != 0) {
        snprintf(errstr, errsz, "%s: line 1: version must be 0", ec->path);
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    /* every entry takes at least 4 bytes: bound before trusting it */
    if (parse_num(&p, end, 0, (long long)len / 4, '\n', &count) != 0) {
        snprintf(errstr, errsz, "%s: line 2: bad entry count", ec->path);
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    for (long long i = 0; i < count; i++) {
        if (parse_num(&p, end, 0, INT32_MAX, ' ', &epoch) != 0 ||
            parse_num(&p, end, 0, INT64_MAX, '\n', &start) != 0 ||
            (ec->n > 0 && (epoch <= ec->v[ec->n - 1].epoch ||
                           start < ec->v[ec->n - 1].start_offset))) {
            snprintf(errstr, errsz,
                     "%s: line %lld: want \"<epoch> <start offset>\", "
                     "both increasing",
                     ec->path, i + 3);
            return QUIRE_ERR_CORRUPT_MESSAGE;
        }
        push(ec, (int32_t)epoch, start);
    }
    if (p != end) {
        snprintf(errstr, errsz, "%s: data after the %lld entries", ec->path,
                 count);
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_epochcache_load(qr_epochcache_t *ec, char *errstr,
                               size_t errstr_size)
{
    char *buf = NULL;
    size_t len = 0;
    quire_err_t err;

    pthread_mutex_lock(&ec->write_lock);
    pthread_mutex_lock(&ec->lock);
    ec->n = 0;
    ec->written = ++ec->gen;
    err = qr_ckpt_read_file(ec->path, QR_EPOCHCACHE_MAX_BYTES, &buf, &len,
                            errstr, errstr_size);
    if (err == QUIRE_ERR_NONE) {
        err = parse(ec, buf, len, errstr, errstr_size);
        if (err != QUIRE_ERR_NONE)
            ec->n = 0;
    }
    free(buf);
    pthread_mutex_unlock(&ec->lock);
    pthread_mutex_unlock(&ec->write_lock);
    return err;
}

int qr_epochcache_dirty(qr_epochcache_t *ec)
{
    int dirty;

    pthread_mutex_lock(&ec->lock);
    dirty = ec->gen != ec->written;
    pthread_mutex_unlock(&ec->lock);
    return dirty;
}

quire_err_t qr_epochcache_persist(qr_epochcache_t *ec)
{
    quire_err_t err = QUIRE_ERR_NONE;
    char *text = NULL;
    size_t len = 0;
    uint64_t gen;

    pthread_mutex_lock(&ec->write_lock);
    /* the entries copied out as text under the lock, written without it */
    pthread_mutex_lock(&ec->lock);
    gen = ec->gen;
    if (gen != ec->written) {
        /* "0\n" + count + n lines of at most 11 + 1 + 20 + 1 bytes */
        size_t cap = 32 + ec->n * 40;
        text = qr_malloc(cap);
        len = (size_t)snprintf(text, cap, "0\n%zu\n", ec->n);
        for (size_t i = 0; i < ec->n; i++)
            len += (size_t)snprintf(text + len, cap - len, "%d %lld\n",
                                    (int)ec->v[i].epoch,
                                    (long long)ec->v[i].start_offset);
    }
    pthread_mutex_unlock(&ec->lock);
    if (text) {
        err = qr_ckpt_write_file(ec->path, text, len);
        free(text);
        pthread_mutex_lock(&ec->lock);
        if (err == QUIRE_ERR_NONE)
            ec->written = gen; /* changes made meanwhile stay to write */
        pthread_mutex_unlock(&ec->lock);
    }
    pthread_mutex_unlock(&ec->write_lock);
    return err;
}

/* ---- changes ---- */

int qr_epochcache_assign(qr_epochcache_t *ec, int32_t epoch,
                         int64_t start_offset)
{
    int changed = 0;

    if (epoch < 0 || start_offset < 0)
        return 0;
    pthread_mutex_lock(&ec->lock);
    if (ec->n == 0 || ec->v[ec->n - 1].epoch != epoch) {
        size_t keep = ec->n;
        while (keep > 0 && (ec->v[keep - 1].epoch >= epoch ||
                            ec->v[keep - 1].start_offset >= start_offset))
            keep--;
        if (keep < ec->n)
            QR_LOG_WARN("LOG",
                        "%s: leader epoch %d at offset %lld conflicts with "
                        "%zu cached epoch(s) from epoch %d at offset %lld: "
                        "dropping them",
                        ec->name, (int)epoch, (long long)start_offset,
                        ec->n - keep, (int)ec->v[keep].epoch,
                        (long long)ec->v[keep].start_offset);
        ec->n = keep;
        push(ec, epoch, start_offset);
        changed = 1;
        ec->gen++;
    }
    pthread_mutex_unlock(&ec->lock);
    return changed;
}

int qr_epochcache_truncate_from_end(qr_epochcache_t *ec, int64_t end_offset)
{
    int changed = 0;

    pthread_mutex_lock(&ec->lock);
    while (ec->n > 0 && ec->v[ec->n - 1].start_offset >= end_offset) {
        ec->n--;
        changed = 1;
        ec->gen++;
    }
    pthread_mutex_unlock(&ec->lock);
    return changed;
}

int qr_epochcache_truncate_from_start(qr_epochcache_t *ec, int64_t start_offset)
{
    size_t first = 0;
    int changed = 0;

    pthread_mutex_lock(&ec->lock);
    /* the last entry starting at or below the new start covers it */
    while (first + 1 < ec->n && ec->v[first + 1].start_offset <= start_offset)
        first++;
    if (first > 0) {
        memmove(ec->v, ec->v + first, (ec->n - first) * sizeof(*ec->v));
        ec->n -= first;
        changed = 1;
    }
    if (ec->n > 0 && ec->v[0].start_offset < start_offset) {
        ec->v[0].start_offset = start_offset;
        changed = 1;
    }
    ec->gen += (uint64_t)changed;
    pthread_mutex_unlock(&ec->lock);
    return changed;
}

int qr_epochcache_clear(qr_epochcache_t *ec)
{
    int changed;

    pthread_mutex_lock(&ec->lock);
    changed = ec->n > 0;
    ec->n = 0;
    ec->gen += (uint64_t)changed;
    pthread_mutex_unlock(&ec->lock);
    return changed;
}

/* ---- questions ---- */

int32_t qr_epochcache_latest(qr_epochcache_t *ec)
{
    int32_t epoch;

    pthread_mutex_lock(&ec->lock);
    epoch = ec->n > 0 ? ec->v[ec->n - 1].epoch : QR_EPOCH_UNDEFINED;
    pthread_mutex_unlock(&ec->lock);
    return epoch;
}

void qr_epochcache_end_offset_for(qr_epochcache_t *ec, int32_t epoch,
                                  int64_t log_end, int32_t *found_epoch,
                                  int64_t *end_offset)
{
    *found_epoch = QR_EPOCH_UNDEFINED;
    *end_offset = QR_EPOCH_UNDEFINED_OFFSET;
    if (epoch == QR_EPOCH_UNDEFINED)
        return;
    pthread_mutex_lock(&ec->lock);
    if (ec->n > 0 && epoch == ec->v[ec->n - 1].epoch) {
        *found_epoch = epoch;
        *end_offset = log_end;
    } else if (ec->n > 0 && epoch < ec->v[ec->n - 1].epoch) {
        size_t after = 0; /* the first entry with a greater epoch */
        while (ec->v[after].epoch <= epoch)
            after++;
        *found_epoch = after == 0 ? epoch : ec->v[after - 1].epoch;
        *end_offset = ec->v[after].start_offset;
    }
    pthread_mutex_unlock(&ec->lock);
}

size_t qr_epochcache_entries(qr_epochcache_t *ec, qr_epoch_entry_t *out,
                             size_t max)
{
    size_t n;

    pthread_mutex_lock(&ec->lock);
    n = ec->n;
    if (out && max > 0)
        memcpy(out, ec->v, (n < max ? n : max) * sizeof(*out));
    pthread_mutex_unlock(&ec->lock);
    return n;
}
