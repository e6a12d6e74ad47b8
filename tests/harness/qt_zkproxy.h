/*
 * qt_zkproxy: drives tests/harness/zkproxy.py, a TCP proxy between
 * ZooKeeper clients and the test's server that loses connections on
 * purpose (cut after a chosen request, hold or delay replies, cut on
 * command), so that "applied but the answer lost" happens when a test
 * wants it (issue 21). See zkproxy.py for the commands and events.
 *
 * The proxy is a child process (/usr/bin/python3) stopped by its PID in
 * qt_zkproxy_stop(). Every call takes a deadline.
 *
 * @locality test thread @locks none
 */
#ifndef QT_ZKPROXY_H
#define QT_ZKPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct qt_zkproxy {
    pid_t pid;
    int in_fd;  /* its standard input: commands */
    int out_fd; /* its standard output: answers and events */
    int port;   /* where clients connect (127.0.0.1) */
    char buf[4096];
    size_t buf_len;
    char **events; /* owned: "EVENT ..." lines not yet taken */
    size_t event_cnt, event_cap;
} qt_zkproxy_t;

/**
 * @brief Starts a proxy to @p upstream ("127.0.0.1:port") and waits for
 * its port. @returns owned (qt_zkproxy_stop()), or NULL (why on stderr).
 */
qt_zkproxy_t *qt_zkproxy_start(const char *upstream, int timeout_ms);

/**
 * @brief The same for another proxy script speaking the same command
 * protocol ("PORT n", then "OK" per command): brokerproxy.py (issue 22).
 */
qt_zkproxy_t *qt_proxy_start(const char *script, const char *upstream,
                             int timeout_ms);

/**
 * @brief Sends one command line (printf-style) and waits for its "OK".
 * @returns true on "OK".
 */
bool qt_zkproxy_cmd(qt_zkproxy_t *p, int timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * @brief Waits for an event line starting with "EVENT " @p prefix, taking
 * it and the events before it off the list.
 * @param line may be NULL; else the line (without "EVENT ").
 * @returns true when seen before the deadline.
 */
bool qt_zkproxy_wait_event(qt_zkproxy_t *p, const char *prefix, int timeout_ms,
                           char *line, size_t line_size);

/** @brief Reads what the proxy printed so far (waiting up to @p ms); the
 * event lines are in p->events (owned by @p p). */
void qt_zkproxy_pump(qt_zkproxy_t *p, int ms);

/** @brief "host:port" of the proxy with @p chroot appended (may be NULL or
 * ""). @returns owned. */
char *qt_zkproxy_connect_string(const qt_zkproxy_t *p, const char *chroot);

/** @brief Stops the proxy (by PID) and frees @p p. Accepts NULL. */
void qt_zkproxy_stop(qt_zkproxy_t *p);

#endif /* QT_ZKPROXY_H */
