/*
 * qt_records: build and read record batches in tests (common/batch).
 *
 * @locality any  @locks none
 */
#ifndef QT_RECORDS_H
#define QT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/**
 * @brief Builds an uncompressed batch of @p n records with values
 * "<prefix>-<first+i>" (and no key) into @p buf.
 * @returns the batch size, 0 when it does not fit.
 */
size_t qt_batch(uint8_t *buf, size_t cap, int n, const char *prefix, int first);

/**
 * @brief Counts the records in @p len bytes of concatenated batches (as a
 * Fetch returns them) and checks that record values run
 * "<prefix>-<first>", "<prefix>-<first+1>", ... when @p prefix is not
 * NULL.
 * @param last_offset the offset of the last record seen (may be NULL).
 * @returns the number of records, or -1 on a malformed batch or a value
 *          out of sequence (a line on stderr says which).
 */
long qt_count_records(const uint8_t *p, size_t len, const char *prefix,
                      int first, int64_t *last_offset);

#endif /* QT_RECORDS_H */
