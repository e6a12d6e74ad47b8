/*
 * thread: what the daemon's threads are called, so that top -H, perf and
 * /proc/<pid>/task/<tid>/comm tell a network thread from a flusher.
 *
 * Ownership: nothing is kept; @p base is copied.
 */
#ifndef QR_THREAD_H
#define QR_THREAD_H

#include <pthread.h>

/* Names @p t "<base>-<idx>" (just "<base>" when @p idx < 0), cut to the
 * 15 bytes Linux keeps. A failure is ignored: a name is a convenience. */
void qr_thread_name(pthread_t t, const char *base, int idx);

#endif
