/*
 * quire.h: libquire, the client library of quire (DESIGN.md §1, §7).
 *
 * Everything here is prefixed quire_ / QUIRE_; nothing else leaves
 * libquire.so. Handles are opaque. Errors are quire_err_t (err.h, installed
 * next to this file), with quire_err2str() for people. The library never
 * aborts its host process: running out of memory is QUIRE_ERR_NO_MEMORY.
 *
 * Lifecycle (librdkafka's shape):
 *
 *   char errstr[256];
 *   quire_conf_t *conf = quire_conf_new();
 *   if (quire_conf_set(conf, "bootstrap.servers", "127.0.0.1:9092", errstr,
 *                      sizeof(errstr)) != QUIRE_ERR_NONE) ...
 *   then quire_producer_new(conf, ...) or quire_consumer_new(conf, ...),
 *   which take the conf on success.
 *
 * Configuration keys are Kafka's client key names (see quire(3) for the
 * list, or quire_conf_print_help()).
 */
#ifndef QUIRE_H
#define QUIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The library version, "MAJOR.MINOR.PATCH". */
#define QUIRE_VERSION_STR "0.1.0"

/**
 * @brief The version of the library actually linked.
 * @returns a static string.
 * @locality any  @locks none
 */
const char *quire_version(void);

/* ---- configuration ---- */

/** A configuration object: a set of keys with typed, checked values. */
typedef struct quire_conf quire_conf_t;

/**
 * @brief A configuration holding every default.
 * @returns owned (release with quire_conf_destroy() unless a constructor
 *          takes it), or NULL when out of memory.
 * @locality any  @locks none
 */
quire_conf_t *quire_conf_new(void);

/**
 * @brief A copy of @p conf (borrowed).
 * @returns owned, or NULL when out of memory or @p conf is NULL.
 * @locality any  @locks none (the caller serialises access to @p conf)
 */
quire_conf_t *quire_conf_dup(const quire_conf_t *conf);

/**
 * @brief Sets @p key to @p value (text, as in a properties file), checking
 * the key and the value's type and range.
 * @param conf,key,value borrowed; value is copied.
 * @param errstr if non-NULL, receives one line naming the culprit on error
 *        ("linger.ms: not a number: 'x'"), truncated to @p errstr_size.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_UNKNOWN for an unknown key;
 *          QUIRE_ERR_CONF_INVALID for a bad value (the old value stays);
 *          QUIRE_ERR_BAD_ARG for a NULL argument; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none (the caller serialises access to @p conf)
 */
quire_err_t quire_conf_set(quire_conf_t *conf, const char *key,
                           const char *value, char *errstr, size_t errstr_size);

/**
 * @brief The current value of @p key as text (the canonical form: "all"
 * for acks=-1, numbers in decimal, "" for an unset string).
 * @param dest    where to write it (NUL-terminated), or NULL to ask only
 *                for the size.
 * @param dest_sizep in: the size of @p dest; out: the size needed,
 *                terminator included.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_UNKNOWN; QUIRE_ERR_BUF_FULL when
 *          @p dest is too small (*dest_sizep then says how much is
 *          needed); QUIRE_ERR_BAD_ARG for a NULL conf, key or size.
 * @locality any  @locks none
 */
quire_err_t quire_conf_get(const quire_conf_t *conf, const char *key,
                           char *dest, size_t *dest_sizep);

/**
 * @brief Prints every key with its type, default, range and description.
 * @locality any  @locks none
 */
void quire_conf_print_help(FILE *fp);

/**
 * @brief Frees @p conf. Accepts NULL.
 * @locality any  @locks none
 */
void quire_conf_destroy(quire_conf_t *conf);

/* ---- partitioning ---- */

/**
 * @brief Kafka's murmur2 hash of @p key (the Java client's
 * Utils.murmur2, seed 0x9747b28c), as an unsigned 32-bit value.
 * @param key borrowed; may be NULL when @p key_len is 0.
 * @locality any  @locks none
 */
uint32_t quire_murmur2(const void *key, size_t key_len);

/**
 * @brief The partition Kafka's Java client chooses for a keyed record:
 * toPositive(murmur2(key)) % @p partition_cnt.
 * @returns a partition in [0, partition_cnt), or -1 when partition_cnt is
 *          not positive.
 * @locality any  @locks none
 */
int32_t quire_partition_for_key(const void *key, size_t key_len,
                                int32_t partition_cnt);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_H */
