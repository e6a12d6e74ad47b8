/*
 * qt_hostile: misbehaving connections, crafted frames, and /proc probes
 * (qt_hostile.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "qt_hostile.h"
#include "wire.h"

long long qt_hostile_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

int qt_hostile_connect(const char *addr, int rcvbuf)
{
    struct sockaddr_in sin = {0};
    const char *colon = strrchr(addr, ':');
    char host[64];
    size_t hl;
    int fd;

    if (!colon || (hl = (size_t)(colon - addr)) >= sizeof(host)) {
        fprintf(stderr, "qt_hostile: bad address %s\n", addr);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "qt_hostile: %s is not an IPv4 address\n", host);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        fprintf(stderr, "qt_hostile: connect %s: %s\n", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

size_t qt_hostile_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
    long long deadline = qt_hostile_now_ms() + timeout_ms;
    const uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        long long left = deadline - qt_hostile_now_ms();
        struct pollfd pfd = {fd, POLLOUT, 0};
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        n = send(fd, p + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

int qt_hostile_send_prefix(int fd, uint32_t frame_len)
{
    uint8_t prefix[QR_FRAME_PREFIX];

    /* header_len 16: plausible, and smaller than what follows */
    qr_frame_put_u32(prefix, frame_len);
    qr_frame_put_u32(prefix + 4, 16);
    return qt_hostile_send_all(fd, prefix, sizeof(prefix), 5000) ==
                   sizeof(prefix)
               ? 0
               : -1;
}

size_t qt_hostile_send_partial(int fd, uint32_t frame_len, size_t send,
                               int timeout_ms)
{
    long long deadline = qt_hostile_now_ms() + timeout_ms;
    static uint8_t filler[64 * 1024];
    size_t done = 0;

    if (qt_hostile_send_prefix(fd, frame_len) != 0)
        return 0;
    while (done < send) {
        long long left = deadline - qt_hostile_now_ms();
        size_t chunk =
            send - done < sizeof(filler) ? send - done : sizeof(filler);
        size_t n;

        if (left <= 0)
            break;
        n = qt_hostile_send_all(fd, filler, chunk, (int)left);
        done += n;
        if (n < chunk)
            break;
    }
    return done;
}

int qt_hostile_wait_closed(int fd, int timeout_ms)
{
    long long deadline = qt_hostile_now_ms() + timeout_ms;
    uint8_t tmp[16384];

    for (;;) {
        long long left = deadline - qt_hostile_now_ms();
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (left <= 0)
            return 0;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
    }
}

/* ---- crafted frames ---- */

static uint8_t *encode(qr_req_t *req, size_t *len)
{
    uint8_t *out = NULL;
    quire_err_t err = qr_wire_req_encode_alloc(req, &out, len);

    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "qt_hostile: cannot encode: %s\n", quire_err2str(err));
        return NULL;
    }
    return out;
}

uint8_t *qt_hostile_fetch_frame(const char *topic, int32_t partition,
                                size_t repeat, size_t distinct,
                                int32_t max_wait_ms, int32_t min_bytes,
                                int32_t correlation_id, size_t *len)
{
    size_t n = repeat + distinct;
    qr_fetch_part_t *parts = calloc(n ? n : 1, sizeof(*parts));
    qr_fetch_topic_t t;
    qr_req_t req = {0};
    uint8_t *out;

    for (size_t i = 0; i < n; i++) {
        parts[i].partition = i < repeat ? partition : (int32_t)(i - repeat);
        parts[i].fetch_offset = 0;
        parts[i].partition_max_bytes = 1 << 20;
    }
    t.topic = topic;
    t.partition_count = n;
    t.partitions = parts;
    req.api = QR_API_FETCH;
    req.correlation_id = correlation_id;
    req.client_id = "qt-hostile";
    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = max_wait_ms;
    req.u.fetch.min_bytes = min_bytes;
    req.u.fetch.max_bytes = 1 << 20;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &t;
    out = encode(&req, len);
    free(parts);
    return out;
}

uint8_t *qt_hostile_metadata_frame(const char *prefix, size_t n,
                                   int32_t correlation_id, size_t *len)
{
    char **names = calloc(n ? n : 1, sizeof(*names));
    qr_req_t req = {0};
    uint8_t *out;

    for (size_t i = 0; i < n; i++) {
        size_t sz = strlen(prefix) + 24;
        names[i] = malloc(sz);
        snprintf(names[i], sz, "%s-%zu", prefix, i);
    }
    req.api = QR_API_METADATA;
    req.correlation_id = correlation_id;
    req.client_id = "qt-hostile";
    req.u.metadata.topic_count = n;
    req.u.metadata.topics = (const char *const *)names;
    req.u.metadata.allow_auto_topic_creation = true;
    out = encode(&req, len);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return out;
}

/* ---- what it costs the broker ---- */

long qt_proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256], fmt[64];
    long kb = -1;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
    fp = fopen(path, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    fclose(fp);
    return kb;
}

/* Calls @fn for every entry of /proc/<pid>/fd with its link path and
 * target; returns -1 when the directory cannot be read. */
static int walk_fds(pid_t pid,
                    void (*fn)(const char *link, const char *target, void *arg),
                    void *arg)
{
    char path[64], link[512], target[4096];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    if (!(d = opendir(path)))
        return -1;
    while ((de = readdir(d)) != NULL) {
        ssize_t tl;
        if (de->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
        tl = readlink(link, target, sizeof(target) - 1);
        if (tl < 0)
            continue;
        target[tl] = '\0';
        fn(link, target, arg);
    }
    closedir(d);
    return 0;
}

typedef struct fd_count {
    qt_fds_kind_t kind;
    const char *under;
    int n;
    long long bytes;
} fd_count_t;

static int deleted_under(const char *target, const char *under)
{
    return strstr(target, " (deleted)") &&
           (!under || !strncmp(target, under, strlen(under)));
}

static void count_fd(const char *link, const char *target, void *arg)
{
    fd_count_t *fc = arg;
    struct stat st;

    if (fc->kind == QT_FDS_ALL ||
        (fc->kind == QT_FDS_SOCKETS && !strncmp(target, "socket:", 7)))
        fc->n++;
    else if (fc->kind == QT_FDS_DELETED && deleted_under(target, fc->under)) {
        fc->n++;
        if (stat(link, &st) == 0) /* follows the link to the open file */
            fc->bytes += (long long)st.st_blocks * 512;
    }
}

int qt_proc_fds(pid_t pid, qt_fds_kind_t kind, const char *under)
{
    fd_count_t fc = {kind, under, 0, 0};

    return walk_fds(pid, count_fd, &fc) == 0 ? fc.n : -1;
}

long long qt_proc_deleted_bytes(pid_t pid, const char *under)
{
    fd_count_t fc = {QT_FDS_DELETED, under, 0, 0};

    return walk_fds(pid, count_fd, &fc) == 0 ? fc.bytes : -1;
}

long long qt_dir_disk_bytes(const char *dir)
{
    char path[4096];
    struct dirent *de;
    long long sum = 0;
    struct stat st;
    DIR *d;

    if (!(d = opendir(dir)))
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            long long sub = qt_dir_disk_bytes(path);
            if (sub > 0)
                sum += sub;
        } else if (S_ISREG(st.st_mode)) {
            sum += (long long)st.st_blocks * 512;
        }
    }
    closedir(d);
    return sum;
}
