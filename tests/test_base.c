/*
 * test_base.c - error codes (jx_strerror, jx_err_name) and the version the
 * headers and the library report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <jobexec/jobexec.h>

/* Every code has its own name and text, spelled as the X-macro lists it. */
static void test_err_name_every_code(void **state)
{
    (void)state;
#define CHECK_CODE(name, value, text)                                         \
    assert_string_equal(jx_err_name(value), "JX_E" #name);                   \
    assert_string_equal(jx_strerror(value), text);
    JX_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
    assert_string_equal(jx_err_name(JX_OK), "JX_OK");
    assert_string_equal(jx_strerror(JX_OK), "success");
}

static void test_err_name_examples(void **state)
{
    (void)state;
    assert_string_equal(jx_err_name(JX_ENOMEM), "JX_ENOMEM");
    assert_string_equal(jx_err_name(-4), "JX_ECONFIG");
    assert_string_equal(jx_err_name(JX_EKEY), "JX_EKEY");
}

static void test_err_name_unknown(void **state)
{
    (void)state;
    assert_string_equal(jx_err_name(1), "JX_E?");
    assert_string_equal(jx_err_name(-999), "JX_E?");
    assert_string_equal(jx_strerror(-999), "unknown error");
}

/* The headers a program is built against and the library it runs with
 * agree here, where both come from one build. */
static void test_version_macros(void **state)
{
    char text[32];

    (void)state;
    snprintf(text, sizeof text, "%d.%d.%d", JX_VERSION_MAJOR,
             JX_VERSION_MINOR, JX_VERSION_PATCH);
    assert_string_equal(text, JX_VERSION_STRING);
    assert_string_equal(jx_version(), JX_VERSION_STRING);
    assert_int_equal(JX_VERSION_HEX, (JX_VERSION_MAJOR << 16) |
                                         (JX_VERSION_MINOR << 8) |
                                         JX_VERSION_PATCH);
}

static void test_abi_minor(void **state)
{
    (void)state;
    assert_int_equal(JX_ABI_VERSION, 1);
    assert_int_equal(JX_ABI_MINOR, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_name_every_code),
        cmocka_unit_test(test_err_name_examples),
        cmocka_unit_test(test_err_name_unknown),
        cmocka_unit_test(test_version_macros),
        cmocka_unit_test(test_abi_minor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
