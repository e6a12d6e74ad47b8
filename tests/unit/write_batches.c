/*
 * write_batches DIR: writes batches built by quire, one file per case
 * (each codec; 1 and 1,000 records; null keys and values, headers, many
 * timestamps; producer fields and a broker-assigned base offset) and the
 * batches.manifest that tests/data/gen_batches.py reads, so kafka-python can
 * check that it decodes them to the records quire was given
 * (kafka_interop.sh). Not a test by itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batch_testrec.h"
#include "codec.h"

typedef struct wcase {
    const char *name;
    int codec, count;
    int64_t base_offset;
    int producer; /* set producer id/epoch/sequence */
} wcase_t;

static const wcase_t cases[] = {
    {"quire_none_1.bin", QR_CODEC_NONE, 1, 0, 0},
    {"quire_none_1000.bin", QR_CODEC_NONE, 1000, 0, 0},
    {"quire_gzip_1.bin", QR_CODEC_GZIP, 1, 0, 0},
    {"quire_gzip_1000.bin", QR_CODEC_GZIP, 1000, 0, 0},
    {"quire_lz4_1.bin", QR_CODEC_LZ4, 1, 0, 0},
    {"quire_lz4_1000.bin", QR_CODEC_LZ4, 1000, 0, 0},
    {"quire_zstd_1.bin", QR_CODEC_ZSTD, 1, 0, 0},
    {"quire_zstd_1000.bin", QR_CODEC_ZSTD, 1000, 0, 0},
    {"quire_lz4_producer.bin", QR_CODEC_LZ4, 300, 987654321, 1},
};

static int write_file(const char *dir, const char *name, const void *p,
                      size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "write_batches: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Builds one case; appends its manifest line. */
static int write_case(const char *dir, const wcase_t *c, tdump_t *manifest)
{
    size_t cap = 64 + (size_t)c->count * 600, len;
    uint8_t *buf = malloc(cap), *out = malloc(cap);
    const uint8_t *batch;
    qr_batch_builder_t b;
    qr_batch_hdr_t hdr;
    tdump_t d = {0};
    trec_t t;
    int rc = -1;

    if (!buf || !out ||
        qr_batch_builder_init(&b, buf, cap, c->codec) != QUIRE_ERR_NONE)
        goto out;
    if (c->producer)
        qr_batch_builder_set_producer(&b, 31337, 2, 500);
    for (int i = 0; i < c->count; i++) {
        trec_gen(&t, i);
        if (qr_batch_builder_append(&b, t.ts, t.key, t.klen, t.val, t.vlen, t.h,
                                    t.nh) != QUIRE_ERR_NONE)
            goto out;
        tdump_trec(&d, c->base_offset + i, &t);
    }
    if (qr_batch_builder_finish(&b, out, cap, &batch, &len) != QUIRE_ERR_NONE)
        goto out;
    /* As the broker does on append: baseOffset is outside the CRC. */
    qr_batch_set_base_offset(batch == buf ? buf : out, c->base_offset);
    if (qr_batch_validate(batch, len, QR_BATCH_CHECK_RECORDS, &hdr, NULL) !=
            QUIRE_ERR_NONE ||
        qr_batch_codec(&hdr) != c->codec)
        goto out;
    if (write_file(dir, c->name, batch, len) < 0)
        goto out;
    tdump_put(manifest, "%s %d %lld %d %zu %lu\n", c->name, c->codec,
              (long long)c->base_offset, c->count, d.len,
              (unsigned long)tdump_crc(&d));
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "write_batches: could not build %s\n", c->name);
    tdump_free(&d);
    free(buf);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    tdump_t manifest = {0};

    if (argc != 2) {
        fprintf(stderr, "usage: write_batches DIR\n");
        return 2;
    }
    tdump_put(&manifest, "# written by quire's write_batches\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (write_case(argv[1], &cases[i], &manifest) < 0)
            return 1;
    if (write_file(argv[1], "batches.manifest", manifest.p, manifest.len) < 0)
        return 1;
    tdump_free(&manifest);
    return 0;
}
