/*
 * check_broker_ids: automatic broker ids (broker.id=-1 with Kafka's
 * broker.id.generation.enable and reserved.broker.max.id) against real
 * quire-broker processes and the harness's real ZooKeeper.
 *
 * Brokers without an id take reserved.broker.max.id + the version of
 * /brokers/seqid (1001, 1002, ... in a fresh chroot) and keep it in
 * meta.properties in their log dir, so a restart registers the same id
 * without taking a new one; a configured broker.id that disagrees with
 * meta.properties stops the broker with a clear message.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_broker.h"
#include "qt_zk.h"

#ifndef QT_BROKER_BIN
#error "QT_BROKER_BIN must name broker/quire-broker"
#endif

#define START_MS 30000
#define ZK_MS    10000

/* The broker.id stored in the broker's meta.properties; -1 if none. */
static int stored_id(const qt_broker_t *b)
{
    char path[600], line[128];
    FILE *fp;
    int id = -1, version = -1;

    snprintf(path, sizeof(path), "%s/meta.properties", b->log_dir);
    fp = fopen(path, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp)) {
        if (!strncmp(line, "broker.id=", 10))
            id = atoi(line + 10);
        else if (!strncmp(line, "version=", 8))
            version = atoi(line + 8);
    }
    fclose(fp);
    ck_assert_int_eq(version, 0);
    return id;
}

/* Whether /brokers/ids/<id> is registered under @p chroot. */
static int registered(const char *chroot, int id)
{
    zhandle_t *zh = qt_zk_connect(chroot, ZK_MS);
    char path[64];
    int rc;

    ck_assert_ptr_nonnull(zh);
    snprintf(path, sizeof(path), "/brokers/ids/%d", id);
    rc = qt_zk_exists(zh, path, NULL, false, ZK_MS);
    qt_zk_close(zh);
    return rc == ZOK;
}

START_TEST(test_generated_ids)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), ZK_MS);
    qt_broker_t *b1, *b2, *b3;
    int id1, id2;

    ck_assert_ptr_nonnull(chroot);
    b1 = qt_broker_new(-1, chroot, NULL);
    b2 = qt_broker_new(-1, chroot, NULL);
    ck_assert_ptr_nonnull(b1);
    ck_assert_ptr_nonnull(b2);
    ck_assert_int_eq(qt_broker_start(b1, START_MS), 0);
    ck_assert_int_eq(qt_broker_start(b2, START_MS), 0);

    /* two brokers, two ids from the sequence, above the reserved range */
    id1 = stored_id(b1);
    id2 = stored_id(b2);
    ck_assert_int_ne(id1, id2);
    ck_assert_int_gt(id1, 1000);
    ck_assert_int_gt(id2, 1000);
    ck_assert_int_eq(id1 + id2, 1001 + 1002); /* a fresh chroot's first two */
    ck_assert(registered(chroot, id1));
    ck_assert(registered(chroot, id2));

    /* a restart keeps its id, from meta.properties, and takes no new one */
    ck_assert_int_eq(qt_broker_stop(b1, 30000), 0);
    ck_assert_int_eq(qt_broker_start(b1, START_MS), 0);
    ck_assert_int_eq(stored_id(b1), id1);
    ck_assert(registered(chroot, id1));
    b3 = qt_broker_new(-1, chroot, NULL);
    ck_assert_ptr_nonnull(b3);
    ck_assert_int_eq(qt_broker_start(b3, START_MS), 0);
    ck_assert_int_eq(stored_id(b3), 1003);
    ck_assert(registered(chroot, 1003));

    ck_assert_int_eq(qt_broker_stop(b3, 30000), 0);
    ck_assert_int_eq(qt_broker_stop(b2, 30000), 0);
    ck_assert_int_eq(qt_broker_stop(b1, 30000), 0);
    qt_broker_destroy(b3);
    qt_broker_destroy(b2);
    qt_broker_destroy(b1);
    free(chroot);
}
END_TEST

/* Runs the broker on @p b's config with --override @p kv; it must stop by
 * itself with @p status and say @p msg on stderr. */
static void refused(const qt_broker_t *b, const char *kv, int status,
                    const char *msg)
{
    char *argv[] = {QT_BROKER_BIN, "--override", (char *)kv, (char *)b->props,
                    NULL};
    qt_run_result_t res;

    ck_assert_int_eq(qt_run(argv, NULL, START_MS, &res), 0);
    ck_assert_msg(!res.timed_out, "the broker kept running with %s", kv);
    ck_assert_int_eq(res.status, status);
    ck_assert_msg(strstr(res.err, msg) != NULL, "no \"%s\" in: %s", msg,
                  res.err);
    qt_run_free(&res);
}

/* Rewrites the broker.id line of @p b's server.properties, turning id
 * generation off (a configured id above reserved.broker.max.id needs it). */
static void set_broker_id(qt_broker_t *b, int id)
{
    char text[4096], *line;
    size_t n;
    FILE *fp = fopen(b->props, "r");

    ck_assert_ptr_nonnull(fp);
    n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    line = strstr(text, "broker.id=");
    ck_assert_ptr_nonnull(line);
    fp = fopen(b->props, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%.*sbroker.id=%d\nbroker.id.generation.enable=false%s",
            (int)(line - text), text, id, strchr(line, '\n'));
    fclose(fp);
    b->broker_id = id;
}

START_TEST(test_mismatch_refused)
{
    char *chroot = qt_zk_chroot_new(qt_zk_env(), ZK_MS);
    qt_broker_t *b;
    int id;

    ck_assert_ptr_nonnull(chroot);
    b = qt_broker_new(-1, chroot, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    id = stored_id(b);
    ck_assert_int_gt(id, 1000);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);

    /* a configured id that is not the stored one: the data belongs to
     * another broker (Kafka's InconsistentBrokerIdException) */
    refused(b, "broker.id=7", 1, "doesn't match stored broker.id");
    ck_assert_int_eq(stored_id(b), id);
    /* an id in the generated range cannot be configured */
    refused(b, "broker.id=5000", 2, "reserved.broker.max.id");
    /* no id and no generation */
    refused(b, "broker.id.generation.enable=false", 2, "broker.id");

    /* the stored id, configured explicitly, is fine (generation off: the
     * id is above reserved.broker.max.id) */
    set_broker_id(b, id);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    ck_assert(registered(chroot, id));
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static Suite *ids_suite(void)
{
    Suite *s = suite_create("broker_ids");
    TCase *tc = tcase_create("generated ids");

    tcase_set_timeout(tc, 120);
    tcase_set_tags(tc, "integration zk");
    tcase_add_test(tc, test_generated_ids);
    tcase_add_test(tc, test_mismatch_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(ids_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
