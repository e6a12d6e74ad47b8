/*
 * kawire: Kafka's bytes of the topic-administration APIs (issue 13, item
 * 5), to and from the neutral bodies of kadminmsg.h, over kwire's readers
 * and writers. One decode/encode pair per API; broker/kcodec.c has one
 * table row each, with the versions served:
 *
 *   CreateTopics 0-4, DeleteTopics 0-3, DescribeConfigs 0-2
 *
 * every version below the flexible ones (CreateTopics 5, DeleteTopics 4)
 * and DescribeConfigs up to kafka-python's newest (v3 adds documentation),
 * which covers what kcat 1.7.1 / librdkafka 2.0.2 and kafka-python 2.0.2
 * ask for. Decoders return QUIRE_ERR_NONE or QUIRE_ERR_INVALID_REQUEST
 * (malformed); encoders append the body.
 * @locality any  @locks none (every function).
 */
#ifndef QR_KAWIRE_H
#define QR_KAWIRE_H

#include "kwire.h"

#define QR_KAWIRE_DECL(api)                                           \
    quire_err_t qr_kawire_##api##_decode(qr_kr_t *r, int16_t version, \
                                         qr_req_t *req);              \
    void qr_kawire_##api##_encode(qr_kout_t *o, int16_t version,      \
                                  const qr_resp_t *resp)

QR_KAWIRE_DECL(create_topics);
QR_KAWIRE_DECL(delete_topics);
QR_KAWIRE_DECL(describe_configs);

#endif /* QR_KAWIRE_H */
