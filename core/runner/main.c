/*
 * main.c - jobexec-runner: runs one isolated plugin for the core.
 *
 * Started by the core (core/isolate/) with the channel on fd 3.  It reads
 * LOAD, confines itself (confine.c), opens the plugin with the same loader
 * checks as the core, and answers HELO or FAIL.  Then it serves EXEC and
 * VALI until QUIT.  It holds nothing of the executor's: not the evidence
 * log, not a key.  The messages are isolate/protocol.h's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "isolate/frame.h"
#include "isolate/protocol.h"
#include "plugin/loader.h"
#include "runner/confine.h"
#include "runner/leftover.h"

#define CHAN 3

/*
 * Cancellation.  The core sends SIGUSR1 with sigqueue(), its value the
 * number of the EXEC it is for (counted from 1 by both sides, per runner
 * process).  SIGUSR1 is blocked in every thread and read from a signalfd
 * by the watchdog thread, which sets the flag ctx_cancelled reads: the
 * thread that runs the plugin is never interrupted, so a nanosleep or
 * poll in execute does not return early, and a step that returns
 * JX_STEP_OK has done its work.  The number keeps a cancel meant for one
 * step, read late, from cancelling the next.
 */
static atomic_int cancelled;
static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned step_serial;    /* the EXEC being served; under cancel_lock */
static unsigned cancelled_upto; /* highest EXEC number cancelled; same */

/* An EXEC has come: its own cancel may have been read already. */
static void cancel_begin_step(void)
{
    pthread_mutex_lock(&cancel_lock);
    step_serial++;
    atomic_store(&cancelled, cancelled_upto >= step_serial);
    pthread_mutex_unlock(&cancel_lock);
}

/* A cancel for EXEC number serial has come. */
static void cancel_received(unsigned serial)
{
    pthread_mutex_lock(&cancel_lock);
    if (serial > cancelled_upto)
        cancelled_upto = serial;
    if (serial == step_serial)
        atomic_store(&cancelled, 1);
    pthread_mutex_unlock(&cancel_lock);
}

/* Sends the message encoded in b (rc: the encoder's result) and frees b.
 * Exits if it cannot: without memory or without the core, there is
 * nobody left to serve. */
static void send_msg(uint32_t type, jx__buf *b, int rc)
{
    if (rc != 0 || jx__frame_write(CHAN, type, b->data ? b->data : "",
                                   b->len) != 0)
        _exit(3);
    jx__buf_free(b);
}

static void forward_log(int level, const char *job_id, int64_t step_index,
                        const char *message, void *user)
{
    jx__buf b = {0};

    (void)job_id;
    (void)step_index;
    (void)user;
    send_msg(JX__MSG_LOG, &b, jx__msg_log_encode(&b, level, message));
}

static void forward_progress(const char *job_id, int64_t step_index,
                             double fraction, const char *message, void *user)
{
    jx__buf b = {0};

    (void)job_id;
    (void)step_index;
    (void)user;
    send_msg(JX__MSG_PROG, &b, jx__msg_progress_encode(&b, fraction, message));
}

/* ---- the plugin -------------------------------------------------------- */

static int open_plugin(const jx__msg_load *load, jx__plugin **out,
                       jx_error *err)
{
    jx__plugin_conf pc = {0};
    jx__origin o;
    int rc;

    pc.path = (char *)load->path;
    pc.path_written = (char *)load->written;
    pc.config = (json_t *)load->config;
    pc.line = load->line;
    pc.col = load->col;
    if ((rc = jx__ltdl_acquire(err)) != 0)
        return rc;
    if ((rc = jx__plugin_open(&pc, load->config_name, out, err)) != 0) {
        /* The file passed the core's checks: a failure to open or map it
         * here is most likely the confinement (too few descriptors, too
         * little address space), which libltdl reports as "file not
         * found". */
        if (rc == JX_ELOAD && err != NULL &&
            (strstr(err->message, "cannot load: ") != NULL ||
             strstr(err->message, strerror(EMFILE)) != NULL))
            jx__runner_limits_hint(load, err);
        else if (err != NULL && strstr(err->message, strerror(EACCES)) != NULL)
            jx__runner_user_hint(err);
        return rc;
    }
    o = (jx__origin){load->config_name, pc.line, pc.col, (*out)->path};
    if ((*out)->handler == NULL)
        return jx__fail(err, JX_EABI, "%s:%u:%u: plugin '%s': exports no "
                                      "step_handler_v1 (an isolated plugin "
                                      "must handle steps%s)",
                        load->config_name, pc.line, pc.col, pc.path,
                        (*out)->observer != NULL
                            ? "; health observers run in-process: set "
                              "isolation: inproc to trust it"
                            : "");
    return jx__plugin_init_handler(*out, &o, err);
}

/* ---- steps ------------------------------------------------------------- */

/* One step of a plan the core has checked, built directly, without
 * re-reading plan text. */
static int read_request(const char *data, size_t len, jx_plan **plan,
                        jx__msg_request *req, json_t **keep, jx_error *err)
{
    *plan = NULL;
    if (jx__msg_request_decode(data, len, req, keep) != 0)
        return jx__fail(err, JX_EPLAN, "runner: malformed request");
    return jx__plan_single(&req->step, plan, err);
}

static void run_step(const jx__plugin *p, const char *data, size_t len)
{
    jx_plan *plan;
    jx__msg_request req;
    json_t *keep;
    jx_error err = {0, ""};
    jx_output out = {0};
    jx__buf b = {0};

    if (read_request(data, len, &plan, &req, &keep, &err) != 0) {
        send_msg(JX__MSG_DONE, &b, jx__msg_done_error_encode(&b, err.message));
    } else {
        jx_context ctx = {
            .plan = plan,
            .started_at = req.started_at,
            .step_index = plan->steps[0].index,
            .deadline = jx__monotonic() + (double)req.time_left_ms / 1e3,
            .cancelled = &cancelled,
            .cancel_fd = -1,
            .on_progress = forward_progress,
        };
        jx_step view = {.step = &plan->steps[0], .plan = plan};
        int rc;

        /* Taken again each step: a plugin may have given it up. */
        (void)jx__runner_adopt_orphans();
        /* Cancelled before it was sent: the request says so itself. */
        if (req.cancelled)
            atomic_store(&cancelled, 1);
        rc = p->handler->execute(p->handler_state, &jx__host, &ctx, &view,
                                 &out);
        jx__step_view_done(&view);
        /* Before DONE: once the core has the step's result, nothing the
         * step started is running. */
        out.leftover_processes = jx__runner_kill_leftovers();
        send_msg(JX__MSG_DONE, &b, jx__msg_done_encode(&b, rc, &out));
        jx__output_clear(&out);
    }
    jx_plan_free(plan);
    json_decref(keep);
}

static void validate_step(const jx__plugin *p, const char *data, size_t len)
{
    jx_plan *plan;
    jx__msg_request req;
    json_t *keep;
    jx_error err = {0, ""};
    jx__buf b = {0};

    if (read_request(data, len, &plan, &req, &keep, &err) != 0) {
        send_msg(JX__MSG_VRES, &b, jx__msg_vres_encode(&b, 0, err.message));
    } else {
        jx_step view = {.step = &plan->steps[0], .plan = plan};
        char why[512] = "";
        int rc = p->handler->validate(p->handler_state, &jx__host, &view, why,
                                      sizeof why);
        jx__step_view_done(&view);
        why[sizeof why - 1] = '\0';
        send_msg(JX__MSG_VRES, &b, jx__msg_vres_encode(&b, rc == 0, why));
    }
    jx_plan_free(plan);
    json_decref(keep);
}

/*
 * If the core goes away (a worker killed mid-step), nobody will ever ask
 * this runner to stop, and a hung handler would live on.  This thread
 * waits for the channel to hang up and then kills the runner's whole
 * process group.  The core closes its end only once the runner has
 * exited, or to kill it anyway.
 *
 * It waits with epoll, not poll: a thread blocked in poll holds a
 * reference to the channel, so a plugin that closed fd 3 would not end
 * it, and the core would only notice at the step's deadline.  An epoll
 * set holds none: closing fd 3 hangs the channel up at once, and the core
 * ends the step.
 */
/* Reads the cancels that have come on the signalfd. */
static void read_cancels(int sfd)
{
    struct signalfd_siginfo si;

    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
        if (si.ssi_code == SI_QUEUE)
            cancel_received((unsigned)si.ssi_int);
}

/* The watchdog: ep watches the channel (its peer gone: the core died or
 * the plugin closed it) and the signalfd sfd (cancels). */
typedef struct watch {
    int ep, sfd;
} watch;

static void *watch_channel(void *arg)
{
    watch w = *(watch *)arg;
    struct epoll_event ev;

    free(arg);
    for (;;) {
        int n;

        while ((n = epoll_wait(w.ep, &ev, 1, -1)) < 0 && errno == EINTR)
            ;
        if (n <= 0)
            break;
        if (ev.data.fd == w.sfd) {
            read_cancels(w.sfd);
            continue;
        }
        if ((ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
            kill(0, SIGKILL);
    }
    close(w.ep);
    return NULL;
}

/* The epoll set is made here, not in the thread, so that the runner holds
 * the same descriptors from its first step on, however late the thread
 * first runs. */
static watch *make_watch(int sfd)
{
    struct epoll_event ev = {.events = EPOLLRDHUP, .data = {.fd = CHAN}};
    watch *w = malloc(sizeof *w);

    if (w == NULL)
        return NULL;
    w->sfd = sfd;
    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(w->ep, EPOLL_CTL_ADD, CHAN, &ev) != 0) {
        /* No watch without epoll: the core still ends a runner that
         * outlives its step, at the step's deadline (and a cancelled
         * one after the grace). */
        if (w->ep >= 0)
            close(w->ep);
        free(w);
        return NULL;
    }
    ev = (struct epoll_event){.events = EPOLLIN, .data = {.fd = sfd}};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, sfd, &ev);
    return w;
}

/* SIGUSR1 is blocked in this thread before the plugin is opened, so every
 * thread the plugin starts has it blocked too; it is only ever read from
 * the signalfd. */
static int block_cancel_signal(void)
{
    sigset_t usr1;

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    return signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void start_watchdog(int sfd)
{
    watch *w = make_watch(sfd);
    pthread_t t;
    sigset_t all, old;

    if (w == NULL)
        return;
    /* No signal is the watchdog's to take; SIGUSR1 reaches it as data. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, NULL, watch_channel, w) == 0) {
        pthread_detach(t);
    } else {
        close(w->ep);
        free(w);
    }
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

/* LOAD: confine, open, init; HELO or FAIL.  Returns the plugin or NULL. */
static jx__plugin *load(void)
{
    jx__plugin *p = NULL;
    jx_error err = {0, ""};
    jx__msg_load m;
    json_t *keep;
    uint32_t type;
    char *data;
    size_t len;
    jx__buf b = {0};
    int rc;

    if (jx__frame_read(CHAN, JX__MSG_REQUEST_MAX, &type, &data, &len) != 0 ||
        type != JX__MSG_LOAD) {
        fprintf(stderr, "jobexec-runner: started without a LOAD frame on fd "
                        "3; this program is run by libjobexec\n");
        exit(2);
    }
    rc = jx__msg_load_decode(data, len, &m, &keep);
    free(data);
    if (rc != 0)
        rc = jx__fail(&err, JX_ELOAD, "runner: malformed LOAD");
    if (rc != 0 || jx__runner_confine(&m, &err) != 0 ||
        open_plugin(&m, &p, &err) != 0) {
        json_decref(keep);
        send_msg(JX__MSG_FAIL, &b,
                 jx__msg_fail_encode(&b, err.code, err.message));
        return NULL;
    }
    json_decref(keep);
    return p;
}

int main(void)
{
    jx__plugin *p;
    jx__buf b = {0};
    uint32_t type;
    char *data;
    size_t len;
    int sfd;

    /* posix_spawn's dup2 cleared close-on-exec: set it again, so that a
     * program a plugin starts never holds the channel, which would keep
     * the core from seeing the runner go.  Without a fd 3, load() says
     * how this program is meant to be run. */
    (void)fcntl(CHAN, F_SETFD, FD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
    /* Without a signalfd, cancels are not read: a cancelled step is
     * killed after the grace, never cut short. */
    sfd = block_cancel_signal();
    /* Orphans anywhere below the runner become its children, to be killed
     * after the step (leftover.c).  Without it (a kernel before 3.4), a
     * double-forked child escapes to init; the cgroup still holds it. */
    (void)jx__runner_adopt_orphans();
    jx_set_log_handler(forward_log, NULL);
    if ((p = load()) == NULL)
        return 1;
    start_watchdog(sfd);
    send_msg(JX__MSG_HELO, &b, jx__msg_hello_encode(&b, p->handler));
    for (;;) {
        spin_for_request();
        if (jx__frame_read(CHAN, JX__MSG_REQUEST_MAX, &type, &data, &len) != 0)
            break;
        if (type == JX__MSG_EXEC) {
            cancel_begin_step();
            run_step(p, data, len);
        }
        else if (type == JX__MSG_VALI && p->handler->validate != NULL)
            validate_step(p, data, len);
        free(data);
        if (type == JX__MSG_QUIT)
            break;
    }
    jx__plugin_free(p);
    jx__ltdl_release();
    return 0;
}
