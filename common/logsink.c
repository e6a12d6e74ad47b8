/*
 * logsink: a handle's log destination and repeat summariser. See
 * logsink.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "logsink.h"

/* FNV-1a over the facility and the message */
static uint64_t line_hash(const char *fac, const char *msg)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = fac; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = msg; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

static void deliver(const qr_logsink_t *ls, int level, const char *fac,
                    const char *msg)
{
    if (ls->cb)
        ls->cb(ls->opaque, level, fac, msg);
    else
        qr_log_stderr(level, fac, msg);
}

/* The summary of @p r's suppressed repeats into @p out. */
static void summary(const qr_logsink_rep_t *r, int64_t now_ms, char *out,
                    size_t size)
{
    int64_t secs = (now_ms - r->written_ms + 999) / 1000;

    snprintf(out, size, "%s (%u more in the last %lld s)", r->msg,
             r->suppressed, (long long)(secs > 0 ? secs : 1));
}

/* Whether the line should be written now; fills @p sum with a summary to
 * write before it (or "" when none). Under ls->lock. */
static int admit(qr_logsink_t *ls, int level, const char *fac, const char *msg,
                 int64_t now_ms, char *sum, size_t sum_size, int *sum_level,
                 char *sum_fac)
{
    uint64_t h = line_hash(fac, msg);
    qr_logsink_rep_t *r = NULL;

    *sum = '\0';
    for (size_t i = 0; i < QR_LOGSINK_SLOTS && !r; i++)
        if (ls->rep[i].hash == h)
            r = &ls->rep[i];
    if (r && now_ms - r->written_ms < (int64_t)ls->window_ms) {
        r->suppressed++;
        return 0;
    }
    if (!r) {
        /* a free slot, else the one written longest ago */
        for (size_t i = 0; i < QR_LOGSINK_SLOTS && !r; i++)
            if (!ls->rep[i].hash)
                r = &ls->rep[i];
        if (!r) {
            r = &ls->rep[0];
            for (size_t i = 1; i < QR_LOGSINK_SLOTS; i++)
                if (ls->rep[i].written_ms < r->written_ms)
                    r = &ls->rep[i];
        }
    }
    if (r->hash && r->suppressed) {
        /* the evicted line's, or this line's own repeats */
        summary(r, now_ms, sum, sum_size);
        *sum_level = r->level;
        snprintf(sum_fac, sizeof(r->fac), "%s", r->fac);
        if (r->hash == h) {
            /* the summary stands for this line too */
            r->suppressed = 0;
            r->written_ms = now_ms;
            return 0;
        }
    }
    r->hash = h;
    r->level = level;
    snprintf(r->fac, sizeof(r->fac), "%s", fac);
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
    r->written_ms = now_ms;
    r->suppressed = 0;
    return 1;
}

static void sink(qr_log_ctx_t *ctx, int level, const char *fac, const char *msg)
{
    qr_logsink_t *ls = (qr_logsink_t *)ctx;
    char sum[QR_LOGSINK_MSG + 64], sum_fac[16];
    int sum_level = level, write = 1;

    if (ls->window_ms && level < QR_LOG_LVL_DEBUG) {
        pthread_mutex_lock(&ls->lock);
        write = admit(ls, level, fac, msg, qr_clock_mono_ms(), sum, sizeof(sum),
                      &sum_level, sum_fac);
        pthread_mutex_unlock(&ls->lock);
        if (*sum)
            deliver(ls, sum_level, sum_fac, sum);
    }
    if (write)
        deliver(ls, level, fac, msg);
}

void qr_logsink_init(qr_logsink_t *ls, int level, uint32_t debug,
                     qr_logsink_cb_t *cb, void *opaque, uint32_t window_ms)
{
    memset(ls, 0, sizeof(*ls));
    ls->ctx.level = debug ? QR_LOG_LVL_DEBUG : level;
    ls->ctx.debug = debug;
    ls->ctx.sink = sink;
    ls->cb = cb;
    ls->opaque = opaque;
    ls->window_ms = window_ms;
    pthread_mutex_init(&ls->lock, NULL);
}

void qr_logsink_flush(qr_logsink_t *ls, int64_t now_ms, int all)
{
    for (size_t i = 0; i < QR_LOGSINK_SLOTS; i++) {
        qr_logsink_rep_t *r = &ls->rep[i];
        char sum[QR_LOGSINK_MSG + 64], fac[16] = "";
        int level = 0;

        pthread_mutex_lock(&ls->lock);
        *sum = '\0';
        if (r->hash && r->suppressed &&
            (all || now_ms - r->written_ms >= (int64_t)ls->window_ms)) {
            summary(r, now_ms, sum, sizeof(sum));
            level = r->level;
            snprintf(fac, sizeof(fac), "%s", r->fac);
            r->suppressed = 0;
            r->written_ms = now_ms;
        }
        pthread_mutex_unlock(&ls->lock);
        if (*sum)
            deliver(ls, level, fac, sum);
    }
}

void qr_logsink_fini(qr_logsink_t *ls)
{
    if (!ls->ctx.sink)
        return;
    qr_logsink_flush(ls, qr_clock_mono_ms(), 1);
    pthread_mutex_destroy(&ls->lock);
    ls->ctx.sink = NULL;
}

qr_log_ctx_t *qr_logsink_enter(qr_logsink_t *ls)
{
    return qr_log_ctx_swap(&ls->ctx);
}
