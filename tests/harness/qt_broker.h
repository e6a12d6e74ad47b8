/*
 * qt_broker: start and stop real quire-broker processes from C tests
 * (STYLE.md §10, "Brokers in tests").
 *
 * A broker gets a private temporary directory holding its generated
 * server.properties (listeners on 127.0.0.1 port 0, log.dirs inside the
 * directory, the test's zookeeper.connect), its port file and its logs. It
 * is started by fork + exec of broker/quire-broker with --port-file, and
 * is ready when the port file appears (the broker writes it once it is
 * registered in ZooKeeper). Stopping sends SIGTERM and waits for the PID;
 * crash tests send SIGKILL. Every wait has a deadline.
 *
 * The directory survives stop/kill, so a restarted broker finds its data;
 * qt_broker_destroy() removes it.
 *
 * @locality the test's thread  @locks none
 */
#ifndef QT_BROKER_H
#define QT_BROKER_H

#include <stdint.h>
#include <sys/types.h>

typedef struct qt_broker {
    int broker_id;
    pid_t pid; /* 0 when not running */
    char dir[256];
    char props[320];
    char port_file[320];
    char log_dir[320];
    char addr[300]; /* "host:port" from the port file */
    char host[300];
    int port;
    /* "" (qt_broker_new): the broker's stderr is the test's; else the
     * file its stderr is appended to, from the next spawn on (a test that
     * reads the broker's own account of what it did) */
    char log_path[320];
} qt_broker_t;

/**
 * @brief Prepares a broker (nothing is started).
 * @param zk_connect the zookeeper.connect value (with the test's chroot).
 * @param extra more "key=value" lines for server.properties (NULL: none).
 * @returns owned (qt_broker_destroy()), or NULL with a line on stderr.
 */
qt_broker_t *qt_broker_new(int broker_id, const char *zk_connect,
                           const char *extra);

/**
 * @brief Starts the broker process without waiting (qt_broker_wait()).
 * @returns 0, or -1 (already running, fork failed) with a line on stderr.
 */
int qt_broker_spawn(qt_broker_t *b);

/**
 * @brief Waits for a spawned broker's port file (written once it serves
 * and is registered); as qt_broker_start() otherwise.
 */
int qt_broker_wait(qt_broker_t *b, int timeout_ms);

/**
 * @brief The port of a broker's /metrics and /health (metrics.listeners
 * with port 0 in @c extra): read from PORT_FILE.metrics, which the broker
 * writes before it registers.
 * @returns the port, or -1 (no file by the deadline, or the broker exited).
 */
int qt_broker_metrics_port(qt_broker_t *b, int timeout_ms);

/**
 * @brief Starts the broker and waits for its port file.
 * @returns 0, or -1 (the process exited or the deadline passed; a broker
 *          still running is killed) with a line on stderr.
 */
int qt_broker_start(qt_broker_t *b, int timeout_ms);

/**
 * @brief SIGTERM, then waitpid with a deadline (SIGKILL after it).
 * @returns the exit status (0..255), 128+signal when killed by one, or -1
 *          when it was not running.
 */
int qt_broker_stop(qt_broker_t *b, int timeout_ms);

/**
 * @brief SIGKILL and waitpid (a crash).
 * @returns 0, or -1 when it was not running.
 */
int qt_broker_kill(qt_broker_t *b);

/** @brief Resident set size of the running broker in KiB, -1 on error. */
long qt_broker_rss_kb(const qt_broker_t *b);

/** @brief User + system CPU time of the running broker in clock ticks
 * (/proc/<pid>/stat), -1 on error. */
long long qt_broker_cpu_ticks(const qt_broker_t *b);

/** @brief Kills a broker still running, removes its directory, frees.
 * NULL is fine. */
void qt_broker_destroy(qt_broker_t *b);

#endif /* QT_BROKER_H */
