/*
 * check_proto_errors: quire.proto's ErrorCode and common/err.h's quire_err_t
 * are one enum (STYLE.md §3): walks protobuf-c's generated descriptor and
 * the QUIRE_ERR_TABLE, in both directions, by name and by number.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "quire.pb-c.h"

static const struct {
    const char *name;
    int code;
} table[] = {
#define ROW(name, code, text) {#name, code},
    QUIRE_ERR_TABLE(ROW)
#undef ROW
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

static const ProtobufCEnumDescriptor *desc(void)
{
    return &quire__error_code__descriptor;
}

START_TEST(test_same_count)
{
    ck_assert_uint_eq(desc()->n_values, TABLE_LEN);
}
END_TEST

/* Every protobuf value is in quire_err_t with the same name and number. */
START_TEST(test_proto_in_table)
{
    const ProtobufCEnumValue *v = &desc()->values[_i];
    size_t j;

    for (j = 0; j < TABLE_LEN; j++)
        if (strcmp(table[j].name, v->name) == 0)
            break;
    ck_assert_msg(j < TABLE_LEN, "ErrorCode %s is not in quire_err_t", v->name);
    ck_assert_msg(table[j].code == v->value, "%s: proto %d, err.h %d", v->name,
                  v->value, table[j].code);
    ck_assert_str_eq(quire_err2name((quire_err_t)v->value), v->name);
}
END_TEST

/* Every quire_err_t value is in the protobuf enum, both by name and by
 * number, and the two lookups agree. */
START_TEST(test_table_in_proto)
{
    const ProtobufCEnumValue *by_name, *by_value;

    by_name =
        protobuf_c_enum_descriptor_get_value_by_name(desc(), table[_i].name);
    ck_assert_msg(by_name != NULL, "QUIRE_ERR_%s is not in ErrorCode",
                  table[_i].name);
    ck_assert_int_eq(by_name->value, table[_i].code);
    by_value = protobuf_c_enum_descriptor_get_value(desc(), table[_i].code);
    ck_assert_ptr_nonnull(by_value);
    ck_assert_str_eq(by_value->name, table[_i].name);
}
END_TEST

/* The generated C enum constants carry the same numbers as quire_err_t. */
START_TEST(test_c_constants)
{
    ck_assert_int_eq(QUIRE__ERROR_CODE__NONE, QUIRE_ERR_NONE);
    ck_assert_int_eq(QUIRE__ERROR_CODE__UNKNOWN_SERVER_ERROR,
                     QUIRE_ERR_UNKNOWN_SERVER_ERROR);
    ck_assert_int_eq(QUIRE__ERROR_CODE__NOT_LEADER_FOR_PARTITION,
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert_int_eq(QUIRE__ERROR_CODE__INVALID_RECORD,
                     QUIRE_ERR_INVALID_RECORD);
    ck_assert_int_eq(QUIRE__ERROR_CODE__UNSUPPORTED, QUIRE_ERR_UNSUPPORTED);
}
END_TEST

static Suite *proto_errors_suite(void)
{
    Suite *s = suite_create("proto_errors");
    TCase *tc = tcase_create("mirror");

    tcase_add_test(tc, test_same_count);
    tcase_add_loop_test(tc, test_proto_in_table, 0, (int)desc()->n_values);
    tcase_add_loop_test(tc, test_table_in_proto, 0, (int)TABLE_LEN);
    tcase_add_test(tc, test_c_constants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proto_errors_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
