/*
 * gen_corpus: writes the seed corpora of the fuzz targets (tests/fuzz/
 * corpus_request and corpus_batch) with quire's own builders, so the seeds
 * are what real peers send: `make fuzz-corpus` regenerates them.
 *
 *   gen_corpus REQUEST_DIR BATCH_DIR
 *
 * Exit 0, or 1 with a message when a builder or a write fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "codec.h"
#include "frame.h"
#include "fuzz.h"
#include "wire.h"

/* The fuzz targets' entry point is not linked here. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}

#define BATCH_CAP 4096

typedef struct blob {
    uint8_t bytes[4 * BATCH_CAP];
    size_t len;
} blob_t;

static void die(const char *what, quire_err_t err)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, quire_err2str(err));
    exit(1);
}

static void append(blob_t *b, const void *p, size_t n)
{
    if (n > sizeof(b->bytes) - b->len)
        die("blob full", QUIRE_ERR_BUF_FULL);
    memcpy(b->bytes + b->len, p, n);
    b->len += n;
}

static void write_file(const char *dir, const char *name, uint8_t mode,
                       int with_mode, const void *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL) {
        perror(path);
        exit(1);
    }
    if ((with_mode && fwrite(&mode, 1, 1, f) != 1) ||
        (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Three records: a plain one, one with headers and a null key, one with a
 * null value; compressed with @p codec. Appended to @p out. */
static void make_batch(int codec, int64_t producer_id, blob_t *out)
{
    static const qr_batch_rec_header_t hdrs[] = {
        {(const uint8_t *)"trace", 5, (const uint8_t *)"abc123", 6},
        {(const uint8_t *)"empty", 5, NULL, 0},
    };
    uint8_t buf[BATCH_CAP], comp[2 * BATCH_CAP];
    qr_batch_builder_t b;
    const uint8_t *batch;
    size_t len;
    quire_err_t err;

    if ((err = qr_batch_builder_init(&b, buf, sizeof(buf), codec)) != 0)
        die("builder_init", err);
    if (producer_id >= 0)
        qr_batch_builder_set_producer(&b, producer_id, 0, 0);
    if ((err = qr_batch_builder_append(&b, 1700000000000, "key-1", 5,
                                       "hello, quire", 12, NULL, 0)) != 0 ||
        (err = qr_batch_builder_append(&b, 1700000000005, NULL, 0,
                                       "with headers", 12, hdrs, 2)) != 0 ||
        (err = qr_batch_builder_append(&b, 1700000000003, "tombstone", 9, NULL,
                                       0, NULL, 0)) != 0)
        die("builder_append", err);
    err = qr_batch_builder_finish(&b, codec ? comp : NULL,
                                  codec ? sizeof(comp) : 0, &batch, &len);
    if (err != QUIRE_ERR_NONE)
        die("builder_finish", err);
    append(out, batch, len);
}

static void write_req(const char *dir, const char *name, const qr_req_t *req,
                      const blob_t *payload, blob_t *stream)
{
    uint8_t *head = NULL;
    size_t hlen = 0;
    blob_t frame = {.len = 0};
    quire_err_t err;

    if ((err = qr_wire_req_encode_alloc(req, &head, &hlen)) != 0)
        die(name, err);
    append(&frame, head, hlen);
    free(head);
    if (payload)
        append(&frame, payload->bytes, payload->len);
    write_file(dir, name, 0, 0, frame.bytes, frame.len);
    if (stream)
        append(stream, frame.bytes, frame.len);
}

static void gen_requests(const char *dir, const blob_t *plain,
                         const blob_t *gzip, const blob_t *two)
{
    static const char *const mtopics[] = {"orders", "a.b-c_d"};
    blob_t payload = {.len = 0}, stream = {.len = 0};
    qr_req_t req;

    req = (qr_req_t){
        .api = QR_API_API_VERSIONS, .correlation_id = 1, .client_id = "fuzz"};
    write_req(dir, "api_versions", &req, NULL, &stream);

    req = (qr_req_t){.api = QR_API_METADATA, .correlation_id = 2};
    req.u.metadata.topic_count = 2;
    req.u.metadata.topics = mtopics;
    req.u.metadata.allow_auto_topic_creation = true;
    write_req(dir, "metadata", &req, NULL, &stream);

    /* Produce: two topics, three partitions, batches back to back. */
    qr_produce_part_t p1[] = {{0, (uint32_t)plain->len, NULL},
                              {3, (uint32_t)gzip->len, NULL}};
    qr_produce_part_t p2[] = {{1, (uint32_t)two->len, NULL}};
    qr_produce_topic_t pt[] = {{"orders", 2, p1}, {"events", 1, p2}};
    req = (qr_req_t){
        .api = QR_API_PRODUCE, .correlation_id = 3, .client_id = "producer-1"};
    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = 30000;
    req.u.produce.topic_count = 2;
    req.u.produce.topics = pt;
    append(&payload, plain->bytes, plain->len);
    append(&payload, gzip->bytes, gzip->len);
    append(&payload, two->bytes, two->len);
    write_req(dir, "produce", &req, &payload, &stream);

    qr_fetch_part_t fp[] = {{0, 42, 1048576, -1, -1}, {3, 0, 65536, -1, -1}};
    qr_fetch_topic_t ft[] = {{"orders", 2, fp}};
    req = (qr_req_t){.api = QR_API_FETCH, .correlation_id = 4};
    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = 500;
    req.u.fetch.min_bytes = 1;
    req.u.fetch.max_bytes = 52428800;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = ft;
    write_req(dir, "fetch", &req, NULL, &stream);

    qr_list_offsets_part_t lp[] = {
        {0, QR_OFFSET_LATEST}, {1, QR_OFFSET_EARLIEST}, {2, 1700000000000}};
    qr_list_offsets_topic_t lt[] = {{"orders", 3, lp}};
    req = (qr_req_t){.api = QR_API_LIST_OFFSETS, .correlation_id = 5};
    req.u.list_offsets.replica_id = -1;
    req.u.list_offsets.topic_count = 1;
    req.u.list_offsets.topics = lt;
    write_req(dir, "list_offsets", &req, NULL, &stream);

    /* Pipelined: all of the above on one connection. */
    write_file(dir, "stream", 0, 0, stream.bytes, stream.len);
}

static void gen_batches(const char *dir, const blob_t *plain,
                        const blob_t *gzip, const blob_t *lz4,
                        const blob_t *zstd, const blob_t *two)
{
    static const char text[] = "quire quire quire: a commit log, a commit log";
    uint8_t comp[256];
    size_t clen;
    char name[64];
    quire_err_t err;

    write_file(dir, "none", 0x00, 1, plain->bytes, plain->len);
    write_file(dir, "none_fixcrc", 0x01, 1, plain->bytes, plain->len);
    write_file(dir, "gzip", 0x00, 1, gzip->bytes, gzip->len);
    write_file(dir, "lz4_fixcrc", 0x01, 1, lz4->bytes, lz4->len);
    write_file(dir, "zstd_fixcrc", 0x03, 1, zstd->bytes, zstd->len);
    write_file(dir, "two", 0x00, 1, two->bytes, two->len);
    for (int codec = QR_CODEC_GZIP; codec < QR_CODEC_COUNT; codec++) {
        if (!qr_codec_supported(codec))
            continue;
        err = qr_codec_compress(codec, text, sizeof(text) - 1, comp,
                                sizeof(comp), &clen);
        if (err != QUIRE_ERR_NONE)
            die("compress", err);
        snprintf(name, sizeof(name), "codec_%s", qr_codec_name(codec));
        write_file(dir, name, (uint8_t)(0x04 | codec << 4), 1, comp, clen);
    }
}

int main(int argc, char **argv)
{
    blob_t plain = {.len = 0}, gzip = {.len = 0}, lz4 = {.len = 0},
           zstd = {.len = 0}, two = {.len = 0};

    if (argc != 3) {
        fprintf(stderr, "usage: gen_corpus REQUEST_DIR BATCH_DIR\n");
        return 2;
    }
    make_batch(QR_CODEC_NONE, -1, &plain);
    make_batch(QR_CODEC_GZIP, -1, &gzip);
    make_batch(QR_CODEC_LZ4, 7, &lz4);
    make_batch(QR_CODEC_ZSTD, -1, &zstd);
    make_batch(QR_CODEC_NONE, 9, &two);
    make_batch(QR_CODEC_ZSTD, 9, &two);
    gen_requests(argv[1], &plain, &gzip, &two);
    gen_batches(argv[2], &plain, &gzip, &lz4, &zstd, &two);
    return 0;
}
