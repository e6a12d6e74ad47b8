/*
 * fuzz: what the libFuzzer targets in tests/fuzz/ share (issue 5 item 6).
 *
 * Each target is one LLVMFuzzerTestOneInput() over quire's own parsing
 * code, built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 * The same source also links into tests/unit/check_fuzz_regress, which
 * replays committed crash inputs through it without libFuzzer.
 */
#ifndef QR_FUZZ_H
#define QR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch.h"

/**
 * @brief Runs one input through the target. Aborts (a finding) when the
 * code under test breaks one of its documented contracts; memory errors are
 * the sanitizers' to report.
 * @param data,size the input (borrowed).
 * @returns 0 (libFuzzer's convention: the input may enter the corpus).
 * @locality any  @locks none
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Aborts with the failed expression: a contract the code broke. */
#define QR_FUZZ_CHECK(expr)                                           \
    do {                                                              \
        if (!(expr)) {                                                \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, \
                    __LINE__, #expr);                                 \
            abort();                                                  \
        }                                                             \
    } while (0)

/** @brief Reads every byte of (p, n) so ASan checks the whole range (the
 * volatile store keeps the loads from being optimised out). */
static inline void qr_fuzz_touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    volatile uint8_t last = 0;

    for (size_t i = 0; i < n; i++)
        last = b[i];
    (void)last;
}

/* Validates the concatenated batches of one partition as the broker does
 * before appending them: each one whole, CRC checked, or the partition is
 * refused at the first bad one. */
static inline void qr_fuzz_check_records(const uint8_t *p, uint32_t len)
{
    size_t off = 0;

    QR_FUZZ_CHECK((p == NULL) == (len == 0));
    while (off < len) {
        qr_batch_hdr_t hdr;
        const char *why = NULL;
        quire_err_t err;

        err = qr_batch_validate(p + off, len - off, QR_BATCH_CHECK_CRC, &hdr,
                                &why);
        if (err != QUIRE_ERR_NONE) {
            QR_FUZZ_CHECK(err == QUIRE_ERR_TRUNCATED ||
                          err == QUIRE_ERR_CORRUPT_MESSAGE ||
                          err == QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE ||
                          err == QUIRE_ERR_INVALID_RECORD);
            QR_FUZZ_CHECK(why != NULL && why[0] != '\0');
            return;
        }
        QR_FUZZ_CHECK(hdr.magic == QR_BATCH_MAGIC);
        QR_FUZZ_CHECK(qr_batch_size(&hdr) >= QR_BATCH_HEADER_SIZE);
        QR_FUZZ_CHECK(qr_batch_size(&hdr) <= len - off);
        off += qr_batch_size(&hdr);
    }
}

#endif /* QR_FUZZ_H */
