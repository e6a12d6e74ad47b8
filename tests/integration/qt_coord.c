/*
 * qt_coord: coordinator test helpers. See qt_coord.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt_coord.h"
#include "znode.h"

/* Event and log files this process made, removed when it exits (the
 * forked Check child of each test), whatever the outcome. */
static char made[64][256];
static int made_cnt;

static void remove_made(void)
{
    for (int i = 0; i < made_cnt; i++)
        unlink(made[i]);
}

static void remember(const char *path)
{
    if (made_cnt == 0)
        atexit(remove_made);
    if (made_cnt < 64)
        snprintf(made[made_cnt++], sizeof(made[0]), "%s", path);
}

bool qt_coordd_start(qt_coordd_t *d, const char *connect, int id,
                     const char *extra)
{
    char idbuf[16];
    pid_t parent = getpid();
    pid_t pid;

    memset(d, 0, sizeof(*d));
    d->id = id;
    snprintf(d->events, sizeof(d->events), "/tmp/qt-coordd-%ld-%d-%lld.ev",
             (long)parent, id, (long long)qt_now_ms());
    snprintf(d->log, sizeof(d->log), "%.240s.log", d->events);
    snprintf(idbuf, sizeof(idbuf), "%d", id);
    remember(d->events);
    remember(d->log);
    pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        /* its own process group: Check's killpg of the test spares it
         * until the test ends, then PDEATHSIG takes it */
        setpgid(0, 0);
        execl(QT_COORDD, QT_COORDD, "--zookeeper", connect, "--id", idbuf,
              "--session-timeout-ms", "2000", "--events", d->events, extra,
              (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
    return true;
}

int qt_coordd_wait_exit(qt_coordd_t *d, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    int status;

    while (d->pid) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status)
                                     : 128 + WTERMSIG(status);
        }
        if (qt_now_ms() > deadline)
            return -1;
        qt_sleep_ms(20);
    }
    return -1;
}

int qt_coordd_stop(qt_coordd_t *d, int sig, int timeout_ms)
{
    int rc;

    if (!d->pid)
        return -1;
    kill(d->pid, sig);
    rc = qt_coordd_wait_exit(d, timeout_ms);
    if (rc < 0) {
        kill(d->pid, SIGKILL);
        rc = qt_coordd_wait_exit(d, 5000);
    }
    return rc;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n)
        buf[0] = '\0';
    fclose(fp);
    return buf;
}

int qt_coordd_count_events(const qt_coordd_t *d, const char *prefix)
{
    char *buf = slurp(d->events), *line, *save = NULL;
    int n = 0;

    if (!buf)
        return 0;
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    free(buf);
    return n;
}

bool qt_coordd_wait_event(const qt_coordd_t *d, const char *prefix,
                          int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;

    do {
        if (qt_coordd_count_events(d, prefix) > 0)
            return true;
        qt_sleep_ms(20);
    } while (qt_now_ms() < deadline);
    return false;
}

void qt_coordd_dump(const qt_coordd_t *d)
{
    char *buf = slurp(d->log);

    fprintf(stderr, "---- coordd %d log ----\n%s\n", d->id, buf ? buf : "");
    free(buf);
}

bool qt_leader_is(const qr_pstate_t *st, void *arg)
{
    return st->leader == *(int *)arg;
}

bool qt_wait_pstate(zhandle_t *zh, const char *topic, int p,
                    bool (*want)(const qr_pstate_t *st, void *arg), void *arg,
                    qr_pstate_t *st, int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    char *path = qr_znode_state_path(topic, p);
    char errstr[128];
    bool ok = false;

    do {
        char *data = NULL;
        int len = -1;
        if (qt_zk_get(zh, path, &data, &len, NULL, false, 2000) == ZOK &&
            qr_znode_state_decode(data, len, st, errstr, sizeof(errstr)) ==
                QUIRE_ERR_NONE &&
            (!want || want(st, arg)))
            ok = true;
        free(data);
        if (!ok)
            qt_sleep_ms(20);
    } while (!ok && qt_now_ms() < deadline);
    free(path);
    return ok;
}

int qt_topics(const char *connect, qt_run_result_t *res, ...)
{
    char *argv[32];
    int n = 0;
    va_list ap;
    const char *a;

    argv[n++] = (char *)QT_TOPICS;
    argv[n++] = (char *)"--zookeeper";
    argv[n++] = (char *)connect;
    va_start(ap, res);
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    if (qt_run(argv, NULL, 30000, res) != 0)
        return -1;
    return res->status;
}
