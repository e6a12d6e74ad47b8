/*
 * crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the
 * checksum of Kafka's RecordBatch v2 (DESIGN.md §3).
 *
 * Convention (zlib's): pass 0 to start, pass the previous result to
 * continue over the next chunk; the pre- and post-inversion happen inside.
 * So qr_crc32c(0, "123456789", 9) == 0xe3069283, and
 * qr_crc32c(qr_crc32c(0, a, n), b, m) equals the CRC of a followed by b.
 *
 * Two implementations: the SSE4.2 crc32 instruction (three interleaved
 * streams over large blocks, recombined with precomputed "shift by N zero
 * bytes" tables, since one stream is bound by the instruction's latency),
 * and a portable slicing-by-8 fallback. qr_crc32c picks one at run time.
 *
 * Dispatch and tables are computed once, at first use, under pthread_once:
 * after that they are read-only, so every function here is thread-safe.
 * Nothing allocates.
 */
#ifndef QR_CRC32C_H
#define QR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/**
 * @brief CRC-32C of @p len bytes at @p p (borrowed; may be NULL when len is
 * 0), continuing from @p crc (0 to start). Uses the fastest implementation
 * the CPU supports.
 * @returns the CRC.
 * @locality any  @locks none
 */
uint32_t qr_crc32c(uint32_t crc, const void *p, size_t len);

/**
 * @brief The portable slicing-by-8 implementation, same contract as
 * qr_crc32c. For tests and benchmarks.
 * @locality any  @locks none
 */
uint32_t qr_crc32c_sw(uint32_t crc, const void *p, size_t len);

/**
 * @brief The SSE4.2 implementation, same contract as qr_crc32c; on a CPU
 * (or build) without SSE4.2 it returns qr_crc32c_sw's result. For tests and
 * benchmarks.
 * @locality any  @locks none
 */
uint32_t qr_crc32c_hw(uint32_t crc, const void *p, size_t len);

/**
 * @brief Whether qr_crc32c_hw really uses the crc32 instruction here.
 * @returns 1 or 0.
 * @locality any  @locks none
 */
int qr_crc32c_hw_available(void);

#endif /* QR_CRC32C_H */
