/*
 * qt_zk: synchronous helpers for quire's integration TESTS (STYLE.md §10).
 *
 * Never linked into quire itself: these helpers block, which only a test may
 * do. They drive a libzookeeper_st handle with zookeeper_interest(), poll()
 * and zookeeper_process() until an operation completes or its deadline
 * passes; libzookeeper_st has no synchronous API. Every helper takes a
 * timeout in milliseconds and returns when it passes: no unbounded waits.
 *
 * Also here: the QUIRE_TEST_ZK lookup (exit 99 when unset), unique chroots
 * per test, servers of a test's own through tests/harness/zk.sh (session
 * expiry by restart-empty, ensembles), running a command with its output
 * captured, and free loopback ports.
 *
 * ZooKeeper handles are created inside the test (the forked child), never
 * inherited across a fork. Return codes are ZooKeeper's (ZOK, ZNONODE, ...),
 * plus ZOPERATIONTIMEOUT when the deadline passed first.
 *
 * @locality any thread, one handle per thread @locks none
 */
#ifndef QT_ZK_H
#define QT_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

/* Session timeout qt_zk_connect() asks for. */
#define QT_ZK_SESSION_MS 10000

/* Exit status of a test that lacks what it needs (automake: hard error). */
#define QT_EXIT_HARD_ERROR 99

/* ---- time ---------------------------------------------------------- */

/** @brief Monotonic clock in milliseconds. @locality any @locks none */
int64_t qt_now_ms(void);

/** @brief Sleep @p ms milliseconds (restarted on EINTR).
 * @locality any @locks none */
void qt_sleep_ms(int ms);

/* ---- environment --------------------------------------------------- */

/**
 * @brief The ZooKeeper a test must use: $QUIRE_TEST_ZK ("127.0.0.1:port",
 * exported by tests/harness/with-zk).
 * @returns borrowed, valid while the environment is unchanged. When the
 * variable is unset or empty this prints why on stderr and exits 99: an
 * integration test never passes without its server.
 * @locality any @locks none
 */
const char *qt_zk_env(void);

/* ---- sessions ------------------------------------------------------ */

/**
 * @brief Open a session to @p hosts ("h:p[,h:p...][/chroot]") and wait
 * until it is connected.
 * @param hosts borrowed connect string.
 * @param timeout_ms how long to wait for ZOO_CONNECTED_STATE.
 * @returns owned handle in ZOO_CONNECTED_STATE, closed with
 * qt_zk_close(); NULL (with a line on stderr) if not connected in time.
 * @locality any @locks none
 */
zhandle_t *qt_zk_connect(const char *hosts, int timeout_ms);

/**
 * @brief qt_zk_connect() with a chosen session timeout (the server clamps
 * it to 1000..60000 ms under zk.sh).
 * @returns owned handle or NULL, as qt_zk_connect().
 * @locality any @locks none
 */
zhandle_t *qt_zk_connect_session(const char *hosts, int session_ms,
                                 int timeout_ms);

/**
 * @brief Close @p zh (bounded by the client library's own close wait) and
 * free what the helpers attached to it. Accepts NULL.
 * @param zh consumed.
 * @locality any @locks none
 */
void qt_zk_close(zhandle_t *zh);

/**
 * @brief Drive @p zh (I/O, watches, completions) for @p ms milliseconds.
 * @returns ZOK, or ZINVALIDSTATE once the session is expired or closed.
 * @locality any @locks none
 */
int qt_zk_pump(zhandle_t *zh, int ms);

/**
 * @brief Drive @p zh until zoo_state() equals @p state, e.g.
 * ZOO_CONNECTED_STATE or ZOO_EXPIRED_SESSION_STATE.
 * @returns true if reached within @p timeout_ms.
 * @locality any @locks none
 */
bool qt_zk_wait_state(zhandle_t *zh, int state, int timeout_ms);

/**
 * @brief Session states the watcher of @p zh has seen, oldest first
 * (ZOO_CONNECTED_STATE 3, ZOO_CONNECTING_STATE 1, ZOO_EXPIRED_SESSION_STATE
 * -112, ...). At most @p max are copied; later ones are dropped once 64
 * are stored.
 * @param states out array of @p max entries.
 * @returns the number copied.
 * @locality any @locks none
 */
int qt_zk_states_seen(zhandle_t *zh, int *states, int max);

/**
 * @brief Wait for a watch event (not a session event) of @p type
 * (ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT,
 * ZOO_CHILD_EVENT) on @p path, set by a helper called with watch = true.
 * Events that do not match are dropped while waiting.
 * @returns true if it arrived within @p timeout_ms.
 * @locality any @locks none
 */
bool qt_zk_wait_event(zhandle_t *zh, int type, const char *path,
                      int timeout_ms);

/* ---- operations ---------------------------------------------------- */

/**
 * @brief Read @p path.
 * @param data out: owned NUL-terminated copy of the data (free()), NULL
 * for a node with null data; may be NULL if not wanted.
 * @param len out: data length, -1 for null data; may be NULL.
 * @param stat out; may be NULL.
 * @param watch leave a data watch (see qt_zk_wait_event()).
 * @returns ZOK, ZNONODE, ZOPERATIONTIMEOUT or another ZooKeeper code.
 * @locality any @locks none
 */
int qt_zk_get(zhandle_t *zh, const char *path, char **data, int *len,
              struct Stat *stat, bool watch, int timeout_ms);

/**
 * @brief Whether @p path exists.
 * @param stat out; may be NULL.
 * @param watch leave an exists watch (fires on create, change, delete).
 * @returns ZOK (exists), ZNONODE, ZOPERATIONTIMEOUT or another code.
 * @locality any @locks none
 */
int qt_zk_exists(zhandle_t *zh, const char *path, struct Stat *stat, bool watch,
                 int timeout_ms);

/**
 * @brief Poll until @p path exists (@p want true) or is gone (false), e.g.
 * to wait for a broker's ephemeral registration.
 * @returns true if so within @p timeout_ms.
 * @locality any @locks none
 */
bool qt_zk_wait_exists(zhandle_t *zh, const char *path, bool want,
                       int timeout_ms);

/**
 * @brief Create @p path with @p len bytes of @p data (open ACL).
 * @param data borrowed; NULL with @p len -1 for null data.
 * @param flags 0, ZOO_EPHEMERAL, ZOO_SEQUENCE or both.
 * @param created out: owned actual path (free()), useful with
 * ZOO_SEQUENCE; may be NULL.
 * @returns ZOK, ZNODEEXISTS, ZNONODE (no parent), ZOPERATIONTIMEOUT, ...
 * @locality any @locks none
 */
int qt_zk_create(zhandle_t *zh, const char *path, const void *data, int len,
                 int flags, char **created, int timeout_ms);

/**
 * @brief Create @p path and any missing parents (persistent, null data
 * for the parents); a node that already exists is not an error.
 * @returns ZOK, ZOPERATIONTIMEOUT or another code.
 * @locality any @locks none
 */
int qt_zk_create_all(zhandle_t *zh, const char *path, const void *data, int len,
                     int timeout_ms);

/**
 * @brief Set @p path's data if its version is @p version (-1: any).
 * @param stat out: the node's new stat; may be NULL.
 * @returns ZOK, ZNONODE, ZBADVERSION, ZOPERATIONTIMEOUT, ...
 * @locality any @locks none
 */
int qt_zk_set(zhandle_t *zh, const char *path, const void *data, int len,
              int version, struct Stat *stat, int timeout_ms);

/**
 * @brief Delete @p path if its version is @p version (-1: any).
 * @returns ZOK, ZNONODE, ZNOTEMPTY, ZBADVERSION, ZOPERATIONTIMEOUT, ...
 * @locality any @locks none
 */
int qt_zk_delete(zhandle_t *zh, const char *path, int version, int timeout_ms);

/**
 * @brief Delete @p path and everything below it. A missing node is ZOK.
 * @returns ZOK, ZOPERATIONTIMEOUT or another code.
 * @locality any @locks none
 */
int qt_zk_delete_all(zhandle_t *zh, const char *path, int timeout_ms);

/**
 * @brief The children of @p path, sorted (strcmp order).
 * @param out out: filled on ZOK; release with deallocate_String_vector().
 * @param watch leave a child watch.
 * @returns ZOK, ZNONODE, ZOPERATIONTIMEOUT, ...
 * @locality any @locks none
 */
int qt_zk_children(zhandle_t *zh, const char *path, struct String_vector *out,
                   bool watch, int timeout_ms);

/**
 * @brief Create a chroot unique to this test, "/t-<pid>-<n>", on @p hosts
 * (a connect string without a chroot), through a short-lived session of
 * its own.
 * @returns owned connect string "hosts/t-<pid>-<n>" (free()), for the code
 * under test's zookeeper.connect; NULL with a line on stderr on failure.
 * The chroot path alone is strchr(result, '/').
 * @locality any @locks none
 */
char *qt_zk_chroot_new(const char *hosts, int timeout_ms);

/* ---- servers of a test's own (tests/harness/zk.sh) ------------------ */

/* A ZooKeeper server or ensemble started by the test itself. */
typedef struct qt_zks {
    char dir[256];   /* state directory (zk.sh DIR), removed by stop */
    char hosts[256]; /* connect string, "127.0.0.1:port[,...]" */
    int members;     /* 0: standalone, else ensemble size */
} qt_zks_t;

/**
 * @brief Start a standalone server on a free loopback port in a fresh
 * temporary directory (retrying on another port if one was taken).
 * A watchdog stops it if this process dies first.
 * @param zks out.
 * @returns true when it serves; false with the reason on stderr.
 * @locality any @locks none
 */
bool qt_zks_start(qt_zks_t *zks, int timeout_ms);

/**
 * @brief Stop the server and start a new one on the same port with an
 * empty dataDir. Clients reconnect to a server that does not know their
 * session and get ZOO_EXPIRED_SESSION_STATE: deterministic expiry.
 * @returns true when the new server serves.
 * @locality any @locks none
 */
bool qt_zks_restart_empty(qt_zks_t *zks, int timeout_ms);

/**
 * @brief Stop the server and start it again on the same port with its data
 * kept: sessions survive if they reconnect within their timeout, so
 * clients see connection loss, not expiry.
 * @returns true when it serves again.
 * @locality any @locks none
 */
bool qt_zks_restart(qt_zks_t *zks, int timeout_ms);

/**
 * @brief Start an ensemble of @p n (1..9) servers on loopback.
 * @param zks out; zks->hosts lists every member.
 * @returns true when every member serves.
 * @locality any @locks none
 */
bool qt_zks_ensemble_start(qt_zks_t *zks, int n, int timeout_ms);

/**
 * @brief Stop member @p i (1-based) of an ensemble, by PID.
 * @returns true once its JVM is gone.
 * @locality any @locks none
 */
bool qt_zks_member_stop(qt_zks_t *zks, int i, int timeout_ms);

/**
 * @brief Kill member @p i (1-based) of an ensemble with SIGKILL: a crash,
 * with no chance to close connections cleanly.
 * @returns true once its JVM is gone.
 * @locality any @locks none
 */
bool qt_zks_member_kill(qt_zks_t *zks, int i, int timeout_ms);

/**
 * @brief Start member @p i of an ensemble again.
 * @returns true once it serves (which needs a quorum up).
 * @locality any @locks none
 */
bool qt_zks_member_start(qt_zks_t *zks, int i, int timeout_ms);

/**
 * @brief Stop the server(s) of @p zks and remove its directory.
 * @returns true once every JVM is gone.
 * @locality any @locks none
 */
bool qt_zks_stop(qt_zks_t *zks, int timeout_ms);

/* ---- commands and ports -------------------------------------------- */

/* What a command run by qt_run() did. */
typedef struct qt_run_result {
    int status;     /* exit code; 128 + signal if killed by a signal */
    bool timed_out; /* the deadline passed and the command was killed */
    char *out;      /* owned, NUL-terminated stdout */
    size_t out_len;
    char *err; /* owned, NUL-terminated stderr */
    size_t err_len;
} qt_run_result_t;

/**
 * @brief Run @p argv (argv[0] searched in PATH) with @p input on its stdin,
 * capturing stdout and stderr; kill it (SIGKILL, its process group) when
 * @p timeout_ms passes.
 * @param argv borrowed, NULL-terminated.
 * @param input borrowed NUL-terminated stdin contents; NULL for /dev/null.
 * @param res out; release with qt_run_free().
 * @returns 0 when the command ran (see res->status), -1 if it could not be
 * started (errno text on stderr).
 * @locality any @locks none
 */
int qt_run(char *const argv[], const char *input, int timeout_ms,
           qt_run_result_t *res);

/** @brief Free what qt_run() stored in @p res. Accepts NULL.
 * @locality any @locks none */
void qt_run_free(qt_run_result_t *res);

/**
 * @brief A TCP port nothing on this host uses right now, chosen at random
 * in 20000..31999 (below the kernel's ephemeral range). Another process may
 * still take it before the caller binds: callers retry on EADDRINUSE.
 * @returns the port, or -1 if none was found.
 * @locality any @locks none
 */
int qt_free_port(void);

#endif /* QT_ZK_H */
