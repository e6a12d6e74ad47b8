/*
 * topicconf: topic overrides over the broker's defaults. See topicconf.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "logging.h"
#include "topicconf.h"

#define PLOG_FIELD(f) offsetof(qr_plog_conf_t, f)
#define MAX_BYTES_KEY ((size_t)-1) /* not a plog field */
#define MIN_ISR_KEY   ((size_t)-2) /* not a plog field */

typedef struct key {
    const char *name;
    size_t field; /* offsetof into qr_plog_conf_t, MAX_BYTES_KEY or
                     MIN_ISR_KEY */
    int64_t min, max;
} override_key_t;

static const override_key_t keys[] = {
    {"retention.ms", PLOG_FIELD(retention_ms), -1, INT64_MAX},
    {"retention.bytes", PLOG_FIELD(retention_bytes), -1, INT64_MAX},
    {"segment.bytes", PLOG_FIELD(segment_bytes), 1, INT32_MAX},
    {"segment.ms", PLOG_FIELD(roll_ms), 1, INT64_MAX},
    {"segment.index.bytes", PLOG_FIELD(index_size_max_bytes), 1, INT32_MAX},
    {"index.interval.bytes", PLOG_FIELD(index_interval_bytes), 0, INT32_MAX},
    {"flush.messages", PLOG_FIELD(flush_interval_messages), 1, INT64_MAX},
    {"flush.ms", PLOG_FIELD(flush_interval_ms), 0, INT64_MAX},
    {"file.delete.delay.ms", PLOG_FIELD(segment_delete_delay_ms), 0, INT64_MAX},
    {"max.message.bytes", MAX_BYTES_KEY, 0, INT32_MAX},
    {"write.caching", PLOG_FIELD(write_caching), 0, 1}, /* true/false too */
    {"min.insync.replicas", MIN_ISR_KEY, 1, INT32_MAX},
};

static const override_key_t *find_key(const char *name)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int parse(const char *text, const override_key_t *k, int64_t *v)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < k->min || n > k->max)
        return -1;
    *v = (int64_t)n;
    return 0;
}

/* One override onto @p pconf / @p prod; 0, or -1 with @p why set. */
static int apply_one(const char *key, const char *value, qr_plog_conf_t *pconf,
                     qr_topic_produce_t *prod, char *why, size_t why_size)
{
    const override_key_t *k = find_key(key);
    qr_plog_conf_t next = *pconf;
    int64_t v;

    if (!k) {
        if (strcmp(key, "cleanup.policy") == 0 && strcmp(value, "delete") == 0)
            return 0; /* what the log does anyway */
        if (strcmp(key, "message.timestamp.type") == 0) {
            if (strcmp(value, "CreateTime") == 0)
                prod->log_append_time = 0;
            else if (strcmp(value, "LogAppendTime") == 0)
                prod->log_append_time = 1;
            else {
                snprintf(why, why_size,
                         "\"%s\" is not CreateTime or LogAppendTime", value);
                return -1;
            }
            return 0;
        }
        if (strcmp(key, "message.validate.compressed") == 0) {
            if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
                snprintf(why, why_size, "\"%s\" is not true or false", value);
                return -1;
            }
            prod->trust_compressed = strcmp(value, "false") == 0;
            return 0;
        }
        if (strcmp(key, "unclean.leader.election.enable") == 0)
            return 0; /* the controller's, read from the view there */
        snprintf(why, why_size, "not supported by this broker");
        return -1;
    }
    if (k->field == PLOG_FIELD(write_caching) &&
        (!strcmp(value, "true") || !strcmp(value, "false")))
        v = !strcmp(value, "true");
    else if (parse(value, k, &v) != 0) {
        snprintf(why, why_size, "\"%s\" is not an integer in %lld..%lld", value,
                 (long long)k->min, (long long)k->max);
        return -1;
    }
    if (k->field == MAX_BYTES_KEY) {
        prod->max_message_bytes = (int32_t)v;
        return 0;
    }
    if (k->field == MIN_ISR_KEY) {
        prod->min_insync_replicas = (int32_t)v;
        return 0;
    }
    memcpy((char *)&next + k->field, &v, sizeof(v));
    /* the partition log's own limits (segment.bytes must hold a batch
     * header, an index at least one entry, ...) */
    if (qr_plog_conf_check(&next, why, why_size) != QUIRE_ERR_NONE)
        return -1;
    *pconf = next;
    return 0;
}

size_t qr_topicconf_apply(const char *topic, const qr_plog_conf_t *defaults,
                          const qr_topic_produce_t *default_prod,
                          const qr_topic_config_t *cfg, qr_plog_conf_t *out,
                          qr_topic_produce_t *prod)
{
    size_t skipped = 0;
    char why[256];

    *out = *defaults;
    *prod = *default_prod;
    for (size_t i = 0; cfg && i < cfg->n; i++) {
        if (apply_one(cfg->keys[i], cfg->values[i], out, prod, why,
                      sizeof(why)) == 0)
            continue;
        QR_LOG_WARN("CONF", "topic %s: override %s=%s ignored: %s", topic,
                    cfg->keys[i], cfg->values[i], why);
        skipped++;
    }
    return skipped;
}
