/*
 * topicconf: a topic's settings from the broker-wide defaults and the
 * topic's overrides (/config/topics/<t>, read by the coordinator), as
 * Kafka's LogConfig does: topic-level keys over the log.* keys of
 * server.properties.
 *
 * Keys applied (Kafka's topic-level names, each over its broker key):
 *   retention.ms          log.retention.ms (.minutes, .hours); -1 forever
 *   retention.bytes       log.retention.bytes; -1 no limit
 *   segment.bytes         log.segment.bytes
 *   segment.ms            log.roll.ms (.hours)
 *   segment.index.bytes   log.index.size.max.bytes
 *   index.interval.bytes  log.index.interval.bytes
 *   flush.messages        log.flush.interval.messages
 *   flush.ms              log.flush.interval.ms
 *   file.delete.delay.ms  log.segment.delete.delay.ms
 *   max.message.bytes     message.max.bytes (checked by Produce)
 *   message.timestamp.type log.message.timestamp.type: CreateTime, or
 *                         LogAppendTime (Produce stamps each batch)
 *   message.validate.compressed  log.message.validate.compressed: true
 *                         (Produce decompresses a compressed batch to
 *                         check its records) or false (trusted producers)
 *   cleanup.policy        only "delete", the one policy implemented
 *   write.caching         log.write.caching: true or false (Redpanda's
 *                         topic key; no Kafka equivalent)
 *   min.insync.replicas   min.insync.replicas: ISR members acks=all needs
 * Anything else, and any value the partition log cannot take, is skipped
 * with a warning naming the topic and key: a bad override must not keep a
 * partition from being served.
 *
 * When they apply: sizes of the index and segment from the next segment
 * on, retention at the next retention pass, flush settings at the next
 * append, max.message.bytes and min.insync.replicas at the next Produce.
 */
#ifndef QR_TOPICCONF_H
#define QR_TOPICCONF_H

#include <stddef.h>
#include <stdint.h>

#include "partlog.h"
#include "partmap.h"
#include "znode.h"

/**
 * @brief The settings of @p topic: @p defaults with @p cfg applied.
 * @param topic borrowed; for the warnings.
 * @param defaults, default_prod the broker's log.* settings, its
 *        message.max.bytes and log.message.timestamp.type.
 * @param cfg borrowed; NULL or empty: the defaults.
 * @param out set to the partition-log settings.
 * @param prod set to what Produce applies (largest batch, timestamps).
 * @returns the number of overrides skipped (each logged).
 * @locality any  @locks none
 */
size_t qr_topicconf_apply(const char *topic, const qr_plog_conf_t *defaults,
                          const qr_topic_produce_t *default_prod,
                          const qr_topic_config_t *cfg, qr_plog_conf_t *out,
                          qr_topic_produce_t *prod);

#endif /* QR_TOPICCONF_H */
