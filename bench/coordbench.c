/*
 * coordbench: coordinator figures against a real ZooKeeper (by hand:
 * bench/coordbench --zookeeper HOST:PORT[/chroot]).
 *
 *   failover: time from a broker's death (SIGKILL) to the controller's new
 *             partition state written (leader -1), for
 *             zookeeper.session.timeout.ms 6000 and 2000, 3 runs each;
 *   create:   time to create a topic of 1,000 partitions, from the
 *             quire-topics call until every partition's state is written.
 *
 * Brokers are forked copies of this program running a qr_cluster_t each
 * (no network server), so the bench needs nothing but ZooKeeper. Every
 * wait is bounded.
 */
#include "config.h"

#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "cluster.h"
#include "logging.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a forked broker ---- */

static quire_err_t cb_open(void *o, const char *t, int32_t p, int32_t e,
                           const qr_topic_config_t *c)
{
    (void)o, (void)t, (void)p, (void)e, (void)c;
    return QUIRE_ERR_NONE;
}

static void cb_close(void *o, const char *t, int32_t p)
{
    (void)o, (void)t, (void)p;
}

static quire_err_t cb_delete(void *o, const char *t, int32_t p)
{
    (void)o, (void)t, (void)p;
    return QUIRE_ERR_NONE;
}

static void on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static pid_t broker(const char *connect, int id, int session_ms, int controller)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct ev_loop *loop = ev_loop_new(0);
    qr_cluster_conf_t conf = {
        .zk_connect = connect,
        .zk_session_timeout_ms = session_ms,
        .zk_connection_timeout_ms = 10000,
        .broker_id = id,
        .host = "127.0.0.1",
        .port = 9092 + id,
        .controller_eligible = controller,
    };
    qr_cluster_cbs_t cbs = {NULL, cb_open, cb_close, cb_delete, NULL,
                            NULL, NULL,    NULL,     NULL};
    char errstr[256];
    ev_signal sig;
    qr_cluster_t *cl =
        qr_cluster_new(loop, &conf, &cbs, errstr, sizeof(errstr));
    if (!cl || qr_cluster_start(cl, errstr, sizeof(errstr)))
        _exit(1);
    ev_signal_init(&sig, on_term, SIGTERM);
    ev_signal_start(loop, &sig);
    ev_run(loop, 0);
    qr_cluster_destroy(cl);
    _exit(0);
}

static void stop(pid_t pid, int sig)
{
    kill(pid, sig);
    waitpid(pid, NULL, 0);
}

/* ---- waiting on ZooKeeper ---- */

static int wait_exists(qr_zk_t *zk, const char *path, int want, int ms)
{
    int64_t deadline = now_ms() + ms;
    qr_zk_sres_t res;

    do {
        quire_err_t err = qr_zk_sync_exists(zk, path, 2000, &res);
        qr_zk_sres_free(&res);
        if ((err == QUIRE_ERR_NONE) == want)
            return 0;
        usleep(5000);
    } while (now_ms() < deadline);
    return -1;
}

/* Polls topic-p's state every 2 ms until its leader is @p leader. */
static int wait_leader(qr_zk_t *zk, const char *topic, int p, int leader,
                       int ms)
{
    int64_t deadline = now_ms() + ms;
    char *path = qr_znode_state_path(topic, p), errstr[128];
    qr_zk_sres_t res;
    qr_pstate_t st;
    int rc = -1;

    do {
        if (qr_zk_sync_get(zk, path, 2000, &res) == QUIRE_ERR_NONE &&
            qr_znode_state_decode(res.data, res.len, &st, errstr,
                                  sizeof(errstr)) == QUIRE_ERR_NONE &&
            st.leader == leader)
            rc = 0;
        qr_zk_sres_free(&res);
        if (rc)
            usleep(2000);
    } while (rc && now_ms() < deadline);
    free(path);
    return rc;
}

static int owner_of(qr_zk_t *zk, const char *topic, int p)
{
    char *path = qr_znode_topic_path(topic), errstr[128];
    qr_zk_sres_t res;
    qr_assign_t a;
    int id = -1;

    if (qr_zk_sync_get(zk, path, 2000, &res) == QUIRE_ERR_NONE &&
        qr_znode_topic_decode(res.data, res.len, &a, errstr, sizeof(errstr)) ==
            QUIRE_ERR_NONE) {
        id = a.parts[p].ids[0];
        qr_assign_free(&a);
    }
    qr_zk_sres_free(&res);
    free(path);
    return id;
}

/* ---- the figures ---- */

static int failover(qr_zk_t *zk, const char *connect, int session_ms, int run)
{
    char topic[64], errstr[256];
    pid_t ctl, victim;
    int p = -1;
    int64_t t0, t1;

    snprintf(topic, sizeof(topic), "fo-%d-%d", session_ms, run);
    ctl = broker(connect, 1, session_ms, 1);
    victim = broker(connect, 2, session_ms, 0);
    if (wait_exists(zk, "/brokers/ids/1", 1, 20000) ||
        wait_exists(zk, "/brokers/ids/2", 1, 20000) ||
        qr_admin_create(zk, topic, 2, 1, NULL, 10000, errstr, sizeof(errstr))) {
        fprintf(stderr, "failover setup: %s\n", errstr);
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        if (owner_of(zk, topic, i) == 2)
            p = i;
    if (p < 0 || wait_leader(zk, topic, p, 2, 20000)) {
        fprintf(stderr, "failover setup: no leader for broker 2\n");
        goto fail;
    }
    t0 = now_ms();
    stop(victim, SIGKILL);
    if (wait_leader(zk, topic, p, -1, 4 * session_ms + 10000)) {
        fprintf(stderr, "failover: no new state\n");
        stop(ctl, SIGTERM);
        return -1;
    }
    t1 = now_ms();
    printf("failover  session.timeout.ms=%d  run %d: %lld ms\n", session_ms,
           run, (long long)(t1 - t0));
    stop(ctl, SIGTERM);
    wait_exists(zk, "/brokers/ids/1", 0, 10000);
    return 0;
fail:
    stop(victim, SIGTERM);
    stop(ctl, SIGTERM);
    return -1;
}

static int create_big(qr_zk_t *zk, const char *connect, int partitions)
{
    char errstr[256];
    pid_t b = broker(connect, 1, 6000, 1);
    int64_t t0, t1, t2;

    if (wait_exists(zk, "/brokers/ids/1", 1, 20000) ||
        wait_exists(zk, "/controller", 1, 20000)) {
        stop(b, SIGTERM);
        return -1;
    }
    t0 = now_ms();
    if (qr_admin_create(zk, "big", partitions, 1, NULL, 10000, errstr,
                        sizeof(errstr))) {
        fprintf(stderr, "create: %s\n", errstr);
        stop(b, SIGTERM);
        return -1;
    }
    t1 = now_ms();
    for (int p = partitions - 1; p >= 0; p--)
        if (wait_leader(zk, "big", p, 1, 60000)) {
            fprintf(stderr, "create: partition %d has no leader\n", p);
            stop(b, SIGTERM);
            return -1;
        }
    t2 = now_ms();
    printf("create    %d partitions: assignment written in %lld ms, every "
           "state written after %lld ms\n",
           partitions, (long long)(t1 - t0), (long long)(t2 - t0));
    stop(b, SIGTERM);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zookeeper", required_argument, NULL, 'z'},
        {"runs", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *base = getenv("QUIRE_ZOOKEEPER");
    char connect[512], errstr[256];
    int runs = 3, c, rc = 0;
    struct ev_loop *loop;
    qr_zk_t *zk;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'z')
            base = optarg;
        else if (c == 'r')
            runs = atoi(optarg);
        else
            return 2;
    }
    if (!base || runs < 1 || runs > 20) {
        fprintf(stderr, "usage: coordbench --zookeeper HOST:PORT [--runs "
                        "1..20]\n");
        return 2;
    }
    qr_log_setup(QR_LOG_LVL_ERR, 0, -1);
    /* a fresh chroot per invocation */
    snprintf(connect, sizeof(connect), "%s/coordbench-%ld", base,
             (long)getpid());
    loop = ev_loop_new(0);
    zk = qr_zk_new(loop, connect, 10000, 10000, errstr, sizeof(errstr));
    if (!zk || qr_zk_sync_connect(zk, 10000, errstr, sizeof(errstr))) {
        fprintf(stderr, "coordbench: %s\n", errstr);
        return 1;
    }
    for (int r = 0; r < runs && !rc; r++)
        rc = failover(zk, connect, 6000, r);
    for (int r = 0; r < runs && !rc; r++)
        rc = failover(zk, connect, 2000, r);
    if (!rc)
        rc = create_big(zk, connect, 1000);
    qr_zk_destroy(zk);
    ev_loop_destroy(loop);
    return rc ? 1 : 0;
}
