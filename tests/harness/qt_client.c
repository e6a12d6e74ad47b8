/*
 * qt_client: blocking raw-protocol client for tests.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "qt_client.h"

#define RECV_MAX (128u * 1024 * 1024)

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int split_addr(const char *addr, char *host, size_t hsz, char *port,
                      size_t psz)
{
    const char *colon;
    size_t hl;

    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return -1;
        hl = (size_t)(rb - addr - 1);
        if (hl >= hsz)
            return -1;
        memcpy(host, addr + 1, hl);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - addr);
        if (hl >= hsz)
            return -1;
        memcpy(host, addr, hl);
    }
    host[hl] = '\0';
    snprintf(port, psz, "%s", colon + 1);
    return 0;
}

qt_client_t *qt_client_connect(const char *addr, int timeout_ms)
{
    struct addrinfo hints = {0}, *res = NULL;
    char host[256], port[16];
    qt_client_t *c;
    int fd, one = 1;
    struct timeval tv;

    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        fprintf(stderr, "qt_client: bad address %s\n", addr);
        return NULL;
    }
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
        fprintf(stderr, "qt_client: cannot resolve %s\n", addr);
        return NULL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return NULL;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        fprintf(stderr, "qt_client: connect %s: %s\n", addr, strerror(errno));
        freeaddrinfo(res);
        close(fd);
        return NULL;
    }
    freeaddrinfo(res);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->next_corr = 1;
    return c;
}

int qt_client_send_raw(qt_client_t *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int32_t qt_client_send(qt_client_t *c, qr_req_t *req, const void *payload,
                       size_t payload_len)
{
    uint8_t *hdr = NULL;
    size_t hlen = 0;
    quire_err_t err;

    if (req->correlation_id == 0)
        req->correlation_id = c->next_corr++;
    err = qr_wire_req_encode_alloc(req, &hdr, &hlen);
    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "qt_client: encode: %s\n", quire_err2str(err));
        return -1;
    }
    if (qt_client_send_raw(c, hdr, hlen) != 0 ||
        (payload_len && qt_client_send_raw(c, payload, payload_len) != 0)) {
        free(hdr);
        return -1;
    }
    free(hdr);
    return req->correlation_id;
}

quire_err_t qt_client_recv(qt_client_t *c, qr_resp_t *resp, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    qr_frame_limits_t lim = {RECV_MAX, QR_FRAME_RESP_HEADER_MAX};
    qr_frame_t frame;
    quire_err_t err;

    memset(resp, 0, sizeof(*resp));
    if (c->consumed) {
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    for (;;) {
        err = qr_frame_parse(c->buf, c->len, &lim, &frame);
        if (err == QUIRE_ERR_NONE)
            break;
        if (err != QUIRE_ERR_NEED_MORE)
            return QUIRE_ERR_BAD_FRAME;
        size_t need = frame.size > c->len + 65536 ? frame.size : c->len + 65536;
        if (need > c->cap) {
            uint8_t *nb = realloc(c->buf, need);
            if (!nb)
                return QUIRE_ERR_NO_MEMORY;
            c->buf = nb;
            c->cap = need;
        }
        long long left = deadline - mono_ms();
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (left <= 0)
            return QUIRE_ERR_TIMED_OUT;
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return QUIRE_ERR_TIMED_OUT;
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return QUIRE_ERR_NETWORK_EXCEPTION;
        if (n > 0)
            c->len += (size_t)n;
    }
    c->consumed = frame.size;
    err = qr_wire_resp_decode(&frame, resp);
    if (err != QUIRE_ERR_NONE) {
        qr_wire_resp_free(resp);
        return QUIRE_ERR_BAD_FRAME;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qt_client_call(qt_client_t *c, qr_req_t *req, const void *payload,
                           size_t payload_len, qr_resp_t *resp, int timeout_ms)
{
    int32_t corr = qt_client_send(c, req, payload, payload_len);
    quire_err_t err;

    if (corr < 0) {
        memset(resp, 0, sizeof(*resp));
        return QUIRE_ERR_NETWORK_EXCEPTION;
    }
    err = qt_client_recv(c, resp, timeout_ms);
    if (err == QUIRE_ERR_NONE && resp->correlation_id != corr) {
        fprintf(stderr, "qt_client: correlation_id %d, expected %d\n",
                resp->correlation_id, corr);
        return QUIRE_ERR_BAD_FRAME;
    }
    return err;
}

int qt_client_wait_closed(qt_client_t *c, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    uint8_t tmp[4096];

    for (;;) {
        long long left = deadline - mono_ms();
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (left <= 0)
            return -1;
        int rc = poll(&pfd, 1, (int)left);
        if (rc <= 0)
            continue;
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
        if (n > 0)
            return -1;
    }
}

void qt_client_close(qt_client_t *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

/* ---- helpers ---- */

quire_err_t qt_produce(qt_client_t *c, const char *topic, int32_t partition,
                       int acks, const void *batches, size_t len,
                       int64_t *base_offset, int timeout_ms)
{
    qr_produce_part_t part = {partition, (uint32_t)len, NULL};
    qr_produce_topic_t t = {topic, 1, &part};
    qr_req_t req = {0};
    qr_resp_t resp;
    quire_err_t err;

    if (base_offset)
        *base_offset = -1;
    req.api = QR_API_PRODUCE;
    req.client_id = "qt";
    req.u.produce.acks = (int16_t)acks;
    req.u.produce.timeout_ms = timeout_ms;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    if (acks == 0)
        return qt_client_send(c, &req, batches, len) < 0
                   ? QUIRE_ERR_NETWORK_EXCEPTION
                   : QUIRE_ERR_NONE;
    err = qt_client_call(c, &req, batches, len, &resp, timeout_ms);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (resp.error_code != QUIRE_ERR_NONE)
        err = resp.error_code;
    else if (resp.u.produce.topic_count != 1 ||
             resp.u.produce.topics[0].partition_count != 1)
        err = QUIRE_ERR_BAD_FRAME;
    else {
        const qr_produce_part_resp_t *pr =
            &resp.u.produce.topics[0].partitions[0];
        err = pr->error_code;
        if (base_offset)
            *base_offset = pr->base_offset;
    }
    qr_wire_resp_free(&resp);
    return err;
}

quire_err_t qt_fetch(qt_client_t *c, const char *topic, int32_t partition,
                     int64_t offset, int max_wait_ms, int min_bytes,
                     int max_bytes, int partition_max_bytes, qr_resp_t *resp,
                     const qr_fetch_part_resp_t **part, int timeout_ms)
{
    qr_fetch_part_t fp = {partition, offset, partition_max_bytes, -1, -1};
    qr_fetch_topic_t t = {topic, 1, &fp};
    qr_req_t req = {0};
    quire_err_t err;

    *part = NULL;
    req.api = QR_API_FETCH;
    req.client_id = "qt";
    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = max_wait_ms;
    req.u.fetch.min_bytes = min_bytes;
    req.u.fetch.max_bytes = max_bytes;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &t;
    err = qt_client_call(c, &req, NULL, 0, resp, timeout_ms);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (resp->error_code != QUIRE_ERR_NONE)
        return resp->error_code;
    if (resp->u.fetch.topic_count != 1 ||
        resp->u.fetch.topics[0].partition_count != 1) {
        qr_wire_resp_free(resp);
        return QUIRE_ERR_BAD_FRAME;
    }
    *part = &resp->u.fetch.topics[0].partitions[0];
    return QUIRE_ERR_NONE;
}

quire_err_t qt_list_offset(qt_client_t *c, const char *topic, int32_t partition,
                           int64_t timestamp, int64_t *offset, int timeout_ms)
{
    qr_list_offsets_part_t lp = {partition, timestamp};
    qr_list_offsets_topic_t t = {topic, 1, &lp};
    qr_req_t req = {0};
    qr_resp_t resp;
    quire_err_t err;

    *offset = -1;
    req.api = QR_API_LIST_OFFSETS;
    req.client_id = "qt";
    req.u.list_offsets.replica_id = -1;
    req.u.list_offsets.topic_count = 1;
    req.u.list_offsets.topics = &t;
    err = qt_client_call(c, &req, NULL, 0, &resp, timeout_ms);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (resp.error_code != QUIRE_ERR_NONE)
        err = resp.error_code;
    else if (resp.u.list_offsets.topic_count != 1 ||
             resp.u.list_offsets.topics[0].partition_count != 1)
        err = QUIRE_ERR_BAD_FRAME;
    else {
        err = resp.u.list_offsets.topics[0].partitions[0].error_code;
        *offset = resp.u.list_offsets.topics[0].partitions[0].offset;
    }
    qr_wire_resp_free(&resp);
    return err;
}

int qt_wait_topic(qt_client_t *c, const char *topic, int parts, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    const char *topics[1] = {topic};

    while (mono_ms() < deadline) {
        qr_req_t req = {0};
        qr_resp_t resp;
        int ok = 0;

        req.api = QR_API_METADATA;
        req.client_id = "qt";
        req.u.metadata.topic_count = 1;
        req.u.metadata.topics = topics;
        req.u.metadata.allow_auto_topic_creation = true;
        if (qt_client_call(c, &req, NULL, 0, &resp, 5000) != QUIRE_ERR_NONE) {
            fprintf(stderr, "qt_wait_topic: Metadata failed\n");
            return -1;
        }
        if (resp.u.metadata.topic_count == 1 &&
            resp.u.metadata.topics[0].error_code == QUIRE_ERR_NONE &&
            (int)resp.u.metadata.topics[0].partition_count == parts) {
            ok = 1;
            for (int i = 0; i < parts; i++)
                if (resp.u.metadata.topics[0].partitions[i].leader < 0 ||
                    resp.u.metadata.topics[0].partitions[i].error_code !=
                        QUIRE_ERR_NONE)
                    ok = 0;
        }
        qr_wire_resp_free(&resp);
        if (ok)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "qt_wait_topic: %s not ready with %d partitions\n", topic,
            parts);
    return -1;
}
