/*
 * check_zk_smoke: the harness's ZooKeeper (tests/harness/with-zk) serves a
 * libzookeeper_st client, and each qt_zk helper does what qt_zk.h says.
 * Exits 99 without QUIRE_TEST_ZK.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "qt_zk.h"

#define T_MS 5000 /* deadline for one helper call */

static zhandle_t *connect_or_fail(const char *hosts)
{
    zhandle_t *zh = qt_zk_connect(hosts, T_MS);
    ck_assert_msg(zh != NULL, "no session with %s", hosts);
    ck_assert_int_eq(zoo_state(zh), ZOO_CONNECTED_STATE);
    return zh;
}

/* ---- the server ---------------------------------------------------- */

START_TEST(test_create_and_read)
{
    zhandle_t *zh = connect_or_fail(qt_zk_env());
    char *root = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(root);
    char path[128];
    snprintf(path, sizeof(path), "%s/smoke", strchr(root, '/'));

    static const char value[] = "hello, quire\0with a NUL";
    char *created = NULL;
    ck_assert_int_eq(
        qt_zk_create(zh, path, value, (int)sizeof(value), 0, &created, T_MS),
        ZOK);
    ck_assert_str_eq(created, path);
    free(created);
    ck_assert_int_eq(qt_zk_create(zh, path, "x", 1, 0, NULL, T_MS),
                     ZNODEEXISTS);

    char *data = NULL;
    int len = 0;
    struct Stat stat;
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, &stat, false, T_MS), ZOK);
    ck_assert_int_eq(len, (int)sizeof(value));
    ck_assert_int_eq(stat.dataLength, (int)sizeof(value));
    ck_assert_int_eq(stat.ephemeralOwner, 0);
    ck_assert_mem_eq(data, value, sizeof(value));
    ck_assert_int_eq(data[len], '\0');
    free(data);

    ck_assert_int_eq(qt_zk_set(zh, path, "v2", 2, stat.version, &stat, T_MS),
                     ZOK);
    ck_assert_int_eq(stat.version, 1);
    ck_assert_int_eq(qt_zk_set(zh, path, "v3", 2, 0, NULL, T_MS), ZBADVERSION);
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, NULL, false, T_MS), ZOK);
    ck_assert_str_eq(data, "v2");
    free(data);

    ck_assert_int_eq(qt_zk_delete(zh, path, -1, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_get(zh, path, &data, &len, NULL, false, T_MS),
                     ZNONODE);
    ck_assert_int_eq(qt_zk_delete_all(zh, strchr(root, '/'), T_MS), ZOK);
    free(root);
    qt_zk_close(zh);
}
END_TEST

START_TEST(test_null_data_and_sequence)
{
    zhandle_t *zh = connect_or_fail(qt_zk_env());
    char *root = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(root);
    char path[128];
    snprintf(path, sizeof(path), "%s/seq-", strchr(root, '/'));

    char *first = NULL, *second = NULL;
    ck_assert_int_eq(
        qt_zk_create(zh, path, NULL, -1, ZOO_SEQUENCE, &first, T_MS), ZOK);
    ck_assert_int_eq(
        qt_zk_create(zh, path, NULL, -1, ZOO_SEQUENCE, &second, T_MS), ZOK);
    ck_assert_int_eq(strncmp(first, path, strlen(path)), 0);
    ck_assert_int_eq(strlen(first), strlen(path) + 10);
    ck_assert_int_lt(strcmp(first, second), 0);

    char *data = (char *)"untouched";
    int len = 0;
    ck_assert_int_eq(qt_zk_get(zh, first, &data, &len, NULL, false, T_MS), ZOK);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(len, -1);
    free(first);
    free(second);
    ck_assert_int_eq(qt_zk_delete_all(zh, strchr(root, '/'), T_MS), ZOK);
    free(root);
    qt_zk_close(zh);
}
END_TEST

START_TEST(test_tree_helpers)
{
    zhandle_t *zh = connect_or_fail(qt_zk_env());
    char *root = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(root);
    const char *base = strchr(root, '/');
    char path[256];

    /* create_all makes parents; an existing node is fine. */
    snprintf(path, sizeof(path), "%s/brokers/topics/t/partitions/0/state",
             base);
    ck_assert_int_eq(qt_zk_create_all(zh, path, "{}", 2, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_create_all(zh, path, "{}", 2, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_exists(zh, path, NULL, false, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_create_all(zh, "no-slash", NULL, -1, T_MS),
                     ZBADARGUMENTS);

    /* children come back sorted. */
    static const char *const names[] = {"c", "a", "b10", "b2"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/ids/%s", base, names[i]);
        ck_assert_int_eq(qt_zk_create_all(zh, path, NULL, -1, T_MS), ZOK);
    }
    struct String_vector kids;
    snprintf(path, sizeof(path), "%s/ids", base);
    ck_assert_int_eq(qt_zk_children(zh, path, &kids, false, T_MS), ZOK);
    ck_assert_int_eq(kids.count, 4);
    ck_assert_str_eq(kids.data[0], "a");
    ck_assert_str_eq(kids.data[1], "b10");
    ck_assert_str_eq(kids.data[2], "b2");
    ck_assert_str_eq(kids.data[3], "c");
    deallocate_String_vector(&kids);
    snprintf(path, sizeof(path), "%s/none", base);
    ck_assert_int_eq(qt_zk_children(zh, path, &kids, false, T_MS), ZNONODE);

    /* delete_all removes the whole tree; deleting nothing is ZOK. */
    ck_assert_int_eq(qt_zk_delete(zh, base, -1, T_MS), ZNOTEMPTY);
    ck_assert_int_eq(qt_zk_delete_all(zh, base, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_exists(zh, base, NULL, false, T_MS), ZNONODE);
    ck_assert_int_eq(qt_zk_delete_all(zh, base, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_delete_all(zh, "/zookeeper", T_MS), ZBADARGUMENTS);
    free(root);
    qt_zk_close(zh);
}
END_TEST

/* Wiping the whole tree is safe here: this binary's server is its own and
 * its tests run one at a time, each in a fresh chroot. */
START_TEST(test_delete_all_root)
{
    zhandle_t *zh = connect_or_fail(qt_zk_env());
    char *root = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(root);
    char path[128];
    snprintf(path, sizeof(path), "%s/a/b", strchr(root, '/'));
    ck_assert_int_eq(qt_zk_create_all(zh, path, NULL, -1, T_MS), ZOK);
    ck_assert_int_eq(qt_zk_delete_all(zh, "/", T_MS), ZOK);
    ck_assert_int_eq(qt_zk_exists(zh, strchr(root, '/'), NULL, false, T_MS),
                     ZNONODE);
    /* The server's own /zookeeper is left alone. */
    ck_assert_int_eq(qt_zk_exists(zh, "/zookeeper", NULL, false, T_MS), ZOK);
    free(root);
    qt_zk_close(zh);
}
END_TEST

START_TEST(test_ephemeral_and_watch)
{
    zhandle_t *owner = connect_or_fail(qt_zk_env());
    zhandle_t *viewer = connect_or_fail(qt_zk_env());
    char *root = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(root);
    char path[128];
    snprintf(path, sizeof(path), "%s/eph", strchr(root, '/'));

    /* An exists watch on a missing node fires on its creation. */
    ck_assert_int_eq(qt_zk_exists(viewer, path, NULL, true, T_MS), ZNONODE);
    ck_assert_int_eq(
        qt_zk_create(owner, path, "1", 1, ZOO_EPHEMERAL, NULL, T_MS), ZOK);
    ck_assert(qt_zk_wait_event(viewer, ZOO_CREATED_EVENT, path, T_MS));

    struct Stat stat;
    ck_assert_int_eq(qt_zk_exists(viewer, path, &stat, true, T_MS), ZOK);
    ck_assert_int_eq(stat.ephemeralOwner, zoo_client_id(owner)->client_id);

    /* Closing the owner's session removes the node: the viewer sees the
     * deletion through its watch and through wait_exists. */
    qt_zk_close(owner);
    ck_assert(qt_zk_wait_event(viewer, ZOO_DELETED_EVENT, path, T_MS));
    ck_assert(qt_zk_wait_exists(viewer, path, false, T_MS));
    ck_assert(!qt_zk_wait_event(viewer, ZOO_CHANGED_EVENT, path, 100));

    int states[8];
    int n = qt_zk_states_seen(viewer, states, 8);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(states[0], ZOO_CONNECTED_STATE);
    ck_assert_int_eq(qt_zk_delete_all(viewer, strchr(root, '/'), T_MS), ZOK);
    free(root);
    qt_zk_close(viewer);
}
END_TEST

START_TEST(test_chroot)
{
    char *connect = qt_zk_chroot_new(qt_zk_env(), T_MS);
    char *other = qt_zk_chroot_new(qt_zk_env(), T_MS);
    ck_assert_ptr_nonnull(connect);
    ck_assert_ptr_nonnull(other);
    ck_assert_str_ne(connect, other);
    ck_assert_int_eq(strncmp(connect, qt_zk_env(), strlen(qt_zk_env())), 0);

    /* A session under the chroot writes below it. */
    zhandle_t *inside = connect_or_fail(connect);
    ck_assert_int_eq(qt_zk_create(inside, "/x", "in", 2, 0, NULL, T_MS), ZOK);
    zhandle_t *zh = connect_or_fail(qt_zk_env());
    char path[128], *data = NULL;
    snprintf(path, sizeof(path), "%s/x", strchr(connect, '/'));
    ck_assert_int_eq(qt_zk_get(zh, path, &data, NULL, NULL, false, T_MS), ZOK);
    ck_assert_str_eq(data, "in");
    free(data);
    ck_assert_int_eq(qt_zk_delete_all(zh, strchr(connect, '/'), T_MS), ZOK);
    ck_assert_int_eq(qt_zk_delete_all(zh, strchr(other, '/'), T_MS), ZOK);
    qt_zk_close(inside);
    qt_zk_close(zh);
    free(connect);
    free(other);
}
END_TEST

START_TEST(test_connect_deadline)
{
    /* Nothing listens on this port: connect gives up at its deadline. */
    int port = qt_free_port();
    ck_assert_int_gt(port, 0);
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", port);
    int64_t t0 = qt_now_ms();
    ck_assert_ptr_null(qt_zk_connect(hosts, 300));
    ck_assert_int_lt(qt_now_ms() - t0, 3000);
}
END_TEST

/* ---- the environment ----------------------------------------------- */

START_TEST(test_env_missing_exits_99)
{
    unsetenv("QUIRE_TEST_ZK");
    qt_zk_env();
}
END_TEST

/* ---- commands and ports -------------------------------------------- */

START_TEST(test_run_captures)
{
    char *argv[] = {"sh", "-c", "cat; echo out; echo err >&2; exit 3", NULL};
    qt_run_result_t res;
    ck_assert_int_eq(qt_run(argv, "in\n", T_MS, &res), 0);
    ck_assert_int_eq(res.status, 3);
    ck_assert(!res.timed_out);
    ck_assert_str_eq(res.out, "in\nout\n");
    ck_assert_uint_eq(res.out_len, 7);
    ck_assert_str_eq(res.err, "err\n");
    qt_run_free(&res);

    char *missing[] = {"/nonexistent/quire-tool", NULL};
    ck_assert_int_eq(qt_run(missing, NULL, T_MS, &res), 0);
    ck_assert_int_eq(res.status, 127);
    ck_assert_ptr_nonnull(strstr(res.err, "/nonexistent/quire-tool"));
    qt_run_free(&res);
}
END_TEST

START_TEST(test_run_deadline)
{
    /* The grandchild holds the pipe too: the whole group is killed. */
    char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    qt_run_result_t res;
    int64_t t0 = qt_now_ms();
    ck_assert_int_eq(qt_run(argv, NULL, 300, &res), 0);
    ck_assert(res.timed_out);
    ck_assert_int_eq(res.status, 128 + 9);
    ck_assert_int_lt(qt_now_ms() - t0, 3000);
    qt_run_free(&res);
}
END_TEST

START_TEST(test_free_port)
{
    int port = qt_free_port();
    ck_assert_int_ge(port, 20000);
    ck_assert_int_lt(port, 32000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}
END_TEST

/* ---- zk.sh refuses bad input with a clear message ------------------ */

static const struct {
    const char *args[5];
    int status;
    const char *err; /* expected in stderr */
} bad_zk_sh[] = {
    {{NULL}, 2, "usage:"},
    {{"start", "/tmp/qt-never", NULL}, 2, "usage:"},
    {{"start", "/tmp/qt-never", "12ab", NULL}, 2, "usage:"},
    {{"stop", NULL}, 2, "usage:"},
    {{"frobnicate", "/tmp/qt-never", NULL}, 2, "usage:"},
    {{"ensemble-start", "/tmp/qt-never", "0", NULL}, 2, "usage:"},
    {{"ensemble-start", "/tmp/qt-never", "12", NULL}, 2, "usage:"},
    {{"restart-empty", "/nonexistent/qt", NULL}, 1, "no server was started"},
    {{"restart", "/nonexistent/qt", NULL}, 1, "no server was started"},
    {{"member-stop", "/nonexistent/qt", "1", NULL}, 1, "no ensemble"},
    {{"member-start", "/nonexistent/qt", "1", NULL}, 1, "no ensemble"},
    {{"ensemble-stop", "/nonexistent/qt", NULL}, 1, "no ensemble"},
    {{"connect", "/nonexistent/qt", NULL}, 1, "no server was started"},
};

START_TEST(test_zk_sh_bad_input)
{
    char *argv[7] = {QT_HARNESS_DIR "/zk.sh"};
    for (int i = 0; i < 5 && bad_zk_sh[_i].args[i]; i++)
        argv[i + 1] = (char *)bad_zk_sh[_i].args[i];
    qt_run_result_t res;
    ck_assert_int_eq(qt_run(argv, NULL, T_MS, &res), 0);
    ck_assert_int_eq(res.status, bad_zk_sh[_i].status);
    ck_assert_msg(strstr(res.err, bad_zk_sh[_i].err) != NULL,
                  "stderr lacks \"%s\": %s", bad_zk_sh[_i].err, res.err);
    ck_assert_uint_eq(res.out_len, 0);
    qt_run_free(&res);
}
END_TEST

START_TEST(test_zk_sh_stop_nothing)
{
    /* Stopping where nothing runs is not an error (EXIT traps rely on it). */
    char *argv[] = {QT_HARNESS_DIR "/zk.sh", "stop", "/nonexistent/qt", NULL};
    qt_run_result_t res;
    ck_assert_int_eq(qt_run(argv, NULL, T_MS, &res), 0);
    ck_assert_int_eq(res.status, 0);
    qt_run_free(&res);
}
END_TEST

static Suite *zk_smoke_suite(void)
{
    Suite *s = suite_create("zk_smoke");

    TCase *tc = tcase_create("zk");
    tcase_set_tags(tc, "integration zk");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_and_read);
    tcase_add_test(tc, test_null_data_and_sequence);
    tcase_add_test(tc, test_tree_helpers);
    tcase_add_test(tc, test_delete_all_root);
    tcase_add_test(tc, test_ephemeral_and_watch);
    tcase_add_test(tc, test_chroot);
    tcase_add_test(tc, test_connect_deadline);
    suite_add_tcase(s, tc);

    tc = tcase_create("env");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 10);
    tcase_add_exit_test(tc, test_env_missing_exits_99, QT_EXIT_HARD_ERROR);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_set_tags(tc, "integration");
    tcase_set_timeout(tc, 15);
    tcase_add_test(tc, test_run_captures);
    tcase_add_test(tc, test_run_deadline);
    tcase_add_test(tc, test_free_port);
    tcase_add_loop_test(tc, test_zk_sh_bad_input, 0,
                        (int)(sizeof(bad_zk_sh) / sizeof(bad_zk_sh[0])));
    tcase_add_test(tc, test_zk_sh_stop_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qt_zk_env(); /* exits 99 when the harness did not provide a server */
    SRunner *sr = srunner_create(zk_smoke_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
