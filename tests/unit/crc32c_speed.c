/*
 * crc32c_speed: a by-hand throughput check of the two CRC-32C paths on
 * 1 MiB buffers (not a test: speed is never asserted). bench/micro does the
 * full comparison; this is for working on crc32c.c itself.
 *   tests/unit/crc32c_speed [MiB-per-path]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crc32c.h"

#define BUF_SIZE (1 << 20)

typedef uint32_t crc_fn(uint32_t, const void *, size_t);

static double gbps(crc_fn *fn, const uint8_t *p, int reps, uint32_t *sink)
{
    int64_t t0 = qr_clock_mono_ns(), t1;
    uint32_t c = 0;

    for (int i = 0; i < reps; i++)
        c ^= fn(0, p, BUF_SIZE);
    t1 = qr_clock_mono_ns();
    *sink ^= c;
    return (double)BUF_SIZE * reps / (double)(t1 - t0);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 2000;
    uint8_t *p = malloc(BUF_SIZE), *q = malloc(BUF_SIZE);
    uint32_t sink = 0;
    int64_t t0, t1;

    if (!p || !q || reps < 1 || reps > 1000000) {
        fprintf(stderr, "usage: %s [repetitions, 1..1000000]\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < BUF_SIZE; i++)
        p[i] = (uint8_t)(i * 2654435761u >> 13);
    gbps(qr_crc32c, p, 10, &sink); /* warm up, resolve the dispatch */

    printf("crc32c hw%s: %6.2f GB/s\n",
           qr_crc32c_hw_available() ? "" : " (no SSE4.2: sw)",
           gbps(qr_crc32c_hw, p, reps, &sink));
    printf("crc32c sw:    %6.2f GB/s\n",
           gbps(qr_crc32c_sw, p, reps / 4 + 1, &sink));
    t0 = qr_clock_mono_ns();
    for (int i = 0; i < reps; i++) {
        memcpy(q, p, BUF_SIZE);
        p[i % BUF_SIZE] ^= q[(i * 7) % BUF_SIZE]; /* keep the copy live */
    }
    t1 = qr_clock_mono_ns();
    printf("memcpy:       %6.2f GB/s   (1 MiB, %d reps, sink %08x)\n",
           (double)BUF_SIZE * reps / (double)(t1 - t0), reps, sink);
    free(p);
    free(q);
    return 0;
}
