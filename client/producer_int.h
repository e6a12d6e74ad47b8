/*
 * producer_int: what tests may read of a producer's internals
 * (producer.c). Not part of libquire's exported API.
 */
#ifndef QR_PRODUCER_INT_H
#define QR_PRODUCER_INT_H

#include "accum.h"
#include "quire.h"

typedef struct qr_producer_stats {
    int senders;          /* threads inside quire_producer_send() */
    qr_accum_stats_t acc; /* the accumulator's counters */
} qr_producer_stats_t;

/**
 * @brief Reads the counters.
 * @locality any (not after close)  @locks takes the accumulator's
 */
void qr_producer_stats(quire_producer_t *p, qr_producer_stats_t *st);

#endif /* QR_PRODUCER_INT_H */
