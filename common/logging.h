/*
 * logging: one line per event on stderr (STYLE.md §6, DESIGN.md §8):
 *   2026-11-25T15:25:23.123Z WARN 1 SEG message
 * ISO-8601 UTC timestamp, level, broker id (or "-"), facility, message.
 * Debug lines end with " (file:line)". A line is at most 2047 bytes with its
 * newline (longer messages are cut), and control characters inside the
 * message become '?', so one event is always exactly one line.
 *
 * The process-wide settings (level, debug contexts, broker id) are written
 * once by main() before any thread starts, through qr_log_setup(), and only
 * read afterwards; that is the one exception to "no global mutable state".
 * Each line is written with a single write(2), so lines from different
 * threads never interleave.
 */
#ifndef QR_LOGGING_H
#define QR_LOGGING_H

#include <stdarg.h>
#include <stdint.h>

/* syslog's levels */
#define QR_LOG_LVL_ERR     3
#define QR_LOG_LVL_WARNING 4
#define QR_LOG_LVL_NOTICE  5
#define QR_LOG_LVL_INFO    6
#define QR_LOG_LVL_DEBUG   7

/* Debug contexts, the values of the `debug=` key (RK RD_KAFKA_DBG_*). */
#define QR_DBG_TABLE(X)   \
    X(ZK, "zk")           \
    X(PROTO, "proto")     \
    X(FETCH, "fetch")     \
    X(PRODUCE, "produce") \
    X(LOG, "log")         \
    X(GROUP, "group")     \
    X(CONF, "conf")       \
    X(NET, "net")

/* (clang-format would indent the sentinel after the macro expansion) */
/* clang-format off */
enum qr_dbg_bit {
#define QR_DBG_BIT(name, str) QR_DBG_BIT_##name,
    QR_DBG_TABLE(QR_DBG_BIT)
#undef QR_DBG_BIT
    QR_DBG_BIT_COUNT
};
/* clang-format on */
#define QR_DBG_ZK      (1u << QR_DBG_BIT_ZK)
#define QR_DBG_PROTO   (1u << QR_DBG_BIT_PROTO)
#define QR_DBG_FETCH   (1u << QR_DBG_BIT_FETCH)
#define QR_DBG_PRODUCE (1u << QR_DBG_BIT_PRODUCE)
#define QR_DBG_LOG     (1u << QR_DBG_BIT_LOG)
#define QR_DBG_GROUP   (1u << QR_DBG_BIT_GROUP)
#define QR_DBG_CONF    (1u << QR_DBG_BIT_CONF)
#define QR_DBG_NET     (1u << QR_DBG_BIT_NET)
#define QR_DBG_ALL     ((1u << QR_DBG_BIT_COUNT) - 1)

/* Read-only after qr_log_setup(); see the file comment. */
extern int qr_log_level;
extern uint32_t qr_log_debug;

/**
 * A thread's own logging context (issue 18): its level and debug contexts
 * replace the process-wide ones, and @c sink, when set, receives each line
 * instead of stderr. libquire installs one per handle on the handle's
 * threads (its loop thread, and application threads inside its calls), so
 * two handles in one process log as each was configured. Embed it at the
 * start of the owner's structure (logsink.h does).
 */
typedef struct qr_log_ctx qr_log_ctx_t;
struct qr_log_ctx {
    int level;
    uint32_t debug;
    /** @p msg is the scrubbed message without the prefix; borrowed. */
    void (*sink)(qr_log_ctx_t *ctx, int level, const char *fac,
                 const char *msg);
};

/* The current thread's context, NULL for the process-wide settings. */
extern _Thread_local qr_log_ctx_t *qr_log_tls;

/** The level and debug contexts in force on this thread. */
#define QR_LOG_LEVEL_NOW() (qr_log_tls ? qr_log_tls->level : qr_log_level)
#define QR_LOG_DEBUG_NOW() (qr_log_tls ? qr_log_tls->debug : qr_log_debug)

/**
 * @brief Installs @p ctx (may be NULL) as this thread's context.
 * @returns the one it replaces, to give back to qr_log_ctx_swap() when
 *          the scope ends.
 * @locality any  @locks none
 */
qr_log_ctx_t *qr_log_ctx_swap(qr_log_ctx_t *ctx);

/**
 * @brief Writes one line as qr_log_write() formats it (prefix, @p msg,
 * newline) to stderr, bypassing any context: for sinks that print.
 * @locality any  @locks none
 */
void qr_log_stderr(int level, const char *fac, const char *msg);

/**
 * @brief Sets the level, debug contexts and broker id (-1: none) for the
 * process. Call from main() before threads start.
 * @locality main, at start-up  @locks none
 */
void qr_log_setup(int level, uint32_t debug, int broker_id);

/**
 * @brief Parses a `debug=` value ("zk,proto", "all", "") into a mask.
 * @param bad if non-NULL and a word is unknown, set to point at it inside
 *        @p list (borrowed).
 * @returns 0, or -1 when a word is unknown.
 * @locality any  @locks none
 */
int qr_log_debug_parse(const char *list, uint32_t *maskp, const char **bad);

/**
 * @brief Formats and writes one line. Use the macros, which test the level
 * before evaluating their arguments.
 * @locality any  @locks none
 */
void qr_log_write(int level, const char *fac, const char *file, int line,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define QR_LOG(level, fac, ...)                                            \
    do {                                                                   \
        if ((level) <= QR_LOG_LEVEL_NOW())                                 \
            qr_log_write((level), (fac), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define QR_LOG_ERR(fac, ...)    QR_LOG(QR_LOG_LVL_ERR, fac, __VA_ARGS__)
#define QR_LOG_WARN(fac, ...)   QR_LOG(QR_LOG_LVL_WARNING, fac, __VA_ARGS__)
#define QR_LOG_NOTICE(fac, ...) QR_LOG(QR_LOG_LVL_NOTICE, fac, __VA_ARGS__)
#define QR_LOG_INFO(fac, ...)   QR_LOG(QR_LOG_LVL_INFO, fac, __VA_ARGS__)

/* Debug lines appear only when their context is enabled by `debug=`. */
#define QR_DBG(ctx, fac, ...)                                         \
    do {                                                              \
        if (QR_LOG_DEBUG_NOW() & (ctx))                               \
            qr_log_write(QR_LOG_LVL_DEBUG, (fac), __FILE__, __LINE__, \
                         __VA_ARGS__);                                \
    } while (0)

/**
 * @brief Logs "assertion failed: EXPR at FILE:LINE" and aborts. Use
 * QR_ASSERT, which stays on in release builds (RD serverAssert), for
 * invariants whose violation is our bug; never for peer input or disk data.
 * @locality any  @locks none
 */
void qr_log_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

#define QR_ASSERT(expr)                                    \
    do {                                                   \
        if (__builtin_expect(!(expr), 0))                  \
            qr_log_assert_fail(#expr, __FILE__, __LINE__); \
    } while (0)

/**
 * A rate limiter for peer-caused errors (STYLE.md §6): at most @c burst
 * lines per @c window_ms; owned by whatever object it limits (e.g. one per
 * connection), not shared between threads.
 */
typedef struct qr_ratelimit {
    int64_t window_start_ms;
    uint32_t count;
    uint32_t suppressed;
    uint32_t burst;
    uint32_t window_ms;
} qr_ratelimit_t;

#define QR_RATELIMIT_INIT(burst, window_ms) \
    {                                       \
        0, 0, 0, (burst), (window_ms)       \
    }

/**
 * @brief Whether a line may be written now. When a new window starts and
 * lines were suppressed in the last one, *@p suppressed gets their number
 * (so the caller can say "N more suppressed").
 * @locality the owner's thread  @locks none
 */
int qr_ratelimit_ok(qr_ratelimit_t *rl, int64_t now_ms, uint32_t *suppressed);

#endif /* QR_LOGGING_H */
