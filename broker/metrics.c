/*
 * metrics: the Prometheus exposition of a broker (see metrics.h).
 *
 * Names follow Prometheus' conventions: the quire_ prefix, _total on
 * counters, base units (_seconds, _bytes). Where Kafka has the metric, the
 * help text says which MBean it corresponds to.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "flusher.h"
#include "meta.h"
#include "metrics.h"
#include "netthread.h"
#include "partlog.h"
#include "partmap.h"
#include "replica.h"
#include "server.h"
#include "wire.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(FILE *f, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* One histogram series; @p scale divides observations into base units
 * (1e9 for ns -> seconds, 1 for counts). @p labels is "" or `a="b",`. */
static void hist_series(FILE *f, const char *name, const char *labels,
                        const uint64_t *bounds, const qr_hist_snap_t *s,
                        double scale)
{
    for (size_t i = 0; i < s->nbounds; i++)
        fprintf(f, "%s_bucket{%sle=\"%g\"} %" PRIu64 "\n", name, labels,
                (double)bounds[i] / scale, s->cum[i]);
    fprintf(f, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
            s->cum[s->nbounds]);
    if (labels[0]) { /* drop the trailing comma for _sum and _count */
        size_t n = strlen(labels) - 1;
        fprintf(f, "%s_sum{%.*s} %.9g\n%s_count{%.*s} %" PRIu64 "\n", name,
                (int)n, labels, (double)s->sum / scale, name, (int)n, labels,
                s->cum[s->nbounds]);
    } else {
        fprintf(f, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name,
                (double)s->sum / scale, name, s->cum[s->nbounds]);
    }
}

/* ---- network threads: requests, bytes, connections, busy time ---- */

static uint64_t sum_nt(qr_server_t *server, size_t field_off)
{
    uint64_t v = 0;
    int n = qr_server_netthread_count(server);

    for (int i = 0; i < n; i++) {
        qr_nt_stats_t *st = qr_netthread_stats(qr_server_netthread(server, i));
        v += LOAD(*(atomic_uint_fast64_t *)((char *)st + field_off));
    }
    return v;
}

#define SUM_NT(server, field) sum_nt((server), offsetof(qr_nt_stats_t, field))

/* The api label of request slot @p a: its name, or its key when this
 * build has none (one series per slot: two "Unknown" would collide). */
static const char *api_label(int a, char *buf, size_t size)
{
    const char *name = qr_wire_api_name(a);

    if (a == QR_NT_API_SLOTS - 1)
        return "Unknown";
    if (strcmp(name, "Unknown") != 0)
        return name;
    snprintf(buf, size, "%d", a);
    return buf;
}

static void render_requests(FILE *f, qr_server_t *server)
{
    int nts = qr_server_netthread_count(server);
    char name[16];

    head(f, "quire_requests_total", "counter",
         "Requests answered, by API and error code (the request's, else its "
         "first partition's) (Kafka: RequestsPerSec, ErrorsPerSec).");
    for (int a = 0; a < QR_NT_API_SLOTS; a++)
        for (int e = 0; e < QR_NT_ERR_SLOTS; e++) {
            uint64_t v = 0;
            for (int i = 0; i < nts; i++)
                v += LOAD(qr_netthread_stats(qr_server_netthread(server, i))
                              ->done[a][e]);
            if (v == 0)
                continue;
            fprintf(
                f,
                "quire_requests_total{api=\"%s\",error=\"%s\"} %" PRIu64 "\n",
                api_label(a, name, sizeof(name)),
                e == QR_NT_ERR_SLOTS - 1 ? "OTHER"
                                         : quire_err2name((quire_err_t)(e - 1)),
                v);
        }
    head(f, "quire_request_duration_seconds", "histogram",
         "Time from a request being read to its response being complete, by "
         "API (Kafka: TotalTimeMs).");
    for (int a = 0; a < QR_NT_API_SLOTS; a++) {
        qr_hist_snap_t s;
        char labels[64];
        memset(&s, 0, sizeof(s));
        for (int i = 0; i < nts; i++)
            qr_hist_add_to(
                &qr_netthread_stats(qr_server_netthread(server, i))->latency[a],
                &s);
        if (s.cum[s.nbounds] == 0)
            continue;
        snprintf(labels, sizeof(labels), "api=\"%s\",",
                 api_label(a, name, sizeof(name)));
        hist_series(f, "quire_request_duration_seconds", labels,
                    qr_hist_latency_ns, &s, 1e9);
    }
}

static void render_network(FILE *f, qr_server_t *server)
{
    int nts = qr_server_netthread_count(server);

    scalar(f, "quire_messages_in_total", "counter",
           "Records appended by Produce (Kafka: MessagesInPerSec).",
           SUM_NT(server, messages_in));
    scalar(f, "quire_bytes_in_total", "counter",
           "Record batch bytes appended by Produce (Kafka: BytesInPerSec).",
           SUM_NT(server, produce_bytes_in));
    scalar(f, "quire_bytes_out_total", "counter",
           "Record batch bytes sent to consumers; followers' fetches are not "
           "counted (Kafka: BytesOutPerSec).",
           SUM_NT(server, fetch_bytes_out));
    scalar(f, "quire_network_received_bytes_total", "counter",
           "Bytes read from client sockets, frames included.",
           SUM_NT(server, bytes_in));
    scalar(f, "quire_network_sent_bytes_total", "counter",
           "Bytes written to client sockets, frames included.",
           SUM_NT(server, bytes_out));
    scalar(f, "quire_connections_open", "gauge", "Client connections open.",
           SUM_NT(server, conns_open));
    scalar(f, "quire_connections_accepted_total", "counter",
           "Client connections accepted.", SUM_NT(server, conns_accepted));
    scalar(f, "quire_network_threads", "gauge", "Network threads.",
           (uint64_t)nts);
    head(f, "quire_network_thread_busy_seconds_total", "counter",
         "Time each network thread spent outside its poll; its rate() is the "
         "thread's busy ratio (Kafka: NetworkProcessorAvgIdlePercent, "
         "inverted).");
    for (int i = 0; i < nts; i++)
        fprintf(
            f,
            "quire_network_thread_busy_seconds_total{thread=\"%d\"} "
            "%.9g\n",
            i,
            (double)LOAD(
                qr_netthread_stats(qr_server_netthread(server, i))->busy_ns) /
                1e9);
}

/* ---- storage: the flusher ---- */

static void render_flusher(FILE *f, qr_server_t *server)
{
    qr_flusher_t *fl = qr_server_flusher(server);
    qr_hist_snap_t s;

    if (!fl)
        return;
    qr_flusher_stats_t *st = qr_flusher_stats(fl);
    scalar(f, "quire_log_fsyncs_total", "counter",
           "fdatasync and directory fsync calls made for partition logs.",
           LOAD(st->fsyncs));
    head(f, "quire_log_flush_duration_seconds", "histogram",
         "Time of one partition sync (Kafka: LogFlushRateAndTimeMs).");
    memset(&s, 0, sizeof(s));
    qr_hist_add_to(&st->flush_ns, &s);
    hist_series(f, "quire_log_flush_duration_seconds", "", qr_hist_latency_ns,
                &s, 1e9);
    head(f, "quire_log_group_commit_requests", "histogram",
         "acks=all produce waits completed by one partition sync (group "
         "commit batch size).");
    memset(&s, 0, sizeof(s));
    qr_hist_add_to(&st->group_commit, &s);
    hist_series(f, "quire_log_group_commit_requests", "", qr_hist_pow2, &s, 1);
}

/* ---- cluster: ZooKeeper, controller, leadership ---- */

static void render_cluster(FILE *f, qr_server_t *server, size_t led,
                           size_t under)
{
    qr_metrics_state_t *ms = qr_server_mstate(server);

    scalar(f, "quire_zookeeper_connected", "gauge",
           "1 while the ZooKeeper session is connected.",
           (uint64_t)LOAD(ms->zk_connected));
    scalar(f, "quire_zookeeper_registered", "gauge",
           "1 while /brokers/ids/<id> holds this broker.",
           (uint64_t)LOAD(ms->registered));
    scalar(f, "quire_zookeeper_disconnects_total", "counter",
           "ZooKeeper connection losses (Kafka: ZooKeeperDisconnectsPerSec).",
           LOAD(ms->zk_disconnects));
    scalar(f, "quire_zookeeper_reconnects_total", "counter",
           "ZooKeeper connections re-established with the same session.",
           LOAD(ms->zk_reconnects));
    scalar(f, "quire_zookeeper_expires_total", "counter",
           "ZooKeeper sessions expired (Kafka: ZooKeeperExpiresPerSec).",
           LOAD(ms->zk_expirations));
    scalar(f, "quire_controller_active", "gauge",
           "1 while this broker is the controller (Kafka: "
           "ActiveControllerCount).",
           (uint64_t)LOAD(ms->controller));
    scalar(f, "quire_partitions_led", "gauge",
           "Partitions this broker leads (Kafka: LeaderCount).", (uint64_t)led);
    scalar(f, "quire_partitions_under_replicated", "gauge",
           "Partitions led here whose ISR is smaller than their replica list "
           "(Kafka: UnderReplicatedPartitions).",
           (uint64_t)under);
}

/* ---- per partition ---- */

typedef struct part_row {
    const char *topic;
    int32_t partition;
    int64_t start, end, hw;
    uint64_t size, segs, isr, replicas;
} part_row_t;

/* clang-format off */
static const struct {
    const char *name, *help;
    size_t off;
    int is_signed;
} part_metrics[] = {
    {"quire_partition_log_start_offset",
     "First offset kept (Kafka: LogStartOffset).",
     offsetof(part_row_t, start), 1},
    {"quire_partition_log_end_offset",
     "Offset the next record gets (Kafka: LogEndOffset).",
     offsetof(part_row_t, end), 1},
    {"quire_partition_high_watermark",
     "Offset consumers read up to.",
     offsetof(part_row_t, hw), 1},
    {"quire_partition_size_bytes",
     "Bytes of the partition's segment logs (Kafka: Size).",
     offsetof(part_row_t, size), 0},
    {"quire_partition_segments",
     "Segments of the partition (Kafka: NumLogSegments).",
     offsetof(part_row_t, segs), 0},
    {"quire_partition_isr_size",
     "Replicas in sync, the leader included.",
     offsetof(part_row_t, isr), 0},
    {"quire_partition_replicas",
     "Replicas assigned to the partition.",
     offsetof(part_row_t, replicas), 0},
};
/* clang-format on */

static part_row_t *collect_parts(qr_server_t *server, qr_pentry_t ***ep,
                                 size_t *n)
{
    qr_pentry_t **entries = qr_partmap_all(qr_server_partmap(server), n);
    qr_meta_t *meta = qr_server_meta(server);
    part_row_t *rows = qr_calloc(*n ? *n : 1, sizeof(*rows));

    for (size_t i = 0; i < *n; i++) {
        qr_pentry_t *entry = entries[i];
        part_row_t *r = &rows[i];
        const qr_meta_part_t *mp =
            qr_meta_part_find(meta, entry->topic, entry->partition);
        r->topic = entry->topic;
        r->partition = entry->partition;
        r->start = qr_plog_log_start(entry->part);
        r->end = qr_plog_log_end(entry->part);
        r->hw = qr_plog_high_watermark(entry->part);
        r->size = qr_plog_size_bytes(entry->part);
        r->segs = qr_plog_segment_count(entry->part);
        r->isr = entry->replica ? qr_replica_isr(entry->replica, NULL, 0)
                 : mp           ? mp->isr_cnt
                                : 1;
        r->replicas = mp && mp->replica_cnt ? mp->replica_cnt : 1;
    }
    qr_meta_release(meta);
    *ep = entries;
    return rows;
}

static void render_parts(FILE *f, const part_row_t *rows, size_t n)
{
    for (size_t m = 0; m < sizeof(part_metrics) / sizeof(part_metrics[0]);
         m++) {
        if (n == 0)
            break;
        head(f, part_metrics[m].name, "gauge", part_metrics[m].help);
        for (size_t i = 0; i < n; i++) {
            const char *p = (const char *)&rows[i] + part_metrics[m].off;
            fprintf(f, "%s{topic=\"%s\",partition=\"%d\"} ",
                    part_metrics[m].name, rows[i].topic, rows[i].partition);
            if (part_metrics[m].is_signed)
                fprintf(f, "%" PRId64 "\n", *(const int64_t *)p);
            else
                fprintf(f, "%" PRIu64 "\n", *(const uint64_t *)p);
        }
    }
}

void qr_metrics_render(qr_server_t *server, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    qr_pentry_t **entries;
    part_row_t *rows;
    size_t n, under = 0;

    if (!f)
        abort(); /* out of memory: as qr_malloc() */
    fprintf(f,
            "# HELP quire_broker_info The broker's id.\n"
            "# TYPE quire_broker_info gauge\n"
            "quire_broker_info{broker_id=\"%d\",version=\"%s\"} 1\n",
            (int)qr_server_info(server)->broker_id, PACKAGE_VERSION);
    render_requests(f, server);
    render_network(f, server);
    render_flusher(f, server);
    rows = collect_parts(server, &entries, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i].isr < rows[i].replicas)
            under++;
    render_cluster(f, server, n, under);
    render_parts(f, rows, n);
    if (fclose(f) != 0)
        abort();
    for (size_t i = 0; i < n; i++)
        qr_pentry_release(entries[i]);
    free(entries);
    free(rows);
}

void qr_metrics_cache_free(qr_metrics_state_t *st)
{
    free(st->cache);
    st->cache = NULL;
}

int qr_metrics_healthy(const qr_metrics_state_t *st, const char **why)
{
    if (LOAD(st->stopping))
        *why = "shutting down";
    else if (!LOAD(st->serving))
        *why = "not serving yet";
    else if (!LOAD(st->zk_connected))
        *why = "not connected to ZooKeeper";
    else if (!LOAD(st->registered))
        *why = "not registered in ZooKeeper";
    else
        return 1;
    return 0;
}

int qr_metrics_http(void *opaque, const char *path, char **body, size_t *len,
                    const char **ctype)
{
    qr_server_t *server = opaque;
    const char *why;
    char line[128];

    if (strcmp(path, "/metrics") == 0) {
        qr_metrics_state_t *st = qr_server_mstate(server);
        int cache_ms = qr_server_conf(server)->metrics_cache_ms;
        int64_t now = qr_clock_mono_ms();

        *ctype = QR_METRICS_CTYPE;
        if (cache_ms <= 0) {
            qr_metrics_render(server, body, len);
            return 200;
        }
        /* a flood of scrapes renders once per metrics.cache.ms: each
         * render takes every partition log's lock, which produce needs */
        if (!st->cache || now - st->cache_at_ms >= cache_ms) {
            free(st->cache);
            qr_metrics_render(server, &st->cache, &st->cache_len);
            st->cache_at_ms = now;
        }
        *body = qr_malloc(st->cache_len + 1);
        memcpy(*body, st->cache, st->cache_len + 1);
        *len = st->cache_len;
        return 200;
    }
    if (strcmp(path, "/health") == 0) {
        int ok = qr_metrics_healthy(qr_server_mstate(server), &why);
        snprintf(line, sizeof(line), "%s\n", ok ? "ok" : why);
        *body = qr_strdup(line);
        *len = strlen(line);
        return ok ? 200 : 503;
    }
    snprintf(line, sizeof(line), "not found: try /metrics or /health\n");
    *body = qr_strdup(line);
    *len = strlen(line);
    return 404;
}
