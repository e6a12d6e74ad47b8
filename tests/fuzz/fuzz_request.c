/*
 * fuzz_request: the broker's request path under libFuzzer (issue 5 item 6).
 *
 * The input is what a peer writes on a connection: a stream of frames, back
 * to back. As the broker does, it is cut into frames by qr_frame_parse()
 * with the broker's limits (socket.request.max.bytes' default and
 * QR_FRAME_REQ_HEADER_MAX), each frame's header decoded by
 * qr_wire_req_decode() and released by qr_wire_req_free(), and every record
 * batch of a Produce request validated with qr_batch_validate
 * (QR_BATCH_CHECK_CRC), batch after batch through each partition's records.
 * A frame whose header does not decode is answered and the stream goes on;
 * a framing error ends it (the broker closes the connection).
 *
 * Besides what ASan and UBSan see, it checks the contracts the broker
 * relies on: NEED_MORE promises progress, a parsed frame lies inside the
 * input and adds up, the parser decides the same on any prefix of a frame,
 * decode returns only its documented codes, a decoded request's strings and
 * arrays are within its limits and its records views tile the payload
 * exactly, and a valid batch lies inside its partition's records.
 */
#include "config.h"

#include <string.h>

#include "batch.h"
#include "frame.h"
#include "fuzz.h"
#include "wire.h"

/* The most frames taken from one input (a bound on the work per input). */
#define MAX_FRAMES 64

static void check_string(const char *s, size_t max)
{
    QR_FUZZ_CHECK(s != NULL);
    QR_FUZZ_CHECK(strlen(s) <= max);
}

static void check_produce(const qr_produce_req_t *pr, const qr_frame_t *frame)
{
    const uint8_t *next = frame->payload;
    uint64_t sum = 0;

    QR_FUZZ_CHECK(pr->acks == -1 || pr->acks == 0 || pr->acks == 1);
    QR_FUZZ_CHECK(pr->timeout_ms >= 0);
    QR_FUZZ_CHECK(pr->topic_count <= QR_WIRE_TOPICS_MAX);
    for (size_t i = 0; i < pr->topic_count; i++) {
        const qr_produce_topic_t *t = &pr->topics[i];

        check_string(t->topic, QR_WIRE_TOPIC_MAX);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_produce_part_t *part = &t->partitions[j];

            /* The views tile the payload, in header order. */
            if (part->records_length != 0)
                QR_FUZZ_CHECK(part->records == next);
            sum += part->records_length;
            QR_FUZZ_CHECK(sum <= frame->payload_len);
            next += part->records_length;
            qr_fuzz_touch(part->records, part->records_length);
            qr_fuzz_check_records(part->records, part->records_length);
        }
    }
    QR_FUZZ_CHECK(sum == frame->payload_len);
}

/* Reads every field of a decoded request (ASan checks the arena). */
static void check_req(const qr_req_t *req, const qr_frame_t *frame)
{
    size_t parts = 0;

    QR_FUZZ_CHECK(qr_wire_api_check(req->api, req->api_version) ==
                  QUIRE_ERR_NONE);
    QR_FUZZ_CHECK(req->has_correlation_id);
    check_string(req->client_id, QR_WIRE_STRING_MAX);
    if (req->api != QR_API_PRODUCE)
        QR_FUZZ_CHECK(frame->payload_len == 0);
    switch (req->api) {
    case QR_API_API_VERSIONS:
        break;
    case QR_API_METADATA:
        QR_FUZZ_CHECK(req->u.metadata.topic_count <= QR_WIRE_TOPICS_MAX);
        for (size_t i = 0; i < req->u.metadata.topic_count; i++)
            check_string(req->u.metadata.topics[i], QR_WIRE_TOPIC_MAX);
        break;
    case QR_API_PRODUCE:
        check_produce(&req->u.produce, frame);
        for (size_t i = 0; i < req->u.produce.topic_count; i++)
            parts += req->u.produce.topics[i].partition_count;
        break;
    case QR_API_FETCH:
        QR_FUZZ_CHECK(req->u.fetch.topic_count <= QR_WIRE_TOPICS_MAX);
        for (size_t i = 0; i < req->u.fetch.topic_count; i++) {
            const qr_fetch_topic_t *t = &req->u.fetch.topics[i];

            check_string(t->topic, QR_WIRE_TOPIC_MAX);
            qr_fuzz_touch(t->partitions,
                          t->partition_count * sizeof(t->partitions[0]));
            parts += t->partition_count;
        }
        break;
    case QR_API_LIST_OFFSETS:
        QR_FUZZ_CHECK(req->u.list_offsets.topic_count <= QR_WIRE_TOPICS_MAX);
        for (size_t i = 0; i < req->u.list_offsets.topic_count; i++) {
            const qr_list_offsets_topic_t *t = &req->u.list_offsets.topics[i];

            check_string(t->topic, QR_WIRE_TOPIC_MAX);
            qr_fuzz_touch(t->partitions,
                          t->partition_count * sizeof(t->partitions[0]));
            parts += t->partition_count;
        }
        break;
    default:
        QR_FUZZ_CHECK(!"decoded an api outside the table");
    }
    QR_FUZZ_CHECK(parts <= QR_WIRE_PARTITIONS_MAX);
}

/* The parser must decide the same on every prefix of a complete frame:
 * NEED_MORE (with the right size once 4 bytes are there) until it is whole,
 * so reading a frame in pieces changes nothing. */
static void check_prefixes(const uint8_t *p, const qr_frame_limits_t *lim,
                           const qr_frame_t *whole)
{
    static const size_t cuts[] = {0, 1, 3, 4, 5, 7, 8, 9};
    qr_frame_t frame;

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        if (cuts[i] >= whole->size)
            break;
        QR_FUZZ_CHECK(qr_frame_parse(p, cuts[i], lim, &frame) ==
                      QUIRE_ERR_NEED_MORE);
        QR_FUZZ_CHECK(frame.size ==
                      (cuts[i] < 4 ? (size_t)QR_FRAME_PREFIX : whole->size));
    }
    QR_FUZZ_CHECK(qr_frame_parse(p, whole->size - 1, lim, &frame) ==
                  QUIRE_ERR_NEED_MORE);
    QR_FUZZ_CHECK(frame.size == whole->size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const qr_frame_limits_t lim = {QR_FRAME_MAX_DEFAULT,
                                   QR_FRAME_REQ_HEADER_MAX};
    size_t pos = 0;

    for (int n = 0; n < MAX_FRAMES; n++) {
        const uint8_t *p = data + pos;
        size_t left = size - pos;
        qr_frame_t frame;
        qr_req_t req;
        quire_err_t err;

        err = qr_frame_parse(left ? p : NULL, left, &lim, &frame);
        if (err == QUIRE_ERR_NEED_MORE) {
            /* Progress: the size asked for is more than what is there. */
            QR_FUZZ_CHECK(frame.size > left ||
                          (left < 4 && frame.size == QR_FRAME_PREFIX));
            QR_FUZZ_CHECK(frame.size >= QR_FRAME_PREFIX);
            break;
        }
        if (err != QUIRE_ERR_NONE) {
            QR_FUZZ_CHECK(err == QUIRE_ERR_BAD_FRAME ||
                          err == QUIRE_ERR_FRAME_TOO_LARGE);
            break; /* the broker closes the connection */
        }
        QR_FUZZ_CHECK(frame.size <= left);
        QR_FUZZ_CHECK(frame.size == QR_FRAME_PREFIX + (size_t)frame.header_len +
                                        frame.payload_len);
        QR_FUZZ_CHECK(frame.header == p + QR_FRAME_PREFIX);
        QR_FUZZ_CHECK(frame.payload == frame.header + frame.header_len);
        QR_FUZZ_CHECK(frame.header_len <= lim.max_header);
        check_prefixes(p, &lim, &frame);

        err = qr_wire_req_decode(&frame, &req);
        if (err == QUIRE_ERR_NONE) {
            check_req(&req, &frame);
        } else {
            QR_FUZZ_CHECK(err == QUIRE_ERR_INVALID_REQUEST ||
                          err == QUIRE_ERR_UNSUPPORTED_VERSION ||
                          err == QUIRE_ERR_INVALID_REQUIRED_ACKS ||
                          err == QUIRE_ERR_NO_MEMORY);
        }
        qr_wire_req_free(&req);
        QR_FUZZ_CHECK(req.mem == NULL);
        pos += frame.size;
    }
    return 0;
}
