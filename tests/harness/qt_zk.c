/*
 * qt_zk: synchronous ZooKeeper helpers, servers and commands for tests.
 * See qt_zk.h. Blocking is fine here and nowhere else in quire.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "qt_zk.h"

#ifndef QT_HARNESS_DIR
#error "QT_HARNESS_DIR must name tests/harness (set by Makefile.am)"
#endif

#define QT_ZK_MAGIC      0x71747a6bu /* "qtzk" */
#define QT_OP_MAGIC      0x71746f70u /* "qtop" */
#define QT_STATES_MAX    64
#define QT_EVENTS_MAX    64
#define QT_PATH_MAX      512
#define QT_POLL_SLICE_MS 50

/* ---- time ---------------------------------------------------------- */

int64_t qt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - qt_now_ms();
    if (left <= 0)
        return 0;
    return left > 60000 ? 60000 : (int)left;
}

/* ---- environment --------------------------------------------------- */

const char *qt_zk_env(void)
{
    const char *zk = getenv("QUIRE_TEST_ZK");
    if (!zk || !*zk) {
        fprintf(stderr, "QUIRE_TEST_ZK is not set: run integration tests "
                        "through tests/harness/with-zk (make check does)\n");
        exit(QT_EXIT_HARD_ERROR);
    }
    return zk;
}

/* ---- the watcher and its record ------------------------------------ */

typedef struct qt_event {
    int type;
    char path[QT_PATH_MAX];
} qt_event_t;

/* Attached to each handle as its context: what the watcher has seen. */
typedef struct qt_zk_ctx {
    uint32_t magic;
    int states[QT_STATES_MAX];
    int nstates;
    qt_event_t events[QT_EVENTS_MAX]; /* ring of watch events */
    int ev_first;
    int ev_count;
} qt_zk_ctx_t;

static qt_zk_ctx_t *ctx_of(zhandle_t *zh)
{
    qt_zk_ctx_t *ctx = (qt_zk_ctx_t *)zoo_get_context(zh);
    if (!ctx || ctx->magic != QT_ZK_MAGIC) {
        fprintf(stderr, "qt_zk: handle %p was not opened by qt_zk_connect\n",
                (void *)zh);
        abort();
    }
    return ctx;
}

static void on_watch(zhandle_t *zh, int type, int state, const char *path,
                     void *watcher_ctx)
{
    qt_zk_ctx_t *ctx = watcher_ctx;
    (void)zh;
    if (!ctx || ctx->magic != QT_ZK_MAGIC)
        return;
    if (type == ZOO_SESSION_EVENT) {
        if (ctx->nstates < QT_STATES_MAX)
            ctx->states[ctx->nstates++] = state;
        return;
    }
    /* A full ring drops its oldest event: tests wait for recent ones. */
    if (ctx->ev_count == QT_EVENTS_MAX) {
        ctx->ev_first = (ctx->ev_first + 1) % QT_EVENTS_MAX;
        ctx->ev_count--;
    }
    qt_event_t *ev =
        &ctx->events[(ctx->ev_first + ctx->ev_count) % QT_EVENTS_MAX];
    ev->type = type;
    snprintf(ev->path, sizeof(ev->path), "%s", path ? path : "");
    ctx->ev_count++;
}

/* ---- driving the single-threaded client ---------------------------- */

/* Expired or refused: the handle will never work again. */
static bool unrecoverable(zhandle_t *zh)
{
    int state = zoo_state(zh);
    return state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE;
}

/*
 * One round of the libzookeeper_st loop: ask for fd, interest and timeout,
 * poll at most @max_ms, then let the library process. Watches and
 * completions run inside zookeeper_process(). The return codes of both
 * calls say little (zookeeper_process() answers ZINVALIDSTATE whenever no
 * socket is open, e.g. between reconnect attempts), so the handle's state
 * decides: ZINVALIDSTATE once it is unrecoverable, else ZOK.
 */
static int drive(zhandle_t *zh, int max_ms)
{
    int fd = -1, interest = 0, events = 0;
    struct timeval tv = {0, 0};
    int rc = zookeeper_interest(zh, &fd, &interest, &tv);
    if (unrecoverable(zh))
        return ZINVALIDSTATE;
    int wait = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    if (wait > max_ms || wait < 0)
        wait = max_ms;
    if (rc != ZOK) {
        /* E.g. a PING that could not go out because the server died: the
         * socket is still open but interest and timeout come back empty,
         * and asking again at once would spin until 2/3 of the session
         * timeout passes. Wait a little for the EOF that lets
         * zookeeper_process() notice the loss and reconnect. */
        interest |= ZOOKEEPER_READ;
        if (wait < 10)
            wait = max_ms < 10 ? max_ms : 10;
    }
    if (fd >= 0) {
        struct pollfd pfd = {.fd = fd, .events = 0};
        if (interest & ZOOKEEPER_READ)
            pfd.events |= POLLIN;
        if (interest & ZOOKEEPER_WRITE)
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, wait) > 0) {
            if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
                events |= ZOOKEEPER_READ;
            if (pfd.revents & POLLOUT)
                events |= ZOOKEEPER_WRITE;
        }
    } else {
        /* No socket (between reconnect attempts): only time passes. */
        qt_sleep_ms(wait > 0 ? wait : 1);
    }
    zookeeper_process(zh, events);
    return unrecoverable(zh) ? ZINVALIDSTATE : ZOK;
}

int qt_zk_pump(zhandle_t *zh, int ms)
{
    int64_t deadline = qt_now_ms() + ms;
    do {
        if (drive(zh, remaining_ms(deadline)) == ZINVALIDSTATE)
            return ZINVALIDSTATE;
    } while (remaining_ms(deadline) > 0);
    return ZOK;
}

bool qt_zk_wait_state(zhandle_t *zh, int state, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    for (;;) {
        if (zoo_state(zh) == state)
            return true;
        if (remaining_ms(deadline) == 0)
            return false;
        if (drive(zh, remaining_ms(deadline)) == ZINVALIDSTATE &&
            zoo_state(zh) != state)
            return false;
    }
}

int qt_zk_states_seen(zhandle_t *zh, int *states, int max)
{
    qt_zk_ctx_t *ctx = ctx_of(zh);
    int n = ctx->nstates < max ? ctx->nstates : max;
    memcpy(states, ctx->states, (size_t)n * sizeof(*states));
    return n;
}

bool qt_zk_wait_event(zhandle_t *zh, int type, const char *path, int timeout_ms)
{
    qt_zk_ctx_t *ctx = ctx_of(zh);
    int64_t deadline = qt_now_ms() + timeout_ms;
    for (;;) {
        while (ctx->ev_count > 0) {
            qt_event_t *ev = &ctx->events[ctx->ev_first];
            bool match = ev->type == type && strcmp(ev->path, path) == 0;
            ctx->ev_first = (ctx->ev_first + 1) % QT_EVENTS_MAX;
            ctx->ev_count--;
            if (match)
                return true;
        }
        if (remaining_ms(deadline) == 0)
            return false;
        if (drive(zh, remaining_ms(deadline)) == ZINVALIDSTATE)
            return false;
    }
}

/* ---- sessions ------------------------------------------------------ */

/* The client library's lines for helper handles: warnings and errors go
 * to stderr (the test's log), INFO chatter (a dozen lines per connect)
 * does not. A per-handle callback leaves the library's global level, and
 * so the logging of the code under test, alone. */
static void on_log(const char *message)
{
    if (strstr(message, ":ZOO_INFO@") || strstr(message, ":ZOO_DEBUG@"))
        return;
    fprintf(stderr, "%s\n", message);
}

zhandle_t *qt_zk_connect_session(const char *hosts, int session_ms,
                                 int timeout_ms)
{
    qt_zk_ctx_t *ctx = qr_calloc(1, sizeof(*ctx));
    ctx->magic = QT_ZK_MAGIC;
    zhandle_t *zh =
        zookeeper_init2(hosts, on_watch, session_ms, NULL, ctx, 0, on_log);
    if (!zh) {
        fprintf(stderr, "qt_zk: zookeeper_init(%s): %s\n", hosts,
                strerror(errno));
        free(ctx);
        return NULL;
    }
    if (!qt_zk_wait_state(zh, ZOO_CONNECTED_STATE, timeout_ms)) {
        fprintf(stderr, "qt_zk: no session with %s within %d ms (state %d)\n",
                hosts, timeout_ms, zoo_state(zh));
        qt_zk_close(zh);
        return NULL;
    }
    return zh;
}

zhandle_t *qt_zk_connect(const char *hosts, int timeout_ms)
{
    return qt_zk_connect_session(hosts, QT_ZK_SESSION_MS, timeout_ms);
}

void qt_zk_close(zhandle_t *zh)
{
    if (!zh)
        return;
    qt_zk_ctx_t *ctx = ctx_of(zh);
    /* Pending completions run with ZCLOSING inside zookeeper_close() and
     * free their abandoned contexts; the watcher context goes after. */
    zookeeper_close(zh);
    ctx->magic = 0;
    free(ctx);
}

/* ---- one asynchronous operation, waited for ------------------------ */

/*
 * The completion owns the op once the waiter has given up on it
 * (abandoned): it may still run later, with any rc, or with ZCLOSING when
 * the handle closes, and then frees it (STYLE.md §4.6).
 */
typedef struct qt_op {
    uint32_t magic;
    bool done;
    bool abandoned;
    int rc;
    char *data; /* get: owned copy; create: the created path */
    int len;
    struct Stat stat;
    bool have_stat;
    struct String_vector children;
} qt_op_t;

static qt_op_t *op_new(void)
{
    qt_op_t *op = qr_calloc(1, sizeof(*op));
    op->magic = QT_OP_MAGIC;
    return op;
}

static void op_free(qt_op_t *op)
{
    op->magic = 0;
    free(op->data);
    deallocate_String_vector(&op->children);
    free(op);
}

/* Common entry of every completion: NULL if the op was abandoned. */
static qt_op_t *op_complete(const void *data, int rc)
{
    qt_op_t *op = (qt_op_t *)data;
    if (!op || op->magic != QT_OP_MAGIC) {
        fprintf(stderr, "qt_zk: completion with a bad context %p\n", data);
        abort();
    }
    if (op->abandoned) {
        op_free(op);
        return NULL;
    }
    op->done = true;
    op->rc = rc;
    return op;
}

/*
 * Wait for @op, issued with return code @issued from its zoo_a* call.
 * Returns the op, done, for the caller to read and op_free(); or NULL with
 * *rc set when there is nothing to read: the call was refused (no
 * completion will run, the op is freed here) or the deadline passed (the op
 * is abandoned to its completion).
 */
static qt_op_t *op_wait(zhandle_t *zh, qt_op_t *op, int issued,
                        int64_t deadline, int *rc)
{
    if (issued != ZOK) {
        op_free(op);
        *rc = issued;
        return NULL;
    }
    while (!op->done && remaining_ms(deadline) > 0)
        if (drive(zh, remaining_ms(deadline)) == ZINVALIDSTATE)
            break;
    if (!op->done) {
        op->abandoned = true;
        *rc = zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE ? ZSESSIONEXPIRED
                                                         : ZOPERATIONTIMEOUT;
        return NULL;
    }
    *rc = op->rc;
    return op;
}

static void on_data(int rc, const char *value, int value_len,
                    const struct Stat *stat, const void *data)
{
    qt_op_t *op = op_complete(data, rc);
    if (!op || rc != ZOK)
        return;
    op->len = value ? value_len : -1;
    if (value && value_len >= 0) {
        op->data = qr_malloc((size_t)value_len + 1);
        memcpy(op->data, value, (size_t)value_len);
        op->data[value_len] = '\0';
    }
    if (stat) {
        op->stat = *stat;
        op->have_stat = true;
    }
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    qt_op_t *op = op_complete(data, rc);
    if (op && stat) {
        op->stat = *stat;
        op->have_stat = true;
    }
}

static void on_string(int rc, const char *value, const void *data)
{
    qt_op_t *op = op_complete(data, rc);
    if (op && rc == ZOK && value)
        op->data = qr_strdup(value);
}

static void on_void(int rc, const void *data)
{
    op_complete(data, rc);
}

static void on_strings(int rc, const struct String_vector *strings,
                       const void *data)
{
    qt_op_t *op = op_complete(data, rc);
    if (!op || rc != ZOK || !strings)
        return;
    /* Deep copy: the library frees its vector after the call. */
    op->children.count = strings->count;
    op->children.data = qr_calloc((size_t)(strings->count ? strings->count : 1),
                                  sizeof(char *));
    for (int i = 0; i < strings->count; i++)
        op->children.data[i] = qr_strdup(strings->data[i]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- operations ---------------------------------------------------- */

int qt_zk_get(zhandle_t *zh, const char *path, char **data, int *len,
              struct Stat *stat, bool watch, int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(zh, op, zoo_aget(zh, path, watch, on_data, op),
                 qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    if (rc == ZOK) {
        if (data) {
            *data = op->data;
            op->data = NULL;
        }
        if (len)
            *len = op->len;
        if (stat)
            *stat = op->stat;
    }
    op_free(op);
    return rc;
}

int qt_zk_exists(zhandle_t *zh, const char *path, struct Stat *stat, bool watch,
                 int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(zh, op, zoo_aexists(zh, path, watch, on_stat, op),
                 qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    if (rc == ZOK && stat)
        *stat = op->stat;
    op_free(op);
    return rc;
}

bool qt_zk_wait_exists(zhandle_t *zh, const char *path, bool want,
                       int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    for (;;) {
        int left = remaining_ms(deadline);
        int rc = qt_zk_exists(zh, path, NULL, false, left);
        if ((want && rc == ZOK) || (!want && rc == ZNONODE))
            return true;
        if (remaining_ms(deadline) == 0)
            return false;
        if (qt_zk_pump(zh, QT_POLL_SLICE_MS) == ZINVALIDSTATE)
            return false;
    }
}

int qt_zk_create(zhandle_t *zh, const char *path, const void *data, int len,
                 int flags, char **created, int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(zh, op,
                 zoo_acreate(zh, path, data, data ? len : -1,
                             &ZOO_OPEN_ACL_UNSAFE, flags, on_string, op),
                 qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    if (rc == ZOK && created) {
        *created = op->data;
        op->data = NULL;
    }
    op_free(op);
    return rc;
}

int qt_zk_create_all(zhandle_t *zh, const char *path, const void *data, int len,
                     int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    char buf[QT_PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) ||
        buf[0] != '/')
        return ZBADARGUMENTS;
    /* Parents first, each "exists" tolerated; then the node itself. */
    for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int rc =
            qt_zk_create(zh, buf, NULL, -1, 0, NULL, remaining_ms(deadline));
        *p = '/';
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    int rc = qt_zk_create(zh, path, data, len, 0, NULL, remaining_ms(deadline));
    return rc == ZNODEEXISTS ? ZOK : rc;
}

int qt_zk_set(zhandle_t *zh, const char *path, const void *data, int len,
              int version, struct Stat *stat, int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(
        zh, op, zoo_aset(zh, path, data, data ? len : -1, version, on_stat, op),
        qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    if (rc == ZOK && stat)
        *stat = op->stat;
    op_free(op);
    return rc;
}

int qt_zk_delete(zhandle_t *zh, const char *path, int version, int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(zh, op, zoo_adelete(zh, path, version, on_void, op),
                 qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    op_free(op);
    return rc;
}

int qt_zk_children(zhandle_t *zh, const char *path, struct String_vector *out,
                   bool watch, int timeout_ms)
{
    int rc;
    qt_op_t *op = op_new();
    op = op_wait(zh, op, zoo_aget_children(zh, path, watch, on_strings, op),
                 qt_now_ms() + timeout_ms, &rc);
    if (!op)
        return rc;
    if (rc == ZOK) {
        *out = op->children;
        op->children.count = 0;
        op->children.data = NULL;
        if (out->count > 1)
            qsort(out->data, (size_t)out->count, sizeof(char *), cmp_str);
    }
    op_free(op);
    return rc;
}

static int delete_below(zhandle_t *zh, const char *path, int64_t deadline)
{
    struct String_vector kids = {0, NULL};
    int rc = qt_zk_children(zh, path, &kids, false, remaining_ms(deadline));
    if (rc == ZNONODE)
        return ZOK;
    if (rc != ZOK)
        return rc;
    for (int i = 0; i < kids.count && rc == ZOK; i++) {
        char child[QT_PATH_MAX];
        if (snprintf(child, sizeof(child), "%s/%s",
                     strcmp(path, "/") == 0 ? "" : path,
                     kids.data[i]) >= (int)sizeof(child)) {
            rc = ZBADARGUMENTS;
            break;
        }
        if (strcmp(child, "/zookeeper") == 0)
            continue; /* the server's own subtree, never ours to delete */
        rc = delete_below(zh, child, deadline);
        if (rc == ZOK) {
            rc = qt_zk_delete(zh, child, -1, remaining_ms(deadline));
            if (rc == ZNONODE)
                rc = ZOK;
        }
    }
    deallocate_String_vector(&kids);
    return rc;
}

int qt_zk_delete_all(zhandle_t *zh, const char *path, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    if (strcmp(path, "/zookeeper") == 0)
        return ZBADARGUMENTS;
    int rc = delete_below(zh, path, deadline);
    if (rc != ZOK || strcmp(path, "/") == 0)
        return rc;
    rc = qt_zk_delete(zh, path, -1, remaining_ms(deadline));
    return rc == ZNONODE ? ZOK : rc;
}

char *qt_zk_chroot_new(const char *hosts, int timeout_ms)
{
    /* A per-process counter: with the pid it names the chroot uniquely in
     * this server, whether tests fork (pid differs) or not (n differs). */
    static unsigned counter;
    int64_t deadline = qt_now_ms() + timeout_ms;
    zhandle_t *zh = qt_zk_connect(hosts, timeout_ms);
    if (!zh)
        return NULL;
    char path[64];
    int rc;
    do {
        snprintf(path, sizeof(path), "/t-%ld-%u", (long)getpid(), counter++);
        rc = qt_zk_create(zh, path, NULL, -1, 0, NULL, remaining_ms(deadline));
    } while (rc == ZNODEEXISTS && remaining_ms(deadline) > 0);
    qt_zk_close(zh);
    if (rc != ZOK) {
        fprintf(stderr, "qt_zk: creating chroot %s on %s: %s\n", path, hosts,
                zerror(rc));
        return NULL;
    }
    size_t n = strlen(hosts) + strlen(path) + 1;
    char *connect = qr_malloc(n);
    snprintf(connect, n, "%s%s", hosts, path);
    return connect;
}

/* ---- commands ------------------------------------------------------ */

/* Append what is readable on @fd to (*buf, *len); false at EOF. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return false;
    if (*len + (size_t)n + 1 > *cap) {
        while (*len + (size_t)n + 1 > *cap)
            *cap *= 2;
        *buf = qr_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, chunk, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return true;
}

static void child_exec(char *const argv[], int in_fd, int out_fd, int err_fd)
{
    /* Own process group, so a timeout kills whatever the command started. */
    setpgid(0, 0);
    if (in_fd < 0)
        in_fd = open("/dev/null", O_RDONLY);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    dprintf(2, "qt_run: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Feed @input, collect stdout/stderr until both close or the deadline. */
static void run_io(pid_t pid, int in_fd, const char *input, int out_fd,
                   int err_fd, int64_t deadline, qt_run_result_t *res)
{
    size_t in_len = input ? strlen(input) : 0, in_off = 0;
    size_t out_cap = 256, err_cap = 256;
    res->out = qr_calloc(1, out_cap);
    res->err = qr_calloc(1, err_cap);
    if (in_fd >= 0 && in_len == 0) {
        close(in_fd);
        in_fd = -1;
    }
    while (out_fd >= 0 || err_fd >= 0) {
        struct pollfd pfd[3] = {
            {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
        int left = remaining_ms(deadline);
        if (left == 0) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            break;
        }
        if (poll(pfd, 3, left) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents &&
            !drain(out_fd, &res->out, &res->out_len, &out_cap)) {
            close(out_fd);
            out_fd = -1;
        }
        if (pfd[1].revents &&
            !drain(err_fd, &res->err, &res->err_len, &err_cap)) {
            close(err_fd);
            err_fd = -1;
        }
        if (pfd[2].revents) {
            ssize_t n = write(in_fd, input + in_off, in_len - in_off);
            if (n > 0)
                in_off += (size_t)n;
            if (n < 0 || in_off == in_len) {
                close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (in_fd >= 0)
        close(in_fd);
}

int qt_run(char *const argv[], const char *input, int timeout_ms,
           qt_run_result_t *res)
{
    int in[2] = {-1, -1}, out[2], err[2];
    int64_t deadline = qt_now_ms() + timeout_ms;
    memset(res, 0, sizeof(*res));
    if ((input && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(err, O_CLOEXEC) < 0) {
        fprintf(stderr, "qt_run: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "qt_run: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        child_exec(argv, in[0], out[1], err[1]);
    if (in[0] >= 0)
        close(in[0]);
    close(out[1]);
    close(err[1]);
    /* Writing to a command that exited must not kill the test. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    run_io(pid, in[1], input, out[0], err[0], deadline, res);
    signal(SIGPIPE, old);
    int status = 0;
    /* Both pipes are closed: the command has exited or closed them. Wait
     * within the deadline, then kill it. */
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (remaining_ms(deadline) == 0) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        qt_sleep_ms(10);
    }
    res->status = WIFEXITED(status)     ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                        : -1;
    return 0;
}

void qt_run_free(qt_run_result_t *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

/* ---- ports --------------------------------------------------------- */

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int qt_free_port(void)
{
    /* Seeded per call from pid and clock: parallel tests differ. */
    unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)qt_now_ms();
    for (int i = 0; i < 200; i++) {
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        if (port_bindable(port))
            return port;
    }
    return -1;
}

/* ---- servers of a test's own --------------------------------------- */

/*
 * Run tests/harness/zk.sh with @args. QT_ZK_OWNER_PID makes its watchdog
 * stop the server if this process dies first (a Check timeout kills the
 * forked test, and the server must not outlive it). Prints zk.sh's stderr
 * on failure. Returns its stdout (owned) or NULL.
 */
static char *zk_sh(const char *const *args, int timeout_ms)
{
    char owner[32];
    snprintf(owner, sizeof(owner), "QT_ZK_OWNER_PID=%ld", (long)getpid());
    char *argv[8] = {"env", owner, QT_HARNESS_DIR "/zk.sh"};
    int n = 3;
    for (; *args && n < 7; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    qt_run_result_t res;
    if (qt_run(argv, NULL, timeout_ms, &res) < 0)
        return NULL;
    if (res.status != 0 || res.timed_out) {
        fprintf(stderr, "qt_zk: zk.sh %s %s: %s%s\n", argv[3],
                argv[4] ? argv[4] : "", res.timed_out ? "timed out\n" : "",
                res.err);
        qt_run_free(&res);
        return NULL;
    }
    free(res.err);
    return res.out;
}

static bool zk_sh_ok(const char *const *args, int timeout_ms)
{
    char *out = zk_sh(args, timeout_ms);
    free(out);
    return out != NULL;
}

static bool make_dir(qt_zks_t *zks)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(zks->dir, sizeof(zks->dir), "%s/qt-zk.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(zks->dir)) {
        fprintf(stderr, "qt_zk: mkdtemp %s: %s\n", zks->dir, strerror(errno));
        return false;
    }
    return true;
}

static void remove_dir(qt_zks_t *zks, int timeout_ms)
{
    char *argv[] = {"rm", "-rf", zks->dir, NULL};
    qt_run_result_t res;
    if (zks->dir[0] && qt_run(argv, NULL, timeout_ms, &res) == 0)
        qt_run_free(&res);
    zks->dir[0] = '\0';
}

bool qt_zks_start(qt_zks_t *zks, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    memset(zks, 0, sizeof(*zks));
    if (!make_dir(zks))
        return false;
    /* A port may be taken between the check and the JVM's bind: retry. */
    for (int attempt = 0; attempt < 3 && remaining_ms(deadline) > 0;
         attempt++) {
        char port[16];
        snprintf(port, sizeof(port), "%d", qt_free_port());
        const char *args[] = {"start", zks->dir, port, NULL};
        if (zk_sh_ok(args, remaining_ms(deadline))) {
            snprintf(zks->hosts, sizeof(zks->hosts), "127.0.0.1:%s", port);
            return true;
        }
    }
    remove_dir(zks, 5000);
    return false;
}

bool qt_zks_restart_empty(qt_zks_t *zks, int timeout_ms)
{
    const char *args[] = {"restart-empty", zks->dir, NULL};
    return zk_sh_ok(args, timeout_ms);
}

bool qt_zks_restart(qt_zks_t *zks, int timeout_ms)
{
    const char *args[] = {"restart", zks->dir, NULL};
    return !zks->members && zk_sh_ok(args, timeout_ms);
}

bool qt_zks_ensemble_start(qt_zks_t *zks, int n, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    memset(zks, 0, sizeof(*zks));
    if (n < 1 || n > 9 || !make_dir(zks))
        return false;
    char size[4];
    snprintf(size, sizeof(size), "%d", n);
    for (int attempt = 0; attempt < 3 && remaining_ms(deadline) > 0;
         attempt++) {
        const char *args[] = {"ensemble-start", zks->dir, size, NULL};
        char *out = zk_sh(args, remaining_ms(deadline));
        if (out) {
            out[strcspn(out, "\n")] = '\0';
            snprintf(zks->hosts, sizeof(zks->hosts), "%s", out);
            free(out);
            zks->members = n;
            return true;
        }
    }
    remove_dir(zks, 5000);
    return false;
}

bool qt_zks_member_stop(qt_zks_t *zks, int i, int timeout_ms)
{
    char member[16];
    snprintf(member, sizeof(member), "%d", i);
    const char *args[] = {"member-stop", zks->dir, member, NULL};
    return zk_sh_ok(args, timeout_ms);
}

bool qt_zks_member_kill(qt_zks_t *zks, int i, int timeout_ms)
{
    char member[16];
    snprintf(member, sizeof(member), "%d", i);
    const char *args[] = {"member-kill", zks->dir, member, NULL};
    return zk_sh_ok(args, timeout_ms);
}

bool qt_zks_member_start(qt_zks_t *zks, int i, int timeout_ms)
{
    char member[16];
    snprintf(member, sizeof(member), "%d", i);
    const char *args[] = {"member-start", zks->dir, member, NULL};
    return zk_sh_ok(args, timeout_ms);
}

bool qt_zks_stop(qt_zks_t *zks, int timeout_ms)
{
    if (!zks->dir[0])
        return true;
    int64_t deadline = qt_now_ms() + timeout_ms;
    const char *args[] = {zks->members ? "ensemble-stop" : "stop", zks->dir,
                          NULL};
    bool ok = zk_sh_ok(args, timeout_ms);
    remove_dir(zks, remaining_ms(deadline) + 1000);
    return ok;
}
