/*
 * plugins.c - `jobexec plugins`: lists the plugins the config loads.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_plugins(FILE *fp)
{
    fprintf(fp,
            "Usage: %s plugins [--config FILE] [--json]\n"
            "List the plugins the config loads: name, version, ABI, whether "
            "they run\nin-process (and are thread-safe) or isolated (how "
            "many runners, as which\nuser), the file, and the step types "
            "bound to them.\nWith --json, one JSON array of {name, version, "
            "abi_version, file,\nisolated, thread_safe, health_observer, "
            "runners, runner_user, step_types}.\n",
            prog);
}

/* One plugin as an object of the --json array. */
static json_t *plugin_json(const jx_plugin_info *info)
{
    json_t *types = json_array();

    for (size_t k = 0; info->step_types != NULL && info->step_types[k]; k++)
        json_array_append_new(types, json_string(info->step_types[k]));
    return json_pack("{s:s, s:s, s:i, s:s, s:b, s:b, s:b, s:i, s:s?, s:o}",
                     "name", info->name, "version", info->version,
                     "abi_version", (int)info->abi_version, "file",
                     info->path, "isolated", info->isolated, "thread_safe",
                     info->thread_safe, "health_observer",
                     info->is_health_observer, "runners", (int)info->runners,
                     "runner_user", info->runner_user, "step_types", types);
}

static int print_json(const jx_executor *ex)
{
    json_t *all = json_array();
    char *text;
    int rc;

    for (size_t i = 0; i < jx_executor_plugin_count(ex); i++) {
        jx_plugin_info info;
        jx_executor_plugin_info(ex, i, &info);
        json_array_append_new(all, plugin_json(&info));
    }
    text = json_dumps(all, JSON_INDENT(2));
    json_decref(all);
    rc = text != NULL && printf("%s\n", text) >= 0 ? EXIT_COMPLETED
                                                   : EXIT_INTERNAL;
    free(text);
    return rc;
}

static int cmd_plugins(const options *o)
{
    jx_executor *ex = NULL;
    jx_error err = {0, ""};

    if (jx__cli_load_executor(o, JX_EXECUTOR_CHECK_ONLY, &ex, &err) != 0)
        return jx__cli_report(&err);
    if (o->json) {
        int rc = print_json(ex);
        jx_executor_free(ex);
        return rc;
    }
    for (size_t i = 0; i < jx_executor_plugin_count(ex); i++) {
        jx_plugin_info info;
        jx_executor_plugin_info(ex, i, &info);
        if (info.isolated)
            printf("%s %s (abi %u, isolated: %u runner%s as %s)\n",
                   info.name, info.version, info.abi_version, info.runners,
                   info.runners == 1 ? "" : "s",
                   info.runner_user != NULL ? info.runner_user : "?");
        else
            printf("%s %s (abi %u, in-process%s%s)\n", info.name,
                   info.version, info.abi_version,
                   info.thread_safe ? ", thread-safe" : "",
                   info.is_health_observer ? ", health observer" : "");
        printf("  file: %s\n  step types:", info.path);
        for (size_t k = 0; info.step_types != NULL && info.step_types[k];
             k++)
            printf(" %s", info.step_types[k]);
        printf(info.step_types != NULL && info.step_types[0] ? "\n"
                                                             : " (none)\n");
    }
    jx_executor_free(ex);
    return EXIT_COMPLETED;
}

static const struct option plugins_options[] = {
    JX__CLI_OPT_CONFIG,  JX__CLI_OPT_VERBOSE, {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_HELP,    JX__CLI_OPT_VERSION, JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_plugins = {
    "plugins", cmd_plugins, usage_plugins, 0, 0, NULL, ":c:vJhV",
    plugins_options,
};
