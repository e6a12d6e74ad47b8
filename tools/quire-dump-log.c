/*
 * quire-dump-log: prints the batches of partition log segments, like
 * Kafka's DumpLogSegments (issue 3, item 8; man/quire-dump-log.1).
 *
 * Reads files only; never writes. A .log file is walked batch by batch
 * (header, CRC check), optionally with each record (--records) and with its
 * .index/.timeindex checked against it (--verify-index); an .index or
 * .timeindex file given by itself has its entries printed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "cli.h"
#include "codec.h"
#include "crc32c.h"

#define PROG "quire-dump-log"
/* Largest decompressed records block read (--records on compressed
 * batches); a batch that claims more is reported, not read. */
#define SCRATCH_MAX (256u << 20)

static const char usage_text[] =
    "Usage: quire-dump-log [OPTION...] FILE...\n"
    "Print the record batches of quire partition log segments.\n"
    "\n"
    "FILE is a segment's .log, .index or .timeindex file.\n"
    "\n"
    "Options:\n"
    "  -r, --records        also print every record of every batch\n"
    "  -i, --verify-index   check the segment's .index and .timeindex\n"
    "                       against its .log\n"
    "  -h, --help           show this help and exit\n"
    "  -V, --version        show the version and exit\n"
    "\n"
    "Exit status: 0 when every file is whole and valid, 1 when a batch is\n"
    "corrupt or torn or an index disagrees with its log, 2 for bad usage.\n";

typedef struct opts {
    int records;
    int verify;
} opts_t;

/* One batch as read from the file. */
typedef struct seen {
    uint64_t pos;
    qr_batch_hdr_t hdr;
} seen_t;

typedef struct dump {
    const opts_t *o;
    const char *path;
    int fd;
    uint64_t size;
    uint8_t *buf; /* the current batch */
    size_t cap;
    uint8_t *scratch; /* decompressed records */
    size_t scratch_cap;
    seen_t *seen; /* every batch, for --verify-index */
    size_t nseen, seen_cap;
    int bad;
} dump_t;

/* ---- helpers ---- */

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static int read_at(int fd, void *buf, size_t len, uint64_t pos)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(pos + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Text as text; quotes, backslashes and other bytes escaped. */
static void print_bytes(const uint8_t *p, ssize_t len)
{
    if (!p || len < 0) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (ssize_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else
            printf("\\x%02x", c);
    }
    putchar('"');
}

/* ---- records ---- */

static int open_records(dump_t *d, qr_batch_iter_t *it, size_t size)
{
    for (;;) {
        quire_err_t err =
            qr_batch_iter_open(it, d->buf, size, d->scratch, d->scratch_cap);
        if (err != QUIRE_ERR_COMPRESSION || d->scratch_cap >= SCRATCH_MAX)
            return err == QUIRE_ERR_NONE ? 0 : (int)err;
        d->scratch_cap = d->scratch_cap ? d->scratch_cap * 2 : (1u << 20);
        free(d->scratch);
        d->scratch = qr_malloc(d->scratch_cap);
    }
}

static void print_headers(qr_batch_rec_t *rec)
{
    qr_batch_rec_header_t h;
    int first = 1;
    fputs(" headers: [", stdout);
    while (qr_batch_rec_header_next(rec, &h) == QUIRE_ERR_NONE) {
        if (!first)
            fputs(", ", stdout);
        print_bytes(h.key, (ssize_t)h.key_len);
        putchar('=');
        print_bytes(h.value, h.value_len);
        first = 0;
    }
    putchar(']');
}

static void print_records(dump_t *d, size_t size)
{
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    quire_err_t err;
    int rc = open_records(d, &it, size);

    if (rc != 0) {
        printf("| cannot read records: %s\n", quire_err2str((quire_err_t)rc));
        d->bad = 1;
        return;
    }
    while ((err = qr_batch_iter_next(&it, &rec)) == QUIRE_ERR_NONE) {
        printf("| offset: %" PRId64 " timestamp: %" PRId64 " key: ", rec.offset,
               rec.timestamp);
        print_bytes(rec.key, rec.key_len);
        fputs(" value: ", stdout);
        print_bytes(rec.value, rec.value_len);
        print_headers(&rec);
        putchar('\n');
    }
    if (err != QUIRE_ERR_NOT_FOUND) {
        printf("| invalid record: %s\n", it.why ? it.why : "framing");
        d->bad = 1;
    }
}

/* ---- batches ---- */

static void print_batch(const qr_batch_hdr_t *h, uint64_t pos, int crc_ok)
{
    printf("baseOffset: %" PRId64 " lastOffset: %" PRId64
           " count: %d position: %" PRIu64 " size: %zu codec: %s"
           " firstTimestamp: %" PRId64 " maxTimestamp: %" PRId64
           " producerId: %" PRId64 " producerEpoch: %d baseSequence: %d"
           " leaderEpoch: %d crc: 0x%08x crcValid: %s\n",
           h->base_offset, qr_batch_last_offset(h), (int)h->record_count, pos,
           qr_batch_size(h), qr_codec_name(qr_batch_codec(h)),
           h->first_timestamp, h->max_timestamp, h->producer_id,
           (int)h->producer_epoch, (int)h->base_sequence, (int)h->leader_epoch,
           (unsigned)h->crc, crc_ok ? "true" : "false");
}

static void remember(dump_t *d, uint64_t pos, const qr_batch_hdr_t *h)
{
    if (d->nseen == d->seen_cap) {
        d->seen_cap = d->seen_cap ? d->seen_cap * 2 : 1024;
        d->seen = qr_realloc(d->seen, d->seen_cap * sizeof(*d->seen));
    }
    d->seen[d->nseen].pos = pos;
    d->seen[d->nseen].hdr = *h;
    d->nseen++;
}

/* One batch at pos; returns its size, or 0 to stop. */
static uint64_t dump_batch(dump_t *d, uint64_t pos)
{
    uint64_t left = d->size - pos;
    qr_batch_hdr_t h;
    const char *why = NULL;
    uint8_t head[QR_BATCH_HEADER_SIZE];

    if (left < QR_BATCH_HEADER_SIZE ||
        read_at(d->fd, head, sizeof(head), pos) != 0) {
        printf("position: %" PRIu64 " torn batch header: %" PRIu64
               " bytes left\n",
               pos, left);
        d->bad = 1;
        return 0;
    }
    qr_batch_hdr_read(head, sizeof(head), &h);
    if (h.length < QR_BATCH_HEADER_SIZE - QR_BATCH_LOG_OVERHEAD) {
        printf("position: %" PRIu64 " corrupt batch: length %d\n", pos,
               (int)h.length);
        d->bad = 1;
        return 0;
    }
    if (qr_batch_size(&h) > left) {
        printf("position: %" PRIu64 " torn batch: %zu bytes, %" PRIu64
               " left in the file\n",
               pos, qr_batch_size(&h), left);
        d->bad = 1;
        return 0;
    }
    if (qr_batch_size(&h) > d->cap) {
        d->cap = qr_batch_size(&h);
        free(d->buf);
        d->buf = qr_malloc(d->cap);
    }
    if (read_at(d->fd, d->buf, qr_batch_size(&h), pos) != 0) {
        printf("position: %" PRIu64 " read error: %s\n", pos, strerror(errno));
        d->bad = 1;
        return 0;
    }
    quire_err_t err = qr_batch_validate(d->buf, qr_batch_size(&h),
                                        QR_BATCH_CHECK_CRC, &h, &why);
    /* the CRC-32C on its own, whatever else validate found */
    uint32_t crc = qr_crc32c(0, d->buf + QR_BATCH_OFF_ATTRIBUTES,
                             qr_batch_size(&h) - QR_BATCH_OFF_ATTRIBUTES);
    print_batch(&h, pos, crc == h.crc);
    if (err != QUIRE_ERR_NONE) {
        printf("| invalid batch: %s\n", why ? why : quire_err2str(err));
        d->bad = 1;
    } else if (d->o->records) {
        print_records(d, qr_batch_size(&h));
    }
    remember(d, pos, &h);
    return qr_batch_size(&h);
}

/* ---- indexes ---- */

static ssize_t find_pos(const dump_t *d, uint64_t pos)
{
    size_t lo = 0, hi = d->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->seen[mid].pos == pos)
            return (ssize_t)mid;
        if (d->seen[mid].pos < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static ssize_t find_base(const dump_t *d, int64_t off)
{
    for (size_t i = 0; i < d->nseen; i++)
        if (d->seen[i].hdr.base_offset == off)
            return (ssize_t)i;
    return -1;
}

/* Reads a whole index file; NULL with *len 0 when absent. */
static uint8_t *slurp(const char *path, size_t *len, int *missing)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    *len = 0;
    *missing = fd < 0;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (off_t)INT32_MAX) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *len = (size_t)st.st_size;
    uint8_t *p = qr_malloc(*len ? *len : 1);
    if (read_at(fd, p, *len, 0) != 0)
        *len = 0;
    close(fd);
    return p;
}

static void index_problem(dump_t *d, const char *file, size_t i,
                          const char *what)
{
    printf("%s: entry %zu: %s\n", file, i, what);
    d->bad = 1;
}

static void verify_offset_index(dump_t *d, const char *path, int64_t base)
{
    size_t len;
    int missing;
    uint8_t *p = slurp(path, &len, &missing);
    int64_t prev = -1;

    if (missing) {
        printf("%s: missing\n", path);
        d->bad = 1;
        return;
    }
    if (len % 8)
        index_problem(d, path, len / 8, "file size not a multiple of 8");
    size_t n = 0;
    for (size_t i = 0; i < len / 8; i++) {
        int64_t off = base + get32(p + 8 * i);
        uint32_t pos = get32(p + 8 * i + 4);
        if (pos == 0 && i > 0)
            break; /* the unused, preallocated tail */
        ssize_t k = find_pos(d, pos);
        if (off <= prev)
            index_problem(d, path, i, "offsets not increasing");
        else if (k < 0)
            index_problem(d, path, i, "position is not a batch start");
        else if (d->seen[k].hdr.base_offset != off)
            index_problem(d, path, i, "offset differs from the batch's");
        prev = off;
        n++;
    }
    printf("%s: %zu entries checked\n", path, n);
    free(p);
}

static void verify_time_index(dump_t *d, const char *path, int64_t base)
{
    size_t len;
    int missing;
    uint8_t *p = slurp(path, &len, &missing);
    int64_t prev_ts = INT64_MIN;
    static const uint8_t zero[12];

    if (missing) {
        printf("%s: missing\n", path);
        d->bad = 1;
        return;
    }
    if (len % 12)
        index_problem(d, path, len / 12, "file size not a multiple of 12");
    size_t n = 0;
    for (size_t i = 0; i < len / 12; i++) {
        const uint8_t *e = p + 12 * i;
        if (!memcmp(e, zero, 12))
            break;
        int64_t ts = (int64_t)(((uint64_t)get32(e) << 32) | get32(e + 4));
        int64_t off = base + get32(e + 8);
        ssize_t k = find_base(d, off);
        if (ts < prev_ts)
            index_problem(d, path, i, "timestamps going backwards");
        else if (k < 0)
            index_problem(d, path, i, "offset is not a batch's base");
        else if (d->seen[k].hdr.max_timestamp != ts)
            index_problem(d, path, i, "timestamp differs from the batch's");
        prev_ts = ts;
        n++;
    }
    printf("%s: %zu entries checked\n", path, n);
    free(p);
}

/* ---- files ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The 20-digit base of "<dir>/<base>.<ext>"; -1 when not that shape. */
static int64_t base_of(const char *path, size_t ext_len)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    if (strlen(name) != 20 + ext_len)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static void dump_index_file(dump_t *d, const char *path, int timeindex)
{
    size_t len, es = timeindex ? 12 : 8;
    int missing;
    int64_t base = base_of(path, timeindex ? 10 : 6);
    uint8_t *p = slurp(path, &len, &missing);
    if (missing) {
        qr_cli_error(PROG, "%s: %s", path, strerror(errno));
        d->bad = 1;
        return;
    }
    if (base < 0)
        base = 0;
    for (size_t i = 0; i < len / es; i++) {
        const uint8_t *e = p + es * i;
        if (timeindex)
            printf("timestamp: %" PRId64 " offset: %" PRId64 "\n",
                   (int64_t)(((uint64_t)get32(e) << 32) | get32(e + 4)),
                   base + get32(e + 8));
        else
            printf("offset: %" PRId64 " position: %u\n", base + get32(e),
                   get32(e + 4));
    }
    if (len % es) {
        printf("%zu trailing bytes (not a whole entry)\n", len % es);
        d->bad = 1;
    }
    free(p);
}

static void dump_log_file(dump_t *d, const char *path)
{
    struct stat st;
    d->fd = open(path, O_RDONLY);
    if (d->fd < 0 || fstat(d->fd, &st) != 0) {
        qr_cli_error(PROG, "%s: %s", path, strerror(errno));
        d->bad = 1;
        if (d->fd >= 0)
            close(d->fd);
        return;
    }
    d->size = (uint64_t)st.st_size;
    d->nseen = 0;
    for (uint64_t pos = 0, n; pos < d->size; pos += n)
        if ((n = dump_batch(d, pos)) == 0)
            break;
    close(d->fd);
    int64_t base = base_of(path, 4);
    if (d->o->verify && base >= 0) {
        char p[PATH_MAX];
        size_t stem = strlen(path) - 4;
        snprintf(p, sizeof(p), "%.*s.index", (int)stem, path);
        verify_offset_index(d, p, base);
        snprintf(p, sizeof(p), "%.*s.timeindex", (int)stem, path);
        verify_time_index(d, p, base);
    } else if (d->o->verify) {
        printf("%s: not named <20-digit base offset>.log, indexes not "
               "checked\n",
               path);
        d->bad = 1;
    }
}

/* ---- main ---- */

/* @returns -1 on a usage error, 1 after --help/--version, 0 to go on. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"records", no_argument, NULL, 'r'},
        {"verify-index", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const qr_cli_tool_t tool = {PROG, usage_text, "rihV", longopts,
                                       NULL};
    qr_cli_common_t none = {0}; /* no --verbose here */
    int c;

    while ((c = qr_cli_next(&tool, argc, argv, &none)) > QR_CLI_OPTS_DONE) {
        if (c == 'r')
            o->records = 1;
        else
            o->verify = 1;
    }
    if (c != QR_CLI_OPTS_END)
        return c;
    if (optind >= argc) {
        qr_cli_usage_error(PROG, "no FILE given");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    dump_t d = {.o = &o, .fd = -1};
    int rc = parse_args(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? QR_CLI_EXIT_USAGE : QR_CLI_EXIT_OK;
    qr_cli_log_setup(0);
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        if (argc - optind > 1)
            printf("Dumping %s\n", path);
        if (ends_with(path, ".timeindex"))
            dump_index_file(&d, path, 1);
        else if (ends_with(path, ".index"))
            dump_index_file(&d, path, 0);
        else
            dump_log_file(&d, path);
    }
    free(d.buf);
    free(d.scratch);
    free(d.seen);
    return d.bad ? QR_CLI_EXIT_ERROR : QR_CLI_EXIT_OK;
}
