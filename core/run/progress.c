/*
 * progress.c - a job's progress: what its handlers report (kept for the
 * step's evidence, and passed on at most every 100 ms, the last report of
 * a step always), and the events a run reports around its steps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/job.h"

/* Handler reports closer together than this are held back: the next
 * report after the interval, or the step's end, delivers the latest. */
#define REPORT_INTERVAL_S 0.1

static void send_event(jx__job *j, const char *stage, const jx__step *st)
{
    jx__progress *p = &j->progress;
    size_t total = j->plan->n_steps;
    double done_steps = (double)p->steps_done;
    jx_progress_event ev;

    if (p->cb == NULL)
        return;
    if (st != NULL && strcmp(stage, "running") == 0 && p->fraction > 0)
        done_steps += p->fraction;
    ev = (jx_progress_event){
        .job_id = j->plan->job_id,
        .stage = stage,
        .step_index = st != NULL ? st->index : -1,
        .step_number = st != NULL ? p->step_number : 0,
        .steps_done = p->steps_done,
        .total_steps = total,
        .percentage = total > 0 ? 100.0 * done_steps / (double)total : 0,
        .step_fraction = st != NULL ? p->fraction : -1,
        .message = st != NULL ? p->message : NULL,
        .status = NULL,
        .elapsed_seconds = jx__monotonic() - j->t0,
        .eta_seconds = -1,
    };
    if (strcmp(stage, "finished") == 0) {
        ev.status = jx__status_name(j->res->status);
        if (j->res->status == JX_JOB_COMPLETED)
            ev.percentage = 100;
        ev.eta_seconds = 0;
    } else if (ev.percentage > 0) {
        ev.eta_seconds = ev.elapsed_seconds * (100 - ev.percentage) /
                         ev.percentage;
    }
    p->cb(&ev, j->opts->user);
}

void jx__progress_start(jx__job *j)
{
    jx__progress *p = &j->progress;
    const jx_run_options *o = j->opts;

    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->fraction = -1;
    p->cb = JX_RUN_OPTIONS_HAS(o, on_job_progress) ? o->on_job_progress
                                                   : NULL;
    send_event(j, "started", NULL);
}

void jx__progress_step_begin(jx__job *j, const jx__step *st)
{
    jx__progress *p = &j->progress;

    /* Only the step's own thread has the context yet: no lock needed. */
    p->step = st;
    p->step_number++;
    if (p->fraction >= 0 || p->message != NULL) { /* the last step reported */
        p->fraction = -1;
        free(p->message);
        p->message = NULL;
    }
    p->held = 0;
    p->last_sent = 0;
}

void jx__progress_report(void *arg, double fraction, const char *message)
{
    jx__job *j = arg;
    jx__progress *p = &j->progress;
    char *copy = message != NULL ? strdup(message) : NULL;
    double now = jx__monotonic();

    pthread_mutex_lock(&p->lock);
    p->fraction = fraction;
    free(p->message);
    p->message = copy; /* a lost copy (OOM) reads as no message */
    if (p->cb != NULL && now - p->last_sent < REPORT_INTERVAL_S) {
        p->held = 1;
    } else {
        p->held = 0;
        p->last_sent = now;
        send_event(j, "running", p->step);
    }
    pthread_mutex_unlock(&p->lock);
}

void jx__progress_step_end(jx__job *j, const jx__step *st)
{
    jx__progress *p = &j->progress;

    if (p->cb == NULL) { /* nothing is held back without a callback */
        p->steps_done++;
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->held) /* the last report is always delivered */
        send_event(j, "running", st);
    p->held = 0;
    p->steps_done++;
    send_event(j, "step_finished", st);
    pthread_mutex_unlock(&p->lock);
}

void jx__progress_finish(jx__job *j)
{
    jx__progress *p = &j->progress;

    send_event(j, "finished", NULL);
    free(p->message);
    p->message = NULL;
    pthread_mutex_destroy(&p->lock);
}

int jx__progress_put(const jx__job *j, jx__buf *b)
{
    const jx__progress *p = &j->progress;
    char fraction[32];

    if (p->fraction < 0)
        return 0; /* the handler reported nothing */
    snprintf(fraction, sizeof fraction, "%.6g", p->fraction);
    return jx__buf_puts(b, ",\"progress\":{\"fraction\":") ||
                   jx__buf_puts(b, fraction) ||
                   jx__buf_puts(b, ",\"message\":") ||
                   (p->message != NULL
                        ? jx__buf_put_json_string(b, p->message)
                        : jx__buf_puts(b, "null")) ||
                   jx__buf_append(b, "}", 1)
               ? -1
               : 0;
}
