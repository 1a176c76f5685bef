/*
 * greet.c - a complete jobexec plugin, kept small so that it can be read
 * in one sitting and copied as the start of a real one.
 *
 * It handles one step type, "greet":
 *
 *   steps:
 *     - step_index: 0
 *       step_type: greet
 *       target: world                    # who to greet (required)
 *       parameters: {greeting: Hello}    # optional, a string
 *
 * and outputs {"message": "Hello, world!"}.  Without parameters.greeting
 * the greeting is the config section's default_greeting, or "Hello":
 *
 *   plugins:
 *     - path: /usr/local/lib/jobexec/plugins/greet.so
 *       config: {default_greeting: Hi}
 *
 * What it shows, entry point by entry point:
 *   init      reads the plugin's config section, refuses a bad one, and
 *             keeps what it needs in per-instance state (no globals);
 *   validate  checks a step without side effects, so that `jobexec check`
 *             refuses a plan before anything runs;
 *   execute   reads the step, builds its output through the host and
 *             reports a failure with host->out_error;
 *   fini      frees the state.
 *
 * The only header it needs is <jobexec/step_handler_v1.h>, found with
 * `pkg-config --cflags jobexec`; a plugin links nothing of jobexec, it
 * reaches the host only through the jx_host_v1 table it is handed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobexec/step_handler_v1.h>

#define GREET_VERSION "1.0.0"
#define DEFAULT_GREETING "Hello"

/* Per-instance state: what init read from the config section.  The host
 * may open the plugin more than once (one instance per runner process),
 * so nothing lives in globals. */
typedef struct greet_state {
    char *default_greeting;
} greet_state;

/* The step types this plugin handles on its own; a config may bind more
 * to it with step_types. */
static const char *const greet_types[] = {"greet", NULL};

/* Writes a one-line reason for init or validate.  snprintf always
 * NUL-terminates, as the ABI requires. */
static int refuse(char *errbuf, size_t errbuf_len, const char *reason)
{
    snprintf(errbuf, errbuf_len, "%s", reason);
    return -1;
}

/* A copy of s, or NULL when out of memory (strdup, which strict C99 does
 * not declare). */
static char *copy_string(const char *s)
{
    size_t size = strlen(s) + 1;
    char *copy = malloc(size);

    if (copy != NULL)
        memcpy(copy, s, size);
    return copy;
}

/*
 * init: called once when the plugin is loaded (isolated: once per runner
 * process), before any step.  The config section is lent for the
 * duration of the call only, so the greeting is copied.
 */
static int greet_init(const jx_host_v1 *host, const jx_plugin_config *config,
                      void **state, char *errbuf, size_t errbuf_len)
{
    const char *greeting = host->config_string(config, "default_greeting");
    greet_state *st;

    /* config_string returns NULL both when the key is absent and when it
     * is not a string: config_json tells the two apart. */
    if (greeting == NULL &&
        host->config_json(config, "default_greeting") != NULL)
        return refuse(errbuf, errbuf_len,
                      "config key 'default_greeting' must be a string");
    if (greeting != NULL && greeting[0] == '\0')
        return refuse(errbuf, errbuf_len,
                      "config key 'default_greeting' must not be empty");

    st = malloc(sizeof *st);
    if (st == NULL)
        return refuse(errbuf, errbuf_len, "out of memory");
    st->default_greeting =
        copy_string(greeting != NULL ? greeting : DEFAULT_GREETING);
    if (st->default_greeting == NULL) {
        free(st);
        return refuse(errbuf, errbuf_len, "out of memory");
    }
    *state = st;
    return 0;
}

/*
 * validate: the same checks execute relies on, without side effects.  The
 * host calls it for every step of a plan before step 0 runs (`jobexec run`
 * and `jobexec check` alike), so a plan that would fail here runs nothing.
 */
static int greet_validate(void *state, const jx_host_v1 *host,
                          const jx_step *step, char *errbuf,
                          size_t errbuf_len)
{
    (void)state;
    /* step_target is "" when the plan gives no target. */
    if (host->step_target(step)[0] == '\0')
        return refuse(errbuf, errbuf_len,
                      "target is required: the name to greet");
    if (host->param_json(step, "greeting") != NULL &&
        host->param_string(step, "greeting") == NULL)
        return refuse(errbuf, errbuf_len,
                      "parameter 'greeting' must be a string");
    return 0;
}

/*
 * execute: performs one step, at most once per run.  Everything it hands
 * back goes through host->out_* calls, which copy; the strings it reads
 * from the step are the host's and valid until it returns.
 */
static int greet_execute(void *state, const jx_host_v1 *host,
                         const jx_context *ctx, const jx_step *step,
                         jx_output *out)
{
    const greet_state *st = state;
    const char *target = host->step_target(step);
    const char *greeting = host->param_string(step, "greeting");
    size_t len;
    char *message;
    int rc;

    if (greeting == NULL)
        greeting = st->default_greeting;
    /* "GREETING, TARGET!" and its NUL. */
    len = strlen(greeting) + strlen(target) + 4;
    message = malloc(len);
    if (message == NULL) {
        host->out_error(out, "out of memory");
        return JX_STEP_FAILED;
    }
    snprintf(message, len, "%s, %s!", greeting, target);
    /* Log through the host, never on stdout or stderr: in-process those
     * are the worker's, and in a runner stdout goes nowhere. */
    host->log(ctx, JX_LOG_INFO, "greeting %s", target);
    rc = host->out_string(out, "message", message);
    free(message);
    if (rc != 0) {
        host->out_error(out, "could not record the message");
        return JX_STEP_FAILED;
    }
    return JX_STEP_OK;
}

/* fini: called when the host closes the plugin.  Not called for a runner
 * that is killed, so nothing that must not be lost waits for it. */
static void greet_fini(void *state)
{
    greet_state *st = state;

    if (st != NULL)
        free(st->default_greeting);
    free(st);
}

/*
 * The one exported symbol.  JX_STEP_HANDLER(greet) names it
 * greet_LTX_step_handler_v1: "greet" must be the module's file name
 * (greet.so), which libltdl derives the prefix from.  Members in the
 * order step_handler_v1 declares them.
 */
JX_STEP_HANDLER(greet) = {
    JX_STEP_HANDLER_HEADER, /* magic, abi_version, struct_size */
    "greet",                /* the plugin's name */
    GREET_VERSION,          /* its own version */
    greet_types,
    /* execute and validate only read their arguments and the state init
     * made, so concurrent calls are safe. */
    JX_HANDLER_THREAD_SAFE,
    greet_init,
    greet_validate,
    greet_execute,
    greet_fini,
};
