/*
 * qt_craft: hand-made RecordBatch v2 bytes for tests that play a hostile
 * producer (issue 17): any header fields around any records section, with
 * a valid CRC-32C, so only the broker's other checks can refuse them.
 * Header-only, for unit and integration tests alike.
 */
#ifndef QT_CRAFT_H
#define QT_CRAFT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "codec.h"
#include "crc32c.h"

/**
 * @brief A batch with attributes @p attrs, lastOffsetDelta @p last_delta
 * and recordCount @p count around @p records (copied as they are);
 * timestamps 1000..2000. @p buf must hold 61 + @p rlen bytes.
 * @returns the batch's size.
 */
static inline size_t qt_craft_batch(uint8_t *buf, int16_t attrs,
                                    int32_t last_delta, int32_t count,
                                    const void *records, size_t rlen)
{
    size_t len = QR_BATCH_HEADER_SIZE + rlen;

    memset(buf, 0, QR_BATCH_HEADER_SIZE);
    qr_be32_put(buf + QR_BATCH_OFF_LENGTH,
                (uint32_t)(len - QR_BATCH_LOG_OVERHEAD));
    qr_be32_put(buf + QR_BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
    buf[QR_BATCH_OFF_MAGIC] = QR_BATCH_MAGIC;
    qr_be16_put(buf + QR_BATCH_OFF_ATTRIBUTES, (uint16_t)attrs);
    qr_be32_put(buf + QR_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)last_delta);
    qr_be64_put(buf + QR_BATCH_OFF_FIRST_TIMESTAMP, 1000);
    qr_be64_put(buf + QR_BATCH_OFF_MAX_TIMESTAMP, 2000);
    qr_be64_put(buf + QR_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    qr_be16_put(buf + QR_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    qr_be32_put(buf + QR_BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    qr_be32_put(buf + QR_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
    if (rlen)
        memcpy(buf + QR_BATCH_HEADER_SIZE, records, rlen);
    qr_be32_put(buf + QR_BATCH_OFF_CRC,
                qr_crc32c(0, buf + QR_BATCH_OFF_ATTRIBUTES,
                          len - QR_BATCH_OFF_ATTRIBUTES));
    return len;
}

/**
 * @brief The gzip batch of garbage (gzip's magic, then 62 bytes of
 * nonsense) claiming @p count records. @p buf must hold 125 bytes.
 * @returns the batch's size.
 */
static inline size_t qt_craft_garbage_gzip(uint8_t *buf, int32_t count)
{
    uint8_t junk[64];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    junk[0] = 0x1f;
    junk[1] = 0x8b;
    return qt_craft_batch(buf, QR_CODEC_GZIP, count - 1, count, junk,
                          sizeof(junk));
}

#endif /* QT_CRAFT_H */
