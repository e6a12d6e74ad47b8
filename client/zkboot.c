/*
 * zkboot: the broker list from ZooKeeper, for clients configured with
 * zookeeper.connect instead of bootstrap.servers.
 *
 * Once, when the producer or consumer is created (on the application's
 * thread, before the client's loop starts): a short session reads the
 * children of /brokers/ids (under the connect string's chroot) and each
 * registration's host and port (DESIGN.md §5's JSON), then closes. The
 * addresses found seed the broker list; leaders and later brokers come
 * from the Metadata API, as with bootstrap.servers. The session is driven
 * by zookeeper_interest()/zookeeper_process() with poll(), with a
 * deadline on every step; plain malloc throughout (a failure is an error
 * code, never an abort).
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"
#include "zk_loop.h"
#include "zkboot.h"

/* What one asynchronous call left behind. */
typedef struct zkres {
    int done;
    int rc;
    char **children; /* owned copies */
    int child_cnt;
    char *data; /* owned, NUL-terminated */
} zkres_t;

static void seterr(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (!errstr || !size)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
}

static void on_watch(zhandle_t *zh, int type, int state, const char *path,
                     void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

/* Runs the session until @p done says so or @p deadline_ms passes.
 * @returns 0, or -1 on timeout or a session error. */
static int drive(zhandle_t *zh, int (*done)(zhandle_t *zh, void *arg),
                 void *arg, int64_t deadline_ms)
{
    while (!done(zh, arg)) {
        struct pollfd pfd = {.fd = -1};
        struct timeval tv;
        int fd = -1, interest = 0, ms, rc, events = 0;
        int64_t left = deadline_ms - qr_clock_mono_ms();

        if (left <= 0)
            return -1;
        rc = zookeeper_interest(zh, &fd, &interest, &tv);
        if (rc != ZOK && rc != ZCONNECTIONLOSS)
            return -1;
        ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        if (ms > left || ms < 0)
            ms = (int)left;
        if (fd >= 0) {
            pfd.fd = fd;
            pfd.events = (short)((interest & ZOOKEEPER_READ ? POLLIN : 0) |
                                 (interest & ZOOKEEPER_WRITE ? POLLOUT : 0));
        }
        rc = poll(&pfd, fd >= 0 ? 1 : 0, ms);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc > 0) {
            if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
                events |= ZOOKEEPER_READ;
            if (pfd.revents & POLLOUT)
                events |= ZOOKEEPER_WRITE;
        }
        zookeeper_process(zh, events);
    }
    return 0;
}

static int is_connected(zhandle_t *zh, void *arg)
{
    (void)arg;
    return zoo_state(zh) == ZOO_CONNECTED_STATE;
}

static int is_done(zhandle_t *zh, void *arg)
{
    (void)zh;
    return ((zkres_t *)arg)->done;
}

static void on_children(int rc, const struct String_vector *strings,
                        const void *data)
{
    zkres_t *res = (zkres_t *)data;

    res->done = 1;
    res->rc = rc;
    if (rc != ZOK || !strings || strings->count <= 0)
        return;
    res->children = calloc((size_t)strings->count, sizeof(char *));
    if (!res->children) {
        res->rc = ZSYSTEMERROR;
        return;
    }
    for (int i = 0; i < strings->count; i++) {
        res->children[i] = strdup(strings->data[i]);
        if (!res->children[i]) {
            res->rc = ZSYSTEMERROR;
            return;
        }
        res->child_cnt++;
    }
}

static void on_data(int rc, const char *value, int value_len,
                    const struct Stat *stat, const void *data)
{
    zkres_t *res = (zkres_t *)data;

    (void)stat;
    res->done = 1;
    res->rc = rc;
    if (rc != ZOK || !value || value_len <= 0)
        return;
    res->data = malloc((size_t)value_len + 1);
    if (!res->data) {
        res->rc = ZSYSTEMERROR;
        return;
    }
    memcpy(res->data, value, (size_t)value_len);
    res->data[value_len] = '\0';
}

static void res_free(zkres_t *res)
{
    for (int i = 0; i < res->child_cnt; i++)
        free(res->children[i]);
    free(res->children);
    free(res->data);
    memset(res, 0, sizeof(*res));
}

/* Appends "host:port" from a registration's JSON to *@p list. */
static quire_err_t add_broker(const char *json, char **list, size_t *len)
{
    json_t *root = json_loads(json, 0, NULL), *host, *port;
    quire_err_t err = QUIRE_ERR_BAD_JSON;
    char item[300];
    char *v;
    int n;

    if (!root)
        return err;
    host = json_object_get(root, "host");
    port = json_object_get(root, "port");
    if (json_is_string(host) && json_is_integer(port) &&
        json_integer_value(port) > 0 && json_integer_value(port) < 65536 &&
        strlen(json_string_value(host)) < 256) {
        n = snprintf(item, sizeof(item), "%s%s:%d", *len ? "," : "",
                     json_string_value(host), (int)json_integer_value(port));
        v = realloc(*list, *len + (size_t)n + 1);
        if (!v)
            err = QUIRE_ERR_NO_MEMORY;
        else {
            memcpy(v + *len, item, (size_t)n + 1);
            *list = v;
            *len += (size_t)n;
            err = QUIRE_ERR_NONE;
        }
    }
    json_decref(root);
    return err;
}

quire_err_t qr_zkboot_brokers(const char *connect, int session_ms,
                              int timeout_ms, char **listp, char *errstr,
                              size_t errstr_size)
{
    int64_t deadline = qr_clock_mono_ms() + timeout_ms;
    quire_err_t err = QUIRE_ERR_ALL_BROKERS_DOWN;
    zkres_t ids = {0}, reg = {0};
    char *list = NULL;
    size_t len = 0;
    zhandle_t *zh;

    /* the client's lines through quire's log, INFO only with debug=zk */
    qr_zk_loop_set_log_level();
    zh = zookeeper_init2(connect, on_watch, session_ms, NULL, NULL, 0,
                         qr_zk_loop_log);
    if (!zh) {
        seterr(errstr, errstr_size, "zookeeper.connect: cannot use '%s': %s",
               connect, strerror(errno));
        return QUIRE_ERR_CONF_INVALID;
    }
    if (drive(zh, is_connected, NULL, deadline) != 0) {
        seterr(errstr, errstr_size,
               "zookeeper.connect: no session with %s within %d ms", connect,
               timeout_ms);
        err = QUIRE_ERR_ZK_CONNECTION_LOSS;
        goto out;
    }
    if (zoo_aget_children(zh, "/brokers/ids", 0, on_children, &ids) == ZOK &&
        drive(zh, is_done, &ids, deadline) == 0 &&
        (ids.rc == ZNONODE || (ids.rc == ZOK && ids.child_cnt == 0))) {
        /* issue 18 item 11: most likely the chroot was left out */
        seterr(errstr, errstr_size,
               "zookeeper.connect: no brokers registered under %s%s: is the "
               "chroot missing?",
               connect, strchr(connect, '/') ? "" : "/");
        goto out; /* ALL_BROKERS_DOWN, as before */
    }
    if (ids.rc != ZOK) {
        seterr(errstr, errstr_size,
               "zookeeper.connect: cannot list "
               "/brokers/ids in %s",
               connect);
        goto out;
    }
    for (int i = 0; i < ids.child_cnt; i++) {
        char path[64];

        snprintf(path, sizeof(path), "/brokers/ids/%.40s", ids.children[i]);
        if (zoo_aget(zh, path, 0, on_data, &reg) != ZOK ||
            drive(zh, is_done, &reg, deadline) != 0) {
            res_free(&reg);
            break;
        }
        /* a broker gone meanwhile (ZNONODE) or a bad registration is
         * skipped: the others still make a bootstrap list */
        if (reg.rc == ZOK && reg.data &&
            add_broker(reg.data, &list, &len) == QUIRE_ERR_NO_MEMORY) {
            res_free(&reg);
            err = QUIRE_ERR_NO_MEMORY;
            goto out;
        }
        res_free(&reg);
    }
    if (!list) {
        seterr(errstr, errstr_size,
               "zookeeper.connect: no broker registered under %s/brokers/ids",
               connect);
        goto out;
    }
    *listp = list;
    list = NULL;
    err = QUIRE_ERR_NONE;
out:
    free(list);
    res_free(&ids);
    zookeeper_close(zh);
    return err;
}
