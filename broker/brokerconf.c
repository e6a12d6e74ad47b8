/*
 * brokerconf: the table of server.properties and the checks that span keys.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "brokerconf.h"
#include "logging.h"

#define OFF(field) offsetof(qr_brokerconf_t, field)
#define NORANGE    1, 0
#define I32MAX     INT32_MAX
#define I64MAX     INT64_MAX

/* clang-format off */
static const char *const timestamp_types[] = {"CreateTime", "LogAppendTime",
                                              NULL};

static const qr_conf_prop_t props[] = {
    /* ---- server ---- */
    {"broker.id", QR_CONF_INT, OFF(broker_id), "-1", -1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "Unique id of this broker in the cluster; -1 = the id in meta.properties "
     "of log.dirs, else one generated from ZooKeeper; at most "
     "reserved.broker.max.id while generation is on"},
    {"broker.id.generation.enable", QR_CONF_BOOL,
     OFF(broker_id_generation_enable), "true", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "Give a broker without an id one from the ZooKeeper sequence "
     "/brokers/seqid: reserved.broker.max.id + the sequence number"},
    {"reserved.broker.max.id", QR_CONF_INT, OFF(reserved_broker_max_id),
     "1000", 0, I32MAX - 1, NULL, QR_CONF_F_RESTART,
     "Highest id that may be configured; generated ids are above it"},
    {"listeners", QR_CONF_LIST, OFF(listeners), "PLAINTEXT://:9092", NORANGE,
     NULL, QR_CONF_F_RESTART,
     "Where to listen: PLAINTEXT://host:port, comma-separated; "
     "empty host = all addresses, [::1] for IPv6, port 0 = any free port; "
     "QUIRE:// is the same as PLAINTEXT:// (quire's protocol), KAFKA:// "
     "speaks Kafka's protocol"},
    {"advertised.listeners", QR_CONF_LIST, OFF(advertised_listeners), NULL,
     NORANGE, NULL, QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Address published in ZooKeeper for clients (default: listeners)"},
    {"num.network.threads", QR_CONF_INT, OFF(num_network_threads), "0", 0,
     64, NULL, QR_CONF_F_RESTART,
     "Network threads, each with its own event loop; 0 = number of cores, "
     "at most 8"},
    {"background.threads", QR_CONF_INT, OFF(background_threads), "2", 1, 64,
     NULL, QR_CONF_F_RESTART,
     "Threads that fdatasync partitions (each sync runs on one; syncs of "
     "different partitions run side by side); more make a partition's "
     "records visible sooner when many partitions take writes (with "
     "log.write.caching=false) and cost the CPU of the syncs they add"},
    {"num.recovery.threads.per.data.dir", QR_CONF_INT,
     OFF(num_recovery_threads_per_data_dir), "10", 1, 64, NULL,
     QR_CONF_F_RESTART,
     "Threads that open a log dir's partitions at start-up (recovering "
     "them after a crash) and close them at a clean stop (a sync each)"},
    {"num.partitions", QR_CONF_INT, OFF(num_partitions), "1", 1, 100000,
     NULL, QR_CONF_F_RESTART,
     "Partitions of an automatically created topic"},
    {"auto.create.topics.enable", QR_CONF_BOOL,
     OFF(auto_create_topics_enable), "true", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "Create a topic when a client asks Metadata for one that is missing"},
    {"default.replication.factor", QR_CONF_INT,
     OFF(default_replication_factor), "1", 1, 64, NULL, QR_CONF_F_RESTART,
     "Replication factor of automatically created topics (at most the live "
     "brokers: otherwise the creation fails and is logged)"},
    {"message.max.bytes", QR_CONF_INT, OFF(message_max_bytes), "1048588",
     61, 1073741824, NULL, QR_CONF_F_RESTART,
     "Largest record batch the broker accepts (MESSAGE_TOO_LARGE above)"},
    {"socket.request.max.bytes", QR_CONF_INT, OFF(socket_request_max_bytes),
     "104857600", 1024, I32MAX, NULL, QR_CONF_F_RESTART,
     "Largest request frame; a bigger one closes the connection"},
    {"socket.send.buffer.bytes", QR_CONF_INT, OFF(socket_send_buffer_bytes),
     "102400", -1, I32MAX, NULL, QR_CONF_F_RESTART,
     "SO_SNDBUF of client connections; -1 = the OS default"},
    {"socket.receive.buffer.bytes", QR_CONF_INT,
     OFF(socket_receive_buffer_bytes), "102400", -1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "SO_RCVBUF of client connections; -1 = the OS default"},
    {"connections.max.idle.ms", QR_CONF_INT64, OFF(connections_max_idle_ms),
     "600000", -1, I64MAX, NULL, QR_CONF_F_RESTART,
     "Close a connection idle this long: no request read and no byte of "
     "its answers taken (a client that never reads); -1 = never"},
    {"max.connections", QR_CONF_INT, OFF(max_connections), "0", 0,
     I32MAX, NULL, QR_CONF_F_RESTART,
     "Connections accepted at once; beyond it new ones are closed at once; "
     "0 = three quarters of the open-file limit (RLIMIT_NOFILE), so "
     "segment files always find a descriptor"},
    /* ---- hostile clients (issue 17) ---- */
    {"max.connections.per.ip", QR_CONF_INT, OFF(max_connections_per_ip),
     "1000", 1, I32MAX, NULL, QR_CONF_F_RESTART,
     "Connections accepted at once from one IP address; beyond it new ones "
     "from that address are closed at once"},
    {"queued.max.request.bytes", QR_CONF_INT64,
     OFF(queued_max_request_bytes), "536870912", 65536, I64MAX, NULL,
     QR_CONF_F_RESTART,
     "Bytes held for requests over every connection (read buffers and "
     "parked fetches); past it no connection grows its buffer until some "
     "are freed. One connection stops being read while it holds more than "
     "socket.request.max.bytes"},
    {"fetch.max.wait.ms.cap", QR_CONF_INT, OFF(fetch_max_wait_ms_cap),
     "30000", 0, I32MAX, NULL, QR_CONF_F_RESTART,
     "Longest a Fetch may wait for data: a larger max_wait_ms is cut to "
     "this"},
    {"auto.create.topics.per.minute", QR_CONF_INT,
     OFF(auto_create_topics_per_minute), "60", 1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "Topics auto-creation may start per minute (a token bucket of this "
     "size); past it Metadata answers THROTTLING_QUOTA_EXCEEDED for the "
     "topic"},
    {"auto.create.topics.max.partitions", QR_CONF_INT,
     OFF(auto_create_topics_max_partitions), "10000", 1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "No auto-creation once the cluster holds this many partitions; "
     "Metadata then answers POLICY_VIOLATION for the topic"},
    {"debug", QR_CONF_STRING, OFF(debug), NULL, NORANGE, NULL,
     QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Debug contexts: zk,proto,fetch,produce,log,group,conf,net or all"},
    /* ---- ZooKeeper ---- */
    {"zookeeper.connect", QR_CONF_STRING, OFF(zookeeper_connect), NULL,
     NORANGE, NULL, QR_CONF_F_RESTART | QR_CONF_F_REQUIRED,
     "ZooKeeper ensemble: host:port[,host:port...][/chroot]"},
    {"zookeeper.session.timeout.ms", QR_CONF_INT64,
     OFF(zookeeper_session_timeout_ms), "18000", 1000, 600000, NULL,
     QR_CONF_F_RESTART, "ZooKeeper session timeout"},
    {"zookeeper.connection.timeout.ms", QR_CONF_INT64,
     OFF(zookeeper_connection_timeout_ms), "18000", 100, 600000, NULL,
     QR_CONF_F_RESTART,
     "How long start-up waits for the first ZooKeeper connection"},
    /* ---- controller and controlled shutdown (issue 16) ---- */
    {"unclean.leader.election.enable", QR_CONF_BOOL,
     OFF(unclean_leader_election_enable), "false", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "When no ISR member of a partition is alive, let the controller elect "
     "a replica outside the ISR (available again, but records acknowledged "
     "by the old ISR may be lost); false keeps the partition offline until "
     "an ISR member returns (topic override of the same name)"},
    {"controlled.shutdown.enable", QR_CONF_BOOL,
     OFF(controlled_shutdown_enable), "true", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "On SIGTERM or SIGINT, first ask the controller to move every "
     "partition this broker leads to another ISR member, and stop once it "
     "leads none (a second signal stops at once)"},
    {"controlled.shutdown.max.retries", QR_CONF_INT,
     OFF(controlled_shutdown_max_retries), "3", 1, 1000, NULL,
     QR_CONF_F_RESTART,
     "Attempts a controlled shutdown waits for leadership to move before "
     "the broker stops anyway"},
    {"controlled.shutdown.retry.backoff.ms", QR_CONF_INT64,
     OFF(controlled_shutdown_retry_backoff_ms), "5000", 1, 3600000, NULL,
     QR_CONF_F_RESTART,
     "Length of one controlled shutdown attempt"},
    /* ---- partition log ---- */
    {"log.dirs", QR_CONF_LIST, OFF(log_dirs), "/tmp/quire-logs", NORANGE,
     NULL, QR_CONF_F_RESTART,
     "Directories holding partition logs, comma-separated"},
    {"log.segment.bytes", QR_CONF_INT64, OFF(log_segment_bytes),
     "1073741824", 1024, I32MAX, NULL, QR_CONF_F_RESTART,
     "Roll to a new segment when the active one reaches this size"},
    {"log.roll.hours", QR_CONF_INT64, OFF(log_roll_hours), "168", 1,
     I32MAX, NULL, QR_CONF_F_RESTART,
     "Roll to a new segment after this many hours"},
    {"log.roll.ms", QR_CONF_INT64, OFF(log_roll_ms), NULL, 1, I64MAX, NULL,
     QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Roll time in ms; overrides log.roll.hours"},
    {"log.retention.hours", QR_CONF_INT64, OFF(log_retention_hours), "168",
     -1, I32MAX, NULL, QR_CONF_F_RESTART,
     "Delete segments older than this; -1 = forever"},
    {"log.retention.minutes", QR_CONF_INT64, OFF(log_retention_minutes),
     NULL, -1, I32MAX, NULL, QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Retention in minutes; overrides log.retention.hours"},
    {"log.retention.ms", QR_CONF_INT64, OFF(log_retention_ms), NULL, -1,
     I64MAX, NULL, QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Retention in ms; overrides log.retention.minutes and .hours"},
    {"log.retention.bytes", QR_CONF_INT64, OFF(log_retention_bytes), "-1",
     -1, I64MAX, NULL, QR_CONF_F_RESTART,
     "Delete old segments while a partition is larger; -1 = no limit"},
    {"log.retention.check.interval.ms", QR_CONF_INT64,
     OFF(log_retention_check_interval_ms), "300000", 1, I64MAX, NULL,
     QR_CONF_F_RESTART, "How often retention runs"},
    {"log.flush.interval.messages", QR_CONF_INT64,
     OFF(log_flush_interval_messages), "9223372036854775807", 1, I64MAX,
     NULL, QR_CONF_F_RESTART,
     "fdatasync a partition after this many unflushed records"},
    {"log.flush.interval.ms", QR_CONF_INT64, OFF(log_flush_interval_ms),
     NULL, 0, I64MAX, NULL, QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "fdatasync a partition whose oldest unflushed record is this old"},
    {"log.write.caching", QR_CONF_BOOL, OFF(log_write_caching), "false",
     NORANGE, NULL, QR_CONF_F_RESTART,
     "true: consumers may read records still only in the page cache (the "
     "high watermark is the log end); false: every append is fdatasync'd in "
     "the background and consumers see only synced records (topic override "
     "write.caching)"},
    {"log.flush.offset.checkpoint.interval.ms", QR_CONF_INT64,
     OFF(log_flush_offset_checkpoint_interval_ms), "60000", 1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "How often the recovery-point checkpoint is written"},
    {"log.index.interval.bytes", QR_CONF_INT, OFF(log_index_interval_bytes),
     "4096", 0, I32MAX, NULL, QR_CONF_F_RESTART,
     "Bytes of batches between two offset-index entries"},
    {"log.index.size.max.bytes", QR_CONF_INT, OFF(log_index_size_max_bytes),
     "10485760", 4096, I32MAX, NULL, QR_CONF_F_RESTART,
     "Size of a segment's preallocated offset index"},
    {"log.segment.delete.delay.ms", QR_CONF_INT64,
     OFF(log_segment_delete_delay_ms), "60000", 0, I64MAX, NULL,
     QR_CONF_F_RESTART,
     "Wait before deleting a segment file retention has dropped"},
    {"log.message.timestamp.type", QR_CONF_ENUM,
     OFF(log_message_timestamp_type), "CreateTime", NORANGE,
     timestamp_types, QR_CONF_F_RESTART,
     "Record timestamps kept: CreateTime (the producer's) or LogAppendTime "
     "(the broker stamps each batch on append; topic override "
     "message.timestamp.type)"},
    {"log.message.validate.compressed", QR_CONF_BOOL,
     OFF(log_message_validate_compressed), "true", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "Decompress every compressed batch a producer sends and check its "
     "records before acknowledging it, as Kafka's broker does; false "
     "trusts producers to compress well-formed records (uncompressed "
     "batches are always checked; topic override "
     "message.validate.compressed)"},
    {"log.open.segments.max", QR_CONF_INT, OFF(log_open_segments_max),
     "1000", 1, I32MAX, NULL, QR_CONF_F_RESTART,
     "Sealed segments, over all partitions, that keep their .log fd and "
     "index maps open after a read (least recently read closed first, "
     "reopened on demand); active segments are always open"},
    /* ---- idempotent producers (issue 22) ---- */
    {"producer.id.expiration.ms", QR_CONF_INT64,
     OFF(producer_id_expiration_ms), "86400000", 1, I64MAX, NULL,
     QR_CONF_F_RESTART,
     "A partition forgets an idempotent producer whose last batch is older "
     "than this; its next batch is then accepted at any sequence (KIP-360)"},
    {"producer.id.expiration.check.interval.ms", QR_CONF_INT64,
     OFF(producer_id_expiration_check_interval_ms), "600000", 1, I64MAX, NULL,
     QR_CONF_F_RESTART,
     "How often a partition looks for expired producer ids (on append)"},
    /* ---- Kafka-protocol consumer groups (issue 13) ---- */
    {"group.min.session.timeout.ms", QR_CONF_INT,
     OFF(group_min_session_timeout_ms), "6000", 1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "Shortest session.timeout.ms a Kafka-protocol group member may ask "
     "for; shorter gets INVALID_SESSION_TIMEOUT"},
    {"group.max.session.timeout.ms", QR_CONF_INT,
     OFF(group_max_session_timeout_ms), "1800000", 1, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "Longest session.timeout.ms a Kafka-protocol group member may ask for"},
    {"group.initial.rebalance.delay.ms", QR_CONF_INT,
     OFF(group_initial_rebalance_delay_ms), "3000", 0, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "How long the coordinator waits for more members before a group's "
     "first generation (members that start together share it)"},
    {"offset.metadata.max.bytes", QR_CONF_INT, OFF(offset_metadata_max_bytes),
     "4096", 0, I32MAX, NULL, QR_CONF_F_RESTART,
     "Longest metadata string an OffsetCommit may carry with an offset; "
     "longer gets OFFSET_METADATA_TOO_LARGE"},
    /* ---- replication, leader side (issue 16) ---- */
    {"min.insync.replicas", QR_CONF_INT, OFF(min_insync_replicas), "1", 1,
     I32MAX, NULL, QR_CONF_F_RESTART,
     "In-sync replicas (the leader included) an acks=all produce needs: "
     "fewer gets NOT_ENOUGH_REPLICAS before the append, or "
     "NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it "
     "waited (topic override min.insync.replicas)"},
    {"replica.lag.time.max.ms", QR_CONF_INT64, OFF(replica_lag_time_max_ms),
     "30000", 1, I64MAX, NULL, QR_CONF_F_RESTART,
     "A follower that has not caught up with the leader's log end for this "
     "long leaves the ISR (checked every half of it); Kafka's default since "
     "2.5 (KIP-537), raised with zookeeper.session.timeout.ms=18000"},
    /* ---- preferred leader balance on the controller (issue 16 item 10) ---- */
    {"auto.leader.rebalance.enable", QR_CONF_BOOL,
     OFF(auto_leader_rebalance_enable), "true", NORANGE, NULL,
     QR_CONF_F_RESTART,
     "The controller moves leadership back to preferred replicas when a "
     "broker's share of partitions it prefers but does not lead passes "
     "leader.imbalance.per.broker.percentage"},
    {"leader.imbalance.check.interval.seconds", QR_CONF_INT,
     OFF(leader_imbalance_check_interval_seconds), "300", 1, 86400, NULL,
     QR_CONF_F_RESTART,
     "How often the controller checks the leader balance"},
    {"leader.imbalance.per.broker.percentage", QR_CONF_INT,
     OFF(leader_imbalance_per_broker_percentage), "10", 0, 100, NULL,
     QR_CONF_F_RESTART,
     "Share (percent) of a broker's preferred partitions led by others above "
     "which the controller rebalances"},
    /* ---- replication: the follower side ---- */
    {"replica.fetch.max.bytes", QR_CONF_INT, OFF(replica_fetch_max_bytes),
     "1048576", 0, I32MAX, NULL, QR_CONF_F_RESTART,
     "Bytes a follower asks for per partition in one Fetch; a first batch "
     "larger than this is still sent whole (KIP-74)"},
    {"replica.fetch.response.max.bytes", QR_CONF_INT,
     OFF(replica_fetch_response_max_bytes), "10485760", 0, I32MAX, NULL,
     QR_CONF_F_RESTART,
     "Bytes a follower asks for in one Fetch over all its partitions on "
     "that leader (one batch may go past it)"},
    {"replica.fetch.wait.max.ms", QR_CONF_INT, OFF(replica_fetch_wait_max_ms),
     "500", 0, 600000, NULL, QR_CONF_F_RESTART,
     "How long a leader may hold a follower's Fetch waiting for "
     "replica.fetch.min.bytes of new data"},
    {"replica.fetch.min.bytes", QR_CONF_INT, OFF(replica_fetch_min_bytes),
     "1", 0, I32MAX, NULL, QR_CONF_F_RESTART,
     "Bytes a follower's Fetch waits for before it is answered (up to "
     "replica.fetch.wait.max.ms)"},
    {"replica.fetch.backoff.ms", QR_CONF_INT64, OFF(replica_fetch_backoff_ms),
     "1000", 0, 3600000, NULL, QR_CONF_F_RESTART,
     "Delay before a follower retries a partition whose fetch failed, or "
     "reconnects to a leader it lost"},
    {"replica.socket.timeout.ms", QR_CONF_INT64,
     OFF(replica_socket_timeout_ms), "30000", 1, 3600000, NULL,
     QR_CONF_F_RESTART,
     "A follower drops its connection to a leader that has not answered a "
     "request within replica.fetch.wait.max.ms plus this, or not accepted "
     "the connection within this"},
    /* ---- operations: metrics and health (issue 15) ---- */
    {"metrics.listeners", QR_CONF_STRING, OFF(metrics_listeners), NULL,
     NORANGE, NULL, QR_CONF_F_RESTART | QR_CONF_F_NULLABLE,
     "Where to serve /metrics (Prometheus text) and /health over HTTP: "
     "http://host:port, e.g. http://127.0.0.1:9404; port 0 = any free port "
     "(written to PORT_FILE.metrics); unset = off"},
    {"metrics.cache.ms", QR_CONF_INT, OFF(metrics_cache_ms), "1000", 0, 60000,
     NULL, QR_CONF_F_RESTART,
     "How long a rendered /metrics is served again to other scrapes before "
     "it is rendered anew (rendering reads every partition's log under its "
     "lock, so a flood of scrapes would contend with produce); 0 = every "
     "scrape renders"},
    /* ---- tests only ---- */
    {"quire.test.flush.delay.ms", QR_CONF_INT, OFF(test_flush_delay_ms), "0",
     0, 60000, NULL, QR_CONF_F_RESTART,
     "FOR TESTS ONLY: delay every group-commit fdatasync by this many ms "
     "(to test Produce timeout_ms); never set it in production"},
    {"quire.test.metadata.topics.max", QR_CONF_INT,
     OFF(test_metadata_topics_max), "100000", 1, 100000, NULL,
     QR_CONF_F_RESTART,
     "FOR TESTS ONLY: the most topics one Metadata response carries before "
     "it is answered RESPONSE_TOO_LARGE (the wire's own limit, 100000, is "
     "too many topics for a test's ZooKeeper); never set it in production"},
};
/* clang-format on */

_Static_assert(QR_ARRAY_LEN(props) <= QR_BROKERCONF_NKEYS,
               "raise QR_BROKERCONF_NKEYS");

const qr_conf_table_t qr_brokerconf_table = {
    "server.properties",
    props,
    QR_ARRAY_LEN(props),
    offsetof(qr_brokerconf_t, set),
};

qr_brokerconf_t *qr_brokerconf_new(void)
{
    qr_brokerconf_t *bconf = qr_calloc(1, sizeof(*bconf));
    char errstr[256];

    /* A default that does not parse is our bug, not the user's. */
    if (qr_conf_defaults(&qr_brokerconf_table, bconf, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        QR_LOG_ERR("CONF", "broker config table: %s", errstr);
        abort();
    }
    return bconf;
}

quire_err_t qr_brokerconf_set(qr_brokerconf_t *bconf, const char *key,
                              const char *value, char *errstr,
                              size_t errstr_size)
{
    return qr_conf_set(&qr_brokerconf_table, bconf, key, value, errstr,
                       errstr_size);
}

quire_err_t qr_brokerconf_load(qr_brokerconf_t *bconf, const char *path,
                               char *errstr, size_t errstr_size)
{
    return qr_conf_load_file(&qr_brokerconf_table, bconf, path, errstr,
                             errstr_size);
}

/* ---- listeners ---- */

quire_err_t qr_listener_addr_parse(const char *text, qr_listener_addr_t *la,
                                   char *errstr, size_t errstr_size)
{
    static const struct {
        const char *name;
        qr_wireproto_t proto;
    } schemes[] = {{"PLAINTEXT", QR_WIREPROTO_QUIRE},
                   {"QUIRE", QR_WIREPROTO_QUIRE},
                   {"KAFKA", QR_WIREPROTO_KAFKA}};
    const char *p = NULL, *colon;
    size_t hlen;
    char *end;
    long port;

    memset(la, 0, sizeof(*la));
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && !p; i++) {
        size_t n = strlen(schemes[i].name);
        if (strncmp(text, schemes[i].name, n) == 0 &&
            strncmp(text + n, "://", 3) == 0) {
            p = text + n + 3;
            la->proto = schemes[i].proto;
            snprintf(la->name, sizeof(la->name), "%s", schemes[i].name);
        }
    }
    if (!p) {
        snprintf(errstr, errstr_size,
                 "\"%s\": expected PLAINTEXT://, QUIRE:// or KAFKA://"
                 "host:port",
                 text);
        return QUIRE_ERR_CONF_INVALID;
    }
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (!rb || rb[1] != ':') {
            snprintf(errstr, errstr_size,
                     "\"%s\": expected [ipv6-address]:port", text);
            return QUIRE_ERR_CONF_INVALID;
        }
        hlen = (size_t)(rb - p - 1);
        p++;
        colon = rb + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon) {
            snprintf(errstr, errstr_size, "\"%s\": no port", text);
            return QUIRE_ERR_CONF_INVALID;
        }
        hlen = (size_t)(colon - p);
    }
    if (hlen >= sizeof(la->host)) {
        snprintf(errstr, errstr_size, "\"%s\": host name too long", text);
        return QUIRE_ERR_CONF_INVALID;
    }
    memcpy(la->host, p, hlen);
    la->host[hlen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf(errstr, errstr_size, "\"%s\": port must be 0..65535", text);
        return QUIRE_ERR_CONF_INVALID;
    }
    la->port = (int)port;
    return QUIRE_ERR_NONE;
}

static quire_err_t check_listeners(const char *key, const qr_conf_list_t *list,
                                   int need, char *errstr, size_t errstr_size)
{
    char why[384];
    qr_listener_addr_t la;

    if (need && list->n == 0) {
        snprintf(errstr, errstr_size, "%s: at least one listener needed", key);
        return QUIRE_ERR_CONF_INVALID;
    }
    for (size_t i = 0; i < list->n; i++)
        if (qr_listener_addr_parse(list->v[i], &la, why, sizeof(why)) !=
            QUIRE_ERR_NONE) {
            snprintf(errstr, errstr_size, "%s: %s", key, why);
            return QUIRE_ERR_CONF_INVALID;
        }
    return QUIRE_ERR_NONE;
}

/* Brokers replicate and clients of libquire connect over quire's protocol,
 * and /brokers/ids/<n>'s host and port name it: one such listener is
 * needed beside any KAFKA:// ones (issue 13). */
static quire_err_t check_quire_listener(const qr_brokerconf_t *bconf,
                                        char *errstr, size_t errstr_size)
{
    qr_listener_addr_t la;
    char why[384];

    for (size_t i = 0; i < bconf->listeners.n; i++)
        if (qr_listener_addr_parse(bconf->listeners.v[i], &la, why,
                                   sizeof(why)) == QUIRE_ERR_NONE &&
            la.proto == QR_WIREPROTO_QUIRE)
            return QUIRE_ERR_NONE;
    snprintf(errstr, errstr_size,
             "listeners: a PLAINTEXT:// (or QUIRE://) listener is needed "
             "beside KAFKA:// ones: brokers replicate over it");
    return QUIRE_ERR_CONF_INVALID;
}

/* Kafka's rule: with generation on, configured ids stay at or below
 * reserved.broker.max.id (generated ones are above it); without it, an id
 * must be given. */
static quire_err_t check_broker_id(const qr_brokerconf_t *bconf, char *errstr,
                                   size_t errstr_size)
{
    if (bconf->broker_id_generation_enable &&
        bconf->broker_id > bconf->reserved_broker_max_id) {
        snprintf(errstr, errstr_size,
                 "broker.id: %d is above reserved.broker.max.id (%d), the "
                 "range of generated ids",
                 bconf->broker_id, bconf->reserved_broker_max_id);
        return QUIRE_ERR_CONF_INVALID;
    }
    if (!bconf->broker_id_generation_enable && bconf->broker_id < 0) {
        snprintf(errstr, errstr_size,
                 "broker.id: required (>= 0) when "
                 "broker.id.generation.enable is false");
        return QUIRE_ERR_CONF_INVALID;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_brokerconf_check(const qr_brokerconf_t *bconf, char *errstr,
                                size_t errstr_size)
{
    quire_err_t err;
    const char *bad = NULL;
    qr_plog_conf_t pconf;
    char why[256];
    uint32_t mask;

    err = qr_conf_check_required(&qr_brokerconf_table, bconf, errstr,
                                 errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    err = check_broker_id(bconf, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    err =
        check_listeners("listeners", &bconf->listeners, 1, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    err = check_quire_listener(bconf, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    err = check_listeners("advertised.listeners", &bconf->advertised_listeners,
                          0, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (bconf->log_dirs.n == 0) {
        snprintf(errstr, errstr_size, "log.dirs: at least one directory");
        return QUIRE_ERR_CONF_INVALID;
    }
    if (bconf->socket_request_max_bytes < bconf->message_max_bytes) {
        snprintf(errstr, errstr_size,
                 "socket.request.max.bytes: %d is below message.max.bytes "
                 "(%d)",
                 bconf->socket_request_max_bytes, bconf->message_max_bytes);
        return QUIRE_ERR_CONF_INVALID;
    }
    qr_brokerconf_plog(bconf, &pconf);
    if (qr_plog_conf_check(&pconf, why, sizeof(why)) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "%s", why);
        return QUIRE_ERR_CONF_INVALID;
    }
    if (bconf->debug && qr_log_debug_parse(bconf->debug, &mask, &bad) != 0) {
        snprintf(errstr, errstr_size, "debug: unknown context in \"%s\"",
                 bconf->debug);
        return QUIRE_ERR_CONF_INVALID;
    }
    return QUIRE_ERR_NONE;
}

/* ---- derived values ---- */

int64_t qr_brokerconf_retention_ms(const qr_brokerconf_t *bconf)
{
    const qr_conf_table_t *t = &qr_brokerconf_table;
    int64_t v;

    if (qr_conf_is_set(t, bconf, "log.retention.ms") == 1)
        return bconf->log_retention_ms < 0 ? -1 : bconf->log_retention_ms;
    if (qr_conf_is_set(t, bconf, "log.retention.minutes") == 1)
        v = bconf->log_retention_minutes;
    else
        v = bconf->log_retention_hours < 0 ? -1
                                           : bconf->log_retention_hours * 60;
    return v < 0 ? -1 : v * 60 * 1000;
}

int64_t qr_brokerconf_roll_ms(const qr_brokerconf_t *bconf)
{
    if (qr_conf_is_set(&qr_brokerconf_table, bconf, "log.roll.ms") == 1)
        return bconf->log_roll_ms;
    return bconf->log_roll_hours * 3600 * 1000;
}

int qr_brokerconf_net_threads(const qr_brokerconf_t *bconf)
{
    long n;

    if (bconf->num_network_threads > 0)
        return bconf->num_network_threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > 8 ? 8 : (int)n;
}

void qr_brokerconf_plog(const qr_brokerconf_t *bconf, qr_plog_conf_t *pconf)
{
    const qr_conf_table_t *t = &qr_brokerconf_table;

    qr_plog_conf_defaults(pconf);
    pconf->segment_bytes = bconf->log_segment_bytes;
    pconf->roll_ms = qr_brokerconf_roll_ms(bconf);
    pconf->retention_ms = qr_brokerconf_retention_ms(bconf);
    pconf->retention_bytes = bconf->log_retention_bytes;
    pconf->index_interval_bytes = bconf->log_index_interval_bytes;
    pconf->index_size_max_bytes = bconf->log_index_size_max_bytes;
    pconf->flush_interval_messages = bconf->log_flush_interval_messages;
    pconf->flush_interval_ms =
        qr_conf_is_set(t, bconf, "log.flush.interval.ms") == 1
            ? bconf->log_flush_interval_ms
            : INT64_MAX;
    pconf->segment_delete_delay_ms = bconf->log_segment_delete_delay_ms;
    pconf->retention_check_interval_ms = bconf->log_retention_check_interval_ms;
    pconf->write_caching = bconf->log_write_caching != 0;
}

void qr_brokerconf_print_help(FILE *fp)
{
    qr_conf_print_help(&qr_brokerconf_table, fp);
}

void qr_brokerconf_print_man(FILE *fp)
{
    qr_conf_print_man(&qr_brokerconf_table, fp);
}

void qr_brokerconf_destroy(qr_brokerconf_t *bconf)
{
    if (!bconf)
        return;
    qr_conf_free(&qr_brokerconf_table, bconf);
    free(bconf);
}
