/*
 * test_jsonbuf.c - the evidence's JSON writer must produce, byte for byte,
 * what jansson's compact dump produces, and turn invalid UTF-8 from
 * plugins into U+FFFD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/jsonbuf.h"

/* Asserts that our text for v equals jansson's; consumes v. */
static void same_as_jansson(json_t *v)
{
    jx__buf b = {0};
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    assert_non_null(want);
    assert_int_equal(jx__buf_put_json(&b, v), 0);
    assert_string_equal(b.data, want);
    free(want);
    jx__buf_free(&b);
    json_decref(v);
}

static void test_scalars(void **state)
{
    (void)state;
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_null());
    same_as_jansson(json_integer(0));
    same_as_jansson(json_integer(-9223372036854775807LL - 1));
    same_as_jansson(json_integer(9223372036854775807LL));
    same_as_jansson(json_real(1.5));
    same_as_jansson(json_real(2.0));
    same_as_jansson(json_real(1e300));
    same_as_jansson(json_real(-0.1));
}

static void test_strings(void **state)
{
    static const char every_control[] =
        "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
    (void)state;
    same_as_jansson(json_string(""));
    same_as_jansson(json_string("plain text, nothing to escape"));
    same_as_jansson(json_string("quote \" backslash \\ slash / del \x7f"));
    same_as_jansson(json_string(every_control));
    same_as_jansson(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    same_as_jansson(json_stringn("nul\0inside", 10));
}

static void test_containers(void **state)
{
    json_t *deep = json_array();
    json_t *at = deep;

    (void)state;
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_pack("{s:s, s:i, s:f, s:b, s:n, s:[i, s, {}], "
                              "s:{s:[]}}",
                              "z", "first", "a", 1, "m", 2.5, "t", 1, "n",
                              "arr", 1, "x\ny", "obj", "inner"));
    /* Insertion order, not sorted. */
    same_as_jansson(json_pack("{s:i, s:i, s:i}", "c", 1, "b", 2, "a", 3));
    /* A key that needs escaping. */
    same_as_jansson(json_pack("{s:i}", "k\"e\\y\t", 1));
    for (int i = 0; i < 100; i++) {
        json_t *next = json_array();
        json_array_append_new(at, next);
        at = next;
    }
    same_as_jansson(deep);
}

static void test_members(void **state)
{
    jx__buf b = {0};
    json_t *o = json_pack("{s:i, s:s}", "a", 1, "b", "x");

    (void)state;
    assert_int_equal(jx__buf_puts(&b, "{\"head\":0"), 0);
    assert_int_equal(jx__buf_put_members(&b, o), 0);
    assert_string_equal(b.data, "{\"head\":0,\"a\":1,\"b\":\"x\"");
    json_decref(o);
    o = json_object();
    b.len = 0;
    assert_int_equal(jx__buf_put_members(&b, o), 0);
    assert_int_equal(b.len, 0);
    json_decref(o);
    jx__buf_free(&b);
}

/* Plugins' text is any bytes; the record must stay JSON. */
static void test_invalid_utf8_replaced(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"ok \xc3\xa9", "\"ok \xc3\xa9\""},
        {"lone \xff byte", "\"lone \xef\xbf\xbd byte\""},
        {"cut \xe2\x82", "\"cut \xef\xbf\xbd\xef\xbf\xbd\""},
        {"overlong \xc0\xaf", "\"overlong \xef\xbf\xbd\xef\xbf\xbd\""},
        {"surrogate \xed\xa0\x80",
         "\"surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"too big \xf4\x90\x80\x80",
         "\"too big \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"tab\tand \xfe", "\"tab\\tand \xef\xbf\xbd\""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jx__buf b = {0};
        json_t *back;

        assert_int_equal(jx__buf_put_json_string(&b, cases[i].in), 0);
        assert_string_equal(b.data, cases[i].out);
        back = json_loads(b.data, JSON_DECODE_ANY, NULL);
        assert_non_null(back); /* valid JSON, whatever came in */
        json_decref(back);
        jx__buf_free(&b);
    }
}

/* jx__buf_put_utf8 after a "[": what jansson writes for a string it
 * accepts; for one it refuses (json_string() returns NULL),
 * JX__BUF_NOT_UTF8 and the buffer as it was. */
static void utf8_same_as_jansson(const char *text)
{
    jx__buf b = {0};
    json_t *v = json_string(text);
    int rc;

    assert_int_equal(jx__buf_append(&b, "[", 1), 0);
    rc = jx__buf_put_utf8(&b, text, strlen(text));
    if (v == NULL) {
        assert_int_equal(rc, JX__BUF_NOT_UTF8);
        assert_string_equal(b.data, "[");
    } else {
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        assert_int_equal(rc, 0);
        assert_non_null(want);
        assert_string_equal(b.data + 1, want);
        free(want);
    }
    json_decref(v);
    jx__buf_free(&b);
}

static void test_put_utf8_agrees_with_jansson(void **state)
{
    static const char *const texts[] = {
        "", "plain", "q\"b\\s/", "\b\f\n\r\t\x01\x1f\x7f",
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",  /* 2, 3, 4 bytes */
        "\xc0\xaf",         /* overlong */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xe2\x82",         /* cut short */
        "ok\x80",           /* a lone continuation byte */
        "\xff",
        "twelve bytes\xff", /* past the first word */
    };
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        utf8_same_as_jansson(texts[i]);
}

/* Strings are scanned eight bytes at a time: a byte that needs escaping
 * (or is part of a multi-byte character) at every place of a word, in
 * strings longer than one word, reads as jansson writes it. */
static void test_special_byte_at_every_place(void **state)
{
    static const char *const specials[] = {"\"", "\\", "\n", "\x01",
                                           "\x1f", "\x7f", " ", "~",
                                           "\xc3\xa9", "\xe2\x82\xac"};
    (void)state;
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++)
        for (size_t at = 0; at < 20; at++) {
            char text[32];

            memset(text, 'a', 24);
            text[24] = '\0';
            memcpy(text + at, specials[k], strlen(specials[k]));
            same_as_jansson(json_string(text));
            utf8_same_as_jansson(text);
        }
}

/* A length whose sum with the buffer's would wrap is refused, not
 * copied: the buffer is left as it was. */
static void test_append_huge_length_refused(void **state)
{
    /* volatile: a constant length would make the compiler warn about
     * the copy it cannot see is never reached. */
    volatile size_t huge = SIZE_MAX;
    jx__buf empty = {0}, b = {0};
    (void)state;

    assert_int_equal(jx__buf_append(&empty, "x", huge), -1);
    assert_int_equal(empty.len, 0);
    assert_int_equal(jx__buf_puts(&b, "abc"), 0);
    assert_int_equal(jx__buf_append(&b, "x", huge - b.len), -1);
    assert_int_equal(jx__buf_append(&b, "x", huge), -1);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    jx__buf_free(&empty);
    jx__buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_put_utf8_agrees_with_jansson),
        cmocka_unit_test(test_special_byte_at_every_place),
        cmocka_unit_test(test_append_huge_length_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
