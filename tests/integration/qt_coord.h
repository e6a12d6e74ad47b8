/*
 * qt_coord: helpers for the coordinator's integration tests: coordd
 * processes (stand-in brokers) started and killed by PID, their event
 * files, quire-topics runs, and polling partition states.
 * Tests only: these block.
 */
#ifndef QT_COORD_H
#define QT_COORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "assign.h"
#include "qt_zk.h"

/** A running coordd. */
typedef struct qt_coordd {
    pid_t pid;        /* 0 when not running */
    int id;           /* broker id */
    char events[256]; /* its event file (coordd --events) */
    char log[256];    /* its stdout and stderr */
} qt_coordd_t;

/**
 * @brief Starts coordd for broker @p id on @p connect with a 2 s session
 * timeout; @p extra is one more argument (e.g. "--no-controller") or NULL.
 * The child dies with the test process (PR_SET_PDEATHSIG).
 * @returns true once started (not yet registered).
 */
bool qt_coordd_start(qt_coordd_t *d, const char *connect, int id,
                     const char *extra);

/** @brief Sends @p sig and waits (at most @p timeout_ms, then SIGKILL) for
 * the process to end. @returns its exit status (128+signal if killed). */
int qt_coordd_stop(qt_coordd_t *d, int sig, int timeout_ms);

/** @brief Waits for the process to exit by itself. @returns its exit
 * status, or -1 on timeout (it is left running). */
int qt_coordd_wait_exit(qt_coordd_t *d, int timeout_ms);

/** @brief Whether a line starting with @p prefix appears in the events
 * file within @p timeout_ms. */
bool qt_coordd_wait_event(const qt_coordd_t *d, const char *prefix,
                          int timeout_ms);

/** @brief Counts the event lines starting with @p prefix so far. */
int qt_coordd_count_events(const qt_coordd_t *d, const char *prefix);

/** @brief Prints the coordd's log on stderr (for a failing test). */
void qt_coordd_dump(const qt_coordd_t *d);

/**
 * @brief Reads the state of @p topic-@p p until @p want says yes (or
 * @p timeout_ms passes).
 * @param want called with each parsed state; NULL: any state.
 * @returns true with the last state in @p st.
 */
bool qt_wait_pstate(zhandle_t *zh, const char *topic, int p,
                    bool (*want)(const qr_pstate_t *st, void *arg), void *arg,
                    qr_pstate_t *st, int timeout_ms);

/** @brief A predicate for qt_wait_pstate(): leader == *(int *)arg. */
bool qt_leader_is(const qr_pstate_t *st, void *arg);

/**
 * @brief Runs quire-topics with --zookeeper @p connect and @p args (a
 * NULL-terminated list), capturing its output.
 * @returns its exit status; @p res filled (qt_run_free()).
 */
int qt_topics(const char *connect, qt_run_result_t *res, ...);

#endif /* QT_COORD_H */
