/*
 * varint: the cursor and buffer forms. The codecs themselves are inline in
 * varint.h.
 */
#include "config.h"

#include "varint.h"

/* Translates a decoder result into the cursor's convention. */
static quire_err_t advance(qr_rd_t *rd, int n)
{
    if (n < 0)
        return (quire_err_t)n;
    rd->pos += (size_t)n;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_varint_get_i32(qr_rd_t *rd, int32_t *v)
{
    return advance(rd, qr_varint_dec_i32(qr_rd_ptr(rd), qr_rd_left(rd), v));
}

quire_err_t qr_varint_get_i64(qr_rd_t *rd, int64_t *v)
{
    return advance(rd, qr_varint_dec_i64(qr_rd_ptr(rd), qr_rd_left(rd), v));
}

quire_err_t qr_varint_get_u32(qr_rd_t *rd, uint32_t *v)
{
    return advance(rd, qr_varint_dec_u32(qr_rd_ptr(rd), qr_rd_left(rd), v));
}

quire_err_t qr_varint_get_u64(qr_rd_t *rd, uint64_t *v)
{
    return advance(rd, qr_varint_dec_u64(qr_rd_ptr(rd), qr_rd_left(rd), v));
}

quire_err_t qr_varint_append_i32(qr_buf_t *buf, int32_t v)
{
    uint8_t b[QR_VARINT_MAX32];
    return qr_buf_append(buf, b, qr_varint_enc_i32(b, v));
}

quire_err_t qr_varint_append_i64(qr_buf_t *buf, int64_t v)
{
    uint8_t b[QR_VARINT_MAX64];
    return qr_buf_append(buf, b, qr_varint_enc_i64(b, v));
}

quire_err_t qr_varint_append_u32(qr_buf_t *buf, uint32_t v)
{
    uint8_t b[QR_VARINT_MAX32];
    return qr_buf_append(buf, b, qr_varint_enc_u32(b, v));
}

quire_err_t qr_varint_append_u64(qr_buf_t *buf, uint64_t v)
{
    uint8_t b[QR_VARINT_MAX64];
    return qr_buf_append(buf, b, qr_varint_enc_u64(b, v));
}
