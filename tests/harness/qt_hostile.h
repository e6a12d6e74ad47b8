/*
 * qt_hostile: a hostile client for tests (issue 17), and probes of what it
 * costs the broker.
 *
 * A test that wants to show one client cannot hurt a broker does three
 * things, each here:
 *
 *  - opens raw TCP connections to 127.0.0.1 that misbehave:
 *    qt_hostile_connect() with a tiny receive buffer (a slow reader that
 *    never reads its answers), qt_hostile_send_prefix() (a frame prefix
 *    declaring a large frame, then nothing: a prefix-only sender),
 *    qt_hostile_send_partial() (part of a declared frame, bounded in time);
 *  - sends crafted requests that a well-behaved client never would:
 *    qt_hostile_fetch_frame() (one Fetch naming a partition many times over,
 *    with any max_wait_ms), qt_hostile_metadata_frame() (many topics with
 *    auto-creation), both as raw frame bytes for qt_hostile_send_all() or
 *    qt_client_send_raw();
 *  - measures the broker process from outside: qt_proc_status_kb() (VmRSS,
 *    VmSize from /proc/<pid>/status), qt_proc_fds() (entries of
 *    /proc/<pid>/fd, optionally only sockets or only deleted files) and
 *    qt_dir_disk_bytes() (blocks really allocated under a directory).
 *
 * Everything is bounded: every wait takes a deadline in ms, every loop a
 * count. Connections go only to the address given (tests give a broker's
 * loopback address). Ownership: frames returned are owned by the caller
 * (free()); fds are the caller's to close.
 *
 * @locality test process  @locks none
 */
#ifndef QT_HOSTILE_H
#define QT_HOSTILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * @brief A blocking TCP connection to "host:port" (loopback).
 * @param rcvbuf SO_RCVBUF to set before connecting (a slow reader: a small
 *        value keeps the broker's answer in its own queue); 0 = default.
 * @returns the fd, or -1 (a line on stderr says why).
 */
int qt_hostile_connect(const char *addr, int rcvbuf);

/**
 * @brief Sends all of @p len bytes within @p timeout_ms (poll + send).
 * @returns the bytes sent: less than @p len when the peer stopped reading
 *          (or closed) before the deadline.
 */
size_t qt_hostile_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/**
 * @brief Sends a frame prefix (u32 frame_len, u32 header_len) declaring
 * @p frame_len bytes to follow, and nothing else.
 * @returns 0, or -1 when it could not be sent.
 */
int qt_hostile_send_prefix(int fd, uint32_t frame_len);

/**
 * @brief Sends a prefix declaring @p frame_len bytes, then up to @p send
 * bytes of filler, for at most @p timeout_ms.
 * @returns the filler bytes the broker took.
 */
size_t qt_hostile_send_partial(int fd, uint32_t frame_len, size_t send,
                               int timeout_ms);

/**
 * @brief Builds a Fetch frame naming @p topic / @p partition @p repeat
 * times (well-formed but for the repetition), then partitions 0, 1, ...,
 * @p distinct - 1 of the same topic, each from offset 0.
 * @param max_wait_ms what the request asks (any int32, INT32_MAX included).
 * @returns owned frame bytes (free()), length in @p len; NULL on failure.
 */
uint8_t *qt_hostile_fetch_frame(const char *topic, int32_t partition,
                                size_t repeat, size_t distinct,
                                int32_t max_wait_ms, int32_t min_bytes,
                                int32_t correlation_id, size_t *len);

/**
 * @brief Builds a Metadata frame for @p n topics "<prefix>-<i>" with
 * allow_auto_topic_creation set.
 * @returns owned frame bytes (free()), length in @p len; NULL on failure.
 */
uint8_t *qt_hostile_metadata_frame(const char *prefix, size_t n,
                                   int32_t correlation_id, size_t *len);

/**
 * @brief A field of /proc/<pid>/status in kB ("VmRSS", "VmSize").
 * @returns the value, or -1 when the process or field is absent.
 */
long qt_proc_status_kb(pid_t pid, const char *field);

/** What qt_proc_fds() counts. */
typedef enum {
    QT_FDS_ALL,
    QT_FDS_SOCKETS, /* "socket:[...]" */
    QT_FDS_DELETED, /* a file under @p under unlinked while open */
} qt_fds_kind_t;

/**
 * @brief Counts entries of /proc/<pid>/fd of one kind.
 * @param under for QT_FDS_DELETED: only files whose path starts with it
 *        (a broker's log dir; the test framework's own temporary files are
 *        deleted-but-open too). Ignored otherwise; may be NULL.
 * @returns the count, or -1 when the directory cannot be read.
 */
int qt_proc_fds(pid_t pid, qt_fds_kind_t kind, const char *under);

/**
 * @brief Bytes of disk held by files under @p under that are unlinked but
 * still open in process @p pid (space retention freed on paper only).
 * @returns the sum of their st_blocks * 512, or -1 on error.
 */
long long qt_proc_deleted_bytes(pid_t pid, const char *under);

/**
 * @brief Bytes of disk really allocated (st_blocks * 512) to the regular
 * files under @p dir, recursively (sparse files count what they use).
 * @returns the sum, or -1 when @p dir cannot be read.
 */
long long qt_dir_disk_bytes(const char *dir);

/**
 * @brief Whether the broker closed @p fd: reads (and drops) what arrives
 * until EOF or a reset, for at most @p timeout_ms.
 * @returns 1 closed, 0 still open at the deadline.
 */
int qt_hostile_wait_closed(int fd, int timeout_ms);

/** @brief Monotonic milliseconds. */
long long qt_hostile_now_ms(void);

#endif /* QT_HOSTILE_H */
