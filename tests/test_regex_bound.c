/*
 * test_regex_bound.c - the judgement of retryable_errors patterns before
 * regcomp builds them (core/input/regex_bound.c): what each verdict
 * covers, where an empty loop is reported, and that regcomp compiles what
 * it lets through.
 */
#include "config.h"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "input/regex_bound.h"

static jx__regex_verdict judge(const char *pattern, size_t *offset)
{
    *offset = (size_t)-1;
    return jx__regex_bound(pattern, strlen(pattern), offset);
}

static void assert_bounded(const char *pattern)
{
    size_t offset;
    regex_t re;

    if (judge(pattern, &offset) != JX__REGEX_BOUNDED)
        fail_msg("'%s' was not judged bounded", pattern);
    assert_int_equal(offset, (size_t)-1);
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    regfree(&re);
}

static void assert_empty_loop(const char *pattern, size_t at)
{
    size_t offset;

    if (judge(pattern, &offset) != JX__REGEX_EMPTY_LOOP)
        fail_msg("'%s' was not judged an empty loop", pattern);
    assert_int_equal(offset, at);
}

static void assert_too_large(const char *pattern)
{
    size_t offset;

    if (judge(pattern, &offset) != JX__REGEX_TOO_LARGE)
        fail_msg("'%s' was not judged too large", pattern);
    assert_int_equal(offset, (size_t)-1);
}

/* What ops write to match error messages. */
static void test_ordinary_patterns(void **state)
{
    (void)state;
    assert_bounded("timed out");
    assert_bounded("^connection (reset|refused)$");
    assert_bounded("([0-9]{1,3}[.]){3}[0-9]{1,3}");
    assert_bounded("^[a-z]+ [0-9]+ [a-z]+ [0-9]+ x");
    assert_bounded("error: *[A-Z]+[0-9]*");
    assert_bounded("(a+)*");           /* the operand matches something */
    assert_bounded("(a*){16}");        /* bounded: copies are counted */
    assert_bounded("(x|y?)?");         /* '?' adds no loop */
    assert_bounded("[*+]+ \\(\\*\\)+"); /* operators as literals */
    assert_bounded("[[:alpha:]*]+");
    assert_bounded("a+++++++++");      /* copies, but no empty loop */
    assert_bounded("");
}

/* A '*', '+' or {m,} around what can match nothing: the offset of the
 * first such operator. */
static void test_empty_loops(void **state)
{
    (void)state;
    assert_empty_loop("(a*)+", 4);
    assert_empty_loop("a**", 2);
    assert_empty_loop("a?+", 2);
    assert_empty_loop("x(a*b?)*", 7);
    assert_empty_loop("(a|)*", 4);
    assert_empty_loop("()+", 2);
    assert_empty_loop("(^)*", 3);
    assert_empty_loop("\\b+", 2);
    assert_empty_loop("(a{0,3}){2,}", 8);
    assert_empty_loop("ab(c|d*){1,}", 8);
    assert_empty_loop("((((((((a*)+)+)+)+)+)+)+)+", 11);
    /* The config the fuzzer found: half a second under ASan. */
    assert_empty_loop("audit:0,1*e6++++-++*+++++++-++++++++ th", 20);
}

static void test_too_large(void **state)
{
    char long_text[JX__REGEX_MAX_BYTES + 2];

    (void)state;
    assert_too_large("(a{999}){999}");
    assert_too_large("s++++++++++++++++++++++++++++++++");
    assert_too_large("a{1001}");
    assert_too_large("(a*){1000}"); /* too large comes first */
    /* One bracket expression: the bytes count, the parts do not. */
    memset(long_text, 'a', sizeof long_text - 1);
    long_text[0] = '[';
    long_text[sizeof long_text - 2] = ']';
    long_text[sizeof long_text - 1] = '\0';
    assert_too_large(long_text);
    long_text[JX__REGEX_MAX_BYTES - 1] = ']';
    long_text[JX__REGEX_MAX_BYTES] = '\0';
    assert_bounded(long_text);
}

/* Unbalanced or odd text is judged without reading past its end;
 * regcomp refuses it afterwards with its own reason. */
static void test_malformed_text(void **state)
{
    static const char *const texts[] = {
        "(", "((", ")", "[", "[[:", "[[:alpha", "\\", "a{", "a{1", "a{1,",
        "a{,}", "{", "*", "(|", "a|*+",
    };
    size_t offset;

    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        assert_true(judge(texts[i], &offset) != JX__REGEX_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_patterns),
        cmocka_unit_test(test_empty_loops),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_malformed_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
