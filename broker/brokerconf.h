/*
 * brokerconf: the one config table of quire-broker (server.properties,
 * STYLE.md §7). Kafka's key names and, where the meaning is the same,
 * Kafka's defaults. The same table parses the file, prints --help-config and
 * generates the key list of man/quire-broker.properties.5.
 *
 * Ownership: a qr_brokerconf_t owns its strings and lists (released by
 * qr_brokerconf_destroy()). Once handed to qr_server_new() it is read-only
 * and may be read from any thread.
 */
#ifndef QR_BROKERCONF_H
#define QR_BROKERCONF_H

#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "err.h"
#include "partlog.h"

/* Upper bound on the keys of the table (bitmap size of .set). */
#define QR_BROKERCONF_NKEYS 96

typedef struct qr_brokerconf {
    /* ---- server ---- */
    int broker_id; /* -1: from meta.properties, else generated; the
                      server sets the id it runs with before its threads
                      start */
    int broker_id_generation_enable;
    int reserved_broker_max_id;
    qr_conf_list_t listeners;            /* PLAINTEXT://host:port, ... */
    qr_conf_list_t advertised_listeners; /* unset: same as listeners */
    int num_network_threads;             /* 0: cores, at most 8 */
    int background_threads;              /* flusher threads */
    int num_recovery_threads_per_data_dir; /* open at start, close at stop */
    int num_partitions;
    int auto_create_topics_enable;
    int default_replication_factor;
    int message_max_bytes;
    int log_message_timestamp_type;      /* 0 CreateTime, 1 LogAppendTime */
    int log_message_validate_compressed; /* decompress to check records */
    int log_open_segments_max; /* sealed segments kept open (fds, maps) */
    int socket_request_max_bytes;
    int socket_send_buffer_bytes;    /* -1: the OS default */
    int socket_receive_buffer_bytes; /* -1: the OS default */
    int64_t connections_max_idle_ms;
    int max_connections; /* 0: 3/4 of RLIMIT_NOFILE */
    /* ---- hostile clients (issue 17) ---- */
    int max_connections_per_ip;
    int64_t queued_max_request_bytes; /* read buffers + parked fetches */
    int fetch_max_wait_ms_cap;
    int auto_create_topics_per_minute;
    int auto_create_topics_max_partitions;
    char *debug; /* debug contexts, NULL: none */
    /* ---- ZooKeeper ---- */
    char *zookeeper_connect;
    int64_t zookeeper_session_timeout_ms;
    int64_t zookeeper_connection_timeout_ms;
    /* ---- controller and controlled shutdown (issue 16) ---- */
    int unclean_leader_election_enable;
    int controlled_shutdown_enable;
    int controlled_shutdown_max_retries;
    int64_t controlled_shutdown_retry_backoff_ms;
    /* ---- partition log (log.*) ---- */
    qr_conf_list_t log_dirs;
    int64_t log_segment_bytes;
    int64_t log_roll_hours;
    int64_t log_roll_ms; /* unset: from log.roll.hours */
    int64_t log_retention_hours;
    int64_t log_retention_minutes; /* unset: from hours */
    int64_t log_retention_ms;      /* unset: from minutes/hours */
    int64_t log_retention_bytes;   /* -1: no size limit */
    int64_t log_retention_check_interval_ms;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms; /* unset: never by time */
    int log_write_caching;         /* false: visible only once synced */
    int64_t log_flush_offset_checkpoint_interval_ms;
    int log_index_interval_bytes;
    int log_index_size_max_bytes;
    int64_t log_segment_delete_delay_ms;
    /* ---- idempotent producers (issue 22) ---- */
    int64_t producer_id_expiration_ms;
    int64_t producer_id_expiration_check_interval_ms;
    /* ---- Kafka-protocol consumer groups (issue 13) ---- */
    int group_min_session_timeout_ms;
    int group_max_session_timeout_ms;
    int group_initial_rebalance_delay_ms;
    int offset_metadata_max_bytes;
    /* ---- replication, leader side (issue 16) ---- */
    int min_insync_replicas;
    int64_t replica_lag_time_max_ms;
    /* ---- preferred leader balance (issue 16 item 10) ---- */
    int auto_leader_rebalance_enable;
    int leader_imbalance_check_interval_seconds;
    int leader_imbalance_per_broker_percentage;
    /* ---- replication: the follower side (replica.*) ---- */
    int replica_fetch_max_bytes;          /* per partition */
    int replica_fetch_response_max_bytes; /* per Fetch answer */
    int replica_fetch_wait_max_ms;
    int replica_fetch_min_bytes;
    int64_t replica_fetch_backoff_ms;
    int64_t replica_socket_timeout_ms;
    /* ---- operations (issue 15) ---- */
    char *metrics_listeners; /* http://host:port of /metrics; NULL: off */
    int metrics_cache_ms;    /* a rendered /metrics is reused this long */
    /* ---- tests only ---- */
    int test_flush_delay_ms;      /* flusher threads sleep before each job */
    int test_metadata_topics_max; /* RESPONSE_TOO_LARGE past this */
    /* which keys were given (qr_conf_is_set()) */
    uint64_t set[QR_CONF_SET_WORDS(QR_BROKERCONF_NKEYS)];
} qr_brokerconf_t;

/** The table itself (static, read-only). */
extern const qr_conf_table_t qr_brokerconf_table;

/**
 * @brief A config with every default.
 * @returns owned; release with qr_brokerconf_destroy().
 * @locality any  @locks none
 */
qr_brokerconf_t *qr_brokerconf_new(void);

/**
 * @brief Sets one key from text ("--override key=value" or a file line).
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_CONF_UNKNOWN or QUIRE_ERR_CONF_INVALID
 *          with the reason in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_brokerconf_set(qr_brokerconf_t *bconf, const char *key,
                              const char *value, char *errstr,
                              size_t errstr_size);

/**
 * @brief Loads a server.properties file ("<file>:<line>: <key>: <reason>").
 * @locality any  @locks none
 */
quire_err_t qr_brokerconf_load(qr_brokerconf_t *bconf, const char *path,
                               char *errstr, size_t errstr_size);

/**
 * @brief Checks what one key alone cannot: required keys, listener syntax,
 * socket.request.max.bytes >= message.max.bytes, the debug words. Call
 * after the file and every override are applied.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CONF_INVALID naming the key.
 * @locality any  @locks none
 */
quire_err_t qr_brokerconf_check(const qr_brokerconf_t *bconf, char *errstr,
                                size_t errstr_size);

/**
 * @brief Effective retention in ms (Kafka's log.retention.ms > .minutes >
 * .hours precedence; -1: forever).
 * @locality any  @locks none
 */
int64_t qr_brokerconf_retention_ms(const qr_brokerconf_t *bconf);

/**
 * @brief Effective segment roll time in ms (log.roll.ms > log.roll.hours).
 * @locality any  @locks none
 */
int64_t qr_brokerconf_roll_ms(const qr_brokerconf_t *bconf);

/**
 * @brief Effective number of network threads (0 resolved to the number of
 * online cores, at most 8).
 * @locality any  @locks none
 */
int qr_brokerconf_net_threads(const qr_brokerconf_t *bconf);

/** The wire protocol a listener speaks (issue 13). */
typedef enum qr_wireproto {
    QR_WIREPROTO_QUIRE = 0, /**< PLAINTEXT:// or QUIRE://: quire's own */
    QR_WIREPROTO_KAFKA = 1, /**< KAFKA://: Kafka's protocol */
} qr_wireproto_t;

/** One parsed `PLAINTEXT://host:port` (or QUIRE://, KAFKA://) listener. */
typedef struct qr_listener_addr {
    char host[256]; /* "" = every address (IPv6 and IPv4) */
    int port;       /* 0: any free port */
    qr_wireproto_t proto;
    char name[16]; /* the listener name as written: PLAINTEXT, QUIRE, KAFKA */
} qr_listener_addr_t;

/**
 * @brief Parses one listener as Kafka writes it: PLAINTEXT://host:port,
 * PLAINTEXT://[::1]:port or PLAINTEXT://:port. The name says the protocol:
 * PLAINTEXT and QUIRE speak quire's, KAFKA speaks Kafka's (issue 13).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CONF_INVALID with the reason.
 * @locality any  @locks none
 */
quire_err_t qr_listener_addr_parse(const char *text, qr_listener_addr_t *la,
                                   char *errstr, size_t errstr_size);

/**
 * @brief The broker-wide partition-log settings from the log.* keys
 * (Kafka's precedence applied; unset intervals become "never").
 * @locality any  @locks none
 */
void qr_brokerconf_plog(const qr_brokerconf_t *bconf, qr_plog_conf_t *pconf);

/** @brief --help-config. @locality any @locks none */
void qr_brokerconf_print_help(FILE *fp);

/** @brief The man page's key list. @locality any @locks none */
void qr_brokerconf_print_man(FILE *fp);

/**
 * @brief Frees @p bconf and everything it owns; NULL is fine.
 * @locality any  @locks none
 */
void qr_brokerconf_destroy(qr_brokerconf_t *bconf);

#endif /* QR_BROKERCONF_H */
