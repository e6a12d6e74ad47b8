/*
 * frame: the length-prefixed frames of quire's wire protocol (DESIGN.md §2).
 *
 * Layout of one frame on a TCP stream (all integers big-endian):
 *
 *   offset  size         field
 *   0       4            frame_len: the bytes that follow this field,
 *                        = 4 + header_len + payload_len
 *   4       4            header_len
 *   8       header_len   header: a protobuf-c quire.Request or
 *                        quire.Response (proto/quire.proto, proto/wire.h)
 *   8+hl    the rest     payload: raw bytes (concatenated record batches
 *                        for Produce requests and Fetch responses, empty
 *                        otherwise), never inside protobuf
 *
 * The parser is incremental and works on whatever has arrived: given
 * (ptr, len) it reports a complete frame, QUIRE_ERR_NEED_MORE (consume
 * nothing, read more), or an error after which the connection is unusable
 * (the stream has lost its framing). Every length is checked before anything
 * could be allocated for it: frame_len against socket.request.max.bytes as
 * soon as 4 bytes are there, header_len as soon as 8 bytes are there. The
 * parser itself never allocates and never reads past (ptr, len).
 *
 * The builder writes the 8-byte prefix for a header and a payload of known
 * length, so a sender can writev() prefix + header and then send the payload
 * separately (sendfile from a segment, or the caller's record buffers).
 */
#ifndef QR_FRAME_H
#define QR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Size of the fixed prefix: frame_len + header_len. */
#define QR_FRAME_PREFIX 8

/** Default largest frame (socket.request.max.bytes, DESIGN.md §2). */
#define QR_FRAME_MAX_DEFAULT (100u * 1024 * 1024)

/**
 * Largest request header a broker accepts. Headers describe topics and
 * partitions only (record data is in the payload), and protobuf-c may
 * allocate a few times the header size while unpacking, so this stays small.
 */
#define QR_FRAME_REQ_HEADER_MAX (1u * 1024 * 1024)

/**
 * Largest response header a client accepts: a Metadata response for a large
 * cluster is the biggest header there is.
 */
#define QR_FRAME_RESP_HEADER_MAX (64u * 1024 * 1024)

/** The limits a parser enforces. */
typedef struct qr_frame_limits {
    uint32_t max_frame;  /**< largest frame_len (socket.request.max.bytes) */
    uint32_t max_header; /**< largest header_len */
} qr_frame_limits_t;

/**
 * One parsed frame: views into the caller's buffer, valid as long as those
 * bytes are (they are never copied).
 */
typedef struct qr_frame {
    const uint8_t *header; /**< the protobuf header, header_len bytes */
    uint32_t header_len;
    const uint8_t *payload; /**< the raw payload, payload_len bytes */
    uint32_t payload_len;
    /**
     * Whole frame size, prefix included (4 + frame_len): the bytes to
     * consume after a complete frame. After QUIRE_ERR_NEED_MORE, the total
     * bytes needed before the frame can be complete, when known (4 bytes
     * or more arrived), else QR_FRAME_PREFIX: a caller can size its read
     * buffer from it.
     */
    size_t size;
} qr_frame_t;

/**
 * @brief Parses the frame at the start of @p buf.
 * @param buf bytes received so far (borrowed); may be NULL when @p len is 0.
 * @param len number of bytes in @p buf.
 * @param lim the limits to enforce (borrowed).
 * @param frame out: the frame views on success; only size on NEED_MORE.
 * @returns QUIRE_ERR_NONE with @p frame filled;
 *   QUIRE_ERR_NEED_MORE when the frame is not complete (nothing consumed);
 *   QUIRE_ERR_FRAME_TOO_LARGE when frame_len > lim->max_frame (decided from
 *   the first 4 bytes);
 *   QUIRE_ERR_BAD_FRAME when frame_len < 4, header_len > frame_len - 4 or
 *   header_len > lim->max_header (decided from the first 8 bytes).
 * @locality any  @locks none
 */
quire_err_t qr_frame_parse(const void *buf, size_t len,
                           const qr_frame_limits_t *lim, qr_frame_t *frame);

/**
 * @brief Writes the 8-byte prefix of a frame carrying @p header_len bytes of
 * header and @p payload_len bytes of payload.
 * @param out QR_FRAME_PREFIX bytes (borrowed).
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_FRAME_TOO_LARGE when frame_len
 *   would not fit in 32 bits (nothing written then).
 * @locality any  @locks none
 */
quire_err_t qr_frame_prefix(uint8_t out[QR_FRAME_PREFIX], size_t header_len,
                            uint64_t payload_len);

/**
 * @brief Builds a whole frame (prefix, header, payload) into @p out.
 * @param out destination (borrowed), @p cap bytes.
 * @param header,payload borrowed; may be NULL when their length is 0.
 * @param size out: bytes written on success, bytes needed on BUF_FULL.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_BUF_FULL when @p cap is too small, or
 *   QUIRE_ERR_FRAME_TOO_LARGE when the frame exceeds 32-bit lengths.
 * @locality any  @locks none
 */
quire_err_t qr_frame_build(uint8_t *out, size_t cap, const void *header,
                           size_t header_len, const void *payload,
                           size_t payload_len, size_t *size);

/** @brief Reads a big-endian u32. @locality any @locks none */
static inline uint32_t qr_frame_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/** @brief Writes a big-endian u32. @locality any @locks none */
static inline void qr_frame_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif /* QR_FRAME_H */
