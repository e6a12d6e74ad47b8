/*
 * brokermeta: meta.properties. See brokermeta.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brokermeta.h"
#include "props.h"

typedef struct meta_read {
    int32_t id;
    int has_id, has_version;
    char why[128];
} meta_read_t;

static int parse_int(const char *text, long long lo, long long hi, long long *v)
{
    char *end;

    errno = 0;
    *v = strtoll(text, &end, 10);
    return *text && !*end && !errno && *v >= lo && *v <= hi ? 0 : -1;
}

static quire_err_t on_key(const char *key, const char *value, int line,
                          void *opaque)
{
    meta_read_t *m = opaque;
    long long v;

    if (strcmp(key, "broker.id") == 0) {
        if (parse_int(value, 0, INT32_MAX, &v) != 0) {
            snprintf(m->why, sizeof(m->why), "line %d: bad broker.id \"%.32s\"",
                     line, value);
            return QUIRE_ERR_CONF_INVALID;
        }
        m->id = (int32_t)v;
        m->has_id = 1;
    } else if (strcmp(key, "version") == 0) {
        if (parse_int(value, 0, 0, &v) != 0) {
            snprintf(m->why, sizeof(m->why),
                     "line %d: version \"%.32s\" (only 0 is known)", line,
                     value);
            return QUIRE_ERR_CONF_INVALID;
        }
        m->has_version = 1;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_brokermeta_read(const char *dir, int32_t *idp, char *errstr,
                               size_t errstr_size)
{
    char path[4096], perr[256] = "";
    meta_read_t m = {0};
    struct stat st;
    quire_err_t err;

    snprintf(path, sizeof(path), "%s/%s", dir, QR_BROKERMETA_FILE);
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(e));
        return e == ENOENT ? QUIRE_ERR_NOT_FOUND : QUIRE_ERR_IO;
    }
    err = qr_props_parse_file(path, on_key, &m, NULL, perr, sizeof(perr));
    if (err != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "%s: %s", path, m.why[0] ? m.why : perr);
        return err == QUIRE_ERR_IO ? QUIRE_ERR_IO : QUIRE_ERR_CONF_INVALID;
    }
    if (!m.has_id || !m.has_version) {
        snprintf(errstr, errstr_size, "%s: no %s", path,
                 m.has_id ? "version" : "broker.id");
        return QUIRE_ERR_CONF_INVALID;
    }
    *idp = m.id;
    return QUIRE_ERR_NONE;
}

static quire_err_t io_fail(const char *what, const char *path, char *errstr,
                           size_t errstr_size)
{
    int e = errno;

    snprintf(errstr, errstr_size, "%s %s: %s", what, path, strerror(e));
    return QUIRE_ERR_IO;
}

static quire_err_t sync_dir(const char *dir, char *errstr, size_t errstr_size)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return io_fail("open", dir, errstr, errstr_size);
    if (fsync(fd) != 0) {
        quire_err_t err = io_fail("fsync", dir, errstr, errstr_size);
        close(fd);
        return err;
    }
    close(fd);
    return QUIRE_ERR_NONE;
}

quire_err_t qr_brokermeta_write(const char *dir, int32_t id, char *errstr,
                                size_t errstr_size)
{
    char path[4096], tmp[4110], text[128];
    int fd, len;

    snprintf(path, sizeof(path), "%s/%s", dir, QR_BROKERMETA_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    len = snprintf(text, sizeof(text),
                   "#\n# written by quire-broker; do not edit\nversion=0\n"
                   "broker.id=%d\n",
                   (int)id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_fail("create", tmp, errstr, errstr_size);
    if (write(fd, text, (size_t)len) != len || fsync(fd) != 0) {
        quire_err_t err = io_fail("write", tmp, errstr, errstr_size);
        close(fd);
        unlink(tmp);
        return err;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        quire_err_t err = io_fail("rename", tmp, errstr, errstr_size);
        unlink(tmp);
        return err;
    }
    return sync_dir(dir, errstr, errstr_size);
}

quire_err_t qr_brokermeta_resolve(const char *const *dirs, size_t ndirs,
                                  int32_t configured, int32_t *idp,
                                  char *errstr, size_t errstr_size)
{
    const char *first_dir = NULL;
    int32_t found = -1, id;
    quire_err_t err;

    for (size_t i = 0; i < ndirs; i++) {
        err = qr_brokermeta_read(dirs[i], &id, errstr, errstr_size);
        if (err == QUIRE_ERR_NOT_FOUND)
            continue;
        if (err != QUIRE_ERR_NONE)
            return err;
        if (found >= 0 && id != found) {
            snprintf(errstr, errstr_size,
                     "inconsistent broker ids: %s/%s has broker.id=%d, "
                     "%s/%s has broker.id=%d; the log dirs belong to "
                     "different brokers",
                     first_dir, QR_BROKERMETA_FILE, (int)found, dirs[i],
                     QR_BROKERMETA_FILE, (int)id);
            return QUIRE_ERR_CONF_INVALID;
        }
        if (found < 0) {
            found = id;
            first_dir = dirs[i];
        }
    }
    if (configured >= 0 && found >= 0 && configured != found) {
        /* Kafka's InconsistentBrokerIdException, in its words */
        snprintf(errstr, errstr_size,
                 "configured broker.id %d doesn't match stored broker.id %d "
                 "in %s/%s: if you moved your data, make sure your "
                 "configured broker.id matches; if you intend to create a "
                 "new broker, remove all data in its log.dirs",
                 (int)configured, (int)found, first_dir, QR_BROKERMETA_FILE);
        return QUIRE_ERR_CONF_INVALID;
    }
    *idp = found;
    return QUIRE_ERR_NONE;
}
