/*
 * kgwire: Kafka's bytes of the group APIs (issue 13), to and from the
 * neutral bodies of kgroupmsg.h, over kwire's readers and writers. One
 * decode/encode pair per API; broker/kcodec.c has one table row each,
 * with the versions served:
 *
 *   FindCoordinator 0-2, JoinGroup 0-5, SyncGroup 0-3, Heartbeat 0-3,
 *   LeaveGroup 0-3, OffsetCommit 0-7, OffsetFetch 0-5, DescribeGroups 0-4,
 *   ListGroups 0-2
 *
 * which are every non-flexible version, and cover what kcat 1.7.1 /
 * librdkafka 2.0.2 and kafka-python 2.0.2 ask for. Decoders return
 * QUIRE_ERR_NONE or QUIRE_ERR_INVALID_REQUEST (malformed); encoders append
 * the body. @locality any  @locks none (every function).
 */
#ifndef QR_KGWIRE_H
#define QR_KGWIRE_H

#include "kwire.h"

#define QR_KGWIRE_DECL(api)                                           \
    quire_err_t qr_kgwire_##api##_decode(qr_kr_t *r, int16_t version, \
                                         qr_req_t *req);              \
    void qr_kgwire_##api##_encode(qr_kout_t *o, int16_t version,      \
                                  const qr_resp_t *resp)

QR_KGWIRE_DECL(find_coord);
QR_KGWIRE_DECL(join);
QR_KGWIRE_DECL(sync);
QR_KGWIRE_DECL(heartbeat);
QR_KGWIRE_DECL(leave);
QR_KGWIRE_DECL(commit);
QR_KGWIRE_DECL(fetch);
QR_KGWIRE_DECL(describe);
QR_KGWIRE_DECL(list);

#endif /* QR_KGWIRE_H */
