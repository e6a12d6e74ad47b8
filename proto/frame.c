/*
 * frame: parsing and building the length-prefixed frames (frame.h).
 */
#include "config.h"

#include <string.h>

#include "frame.h"

/* The header_len field itself is part of what frame_len counts. */
#define HEADER_LEN_FIELD 4

quire_err_t qr_frame_parse(const void *buf, size_t len,
                           const qr_frame_limits_t *lim, qr_frame_t *frame)
{
    const uint8_t *p = buf;
    uint32_t frame_len, header_len;

    memset(frame, 0, sizeof(*frame));
    frame->size = QR_FRAME_PREFIX;
    if (len < 4)
        return QUIRE_ERR_NEED_MORE;

    /* Decide on the frame length before waiting for (or allocating) any of
     * it: a peer announcing 4 GiB is refused from 4 bytes. */
    frame_len = qr_frame_get_u32(p);
    if (frame_len > lim->max_frame)
        return QUIRE_ERR_FRAME_TOO_LARGE;
    if (frame_len < HEADER_LEN_FIELD)
        return QUIRE_ERR_BAD_FRAME;
    frame->size = 4 + (size_t)frame_len;
    if (len < QR_FRAME_PREFIX)
        return QUIRE_ERR_NEED_MORE;

    header_len = qr_frame_get_u32(p + 4);
    if (header_len > frame_len - HEADER_LEN_FIELD ||
        header_len > lim->max_header)
        return QUIRE_ERR_BAD_FRAME;
    if (len < frame->size)
        return QUIRE_ERR_NEED_MORE;

    frame->header = p + QR_FRAME_PREFIX;
    frame->header_len = header_len;
    frame->payload = frame->header + header_len;
    frame->payload_len = frame_len - HEADER_LEN_FIELD - header_len;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_frame_prefix(uint8_t out[QR_FRAME_PREFIX], size_t header_len,
                            uint64_t payload_len)
{
    uint64_t frame_len;

    if (header_len > UINT32_MAX || payload_len > UINT32_MAX)
        return QUIRE_ERR_FRAME_TOO_LARGE;
    frame_len = HEADER_LEN_FIELD + (uint64_t)header_len + payload_len;
    if (frame_len > UINT32_MAX)
        return QUIRE_ERR_FRAME_TOO_LARGE;
    qr_frame_put_u32(out, (uint32_t)frame_len);
    qr_frame_put_u32(out + 4, (uint32_t)header_len);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_frame_build(uint8_t *out, size_t cap, const void *header,
                           size_t header_len, const void *payload,
                           size_t payload_len, size_t *size)
{
    uint8_t prefix[QR_FRAME_PREFIX];
    quire_err_t err;

    err = qr_frame_prefix(prefix, header_len, payload_len);
    if (err != QUIRE_ERR_NONE)
        return err;
    /* Cannot overflow: both lengths fit in 32 bits (checked above). */
    *size = QR_FRAME_PREFIX + header_len + payload_len;
    if (cap < *size)
        return QUIRE_ERR_BUF_FULL;
    memcpy(out, prefix, QR_FRAME_PREFIX);
    if (header_len)
        memcpy(out + QR_FRAME_PREFIX, header, header_len);
    if (payload_len)
        memcpy(out + QR_FRAME_PREFIX + header_len, payload, payload_len);
    return QUIRE_ERR_NONE;
}
