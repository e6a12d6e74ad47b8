/*
 * loadplan: the pure part of quire-load (issue 12): Camus file names and
 * paths, the ranges of committed files found in an output directory, how
 * far they reach without a hole (what may be committed), and the tasks
 * that cover what is missing. No ZooKeeper, sockets or threads in here.
 *
 * A committed file is
 *   <output>/<topic>/<yyyy>/<mm>/<dd>/<hh>/<topic>+<p>+<first>+<last>.<ext>
 * and covers offsets first..last of partition p: the files of one
 * partition never overlap, so the committed offset is the end of the chain
 * of files that starts at the offset stored in ZooKeeper.
 */
#ifndef QR_LOADPLAN_H
#define QR_LOADPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** A range of offsets, both ends included. */
typedef struct qr_lrange {
    int64_t first, last;
} qr_lrange_t;

/** A growable list of ranges. */
typedef struct qr_lranges {
    qr_lrange_t *v;
    size_t n, cap;
} qr_lranges_t;

/** @brief Appends [first, last]. @locality any @locks none */
void qr_lranges_add(qr_lranges_t *rs, int64_t first, int64_t last);

/** @brief Frees the list and zeroes it. @locality any @locks none */
void qr_lranges_free(qr_lranges_t *rs);

/**
 * @brief The file extension of a format name ("avro", "json", "text" ->
 * "avro", "json", "txt"). @returns borrowed static string, NULL if unknown.
 * @locality any @locks none
 */
const char *qr_lname_ext(const char *format);

/**
 * @brief Parses a committed file's base name of @p topic.
 * @returns 0 with *partp, *firstp, *lastp set; -1 when @p name is not
 *          "<topic>+<p>+<first>+<last>.<avro|json|txt>" with first <= last.
 * @locality any @locks none
 */
int qr_lname_parse(const char *name, const char *topic, int32_t *partp,
                   int64_t *firstp, int64_t *lastp);

/**
 * @brief Writes "<output>/<topic>/<yyyy>/<mm>/<dd>/<hh>" for the UTC hour
 * of @p ts_ms into @p buf. @returns 0, or -1 when it does not fit.
 * @locality any @locks none
 */
int qr_lpath_hour(char *buf, size_t size, const char *output, const char *topic,
                  int64_t ts_ms);

/**
 * @brief Adds to @p out[p] (p < @p part_cnt) the range of every committed
 * file of @p topic under @p output. A missing topic directory is no error.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_IO with @p errstr naming the
 *          directory that could not be read.
 * @locality any @locks none
 */
quire_err_t qr_lscan_topic(const char *output, const char *topic,
                           qr_lranges_t *out, int32_t part_cnt, char *errstr,
                           size_t errstr_size);

/**
 * @brief How far the files reach from @p from without a hole: sorts
 * @p rs, then follows files whose first offset is the next one needed.
 * Files that start before @p from are ignored (already committed).
 * @returns the first offset no file covers (>= @p from).
 * @locality any @locks none
 */
int64_t qr_lcover_end(qr_lranges_t *rs, int64_t from);

/**
 * @brief The ranges in [@p from, @p end) no file of @p rs covers, each cut
 * into pieces of at most @p split records (0: no cutting), appended to
 * @p out. @p rs is sorted.
 * @returns the number of records in those ranges.
 * @locality any @locks none
 */
int64_t qr_lplan_gaps(qr_lranges_t *rs, int64_t from, int64_t end,
                      int64_t split, qr_lranges_t *out);

#endif /* QR_LOADPLAN_H */
