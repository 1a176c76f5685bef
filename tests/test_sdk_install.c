/*
 * test_sdk_install.c - the plugin SDK as a plugin author meets it:
 * `make install` staged into a temporary folder (DESTDIR), the sample
 * plugin copied out of the staged share/jobexec/sample-plugin and built
 * with pkg-config alone (its plain Makefile, then its configure.ac and
 * Makefile.am), then loaded by the staged jobexec: `plugin check` and a
 * run of a plan on it.
 *
 * pkg-config sees the staged jobexec.pc only (PKG_CONFIG_LIBDIR), with
 * PKG_CONFIG_SYSROOT_DIR the DESTDIR, which is how a staged tree is built
 * against: the paths in jobexec.pc are the configured ones, and the
 * sysroot puts them under the stage, in --cflags and --variable alike.
 */
#include "config.h"

#include <dirent.h>
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

#include "install_util.h"

#define SAMPLE_SRC TU_SRCDIR "/plugins/sample"
#define GREET_JOB "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6"
#define GREET_CONTRACT "7a9e5c1d-2b3f-4c8a-9d0e-6f1a2b3c4d5e"

/* What the sample installs, sorted as `ls` would in the C locale. */
static const char *const sample_files[] = {
    "Makefile", "Makefile.am", "README", "configure.ac", "greet.c",
    "greet.ver", "m4/README",
};
#define N_SAMPLE_FILES (sizeof sample_files / sizeof sample_files[0])

/* The staged sample's folder, set by the first setup. */
static char *sample;

static int setup(void **state)
{
    if (install_stage() != 0)
        return -1;
    if (sample == NULL &&
        asprintf(&sample, "%s/share/jobexec/sample-plugin", inst.prefix) < 0)
        return -1;
    return fx_setup(state);
}

static int group_teardown(void **state)
{
    free(sample);
    sample = NULL;
    return install_teardown(state);
}

/* Runs argv with pkg-config seeing the staged jobexec alone (pc_dir NULL:
 * the staged one's folder) and without the make variables of the `make
 * check` running us, so that the sample builds as it would by hand. */
static void run_author(fixture *f, const char *pc_dir,
                       const char *const *argv)
{
    const char *pc = pc_dir != NULL ? pc_dir : inst.pkgconfig;
    char *path = NULL, *libdir = NULL, *sysroot = NULL;
    char **env = NULL;

    if (asprintf(&path, "PKG_CONFIG_PATH=%s", pc) > 0 &&
        asprintf(&libdir, "PKG_CONFIG_LIBDIR=%s", pc) > 0 &&
        asprintf(&sysroot, "PKG_CONFIG_SYSROOT_DIR=%s", inst.root) > 0)
        env = env_with((const char *const[]){
            path, libdir, sysroot, "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
            "CFLAGS", "CPPFLAGS", "LDFLAGS", NULL});
    free(path);
    free(libdir);
    free(sysroot);
    assert_non_null(env);
    tu_proc_free(&f->p);
    spawn_ex(&f->p, argv, env, OUT_PIPE);
    free_env(env);
    assert_non_null(f->p.out);
}

/* A shell command line, run as run_author does. */
static void sh_author(fixture *f, const char *command)
{
    run_author(f, NULL,
               (const char *const[]){"/bin/sh", "-c", command, NULL});
}

/* Fails with what the last command printed unless it exited 0. */
static void assert_ran(fixture *f, const char *what)
{
    if (f->p.status != 0)
        fail_msg("%s: exit %d\n%s%s", what, f->p.status, f->p.out, f->p.err);
}

/* A copy of the installed sample in a new folder under the stage (which
 * a runner as nobody can reach). */
static const char *copy_sample(fixture *f, const char *name)
{
    const char *dir = fx_printf(f, "%s/%s", inst.root, name);

    fx_run(f, NULL,
           (const char *const[]){"/bin/cp", "-R", sample, dir, NULL});
    assert_ran(f, "cp");
    assert_int_equal(chmod(dir, 0755), 0);
    return dir;
}

/* The dynamic symbols module defines: the descriptor alone. */
static void assert_exports_descriptor_only(fixture *f, const char *module)
{
    const char *sym;

    fx_run(f, NULL,
           (const char *const[]){"/usr/bin/nm", "-D", "--defined-only",
                                 module, NULL});
    assert_ran(f, "nm");
    /* "0000000000003d80 D greet_LTX_step_handler_v1\n" */
    assert_int_equal(count_lines(f->p.out), 1);
    sym = strchr(f->p.out, ' ');
    assert_non_null(sym);
    assert_string_equal(sym, " D greet_LTX_step_handler_v1\n");
}

/* `plugin check` of module, in-process (the staged jobexec's runner is
 * not where its binary looks for it), on a step. */
static void plugin_check(fixture *f, const char *module, const char *section,
                         const char *step)
{
    INSTALLED(f, "plugin", "check", module, "--config-section", section,
              "--step", step);
}

static const char *check_output(fixture *f, const char *module,
                                const char *verdict)
{
    return fx_printf(f,
                     "plugin: greet 1.0.0 (abi 1)\n"
                     "file: %s\n"
                     "runs: in-process\n"
                     "flags: thread-safe\n"
                     "step types: greet\n"
                     "init: OK\n"
                     "validate: %s\n",
                     module, verdict);
}

/* A config of the one plugin path (with its config section), isolated in
 * the staged runner. */
/* Writes what fmt makes to name in the test's folder; returns its path
 * (kept by f). */
static const char *write_text(fixture *f, const char *name, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

static const char *write_text(fixture *f, const char *name, const char *fmt,
                              ...)
{
    va_list ap;
    char *text, *path;
    int len;

    va_start(ap, fmt);
    len = vasprintf(&text, fmt, ap);
    va_end(ap);
    assert_true(len >= 0);
    path = tu_write(fx_dir(f), name, text);
    free(text);
    assert_non_null(path);
    return fx_keep(f, path);
}

static const char *greet_config(fixture *f, const char *path,
                                const char *plugin_config)
{
    return write_text(f, "greet.yaml",
                      "plugin_dir: %s\n"
                      "plugins:\n"
                      "  - path: %s\n"
                      "    config: %s\n"
                      "runner:\n"
                      "  path: %s\n",
                      inst.plugins, path, plugin_config, inst.runner);
}

static const char *greet_plan(fixture *f, const char *steps)
{
    return write_text(f, "plan.yaml",
                      "job_id: " GREET_JOB "\n"
                      "contract_id: " GREET_CONTRACT "\n"
                      "steps:\n%s",
                      steps);
}

/* Step i of the last run's document output exactly want (compact JSON). */
static void assert_step_output(fixture *f, size_t i, const char *want)
{
    json_t *results = json_object_get(fx_doc(f), "step_results");
    json_t *output = json_object_get(json_array_get(results, i), "output");
    char *text = output != NULL ? json_dumps(output, JSON_COMPACT) : NULL;
    int same = text != NULL && strcmp(text, want) == 0;

    if (!same)
        fail_msg("step %zu output %s, expected %s", i,
                 text != NULL ? text : "nothing", want);
    free(text);
}

/* Runs the module with the staged jobexec: two steps, one with its own
 * greeting, one with the config's. */
static void assert_greets(fixture *f, const char *path)
{
    INSTALLED(f, "run", "--config",
              greet_config(f, path, "{default_greeting: Hi}"),
              greet_plan(f, "  - step_index: 0\n"
                            "    step_type: greet\n"
                            "    target: world\n"
                            "    parameters: {greeting: Hello}\n"
                            "  - step_index: 1\n"
                            "    step_type: greet\n"
                            "    target: ops\n"));
    assert_completed(f, GREET_JOB, 2);
    assert_step_output(f, 0, "{\"message\":\"Hello, world!\"}");
    assert_step_output(f, 1, "{\"message\":\"Hi, ops!\"}");
}

/* ---- the installed files ----------------------------------------------- */

static void test_sample_installed(void **state)
{
    fixture *f = *state;

    /* Every file, as in the source tree, readable by all, and no other
     * file beside them. */
    for (size_t i = 0; i < N_SAMPLE_FILES; i++) {
        char path[4096], source[4096];
        char *want, *got;
        struct stat st;
        int same;

        snprintf(path, sizeof path, "%s/%s", sample, sample_files[i]);
        snprintf(source, sizeof source, SAMPLE_SRC "/%s", sample_files[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            fail_msg("not installed: %s", path);
        assert_int_equal(st.st_mode & 0777, 0644);
        want = tu_read(source);
        got = tu_read(path);
        same = want != NULL && got != NULL && strcmp(want, got) == 0;
        free(want);
        free(got);
        if (!same)
            fail_msg("%s differs from %s", path, source);
    }
    fx_run(f, NULL,
           (const char *const[]){"/usr/bin/find", sample, "-type", "f",
                                 NULL});
    assert_ran(f, "find");
    assert_int_equal(count_lines(f->p.out), N_SAMPLE_FILES);

    /* What the sample's build asks pkg-config, and where it says the
     * sample is. */
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/pkg-config", "--variable",
                                     "plugindir", "jobexec", NULL});
    assert_ran(f, "pkg-config");
    assert_string_equal(f->p.out, fx_printf(f, "%s\n", inst.plugins));
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/pkg-config", "--variable",
                                     "sampledir", "jobexec", NULL});
    assert_ran(f, "pkg-config");
    assert_string_equal(f->p.out, fx_printf(f, "%s\n", sample));
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/pkg-config", "--cflags",
                                     "jobexec", NULL});
    assert_ran(f, "pkg-config");
    assert_string_equal(f->p.out, fx_printf(f, "-I%s \n", inst.include));
}

/* ---- the plain Makefile -------------------------------------------------- */

static void test_sample_make(void **state)
{
    fixture *f = *state;
    const char *dir = copy_sample(f, "plain");
    const char *module = fx_printf(f, "%s/greet.so", dir);
    const char *in_plugindir = fx_printf(f, "%s/greet.so", inst.plugins);
    struct stat st;

    /* Built without a warning. */
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/make", "-s", "-C", dir, NULL});
    assert_ran(f, "make");
    assert_string_equal(f->p.err, "");
    assert_exports_descriptor_only(f, module);

    plugin_check(f, module, "{isolation: inproc}",
                 "{step_type: greet, target: world}");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, check_output(f, module, "accepted"));
    assert_string_equal(f->p.err, "");

    assert_greets(f, module);

    /* make install: into pkg-config's plugindir, not writable by group
     * or others (or jobexec would refuse it), and found there by name. */
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/make", "-s", "-C", dir,
                                     "install", NULL});
    assert_ran(f, "make install");
    assert_int_equal(stat(in_plugindir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_greets(f, "greet");
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/make", "-s", "-C", dir,
                                     "uninstall", NULL});
    assert_ran(f, "make uninstall");
    assert_int_equal(stat(in_plugindir, &st), -1);
}

/* ---- the autotools build ------------------------------------------------- */

static void test_sample_autotools(void **state)
{
    fixture *f = *state;
    const char *dir, *module = fx_printf(f, "%s/greet.so", inst.plugins);
    struct stat st;

    /* scripts/deps.sh installs autoconf, automake and libtool; a tarball
     * built elsewhere may lack them. */
    if (access("/usr/bin/autoreconf", X_OK) != 0) {
        fprintf(stderr, "no /usr/bin/autoreconf: the autotools build of "
                        "the sample is not tried\n");
        skip();
    }
    dir = copy_sample(f, "auto");
    sh_author(f, fx_printf(f, "cd '%s' && autoreconf -fi", dir));
    assert_ran(f, "autoreconf");

    /* configure in the sample's own folder would replace its plain
     * Makefile: refused. */
    sh_author(f, fx_printf(f, "cd '%s' && ./configure -q", dir));
    assert_int_equal(f->p.status, 1);
    assert_non_null(strstr(f->p.err,
                           "configure: error: run configure from another "
                           "folder (mkdir build && cd build && "
                           "../configure): the Makefile here is the plain "
                           "build's\n"));
    assert_string_equal(fx_keep(f, tu_read(fx_printf(f, "%s/Makefile", dir))),
                        fx_keep(f, tu_read(SAMPLE_SRC "/Makefile")));

    sh_author(f, fx_printf(f,
                           "cd '%s' && mkdir build && cd build && "
                           "../configure -q && make -s && make -s install",
                           dir));
    assert_ran(f, "configure, make, make install");
    /* libtool's module, exporting the descriptor alone, without the .la
     * that jobexec has no use for. */
    assert_int_equal(stat(module, &st), 0);
    assert_int_equal(stat(fx_printf(f, "%s/greet.la", inst.plugins), &st),
                     -1);
    assert_exports_descriptor_only(f, module);

    plugin_check(f, module, "{isolation: inproc}",
                 "{step_type: greet, target: world}");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, check_output(f, module, "accepted"));
    assert_greets(f, "greet");

    sh_author(f, fx_printf(f, "cd '%s/build' && make -s uninstall", dir));
    assert_ran(f, "make uninstall");
    assert_int_equal(stat(module, &st), -1);
}

/* ---- what the sample refuses, and a build that cannot find jobexec ------- */

static void test_sample_refusals(void **state)
{
    fixture *f = *state;
    const char *dir = copy_sample(f, "refusals");
    const char *module = fx_printf(f, "%s/greet.so", dir);

    /* The source is strict C99, clean under the core's own warnings. */
    run_author(f, NULL,
               (const char *const[]){"/usr/bin/make", "-s", "-C", dir,
                                     "CFLAGS=-std=c99 -pedantic -Wall "
                                     "-Wextra -Wshadow -Wstrict-prototypes "
                                     "-Wmissing-prototypes -Wformat=2 "
                                     "-Werror",
                                     NULL});
    assert_ran(f, "make");
    assert_string_equal(f->p.err, "");

    /* validate: no target, a greeting that is not a string. */
    plugin_check(f, module, "{isolation: inproc}", "{step_type: greet}");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.out, check_output(f, module, "refused"));
    assert_string_equal(f->p.err,
                        "jobexec: --step:1:1: step 0 refused by 'greet': "
                        "target is required: the name to greet\n");
    plugin_check(f, module, "{isolation: inproc}",
                 "{step_type: greet, target: w, parameters: {greeting: 5}}");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.err,
                        "jobexec: --step:1:1: step 0 refused by 'greet': "
                        "parameter 'greeting' must be a string\n");

    /* init: a config section it cannot use. */
    plugin_check(f, module, "{isolation: inproc, config: {default_greeting: 5}}",
                 "{step_type: greet, target: world}");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.out, "");
    assert_string_equal(f->p.err,
                        fx_printf(f,
                                  "jobexec: --config-section:1:1: plugin "
                                  "'%s': init failed: config key "
                                  "'default_greeting' must be a string\n",
                                  module));

    /* A run refuses the plan before step 0, as check would. */
    INSTALLED(f, "run", "--config", greet_config(f, module, "{}"),
              greet_plan(f, "  - step_index: 0\n"
                            "    step_type: greet\n"));
    assert_int_equal(f->p.status, 1);
    assert_string_equal(fx_cut_summary(f, GREET_JOB, "FAILED"), "");
    assert_doc(fx_doc(f), GREET_JOB, "FAILED",
               "Plan refused: step 0: refused by 'greet': target is required: the name to greet",
               0, 0);

    /* pkg-config that knows no jobexec: the plain Makefile says what to
     * set, and builds nothing. */
    run_author(f, fx_dir(f),
               (const char *const[]){"/usr/bin/make", "-s", "-C", dir,
                                     "clean", "all", NULL});
    assert_int_equal(f->p.status, 2);
    assert_non_null(strstr(f->p.err,
                           "pkg-config does not know jobexec: set "
                           "PKG_CONFIG_PATH to the folder that holds "
                           "jobexec.pc\n"));
    assert_int_equal(access(module, F_OK), -1);
}

#define SDK_TEST(name) cmocka_unit_test_setup_teardown(name, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SDK_TEST(test_sample_installed),
        SDK_TEST(test_sample_make),
        SDK_TEST(test_sample_autotools),
        SDK_TEST(test_sample_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
