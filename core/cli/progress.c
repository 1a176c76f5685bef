/*
 * progress.c - `jobexec run`'s progress on standard error: a line redrawn
 * in place on a terminal (cleared before anything else is printed and at
 * the end), or JSON Lines for programs (--progress json).  Never in the
 * evidence document, which has standard output to itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

/* Terminal redraws closer together than this are skipped (the last,
 * "finished", clears the line whatever the time). */
#define REDRAW_INTERVAL_S 0.1

static jx__cli_progress *shown; /* the line on the terminal, if any */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int jx__cli_progress_init(jx__cli_progress *p, const char *mode)
{
    memset(p, 0, sizeof *p);
    if (mode == NULL)
        p->mode = isatty(STDERR_FILENO) ? JX__PROGRESS_LINE
                                        : JX__PROGRESS_NONE;
    else if (strcmp(mode, "line") == 0)
        p->mode = JX__PROGRESS_LINE;
    else if (strcmp(mode, "json") == 0)
        p->mode = JX__PROGRESS_JSON;
    else if (strcmp(mode, "none") == 0)
        p->mode = JX__PROGRESS_NONE;
    else
        return -1;
    return 0;
}

void jx__cli_progress_clear(void)
{
    if (shown == NULL)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    shown = NULL;
}

/* The terminal's width, for a line that must never wrap (a wrapped line
 * cannot be redrawn with a carriage return). */
static size_t width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col - 1;
    return 79;
}

static void draw(jx__cli_progress *p, const jx_progress_event *ev)
{
    char line[512], eta[32] = "";
    int n;

    if (ev->eta_seconds >= 0 && strcmp(ev->stage, "started") != 0)
        snprintf(eta, sizeof eta, "  ~%.0f s left", ev->eta_seconds);
    n = snprintf(line, sizeof line, "[%3.0f%%] %zu/%zu steps%s", ev->percentage,
                 ev->steps_done, ev->total_steps, eta);
    if (ev->step_number > 0 && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  step %zu: %s",
                 ev->step_number, ev->message != NULL ? ev->message : "");
    jx__cli_progress_clear();
    fputs("\r", stderr);
    /* Escaped like every line of plugin text, then cut to fit. */
    jx__cli_print_width(stderr, line, width());
    fflush(stderr);
    shown = p;
}

static void put_json(const jx_progress_event *ev)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:o, s:s?, s:s?, s:f, s:o}",
        "job_id", ev->job_id, "stage", ev->stage, "step_index",
        (json_int_t)ev->step_index, "step_number",
        (json_int_t)ev->step_number, "steps_done", (json_int_t)ev->steps_done,
        "total_steps", (json_int_t)ev->total_steps, "percentage",
        ev->percentage, "step_fraction",
        ev->step_fraction >= 0 ? json_real(ev->step_fraction) : json_null(),
        "message", ev->message, "status", ev->status, "elapsed_seconds",
        ev->elapsed_seconds, "eta_seconds",
        ev->eta_seconds >= 0 ? json_real(ev->eta_seconds) : json_null());
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

    if (text != NULL) {
        fputs(text, stderr);
        fputc('\n', stderr);
        fflush(stderr);
    }
    free(text);
    json_decref(v);
}

void jx__cli_progress_cb(const jx_progress_event *ev, void *user)
{
    jx__cli_progress *p = user;

    if (p->mode == JX__PROGRESS_JSON) {
        put_json(ev);
    } else if (p->mode == JX__PROGRESS_LINE) {
        double now = now_s(); /* not for every step of a silent run */

        if (strcmp(ev->stage, "finished") == 0)
            jx__cli_progress_clear();
        else if (shown == NULL || now - p->last_draw >= REDRAW_INTERVAL_S) {
            draw(p, ev);
            p->last_draw = now;
        }
    }
}
