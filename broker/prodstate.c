/*
 * prodstate: per-partition idempotent producer state (see prodstate.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "crc32c.h"
#include "logging.h"
#include "prodstate.h"

/* ---- the table: open hashing on the producer id ---- */

typedef struct pnode {
    struct pnode *next;
    qr_prodstate_entry_t e;
} pnode_t;

struct qr_prodstate {
    pnode_t **slots;
    size_t nslots; /* a power of two */
    size_t count;
};

static size_t slot_of(const qr_prodstate_t *ps, int64_t pid)
{
    uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 32) & (ps->nslots - 1);
}

qr_prodstate_t *qr_prodstate_new(void)
{
    qr_prodstate_t *ps = qr_calloc(1, sizeof(*ps));

    ps->nslots = 16;
    ps->slots = qr_calloc(ps->nslots, sizeof(*ps->slots));
    return ps;
}

static void clear(qr_prodstate_t *ps)
{
    for (size_t i = 0; i < ps->nslots; i++) {
        pnode_t *n = ps->slots[i], *next;
        for (; n; n = next) {
            next = n->next;
            free(n);
        }
        ps->slots[i] = NULL;
    }
    ps->count = 0;
}

void qr_prodstate_destroy(qr_prodstate_t *ps)
{
    if (!ps)
        return;
    clear(ps);
    free(ps->slots);
    free(ps);
}

static pnode_t *find(const qr_prodstate_t *ps, int64_t pid)
{
    for (pnode_t *n = ps->slots[slot_of(ps, pid)]; n; n = n->next)
        if (n->e.producer_id == pid)
            return n;
    return NULL;
}

static void grow(qr_prodstate_t *ps)
{
    size_t old = ps->nslots;
    pnode_t **slots = ps->slots;

    ps->nslots *= 2;
    ps->slots = qr_calloc(ps->nslots, sizeof(*ps->slots));
    for (size_t i = 0; i < old; i++) {
        pnode_t *n = slots[i], *next;
        for (; n; n = next) {
            size_t s = slot_of(ps, n->e.producer_id);
            next = n->next;
            n->next = ps->slots[s];
            ps->slots[s] = n;
        }
    }
    free(slots);
}

static pnode_t *insert(qr_prodstate_t *ps, int64_t pid)
{
    pnode_t *n = qr_calloc(1, sizeof(*n));
    size_t s;

    if (ps->count >= ps->nslots)
        grow(ps);
    s = slot_of(ps, pid);
    n->e.producer_id = pid;
    n->next = ps->slots[s];
    ps->slots[s] = n;
    ps->count++;
    return n;
}

/* ---- the rules ---- */

/* The last sequence of a batch: base + lastOffsetDelta, wrapping past
 * INT32_MAX to 0 as Kafka's DefaultRecordBatch.incrementSequence does. */
static int32_t seq_add(int32_t seq, int32_t n)
{
    if (seq > INT32_MAX - n)
        return n - (INT32_MAX - seq) - 1;
    return seq + n;
}

static int32_t last_seq(const qr_batch_hdr_t *hdr)
{
    return seq_add(hdr->base_sequence, hdr->last_offset_delta);
}

static int in_sequence(int32_t last, int32_t next)
{
    return next == seq_add(last, 1);
}

static quire_err_t sane(const qr_batch_hdr_t *hdr)
{
    if (hdr->base_sequence < 0 || hdr->producer_epoch < 0 ||
        hdr->last_offset_delta < 0)
        return QUIRE_ERR_INVALID_RECORD;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_prodstate_check(const qr_prodstate_t *ps,
                               const qr_batch_hdr_t *hdr,
                               qr_prodstate_batch_t *dup)
{
    const pnode_t *n = find(ps, hdr->producer_id);
    const qr_prodstate_entry_t *e;
    int32_t first = hdr->base_sequence, last = last_seq(hdr);
    quire_err_t err = sane(hdr);

    if (err != QUIRE_ERR_NONE)
        return err;
    if (!n)
        return QUIRE_ERR_NONE; /* KIP-360: a producer we know nothing of */
    e = &n->e;
    if (hdr->producer_epoch < e->epoch)
        return QUIRE_ERR_INVALID_PRODUCER_EPOCH;
    if (hdr->producer_epoch > e->epoch)
        return first == 0 ? QUIRE_ERR_NONE
                          : QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    for (int i = 0; i < e->nbatches; i++) {
        if (e->batches[i].first_seq == first &&
            e->batches[i].last_seq == last) {
            *dup = e->batches[i];
            return QUIRE_ERR_DUPLICATE_SEQUENCE_NUMBER;
        }
    }
    if (e->nbatches > 0 &&
        !in_sequence(e->batches[e->nbatches - 1].last_seq, first))
        return QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_prodstate_check_next(const qr_batch_hdr_t *prev,
                                    const qr_batch_hdr_t *next)
{
    quire_err_t err = sane(next);

    if (err != QUIRE_ERR_NONE)
        return err;
    if (next->producer_epoch < prev->producer_epoch)
        return QUIRE_ERR_INVALID_PRODUCER_EPOCH;
    if (next->producer_epoch > prev->producer_epoch)
        return next->base_sequence == 0
                   ? QUIRE_ERR_NONE
                   : QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return in_sequence(last_seq(prev), next->base_sequence)
               ? QUIRE_ERR_NONE
               : QUIRE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
}

void qr_prodstate_update(qr_prodstate_t *ps, const qr_batch_hdr_t *hdr)
{
    pnode_t *n;
    qr_prodstate_entry_t *e;
    qr_prodstate_batch_t *b;

    if (!qr_prodstate_is_idempotent(hdr) || hdr->base_sequence < 0)
        return;
    n = find(ps, hdr->producer_id);
    if (!n) {
        n = insert(ps, hdr->producer_id);
        n->e.epoch = hdr->producer_epoch;
    }
    e = &n->e;
    if (hdr->producer_epoch != e->epoch) {
        /* a new epoch starts its sequences again; the log may also carry
         * an older epoch's batch after a newer one only if it was written
         * by a fenced leader, which replication truncates: take the
         * batch's epoch as it comes, as Kafka's rebuild does */
        e->epoch = hdr->producer_epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == QR_PRODSTATE_BATCHES) {
        memmove(&e->batches[0], &e->batches[1],
                (QR_PRODSTATE_BATCHES - 1) * sizeof(e->batches[0]));
        e->nbatches--;
    }
    b = &e->batches[e->nbatches++];
    b->first_seq = hdr->base_sequence;
    b->last_seq = last_seq(hdr);
    b->first_offset = hdr->base_offset;
    b->last_offset = hdr->base_offset + hdr->last_offset_delta;
    if (hdr->max_timestamp > e->last_timestamp)
        e->last_timestamp = hdr->max_timestamp;
}

quire_err_t qr_prodstate_apply(qr_prodstate_t *ps, const uint8_t *data,
                               size_t len, int64_t *next_offset)
{
    size_t off = 0;

    while (off < len) {
        qr_batch_hdr_t hdr;

        if (qr_batch_hdr_read(data + off, len - off, &hdr) != QUIRE_ERR_NONE ||
            hdr.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD ||
            qr_batch_size(&hdr) > len - off)
            return QUIRE_ERR_CORRUPT_MESSAGE;
        qr_prodstate_update(ps, &hdr);
        if (next_offset)
            *next_offset = qr_batch_last_offset(&hdr) + 1;
        off += qr_batch_size(&hdr);
    }
    return QUIRE_ERR_NONE;
}

size_t qr_prodstate_expire(qr_prodstate_t *ps, int64_t now_ms,
                           int64_t expiration_ms)
{
    size_t removed = 0;

    for (size_t i = 0; i < ps->nslots; i++) {
        pnode_t **pp = &ps->slots[i], *n;
        while ((n = *pp) != NULL) {
            if (now_ms - n->e.last_timestamp > expiration_ms) {
                *pp = n->next;
                free(n);
                ps->count--;
                removed++;
            } else {
                pp = &n->next;
            }
        }
    }
    return removed;
}

size_t qr_prodstate_count(const qr_prodstate_t *ps)
{
    return ps->count;
}

int qr_prodstate_get(const qr_prodstate_t *ps, int64_t producer_id,
                     qr_prodstate_entry_t *out)
{
    const pnode_t *n = find(ps, producer_id);

    if (!n)
        return 0;
    *out = n->e;
    return 1;
}

/* ---- snapshots ---- */

#define SNAP_HEAD     6  /* version + crc */
#define SNAP_PRODUCER 22 /* pid 8, epoch 2, timestamp 8, count 4 */
#define SNAP_BATCH    24

uint8_t *qr_prodstate_encode(const qr_prodstate_t *ps, size_t *len)
{
    size_t cap =
        SNAP_HEAD + 4 +
        ps->count * (SNAP_PRODUCER + QR_PRODSTATE_BATCHES * (size_t)SNAP_BATCH);
    uint8_t *buf = qr_malloc(cap), *p = buf + SNAP_HEAD;

    qr_be16_put(buf, QR_PRODSTATE_VERSION);
    qr_be32_put(p, (uint32_t)ps->count);
    p += 4;
    for (size_t i = 0; i < ps->nslots; i++) {
        for (const pnode_t *n = ps->slots[i]; n; n = n->next) {
            const qr_prodstate_entry_t *e = &n->e;
            qr_be64_put(p, (uint64_t)e->producer_id);
            qr_be16_put(p + 8, (uint16_t)e->epoch);
            qr_be64_put(p + 10, (uint64_t)e->last_timestamp);
            qr_be32_put(p + 18, (uint32_t)e->nbatches);
            p += SNAP_PRODUCER;
            for (int k = 0; k < e->nbatches; k++) {
                const qr_prodstate_batch_t *b = &e->batches[k];
                qr_be32_put(p, (uint32_t)b->first_seq);
                qr_be32_put(p + 4, (uint32_t)b->last_seq);
                qr_be64_put(p + 8, (uint64_t)b->first_offset);
                qr_be64_put(p + 16, (uint64_t)b->last_offset);
                p += SNAP_BATCH;
            }
        }
    }
    *len = (size_t)(p - buf);
    qr_be32_put(buf + 2, qr_crc32c(0, buf + SNAP_HEAD, *len - SNAP_HEAD));
    return buf;
}

quire_err_t qr_prodstate_decode(qr_prodstate_t *ps, const uint8_t *p,
                                size_t len)
{
    const uint8_t *end = p + len;
    uint32_t count;

    clear(ps);
    if (len < SNAP_HEAD + 4 || qr_be16_get(p) != QR_PRODSTATE_VERSION ||
        qr_be32_get(p + 2) != qr_crc32c(0, p + SNAP_HEAD, len - SNAP_HEAD))
        return QUIRE_ERR_CORRUPT_MESSAGE;
    count = qr_be32_get(p + SNAP_HEAD);
    p += SNAP_HEAD + 4;
    for (uint32_t i = 0; i < count; i++) {
        qr_prodstate_entry_t e;
        pnode_t *n;

        memset(&e, 0, sizeof(e));
        if ((size_t)(end - p) < SNAP_PRODUCER)
            goto bad;
        e.producer_id = (int64_t)qr_be64_get(p);
        e.epoch = (int16_t)qr_be16_get(p + 8);
        e.last_timestamp = (int64_t)qr_be64_get(p + 10);
        e.nbatches = (int)qr_be32_get(p + 18);
        p += SNAP_PRODUCER;
        if (e.producer_id < 0 || e.nbatches < 1 ||
            e.nbatches > QR_PRODSTATE_BATCHES ||
            (size_t)(end - p) < (size_t)e.nbatches * SNAP_BATCH ||
            find(ps, e.producer_id))
            goto bad;
        for (int k = 0; k < e.nbatches; k++, p += SNAP_BATCH) {
            e.batches[k].first_seq = (int32_t)qr_be32_get(p);
            e.batches[k].last_seq = (int32_t)qr_be32_get(p + 4);
            e.batches[k].first_offset = (int64_t)qr_be64_get(p + 8);
            e.batches[k].last_offset = (int64_t)qr_be64_get(p + 16);
        }
        n = insert(ps, e.producer_id);
        n->e = e;
    }
    if (p != end)
        goto bad;
    return QUIRE_ERR_NONE;
bad:
    clear(ps);
    return QUIRE_ERR_CORRUPT_MESSAGE;
}

/* Parses "<20 digits>.snapshot"; -1 for any other name. */
static int64_t snap_offset(const char *name)
{
    int64_t off = 0;

    if (strlen(name) != QR_PRODSTATE_NAME_LEN ||
        strcmp(name + 20, QR_PRODSTATE_SUFFIX) != 0)
        return -1;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || off > (INT64_MAX - 9) / 10)
            return -1;
        off = off * 10 + (name[i] - '0');
    }
    return off;
}

static int cmp_i64_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every snapshot offset in @p dir, newest first; owned array. */
static int64_t *list_snaps(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int64_t *v = NULL;
    size_t cap = 0;

    *n = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        int64_t off = snap_offset(de->d_name);
        if (off < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            v = qr_realloc(v, cap * sizeof(*v));
        }
        v[(*n)++] = off;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof(*v), cmp_i64_desc);
    return v;
}

static void snap_path(char *out, size_t outsz, const char *dir, int64_t off)
{
    snprintf(out, outsz, "%s/%020" PRId64 "%s", dir, off, QR_PRODSTATE_SUFFIX);
}

static quire_err_t write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return QUIRE_ERR_IO;
        p += w;
        len -= (size_t)w;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_prodstate_snapshot_write(const qr_prodstate_t *ps,
                                        const char *dir, int64_t offset,
                                        char *errstr, size_t errstr_size)
{
    char path[4096], tmp[4200];
    size_t len, n;
    uint8_t *img = qr_prodstate_encode(ps, &len);
    int64_t *offs;
    int fd, err = 0;

    snap_path(path, sizeof(path), dir, offset);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, img, len) != QUIRE_ERR_NONE ||
        fdatasync(fd) != 0)
        err = errno ? errno : EIO;
    if (fd >= 0 && close(fd) != 0 && !err)
        err = errno;
    free(img);
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(err));
        (void)unlink(tmp);
        return QUIRE_ERR_IO;
    }
    /* keep this one and the newest one below it (Kafka keeps those a
     * rebuild may still start from) */
    offs = list_snaps(dir, &n);
    for (size_t i = 0, older = 0; i < n; i++) {
        if (offs[i] >= offset)
            continue;
        if (older++ == 0)
            continue;
        snap_path(path, sizeof(path), dir, offs[i]);
        (void)unlink(path);
    }
    free(offs);
    return QUIRE_ERR_NONE;
}

size_t qr_prodstate_snapshot_delete_above(const char *dir, int64_t offset)
{
    char path[4096];
    size_t n, removed = 0;
    int64_t *offs = list_snaps(dir, &n);

    for (size_t i = 0; i < n; i++) {
        if (offs[i] <= offset)
            continue;
        snap_path(path, sizeof(path), dir, offs[i]);
        if (unlink(path) == 0)
            removed++;
    }
    free(offs);
    return removed;
}

static quire_err_t read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    long sz;
    uint8_t *buf;

    if (!fp)
        return QUIRE_ERR_IO;
    if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
        sz > (64L << 20) || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return QUIRE_ERR_IO;
    }
    buf = qr_malloc(sz ? (size_t)sz : 1);
    if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
        fclose(fp);
        free(buf);
        return QUIRE_ERR_IO;
    }
    fclose(fp);
    *out = buf;
    *len = (size_t)sz;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_prodstate_snapshot_load(qr_prodstate_t *ps, const char *dir,
                                       int64_t log_end, int64_t *offset)
{
    char path[4096];
    size_t n;
    int64_t *offs = list_snaps(dir, &n);

    *offset = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t *img;
        size_t len;

        snap_path(path, sizeof(path), dir, offs[i]);
        if (offs[i] > log_end) {
            /* the log was cut back below it (a torn tail, a lost page
             * cache): its state covers records that are gone */
            QR_LOG_INFO("IDEMP", "%s: above the log end %" PRId64 "; removed",
                        path, log_end);
            (void)unlink(path);
            continue;
        }
        if (read_file(path, &img, &len) != QUIRE_ERR_NONE)
            continue;
        if (qr_prodstate_decode(ps, img, len) == QUIRE_ERR_NONE) {
            free(img);
            *offset = offs[i];
            break;
        }
        QR_LOG_WARN("IDEMP", "%s: not a valid snapshot; ignored", path);
        free(img);
    }
    free(offs);
    return QUIRE_ERR_NONE;
}
