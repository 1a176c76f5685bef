/*
 * cancel.c - jx_executor_cancel(): the jobs an executor runs now, and the
 * flag and wake-up each of them lends its steps.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "run/job.h"

/* The index of job_id among the cancels ahead, or -1.  Under
 * running_lock. */
static ssize_t find_ahead(const jx_executor *ex, const char *job_id)
{
    for (size_t i = 0; i < ex->n_ahead; i++)
        if (strcmp(ex->ahead[i], job_id) == 0)
            return (ssize_t)i;
    return -1;
}

/* Forgets cancel i (order does not matter).  Under running_lock. */
static void drop_ahead(jx_executor *ex, size_t i)
{
    ex->n_ahead--;
    if (i != ex->n_ahead)
        memcpy(ex->ahead[i], ex->ahead[ex->n_ahead], sizeof ex->ahead[i]);
}

void jx__job_start_running(jx__job *j)
{
    jx_executor *ex = j->ex;

    atomic_init(&j->cancelled, 0);
    /* Without an eventfd, isolated steps still see the flag when their
     * wait ends; only the wake-up is lost. */
    j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_lock(&ex->running_lock);
    j->next_running = ex->running;
    ex->running = j;
    /* In the same hold of the lock as the job becomes findable: a cancel
     * comes either ahead (and is used up here) or finds the job. */
    if (ex->n_ahead > 0) {
        ssize_t i = find_ahead(ex, j->plan->job_id);
        if (i >= 0) {
            drop_ahead(ex, (size_t)i);
            atomic_store(&j->cancelled, 1);
        }
    }
    pthread_mutex_unlock(&ex->running_lock);
}

void jx__job_stop_running(jx__job *j)
{
    jx_executor *ex = j->ex;

    pthread_mutex_lock(&ex->running_lock);
    for (jx__job **pp = &ex->running; *pp != NULL; pp = &(*pp)->next_running)
        if (*pp == j) {
            *pp = j->next_running;
            break;
        }
    pthread_mutex_unlock(&ex->running_lock);
    if (j->cancel_fd >= 0)
        close(j->cancel_fd);
    j->cancel_fd = -1;
}

/* Tells the running jobs job_id (NULL: every one) to stop; how many.
 * Under running_lock. */
static int cancel_running(jx_executor *ex, const char *job_id)
{
    uint64_t one = 1;
    int n = 0;

    for (jx__job *j = ex->running; j != NULL; j = j->next_running) {
        if (job_id != NULL && strcmp(job_id, j->plan->job_id) != 0)
            continue;
        atomic_store(&j->cancelled, 1);
        if (j->cancel_fd >= 0 && write(j->cancel_fd, &one, sizeof one) < 0 &&
            errno != EAGAIN)
            continue; /* the flag alone still stops the job */
        n++;
    }
    return n;
}

int jx_executor_cancel(jx_executor *ex, const char *job_id)
{
    int n;

    if (ex == NULL)
        return JX_EINVAL;
    pthread_mutex_lock(&ex->running_lock);
    n = cancel_running(ex, job_id);
    pthread_mutex_unlock(&ex->running_lock);
    return n;
}

/* Remembers job_id (a running_lock holder's): 0, or JX_ELIMIT /
 * JX_ENOMEM. */
static int remember_ahead(jx_executor *ex, const char *job_id, jx_error *err)
{
    char (*more)[JX__UUID_LEN + 1];

    if (find_ahead(ex, job_id) >= 0)
        return 0; /* one cancel cancels the job once */
    if (ex->n_ahead == JX_CANCEL_AHEAD_MAX)
        return jx__fail(err, JX_ELIMIT, "jx_executor_cancel_ahead: %d "
                                        "cancels of jobs not started are "
                                        "remembered already; forget some "
                                        "with jx_executor_forget_cancel()",
                        JX_CANCEL_AHEAD_MAX);
    /* Grown in steps of 16: few are expected at once. */
    if (ex->n_ahead % 16 == 0) {
        more = realloc(ex->ahead, (ex->n_ahead + 16) * sizeof *more);
        if (more == NULL)
            return jx__fail(err, JX_ENOMEM, "out of memory");
        ex->ahead = more;
    }
    memcpy(ex->ahead[ex->n_ahead++], job_id, JX__UUID_LEN + 1);
    return 0;
}

int jx_executor_cancel_ahead(jx_executor *ex, const char *job_id,
                             jx_error *err)
{
    char id[JX__UUID_LEN + 1];
    uuid_t u;
    int n;

    if (ex == NULL || job_id == NULL)
        return jx__fail(err, JX_EINVAL, "jx_executor_cancel_ahead: NULL "
                                        "executor or job id");
    /* Stored as plans store it, so that a copy in upper case matches. */
    if (strlen(job_id) != JX__UUID_LEN || uuid_parse(job_id, u) != 0)
        return jx__fail(err, JX_EINVAL, "jx_executor_cancel_ahead: '%s' is "
                                        "not a job id (a UUID)",
                        job_id);
    uuid_unparse_lower(u, id);
    pthread_mutex_lock(&ex->running_lock);
    n = cancel_running(ex, id);
    if (n == 0)
        n = remember_ahead(ex, id, err);
    pthread_mutex_unlock(&ex->running_lock);
    return n;
}

/* Forgets the cancel of job_id (any case): 1, or 0 when none is
 * remembered.  Under running_lock. */
static int forget_one(jx_executor *ex, const char *job_id)
{
    char id[JX__UUID_LEN + 1];
    uuid_t u;
    ssize_t i;

    if (strlen(job_id) != JX__UUID_LEN || uuid_parse(job_id, u) != 0)
        return 0;
    uuid_unparse_lower(u, id);
    if ((i = find_ahead(ex, id)) < 0)
        return 0;
    drop_ahead(ex, (size_t)i);
    return 1;
}

int jx_executor_forget_cancel(jx_executor *ex, const char *job_id)
{
    int n;

    if (ex == NULL)
        return JX_EINVAL;
    pthread_mutex_lock(&ex->running_lock);
    if (job_id != NULL) {
        n = forget_one(ex, job_id);
    } else {
        n = (int)ex->n_ahead;
        ex->n_ahead = 0;
    }
    pthread_mutex_unlock(&ex->running_lock);
    return n;
}
