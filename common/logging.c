/*
 * logging: formatting and the single write(2) per line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

int qr_log_level = QR_LOG_LVL_INFO;
uint32_t qr_log_debug = 0;
static int log_broker_id = -1;

static const char *const level_names[] = {
    "EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG",
};

static const char *const dbg_names[] = {
#define DBG_NAME(name, str) str,
    QR_DBG_TABLE(DBG_NAME)
#undef DBG_NAME
};
_Static_assert(sizeof(dbg_names) / sizeof(dbg_names[0]) == QR_DBG_BIT_COUNT,
               "debug names and bits out of step");

void qr_log_setup(int level, uint32_t debug, int broker_id)
{
    qr_log_level = debug ? QR_LOG_LVL_DEBUG : level;
    qr_log_debug = debug;
    log_broker_id = broker_id;
}

static int debug_word(const char *w, size_t n, uint32_t *maskp)
{
    if (n == 3 && !strncmp(w, "all", 3)) {
        *maskp |= QR_DBG_ALL;
        return 0;
    }
    for (int i = 0; i < QR_DBG_BIT_COUNT; i++)
        if (strlen(dbg_names[i]) == n && !strncmp(w, dbg_names[i], n)) {
            *maskp |= 1u << i;
            return 0;
        }
    return -1;
}

int qr_log_debug_parse(const char *list, uint32_t *maskp, const char **bad)
{
    uint32_t mask = 0;
    const char *p = list;

    while (*p) {
        size_t n;
        while (*p == ',' || *p == ' ')
            p++;
        n = strcspn(p, ", ");
        if (n && debug_word(p, n, &mask) == -1) {
            if (bad)
                *bad = p;
            return -1;
        }
        p += n;
    }
    *maskp = mask;
    return 0;
}

/* Adds a snprintf result to @p len, clamped so that the newline still
 * fits: a long message is cut, never allowed past the buffer. */
static size_t advance(size_t len, int n, size_t size)
{
    if (n > 0)
        len += (size_t)n;
    return len > size - 2 ? size - 2 : len;
}

/* "2026-11-25T15:25:23.123Z WARN 1 SEG " */
static size_t format_prefix(char *out, size_t size, int level, const char *fac)
{
    char id[16] = "-";
    struct timeval tv;
    struct tm tm;
    size_t len;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    len = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (log_broker_id >= 0)
        snprintf(id, sizeof(id), "%d", log_broker_id);
    return advance(len,
                   snprintf(out + len, size - len, ".%03dZ %s %s %s ",
                            (int)(tv.tv_usec / 1000), level_names[level], id,
                            fac),
                   size);
}

/* One event, one line: a newline or other control byte inside a message
 * (a client id, a path, text from a peer) would split or forge lines. */
static void scrub(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            p[i] = '?';
}

_Thread_local qr_log_ctx_t *qr_log_tls;

qr_log_ctx_t *qr_log_ctx_swap(qr_log_ctx_t *ctx)
{
    qr_log_ctx_t *prev = qr_log_tls;

    qr_log_tls = ctx;
    return prev;
}

/* Writes prefix + the @p len bytes at @p msg + newline in one write(2). */
static void write_line(int level, const char *fac, const char *msg,
                       size_t msg_len)
{
    char out[2048];
    size_t len = format_prefix(out, sizeof(out), level, fac);

    if (msg_len > sizeof(out) - 2 - len)
        msg_len = sizeof(out) - 2 - len;
    memcpy(out + len, msg, msg_len);
    len += msg_len;
    out[len++] = '\n';

    ssize_t w = write(STDERR_FILENO, out, len);
    (void)w;
}

void qr_log_stderr(int level, const char *fac, const char *msg)
{
    if (level < 0 || level > QR_LOG_LVL_DEBUG)
        level = QR_LOG_LVL_ERR;
    write_line(level, fac, msg, strlen(msg));
}

void qr_log_write(int level, const char *fac, const char *file, int line,
                  const char *fmt, ...)
{
    int saved = errno; /* callers may log errno text after us: keep it */
    char msg[2048];
    size_t len;
    va_list ap;

    if (level < 0 || level > QR_LOG_LVL_DEBUG)
        level = QR_LOG_LVL_ERR;
    va_start(ap, fmt);
    len = advance(0, vsnprintf(msg, sizeof(msg), fmt, ap), sizeof(msg));
    va_end(ap);
    /* Debug lines say where they come from; the others stay short. */
    if (level == QR_LOG_LVL_DEBUG)
        len = advance(
            len, snprintf(msg + len, sizeof(msg) - len, " (%s:%d)", file, line),
            sizeof(msg));
    msg[len] = '\0';
    scrub(msg, len);
    if (qr_log_tls && qr_log_tls->sink)
        qr_log_tls->sink(qr_log_tls, level, fac, msg);
    else
        write_line(level, fac, msg, len);
    errno = saved;
}

int qr_ratelimit_ok(qr_ratelimit_t *rl, int64_t now_ms, uint32_t *suppressed)
{
    if (suppressed)
        *suppressed = 0;
    if (now_ms - rl->window_start_ms >= (int64_t)rl->window_ms) {
        if (suppressed)
            *suppressed = rl->suppressed;
        rl->window_start_ms = now_ms;
        rl->count = 0;
        rl->suppressed = 0;
    }
    if (rl->count < rl->burst) {
        rl->count++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}

void qr_log_assert_fail(const char *expr, const char *file, int line)
{
    qr_log_write(QR_LOG_LVL_ERR, "ASSERT", file, line,
                 "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
