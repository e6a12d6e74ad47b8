/*
 * qt_repl: three real brokers under a test's own chroot, and partition
 * states read straight from ZooKeeper, for the replication tests
 * (check_broker_failover, check_repl_failover). Tests only: these block
 * and fail the test (Check assertions) on setup errors.
 */
#ifndef QT_REPL_H
#define QT_REPL_H

#include <stdbool.h>

#include "assign.h"
#include "qt_broker.h"
#include "qt_zk.h"

/** The cluster of a test: its chroot, a session on it, brokers 1..3. */
typedef struct qt_repl {
    char *connect; /* owned: zookeeper.connect with the chroot */
    zhandle_t *zh;
    qt_broker_t *b[3];
} qt_repl_t;

/** @brief Makes a chroot and starts brokers 1..3 with @p props (more
 * server.properties lines) and waits for each to serve. */
void qt_repl_start(qt_repl_t *r, const char *props);

/** @brief Kills what still runs, removes the brokers' directories, closes
 * the session. */
void qt_repl_stop(qt_repl_t *r);

/** @brief Writes /brokers/topics/<topic> with @p parts (the JSON members
 * of "partitions", e.g. "\"0\":[1,2,3]"), as quire-topics
 * --replica-assignment would. */
void qt_repl_create_topic(qt_repl_t *r, const char *topic, const char *parts);

/** @brief Reads and parses topic-p's state. @param stat may be NULL.
 * @returns whether it exists and parsed. */
bool qt_repl_state(qt_repl_t *r, const char *topic, int p, qr_pstate_t *st,
                   struct Stat *stat);

#endif /* QT_REPL_H */
