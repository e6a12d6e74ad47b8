/*
 * diskfmt: the small on-disk helpers shared by the partition log modules
 * (segment, index, timeindex, recovery, checkpoint): big-endian integers
 * (STYLE.md §8: never cast a buffer) and the file names of DESIGN.md §3.
 *
 * Header-only; nothing here allocates or keeps state.
 */
#ifndef QR_DISKFMT_H
#define QR_DISKFMT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/** Length of a segment file's base name: 20 digits. */
#define QR_SEG_NAME_DIGITS      20
#define QR_SEG_SUFFIX_LOG       ".log"
#define QR_SEG_SUFFIX_INDEX     ".index"
#define QR_SEG_SUFFIX_TIMEINDEX ".timeindex"
#define QR_SEG_SUFFIX_DELETED   ".deleted"

static inline uint32_t qr_dk_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t qr_dk_get64(const uint8_t *p)
{
    return ((uint64_t)qr_dk_get32(p) << 32) | qr_dk_get32(p + 4);
}

static inline void qr_dk_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void qr_dk_put64(uint8_t *p, uint64_t v)
{
    qr_dk_put32(p, (uint32_t)(v >> 32));
    qr_dk_put32(p + 4, (uint32_t)v);
}

/**
 * @brief Writes "<dir>/<20-digit base><suffix>" into @p out.
 * @returns 0, or -1 when it does not fit (ENAMETOOLONG in errno).
 * @locality any  @locks none
 */
static inline int qr_dk_seg_path(char *out, size_t size, const char *dir,
                                 int64_t base, const char *suffix)
{
    int n = snprintf(out, size, "%s/%020lld%s", dir, (long long)base, suffix);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/**
 * @brief pread() of exactly @p len bytes, retrying on EINTR and short reads.
 * @returns the bytes read (less than @p len only at end of file), or -1 with
 *          errno.
 * @locality any  @locks none
 */
static inline ssize_t qr_dk_pread_full(int fd, void *buf, size_t len, off_t pos)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, pos + (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

#endif /* QR_DISKFMT_H */
