/*
 * qt_records: record batches for tests (build, count, check values).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "qt_records.h"

size_t qt_batch(uint8_t *buf, size_t cap, int n, const char *prefix, int first)
{
    qr_batch_builder_t b;
    const uint8_t *out;
    size_t len;
    char val[256];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (qr_batch_builder_init(&b, buf, cap, 0) != QUIRE_ERR_NONE)
        return 0;
    for (int i = 0; i < n; i++) {
        int vl = snprintf(val, sizeof(val), "%s-%d", prefix, first + i);
        if (qr_batch_builder_append(&b, now, NULL, 0, val, (size_t)vl, NULL,
                                    0) != QUIRE_ERR_NONE)
            return 0;
    }
    if (qr_batch_builder_finish(&b, NULL, 0, &out, &len) != QUIRE_ERR_NONE)
        return 0;
    return len;
}

long qt_count_records(const uint8_t *p, size_t len, const char *prefix,
                      int first, int64_t *last_offset)
{
    long count = 0;
    size_t off = 0;
    char want[256];

    while (off < len) {
        qr_batch_hdr_t hdr;
        qr_batch_iter_t it;
        qr_batch_rec_t rec;
        quire_err_t err = qr_batch_validate(p + off, len - off,
                                            QR_BATCH_CHECK_RECORDS, &hdr, NULL);
        if (err != QUIRE_ERR_NONE) {
            fprintf(stderr, "qt_count_records: batch at %zu: %s\n", off,
                    quire_err2str(err));
            return -1;
        }
        if (qr_batch_iter_init(&it, p + off, len - off) != QUIRE_ERR_NONE)
            return -1;
        while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE) {
            if (prefix) {
                int wl = snprintf(want, sizeof(want), "%s-%ld", prefix,
                                  first + count);
                if (rec.value_len != wl ||
                    memcmp(rec.value, want, (size_t)wl) != 0) {
                    fprintf(stderr,
                            "qt_count_records: offset %lld: value \"%.*s\", "
                            "expected \"%s\"\n",
                            (long long)rec.offset,
                            rec.value_len > 0 ? (int)rec.value_len : 0,
                            rec.value ? (const char *)rec.value : "", want);
                    return -1;
                }
            }
            if (last_offset)
                *last_offset = rec.offset;
            count++;
        }
        if (err != QUIRE_ERR_NOT_FOUND)
            return -1;
        off += qr_batch_size(&hdr);
    }
    return count;
}
