/*
 * plugin.c - `jobexec plugin check FILE`: what a plugin author runs before
 * shipping.  The module is loaded by an executor built from a config of
 * that one plugin (jx_config_parse_plugin), so the file checks, the
 * descriptor and ABI checks, the isolation decision and init are the
 * loader's own, not a copy; validate is asked through jx_executor_check,
 * and a step runs through jx_executor_run, in a runner.
 *
 * Exit status: 0 all good; 1 the plugin's own code said no (init failed,
 * validate refused, the step failed, crashed or timed out); 2 nothing of
 * the plugin could be judged (bad usage or YAML, a file that is missing,
 * unsafe, not a module, or not a step_handler_v1 this jobexec loads, a
 * step type it does not handle); 3 internal error.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

/* What the YAML options may hold: a document up to this size. */
#define MAX_YAML_ARG (1024 * 1024)

static void usage_plugin(FILE *fp)
{
    fprintf(fp,
            "Usage: %s plugin check FILE [--config-section YAML] "
            "[--step YAML [--run]]\n"
            "Load the plugin module FILE as the executor would (file "
            "checks, descriptor,\nABI, init), print its descriptor, and "
            "with --step ask its validate about\nthat step; with --run also "
            "run the step, in a jobexec-runner process.\n"
            "\n"
            "Options:\n"
            "  --config-section YAML  the plugin's entry as it would stand "
            "under plugins:\n"
            "                         in the config (step_types, config, "
            "isolation,\n"
            "                         runners; path is FILE)\n"
            "  --step YAML            one step as it would stand under "
            "steps: in a plan\n"
            "                         (step_type, target, parameters, ...; "
            "step_index\n"
            "                         optional)\n"
            "  --run                  run the step (isolated, whatever the "
            "section says)\n"
            "  -v, --verbose          show the plugin's log messages of "
            "every level\n"
            "YAML is the text itself, or @PATH to read it from a file.  A "
            "relative FILE\nis taken from the current folder; \".so\" is "
            "added to a name without a dot.\n"
            "\n"
            "Exit status: 0 all good, 1 the plugin refused or failed (init, "
            "validate,\nthe step), 2 bad usage or YAML, or a file that is "
            "not a plugin this\njobexec loads, 3 internal error.\n",
            prog);
}

/* Exit status for a failure of the library: the plugin's code ran and
 * said no (1), or the input was not something to judge (2). */
static int exit_for(int code)
{
    switch (code) {
    case JX_EINIT:
    case JX_EREFUSED:
        return EXIT_JOB_FAILED;
    case JX_ECONFIG:
    case JX_EPLAN:
    case JX_ELIMIT:
    case JX_ELOAD:
    case JX_EABI:
    case JX_EINVAL:
        return EXIT_USAGE;
    default:
        return EXIT_INTERNAL;
    }
}

static int report(const jx_error *err)
{
    jx__cli_print_line(stderr, "%s: %s", prog, err->message);
    return exit_for(err->code);
}

/* A failure to load: without --config-section, the entry's position
 * ("--config-section:1:1: ") names nothing the user wrote. */
static int report_open(jx_error *err, int had_section)
{
    static const char unwritten[] = "--config-section:1:1: ";
    size_t n = sizeof unwritten - 1;

    if (!had_section && strncmp(err->message, unwritten, n) == 0)
        memmove(err->message, err->message + n,
                strlen(err->message + n) + 1);
    return report(err);
}

/* An option's YAML: the text itself, or the file @PATH names.  *name is
 * what messages call it.  *text is the caller's to free(). */
static int yaml_arg(const char *value, const char *option, char **text,
                    size_t *len, const char **name)
{
    FILE *fp;
    size_t n;

    *name = option;
    if (value[0] != '@') {
        *len = strlen(value);
        return (*text = strdup(value)) != NULL ? 0 : EXIT_INTERNAL;
    }
    *name = value + 1;
    if ((fp = fopen(value + 1, "r")) == NULL) {
        fprintf(stderr, "%s: %s: cannot read: %s\n", prog, value + 1,
                strerror(errno));
        return EXIT_USAGE;
    }
    if ((*text = malloc(MAX_YAML_ARG + 1)) == NULL) {
        fclose(fp);
        return EXIT_INTERNAL;
    }
    n = fread(*text, 1, MAX_YAML_ARG + 1, fp);
    fclose(fp);
    if (n > MAX_YAML_ARG) {
        fprintf(stderr, "%s: %s: more than %d bytes\n", prog, value + 1,
                MAX_YAML_ARG);
        free(*text);
        *text = NULL;
        return EXIT_USAGE;
    }
    (*text)[n] = '\0';
    *len = n;
    return 0;
}

/* FILE as the loader gets it: absolute, as a config would name it. */
static char *absolute(const char *file)
{
    char cwd[PATH_MAX];
    char *out;

    if (file[0] == '/')
        return strdup(file);
    if (getcwd(cwd, sizeof cwd) == NULL)
        return NULL;
    return asprintf(&out, "%s/%s", cwd, file) < 0 ? NULL : out;
}

/* An executor of the one plugin the section describes (isolated: forced
 * into a runner), loaded and initialised by the library's loader. */
static int open_plugin(const char *file, const char *section, size_t len,
                       const char *name, unsigned flags, unsigned ex_flags,
                       jx_executor **ex, jx_error *err)
{
    jx_config *cfg;
    int rc = jx_config_parse_plugin(section, len, name, file,
                                    jx__cli_plugin_dir(), flags, &cfg, err);

    if (rc != 0)
        return rc;
    jx__cli_tree_runner(cfg);
    rc = jx_executor_open(cfg, ex_flags, ex, err);
    jx_config_free(cfg);
    return rc;
}

static void print_descriptor(const jx_plugin_info *info)
{
    jx__cli_print_line(stdout, "plugin: %s %s (abi %u)", info->name,
                       info->version, info->abi_version);
    jx__cli_print_line(stdout, "file: %s", info->path);
    if (info->isolated)
        jx__cli_print_line(stdout, "runs: isolated (%u runner%s as %s)",
                           info->runners, info->runners == 1 ? "" : "s",
                           info->runner_user != NULL ? info->runner_user
                                                     : "?");
    else
        printf("runs: in-process\n");
    /* An isolated plugin's descriptor stays in its runner, which serves
     * one step at a time: its flags change nothing there. */
    if (info->isolated)
        printf("flags: not read (isolated)\n");
    else
        printf("flags: %s\n", info->thread_safe ? "thread-safe" : "none");
    printf("step types:");
    for (size_t k = 0; info->step_types != NULL && info->step_types[k];
         k++) {
        putchar(' ');
        jx__cli_print_width(stdout, info->step_types[k], SIZE_MAX);
    }
    printf(info->step_types != NULL && info->step_types[0] ? "\n"
                                                           : " (none)\n");
    printf("init: OK\n");
}

static int handles(const jx_plugin_info *info, const char *type)
{
    for (size_t k = 0; info->step_types != NULL && info->step_types[k]; k++)
        if (strcmp(info->step_types[k], type) == 0)
            return 1;
    return 0;
}

/* The step's entry of the evidence document: what to print of the run. */
static int print_result(const jx_result *res, const char *doc_text,
                        const char *type)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    json_t *step = json_array_get(json_object_get(doc, "step_results"), 0);
    json_t *output = json_object_get(step, "output");
    const char *error = json_string_value(json_object_get(step, "error"));
    const char *errout = json_string_value(json_object_get(step, "stderr"));
    char *out_text = output != NULL && !json_is_null(output)
                         ? json_dumps(output, JSON_COMPACT | JSON_SORT_KEYS)
                         : NULL;
    int ok = jx_result_status(res) == JX_JOB_COMPLETED;

    if (ok)
        jx__cli_print_line(stdout, "run: COMPLETED (%s, %.6f s)", type,
                           jx_result_duration_seconds(res));
    else
        jx__cli_print_line(stdout, "run: %s: %s", jx_result_status_name(res),
                           error != NULL ? error : jx_result_reason(res));
    if (out_text != NULL)
        jx__cli_print_line(stdout, "output: %s", out_text);
    if (errout != NULL && errout[0] != '\0')
        jx__cli_print_line(stdout, "stderr: %s", errout);
    free(out_text);
    json_decref(doc);
    return ok ? EXIT_COMPLETED : EXIT_JOB_FAILED;
}

/* Runs the plan's one step in a runner: the plugin as ex has it when it is
 * isolated already, else a second load of it, isolated. */
static int run_step(jx_executor *ex, int isolated, const char *file,
                    const char *section, size_t len, const char *name,
                    const jx_plan *plan)
{
    jx_run_options opts = JX_RUN_OPTIONS_INIT;
    jx_executor *iso = NULL;
    jx_result *res = NULL;
    jx_error err = {0, ""};
    char *doc = NULL;
    size_t doc_len = 0;
    int rc;

    if (!isolated && open_plugin(file, section, len, name,
                                 JX_CONFIG_PLUGIN_ISOLATED, 0, &iso,
                                 &err) != 0)
        return report_open(&err, section != NULL);
    if ((opts.document = open_memstream(&doc, &doc_len)) == NULL) {
        jx_executor_free(iso);
        return EXIT_INTERNAL;
    }
    rc = jx_executor_run(iso != NULL ? iso : ex, plan, &opts, &res, &err);
    fclose(opts.document);
    if (rc != 0)
        rc = report(&err);
    else
        rc = print_result(res, doc, jx_plan_step_type(plan, 0));
    jx_result_free(res);
    free(doc);
    jx_executor_free(iso);
    return rc;
}

/* Validate, and with --run the step itself, for the step o->step gives. */
static int check_step(const options *o, jx_executor *ex,
                      const jx_plugin_info *info, const char *file,
                      const char *section, size_t len, const char *name)
{
    const char *step_name;
    char *text = NULL;
    size_t text_len = 0;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};
    int rc = yaml_arg(o->step, "--step", &text, &text_len, &step_name);

    if (rc != 0)
        return rc;
    rc = jx_plan_parse_step(text, text_len, step_name, &plan, &err);
    free(text);
    if (rc != 0)
        return report(&err);
    if (!handles(info, jx_plan_step_type(plan, 0))) {
        jx__cli_print_line(stderr, "%s: %s: step type '%s' is not one that "
                                   "'%s' handles; bind it with step_types "
                                   "in --config-section",
                           prog, step_name, jx_plan_step_type(plan, 0),
                           info->name);
        jx_plan_free(plan);
        return EXIT_USAGE;
    }
    if (jx_executor_check(ex, plan, &err) != 0) {
        printf("validate: refused\n");
        jx_plan_free(plan);
        return report(&err);
    }
    printf("validate: accepted\n");
    rc = o->run ? run_step(ex, info->isolated, file, section, len, name, plan)
                : EXIT_COMPLETED;
    jx_plan_free(plan);
    return rc;
}

static int cmd_plugin(const options *o)
{
    const char *name = "--config-section";
    char *section = NULL, *file = NULL;
    size_t len = 0;
    jx_executor *ex = NULL;
    jx_plugin_info info;
    jx_error err = {0, ""};
    int rc;

    if (strcmp(o->operand, "check") != 0)
        return jx__cli_usage_error("plugin", "unknown plugin command '%s' "
                                             "(check)", o->operand);
    if (o->run && o->step == NULL)
        return jx__cli_usage_error("plugin", "--run needs --step");
    if (o->config_section != NULL &&
        (rc = yaml_arg(o->config_section, "--config-section", &section,
                       &len, &name)) != 0)
        return rc;
    if ((file = absolute(o->operand2)) == NULL) {
        free(section);
        return EXIT_INTERNAL;
    }
    /* Not check-only when a step will run: ex may be the one it runs on. */
    rc = open_plugin(file, section, len, name, 0,
                     o->run ? 0 : JX_EXECUTOR_CHECK_ONLY, &ex, &err);
    if (rc != 0)
        rc = report_open(&err, section != NULL);
    else if (jx_executor_plugin_info(ex, 0, &info) != 0)
        rc = EXIT_INTERNAL;
    else {
        print_descriptor(&info);
        rc = o->step != NULL ? check_step(o, ex, &info, file, section, len,
                                          name)
                             : EXIT_COMPLETED;
    }
    jx_executor_free(ex);
    free(file);
    free(section);
    return rc;
}

static const struct option plugin_options[] = {
    {"config-section", required_argument, NULL, JX__OPT_CONFIG_SECTION},
    {"step", required_argument, NULL, JX__OPT_STEP},
    {"run", no_argument, NULL, JX__OPT_RUN},
    JX__CLI_OPT_VERBOSE,
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_plugin = {
    "plugin", cmd_plugin, usage_plugin, 2, 2,
    "missing what to do and the module: plugin check FILE", ":vhV",
    plugin_options,
};
