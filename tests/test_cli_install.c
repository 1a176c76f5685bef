/*
 * test_cli_install.c - the installed layout: `make install` staged once
 * into a temporary folder (DESTDIR), then the files it holds, the staged
 * jobexec run with the staged library and plugins (isolated, in the
 * staged runner), its default config, the public headers compiling alone
 * in strict C99, and the pkg-config file.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "install_util.h"

/* A config of the staged noop and fail, run isolated in the staged
 * runner; written once, removed with the staged tree. */
static char *staged_config;

static int write_config(void)
{
    FILE *fp;

    if (staged_config != NULL)
        return 0;
    if (asprintf(&staged_config, "%s/staged.yaml", inst.root) < 0) {
        staged_config = NULL;
        return -1;
    }
    fp = fopen(staged_config, "w");
    if (fp == NULL)
        return -1;
    fprintf(fp,
            "plugin_dir: %s\n"
            "plugins:\n"
            "  - path: noop\n"
            "    step_types: " NOOP_TYPES_YAML "\n"
            "  - path: fail\n"
            "    step_types: [bad]\n"
            "    config: {error_message: \"Boom\"}\n"
            /* Staged plugins are not in the installation's own folder, so
             * they run isolated, in the staged runner. */
            "runner:\n"
            "  path: %s\n",
            inst.plugins, inst.runner);
    return fclose(fp) == 0 ? 0 : -1;
}

/* Setup of the installed-layout tests: the first one stages the install,
 * the others reuse it (or fail as it did). */
static int install_once(void **state)
{
    if (install_stage() != 0 || write_config() != 0)
        return -1;
    return fx_setup(state);
}

static int group_teardown(void **state)
{
    free(staged_config);
    staged_config = NULL;
    return install_teardown(state);
}

static void test_installed_tree(void **state)
{
    static const char *const files[] = {
        "bin/jobexec",
        "include/jobexec/jobexec.h",
        "include/jobexec/step_handler_v1.h",
        "lib/pkgconfig/jobexec.pc",
        "etc/jobexec/jobexec.yaml",
        "share/jobexec/example-plan.yaml",
        "lib/jobexec/plugins/noop.so",
        "lib/jobexec/plugins/fail.so",
        "lib/jobexec/plugins/health_static.so",
        "lib/jobexec/plugins/registry.so",
        "lib/jobexec/plugins/exec.so",
        "share/man/man1/jobexec.1",
        "share/man/man3/step_handler_v1.3",
        "share/man/man5/jobexec.yaml.5",
        "share/man/man5/jobexec-plan.5",
        "share/man/man5/jobexec-evidence.5",
    };
    fixture *f = *state;
    char stray[256] = "";
    struct dirent *e;
    DIR *d;

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", inst.prefix, files[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            fail_msg("not installed: %s", path);
    }
    /* The installed config keeps the registry in the state folder, which
     * the install made. */
    {
        char *prefix = fx_keep(f, configured_prefix());
        const char *conf = fx_keep(f, tu_read(fx_printf(
            f, "%s/etc/jobexec/jobexec.yaml", inst.prefix)));
        struct stat st;

        assert_non_null(strstr(conf, fx_printf(f, "db: %s/var/lib/jobexec/"
                                                  "registry.db\n",
                                               prefix)));
        assert_int_equal(stat(fx_printf(f, "%s/var/lib/jobexec", inst.prefix),
                              &st),
                         0);
        assert_true(S_ISDIR(st.st_mode));
    }
    /* jobexec loads plugins by exact path: libtool archives are clutter. */
    d = opendir(inst.plugins);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (ends_with(e->d_name, ".la"))
            snprintf(stray, sizeof stray, "%s", e->d_name);
    closedir(d);
    assert_string_equal(stray, "");
}

static void test_installed_run(void **state)
{
    fixture *f = *state;

    INSTALLED(f, "run", "--config", staged_config, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);

    INSTALLED(f, "--config", staged_config, "run", E2E "/plan.json");
    assert_completed(f, JSON_JOB, 2);

    /* The example plan as installed, on the shipped handlers: the
     * registry in-process (it observes health too), exec isolated. */
    INSTALLED(f, "run", "-c",
              fx_keep(f, tu_write(fx_dir(f), "example.yaml",
                       fx_printf(f,
                                 "plugin_dir: %s\n"
                                 "plugins:\n"
                                 "  - path: registry\n"
                                 "    isolation: inproc\n"
                                 "    config: {db: %s/registry.db}\n"
                                 "  - path: exec\n"
                                 "health: {observer: registry}\n"
                                 "runner:\n"
                                 "  path: %s/libexec/jobexec/jobexec-runner\n",
                                 inst.plugins, fx_dir(f), inst.prefix))),
              fx_printf(f, "%s/share/jobexec/example-plan.yaml",
                        inst.prefix));
    assert_completed(f, EXAMPLE_JOB, 8);
}

static void test_installed_failing_step(void **state)
{
    fixture *f = *state;

    INSTALLED(f, "run", "--config", staged_config, E2E "/plan-fails.yaml");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(fx_cut_summary(f, FAILS_JOB, "FAILED"), "");
    assert_doc(fx_doc(f), FAILS_JOB, "FAILED", "Step 1 failed: Boom", 2, 1);
}

/* Who isolated plugins run as: nobody:nogroup under root, else the
 * executor's own user. */
static const char *runner_user(fixture *f)
{
    const struct passwd *pw = getpwuid(geteuid());
    const struct group *gr = getgrgid(getegid());

    if (geteuid() == 0)
        return "nobody:nogroup";
    return fx_printf(f, "%s:%s", pw != NULL ? pw->pw_name : "?",
                     gr != NULL ? gr->gr_name : "?");
}

static void test_installed_plugins_and_version(void **state)
{
    fixture *f = *state;
    const char *user = runner_user(f);

    INSTALLED(f, "plugins", "-c", staged_config);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        fx_printf(f,
                                  /* One runner each: runner.max_per_plugin's
                                   * default. */
                                  "noop 1.0.0 (abi 1, isolated: 1 runner as "
                                  "%s)\n"
                                  "  file: %s/noop.so\n"
                                  "  step types: " NOOP_TYPES "\n"
                                  "fail 1.0.0 (abi 1, isolated: 1 runner as "
                                  "%s)\n"
                                  "  file: %s/fail.so\n"
                                  "  step types: bad\n",
                                  user, inst.plugins, user, inst.plugins));
    assert_string_equal(f->p.err, "");

    INSTALLED(f, "--version");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");

    /* Installed, the default config is the configured sysconfdir's, not
     * the source tree's. */
    INSTALLED(f, "--help");
    assert_int_equal(f->p.status, 0);
    assert_main_usage(f->p.out, NULL);
    assert_null(strstr(f->p.out, TU_SRCDIR "/conf"));
}

/* Each public header compiles alone, in strict C99. */
static void assert_header_compiles(fixture *f, const char *header)
{
    const char *include = fx_printf(f, "-I%s", inst.include);
    const char *source = fx_printf(f, "#include <jobexec/%s>\n"
                                      "int main(void){return 0;}\n",
                                   header);

    fx_run(f, source,
           (const char *const[]){"/usr/bin/cc", "-std=c99", "-Wall",
                                 "-Wextra", "-pedantic", "-Werror",
                                 "-fsyntax-only", include, "-x", "c", "-",
                                 NULL});
    if (f->p.status != 0)
        fail_msg("%s does not compile alone:\n%s", header, f->p.err);
    assert_string_equal(f->p.err, "");
}

static void test_installed_headers_compile(void **state)
{
    assert_header_compiles(*state, "step_handler_v1.h");
    assert_header_compiles(*state, "jobexec.h");
}

static void test_installed_pkgconfig(void **state)
{
    fixture *f = *state;
    const char *pc = fx_keep(
        f, tu_read(fx_printf(f, "%s/lib/pkgconfig/jobexec.pc", inst.prefix)));

    assert_non_null(strstr(pc, "\nName: jobexec\n"));
    assert_non_null(strstr(pc, "\nVersion: 0.1.0\n"));
    assert_non_null(strstr(pc, "\nLibs: -L${libdir} -ljobexec\n"));
    assert_non_null(strstr(pc, "\nplugindir="));
}

#define INSTALLED_TEST(name)                                                 \
    cmocka_unit_test_setup_teardown(name, install_once, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        INSTALLED_TEST(test_installed_tree),
        INSTALLED_TEST(test_installed_run),
        INSTALLED_TEST(test_installed_failing_step),
        INSTALLED_TEST(test_installed_plugins_and_version),
        INSTALLED_TEST(test_installed_headers_compile),
        INSTALLED_TEST(test_installed_pkgconfig),
    };

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
