/*
 * clock: the two clocks quire reads.
 *
 * Monotonic time (CLOCK_MONOTONIC) for timeouts, intervals, rate limits and
 * durations: it never jumps when the wall clock is set. Wall-clock time
 * (CLOCK_REALTIME) only where the value leaves the process as a date:
 * record timestamps (Kafka's CreateTime, milliseconds since the Unix
 * epoch) and ZooKeeper registration times.
 *
 * No state; every function: @locality any, @locks none.
 */
#ifndef QR_CLOCK_H
#define QR_CLOCK_H

#include <stdint.h>

/**
 * @brief Monotonic time in nanoseconds from an arbitrary origin (fixed for
 * the life of the machine's boot). Never decreases.
 * @locality any  @locks none
 */
int64_t qr_clock_mono_ns(void);

/**
 * @brief Monotonic time in milliseconds, same origin as qr_clock_mono_ns.
 * @locality any  @locks none
 */
int64_t qr_clock_mono_ms(void);

/**
 * @brief Wall-clock time in milliseconds since 1970-01-01T00:00:00Z, as in
 * Kafka record timestamps. May jump when the system clock is set.
 * @locality any  @locks none
 */
int64_t qr_clock_real_ms(void);

#endif /* QR_CLOCK_H */
