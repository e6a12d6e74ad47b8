/*
 * fuzz_batch: RecordBatch v2 validation and reading under libFuzzer (issue 5
 * item 6).
 *
 * The first input byte selects a mode, the rest is the data:
 *   bit 0 (0x01)  before each batch is checked, its CRC-32C is recomputed
 *                 over the (mutated) bytes it covers, so the fuzzer gets
 *                 past the CRC and reaches the field and record checks;
 *   bit 1 (0x02)  the first batch's batchLength is set to the whole rest of
 *                 the input;
 *   bit 2 (0x04)  codec mode: the data is one compressed block for codec
 *                 (mode >> 4) & 7, decompressed under a size cap by both
 *                 qr_codec_decompress() and qr_codec_decompress_alloc(),
 *                 which must agree, and what decompresses is compressed and
 *                 decompressed again and must come back the same.
 * Otherwise the data is read as a log does: batches back to back, each
 * checked by qr_batch_validate() with QR_BATCH_CHECK_CRC and
 * QR_BATCH_CHECK_RECORDS and by qr_batch_validate_produced() (what Produce
 * runs, compressed records decompressed), the verdicts compared, and a batch
 * that passes read record by record (header by header) with the batch reader:
 * in place when uncompressed, after decompression with common/codec under a
 * size cap when compressed, through qr_batch_iter_open() as well. Reading
 * stops at the first bad batch, as recovery does.
 *
 * Contracts checked besides memory safety: the return codes are the
 * documented ones with a reason; CHECK_RECORDS passes exactly when the
 * reader reads recordCount records and ends cleanly; records carry offsets
 * baseOffset + index; null keys and values are -1 lengths with NULL
 * pointers; a record yields exactly header_count headers.
 */
#include "config.h"

#include <string.h>

#include "batch.h"
#include "codec.h"
#include "crc32c.h"
#include "fuzz.h"

#define MODE_FIX_CRC    0x01
#define MODE_FIX_LENGTH 0x02
#define MODE_CODEC      0x04

/* The most batches read from one input. */
#define MAX_BATCHES 32
/* The largest decompressed records section accepted (a bomb stops here). */
#define DECOMPRESS_CAP (256u * 1024)
/* The scratch given to qr_batch_iter_open(), smaller on purpose so its own
 * limit is exercised too. */
#define SCRATCH_CAP (16u * 1024)

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* Reads every record and header the iterator yields.
 * @returns the iterator's last verdict: NOT_FOUND at a clean end,
 * INVALID_RECORD (with a reason) otherwise; @p count the records read. */
static quire_err_t walk(qr_batch_iter_t *it, int32_t *count)
{
    qr_batch_rec_t rec;
    quire_err_t err;

    *count = 0;
    while ((err = qr_batch_iter_next(it, &rec)) == QUIRE_ERR_NONE) {
        qr_batch_rec_header_t h;
        int32_t headers = 0;

        QR_FUZZ_CHECK(*count < it->hdr.record_count);
        QR_FUZZ_CHECK(rec.offset == it->hdr.base_offset + *count);
        QR_FUZZ_CHECK((rec.key == NULL) == (rec.key_len == -1));
        QR_FUZZ_CHECK((rec.value == NULL) == (rec.value_len == -1));
        if (rec.key_len > 0)
            qr_fuzz_touch(rec.key, (size_t)rec.key_len);
        if (rec.value_len > 0)
            qr_fuzz_touch(rec.value, (size_t)rec.value_len);
        QR_FUZZ_CHECK(rec.header_count >= 0);
        while ((err = qr_batch_rec_header_next(&rec, &h)) == QUIRE_ERR_NONE) {
            QR_FUZZ_CHECK(headers < rec.header_count);
            QR_FUZZ_CHECK(h.key != NULL || h.key_len == 0);
            QR_FUZZ_CHECK((h.value == NULL) == (h.value_len == -1));
            qr_fuzz_touch(h.key, h.key_len);
            if (h.value_len > 0)
                qr_fuzz_touch(h.value, (size_t)h.value_len);
            headers++;
        }
        QR_FUZZ_CHECK(err == QUIRE_ERR_NOT_FOUND);
        QR_FUZZ_CHECK(headers == rec.header_count);
        (*count)++;
    }
    if (err == QUIRE_ERR_NOT_FOUND)
        QR_FUZZ_CHECK(*count == it->hdr.record_count);
    else
        QR_FUZZ_CHECK(err == QUIRE_ERR_INVALID_RECORD && it->why != NULL);
    return err;
}

static int codec_err_ok(quire_err_t err)
{
    return err == QUIRE_ERR_COMPRESSION || err == QUIRE_ERR_CORRUPT_MESSAGE ||
           err == QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE ||
           err == QUIRE_ERR_NO_MEMORY;
}

/* Reads a compressed batch that passed validation: its records section
 * decompressed under DECOMPRESS_CAP, then read; and the same through
 * qr_batch_iter_open() with a smaller scratch, which must agree. */
static void read_compressed(const uint8_t *p, size_t avail,
                            const qr_batch_hdr_t *hdr)
{
    size_t size = qr_batch_size(hdr);
    uint8_t *out = NULL, *scratch;
    size_t out_len = 0;
    const char *why = NULL;
    qr_batch_iter_t it;
    int32_t count = 0, count2;
    quire_err_t err, walked = QUIRE_ERR_NONE, err2;

    err = qr_codec_decompress_alloc(
        qr_batch_codec(hdr), p + QR_BATCH_HEADER_SIZE,
        size - QR_BATCH_HEADER_SIZE, DECOMPRESS_CAP, &out, &out_len, &why);
    if (err == QUIRE_ERR_NONE) {
        QR_FUZZ_CHECK(out_len <= DECOMPRESS_CAP);
        QR_FUZZ_CHECK(qr_batch_iter_init_records(&it, hdr, out, out_len) ==
                      QUIRE_ERR_NONE);
        walked = walk(&it, &count);
    } else {
        QR_FUZZ_CHECK(codec_err_ok(err) && why != NULL);
    }

    scratch = malloc(SCRATCH_CAP);
    QR_FUZZ_CHECK(scratch != NULL);
    err2 = qr_batch_iter_open(&it, p, avail, scratch, SCRATCH_CAP);
    if (err == QUIRE_ERR_NONE && out_len <= SCRATCH_CAP) {
        QR_FUZZ_CHECK(err2 == QUIRE_ERR_NONE);
        QR_FUZZ_CHECK(walk(&it, &count2) == walked);
        QR_FUZZ_CHECK(count2 == count);
    } else if (err2 == QUIRE_ERR_NONE) {
        /* It decompressed into the scratch: so must it have above. */
        QR_FUZZ_CHECK(err == QUIRE_ERR_NONE);
    } else {
        QR_FUZZ_CHECK(codec_err_ok(err2));
    }
    free(scratch);
    free(out);
}

/* What Produce runs (issue 17): the record checks first, then a
 * producer's rules; a batch it passes takes exactly its records' offsets,
 * is no control batch, and a compressed one decompressed to well-formed
 * records (a decompression cap of 1 MiB). */
static void check_produced(const uint8_t *p, size_t avail, quire_err_t err2)
{
    qr_batch_hdr_t hdr;
    const char *why = NULL;
    quire_err_t err =
        qr_batch_validate_produced(p, avail, (size_t)1 << 20, &hdr, &why);

    if (err2 != QUIRE_ERR_NONE) {
        QR_FUZZ_CHECK(err == err2);
        return;
    }
    if (err != QUIRE_ERR_NONE) {
        QR_FUZZ_CHECK(err == QUIRE_ERR_INVALID_RECORD ||
                      err == QUIRE_ERR_CORRUPT_MESSAGE ||
                      err == QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE ||
                      err == QUIRE_ERR_NO_MEMORY);
        QR_FUZZ_CHECK(why != NULL && why[0] != '\0');
        if (qr_batch_codec(&hdr) == QR_CODEC_NONE)
            QR_FUZZ_CHECK(hdr.record_count < 1 ||
                          (hdr.attributes & QR_BATCH_ATTR_CONTROL));
        return;
    }
    QR_FUZZ_CHECK(hdr.record_count >= 1);
    QR_FUZZ_CHECK(hdr.last_offset_delta == hdr.record_count - 1);
    QR_FUZZ_CHECK(!(hdr.attributes & QR_BATCH_ATTR_CONTROL));
}

static void check_batches(uint8_t *buf, size_t n, int mode)
{
    size_t off = 0;

    for (int b = 0; b < MAX_BATCHES && off < n; b++) {
        uint8_t *p = buf + off;
        size_t avail = n - off;
        qr_batch_hdr_t hdr, hdr2;
        const char *why = NULL, *why2 = NULL;
        quire_err_t err, err2;

        if ((mode & MODE_FIX_LENGTH) && b == 0 &&
            avail >= QR_BATCH_LOG_OVERHEAD &&
            avail - QR_BATCH_LOG_OVERHEAD <= INT32_MAX)
            put_u32(p + QR_BATCH_OFF_LENGTH,
                    (uint32_t)(avail - QR_BATCH_LOG_OVERHEAD));
        if ((mode & MODE_FIX_CRC) && avail >= QR_BATCH_HEADER_SIZE) {
            uint32_t len = get_u32(p + QR_BATCH_OFF_LENGTH);

            if (len >= QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD &&
                len <= avail - QR_BATCH_LOG_OVERHEAD)
                put_u32(p + QR_BATCH_OFF_CRC,
                        qr_crc32c(0, p + QR_BATCH_OFF_ATTRIBUTES,
                                  QR_BATCH_LOG_OVERHEAD + len -
                                      QR_BATCH_OFF_ATTRIBUTES));
        }

        err = qr_batch_validate(p, avail, QR_BATCH_CHECK_CRC, &hdr, &why);
        err2 =
            qr_batch_validate(p, avail, QR_BATCH_CHECK_RECORDS, &hdr2, &why2);
        check_produced(p, avail, err2);
        if (err != QUIRE_ERR_NONE) {
            QR_FUZZ_CHECK(err == QUIRE_ERR_TRUNCATED ||
                          err == QUIRE_ERR_CORRUPT_MESSAGE ||
                          err == QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE ||
                          err == QUIRE_ERR_INVALID_RECORD);
            QR_FUZZ_CHECK(why != NULL && why[0] != '\0');
            /* The record checks come after the batch checks. */
            QR_FUZZ_CHECK(err2 == err);
            return; /* a log reader stops at the first bad batch */
        }
        QR_FUZZ_CHECK(hdr.magic == QR_BATCH_MAGIC);
        QR_FUZZ_CHECK(qr_batch_size(&hdr) >= QR_BATCH_HEADER_SIZE);
        QR_FUZZ_CHECK(qr_batch_size(&hdr) <= avail);
        QR_FUZZ_CHECK(hdr2.length == hdr.length && hdr2.crc == hdr.crc &&
                      hdr2.record_count == hdr.record_count &&
                      hdr2.base_offset == hdr.base_offset);
        QR_FUZZ_CHECK(qr_codec_supported(qr_batch_codec(&hdr)));

        if (qr_batch_codec(&hdr) == QR_CODEC_NONE) {
            qr_batch_iter_t it;
            int32_t count;
            quire_err_t walked;

            QR_FUZZ_CHECK(qr_batch_iter_init(&it, p, avail) == QUIRE_ERR_NONE);
            walked = walk(&it, &count);
            /* CHECK_RECORDS passes exactly when the reader reads it all. */
            QR_FUZZ_CHECK((err2 == QUIRE_ERR_NONE) ==
                          (walked == QUIRE_ERR_NOT_FOUND));
            if (err2 != QUIRE_ERR_NONE)
                QR_FUZZ_CHECK(err2 == QUIRE_ERR_INVALID_RECORD && why2 != NULL);
        } else {
            /* Records are not checked inside compressed batches. */
            QR_FUZZ_CHECK(err2 == QUIRE_ERR_NONE);
            read_compressed(p, avail, &hdr);
        }
        off += qr_batch_size(&hdr);
    }
}

/* One compressed block: decompress both ways, compare, and round-trip. */
static void check_codec(int codec, const uint8_t *src, size_t n)
{
    uint8_t *dst = malloc(DECOMPRESS_CAP), *out = NULL;
    size_t dst_len = 0, out_len = 0;
    const char *why = NULL, *why2 = NULL;
    quire_err_t err, err2;

    QR_FUZZ_CHECK(dst != NULL);
    err =
        qr_codec_decompress(codec, src, n, dst, DECOMPRESS_CAP, &dst_len, &why);
    err2 = qr_codec_decompress_alloc(codec, src, n, DECOMPRESS_CAP, &out,
                                     &out_len, &why2);
    QR_FUZZ_CHECK(err == err2);
    if (err != QUIRE_ERR_NONE) {
        QR_FUZZ_CHECK(codec_err_ok(err) && why != NULL && why2 != NULL);
        QR_FUZZ_CHECK(out == NULL);
        free(dst);
        return;
    }
    QR_FUZZ_CHECK(dst_len <= DECOMPRESS_CAP && out_len == dst_len);
    QR_FUZZ_CHECK(dst_len == 0 || memcmp(dst, out, dst_len) == 0);
    free(out);

    /* What decompresses must survive our own compress + decompress. */
    if (dst_len <= 4096) {
        size_t bound = qr_codec_bound(codec, dst_len), clen = 0, back = 0;
        uint8_t *comp, *again = malloc(dst_len + 1);

        /* 0 means unsupported, except for codec none's empty input. */
        QR_FUZZ_CHECK(bound != 0 || (codec == QR_CODEC_NONE && dst_len == 0));
        QR_FUZZ_CHECK(again != NULL);
        comp = malloc(bound + 1);
        QR_FUZZ_CHECK(comp != NULL);
        QR_FUZZ_CHECK(qr_codec_compress(codec, dst, dst_len, comp, bound,
                                        &clen) == QUIRE_ERR_NONE);
        QR_FUZZ_CHECK(qr_codec_decompress(codec, comp, clen, again, dst_len + 1,
                                          &back, NULL) == QUIRE_ERR_NONE);
        QR_FUZZ_CHECK(back == dst_len);
        QR_FUZZ_CHECK(dst_len == 0 || memcmp(again, dst, dst_len) == 0);
        free(comp);
        free(again);
    }
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    int mode;

    if (size < 1)
        return 0;
    mode = data[0];
    size--;
    /* A private copy of exactly the data's size: the modes write to it,
     * and ASan sees any read past its end. */
    buf = malloc(size ? size : 1);
    QR_FUZZ_CHECK(buf != NULL);
    if (size)
        memcpy(buf, data + 1, size);
    if (mode & MODE_CODEC)
        check_codec((mode >> 4) & 7, buf, size);
    else
        check_batches(buf, size, mode);
    free(buf);
    return 0;
}
