/*
 * fuzz_kafka: the Kafka listener's request decoder under libFuzzer
 * (issue 13).
 *
 * The input is what a Kafka client writes on a connection: frames back to
 * back. As broker/conn.c does, it is cut by qr_kwire_frame_parse() with the
 * broker's limits, and each frame goes through qr_kreq_decode(), the one
 * entry broker/kcodec.c calls: request header, the API table, and the body
 * of every API and version served. Every record batch of a Produce request
 * is then validated with qr_batch_validate(QR_BATCH_CHECK_CRC), as the
 * Produce handler does before appending. An unsupported API or version is
 * answered and the stream goes on; a malformed request or a framing error
 * ends it (the broker closes the connection).
 *
 * Besides what ASan and UBSan see, it checks the contracts kcodec relies
 * on: NEED_MORE promises progress, a frame lies inside the input, decode
 * returns only its documented codes, a decoded request names a served API
 * at a served version with its header's correlation id, its strings are
 * NUL-terminated and within the frame's size, and Produce's records are
 * views inside the frame.
 */
#include "config.h"

#include <string.h>

#include "batch.h"
#include "fuzz.h"
#include "kreq.h"
#include "kwire.h"

/* The most frames taken from one input (a bound on the work per input). */
#define MAX_FRAMES 64

static void check_string(const char *s, const qr_frame_t *frame)
{
    QR_FUZZ_CHECK(s != NULL);
    QR_FUZZ_CHECK(strlen(s) <= frame->header_len);
}

static int inside(const uint8_t *p, size_t n, const qr_frame_t *frame)
{
    return p >= frame->header && n <= frame->header_len &&
           (size_t)(p - frame->header) <= frame->header_len - n;
}

/* Reads the data-path APIs' fields (ASan checks the arena); the other
 * APIs' bodies are checked by the sanitizers while they are decoded. */
static void check_req(const qr_req_t *req, const qr_kreq_info_t *info,
                      const qr_frame_t *frame)
{
    QR_FUZZ_CHECK(info->api != NULL);
    QR_FUZZ_CHECK((int)req->api == info->api->api_key);
    QR_FUZZ_CHECK(req->api_version >= info->api->min_version &&
                  req->api_version <= info->api->max_version);
    QR_FUZZ_CHECK(info->flex == (req->api_version >= info->api->flex_version));
    QR_FUZZ_CHECK(req->has_correlation_id);
    QR_FUZZ_CHECK(req->correlation_id == info->hdr.correlation_id);
    check_string(req->client_id, frame);
    switch (req->api) {
    case QR_API_METADATA:
        QR_FUZZ_CHECK(req->u.metadata.topic_count <= frame->header_len);
        for (size_t i = 0; i < req->u.metadata.topic_count; i++)
            check_string(req->u.metadata.topics[i], frame);
        break;
    case QR_API_PRODUCE:
        for (size_t i = 0; i < req->u.produce.topic_count; i++) {
            const qr_produce_topic_t *t = &req->u.produce.topics[i];

            check_string(t->topic, frame);
            for (size_t j = 0; j < t->partition_count; j++) {
                const qr_produce_part_t *part = &t->partitions[j];

                QR_FUZZ_CHECK((part->records == NULL) ==
                              (part->records_length == 0));
                if (part->records == NULL)
                    continue;
                QR_FUZZ_CHECK(
                    inside(part->records, part->records_length, frame));
                qr_fuzz_touch(part->records, part->records_length);
                qr_fuzz_check_records(part->records, part->records_length);
            }
        }
        break;
    case QR_API_FETCH:
        for (size_t i = 0; i < req->u.fetch.topic_count; i++) {
            const qr_fetch_topic_t *t = &req->u.fetch.topics[i];

            check_string(t->topic, frame);
            qr_fuzz_touch(t->partitions,
                          t->partition_count * sizeof(t->partitions[0]));
        }
        break;
    case QR_API_LIST_OFFSETS:
        for (size_t i = 0; i < req->u.list_offsets.topic_count; i++) {
            const qr_list_offsets_topic_t *t = &req->u.list_offsets.topics[i];

            check_string(t->topic, frame);
            qr_fuzz_touch(t->partitions,
                          t->partition_count * sizeof(t->partitions[0]));
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const qr_frame_limits_t lim = {QR_FRAME_MAX_DEFAULT,
                                   QR_FRAME_REQ_HEADER_MAX};
    size_t pos = 0;

    for (int n = 0; n < MAX_FRAMES; n++) {
        const uint8_t *p = data + pos;
        size_t left = size - pos;
        qr_karena_t *mem;
        qr_kreq_info_t info;
        qr_frame_t frame;
        qr_req_t req;
        quire_err_t err;

        err = qr_kwire_frame_parse(left ? p : NULL, left, &lim, &frame);
        if (err == QUIRE_ERR_NEED_MORE) {
            QR_FUZZ_CHECK(frame.size > left);
            break;
        }
        if (err != QUIRE_ERR_NONE) {
            QR_FUZZ_CHECK(err == QUIRE_ERR_BAD_FRAME ||
                          err == QUIRE_ERR_FRAME_TOO_LARGE);
            break; /* the broker closes the connection */
        }
        QR_FUZZ_CHECK(frame.size <= left);
        QR_FUZZ_CHECK(frame.size == 4 + (size_t)frame.header_len);
        QR_FUZZ_CHECK(frame.header == p + 4);
        QR_FUZZ_CHECK(frame.header_len >= QR_KWIRE_HEADER_MIN);

        mem = qr_karena_new();
        err = qr_kreq_decode(&frame, mem, &req, &info);
        if (err == QUIRE_ERR_NONE)
            check_req(&req, &info, &frame);
        else if (err == QUIRE_ERR_UNSUPPORTED_VERSION)
            QR_FUZZ_CHECK(info.api == NULL ||
                          info.hdr.api_version < info.api->min_version ||
                          info.hdr.api_version > info.api->max_version);
        else
            QR_FUZZ_CHECK(err == QUIRE_ERR_INVALID_REQUEST);
        qr_karena_free(mem);
        if (err == QUIRE_ERR_INVALID_REQUEST)
            break; /* the broker closes the connection */
        pos += frame.size;
    }
    return 0;
}
