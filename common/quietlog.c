/*
 * quietlog: keyed suppression of repeated log lines (see quietlog.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "quietlog.h"

/* The slot of @p key, or NULL. Mutex held. */
static qr_quiet_slot_t *find(qr_quiet_t *q, const char *key)
{
    for (int i = 0; i < QR_QUIET_SLOTS; i++)
        if (q->slots[i].logged_ms != 0 &&
            strncmp(q->slots[i].key, key, QR_QUIET_KEY_LEN - 1) == 0)
            return &q->slots[i];
    return NULL;
}

/* A free slot, else the one logged longest ago. Mutex held. */
static qr_quiet_slot_t *take(qr_quiet_t *q)
{
    qr_quiet_slot_t *old = &q->slots[0];

    for (int i = 0; i < QR_QUIET_SLOTS; i++) {
        if (q->slots[i].logged_ms == 0)
            return &q->slots[i];
        if (q->slots[i].logged_ms < old->logged_ms)
            old = &q->slots[i];
    }
    return old;
}

int qr_quiet_admit(qr_quiet_t *q, const char *key, int64_t now_ms,
                   uint64_t *repeats)
{
    qr_quiet_slot_t *s;
    int ok = 1;

    if (now_ms <= 0)
        now_ms = 1; /* 0 marks a free slot */
    pthread_mutex_lock(&q->mu);
    s = find(q, key);
    if (!s) {
        s = take(q);
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->held = 0;
        s->logged_ms = now_ms;
        *repeats = 0;
    } else if (now_ms - s->logged_ms >= (int64_t)q->interval_ms) {
        *repeats = s->held;
        s->held = 0;
        s->logged_ms = now_ms;
    } else {
        s->held++;
        ok = 0;
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

uint64_t qr_quiet_clear(qr_quiet_t *q, const char *key)
{
    uint64_t held = 0;

    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < QR_QUIET_SLOTS; i++) {
        qr_quiet_slot_t *s = &q->slots[i];
        if (s->logged_ms == 0 ||
            (key && strncmp(s->key, key, QR_QUIET_KEY_LEN - 1) != 0))
            continue;
        held += s->held;
        s->held = 0;
        s->logged_ms = 0;
        s->key[0] = '\0';
    }
    pthread_mutex_unlock(&q->mu);
    return held;
}
