/*
 * wire: the edge between protobuf-c and quire's own request and response
 * structs (DESIGN.md §9). API handlers (broker/api_*.c) and the client work
 * on the plain C structs below; protobuf-c appears in wire.c only, so a
 * second listener speaking Kafka's own protocol can fill the same structs.
 *
 * Direction of use:
 *   broker: qr_frame_parse -> qr_wire_req_decode -> handler fills a qr_resp_t
 *           -> qr_wire_resp_encode (prefix + header) -> write it, then the
 *           payload (Fetch: every partition's records, in order).
 *   client: fill a qr_req_t -> qr_wire_req_encode -> write it, then the
 *           payload (Produce: every partition's records, in order);
 *           qr_frame_parse -> qr_wire_resp_decode.
 *
 * ---- Ownership ----
 * A struct filled by a decode function owns all the memory it points to
 * (arrays, strings) through one arena, req->mem / resp->mem, released at
 * once by qr_wire_req_free() / qr_wire_resp_free(). The exception is
 * `records` (Produce request, Fetch response): a view into the frame
 * payload given to decode, valid as long as the caller's frame bytes are.
 * Nothing points into the header bytes: they may be reused once decode
 * returns.
 * A struct filled by the caller for an encode function has mem == NULL and
 * every pointer in it is the caller's, borrowed for the duration of the
 * call. Encoding never reads `records`: the caller sends the payload itself
 * after the encoded bytes, in header order.
 *
 * ---- Error codes on the wire ----
 * error_code fields are quire_err_t. quire.proto's ErrorCode has the same
 * names and numbers (tests/unit/check_proto_errors.c), so decoding is the
 * identity through quire_err_from_wire() (an unknown or local number from a
 * peer becomes UNKNOWN_SERVER_ERROR). Encoding never sends a local code:
 * IO becomes KAFKA_STORAGE_ERROR, TIMED_OUT becomes REQUEST_TIMED_OUT and any
 * other local code UNKNOWN_SERVER_ERROR.
 *
 * ---- Versions ----
 * qr_wire_api_versions() is the table of (api, min, max) this build serves;
 * ApiVersions answers with it and decode refuses any other version with
 * QUIRE_ERR_UNSUPPORTED_VERSION (api and correlation_id still set, so the
 * broker answers; for ApiVersions itself, answer as Kafka does: the error
 * plus the table, so the client can pick a version). The rule: adding an
 * optional field an older peer may ignore needs no new version; changing a
 * field's meaning, or adding one that must be understood, raises that API's
 * max version, and older versions stay served. Field numbers in
 * quire.proto are never reused. Every API is at version 0 today.
 *
 * Nothing here allocates before the header size is bounded by the frame
 * parser (QR_FRAME_REQ_HEADER_MAX), and every count and string taken from a
 * peer is checked against the QR_WIRE_*_MAX limits below. Duplicate
 * topic-partitions in one request are passed on as they came: what they mean
 * is the handler's decision.
 */
#ifndef QR_WIRE_H
#define QR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apimsg.h"
#include "err.h"
#include "frame.h"

/* The structs themselves are protocol-neutral: apimsg.h. */

/* ---- versions ---- */

/**
 * @brief The APIs and versions this build serves.
 * @param count out: the number of rows.
 * @returns a static table (borrowed, valid forever).
 * @locality any  @locks none
 */
const qr_api_version_t *qr_wire_api_versions(size_t *count);

/**
 * @brief Whether @p api at @p version is served by this build.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_UNSUPPORTED_VERSION.
 * @locality any  @locks none
 */
quire_err_t qr_wire_api_check(int api, int version);

/**
 * @brief The name of @p api ("Produce", "ListOffsets", ...), for logs.
 * @returns a static string; "Unknown" for a key not in the table.
 * @locality any  @locks none
 */
const char *qr_wire_api_name(int api);

/* ---- broker side: decode a request, encode a response ---- */

/**
 * @brief Converts a request frame into @p req, validating as it goes.
 * @param frame a complete frame from qr_frame_parse() (borrowed; the
 *   `records` views of a Produce request point into frame->payload).
 * @param req out: filled on success; on failure only api, api_version,
 *   correlation_id and has_correlation_id are meaningful, so the caller can
 *   answer with the error. Always release it with qr_wire_req_free(), on
 *   success and on error.
 * @returns QUIRE_ERR_NONE;
 *   QUIRE_ERR_INVALID_REQUEST: the header is not a Request, a field is out
 *   of range, a count or string is above its limit, the body does not match
 *   the api, or the Produce records_length values do not sum to exactly
 *   the payload length (or a request other than Produce has a payload);
 *   QUIRE_ERR_UNSUPPORTED_VERSION: unknown api or version outside the table;
 *   QUIRE_ERR_INVALID_REQUIRED_ACKS: Produce acks not in {-1, 0, 1};
 *   QUIRE_ERR_NO_MEMORY: allocation failed.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_decode(const qr_frame_t *frame, qr_req_t *req);

/**
 * @brief Releases what a decoded @p req owns and zeroes it. Accepts NULL and
 * a caller-built struct (mem == NULL: nothing is freed).
 * @locality any  @locks none
 */
void qr_wire_req_free(qr_req_t *req);

/**
 * @brief Bytes of payload that follow the encoded response: the sum of the
 * Fetch records_length values, 0 for other apis.
 * @locality any  @locks none
 */
uint64_t qr_wire_resp_payload_len(const qr_resp_t *resp);

/**
 * @brief Encodes the frame prefix and header of @p resp into @p buf; the
 * prefix counts qr_wire_resp_payload_len(resp) payload bytes, which the
 * caller sends right after.
 * @param resp borrowed.
 * @param buf,cap destination (borrowed); buf may be NULL when cap is 0.
 * @param len out: bytes written, or on QUIRE_ERR_BUF_FULL the bytes needed.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BUF_FULL; QUIRE_ERR_BAD_ARG when a
 *   count or string is above the QR_WIRE_* limits or api does not fit the
 *   body; QUIRE_ERR_FRAME_TOO_LARGE when the frame would not fit 32-bit
 *   lengths; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_encode(const qr_resp_t *resp, uint8_t *buf, size_t cap,
                                size_t *len);

/**
 * @brief Like qr_wire_resp_encode() into a buffer it allocates.
 * @param out out: @returns owned buffer (free with free()) on success.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_encode_alloc(const qr_resp_t *resp, uint8_t **out,
                                      size_t *len);

/* ---- client side: encode a request, decode a response ---- */

/**
 * @brief Bytes of payload that follow the encoded request: the sum of the
 * Produce records_length values, 0 for other apis.
 * @locality any  @locks none
 */
uint64_t qr_wire_req_payload_len(const qr_req_t *req);

/**
 * @brief Encodes the frame prefix and header of @p req (see
 * qr_wire_resp_encode() for the parameters and errors). Also refuses, with
 * QUIRE_ERR_BAD_ARG, an api outside the version table and Produce acks not
 * in {-1, 0, 1}: what the broker would refuse is never sent.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_encode(const qr_req_t *req, uint8_t *buf, size_t cap,
                               size_t *len);

/**
 * @brief Like qr_wire_req_encode() into a buffer it allocates.
 * @param out out: @returns owned buffer (free with free()) on success.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_encode_alloc(const qr_req_t *req, uint8_t **out,
                                     size_t *len);

/**
 * @brief Converts a response frame into @p resp, validating as it goes.
 * @param frame a complete frame (borrowed; Fetch `records` views point into
 *   frame->payload).
 * @param resp out; always release it with qr_wire_resp_free().
 * @returns QUIRE_ERR_NONE (the broker's own verdict is in resp->error_code
 *   and the per-partition codes); QUIRE_ERR_BAD_FRAME when the header is
 *   not a valid Response (no correlation_id, counts or strings above the
 *   limits, the body not matching the api, Fetch records_length values not
 *   summing to the payload length): the connection cannot be trusted;
 *   QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_decode(const qr_frame_t *frame, qr_resp_t *resp);

/**
 * @brief Releases what a decoded @p resp owns and zeroes it. Accepts NULL
 * and a caller-built struct.
 * @locality any  @locks none
 */
void qr_wire_resp_free(qr_resp_t *resp);

#endif /* QR_WIRE_H */
