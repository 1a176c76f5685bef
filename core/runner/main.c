/*
 * runner_main.c - jobexec-runner: runs one isolated plugin for the core.
 *
 * Started by the core (core/isolate.c) with the channel on fd 3.  It reads
 * LOAD, confines itself (resource limits, no core dumps, no_new_privs, an
 * unprivileged user when started as root), opens the plugin with the same
 * loader checks as the core, and answers HELO or FAIL.  Then it serves
 * EXEC and VALI frames until QUIT.  It holds nothing of the executor's:
 * not the evidence log, not a key.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "isolate/frame.h"
#include "plugin/host.h"
#include "base/jsonbuf.h"
#include "plugin/loader.h"
#include "input/plan.h"

#define CHAN 3
/* Bytes of one log or progress message sent to the core.  The core takes
 * frames of up to 64 KiB, and escaping can make a message six times
 * longer ("\u0001" for each control byte). */
#define TEXT_MAX (10 * 1024)
#define MAX_REQUEST (256u * 1024 * 1024) /* a step as big as a plan allows */

static atomic_int cancelled;

static void on_cancel(int sig)
{
    (void)sig;
    atomic_store(&cancelled, 1);
}

/* Sends a frame; exits if the core is gone, since there is nobody left
 * to serve. */
static void send_text(uint32_t type, const char *text, size_t len)
{
    if (jx__frame_write(CHAN, type, text, len) != 0)
        _exit(3);
}

/* Sends a frame whose payload is v (consumed). */
static void send_json(uint32_t type, json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

    json_decref(v);
    if (text == NULL)
        _exit(3);
    send_text(type, text, strlen(text));
    free(text);
}

/* Sends {"<key>":<text as a JSON string>...}: text from the plugin may
 * be any bytes (jx__buf_put_json_string makes it valid UTF-8), so these
 * frames are assembled here rather than by jansson, which would refuse
 * it. */
static void send_with_text(uint32_t type, jx__buf *b, const char *key,
                           const char *text, const char *rest)
{
    if (jx__buf_puts(b, ",\"") || jx__buf_puts(b, key) ||
        jx__buf_puts(b, "\":") ||
        (text != NULL ? jx__buf_put_json_string(b, text)
                      : jx__buf_puts(b, "null")) ||
        jx__buf_puts(b, rest))
        _exit(3);
    send_text(type, b->data, b->len);
    jx__buf_free(b);
}

static void send_fail(const jx_error *err)
{
    jx__buf b = {0};

    if (jx__buf_puts(&b, "{\"code\":") || jx__buf_put_i64(&b, err->code))
        _exit(3);
    send_with_text(JX_FRAME_FAIL, &b, "message", err->message, "}");
}

/* Sends b (its head written) with message, cut to TEXT_MAX; the core
 * redacts a cut message's ending as a possible start of a secret. */
static void send_message(uint32_t type, jx__buf *b, const char *message)
{
    size_t len = message != NULL ? strlen(message) : 0;
    int cut = len > TEXT_MAX;
    char *text = cut ? strndup(message, TEXT_MAX) : NULL;

    if (cut && text == NULL)
        _exit(3);
    send_with_text(type, b, "message", cut ? text : message,
                   cut ? ",\"cut\":true}" : "}");
    free(text);
}

static void forward_log(int level, const char *job_id, int64_t step_index,
                        const char *message, void *user)
{
    jx__buf b = {0};

    (void)job_id;
    (void)step_index;
    (void)user;
    if (jx__buf_puts(&b, "{\"level\":") || jx__buf_put_i64(&b, level))
        _exit(3);
    send_message(JX_FRAME_LOG, &b, message);
}

static void forward_progress(const char *job_id, int64_t step_index,
                             double fraction, const char *message, void *user)
{
    char head[64];
    jx__buf b = {0};

    (void)job_id;
    (void)step_index;
    (void)user;
    snprintf(head, sizeof head, "{\"fraction\":%.6f", fraction);
    if (jx__buf_puts(&b, head))
        _exit(3);
    send_message(JX_FRAME_PROG, &b, message);
}

/* ---- confinement ------------------------------------------------------- */

static int set_limit(int resource, json_int_t value, const char *what,
                     jx_error *err)
{
    struct rlimit rl = {(rlim_t)value, (rlim_t)value};

    if (setrlimit(resource, &rl) != 0)
        return jx__fail(err, JX_ELOAD, "runner: cannot limit %s: %s", what,
                        strerror(errno));
    return 0;
}

static int confine(json_t *load, jx_error *err)
{
    json_t *lim = json_object_get(load, "limits");
    json_int_t as_mb = json_integer_value(json_object_get(lim,
                                                          "address_space_mb"));
    int rc;

    if ((rc = set_limit(RLIMIT_CORE, 0, "core dumps", err)) ||
        (rc = set_limit(RLIMIT_CPU,
                        json_integer_value(json_object_get(lim, "cpu_seconds")),
                        "CPU time", err)) ||
        (rc = set_limit(RLIMIT_NOFILE,
                        json_integer_value(json_object_get(lim, "open_files")),
                        "open files", err)))
        return rc;
#if !defined(__SANITIZE_ADDRESS__)
    /* ASan's shadow memory alone exceeds any sane limit. */
    if ((rc = set_limit(RLIMIT_AS, as_mb * 1024 * 1024, "address space",
                        err)))
        return rc;
#else
    (void)as_mb;
#endif
    if (json_is_true(json_object_get(load, "drop"))) {
        gid_t gid = (gid_t)json_integer_value(json_object_get(load, "gid"));
        uid_t uid = (uid_t)json_integer_value(json_object_get(load, "uid"));
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            return jx__fail(err, JX_ELOAD, "runner: cannot switch to uid %u "
                                           "gid %u: %s",
                            (unsigned)uid, (unsigned)gid, strerror(errno));
    }
    /* No PR_SET_PDEATHSIG: its "parent" is the thread that spawned the
     * runner, and a worker's job threads come and go.  The runner ends
     * when the core closes the channel instead. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return jx__fail(err, JX_ELOAD, "runner: no_new_privs: %s",
                        strerror(errno));
    return 0;
}

/* ---- the plugin -------------------------------------------------------- */

/* Appends the runner's limits to a load failure's message. */
static void limits_hint(json_t *load, jx_error *err)
{
    json_t *lim = json_object_get(load, "limits");
    size_t len = strlen(err->message);

    snprintf(err->message + len, sizeof err->message - len,
             " (in the runner, under runner.max_address_space_mb: %"
             JSON_INTEGER_FORMAT " and runner.max_open_files: %"
             JSON_INTEGER_FORMAT ")",
             json_integer_value(json_object_get(lim, "address_space_mb")),
             json_integer_value(json_object_get(lim, "open_files")));
}

static int open_plugin(json_t *load, jx__plugin **out, jx_error *err)
{
    jx__plugin_conf pc = {0};
    jx__origin o;
    const char *name = json_string_value(json_object_get(load, "config_name"));
    int rc;

    pc.path = (char *)json_string_value(json_object_get(load, "path"));
    pc.path_written = (char *)json_string_value(json_object_get(load,
                                                                "written"));
    pc.config = json_object_get(load, "config");
    pc.line = (unsigned)json_integer_value(json_object_get(load, "line"));
    pc.col = (unsigned)json_integer_value(json_object_get(load, "col"));
    if (pc.path == NULL || pc.path_written == NULL || name == NULL ||
        !json_is_object(pc.config))
        return jx__fail(err, JX_ELOAD, "runner: malformed LOAD");
    if ((rc = jx__ltdl_acquire(err)) != 0)
        return rc;
    if ((rc = jx__plugin_open(&pc, name, out, err)) != 0) {
        /* The file passed the core's checks: a failure to map it here is
         * most likely the confinement, which libltdl reports as "file not
         * found". */
        if (rc == JX_ELOAD && err != NULL && strstr(err->message, "cannot "
                                                     "load: ") != NULL)
            limits_hint(load, err);
        return rc;
    }
    o = (jx__origin){name, pc.line, pc.col, (*out)->path};
    if ((*out)->handler == NULL)
        return jx__fail(err, JX_EABI, "%s:%u:%u: plugin '%s': exports no "
                                      "step_handler_v1 (an isolated plugin "
                                      "must handle steps%s)",
                        name, pc.line, pc.col, pc.path,
                        (*out)->observer != NULL
                            ? "; health observers run in-process: set "
                              "isolation: inproc to trust it"
                            : "");
    return jx__plugin_init_handler(*out, &o, err);
}

static void send_hello(const jx__plugin *p)
{
    const step_handler_v1 *d = p->handler;
    json_t *types = json_array();

    for (size_t i = 0; d->step_types != NULL && d->step_types[i] != NULL; i++)
        json_array_append_new(types, json_string(d->step_types[i]));
    send_json(JX_FRAME_HELO,
              json_pack("{s:s, s:s, s:i, s:i, s:o, s:b}", "name", d->name,
                        "version", d->version, "abi", (int)d->abi_version,
                        "flags", (int)d->flags, "step_types", types,
                        "validate", d->validate != NULL));
}

/* ---- steps ------------------------------------------------------------- */

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

/* The EXEC/VALI payload: one step of a plan the core has checked, and the
 * context around it.  Built directly, without re-reading plan text. */
static int read_request(const char *data, size_t len, jx_plan **plan,
                        json_t **req, jx_error *err)
{
    json_t *p, *step;
    jx__single_step in;

    *plan = NULL;
    *req = json_loadb(data, len, 0, NULL);
    p = json_object_get(*req, "plan");
    step = json_array_get(json_object_get(p, "steps"), 0);
    in = (jx__single_step){
        .job_id = str_or(p, "job_id", ""),
        .contract_id = str_or(p, "contract_id", ""),
        .tenant_id = str_or(p, "tenant_id", ""),
        .executed_by = str_or(p, "executed_by", ""),
        .index = json_integer_value(json_object_get(step, "step_index")),
        .type = str_or(step, "step_type", NULL),
        .target = str_or(step, "target", ""),
        .timeout_seconds =
            json_integer_value(json_object_get(step, "timeout_seconds")),
        .params = json_object_get(step, "parameters"),
    };
    if (in.type == NULL || !json_is_object(in.params))
        return jx__fail(err, JX_EPLAN, "runner: malformed request");
    return jx__plan_single(&in, plan, err);
}

static void send_done(int rc, const jx_output *out)
{
    jx__buf b = {0};

    if (jx__buf_puts(&b, "{\"rc\":") || jx__buf_put_i64(&b, rc) ||
        jx__buf_puts(&b, out->failed_alloc ? ",\"failed_alloc\":true"
                                           : "") ||
        jx__buf_puts(&b, out->not_utf8 ? ",\"not_utf8\":true" : "") ||
        jx__buf_puts(&b, ",\"output\":") || jx__output_put(&b, out))
        _exit(3);
    send_with_text(JX_FRAME_DONE, &b, "error", out->error, "}");
}

static void run_step(const jx__plugin *p, const char *data, size_t len)
{
    jx_plan *plan;
    json_t *req;
    jx_error err = {0, ""};
    jx_output out = {0};

    if (read_request(data, len, &plan, &req, &err) != 0) {
        jx__buf b = {0};
        if (jx__buf_puts(&b, "{\"rc\":1,\"output\":null"))
            _exit(3);
        send_with_text(JX_FRAME_DONE, &b, "error", err.message, "}");
    } else {
        jx_context ctx = {
            .plan = plan,
            .started_at = json_string_value(json_object_get(req,
                                                            "started_at")),
            .step_index = plan->steps[0].index,
            .deadline = jx__monotonic() +
                        (double)json_integer_value(
                            json_object_get(req, "time_left_ms")) / 1e3,
            .cancelled = &cancelled,
            .cancel_fd = -1,
            .on_progress = forward_progress,
        };
        jx_step view = {&plan->steps[0], NULL, plan};
        int rc;

        /* From the request, not from before it: a SIGUSR1 meant for the
         * previous step lands before this request is read. */
        atomic_store(&cancelled,
                     json_is_true(json_object_get(req, "cancelled")));
        rc = p->handler->execute(p->handler_state, &jx__host, &ctx, &view,
                                 &out);
        jx__scratch_free(&view.scratch);
        send_done(rc, &out);
        jx__output_clear(&out);
    }
    jx_plan_free(plan);
    json_decref(req);
}

static void validate_step(const jx__plugin *p, const char *data, size_t len)
{
    jx_plan *plan;
    json_t *req;
    jx_error err = {0, ""};
    jx__buf b = {0};

    if (read_request(data, len, &plan, &req, &err) != 0) {
        if (jx__buf_puts(&b, "{\"ok\":false"))
            _exit(3);
        send_with_text(JX_FRAME_VRES, &b, "why", err.message, "}");
    } else {
        jx_step view = {&plan->steps[0], NULL, plan};
        char why[512] = "";
        int rc = p->handler->validate(p->handler_state, &jx__host, &view, why,
                                  sizeof why);
        jx__scratch_free(&view.scratch);
        why[sizeof why - 1] = '\0';
        if (jx__buf_puts(&b, rc == 0 ? "{\"ok\":true" : "{\"ok\":false"))
            _exit(3);
        send_with_text(JX_FRAME_VRES, &b, "why", why, "}");
    }
    jx_plan_free(plan);
    json_decref(req);
}

/*
 * If the core goes away (a worker killed mid-step), nobody will ever ask
 * this runner to stop, and a hung handler would live on.  This thread
 * waits for the channel to hang up and then kills the runner's whole
 * process group.  The core closes its end only once the runner has
 * exited, or to kill it anyway.
 */
static void *watch_channel(void *arg)
{
    struct pollfd p = {CHAN, POLLRDHUP, 0};

    (void)arg;
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    kill(0, SIGKILL);
    return NULL;
}

static void start_watchdog(void)
{
    pthread_t t;
    sigset_t all, old;

    /* Signals (SIGUSR1 above all) stay with the thread that runs steps. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, NULL, watch_channel, NULL) == 0)
        pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Steps of a job follow each other within microseconds; sleeping and
 * being woken costs more.  Spin briefly for the next request first. */
static void spin_for_request(void)
{
    double until = jx__monotonic() + 60e-6;
    struct pollfd p = {CHAN, POLLIN, 0};

    while (poll(&p, 1, 0) == 0 && jx__monotonic() < until)
        ;
}

int main(void)
{
    jx__plugin *p = NULL;
    jx_error err = {0, ""};
    json_t *load;
    uint32_t type;
    char *data;
    size_t len;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_cancel);
    if (jx__frame_read(CHAN, MAX_REQUEST, &type, &data, &len) != 0 ||
        type != JX_FRAME_LOAD) {
        fprintf(stderr, "jobexec-runner: started without a LOAD frame on fd "
                        "3; this program is run by libjobexec\n");
        return 2;
    }
    load = json_loadb(data, len, 0, NULL);
    free(data);
    jx_set_log_handler(forward_log, NULL);
    if (confine(load, &err) != 0 || open_plugin(load, &p, &err) != 0) {
        send_fail(&err);
        json_decref(load);
        return 1;
    }
    json_decref(load);
    start_watchdog();
    send_hello(p);
    for (;;) {
        spin_for_request();
        if (jx__frame_read(CHAN, MAX_REQUEST, &type, &data, &len) != 0)
            break;
        if (type == JX_FRAME_EXEC)
            run_step(p, data, len);
        else if (type == JX_FRAME_VALI && p->handler->validate != NULL)
            validate_step(p, data, len);
        free(data);
        if (type == JX_FRAME_QUIT)
            break;
    }
    jx__plugin_free(p);
    jx__ltdl_release();
    return 0;
}
