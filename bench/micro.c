/*
 * micro: throughput of the per-byte and per-record hot paths of common/
 * (issue 2 item 9). A program, not a test: it prints figures and never
 * fails on them.
 *
 *   crc32c      GB/s over one 1 MiB buffer, beside memcpy GB/s of the same
 *               buffer in the same run (the machine's memory bandwidth);
 *   build       records/s appending 100-byte records into 1 MiB batches
 *               (init, append until BUF_FULL, finish with header and CRC);
 *   validate    GB/s of qr_batch_validate(QR_BATCH_CHECK_CRC) on 1 MiB
 *               batches, what the broker runs on every produce;
 *   plus, for context, CHECK_RECORDS validation and building with lz4/zstd.
 *
 *   bench/micro [-t SECONDS]   time per measurement (default 0.5, max 10)
 *
 * Rates are per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so that other load on a shared machine, which takes the CPU away from
 * the benchmark, does not count against the code measured; the wall-clock
 * time bounds each measurement.
 *
 * Targets (issue 2): crc32c >= 8 GB/s, validation >= 5 GB/s, building
 * >= 10,000,000 records/s. Measure a build configured without
 * --enable-sanitizers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "clock.h"
#include "codec.h"
#include "crc32c.h"

#define MIB        (1 << 20)
#define VALUE_SIZE 100
#define MAX_REPS   1000000 /* bound every loop in count as well as time */

static volatile uint32_t sink; /* keeps results live */

typedef struct meter {
    int64_t t0, cpu0, limit_ns;
    long reps;
} meter_t;

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void meter_start(meter_t *m, double seconds)
{
    m->limit_ns = (int64_t)(seconds * 1e9);
    m->reps = 0;
    m->t0 = qr_clock_mono_ns();
    m->cpu0 = cpu_ns();
}

/* Counts one repetition; false once the time or the count is used up. */
static int meter_more(meter_t *m)
{
    m->reps++;
    return m->reps < MAX_REPS && qr_clock_mono_ns() - m->t0 < m->limit_ns;
}

/* CPU seconds used since meter_start(). */
static double meter_secs(const meter_t *m)
{
    return (double)(cpu_ns() - m->cpu0) / 1e9;
}

typedef uint32_t crc_fn(uint32_t, const void *, size_t);

static double crc_gbps(crc_fn *fn, const uint8_t *p, double secs)
{
    meter_t m;
    uint32_t c = 0;
    meter_start(&m, secs);
    do
        c ^= fn(c, p, MIB);
    while (meter_more(&m));
    sink ^= c;
    return (double)MIB * (double)m.reps / meter_secs(&m) / 1e9;
}

static double memcpy_gbps(uint8_t *dst, uint8_t *src, double secs)
{
    meter_t m;
    meter_start(&m, secs);
    do {
        memcpy(dst, src, MIB);
        src[m.reps % MIB] ^= dst[(m.reps * 7) % MIB]; /* keep it live */
    } while (meter_more(&m));
    return (double)MIB * (double)m.reps / meter_secs(&m) / 1e9;
}

/* Fills one 1 MiB batch with 100-byte records (null key, no headers,
 * rising timestamps). Returns the record count, the batch in *batch. */
static int fill_batch(uint8_t *buf, uint8_t *out, int codec,
                      const uint8_t *value, int64_t ts, const uint8_t **batch,
                      size_t *len)
{
    qr_batch_builder_t b;
    int n = 0;

    if (qr_batch_builder_init(&b, buf, MIB, codec) != QUIRE_ERR_NONE)
        abort();
    while (qr_batch_builder_append(&b, ts + n, NULL, 0, value, VALUE_SIZE, NULL,
                                   0) == QUIRE_ERR_NONE)
        n++;
    if (qr_batch_builder_finish(&b, out, MIB, batch, len) != QUIRE_ERR_NONE)
        abort();
    return n;
}

static double build_rate(int codec, uint8_t *buf, uint8_t *out,
                         const uint8_t *value, double secs, double *mb_out)
{
    meter_t m;
    const uint8_t *batch;
    size_t len, bytes = 0;
    long records = 0;

    meter_start(&m, secs);
    do {
        records += fill_batch(buf, out, codec, value, 1700000000000 + m.reps,
                              &batch, &len);
        bytes += len;
        sink ^= batch[len - 1];
    } while (meter_more(&m));
    double s = meter_secs(&m);
    *mb_out = (double)bytes / (double)m.reps / (double)MIB;
    return (double)records / s;
}

static double validate_gbps(const uint8_t *batch, size_t len,
                            qr_batch_check_t check, double secs)
{
    meter_t m;
    qr_batch_hdr_t hdr;

    meter_start(&m, secs);
    do {
        if (qr_batch_validate(batch, len, check, &hdr, NULL) != QUIRE_ERR_NONE)
            abort();
        sink ^= hdr.crc;
    } while (meter_more(&m));
    return (double)len * (double)m.reps / meter_secs(&m) / 1e9;
}

static const char *verdict(double v, double target)
{
    return v >= target ? "meets" : "BELOW";
}

int main(int argc, char **argv)
{
    double secs = 0.5, mb;
    int opt;

    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt != 't' || (secs = atof(optarg)) <= 0 || secs > 10) {
            fprintf(stderr, "usage: %s [-t SECONDS (0-10]]\n", argv[0]);
            return 2;
        }
    }
    uint8_t *src = malloc(MIB), *dst = malloc(MIB);
    uint8_t *buf = malloc(MIB), *out = malloc(MIB);
    uint8_t value[VALUE_SIZE];
    if (!src || !dst || !buf || !out)
        return 1;
    for (size_t i = 0; i < MIB; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 13);
    memset(dst, 0, MIB);
    /* A value like a log line: partly repetitive, so codecs have work. */
    for (int i = 0; i < VALUE_SIZE; i++)
        value[i] =
            (uint8_t)("2026-11-25T15:00:00Z INFO request served "[i % 41]);
    crc_gbps(qr_crc32c, src, 0.05); /* warm up, resolve the dispatch */

    printf("quire bench/micro (%.2f s per figure, 1 MiB buffers, rates per "
           "CPU second)\n",
           secs);
    double crc = crc_gbps(qr_crc32c, src, secs);
    double mem = memcpy_gbps(dst, src, secs);
    printf("crc32c          %7.2f GB/s   (%s; memcpy of the same buffer "
           "%.2f GB/s; target >= 8: %s)\n",
           crc, qr_crc32c_hw_available() ? "SSE4.2" : "software", mem,
           verdict(crc, 8));
    printf("crc32c sw       %7.2f GB/s   (portable slicing-by-8)\n",
           crc_gbps(qr_crc32c_sw, src, secs / 2));

    double rate = build_rate(QR_CODEC_NONE, buf, out, value, secs, &mb);
    printf("batch build     %7.2f M records/s (100-byte values into 1 MiB "
           "batches; target >= 10: %s)\n",
           rate / 1e6, verdict(rate, 10e6));

    const uint8_t *batch;
    size_t len;
    int n =
        fill_batch(buf, out, QR_CODEC_NONE, value, 1700000000000, &batch, &len);
    double val = validate_gbps(batch, len, QR_BATCH_CHECK_CRC, secs);
    printf("validate (CRC)  %7.2f GB/s   (%d records, %zu bytes; target "
           ">= 5: %s)\n",
           val, n, len, verdict(val, 5));
    printf("validate (recs) %7.2f GB/s   (CHECK_RECORDS: every record's "
           "framing)\n",
           validate_gbps(batch, len, QR_BATCH_CHECK_RECORDS, secs / 2));

    static const int codecs[] = {QR_CODEC_LZ4, QR_CODEC_ZSTD, QR_CODEC_GZIP};
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        rate = build_rate(codecs[i], buf, out, value, secs / 2, &mb);
        printf("build + %-4s    %7.2f M records/s (batch %.3f MiB after "
               "compression)\n",
               qr_codec_name(codecs[i]), rate / 1e6, mb);
    }
    free(src);
    free(dst);
    free(buf);
    free(out);
    return 0;
}
