/*
 * test_config.c - reading the ops config: plugin path resolution, step
 * types, plugin config sections, health and evidence settings, and every
 * refusal with code JX_ECONFIG and its exact "NAME:LINE:COL: reason".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "input/config_file.h"
#include "testutil.h"

#define NAME "jobexec.yaml"
#define DIR "/opt/jx/plugins"
#define DEFAULT_DIR "/default/plugins"

#ifndef LT_MODULE_EXT
#define LT_MODULE_EXT ".so"
#endif

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    jx_config *cfg;
    jx_config *cfg2;
    json_t *expected;
    jx_error err;
    char *dir;
    char *path;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    jx_config_free(f->cfg);
    jx_config_free(f->cfg2);
    json_decref(f->expected);
    tu_temp_free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static jx_config *parse_with(fixture *f, const char *text,
                             const char *default_dir)
{
    int rc;

    jx_config_free(f->cfg);
    f->cfg = NULL;
    rc = jx_config_parse(text, strlen(text), NAME, default_dir, &f->cfg,
                         &f->err);
    if (rc != 0)
        fail_msg("unexpected failure: %s", f->err.message);
    assert_non_null(f->cfg);
    return f->cfg;
}

static jx_config *parse_ok(fixture *f, const char *text)
{
    return parse_with(f, text, DEFAULT_DIR);
}

/* Asserts that text is refused with code and exactly message. */
static void parse_fails_code(fixture *f, const char *text, int code,
                             const char *message)
{
    jx_config *cfg = (jx_config *)&cfg; /* must be reset to NULL */
    int rc;

    memset(&f->err, 0, sizeof f->err);
    rc = jx_config_parse(text, strlen(text), NAME, DEFAULT_DIR, &cfg,
                         &f->err);
    if (rc == 0)
        f->cfg2 = cfg; /* freed by the teardown */
    assert_int_equal(rc, code);
    assert_int_equal(f->err.code, code);
    assert_string_equal(f->err.message, message);
    assert_null(cfg);
}

#define CONFIG_FAILS(f, text, message)                                       \
    parse_fails_code(f, text, JX_ECONFIG, message)

static const jx__plugin_conf *plugin(const jx_config *cfg, size_t i)
{
    assert_true(i < cfg->n_plugins);
    return &cfg->plugins[i];
}

/* ---- plugin paths ------------------------------------------------------- */

static void test_relative_path_under_plugin_dir(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugin_dir: " DIR "\n"
                                 "plugins:\n"
                                 "  - path: noop\n"
                                 "  - path: sub/fail\n"
                                 "  - path: ./x\n");

    assert_string_equal(cfg->name, NAME);
    assert_string_equal(cfg->plugin_dir, DIR);
    assert_int_equal(cfg->n_plugins, 3);
    assert_string_equal(plugin(cfg, 0)->path_written, "noop");
    assert_string_equal(plugin(cfg, 0)->path, DIR "/noop" LT_MODULE_EXT);
    assert_string_equal(plugin(cfg, 1)->path, DIR "/sub/fail" LT_MODULE_EXT);
    assert_string_equal(plugin(cfg, 2)->path, DIR "/./x" LT_MODULE_EXT);
    /* Each entry remembers where its path stands, for later messages. */
    assert_int_equal(plugin(cfg, 0)->line, 3);
    assert_int_equal(plugin(cfg, 0)->col, 11);
    assert_int_equal(plugin(cfg, 1)->line, 4);
}

static void test_absolute_path_kept(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugin_dir: " DIR "\n"
                                 "plugins:\n"
                                 "  - path: /usr/lib/x/noop.so\n"
                                 "  - path: /usr/lib/x/bare\n"
                                 "  - {path: /srv/../lib/y.so}\n");

    assert_string_equal(plugin(cfg, 0)->path, "/usr/lib/x/noop.so");
    /* Absolute, but without an extension: the platform's is added. */
    assert_string_equal(plugin(cfg, 1)->path,
                        "/usr/lib/x/bare" LT_MODULE_EXT);
    /* '..' is only refused where it could climb out of plugin_dir. */
    assert_string_equal(plugin(cfg, 2)->path, "/srv/../lib/y.so");
}

static void test_explicit_extension_kept(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugin_dir: " DIR "\n"
                                 "plugins:\n"
                                 "  - path: noop.la\n"
                                 "  - path: lib.d/fail\n"
                                 "  - path: a..b\n");

    assert_string_equal(plugin(cfg, 0)->path, DIR "/noop.la");
    /* A dot in a folder name is not an extension. */
    assert_string_equal(plugin(cfg, 1)->path, DIR "/lib.d/fail" LT_MODULE_EXT);
    /* ".." inside a name is no parent folder. */
    assert_string_equal(plugin(cfg, 2)->path, DIR "/a..b");
}

static void test_default_plugin_dir(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins:\n  - path: noop\n");

    assert_string_equal(cfg->plugin_dir, DEFAULT_DIR);
    assert_string_equal(plugin(cfg, 0)->path,
                        DEFAULT_DIR "/noop" LT_MODULE_EXT);
    /* The file's own plugin_dir wins over the default. */
    cfg = parse_ok(f, "plugin_dir: " DIR "\nplugins:\n  - path: noop\n");
    assert_string_equal(plugin(cfg, 0)->path, DIR "/noop" LT_MODULE_EXT);
}

static void test_installed_plugin_dir_when_null(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_with(f, "plugins:\n  - path: noop\n", NULL);
    char *want;

    assert_non_null(jx_default_plugin_dir());
    assert_string_equal(cfg->plugin_dir, jx_default_plugin_dir());
    assert_true(asprintf(&want, "%s/noop%s", jx_default_plugin_dir(),
                         LT_MODULE_EXT) > 0);
    assert_string_equal(plugin(cfg, 0)->path, want);
    free(want);
}

/* ---- step types and plugin config --------------------------------------- */

static void test_step_types(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins:\n"
                                 "  - path: noop\n"
                                 "    step_types: [capability_enable, b]\n"
                                 "  - path: fail\n"
                                 "    step_types:\n"
                                 "      - always_fails\n"
                                 "  - path: other\n"
                                 "    step_types: []\n");

    assert_int_equal(plugin(cfg, 0)->n_step_types, 2);
    assert_string_equal(plugin(cfg, 0)->step_types[0], "capability_enable");
    assert_string_equal(plugin(cfg, 0)->step_types[1], "b");
    assert_null(plugin(cfg, 0)->step_types[2]);
    assert_int_equal(plugin(cfg, 1)->n_step_types, 1);
    assert_string_equal(plugin(cfg, 1)->step_types[0], "always_fails");
    assert_int_equal(plugin(cfg, 2)->n_step_types, 0);
    assert_null(plugin(cfg, 2)->step_types[0]);
}

static void test_no_step_types(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins:\n  - path: noop\n");

    assert_int_equal(plugin(cfg, 0)->n_step_types, 0);
}

static void test_config_section(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins:\n"
                                 "  - path: fail\n"
                                 "    config: {error_message: \"Boom\", n: 3,"
                                 " on: true, l: [1, \"2\"]}\n"
                                 "  - path: noop\n"
                                 "    config:\n"
                                 "  - path: other\n"
                                 "  - path: last\n"
                                 "    config: {}\n");

    f->expected = json_pack("{s:s, s:i, s:b, s:[i, s]}", "error_message",
                            "Boom", "n", 3, "on", 1, "l", 1, "2");
    assert_non_null(f->expected);
    assert_true(json_equal(plugin(cfg, 0)->config, f->expected));
    /* "config:" with nothing after it, no config, and {} are all {}. */
    for (size_t i = 1; i < 4; i++) {
        assert_true(json_is_object(plugin(cfg, i)->config));
        assert_int_equal(json_object_size(plugin(cfg, i)->config), 0);
    }
}

/* ---- health and evidence ------------------------------------------------ */

static void test_health_and_evidence(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins:\n"
                                 "  - path: health_static\n"
                                 "health:\n"
                                 "  observer: health_static\n"
                                 "evidence:\n"
                                 "  log: /var/lib/jobexec/evidence.jsonl\n");

    assert_string_equal(cfg->health_observer, "health_static");
    assert_int_equal(cfg->health_line, 4);
    assert_int_equal(cfg->health_col, 13);
    assert_string_equal(cfg->evidence_log, "/var/lib/jobexec/evidence.jsonl");
}

static void test_health_and_evidence_absent(void **state)
{
    fixture *f = *state;
    jx_config *cfg = parse_ok(f, "plugins: []\n");

    assert_int_equal(cfg->n_plugins, 0);
    assert_null(cfg->health_observer);
    assert_null(cfg->evidence_log);
    /* Present but empty sections set nothing either. */
    cfg = parse_ok(f, "health: {}\nevidence: {}\n");
    assert_null(cfg->health_observer);
    assert_null(cfg->evidence_log);
}

/* ---- refusals ----------------------------------------------------------- */

static void test_unknown_top_level_key(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins: []\nplugin: []\n",
                 NAME ":2:1: unknown key 'plugin' in the config");
    CONFIG_FAILS(f, "# ops config\nplugin_directory: /x\n",
                 NAME ":2:1: unknown key 'plugin_directory' in the config");
}

static void test_unknown_plugin_key(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_type: [a]\n",
                 NAME ":3:5: unknown key 'step_type' in a plugin entry");
}

static void test_unknown_health_key(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "health:\n  observer: x\n  observers: y\n",
                 NAME ":3:3: unknown key 'observers' in health");
}

static void test_unknown_evidence_key(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "evidence:\n  logfile: /x\n",
                 NAME ":2:3: unknown key 'logfile' in evidence");
}

static void test_sections_not_mappings(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "health: health_static\n",
                 NAME ":1:9: health must be a mapping, found a scalar");
    CONFIG_FAILS(f, "evidence: [/x]\n",
                 NAME ":1:11: evidence must be a mapping, found a sequence");
    CONFIG_FAILS(f, "health:\n  observer: \"\"\n",
                 NAME ":2:13: observer must not be empty");
    CONFIG_FAILS(f, "evidence:\n  log: [a]\n",
                 NAME ":2:8: evidence.log must be a value, found a sequence");
}

static void test_plugin_dir_relative(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugin_dir: lib/plugins\n",
                 NAME ":1:13: plugin_dir 'lib/plugins' must be an absolute "
                      "path");
    CONFIG_FAILS(f, "plugin_dir: \"\"\n",
                 NAME ":1:13: plugin_dir must not be empty");
}

static void test_plugins_not_sequence(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins: noop\n",
                 NAME ":1:10: plugins must be a sequence, found a scalar");
    CONFIG_FAILS(f, "plugins:\n  path: noop\n",
                 NAME ":2:3: plugins must be a sequence, found a mapping");
}

/* "plugins:" with nothing after it is no plugins, as "steps:" is no steps. */
static void test_plugins_empty(void **state)
{
    fixture *f = *state;
    assert_int_equal(jx_config_parse("plugins:\n", 9, NAME, "/p", &f->cfg,
                                     &f->err),
                     0);
    assert_int_equal(f->cfg->n_plugins, 0);
}

static void test_plugin_entry_not_mapping(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n  - fail\n",
                 NAME ":3:5: a plugin entry must be a mapping, found a "
                      "scalar");
    CONFIG_FAILS(f, "plugins: [[noop]]\n",
                 NAME ":1:11: a plugin entry must be a mapping, found a "
                      "sequence");
}

static void test_missing_path(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - step_types: [a]\n",
                 NAME ":2:5: plugin entry has no 'path'");
}

static void test_empty_path(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: \"\"\n",
                 NAME ":2:11: path must not be empty");
    CONFIG_FAILS(f, "plugins:\n  - path:\n",
                 NAME ":2:10: path must not be empty");
    CONFIG_FAILS(f, "plugins:\n  - path: {a: b}\n",
                 NAME ":2:11: path must be a value, found a mapping");
}

static void test_dotdot_in_relative_path(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: ../evil\n",
                 NAME ":2:11: plugin path '../evil' may not leave "
                      "plugin_dir with '..'");
    CONFIG_FAILS(f, "plugins:\n  - path: a/../../evil.so\n",
                 NAME ":2:11: plugin path 'a/../../evil.so' may not leave "
                      "plugin_dir with '..'");
    CONFIG_FAILS(f, "plugins:\n  - path: sub/..\n",
                 NAME ":2:11: plugin path 'sub/..' may not leave "
                      "plugin_dir with '..'");
}

static void test_path_names_folder(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: dir/\n",
                 NAME ":2:11: plugin path 'dir/' names a folder");
    CONFIG_FAILS(f, "plugins:\n  - path: /usr/lib/\n",
                 NAME ":2:11: plugin path '/usr/lib/' names a folder");
}

static void test_step_types_not_sequence(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_types: a\n",
                 NAME ":3:17: step_types must be a sequence, found a scalar");
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_types: {a: 1}\n",
                 NAME ":3:17: step_types must be a sequence, found a "
                      "mapping");
}

static void test_step_type_entries(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_types: [a, \"\"]\n",
                 NAME ":3:21: a step type must not be empty");
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_types: [a, [b]]\n",
                 NAME ":3:21: a step type must be a value, found a sequence");
    /* "[a b]" for "[a, b]": one type no plan could name. */
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    step_types: [a b]\n",
                 NAME ":3:18: step type 'a b' contains white space (a "
                      "missing comma?)");
}

static void test_config_not_mapping(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    config: [1, 2]\n",
                 NAME ":3:13: config must be a mapping, found a sequence");
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    config: verbose\n",
                 NAME ":3:13: config must be a mapping, found a scalar");
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n    config: \"\"\n",
                 NAME ":3:13: config must be a mapping, found a scalar");
}

static void test_config_bad_value(void **state)
{
    fixture *f = *state;
    /* A fault inside the section is a config error like any other. */
    CONFIG_FAILS(f, "plugins:\n  - path: noop\n"
                    "    config: {n: 99999999999999999999}\n",
                 NAME ":3:17: integer out of range: 99999999999999999999");
}

static void test_config_not_mapping_root(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "- path: noop\n",
                 NAME ":1:1: the config must be a mapping, found a sequence");
    CONFIG_FAILS(f, "noop\n",
                 NAME ":1:1: the config must be a mapping, found a scalar");
}

/* Faults of the document itself carry the config's code too. */
static void test_document_faults_are_config_errors(void **state)
{
    fixture *f = *state;
    CONFIG_FAILS(f, "plugins: []\nplugins: []\n",
                 NAME ":2:1: duplicate key 'plugins'");
    CONFIG_FAILS(f, "plugins:\n  - &p {path: noop}\n",
                 NAME ":2:5: anchors and aliases are not allowed");
    CONFIG_FAILS(f, "plugins: [\n",
                 NAME ":2:1: did not find expected node content while "
                      "parsing a flow node");
    CONFIG_FAILS(f, "plugins: []\n---\nplugins: []\n",
                 NAME ":2:1: more than one document");
    CONFIG_FAILS(f, "", NAME ":1:1: the document is empty");
}

/* A limit stays a limit: the code says which kind of fault it is. */
static void test_config_depth_limit(void **state)
{
    fixture *f = *state;
    char text[128];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "plugins:\n  - path: noop\n    config: ");

    /* The config, plugins and the entry, then 29 more levels fit in 32:
     * the 30th bracket is one too many. */
    for (int i = 0; i < 30; i++)
        text[n++] = '[';
    text[n] = '\0';
    parse_fails_code(f, text, JX_ELIMIT,
                     NAME ":3:42: nesting deeper than 32 levels");
}

/* ---- files -------------------------------------------------------------- */

static void test_load_file(void **state)
{
    fixture *f = *state;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->path = tu_write(f->dir, "c.yaml", "plugins:\n  - path: noop\n");
    assert_non_null(f->path);
    rc = jx_config_load(f->path, DIR, &f->cfg, &f->err);
    assert_int_equal(rc, 0);
    assert_string_equal(f->cfg->name, f->path);
    assert_string_equal(plugin(f->cfg, 0)->path, DIR "/noop" LT_MODULE_EXT);
}

static void test_load_missing_file(void **state)
{
    fixture *f = *state;
    jx_config *cfg = (jx_config *)&cfg; /* must be reset to NULL */
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    assert_true(asprintf(&f->path, "%s/absent.yaml", f->dir) > 0);
    rc = jx_config_load(f->path, DIR, &cfg, &f->err);
    if (rc == 0)
        f->cfg = cfg; /* freed by the teardown */
    assert_int_equal(rc, JX_ECONFIG);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_null(cfg);
    assert_true(strncmp(f->err.message, f->path, strlen(f->path)) == 0);
    assert_string_equal(f->err.message + strlen(f->path),
                        ": cannot open: No such file or directory");
}

/* Too big a file is JX_ELIMIT, loaded or parsed alike. */
static void test_load_too_big(void **state)
{
    fixture *f = *state;
    char want[4200];
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->path = tu_write(f->dir, "big.yaml", "");
    assert_non_null(f->path);
    assert_int_equal(truncate(f->path, 1024 * 1024 + 1), 0);
    rc = jx_config_load(f->path, DIR, &f->cfg, &f->err);
    assert_int_equal(rc, JX_ELIMIT);
    assert_int_equal(f->err.code, JX_ELIMIT);
    assert_null(f->cfg);
    snprintf(want, sizeof want, "%s: larger than the limit of 1048576 bytes",
             f->path);
    assert_string_equal(f->err.message, want);
}

static void test_load_folder(void **state)
{
    fixture *f = *state;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    rc = jx_config_load(f->dir, DIR, &f->cfg, &f->err);
    assert_int_equal(rc, JX_ECONFIG);
    assert_int_equal(f->err.code, JX_ECONFIG);
    assert_null(f->cfg);
    assert_true(strncmp(f->err.message, f->dir, strlen(f->dir)) == 0);
    assert_string_equal(f->err.message + strlen(f->dir),
                        ": cannot read: Is a directory");
}

static void test_load_bad_file_names_it(void **state)
{
    fixture *f = *state;
    char *want;
    int rc;

    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    f->path = tu_write(f->dir, "c.yaml", "plugins:\n  - pth: noop\n");
    assert_non_null(f->path);
    rc = jx_config_load(f->path, DIR, &f->cfg, &f->err);
    assert_int_equal(rc, JX_ECONFIG);
    assert_true(asprintf(&want, "%s:2:5: unknown key 'pth' in a plugin entry",
                         f->path) > 0);
    assert_string_equal(f->err.message, want);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_relative_path_under_plugin_dir),
        T(test_absolute_path_kept),
        T(test_explicit_extension_kept),
        T(test_default_plugin_dir),
        T(test_installed_plugin_dir_when_null),
        T(test_step_types),
        T(test_no_step_types),
        T(test_config_section),
        T(test_health_and_evidence),
        T(test_health_and_evidence_absent),
        T(test_unknown_top_level_key),
        T(test_unknown_plugin_key),
        T(test_unknown_health_key),
        T(test_unknown_evidence_key),
        T(test_sections_not_mappings),
        T(test_plugin_dir_relative),
        T(test_plugins_not_sequence),
    T(test_plugins_empty),
        T(test_plugin_entry_not_mapping),
        T(test_missing_path),
        T(test_empty_path),
        T(test_dotdot_in_relative_path),
        T(test_path_names_folder),
        T(test_step_types_not_sequence),
        T(test_step_type_entries),
        T(test_config_not_mapping),
        T(test_config_bad_value),
        T(test_config_not_mapping_root),
        T(test_document_faults_are_config_errors),
        T(test_config_depth_limit),
        T(test_load_file),
        T(test_load_missing_file),
        T(test_load_too_big),
        T(test_load_folder),
        T(test_load_bad_file_names_it),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
