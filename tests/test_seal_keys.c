/*
 * test_seal_keys.c - the refusals of evidence.signing_key, each with its
 * exact message and the log left untouched: the key file's mode, owner and
 * type (symbolic link, folder, FIFO), what it holds (a public key, bad
 * hex, nothing), a relative path, no log to seal; and the modes that are
 * accepted.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "seal_util.h"

/* ---- 2. refusals of evidence.signing_key -------------------------------- */

/* The executor refuses the key with JX_ECONFIG, naming the config line of
 * signing_key, and never touches the log. */
static void expect_key_refused(fixture *f, const char *key_path,
                               const char *reason)
{
    char *want;

    assert_int_equal(parse_config(f, key_path, 1), 0);
    assert_int_equal(jx_executor_new(f->cfg, &f->ex, &f->err), JX_ECONFIG);
    assert_null(f->ex);
    assert_int_equal(f->err.code, JX_ECONFIG);
    want = fmt(f, CONFIG_NAME ":3:16: signing key '%s': %s",
               key_path, reason);
    assert_string_equal(f->err.message, want);
    assert_int_equal(access(f->log_path, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    jx_config_free(f->cfg);
    f->cfg = NULL;
}

static void test_key_mode_0644_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0644);

    expect_key_refused(f, key, "mode 0644 lets group or others access it; "
                               "it must be 0600 or stricter");
}

static void test_key_mode_0640_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0640);

    expect_key_refused(f, key, "mode 0640 lets group or others access it; "
                               "it must be 0600 or stricter");
}

/* Any one group or other bit is enough to refuse. */
static void test_key_any_group_or_other_bit_refused(void **state)
{
    static const mode_t modes[] = {0601, 0602, 0604, 0610, 0620, 0660, 0707,
                                   0777};
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char reason[128];

        assert_int_equal(chmod(key, modes[i]), 0);
        snprintf(reason, sizeof reason,
                 "mode %04o lets group or others access it; it must be "
                 "0600 or stricter",
                 (unsigned)modes[i]);
        expect_key_refused(f, key, reason);
    }
}

/* Stricter than 0600 is fine, and so is the owner's execute bit. */
static void test_key_mode_0400_accepted(void **state)
{
    static const mode_t modes[] = {0400, 0600, 0700};
    fixture *f = *state;
    unsigned char pk[32];
    char *key = write_key(f, "k", SECRET_TAG, rfc_test3.seed, 0600);

    unhex(rfc_test3.pk, pk, sizeof pk);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(key, modes[i]), 0);
        make_executor(f, key);
        run_job(f, TU_JOB, 1, 0);
        drop_executor(f);
        if (i == 0)
            check_signed_seal(f->log_path, FINISHED_LINE(1), TU_JOB, pk, NULL,
                              FINISHED_LINE(1) - 1);
        assert_int_equal(unlink(f->log_path), 0);
    }
}

static void test_key_owned_by_another_user_refused(void **state)
{
    fixture *f = *state;
    char *key;

    if (geteuid() != 0) {
        print_message("skipped: changing a file's owner needs root\n");
        skip();
    }
    key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);
    assert_int_equal(chown(key, 65534, (gid_t)-1), 0);
    expect_key_refused(f, key, "owned by uid 65534, not by the executor's "
                               "user (uid 0)");
}

static void test_key_symlink_refused(void **state)
{
    fixture *f = *state;
    char *target = write_key(f, "real.key", SECRET_TAG, rfc_test1.seed, 0600);
    char *link = path_in(f, "link.key");

    assert_int_equal(symlink(target, link), 0);
    expect_key_refused(f, link, "cannot open: it is a symbolic link");
}

/* A public key file, even private to the user, is no signing key. */
static void test_key_public_key_refused(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k.pub", PUBLIC_TAG, rfc_test1.pk, 0600);

    expect_key_refused(f, key, "holds a public key, not a secret key");
}

static void test_key_bad_hex_refused(void **state)
{
    static const char *const texts[] = {
        /* a letter that is not hex */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6g\n",
        /* 63 digits */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6\n",
        /* 62 digits: 31 bytes */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f\n",
        /* 66 digits: 33 bytes */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f6000\n",
        /* nothing after the tag */
        SECRET_TAG "\n",
        /* a trailing space */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60 \n",
        /* a CRLF line end */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60\r\n",
        /* a second line */
        SECRET_TAG "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031"
                   "cae7f60\n\n",
        /* two spaces after the tag */
        SECRET_TAG " 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac03"
                   "1cae7f60\n",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *key = write_file(f, "k", texts[i], 0600);

        print_message("key file %zu\n", i);
        expect_key_refused(f, key, "the key is not 64 hex digits");
    }
}

static void test_key_empty_file_refused(void **state)
{
    fixture *f = *state;
    char *key = write_file(f, "k", "", 0600);

    expect_key_refused(f, key, "not a key file written by `jobexec keygen` "
                               "(expected a line starting "
                               "'jobexec-ed25519-secret-key')");
}

static void test_key_missing_file_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "no-such.key");

    expect_key_refused(f, key, "cannot open: No such file or directory");
}

static void test_key_folder_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "keys.d");

    assert_int_equal(mkdir(key, 0700), 0);
    expect_key_refused(f, key, "not a regular file");
}

/* A NUL after the 64 digits hides whatever follows it from a string
 * comparison; the file is still not the one line keygen writes. */
static void test_key_nul_after_hex_refused(void **state)
{
    static const char text[] = SECRET_TAG
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
        "\0junk\n";
    fixture *f = *state;
    char *key = path_in(f, "k");
    FILE *fp = fopen(key, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(key, 0600), 0);
    expect_key_refused(f, key, "the key is not 64 hex digits");
}

static void new_executor_in_child(fixture *f, const char *key, FILE *out)
{
    int rc = parse_config(f, key, 1);

    if (rc == 0)
        rc = jx_executor_new(f->cfg, &f->ex, &f->err);
    fprintf(out, "%d %s", rc, rc != 0 ? f->err.message : "");
}

/* Opening a FIFO for reading waits for a writer: the key must be refused
 * without waiting. */
static void test_key_fifo_refused(void **state)
{
    fixture *f = *state;
    char *key = path_in(f, "k.fifo"), *text, *want;

    assert_int_equal(mkfifo(key, 0600), 0);
    text = in_child_with_deadline(f, key, new_executor_in_child,
                                  "jx_executor_new");
    want = fmt(f, "%d " CONFIG_NAME ":3:16: signing key '%s': ",
               JX_ECONFIG, key);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    assert_non_null(strstr(text + strlen(want), "regular file"));
    free(text);
}

static void test_signing_key_relative_path(void **state)
{
    fixture *f = *state;

    assert_int_equal(parse_config(f, "keys/evidence.key", 1), JX_ECONFIG);
    assert_null(f->cfg);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message,
                        CONFIG_NAME ":3:16: evidence.signing_key "
                                    "'keys/evidence.key' must be an "
                                    "absolute path");
}

static void test_signing_key_without_log(void **state)
{
    fixture *f = *state;
    char *key = write_key(f, "k", SECRET_TAG, rfc_test1.seed, 0600);

    assert_int_equal(parse_config(f, key, 0), JX_ECONFIG);
    assert_null(f->cfg);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_string_equal(f->err.message,
                        CONFIG_NAME ":2:3: evidence.signing_key needs "
                                    "evidence.log: only the log is sealed");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_key_mode_0644_refused),
        T(test_key_mode_0640_refused),
        T(test_key_any_group_or_other_bit_refused),
        T(test_key_mode_0400_accepted),
        T(test_key_owned_by_another_user_refused),
        T(test_key_symlink_refused),
        T(test_key_public_key_refused),
        T(test_key_bad_hex_refused),
        T(test_key_empty_file_refused),
        T(test_key_missing_file_refused),
        T(test_key_folder_refused),
        T(test_key_nul_after_hex_refused),
        T(test_key_fifo_refused),
        T(test_signing_key_relative_path),
        T(test_signing_key_without_log),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
