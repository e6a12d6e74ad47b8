/*
 * check_broker_reassign: partition reassignment on real brokers (issue 16
 * item 10): a partition on brokers [1,2] moves to [2,3] with
 * quire-reassign-partitions while quire-console-producer writes to it with
 * acks=all; every record the producer had acknowledged reads back from the
 * new replicas, and broker 1 deletes its copy.
 *
 * Needs the broker side of replication (followers fetching, the leader
 * adding a caught-up follower to the ISR): the controller waits for broker
 * 3 to join the ISR before it drops broker 1.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_zk.h"

#define START_MS  30000
#define WAIT_MS   60000
#define CHUNK     200    /* lines written at a time */
#define MIN_LINES 20000  /* written at least */
#define MAX_LINES 400000 /* bound on the load */
#define MAX_MS    120000 /* bound on the load's time */

static char *chroot_str;
static char tmpdir[64];

static int run(qt_run_result_t *r, const char *bin, ...)
{
    char *argv[32];
    int n = 0;
    va_list ap;
    const char *a;

    argv[n++] = (char *)bin;
    argv[n++] = (char *)"--zookeeper";
    argv[n++] = chroot_str;
    va_start(ap, bin);
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    if (qt_run(argv, NULL, 60000, r) != 0)
        return -1;
    return r->status;
}

/* quire-console-producer with a pipe on its stdin. */
static pid_t start_producer(int *in_fd)
{
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execl(QT_PRODUCER_BIN, QT_PRODUCER_BIN, "--zookeeper", chroot_str,
              "--topic", "mv", "--acks", "all", "--timeout-ms", "60000",
              "--producer-property", "linger.ms=5", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    *in_fd = fds[1];
    return pid;
}

static void write_lines(int fd, int from, int count)
{
    char buf[CHUNK * 12];
    size_t len = 0;

    for (int i = from; i < from + count; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d\n", i);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
}

START_TEST(test_reassign_during_produce)
{
    const char *move = "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
                       "\"partition\":0,\"replicas\":[2,3]}]}";
    qt_broker_t *b[4];
    qt_run_result_t r;
    char file[128], dir[400], *seen;
    int in_fd, status, sent = 1, done = 0, started = 0;
    int64_t begin;
    pid_t prod;
    FILE *fp;
    zhandle_t *zh;

    chroot_str = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(chroot_str);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qt-reassign-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(file, sizeof(file), "%s/move.json", tmpdir);
    fp = fopen(file, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(move, fp);
    fclose(fp);
    for (int i = 1; i <= 3; i++) {
        b[i] =
            qt_broker_new(i, chroot_str, "auto.create.topics.enable=false\n");
        ck_assert_ptr_nonnull(b[i]);
        ck_assert_int_eq(qt_broker_start(b[i], START_MS), 0);
    }
    ck_assert_int_eq(run(&r, QT_TOPICS_BIN, "--create", "--topic", "mv",
                         "--replica-assignment", "1:2", NULL),
                     0);
    qt_run_free(&r);
    prod = start_producer(&in_fd);
    begin = qt_now_ms();
    /* produce; start the move after the first lines; keep producing until
     * it completed and at least MIN_LINES went out (bounded) */
    while ((!done || sent <= MIN_LINES) && sent <= MAX_LINES &&
           qt_now_ms() - begin < MAX_MS) {
        write_lines(in_fd, sent, CHUNK);
        sent += CHUNK;
        qt_sleep_ms(10);
        if (!started && sent > 2000) {
            ck_assert_int_eq(run(&r, QT_REASSIGN_BIN, "--execute",
                                 "--reassignment-json-file", file, NULL),
                             0);
            qt_run_free(&r);
            started = 1;
        } else if (started && !done && (sent / CHUNK) % 20 == 0) {
            done = run(&r, QT_REASSIGN_BIN, "--verify",
                       "--reassignment-json-file", file, NULL) == 0;
            qt_run_free(&r);
        }
    }
    close(in_fd);
    ck_assert_int_eq(waitpid(prod, &status, 0), prod);
    ck_assert_msg(done, "the reassignment did not complete in %d ms", MAX_MS);
    /* exit 0: every line was acknowledged (acks=all) */
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "producer status %d", status);
    /* every acknowledged record reads back, from the new replicas */
    ck_assert_int_eq(run(&r, QT_CONSUMER_BIN, "--topic", "mv",
                         "--from-beginning", "--timeout-ms", "10000", NULL),
                     0);
    seen = calloc((size_t)sent + 1, 1);
    for (char *line = r.out; line && *line;) {
        int v = atoi(line);
        if (v > 0 && v < sent)
            seen[v] = 1;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    for (int v = 1; v < sent; v++)
        ck_assert_msg(seen[v], "acknowledged record %d lost (of %d)", v,
                      sent - 1);
    free(seen);
    qt_run_free(&r);
    /* the request is gone, broker 1 deleted its copy */
    zh = qt_zk_connect(chroot_str, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(
        qt_zk_wait_exists(zh, "/admin/reassign_partitions", false, WAIT_MS));
    qt_zk_close(zh);
    snprintf(dir, sizeof(dir), "%s/mv-0", b[1]->log_dir);
    struct stat sb;
    int64_t end = qt_now_ms() + WAIT_MS;
    while (stat(dir, &sb) == 0 && qt_now_ms() < end)
        qt_sleep_ms(100);
    ck_assert_msg(stat(dir, &sb) != 0, "%s still there", dir);
    fprintf(stderr, "moved [1,2] -> [2,3] during %d acknowledged records\n",
            sent - 1);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(qt_broker_stop(b[i], 30000), 0);
        qt_broker_destroy(b[i]);
    }
    snprintf(dir, sizeof(dir), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(dir), 0);
    free(chroot_str);
}
END_TEST

static Suite *reassign_suite(void)
{
    Suite *s = suite_create("broker_reassign");
    TCase *tc = tcase_create("three brokers");

    tcase_set_timeout(tc, 300);
    tcase_set_tags(tc, "integration zk slow");
    tcase_add_test(tc, test_reassign_during_produce);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    signal(SIGPIPE, SIG_IGN);
    (void)qt_zk_env();
    sr = srunner_create(reassign_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
