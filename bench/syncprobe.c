/*
 * syncprobe: the disk's floor under quire's end-to-end latency (issue 14
 * target 2). A program, not a test: it prints figures and never fails on
 * them.
 *
 * With log.write.caching=false (the default) a consumer sees a record only
 * once an fdatasync covering it has returned, so no end-to-end percentile
 * can be lower than the same percentile of fdatasync on the log's
 * filesystem. This appends what 100,000 msg/s of 100-byte records brings
 * between two back-to-back group-commit syncs, then fdatasyncs, as the
 * flusher does, and prints the latency of each sync.
 *
 * A record arriving while a sync runs is not covered by it: it waits for
 * the rest of that sync, then for the next one (the group commit). So the
 * probe also prints, for records arriving every 1/RATE s over the run, the
 * time from arrival to the end of the first sync that started after it:
 * the part of the end-to-end latency the default visibility adds, with no
 * broker, network or client in it.
 *
 *   bench/syncprobe [-d DIR] [-n SYNCS] [-b BYTES] [-t SECONDS] [-r RATE]
 *
 *   -d DIR      where the probe file goes (the broker's log.dirs) [.]
 *   -n SYNCS    number of syncs [5000, at most 1,000,000]
 *   -b BYTES    bytes appended before each sync [4096]
 *   -t SECONDS  wall-clock bound [30]
 *   -r RATE     records a second for the wait figures [100000]
 *
 * Prints one line:
 *   syncprobe syncs=N bytes=B p50_ms=.. p99_ms=.. p999_ms=.. max_ms=..
 *             wait_p50_ms=.. wait_p99_ms=.. wait_p999_ms=..
 * The probe file is removed at exit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SYNCS 1000000
#define MAX_BYTES (1 << 24)

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) of n sorted values, in milliseconds. */
static double
quantile_ms(const uint64_t *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)n);

    if (i >= n)
        i = n - 1;
    return (double)sorted[i] / 1e6;
}

static long
arg_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "syncprobe: %s must be %ld..%ld, not '%s'\n", what,
                lo, hi, s);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    const char *dir = ".";
    long nsyncs = 5000, nbytes = 4096, seconds = 30, rate = 100000;
    char path[PATH_MAX];
    uint64_t *lat, *start, *end, *wait, deadline;
    size_t nwait = 0, wcap;
    char *buf;
    size_t done = 0;
    int opt, fd;

    while ((opt = getopt(argc, argv, "d:n:b:t:r:h")) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'n': nsyncs = arg_long(optarg, 1, MAX_SYNCS, "-n"); break;
        case 'b': nbytes = arg_long(optarg, 1, MAX_BYTES, "-b"); break;
        case 't': seconds = arg_long(optarg, 1, 3600, "-t"); break;
        case 'r': rate = arg_long(optarg, 1, 100000000, "-r"); break;
        default:
            fprintf(stderr, "usage: syncprobe [-d DIR] [-n SYNCS] "
                            "[-b BYTES] [-t SECONDS] [-r RATE]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (snprintf(path, sizeof path, "%s/syncprobe.XXXXXX", dir) >=
        (int)sizeof path) {
        fprintf(stderr, "syncprobe: directory name too long\n");
        return 2;
    }
    fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "syncprobe: %s: %s\n", path, strerror(errno));
        return 1;
    }
    lat = calloc((size_t)nsyncs, sizeof *lat);
    start = calloc((size_t)nsyncs, sizeof *start);
    end = calloc((size_t)nsyncs, sizeof *end);
    buf = malloc((size_t)nbytes);
    if (lat == NULL || start == NULL || end == NULL || buf == NULL) {
        fprintf(stderr, "syncprobe: out of memory\n");
        unlink(path);
        return 1;
    }
    memset(buf, 'q', (size_t)nbytes);
    deadline = now_ns() + (uint64_t)seconds * 1000000000u;
    while (done < (size_t)nsyncs && now_ns() < deadline) {
        uint64_t t0;

        if (write(fd, buf, (size_t)nbytes) != (ssize_t)nbytes) {
            fprintf(stderr, "syncprobe: write: %s\n", strerror(errno));
            break;
        }
        t0 = now_ns();
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "syncprobe: fdatasync: %s\n", strerror(errno));
            break;
        }
        start[done] = t0;
        end[done] = now_ns();
        lat[done] = end[done] - t0;
        done++;
    }
    close(fd);
    unlink(path);
    if (done == 0) {
        free(lat);
        free(buf);
        return 1;
    }
    /* records arriving in (start[j-1], start[j]] are covered by sync j */
    wcap = done > 1 ? (size_t)((double)(start[done - 1] - start[0]) / 1e9 *
                               (double)rate) +
                          done
                    : 1;
    wait = calloc(wcap, sizeof *wait);
    if (wait == NULL) {
        fprintf(stderr, "syncprobe: out of memory\n");
        return 1;
    }
    for (size_t j = 1; j < done; j++) {
        uint64_t step = 1000000000u / (uint64_t)rate, a;

        if (step == 0)
            step = 1;
        /* arrivals on the grid start[0] + k * step */
        a = start[0] + ((start[j - 1] - start[0]) / step + 1) * step;
        for (; a <= start[j] && nwait < wcap; a += step)
            wait[nwait++] = end[j] - a;
    }
    qsort(lat, done, sizeof *lat, cmp_u64);
    qsort(wait, nwait, sizeof *wait, cmp_u64);
    printf("syncprobe syncs=%zu bytes=%ld p50_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f max_ms=%.3f",
           done, nbytes, quantile_ms(lat, done, 0.50),
           quantile_ms(lat, done, 0.99), quantile_ms(lat, done, 0.999),
           (double)lat[done - 1] / 1e6);
    if (nwait > 0)
        printf(" wait_p50_ms=%.3f wait_p99_ms=%.3f wait_p999_ms=%.3f",
               quantile_ms(wait, nwait, 0.50), quantile_ms(wait, nwait, 0.99),
               quantile_ms(wait, nwait, 0.999));
    putchar('\n');
    free(wait);
    free(start);
    free(end);
    free(lat);
    free(buf);
    return 0;
}
