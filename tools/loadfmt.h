/*
 * loadfmt: how quire-load writes records (issue 12, item 3): Avro object
 * container files through libavro (one schema for every topic), JSON
 * lines through jansson (bytes as base64), text (the value as a line),
 * and the lines `quire-load map` prints on stdout for Hadoop Streaming.
 */
#ifndef QR_LOADFMT_H
#define QR_LOADFMT_H

#include <stddef.h>
#include <stdio.h>

#include "quire.h"

typedef enum qr_lfmt { QR_LFMT_AVRO, QR_LFMT_JSON, QR_LFMT_TEXT } qr_lfmt_t;

/** The Avro schema of every file (record quire.Record). */
extern const char qr_lfmt_avro_schema[];

/** One output file being written; single owner, single thread. */
typedef struct qr_lwriter qr_lwriter_t;

/**
 * @brief Creates @p path (truncating it) for records in @p fmt.
 * @param deflate Avro only: the deflate codec instead of null.
 * @returns owned (qr_lwriter_close()), or NULL with one line in @p errstr.
 * @locality any (one thread per writer)  @locks none
 */
qr_lwriter_t *qr_lwriter_open(qr_lfmt_t fmt, int deflate, const char *path,
                              char *errstr, size_t errstr_size);

/**
 * @brief Appends one record. @returns QUIRE_ERR_NONE or QUIRE_ERR_IO
 * (@p errstr says why). @locality the writer's thread  @locks none
 */
quire_err_t qr_lwriter_append(qr_lwriter_t *w, const quire_record_t *rec,
                              char *errstr, size_t errstr_size);

/**
 * @brief Finishes the file, fsyncs it and frees @p w (always consumed).
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_IO with @p errstr.
 * @locality the writer's thread  @locks none
 */
quire_err_t qr_lwriter_close(qr_lwriter_t *w, char *errstr, size_t errstr_size);

/**
 * @brief Writes @p rec as one line on @p fp for Hadoop Streaming: with
 * QR_LFMT_JSON the JSON object of a .json file; with QR_LFMT_TEXT the
 * value, escaped; else topic, partition, offset, timestamp, key and value
 * separated by tabs, key and value escaped (\\, \t, \n, \r as backslash
 * sequences, a null as \N, as Hive reads them).
 * @returns 0, or -1 when writing failed.
 * @locality any  @locks none
 */
int qr_lfmt_line(FILE *fp, qr_lfmt_t fmt, const quire_record_t *rec);

/** @brief Bytes a record adds to the MB/s figures (key, value, headers).
 * @locality any @locks none */
size_t qr_lfmt_record_bytes(const quire_record_t *rec);

#endif /* QR_LOADFMT_H */
