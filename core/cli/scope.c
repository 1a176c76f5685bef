/*
 * scope.c - `jobexec scope create|list|show|revoke`: the bound execution
 * scopes that `jobexec run --scope` must pass, in the store the config's
 * scopes.db names (or --db).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_scope(FILE *fp)
{
    fprintf(fp,
            "Usage: %s scope create --incident ID --action A [--action B "
            "...]\n"
            "           [--max-attempts N] [--ttl SECONDS] [--intent TEXT]"
            " [--max-cost USD]\n"
            "           [--created-by NAME]\n"
            "       %s scope list [--json]\n"
            "       %s scope show ID [--json]\n"
            "       %s scope revoke ID\n"
            "\n"
            "A scope binds an incident, the actions allowed, how many runs "
            "(max attempts,\ndefault 1) and until when (ttl, default 300 s)."
            "  `%s run --scope ID\n--incident ID --action A PLAN` runs only "
            "when the scope is active, not expired,\nnot exhausted, bound to"
            " that incident and allows that action, and uses one\nattempt. "
            "create prints the new scope's id.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   the config whose scopes.db holds the "
            "scopes\n"
            "  -d, --db FILE       the scope store itself\n"
            "      --json          JSON instead of lines (list, show)\n"
            "\n"
            "Exit status: 0 done, 2 bad usage or no such scope, 3 internal "
            "error.\n",
            prog, prog, prog, prog, prog);
}

static jx_scope_store *open_store(const options *o)
{
    jx_config *cfg = NULL;
    jx_scope_store *s = NULL;
    jx_error err = {0, ""};
    const char *path = o->db;

    if (path == NULL) {
        if (jx__cli_load_config(o, &cfg, &err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            return NULL;
        }
        if ((path = jx_config_scopes_db(cfg)) == NULL) {
            fprintf(stderr, "%s: the config in effect sets no scopes.db "
                            "(give --db FILE)\n",
                    prog);
            jx_config_free(cfg);
            return NULL;
        }
    }
    if (jx_scope_store_open(path, &s, &err) != 0)
        fprintf(stderr, "%s: %s\n", prog, err.message);
    jx_config_free(cfg);
    return s;
}

/* A whole unsigned number in [min, max], or -1 with a message. */
static long long number(const char *text, const char *option, long long min,
                        long long max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s '%s' must be a whole number from %lld to "
                        "%lld\n",
                prog, option, text, min, max);
        return -1;
    }
    return v;
}

static int create(const options *o, jx_scope_store *s)
{
    jx_scope_spec spec = {o->incident, NULL, 0, 0, -1, o->intent,
                          o->created_by};
    const char *actions[33];
    jx_error err = {0, ""};
    char id[37];
    long long n;

    if (o->incident == NULL || o->n_actions == 0) {
        fprintf(stderr, "%s: scope create needs --incident ID and at least "
                        "one --action A\n",
                prog);
        return EXIT_USAGE;
    }
    memcpy(actions, o->actions, o->n_actions * sizeof *actions);
    actions[o->n_actions] = NULL;
    spec.actions = actions;
    if (o->max_attempts != NULL) {
        if ((n = number(o->max_attempts, "--max-attempts", 1, 1000000)) < 0)
            return EXIT_USAGE;
        spec.max_attempts = (unsigned)n;
    }
    if (o->ttl != NULL) {
        if ((n = number(o->ttl, "--ttl", 1, 31536000)) < 0)
            return EXIT_USAGE;
        spec.ttl_seconds = (unsigned)n;
    }
    if (o->max_cost != NULL) {
        char *end;
        spec.max_cost_usd = strtod(o->max_cost, &end);
        if (end == o->max_cost || *end != '\0' || !(spec.max_cost_usd >= 0)) {
            fprintf(stderr, "%s: --max-cost '%s' must be a number of USD, 0 "
                            "or more\n",
                    prog, o->max_cost);
            return EXIT_USAGE;
        }
    }
    if (jx_scope_create(s, &spec, id, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return err.code == JX_EINVAL ? EXIT_USAGE : EXIT_INTERNAL;
    }
    printf("%s\n", id);
    return EXIT_COMPLETED;
}

/* list and show: JSON as the store gives it, or a line per scope. */
static int show(const options *o, jx_scope_store *s, const char *id)
{
    jx_error err = {0, ""};
    char *text;
    json_t *v, *one;
    size_t i;

    if (jx_scope_json(s, id, &text, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return err.code == JX_EINVAL ? EXIT_USAGE : EXIT_INTERNAL;
    }
    if (o->json) {
        printf("%s\n", text);
        free(text);
        return EXIT_COMPLETED;
    }
    v = json_loads(text, 0, NULL);
    free(text);
    if (json_is_object(v)) {
        one = json_array();
        json_array_append(one, v);
        json_decref(v);
        v = one;
    }
    json_array_foreach(v, i, one) {
        char *actions = json_dumps(json_object_get(one, "actions"),
                                   JSON_COMPACT);
        jx__cli_print_line(
            stdout, "%s  %-9s  incident %s  actions %s  attempts %lld/%lld  "
                    "expires %s%s%s",
            json_string_value(json_object_get(one, "id")),
            json_string_value(json_object_get(one, "status")),
            json_string_value(json_object_get(one, "incident_id")),
            actions != NULL ? actions : "?",
            (long long)json_integer_value(json_object_get(one,
                                                          "attempts_used")),
            (long long)json_integer_value(json_object_get(one,
                                                          "max_attempts")),
            json_string_value(json_object_get(one, "expires_at")),
            json_is_string(json_object_get(one, "intent")) ? "  intent: " : "",
            json_is_string(json_object_get(one, "intent"))
                ? json_string_value(json_object_get(one, "intent"))
                : "");
        free(actions);
    }
    json_decref(v);
    return EXIT_COMPLETED;
}

static int cmd_scope(const options *o)
{
    static const char *const verbs[] = {"create", "list", "show", "revoke"};
    int verb = -1, rc;
    jx_scope_store *s;
    jx_error err = {0, ""};

    for (int i = 0; i < 4; i++)
        if (strcmp(o->operand, verbs[i]) == 0)
            verb = i;
    if (verb < 0) {
        fprintf(stderr, "%s: unknown scope command '%s' (create, list, show, "
                        "revoke)\nTry '%s scope --help' for more "
                        "information.\n",
                prog, o->operand, prog);
        return EXIT_USAGE;
    }
    if ((verb >= 2) != (o->operand2 != NULL)) {
        fprintf(stderr, "%s: scope %s %s\nTry '%s scope --help' for more "
                        "information.\n",
                prog, verbs[verb], verb >= 2 ? "needs the scope's ID"
                                             : "takes no ID",
                prog);
        return EXIT_USAGE;
    }
    if ((s = open_store(o)) == NULL)
        return EXIT_USAGE;
    if (verb == 0)
        rc = create(o, s);
    else if (verb == 3)
        rc = jx_scope_revoke(s, o->operand2, &err) == 0
                 ? EXIT_COMPLETED
                 : (fprintf(stderr, "%s: %s\n", prog, err.message),
                    err.code == JX_EINVAL ? EXIT_USAGE : EXIT_INTERNAL);
    else
        rc = show(o, s, o->operand2);
    jx_scope_store_close(s);
    return rc;
}

static const struct option scope_options[] = {
    {"incident", required_argument, NULL, JX__OPT_INCIDENT},
    {"action", required_argument, NULL, JX__OPT_ACTION},
    {"max-attempts", required_argument, NULL, JX__OPT_MAX_ATTEMPTS},
    {"ttl", required_argument, NULL, JX__OPT_TTL},
    {"intent", required_argument, NULL, JX__OPT_INTENT},
    {"max-cost", required_argument, NULL, JX__OPT_MAX_COST},
    {"created-by", required_argument, NULL, JX__OPT_CREATED_BY},
    {"db", required_argument, NULL, 'd'},
    {"json", no_argument, NULL, 'J'},
    JX__CLI_OPT_CONFIG,
    JX__CLI_OPT_HELP,
    JX__CLI_OPT_VERSION,
    JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_scope = {
    "scope", cmd_scope, usage_scope, 1, 2,
    "missing what to do: scope create|list|show|revoke", ":c:d:hV",
    scope_options,
};
