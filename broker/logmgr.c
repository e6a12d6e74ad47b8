/*
 * logmgr: log dirs, the partition table, the janitor thread.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "checkpoint.h"
#include "logging.h"
#include "logmgr.h"
#include "partlog_int.h"
#include "retention.h"
#include "thread.h"
#include "topic.h"

#define LOGMGR_LOCK_FILE   ".lock"
#define LOGMGR_TICK_MAX_MS 1000
#define LOGMGR_TICK_MIN_MS 10

typedef struct mgr_dir {
    char *path;
    int lock_fd;
    int online;
    int clean;     /* had the clean-shutdown marker at start */
    qr_ckpt_t ck;  /* mgr->lock: last known recovery points */
    size_t nparts; /* partition directories in it */
    /* mgr->lock: partitions closed cleanly (flushed, sealed) during this
     * run, with their end: only these reopen without recovery */
    qr_ckpt_t closed;
    /* mgr->lock: replicated high watermarks (replication-offset-checkpoint):
     * of the partitions whose replica set or fetcher set one */
    qr_ckpt_t hw;
    int load_failed; /* a partition failed to load: it needs recovery, so
                        the dir never gets the clean-shutdown marker */
} mgr_dir_t;

typedef struct mgr_part {
    qr_plog_t *part; /* one reference, the manager's */
    size_t dir;
} mgr_part_t;

struct qr_logmgr {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping; /* lock */
    mgr_dir_t *dirs;
    size_t ndirs;
    mgr_part_t *parts; /* lock; sorted by (topic, partition) */
    size_t nparts, cap;
    qr_plog_conf_t defaults;
    int64_t ckpt_interval_ms;
    int64_t next_retention_ms, next_ckpt_ms; /* lock */
    int64_t tick_ms;                         /* lock: the janitor's period */
    int64_t base_tick_ms;                    /* from the broker's settings */
    qr_flusher_t *flusher;
    int pool_threads; /* flusher_threads: also the threads that open the
                         partitions at start-up and close them at stop */
    pthread_t janitor;
    int janitor_started;
    qr_plog_append_cb *on_append;
    void *on_append_opaque;
};

void qr_logmgr_conf_defaults(qr_logmgr_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    qr_plog_conf_defaults(&conf->defaults);
    conf->flusher_threads = 2;
    conf->recovery_threads = 10;
    conf->checkpoint_interval_ms = 60000;
}

/* ---- the partition table ---- */

static int cmp_key(const char *topic, int32_t partition, const qr_plog_t *p)
{
    int c = strcmp(topic, p->topic);
    if (c)
        return c;
    return partition < p->partition ? -1 : partition > p->partition;
}

/* Index of the entry, or -(insertion point) - 1. mgr->lock held. */
static ssize_t find_part(const qr_logmgr_t *mgr, const char *topic,
                         int32_t partition)
{
    size_t lo = 0, hi = mgr->nparts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(topic, partition, mgr->parts[mid].part);
        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -(ssize_t)lo - 1;
}

static void insert_part(qr_logmgr_t *mgr, size_t at, qr_plog_t *part,
                        size_t dir)
{
    if (mgr->nparts == mgr->cap) {
        mgr->cap = mgr->cap ? mgr->cap * 2 : 64;
        mgr->parts = qr_realloc(mgr->parts, mgr->cap * sizeof(*mgr->parts));
    }
    memmove(mgr->parts + at + 1, mgr->parts + at,
            (mgr->nparts - at) * sizeof(*mgr->parts));
    mgr->parts[at].part = part;
    mgr->parts[at].dir = dir;
    mgr->nparts++;
}

static mgr_part_t take_part(qr_logmgr_t *mgr, size_t at)
{
    mgr_part_t mp = mgr->parts[at];
    memmove(mgr->parts + at, mgr->parts + at + 1,
            (mgr->nparts - at - 1) * sizeof(*mgr->parts));
    mgr->nparts--;
    return mp;
}

/* ---- a few threads over an array (start-up opens, shutdown closes) ---- */

typedef struct pool_run {
    void (*fn)(void *arg, size_t i); /* item i; each taken by one thread */
    void *arg;
    size_t n;
    atomic_size_t next;
    qr_log_ctx_t *log_ctx; /* the caller's: the items log where it does */
} pool_run_t;

static void *pool_main(void *p)
{
    pool_run_t *pr = p;
    qr_log_ctx_t *was = qr_log_ctx_swap(pr->log_ctx);
    size_t i;

    while ((i = atomic_fetch_add(&pr->next, 1)) < pr->n)
        pr->fn(pr->arg, i);
    qr_log_ctx_swap(was);
    return NULL;
}

/* fn(arg, 0..n-1) on up to @p nthreads threads, this one among them;
 * returns when every call has returned. A thread that cannot be created
 * leaves its share to the others. */
static void run_pool(int nthreads, size_t n, void (*fn)(void *, size_t),
                     void *arg)
{
    pool_run_t pr = {.fn = fn, .arg = arg, .n = n, .log_ctx = qr_log_tls};
    size_t nextra = nthreads > 1 ? (size_t)nthreads - 1 : 0;
    size_t started = 0;
    pthread_t *th;

    atomic_init(&pr.next, 0);
    if (nextra > n / 2) /* a thread is worth two items at least */
        nextra = n / 2;
    th = qr_calloc(nextra ? nextra : 1, sizeof(*th));
    for (; started < nextra; started++) {
        if (pthread_create(&th[started], NULL, pool_main, &pr) != 0)
            break;
        qr_thread_name(th[started], "qr-recovery", (int)started);
    }
    pool_main(&pr);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
}

/* ---- log dirs ---- */

/* fsync of the directory holding @p dir; 0 or -1. */
static int sync_parent(const char *dir)
{
    char parent[PATH_MAX];
    const char *slash = strrchr(dir, '/');

    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == dir)
        snprintf(parent, sizeof(parent), "/");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
    return qr_ckpt_sync_dir(parent) == QUIRE_ERR_NONE ? 0 : -1;
}

/* mkdir -p, durably: each directory it creates is followed by an fsync of
 * its parent, or a power loss could take the log dir (and every partition
 * in it) away with the parent's unsynced entry. */
static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t len = strlen(tmp);
    for (char *p = tmp + 1; p <= tmp + len; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) == 0) {
            if (sync_parent(tmp) != 0) {
                errno = EIO;
                return -1;
            }
        } else if (errno != EEXIST) {
            return -1;
        }
        *p = c;
    }
    return 0;
}

static void dir_offline(mgr_dir_t *d, const char *what, int err)
{
    d->online = 0;
    QR_LOG_ERR("LOG",
               "log dir %s offline: %s: %s (errno %d); its partitions are "
               "unavailable",
               d->path, what, strerror(err), err);
}

/* Writes both checkpoint files of a dir: recovery points, then high
 * watermarks. mgr->lock held (or start-up). */
static quire_err_t write_ckpts(mgr_dir_t *d)
{
    char path[PATH_MAX];
    quire_err_t err;

    snprintf(path, sizeof(path), "%s/%s", d->path, QR_CKPT_RECOVERY_FILE);
    err = qr_ckpt_write(path, &d->ck);
    snprintf(path, sizeof(path), "%s/%s", d->path, QR_CKPT_REPLICATION_FILE);
    if (err == QUIRE_ERR_NONE)
        err = qr_ckpt_write(path, &d->hw);
    return err;
}

/* Lock, marker, checkpoint. 0, or -1 for a dir another process holds. */
static int open_dir(mgr_dir_t *d, char *errstr, size_t errsz)
{
    char path[PATH_MAX];
    char why[256];
    quire_err_t err;

    d->lock_fd = -1;
    d->online = 1;
    if (mkdir_p(d->path) != 0) {
        dir_offline(d, "mkdir", errno);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", d->path, LOGMGR_LOCK_FILE);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0) {
        dir_offline(d, "open .lock", errno);
        return 0;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(errstr, errsz,
                 "log dir %s is in use by another process (flock: %s)", d->path,
                 strerror(errno));
        close(d->lock_fd);
        d->lock_fd = -1;
        d->online = 0;
        return -1;
    }
    if (qr_ckpt_take_clean(d->path, &d->clean) != QUIRE_ERR_NONE) {
        dir_offline(d, "removing the clean-shutdown marker", errno);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", d->path, QR_CKPT_RECOVERY_FILE);
    err = qr_ckpt_read(path, &d->ck, why, sizeof(why));
    if (err != QUIRE_ERR_NONE && err != QUIRE_ERR_NOT_FOUND) {
        QR_LOG_WARN("LOG",
                    "%s: %s; recovering every partition of this dir from "
                    "its first segment",
                    path, why);
        d->clean = 0;
    }
    /* Kafka's "Skipping recovery ... since clean shutdown file was found":
     * the one line that says a start trusted the last stop */
    if (d->clean)
        QR_LOG_INFO("LOG",
                    "%s: clean shutdown (%s found): partitions open "
                    "without recovery",
                    d->path, QR_CKPT_CLEAN_FILE);
    snprintf(path, sizeof(path), "%s/%s", d->path, QR_CKPT_REPLICATION_FILE);
    err = qr_ckpt_read(path, &d->hw, why, sizeof(why));
    if (err != QUIRE_ERR_NONE && err != QUIRE_ERR_NOT_FOUND)
        QR_LOG_WARN("LOG",
                    "%s: %s; the high watermarks of this dir's partitions "
                    "restart from their leaders",
                    path, why);
    /* Probe writability now rather than at the first checkpoint. */
    if (write_ckpts(d) != QUIRE_ERR_NONE)
        dir_offline(d, "writing the checkpoint", errno);
    return 0;
}

/* A partition just opened gets its replicated high watermark back, never
 * past its log end. mgr->lock held (or start-up). */
static void restore_hw(mgr_dir_t *d, qr_plog_t *part)
{
    int64_t hw;

    if (!qr_ckpt_get(&d->hw, part->topic, part->partition, &hw))
        return;
    if (hw > qr_plog_log_end(part)) {
        QR_LOG_INFO("LOG",
                    "%s: high watermark %lld from %s is past the log end "
                    "%lld: clamped",
                    part->name, (long long)hw, QR_CKPT_REPLICATION_FILE,
                    (long long)qr_plog_log_end(part));
        hw = qr_plog_log_end(part);
    }
    qr_plog_set_replicated_hw(part, hw);
}

/* The partition's entries in the dir's checkpoints. mgr->lock held. */
static void note_part(mgr_dir_t *d, qr_plog_t *part)
{
    int64_t hw = qr_plog_replicated_hw(part);

    qr_ckpt_set(&d->ck, part->topic, part->partition,
                qr_plog_recovery_point(part));
    if (hw >= 0)
        qr_ckpt_set(&d->hw, part->topic, part->partition, hw);
}

/* "<topic>-<partition>" -> parts; 0 on success. */
static int parse_part_dir(const char *name, char *topic, size_t tsize,
                          int32_t *partition)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1] || strlen(dash + 1) > 10)
        return -1;
    int64_t v = 0;
    for (const char *p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    size_t tlen = (size_t)(dash - name);
    if (v > INT32_MAX || tlen >= tsize ||
        qr_topic_name_check(name, tlen, NULL) != QUIRE_ERR_NONE)
        return -1;
    memcpy(topic, name, tlen);
    topic[tlen] = '\0';
    *partition = (int32_t)v;
    return 0;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d)) != NULL) {
            char path[PATH_MAX + 256];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir,
                     de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static qr_plog_open_opts_t part_opts(qr_logmgr_t *mgr, mgr_dir_t *d,
                                     const char *topic, int32_t partition)
{
    qr_plog_open_opts_t o = {.clean = d->clean,
                             .recovery_point = -1,
                             .create = 1,
                             .flusher = mgr->flusher,
                             .on_append = mgr->on_append,
                             .on_append_opaque = mgr->on_append_opaque};
    if (!qr_ckpt_get(&d->ck, topic, partition, &o.recovery_point))
        o.recovery_point = -1;
    return o;
}

/* A partition directory found at start-up, opened on the pool. */
typedef struct load_item {
    char *topic; /* owned */
    int32_t partition;
    qr_plog_t *part; /* NULL when the open failed (errstr) */
    char errstr[256];
} load_item_t;

typedef struct load_all {
    qr_logmgr_t *mgr;
    mgr_dir_t *d; /* read only while the pool runs */
    load_item_t *items;
} load_all_t;

static void load_one(void *arg, size_t i)
{
    load_all_t *la = arg;
    load_item_t *it = &la->items[i];
    qr_plog_open_opts_t o = part_opts(la->mgr, la->d, it->topic, it->partition);

    o.create = 0;
    if (qr_plog_open(la->d->path, it->topic, it->partition,
                     &la->mgr->defaults, &o, &it->part, it->errstr,
                     sizeof(it->errstr)) != QUIRE_ERR_NONE)
        it->part = NULL;
}

/* Opens every partition directory of an online dir (start-up): the
 * directories listed, opened side by side on the pool (a recovery after a
 * crash reads and syncs; 10,000 opens one after another took seconds even
 * when clean), then entered in the table in the order found. */
static void load_dir(qr_logmgr_t *mgr, size_t di)
{
    mgr_dir_t *d = &mgr->dirs[di];
    DIR *dh = opendir(d->path);
    struct dirent *de;
    load_item_t *items = NULL;
    size_t n = 0, cap = 0;

    if (!dh) {
        dir_offline(d, "opendir", errno);
        return;
    }
    while ((de = readdir(dh)) != NULL) {
        char topic[QR_TOPIC_NAME_MAX + 1], path[PATH_MAX + 256];
        int32_t partition;
        size_t len = strlen(de->d_name);
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, d->path,
                 de->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (len > 7 && !strcmp(de->d_name + len - 7, "-delete")) {
            QR_LOG_INFO("LOG", "removing %s, a deletion cut short", path);
            remove_tree(path);
            qr_ckpt_sync_dir(d->path);
            continue;
        }
        if (parse_part_dir(de->d_name, topic, sizeof(topic), &partition)) {
            QR_LOG_WARN("LOG", "%s: not a partition directory, ignored", path);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            items = qr_realloc(items, cap * sizeof(*items));
        }
        items[n].topic = qr_strdup(topic);
        items[n].partition = partition;
        items[n].part = NULL;
        items[n].errstr[0] = '\0';
        n++;
    }
    closedir(dh);
    load_all_t la = {.mgr = mgr, .d = d, .items = items};
    run_pool(mgr->pool_threads, n, load_one, &la);
    for (size_t i = 0; i < n; i++) {
        load_item_t *it = &items[i];
        qr_plog_t *part = it->part;
        if (!part) {
            QR_LOG_ERR("LOG", "%s-%d in %s: %s; partition offline", it->topic,
                       (int)it->partition, d->path, it->errstr);
            d->load_failed = 1;
        } else {
            ssize_t at = find_part(mgr, it->topic, it->partition);
            if (at >= 0) {
                QR_LOG_ERR("LOG",
                           "%s-%d is in two log dirs (%s and %s); "
                           "using the first",
                           it->topic, (int)it->partition,
                           mgr->dirs[mgr->parts[at].dir].path, d->path);
                qr_plog_close(part);
            } else {
                restore_hw(d, part);
                insert_part(mgr, (size_t)(-at - 1), part, di);
                d->nparts++;
            }
        }
        free(it->topic);
    }
    free(items);
}

/* ---- janitor ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *janitor_main(void *arg)
{
    qr_logmgr_t *mgr = arg;
    pthread_mutex_lock(&mgr->lock);
    while (!mgr->stopping) {
        pthread_mutex_unlock(&mgr->lock);
        qr_logmgr_tick(mgr, qr_plog_now_ms());
        pthread_mutex_lock(&mgr->lock);
        if (mgr->stopping)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (mgr->tick_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(mgr->tick_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&mgr->cond, &mgr->lock, &ts);
    }
    pthread_mutex_unlock(&mgr->lock);
    return NULL;
}

void qr_logmgr_tick(qr_logmgr_t *mgr, int64_t now_ms)
{
    qr_plog_t **parts;
    size_t n;
    int retention, ckpt;
    int64_t mono = mono_ms();

    int64_t tick = mgr->base_tick_ms;

    pthread_mutex_lock(&mgr->lock);
    n = mgr->nparts;
    parts = qr_malloc((n ? n : 1) * sizeof(*parts));
    for (size_t i = 0; i < n; i++) {
        parts[i] = mgr->parts[i].part;
        qr_plog_keep(parts[i]);
        /* a topic's flush.ms below the broker's tick is honoured */
        int64_t f = atomic_load(&parts[i]->flush_ms);
        if (f < tick)
            tick = f < LOGMGR_TICK_MIN_MS ? LOGMGR_TICK_MIN_MS : f;
    }
    mgr->tick_ms = tick;
    retention = mono >= mgr->next_retention_ms;
    if (retention)
        mgr->next_retention_ms =
            mono + mgr->defaults.retention_check_interval_ms;
    ckpt = mono >= mgr->next_ckpt_ms;
    if (ckpt)
        mgr->next_ckpt_ms = mono + mgr->ckpt_interval_ms;
    pthread_mutex_unlock(&mgr->lock);

    for (size_t i = 0; i < n; i++) {
        qr_plog_periodic(parts[i], now_ms);
        if (retention)
            qr_retention_run(parts[i], now_ms, NULL);
        qr_retention_reap(parts[i], now_ms, 0);
        qr_plog_release(parts[i]);
    }
    free(parts);
    if (ckpt)
        qr_logmgr_checkpoint(mgr);
}

/* ---- open / close ---- */

static void free_mgr(qr_logmgr_t *mgr)
{
    for (size_t i = 0; i < mgr->ndirs; i++) {
        mgr_dir_t *d = &mgr->dirs[i];
        if (d->lock_fd >= 0)
            close(d->lock_fd); /* drops the flock */
        qr_ckpt_clear(&d->ck);
        qr_ckpt_clear(&d->closed);
        qr_ckpt_clear(&d->hw);
        free(d->path);
    }
    free(mgr->dirs);
    free(mgr->parts);
    pthread_mutex_destroy(&mgr->lock);
    pthread_cond_destroy(&mgr->cond);
    free(mgr);
}

static int64_t tick_of(const qr_plog_conf_t *c)
{
    int64_t t = LOGMGR_TICK_MAX_MS;
    if (c->flush_interval_ms < t)
        t = c->flush_interval_ms;
    if (c->retention_check_interval_ms < t)
        t = c->retention_check_interval_ms;
    if (c->segment_delete_delay_ms < t)
        t = c->segment_delete_delay_ms;
    return t < LOGMGR_TICK_MIN_MS ? LOGMGR_TICK_MIN_MS : t;
}

quire_err_t qr_logmgr_open(const qr_logmgr_conf_t *conf, qr_logmgr_t **mgrp,
                           char *errstr, size_t errstr_size)
{
    qr_logmgr_t *mgr;
    quire_err_t err;
    size_t online = 0;

    if (conf->ndirs == 0) {
        snprintf(errstr, errstr_size, "log.dirs: no directory given");
        return QUIRE_ERR_INVALID_CONFIG;
    }
    err = qr_plog_conf_check(&conf->defaults, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    if (conf->checkpoint_interval_ms < 1) {
        snprintf(errstr, errstr_size,
                 "log.flush.offset.checkpoint.interval.ms: must be at "
                 "least 1");
        return QUIRE_ERR_INVALID_CONFIG;
    }
    mgr = qr_calloc(1, sizeof(*mgr));
    pthread_mutex_init(&mgr->lock, NULL);
    pthread_cond_init(&mgr->cond, NULL);
    mgr->defaults = conf->defaults;
    mgr->ckpt_interval_ms = conf->checkpoint_interval_ms;
    mgr->tick_ms = mgr->base_tick_ms = tick_of(&conf->defaults);
    mgr->on_append = conf->on_append;
    mgr->on_append_opaque = conf->on_append_opaque;
    mgr->pool_threads = conf->recovery_threads;
    mgr->dirs = qr_calloc(conf->ndirs, sizeof(*mgr->dirs));
    mgr->ndirs = conf->ndirs;
    for (size_t i = 0; i < conf->ndirs; i++) {
        mgr->dirs[i].lock_fd = -1;
        mgr->dirs[i].path = qr_strdup(conf->dirs[i]);
    }
    err = qr_flusher_new(conf->flusher_threads, &mgr->flusher);
    if (err != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "cannot start %d flusher threads",
                 conf->flusher_threads);
        free_mgr(mgr);
        return err == QUIRE_ERR_BAD_ARG ? QUIRE_ERR_INVALID_CONFIG : err;
    }
    for (size_t i = 0; i < mgr->ndirs; i++) {
        if (open_dir(&mgr->dirs[i], errstr, errstr_size) != 0) {
            qr_logmgr_close(mgr); /* closes what was opened; no markers */
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        }
        if (mgr->dirs[i].online)
            load_dir(mgr, i);
        online += mgr->dirs[i].online;
    }
    if (online == 0) {
        snprintf(errstr, errstr_size, "no usable log dir (see above)");
        qr_logmgr_close(mgr);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    qr_logmgr_checkpoint(mgr);
    mgr->next_retention_ms =
        mono_ms() + mgr->defaults.retention_check_interval_ms;
    mgr->next_ckpt_ms = mono_ms() + mgr->ckpt_interval_ms;
    if (pthread_create(&mgr->janitor, NULL, janitor_main, mgr) != 0) {
        snprintf(errstr, errstr_size, "cannot start the log janitor thread");
        qr_logmgr_close(mgr);
        return QUIRE_ERR_STATE;
    }
    qr_thread_name(mgr->janitor, "qr-janitor", -1);
    mgr->janitor_started = 1;
    QR_LOG_INFO("LOG", "%zu partitions loaded from %zu log dirs (%zu online)",
                mgr->nparts, mgr->ndirs, online);
    *mgrp = mgr;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_logmgr_checkpoint(qr_logmgr_t *mgr)
{
    quire_err_t ret = QUIRE_ERR_NONE;
    unsigned long *gens;
    int *written;
    pthread_mutex_lock(&mgr->lock);
    gens = qr_calloc(mgr->nparts + 1, sizeof(*gens));
    written = qr_calloc(mgr->ndirs + 1, sizeof(*written));
    for (size_t i = 0; i < mgr->nparts; i++) {
        qr_plog_t *part = mgr->parts[i].part;
        /* After a failed sync nothing of it is checkpointed again: the
         * entry stays as it was until the log is truncated at reopen. */
        if (qr_plog_offline(part))
            continue;
        /* the count before the recovery point: a truncation after it is
         * not known to be covered */
        gens[i] = qr_plog_truncations(part);
        note_part(&mgr->dirs[mgr->parts[i].dir], part);
    }
    for (size_t i = 0; i < mgr->ndirs; i++) {
        mgr_dir_t *d = &mgr->dirs[i];
        if (!d->online)
            continue;
        quire_err_t err = write_ckpts(d);
        written[i] = err == QUIRE_ERR_NONE;
        if (err != QUIRE_ERR_NONE && ret == QUIRE_ERR_NONE)
            ret = err;
    }
    for (size_t i = 0; i < mgr->nparts; i++)
        if (written[mgr->parts[i].dir] && !qr_plog_offline(mgr->parts[i].part))
            qr_plog_checkpointed(mgr->parts[i].part, gens[i]);
    pthread_mutex_unlock(&mgr->lock);
    free(gens);
    free(written);
    return ret;
}

/* ---- closing every partition (shutdown) ---- */

/* The partitions taken from the table, closed side by side (run_pool):
 * each close is three syncs (the .log, both trimmed indexes), and 10,000
 * of them one after another took minutes (issue 14); syncs of different
 * files wait on the device together (and share a journal commit where
 * there is a journal). */
typedef struct close_all {
    mgr_part_t *parts;
    quire_err_t *errs; /* qr_plog_close()'s result */
    int *offline;      /* offline before the close began */
} close_all_t;

static void close_one(void *arg, size_t i)
{
    close_all_t *ca = arg;
    qr_plog_t *part = ca->parts[i].part;

    ca->offline[i] = qr_plog_offline(part);
    qr_plog_keep(part); /* the close consumes it; the table's stays */
    ca->errs[i] = qr_plog_close(part);
}

quire_err_t qr_logmgr_close(qr_logmgr_t *mgr)
{
    quire_err_t ret = QUIRE_ERR_NONE;
    int *dir_ok;
    close_all_t ca;
    size_t n;

    if (!mgr)
        return QUIRE_ERR_NONE;
    pthread_mutex_lock(&mgr->lock);
    mgr->stopping = 1;
    pthread_cond_broadcast(&mgr->cond);
    pthread_mutex_unlock(&mgr->lock);
    if (mgr->janitor_started)
        pthread_join(mgr->janitor, NULL);
    dir_ok = qr_calloc(mgr->ndirs ? mgr->ndirs : 1, sizeof(*dir_ok));
    for (size_t i = 0; i < mgr->ndirs; i++)
        dir_ok[i] = mgr->dirs[i].online && mgr->dirs[i].lock_fd >= 0 &&
                    !mgr->dirs[i].load_failed;
    /* Every partition out of the table, then all closed; the checkpoints
     * are written below, once every close returned: each names only
     * partitions whose close synced them. */
    pthread_mutex_lock(&mgr->lock);
    ca.parts = mgr->parts;
    n = mgr->nparts;
    mgr->parts = NULL;
    mgr->nparts = mgr->cap = 0;
    pthread_mutex_unlock(&mgr->lock);
    ca.errs = qr_calloc(n ? n : 1, sizeof(*ca.errs));
    ca.offline = qr_calloc(n ? n : 1, sizeof(*ca.offline));
    run_pool(mgr->pool_threads, n, close_one, &ca);
    for (size_t i = 0; i < n; i++) {
        mgr_part_t *mp = &ca.parts[i];
        if (ca.errs[i] != QUIRE_ERR_NONE || ca.offline[i]) {
            dir_ok[mp->dir] = 0;
            if (ret == QUIRE_ERR_NONE)
                ret = QUIRE_ERR_KAFKA_STORAGE_ERROR;
        } else {
            note_part(&mgr->dirs[mp->dir], mp->part);
        }
        qr_plog_release(mp->part);
    }
    free(ca.errs);
    free(ca.offline);
    free(ca.parts);
    qr_flusher_destroy(mgr->flusher);
    mgr->flusher = NULL;
    for (size_t i = 0; i < mgr->ndirs; i++) {
        mgr_dir_t *d = &mgr->dirs[i];
        if (!dir_ok[i])
            continue;
        if (write_ckpts(d) != QUIRE_ERR_NONE ||
            qr_ckpt_mark_clean(d->path) != QUIRE_ERR_NONE)
            ret = QUIRE_ERR_KAFKA_STORAGE_ERROR;
        else
            QR_LOG_INFO("LOG",
                        "%s: every partition closed and synced; "
                        "clean-shutdown marker written",
                        d->path);
    }
    free(dir_ok);
    free_mgr(mgr);
    return ret;
}

/* ---- partitions ---- */

static ssize_t pick_dir(const qr_logmgr_t *mgr)
{
    ssize_t best = -1;
    for (size_t i = 0; i < mgr->ndirs; i++)
        if (mgr->dirs[i].online &&
            (best < 0 || mgr->dirs[i].nparts < mgr->dirs[best].nparts))
            best = (ssize_t)i;
    return best;
}

quire_err_t qr_logmgr_open_part(qr_logmgr_t *mgr, const char *topic,
                                int32_t partition, const qr_plog_conf_t *conf,
                                qr_plog_t **partp, char *errstr,
                                size_t errstr_size)
{
    const char *why = NULL;
    quire_err_t err;
    qr_plog_t *part;

    if (qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE) {
        snprintf(errstr, errstr_size, "%s", why);
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (!conf)
        conf = &mgr->defaults;
    pthread_mutex_lock(&mgr->lock);
    ssize_t at = find_part(mgr, topic, partition);
    if (at >= 0) {
        part = mgr->parts[at].part;
        err = qr_plog_set_conf(part, conf, errstr, errstr_size);
        if (err == QUIRE_ERR_NONE) {
            qr_plog_keep(part);
            *partp = part;
        }
        pthread_mutex_unlock(&mgr->lock);
        return err;
    }
    /* Not open: it may be on disk in some dir (closed earlier) or new. */
    ssize_t di = -1;
    for (size_t i = 0; i < mgr->ndirs && di < 0; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s-%d", mgr->dirs[i].path, topic,
                 (int)partition);
        if (stat(path, &st) == 0)
            di = (ssize_t)i;
    }
    int existed = di >= 0;
    if (di < 0)
        di = pick_dir(mgr);
    if (di < 0 || !mgr->dirs[di].online) {
        snprintf(errstr, errstr_size, "%s-%d: %s", topic, (int)partition,
                 di < 0 ? "no online log dir" : "its log dir is offline");
        pthread_mutex_unlock(&mgr->lock);
        return QUIRE_ERR_KAFKA_STORAGE_ERROR;
    }
    mgr_dir_t *d = &mgr->dirs[di];
    qr_plog_open_opts_t o = part_opts(mgr, d, topic, partition);
    /* Only a log closed cleanly during this run (flushed and sealed) skips
     * recovery; one that failed to load, or went offline, is recovered
     * from its checkpoint, whatever the dir's marker said at start. */
    o.clean =
        existed && qr_ckpt_get(&d->closed, topic, partition, &o.recovery_point);
    err = qr_plog_open(d->path, topic, partition, conf, &o, &part, errstr,
                       errstr_size);
    if (err == QUIRE_ERR_NONE) {
        qr_ckpt_remove(&d->closed, topic, partition);
        restore_hw(d, part);
        insert_part(mgr, (size_t)(-find_part(mgr, topic, partition) - 1), part,
                    (size_t)di);
        if (!existed)
            d->nparts++;
        qr_plog_keep(part);
        *partp = part;
    }
    pthread_mutex_unlock(&mgr->lock);
    return err;
}

quire_err_t qr_logmgr_get(qr_logmgr_t *mgr, const char *topic,
                          int32_t partition, qr_plog_t **partp)
{
    quire_err_t err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    pthread_mutex_lock(&mgr->lock);
    ssize_t at = find_part(mgr, topic, partition);
    if (at >= 0) {
        *partp = mgr->parts[at].part;
        qr_plog_keep(*partp);
        err = QUIRE_ERR_NONE;
    }
    pthread_mutex_unlock(&mgr->lock);
    return err;
}

quire_err_t qr_logmgr_close_part(qr_logmgr_t *mgr, const char *topic,
                                 int32_t partition)
{
    pthread_mutex_lock(&mgr->lock);
    ssize_t at = find_part(mgr, topic, partition);
    if (at < 0) {
        pthread_mutex_unlock(&mgr->lock);
        return QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    mgr_part_t mp = take_part(mgr, (size_t)at);
    qr_plog_t *part = mp.part;
    qr_plog_keep(part);
    quire_err_t err = qr_plog_close(part);
    if (err == QUIRE_ERR_NONE && !qr_plog_offline(part)) {
        note_part(&mgr->dirs[mp.dir], part);
        qr_ckpt_set(&mgr->dirs[mp.dir].closed, topic, partition,
                    qr_plog_recovery_point(part));
    }
    /* else: the checkpoint entry stays (the last durable point) and the
     * next open recovers from it (and the fsync-failed marker) */
    pthread_mutex_unlock(&mgr->lock);
    qr_plog_release(part);
    return err;
}

/* Deletes the directory of a partition that is not open (closed when its
 * leadership went, just before the deletion): renamed, the rename made
 * durable, then removed. mgr->lock held. */
static quire_err_t delete_closed(qr_logmgr_t *mgr, const char *topic,
                                 int32_t partition)
{
    quire_err_t err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;

    for (size_t i = 0; i < mgr->ndirs; i++) {
        mgr_dir_t *d = &mgr->dirs[i];
        char path[PATH_MAX], gone[PATH_MAX + 64];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s-%d", d->path, topic,
                 (int)partition);
        qr_ckpt_remove(&d->ck, topic, partition);
        qr_ckpt_remove(&d->closed, topic, partition);
        qr_ckpt_remove(&d->hw, topic, partition);
        if (stat(path, &st) != 0)
            continue;
        snprintf(gone, sizeof(gone), "%s.%lld-delete", path,
                 (long long)qr_plog_now_ms());
        if (rename(path, gone) != 0 || qr_ckpt_sync_dir(d->path) != 0) {
            QR_LOG_ERR("LOG", "deleting %s: %s (errno %d)", path,
                       strerror(errno), errno);
            return QUIRE_ERR_KAFKA_STORAGE_ERROR;
        }
        remove_tree(gone);
        qr_ckpt_sync_dir(d->path);
        if (d->nparts > 0)
            d->nparts--;
        QR_LOG_INFO("LOG", "%s-%d: deleted (%s)", topic, (int)partition,
                    d->path);
        err = QUIRE_ERR_NONE;
    }
    return err;
}

quire_err_t qr_logmgr_delete_part(qr_logmgr_t *mgr, const char *topic,
                                  int32_t partition)
{
    const char *why = NULL;

    if (qr_topic_name_check(topic, strlen(topic), &why) != QUIRE_ERR_NONE)
        return QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
    pthread_mutex_lock(&mgr->lock);
    ssize_t at = find_part(mgr, topic, partition);
    if (at < 0) {
        quire_err_t err = delete_closed(mgr, topic, partition);
        pthread_mutex_unlock(&mgr->lock);
        return err;
    }
    mgr_part_t mp = take_part(mgr, (size_t)at);
    quire_err_t err = qr_plog_delete(mp.part);
    qr_ckpt_remove(&mgr->dirs[mp.dir].ck, topic, partition);
    qr_ckpt_remove(&mgr->dirs[mp.dir].hw, topic, partition);
    if (mgr->dirs[mp.dir].nparts > 0)
        mgr->dirs[mp.dir].nparts--;
    pthread_mutex_unlock(&mgr->lock);
    return err;
}

size_t qr_logmgr_count(qr_logmgr_t *mgr)
{
    pthread_mutex_lock(&mgr->lock);
    size_t n = mgr->nparts;
    pthread_mutex_unlock(&mgr->lock);
    return n;
}

int qr_logmgr_dir_online(qr_logmgr_t *mgr, size_t i)
{
    return i < mgr->ndirs && mgr->dirs[i].online;
}

qr_flusher_t *qr_logmgr_flusher(qr_logmgr_t *mgr)
{
    return mgr->flusher;
}
