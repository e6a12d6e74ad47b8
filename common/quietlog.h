/*
 * quietlog: repeated warnings logged once, then summarised (issue 15).
 *
 * A condition that repeats per retry (a refused connection, the ZooKeeper
 * client failing to reach its server every few hundred milliseconds) must
 * not flood stderr or the journal. A qr_quiet_t remembers the last few
 * "keys" (what repeats: "connect 127.0.0.1:9092", "check_events@3011"):
 * the first occurrence of a key is logged at once; later ones within
 * @c interval_ms are counted, not logged; the first one after the interval
 * is logged with the count of those held back ("... (and 37 more like it in
 * the last 5 s)"), and the interval starts again. qr_quiet_clear() ends a
 * condition (the connection came back): the next occurrence is logged at
 * once again, and the caller learns how many went unreported.
 *
 * Unlike qr_ratelimit_t (a burst per window, per connection), a qr_quiet_t
 * is keyed, so different problems do not hide each other, and it is
 * thread-safe (a mutex), so one can serve a process-wide log callback such
 * as the ZooKeeper client's. Usable by the broker and libquire alike:
 * nothing here knows sockets or ZooKeeper.
 *
 * Ownership: embed or define one per source of repetition (static is fine:
 * QR_QUIET_INIT); keys are copied (cut at QR_QUIET_KEY_LEN - 1 bytes).
 */
#ifndef QR_QUIETLOG_H
#define QR_QUIETLOG_H

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>

#include "clock.h"
#include "logging.h"

#define QR_QUIET_SLOTS   16 /* keys remembered; the oldest is recycled */
#define QR_QUIET_KEY_LEN 96

/** The default summary interval: "at most every few seconds". */
#define QR_QUIET_INTERVAL_MS 5000

typedef struct qr_quiet_slot {
    char key[QR_QUIET_KEY_LEN];
    int64_t logged_ms; /* when a line for it was last written; 0: free */
    uint64_t held;     /* occurrences held back since */
} qr_quiet_slot_t;

typedef struct qr_quiet {
    pthread_mutex_t mu;
    uint32_t interval_ms;
    qr_quiet_slot_t slots[QR_QUIET_SLOTS];
} qr_quiet_t;

#define QR_QUIET_INIT(interval_ms)                \
    {                                             \
        PTHREAD_MUTEX_INITIALIZER, (interval_ms), \
        {                                         \
            {                                     \
                "", 0, 0                          \
            }                                     \
        }                                         \
    }

/**
 * @brief Whether to log this occurrence of @p key now.
 * @param repeats set when 1 is returned: the occurrences held back since
 *        the last line for @p key (0 the first time).
 * @returns 1: log it (mention *@p repeats when non-zero); 0: held back.
 * @locality any  @locks takes @p q's mutex
 */
int qr_quiet_admit(qr_quiet_t *q, const char *key, int64_t now_ms,
                   uint64_t *repeats);

/**
 * @brief The condition behind @p key is over (NULL: every key): its next
 * occurrence is logged at once.
 * @returns the occurrences held back and never reported.
 * @locality any  @locks takes @p q's mutex
 */
uint64_t qr_quiet_clear(qr_quiet_t *q, const char *key);

/**
 * QR_LOG, through @p q: the first occurrence of @p key, then at most one
 * line per interval with the count held back. The level is tested first,
 * so a line below qr_log_level costs nothing and is not counted.
 */
#define QR_LOG_QUIET(q, level, fac, key, fmt, ...)                        \
    do {                                                                  \
        uint64_t qr_rep_;                                                 \
        if ((level) <= qr_log_level &&                                    \
            qr_quiet_admit((q), (key), qr_clock_mono_ms(), &qr_rep_)) {   \
            if (qr_rep_)                                                  \
                qr_log_write((level), (fac), __FILE__, __LINE__,          \
                             fmt " (and %" PRIu64 " more like it in the " \
                                 "last %u s)",                            \
                             __VA_ARGS__, qr_rep_,                        \
                             (unsigned)((q)->interval_ms / 1000));        \
            else                                                          \
                qr_log_write((level), (fac), __FILE__, __LINE__, fmt,     \
                             __VA_ARGS__);                                \
        }                                                                 \
    } while (0)

#endif /* QR_QUIETLOG_H */
