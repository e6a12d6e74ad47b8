/*
 * load_produce: produces the records quire-load's tests load (issue 12),
 * and writes where each went, for tests/integration/load_check.py.
 *
 *   load_produce BOOTSTRAP TOPIC FIRST COUNT EXPECTED [plain]
 *
 * Record i (FIRST <= i < FIRST+COUNT) has timestamp 2026-01-01T00:00Z +
 * i * 250 ms (so 50,000 records span four UTC hours), key "k<i>" (null when
 * i % 11 == 0), value "v<i>" plus filler, a tab and a newline when
 * i % 17 == 0 (null when i % 13 == 0), headers h1="<i>" and h2 (null when
 * i % 7 == 0, else "x"). "plain": text values "line <i>" only, no key.
 * EXPECTED gets one "i partition offset timestamp" line per record.
 * Exit 0 when every record was acknowledged, 1 otherwise.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define T0_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

typedef struct sent {
    int32_t partition;
    int64_t offset, timestamp;
    int ok;
} sent_t;

static sent_t *sent;
static int64_t first_i;

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    (void)opaque;
    sent_t *s = &sent[(intptr_t)dr->opaque - first_i];
    s->partition = dr->partition;
    s->offset = dr->offset;
    s->timestamp = dr->timestamp;
    s->ok = dr->err == QUIRE_ERR_NONE;
}

static int produce(quire_producer_t *p, const char *topic, int64_t i, int plain)
{
    char key[32], value[160], h1[32];
    quire_header_t hdrs[2] = {{"h1", h1, 0}, {"h2", "x", 1}};
    size_t klen = (size_t)snprintf(key, sizeof(key), "k%" PRId64, i);
    size_t vlen =
        plain ? (size_t)snprintf(value, sizeof(value), "line %" PRId64, i)
              : (size_t)snprintf(value, sizeof(value), "v%" PRId64 " %s%s", i,
                                 "0123456789abcdefghij",
                                 i % 17 == 0 ? "\ttab\nnl\\" : "");
    hdrs[0].value_len = (size_t)snprintf(h1, sizeof(h1), "%" PRId64, i);
    if (i % 7 == 0)
        hdrs[1].value = NULL, hdrs[1].value_len = 0;
    int null_key = plain || i % 11 == 0, null_value = !plain && i % 13 == 0;
    return quire_producer_send(
               p, topic, QUIRE_PARTITION_ANY, null_key ? NULL : key,
               null_key ? 0 : klen, null_value ? NULL : value,
               null_value ? 0 : vlen, plain ? NULL : hdrs, plain ? 0 : 2,
               T0_MS + i * 250, (void *)(intptr_t)i) != QUIRE_ERR_NONE;
}

int main(int argc, char **argv)
{
    char errstr[256];
    quire_producer_t *p = NULL;
    if (argc < 6) {
        fprintf(stderr, "usage: load_produce BOOTSTRAP TOPIC FIRST COUNT "
                        "EXPECTED [plain]\n");
        return 2;
    }
    int plain = argc > 6 && !strcmp(argv[6], "plain");
    first_i = strtoll(argv[3], NULL, 10);
    int64_t n = strtoll(argv[4], NULL, 10);
    sent = calloc((size_t)n, sizeof(*sent));
    quire_conf_t *conf = quire_conf_new();
    if (quire_conf_set(conf, "bootstrap.servers", argv[1], errstr,
                       sizeof(errstr)) ||
        quire_conf_set(conf, "acks", "all", errstr, sizeof(errstr)) ||
        quire_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr))) {
        fprintf(stderr, "load_produce: %s\n", errstr);
        return 1;
    }
    quire_conf_set_delivery_cb(conf, on_delivery, NULL);
    if (quire_producer_new(conf, &p, errstr, sizeof(errstr))) {
        fprintf(stderr, "load_produce: %s\n", errstr);
        return 1;
    }
    for (int64_t i = first_i; i < first_i + n; i++)
        while (produce(p, argv[2], i, plain))
            quire_producer_flush(p, 100); /* queue full: let it drain */
    quire_producer_flush(p, 60000);
    quire_producer_close(p, 10000);
    FILE *fp = fopen(argv[5], "a");
    int64_t bad = 0;
    for (int64_t k = 0; fp && k < n; k++) {
        if (!sent[k].ok)
            bad++;
        fprintf(fp, "%" PRId64 " %d %" PRId64 " %" PRId64 "\n", first_i + k,
                (int)sent[k].partition, sent[k].offset, sent[k].timestamp);
    }
    if (!fp || fclose(fp) != 0 || bad) {
        fprintf(stderr, "load_produce: %" PRId64 " record(s) failed\n", bad);
        return 1;
    }
    return 0;
}
