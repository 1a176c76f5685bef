/*
 * wait.c - waiting for a runner's answer: frames bounded by type before
 * anything is allocated, LOG and PROG served meanwhile, stderr drained,
 * the deadline and cancellation watched.  Any surprise ends the wait and
 * the runner.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "isolate/frame.h"
#include "isolate/protocol.h"
#include "isolate/runner.h"

static size_t frame_max(uint32_t type, void *user)
{
    const jx__waiting *w = user;
    if (type == w->want)
        return w->want_max;
    if (w->want_alt != 0 && type == w->want_alt)
        return JX__MSG_SMALL_MAX;
    if (type == JX__MSG_LOG || type == JX__MSG_PROG)
        return JX__MSG_SMALL_MAX;
    return 0;
}

/* Describes how the runner ended, after it closed the channel. */
void jx__describe_exit(jx__runner *r, char *why, size_t len)
{
    int status = 0;

    if (!jx__runner_reap_within(r->pid, 200, &status)) {
        snprintf(why, len, "protocol error: the runner closed its channel");
        jx__runner_kill(r);
        return;
    }
    jx__runner_end_group(r->pid, (long)r->pool->limits.kill_grace_ms);
    jx__runner_close(r);
    if (WIFSIGNALED(status))
        snprintf(why, len, "handler crashed: signal %d (SIG%s: %s)",
                 WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?",
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, len, "runner exited with status %d during the step",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void on_side_frame(jx__waiting *w, uint32_t type, const char *data,
                          size_t len)
{
    jx__msg_note note;
    json_t *keep;

    jx__msg_note_decode(data, len, &note, &keep);
    /* Logs from init and fini concern no plan: they go out unredacted,
     * as in-process ones do.  validate's are dropped: they concern a plan
     * this wait has no context for. */
    if ((w->ctx != NULL || w->want != JX__MSG_VRES) && type == JX__MSG_LOG &&
        note.message != NULL)
        jx__log_cut(w->ctx, note.level, note.message, note.cut);
    else if (w->ctx != NULL && type == JX__MSG_PROG)
        jx__progress_cut(w->ctx, note.fraction, note.message, note.cut);
    json_decref(keep);
}

/* One frame from the channel.  Returns 1 when the wait is over. */
static int read_channel(jx__waiting *w, jx__frame_reader *fr)
{
    char name[12];
    int rc;

    while ((rc = jx__frame_feed(fr, w->r->chan, frame_max, w)) ==
           JX__FRAME_READY) {
        if (fr->type == w->want ||
            (w->want_alt != 0 && fr->type == w->want_alt)) {
            w->got = fr->type;
            w->data = fr->data;
            fr->data = NULL;
            jx__frame_reset(fr);
            return 1;
        }
        if (fr->type != JX__MSG_LOG && fr->type != JX__MSG_PROG) {
            jx__frame_name(fr->type, name);
            snprintf(w->why, sizeof w->why, "protocol error: unexpected "
                                            "frame '%s'", name);
            jx__runner_kill(w->r);
            return 1;
        }
        on_side_frame(w, fr->type, fr->data, fr->len);
        jx__frame_reset(fr);
    }
    if (rc == JX__FRAME_MORE)
        return 0;
    if (rc == JX__FRAME_TOO_BIG) {
        jx__frame_name(fr->type, name);
        if (fr->type == w->want && w->want == JX__MSG_DONE)
            snprintf(w->why, sizeof w->why,
                     "output too large: %" PRIu32 " bytes, more than the "
                     "limit of %" PRIu64 " (runner.max_output_bytes)",
                     fr->len, w->r->pool->limits.max_output_bytes);
        else
            snprintf(w->why, sizeof w->why,
                     "protocol error: frame '%s' of %" PRIu32 " bytes", name,
                     fr->len);
        jx__runner_kill(w->r);
        return 1;
    }
    if (rc == JX__FRAME_EOF && fr->got == 0)
        jx__describe_exit(w->r, w->why, sizeof w->why);
    else if (rc == JX__FRAME_EOF)
        snprintf(w->why, sizeof w->why, "protocol error: the runner's "
                                        "channel ended inside a frame");
    else
        snprintf(w->why, sizeof w->why, "protocol error: %s",
                 strerror(errno));
    if (w->r->pid > 0)
        jx__runner_kill(w->r);
    return 1;
}

/*
 * A short step answers within microseconds, and putting this thread to
 * sleep and waking it costs more than that (most of a warm isolated step,
 * on virtual machines above all).  So a wait spins briefly on the
 * channel before it first sleeps in poll().  1 when the wait is over.
 */
#define SPIN_US 60.0
static int spin_for_reply(jx__waiting *w, jx__frame_reader *fr)
{
    double until = jx__monotonic() + SPIN_US / 1e6;

    do {
        if (read_channel(w, fr))
            return 1;
        if (fr->got > 0)
            return 0; /* a frame is arriving: poll for the rest */
    } while (jx__monotonic() < until);
    return 0;
}

/* Asks a running handler to stop (its ctx_cancelled turns true), then,
 * after the grace, stops the runner.  The signal carries the number of
 * the EXEC it is for, so that, read late, it cancels no later step. */
static void cancel_step(jx__waiting *w)
{
    if (w->cancelled)
        return;
    w->cancelled = 1;
    sigqueue(w->r->pid, SIGUSR1, (union sigval){.sival_int = (int)w->r->steps});
    w->deadline = jx__monotonic() +
                  (double)w->r->pool->limits.kill_grace_ms / 1e3;
}

/* Waits for w->want, serving LOG and PROG frames and stderr meanwhile.
 * Returns 0 with w->data set, or -1 with w->why set (the runner is then
 * gone). */
int jx__wait_for(jx__waiting *w)
{
    jx__frame_reader fr;

    memset(&fr, 0, sizeof fr);
    if (spin_for_reply(w, &fr)) {
        jx__frame_reset(&fr);
        return w->data != NULL ? 0 : -1;
    }
    for (;;) {
        struct pollfd pfd[3] = {{w->r->chan, POLLIN, 0},
                                {w->r->err_fd, POLLIN, 0},
                                {w->cancel_fd, POLLIN, 0}};
        double left = w->deadline > 0 ? w->deadline - jx__monotonic() : 1e9;
        int n;

        if (left <= 0) {
            if (w->cancelled)
                snprintf(w->why, sizeof w->why,
                         "cancelled (the handler did not stop within %" PRIu64
                         " ms and was killed)",
                         w->r->pool->limits.kill_grace_ms);
            w->timed_out = !w->cancelled;
            jx__runner_kill(w->r);
            jx__frame_reset(&fr);
            return -1;
        }
        n = poll(pfd, w->cancel_fd >= 0 && !w->cancelled ? 3 : 2,
                 left > 1e6 ? -1 : (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            snprintf(w->why, sizeof w->why, "poll failed: %s",
                     strerror(errno));
            jx__runner_kill(w->r);
            jx__frame_reset(&fr);
            return -1;
        }
        if (n <= 0)
            continue;
        if (pfd[1].revents != 0)
            jx__runner_drain_stderr(w->r);
        if (pfd[2].revents != 0)
            cancel_step(w);
        if (pfd[0].revents != 0 && read_channel(w, &fr)) {
            jx__frame_reset(&fr);
            return w->data != NULL ? 0 : -1;
        }
    }
}
