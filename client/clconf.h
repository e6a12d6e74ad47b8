/*
 * clconf: libquire's configuration object (quire_conf_t): Kafka's client key
 * names, typed and range-checked through one table (STYLE.md §7), with plain
 * malloc so that running out of memory is an error code, never an abort
 * (common/conf.c uses the aborting wrappers and is for daemons and tools).
 *
 * The producer and consumer read the typed fields directly; applications
 * only see quire_conf_set/get.
 */
#ifndef QR_CLCONF_H
#define QR_CLCONF_H

#include <stdint.h>

#include "quire.h"

/** auto.offset.reset values. */
enum { QR_CCONF_RESET_EARLIEST, QR_CCONF_RESET_LATEST, QR_CCONF_RESET_NONE };

/** acks=all on the wire. */
#define QR_CCONF_ACKS_ALL (-1)

struct quire_conf {
    /* ---- strings (owned, never NULL: "" when unset) ---- */
    char *bootstrap_servers;
    char *zookeeper_connect;
    char *client_id;
    char *debug;
    /* ---- producer ---- */
    int acks; /* 0, 1 or -1 (all) */
    int batch_size;
    int linger_ms;
    int compression; /* codec id: 0 none, 1 gzip, 3 lz4, 4 zstd */
    int64_t buffer_memory;
    int retries;
    int retry_backoff_ms;
    int request_timeout_ms;
    int max_in_flight;
    int max_block_ms;
    int max_request_size;
    int delivery_timeout_ms;
    int enable_idempotence; /* issue 22: -1 unset (on unless acks, retries or
                               max.in.flight conflict), 0 or 1 */
    /* ---- consumer ---- */
    int fetch_min_bytes;
    int fetch_max_wait_ms;
    int max_partition_fetch_bytes;
    int fetch_max_bytes;
    int queued_max_kbytes; /* queued.max.messages.kbytes */
    /* ---- consumer group ---- */
    char *group_id;
    int allow_auto_create_topics; /* 0, 1, or -1: the client's default */
    int enable_auto_commit;       /* 0 or 1 */
    int auto_commit_interval_ms;
    int auto_offset_reset;   /* QR_CCONF_RESET_* */
    int assignment_strategy; /* qr_assignor_kind_t's values */
    int rebalance_max_retries;
    int rebalance_backoff_ms;
    int max_poll_interval_ms;
    int zookeeper_connection_timeout_ms;
    /* ---- both ---- */
    int metadata_max_age_ms;
    int reconnect_backoff_ms;
    int reconnect_backoff_max_ms; /* issue 18: exponential up to this */
    int log_level;                /* issue 18: syslog level, 0..7 */
    int zookeeper_session_timeout_ms;
    int socket_connection_setup_timeout_ms;
    int statistics_interval_ms; /* issue 15: 0 = no statistics */
    /* ---- callbacks (not keys) ---- */
    quire_delivery_cb_t *dr_cb;
    void *dr_opaque;
    quire_rebalance_cb_t *rebalance_cb;
    void *rebalance_opaque;
    /* issue 18: where the handle's lines and client-wide errors go */
    quire_log_cb_t *log_cb;
    void *log_opaque;
    quire_error_cb_t *error_cb;
    void *error_opaque;
    /* issue 15: the statistics document every statistics.interval.ms */
    quire_stats_cb_t *stats_cb;
    void *stats_opaque;
};

/**
 * @brief The name of the @p i'th key of the table, for walking it.
 * @returns a static string, or NULL when @p i is past the last key.
 * @locality any  @locks none
 */
const char *qr_cconf_key(size_t i);

/**
 * @brief Prints the key list as man(7) markup (.TP per key), from which the
 * CONFIGURATION section of quire(3) is generated and checked.
 * @locality any  @locks none
 */
void qr_cconf_print_man(FILE *fp);

#endif /* QR_CLCONF_H */
