/*
 * pool.c - the runners of one isolated plugin: made as steps from other
 * threads need them (up to the plugin's runners), taken for one call at a
 * time, given back warm, and finished when the plugin is.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "isolate/frame.h"
#include "isolate/protocol.h"
#include "isolate/runner.h"

#ifndef JX__RUNNER
#define JX__RUNNER "/usr/local/libexec/jobexec/jobexec-runner"
#endif

jx__runner *jx__runner_new(jx__pool *p)
{
    jx__runner *r = calloc(1, sizeof *r);

    if (r != NULL) {
        r->pool = p;
        r->chan = r->err_fd = -1;
    }
    return r;
}

/* An idle runner (one whose process is up, if any is), or a new one
 * while the pool has room; NULL when there is none free (the caller
 * waits) or no memory (*oom set).  Under p->lock. */
static jx__runner *idle_runner(jx__pool *p, int *oom)
{
    jx__runner *r = NULL;

    for (size_t i = 0; i < p->n_runners; i++)
        if (!p->runners[i]->busy && (r == NULL || p->runners[i]->pid > 0))
            r = p->runners[i];
    if (r == NULL && p->n_runners < p->limits.max_per_plugin) {
        if ((r = jx__runner_new(p)) == NULL)
            *oom = 1;
        else
            p->runners[p->n_runners++] = r;
    }
    return r;
}

/* Takes a runner for one call, waiting while all are busy: until one is
 * given back, the deadline passes (monotonic seconds; 0: none) or the job
 * is cancelled.  NULL with *why ("timed out", "cancelled", "out of
 * memory") when none came. */
jx__runner *jx__pool_take(jx__pool *p, double deadline,
                           const atomic_int *cancelled, const char **why)
{
    jx__runner *r = NULL;
    int oom = 0;

    pthread_mutex_lock(&p->lock);
    while ((r = idle_runner(p, &oom)) == NULL && !oom) {
        struct timespec until;
        double now = jx__monotonic(), wake = now + 0.05;

        if (cancelled != NULL && atomic_load(cancelled)) {
            *why = "cancelled";
            break;
        }
        if (deadline > 0 && now >= deadline) {
            *why = "timed out";
            break;
        }
        /* Given-back wakes the wait; the pauses are for the cancel flag
         * and the deadline, which nothing signals. */
        if (deadline > 0 && deadline < wake)
            wake = deadline;
        until.tv_sec = (time_t)wake;
        until.tv_nsec = (long)((wake - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->given_back, &p->lock, &until);
    }
    if (r != NULL)
        r->busy = 1;
    else if (oom)
        *why = "out of memory";
    pthread_mutex_unlock(&p->lock);
    return r;
}

void jx__pool_give_back(jx__pool *p, jx__runner *r)
{
    pthread_mutex_lock(&p->lock);
    r->busy = 0;
    pthread_cond_signal(&p->given_back);
    pthread_mutex_unlock(&p->lock);
}

/*
 * fini runs in the runner: ask it to finish, then make sure it has.  What
 * fini logs comes as LOG frames, served (as init's are) until the runner
 * exits and its channel ends, which reaps it; a runner that has not within
 * JX__FINI_TIMEOUT_S is killed.
 */
static void runner_end(jx__runner *r)
{
    if (r == NULL)
        return;
    if (r->pid > 0 && jx__frame_write(r->chan, JX__MSG_QUIT, "", 0) == 0) {
        /* No answer is wanted: the wait ends with the channel. */
        jx__waiting w = {.r = r, .cancel_fd = -1,
                         .deadline = jx__monotonic() + JX__FINI_TIMEOUT_S};

        (void)jx__wait_for(&w);
        free(w.data);
    }
    jx__runner_kill(r);
    jx__buf_free(&r->err_text);
    free(r);
}

void jx__pool_free(jx__pool *p)
{
    for (size_t i = 0; p->runners != NULL && i < p->n_runners; i++)
        runner_end(p->runners[i]);
    free(p->runners);
    free(p->program);
    free(p->load);
    free(p->cgroup_parent);
    free(p->name);
    free(p->version);
    for (size_t i = 0; p->types != NULL && p->types[i] != NULL; i++)
        free(p->types[i]);
    free(p->types);
    pthread_cond_destroy(&p->given_back);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int jx__pool_resolve_user(jx__pool *p, const jx__runner_conf *c, jx_error *err)
{
    const char *user = c->user != NULL ? c->user : "nobody";
    const char *group = c->group != NULL ? c->group : "nogroup";
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0)
        return 0; /* nothing to give up */
    if ((pw = getpwnam(user)) == NULL)
        return jx__fail(err, JX_ECONFIG, "runner.user '%s' does not exist",
                        user);
    if ((gr = getgrnam(group)) == NULL)
        return jx__fail(err, JX_ECONFIG, "runner.group '%s' does not exist",
                        group);
    if (pw->pw_uid == 0 || gr->gr_gid == 0)
        return jx__fail(err, JX_ECONFIG, "isolated plugins never run as "
                                         "root: runner.user and runner.group "
                                         "must be unprivileged");
    p->drop = 1;
    p->uid = pw->pw_uid;
    p->gid = gr->gr_gid;
    return 0;
}

/* A pool for the plugin, without runners; NULL when out of memory. */
jx__pool *jx__pool_new(const jx__plugin_conf *pc, const jx_config *cfg)
{
    jx__pool *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;

    if (p == NULL)
        return NULL;
    p->limits = cfg->runner;
    p->limits.path = p->limits.user = p->limits.group = NULL;
    if (pc->runners != 0)
        p->limits.max_per_plugin = pc->runners;
    pthread_mutex_init(&p->lock, NULL);
    /* take_runner's timed waits are on the monotonic clock. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->given_back, &ca);
    pthread_condattr_destroy(&ca);
    p->program = strdup(cfg->runner.path ? cfg->runner.path : JX__RUNNER);
    p->runners = calloc((size_t)p->limits.max_per_plugin, sizeof *p->runners);
    if (p->program == NULL || p->runners == NULL) {
        jx__pool_free(p);
        return NULL;
    }
    return p;
}
