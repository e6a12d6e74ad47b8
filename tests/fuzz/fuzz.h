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

#endif /* QR_FUZZ_H */
