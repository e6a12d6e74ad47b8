/*
 * checkpoint: recovery points and the clean-shutdown marker.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "checkpoint.h"
#include "logging.h"
#include "topic.h"

static quire_err_t ck_fail(const char *what, const char *path, int err)
{
    QR_LOG_ERR("LOG", "%s %s: %s (errno %d)", what, path, strerror(err), err);
    return QUIRE_ERR_KAFKA_STORAGE_ERROR;
}

/* ---- the set ---- */

static ssize_t ck_find(const qr_ckpt_t *ck, const char *topic,
                       int32_t partition)
{
    for (size_t i = 0; i < ck->n; i++)
        if (ck->v[i].partition == partition && !strcmp(ck->v[i].topic, topic))
            return (ssize_t)i;
    return -1;
}

void qr_ckpt_set(qr_ckpt_t *ck, const char *topic, int32_t partition,
                 int64_t offset)
{
    ssize_t i = ck_find(ck, topic, partition);
    if (i >= 0) {
        ck->v[i].offset = offset;
        return;
    }
    if (ck->n == ck->cap) {
        ck->cap = ck->cap ? ck->cap * 2 : 16;
        ck->v = qr_realloc(ck->v, ck->cap * sizeof(*ck->v));
    }
    ck->v[ck->n].topic = qr_strdup(topic);
    ck->v[ck->n].partition = partition;
    ck->v[ck->n].offset = offset;
    ck->n++;
}

void qr_ckpt_remove(qr_ckpt_t *ck, const char *topic, int32_t partition)
{
    ssize_t i = ck_find(ck, topic, partition);
    if (i < 0)
        return;
    free(ck->v[i].topic);
    ck->v[i] = ck->v[--ck->n];
}

int qr_ckpt_get(const qr_ckpt_t *ck, const char *topic, int32_t partition,
                int64_t *offset)
{
    ssize_t i = ck_find(ck, topic, partition);
    if (i < 0)
        return 0;
    *offset = ck->v[i].offset;
    return 1;
}

void qr_ckpt_clear(qr_ckpt_t *ck)
{
    for (size_t i = 0; i < ck->n; i++)
        free(ck->v[i].topic);
    free(ck->v);
    memset(ck, 0, sizeof(*ck));
}

/* ---- reading ---- */

static int parse_i64(const char *s, size_t len, int64_t min, int64_t max,
                     int64_t *out)
{
    char buf[32];
    char *end;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || v < min || v > max || buf[0] == ' ' || buf[0] == '+')
        return -1;
    *out = v;
    return 0;
}

/* Splits the next line off [*p, end); returns its length or -1. */
static ssize_t next_line(const char **p, const char *end, const char **line)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return -1;
    *line = *p;
    *p = nl + 1;
    return nl - *line;
}

static quire_err_t parse_entry(qr_ckpt_t *ck, const char *line, size_t len)
{
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1)
        return QUIRE_ERR_CORRUPT_MESSAGE;
    size_t tlen = (size_t)(sp1 - line);
    const char *rest = sp1 + 1;
    size_t rlen = len - tlen - 1;
    const char *sp2 = memchr(rest, ' ', rlen);
    int64_t part, off;
    if (!sp2 || qr_topic_name_check(line, tlen, NULL) != QUIRE_ERR_NONE ||
        parse_i64(rest, (size_t)(sp2 - rest), 0, INT32_MAX, &part) != 0 ||
        parse_i64(sp2 + 1, rlen - (size_t)(sp2 - rest) - 1, 0, INT64_MAX,
                  &off) != 0)
        return QUIRE_ERR_CORRUPT_MESSAGE;
    char *topic = qr_strndup(line, tlen);
    qr_ckpt_set(ck, topic, (int32_t)part, off);
    free(topic);
    return QUIRE_ERR_NONE;
}

static quire_err_t parse(const char *buf, size_t size, qr_ckpt_t *ck,
                         char *errstr, size_t errsz)
{
    const char *p = buf, *end = buf + size, *line;
    ssize_t len;
    int64_t version, count;

    if ((len = next_line(&p, end, &line)) < 0 ||
        parse_i64(line, (size_t)len, 0, 0, &version) != 0) {
        snprintf(errstr, errsz, "line 1: bad version (want 0)");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    if ((len = next_line(&p, end, &line)) < 0 ||
        parse_i64(line, (size_t)len, 0, (int64_t)size, &count) != 0) {
        snprintf(errstr, errsz, "line 2: bad entry count");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    for (int64_t i = 0; i < count; i++) {
        if ((len = next_line(&p, end, &line)) < 0 ||
            parse_entry(ck, line, (size_t)len) != QUIRE_ERR_NONE) {
            snprintf(errstr, errsz, "line %lld: bad entry", (long long)i + 3);
            return QUIRE_ERR_CORRUPT_MESSAGE;
        }
    }
    if (p != end) {
        snprintf(errstr, errsz, "data after the %lld entries",
                 (long long)count);
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_ckpt_read_file(const char *path, size_t max, char **bufp,
                              size_t *lenp, char *errstr, size_t errstr_size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? QUIRE_ERR_NOT_FOUND : QUIRE_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || st.st_size > (off_t)max) {
        snprintf(errstr, errstr_size, "%s: unreadable or too large", path);
        close(fd);
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    size_t size = (size_t)st.st_size;
    char *buf = qr_malloc(size + 1);
    ssize_t got = 0;
    while ((size_t)got < size) {
        ssize_t n = read(fd, buf + got, size - (size_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    if ((size_t)got != size) {
        snprintf(errstr, errstr_size, "%s: short read", path);
        free(buf);
        return QUIRE_ERR_IO;
    }
    buf[size] = '\0';
    *bufp = buf;
    *lenp = size;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_ckpt_read(const char *path, qr_ckpt_t *ck, char *errstr,
                         size_t errstr_size)
{
    char *buf = NULL;
    size_t size = 0;
    quire_err_t err;

    qr_ckpt_clear(ck);
    err = qr_ckpt_read_file(path, QR_CKPT_MAX_BYTES, &buf, &size, errstr,
                            errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    err = parse(buf, size, ck, errstr, errstr_size);
    free(buf);
    if (err != QUIRE_ERR_NONE)
        qr_ckpt_clear(ck);
    return err;
}

/* ---- writing ---- */

quire_err_t qr_ckpt_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ck_fail("open", dir, errno);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return ck_fail("fsync", dir, e);
    }
    close(fd);
    return QUIRE_ERR_NONE;
}

static void dir_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}

static quire_err_t write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        buf += n;
        len -= (size_t)n;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_ckpt_write_file(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 8], dir[PATH_MAX];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ck_fail("create", tmp, errno);
    if (write_all(fd, data, len) != QUIRE_ERR_NONE) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ck_fail("write", tmp, e);
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ck_fail("fsync", tmp, e);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ck_fail("rename", tmp, e);
    }
    dir_of(path, dir, sizeof(dir));
    return qr_ckpt_sync_dir(dir);
}

quire_err_t qr_ckpt_write(const char *path, const qr_ckpt_t *ck)
{
    size_t cap = 64, len = 0;
    char *text = qr_malloc(cap);
    quire_err_t err;

    len = (size_t)snprintf(text, cap, "0\n%zu\n", ck->n);
    for (size_t i = 0; i < ck->n; i++) {
        /* a topic name is at most 249 bytes: a line fits in 300 */
        if (cap - len < 300) {
            cap = cap * 2 + 300;
            text = qr_realloc(text, cap);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s %d %lld\n",
                                ck->v[i].topic, (int)ck->v[i].partition,
                                (long long)ck->v[i].offset);
    }
    err = qr_ckpt_write_file(path, text, len);
    free(text);
    return err;
}

quire_err_t qr_ckpt_mark_clean(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, QR_CKPT_CLEAN_FILE);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ck_fail("create", path, errno);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return ck_fail("fsync", path, e);
    }
    close(fd);
    return qr_ckpt_sync_dir(dir);
}

quire_err_t qr_ckpt_take_clean(const char *dir, int *clean)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, QR_CKPT_CLEAN_FILE);
    *clean = 0;
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return QUIRE_ERR_NONE;
        return ck_fail("unlink", path, errno);
    }
    *clean = 1;
    return qr_ckpt_sync_dir(dir);
}
