/*
 * nem_producer: the nemesis suite's producer (tests/nemesis/README.md).
 * Sends keyed records through libquire with acks=all at a steady rate
 * until SIGTERM, and writes one line per outcome to standard output:
 *
 *   A <mono ms> <phase> <seq> <partition> <offset>   acknowledged
 *   F <mono ms> <phase> <seq> <error>                refused or failed
 *   X <mono ms> <sent> <acked> <failed>              at exit
 *
 *   nem_producer --bootstrap LIST --topic T --id ID --phase-file FILE
 *                [--rate N] [--delivery-timeout-ms MS]
 *
 * The record's key and value are "<id>/<seq>/<phase>", so the checker can
 * tell every record apart and knows which nemesis it was sent under: the
 * phase is the first word of FILE, re-read every 100 ms (the schedule
 * writes it). Each line is one write(2) to an O_APPEND file, so the lines
 * of the delivery thread and of the sending thread never mix.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "quire.h"

#define MAX_PHASES 1024
#define PHASE_LEN  64

static volatile sig_atomic_t stop;
/* interned phase names; a record's opaque is seq * MAX_PHASES + index */
static char phases[MAX_PHASES][PHASE_LEN];
static size_t phase_cnt;
static volatile long long acked, failed;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long mono_ms(void)
{
    return (long long)qr_clock_mono_ms();
}

static void out(const char *line, int n)
{
    if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n)
        fprintf(stderr, "nem_producer: write: %s\n", strerror(errno));
}

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    uintptr_t o = (uintptr_t)dr->opaque;
    long long seq = (long long)(o / MAX_PHASES);
    const char *phase = phases[o % MAX_PHASES];
    char line[256];
    int n;

    (void)opaque;
    if (dr->err == QUIRE_ERR_NONE) {
        n = snprintf(line, sizeof(line), "A %lld %s %lld %d %lld\n", mono_ms(),
                     phase, seq, (int)dr->partition, (long long)dr->offset);
        __atomic_add_fetch(&acked, 1, __ATOMIC_RELAXED);
    } else {
        n = snprintf(line, sizeof(line), "F %lld %s %lld %s\n", mono_ms(),
                     phase, seq, quire_err2str(dr->err));
        __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
    }
    out(line, n);
}

/* The index of the phase named in FILE's first word (interned). */
static size_t read_phase(const char *file, size_t cur)
{
    char buf[PHASE_LEN] = "";
    FILE *fp = fopen(file, "r");

    if (!fp)
        return cur;
    if (fscanf(fp, "%63s", buf) != 1)
        buf[0] = '\0';
    fclose(fp);
    if (!buf[0] || strcmp(buf, phases[cur]) == 0)
        return cur;
    for (size_t i = 0; i < phase_cnt; i++)
        if (strcmp(phases[i], buf) == 0)
            return i;
    if (phase_cnt == MAX_PHASES)
        return cur;
    snprintf(phases[phase_cnt], PHASE_LEN, "%s", buf);
    return phase_cnt++;
}

/* The producer's settings, the delivery timeout from the command line. */
static quire_conf_t *make_conf(const char *bootstrap, const char *dtimeout)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"request.timeout.ms", "5000"},
        {"delivery.timeout.ms", dtimeout},
        {"max.block.ms", "1000"},
        {"metadata.max.age.ms", "2000"},
        {"retry.backoff.ms", "200"},
    };
    quire_conf_t *conf = quire_conf_new();
    char errstr[256];

    for (size_t i = 0; conf && i < sizeof(kv) / sizeof(kv[0]); i++)
        if (quire_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
            QUIRE_ERR_NONE) {
            fprintf(stderr, "nem_producer: %s\n", errstr);
            quire_conf_destroy(conf);
            return NULL;
        }
    return conf;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"id", required_argument, NULL, 'i'},
        {"phase-file", required_argument, NULL, 'p'},
        {"rate", required_argument, NULL, 'r'},
        {"delivery-timeout-ms", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap = NULL, *topic = NULL, *id = NULL, *pfile = NULL;
    const char *dtimeout = "15000";
    long rate = 200;
    long long seq = 0, sent = 0, start, now, last_phase = 0;
    size_t phase = 0;
    quire_conf_t *conf;
    quire_producer_t *p;
    char errstr[256];
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'p':
            pfile = optarg;
            break;
        case 'r':
            rate = atol(optarg);
            break;
        case 'd':
            dtimeout = optarg;
            break;
        default:
            return 2;
        }
    }
    if (!bootstrap || !topic || !id || !pfile || rate <= 0 || optind < argc) {
        fprintf(stderr,
                "usage: nem_producer --bootstrap LIST --topic T --id ID "
                "--phase-file FILE [--rate N] [--delivery-timeout-ms MS]\n");
        return 2;
    }
    snprintf(phases[0], PHASE_LEN, "start");
    phase_cnt = 1;
    conf = make_conf(bootstrap, dtimeout);
    if (!conf)
        return 2;
    quire_conf_set_delivery_cb(conf, on_delivery, NULL);
    if (quire_producer_new(conf, &p, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        fprintf(stderr, "nem_producer: %s\n", errstr);
        quire_conf_destroy(conf);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    start = mono_ms();
    while (!stop) {
        char rec[160], line[256];
        int len, n;
        quire_err_t err;

        now = mono_ms();
        if (now - last_phase >= 100) {
            phase = read_phase(pfile, phase);
            last_phase = now;
        }
        /* steady rate: sleep until record seq is due */
        if (seq * 1000 / rate > now - start) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        len = snprintf(rec, sizeof(rec), "%s/%lld/%s", id, seq, phases[phase]);
        err = quire_producer_send(
            p, topic, QUIRE_PARTITION_ANY, rec, (size_t)len, rec, (size_t)len,
            NULL, 0, 0,
            (void *)(uintptr_t)(seq * MAX_PHASES + (long long)phase));
        sent++;
        if (err != QUIRE_ERR_NONE) {
            n = snprintf(line, sizeof(line), "F %lld %s %lld %s\n", mono_ms(),
                         phases[phase], seq, quire_err2str(err));
            out(line, n);
            __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
        }
        seq++;
    }
    quire_producer_close(p, 30000);
    {
        char line[128];
        int n = snprintf(line, sizeof(line), "X %lld %lld %lld %lld\n",
                         mono_ms(), sent, acked, failed);
        out(line, n);
    }
    return 0;
}
