/*
 * api_epoch: the OffsetForLeaderEpoch API (Kafka key 23; issue 16 item 6,
 * KIP-101 / KIP-279). A follower that starts following asks the leader
 * where its own latest epoch ends, and truncates its log there (never by
 * its high watermark alone). Only a partition's leader answers
 * (NOT_LEADER_FOR_PARTITION otherwise); a current_leader_epoch older than
 * the leader's is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH. The
 * answer is qr_plog_end_offset_for_epoch()'s (partlog.h). The encoder and
 * decoder a broker's fetcher uses to ask are proto/wire.h's
 * (qr_wire_req_encode / qr_wire_resp_decode with
 * QR_API_OFFSET_FOR_LEADER_EPOCH).
 */
#ifndef QR_API_EPOCH_H
#define QR_API_EPOCH_H

#include "request.h"

/**
 * @brief Answers at once (no I/O: the epoch cache is in memory).
 * @locality net thread  @locks the partition lock, briefly, per partition
 */
void qr_api_epoch(qr_reqctx_t *ctx);

#endif /* QR_API_EPOCH_H */
