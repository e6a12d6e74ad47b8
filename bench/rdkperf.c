/*
 * rdkperf: librdkafka's producer and consumer against a Kafka listener
 * (issue 13's benchmark; bench/kafkabench.sh runs it beside quire-perf).
 *
 *   rdkperf produce BROKERS TOPIC N [SIZE]   N records of SIZE (100) bytes
 *   rdkperf consume BROKERS TOPIC N          N records from the beginning
 *
 * Prints one line: "<records> <seconds> <records/s>".
 *
 * Producer settings are those of a Kafka producer perf test for throughput
 * (rdkafka_performance / kafka-producer-perf-test with batching): acks=1,
 * linger.ms=5, batch.num.messages=10000, batch.size=1000000,
 * queue.buffering.max.messages=1000000, no compression, rd_kafka_produce()
 * with RD_KAFKA_MSG_F_COPY to the unassigned partition (the sticky
 * partitioner's choice); every delivery report is counted, and a failed one
 * fails the run. The consumer assigns every partition at the beginning
 * (no group protocol) and reads with rd_kafka_consume_batch_queue() until N
 * records arrived; librdkafka's fetch defaults are kept except
 * fetch.wait.max.ms=100. Both are bounded by RDKPERF_TIMEOUT seconds (120).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long delivered, failed;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];

    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "rdkperf: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ == 0)
            fprintf(stderr, "rdkperf: delivery failed: %s\n",
                    rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static int produce(const char *brokers, const char *topic, long n, int size,
                   double limit)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256], *payload = malloc((size_t)size);
    rd_kafka_topic_t *rkt;
    rd_kafka_t *rk;
    double t0, dt;
    long sent = 0;

    memset(payload, 'x', (size_t)size);
    set(conf, "bootstrap.servers", brokers);
    set(conf, "acks", "1");
    set(conf, "linger.ms", "5");
    set(conf, "batch.num.messages", "10000");
    set(conf, "batch.size", "1000000");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "compression.codec", "none");
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "rdkperf: %s\n", err);
        return 2;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    t0 = now();
    while (sent < n && now() - t0 < limit) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                             payload, (size_t)size, NULL, 0, NULL) == -1) {
            if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
                continue;
            }
            fprintf(stderr, "rdkperf: produce: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
        sent++;
        if ((sent & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    while (delivered + failed < sent && now() - t0 < limit)
        rd_kafka_poll(rk, 10);
    dt = now() - t0;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    printf("%ld %.3f %.0f\n", delivered, dt, (double)delivered / dt);
    return delivered == n && failed == 0 ? 0 : 1;
}

#define BATCH 10000 /* messages per rd_kafka_consume_batch_queue() */

static int consume(const char *brokers, const char *topic, long n, double limit)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *rkt;
    static rd_kafka_message_t *msgs[BATCH];
    rd_kafka_queue_t *rkq;
    char err[256];
    rd_kafka_t *rk;
    double t0 = 0, dt;
    long got = 0;

    set(conf, "bootstrap.servers", brokers);
    set(conf, "group.id", "rdkperf");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.wait.max.ms", "100");
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "rdkperf: %s\n", err);
        return 2;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "rdkperf: no metadata for %s\n", topic);
        return 2;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic,
                                          md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    t0 = now();
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    /* in batches from the consumer queue, as rdkafka_performance -C does:
     * one queue lock and wake-up per batch, not per message */
    rkq = rd_kafka_queue_get_consumer(rk);
    while (got < n && now() - t0 < limit) {
        ssize_t cnt = rd_kafka_consume_batch_queue(rkq, 100, msgs, BATCH);

        for (ssize_t i = 0; i < cnt; i++) {
            rd_kafka_message_t *m = msgs[i];

            if (!m->err)
                got++;
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "rdkperf: consume: %s\n",
                        rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_queue_destroy(rkq);
    dt = now() - t0;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("%ld %.3f %.0f\n", got, dt, (double)got / dt);
    return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *t = getenv("RDKPERF_TIMEOUT");
    double limit = t ? atof(t) : 120;

    if (argc >= 5 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], argv[3], atol(argv[4]),
                       argc > 5 ? atoi(argv[5]) : 100, limit);
    if (argc >= 5 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], argv[3], atol(argv[4]), limit);
    fprintf(stderr, "usage: rdkperf produce|consume BROKERS TOPIC N [SIZE]\n");
    return 2;
}
