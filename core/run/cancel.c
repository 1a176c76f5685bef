/*
 * cancel.c - jx_executor_cancel(): the jobs an executor runs now, and the
 * flag and wake-up each of them lends its steps.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "run/job.h"

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

int jx_executor_cancel(jx_executor *ex, const char *job_id)
{
    uint64_t one = 1;
    int n = 0;

    if (ex == NULL)
        return JX_EINVAL;
    pthread_mutex_lock(&ex->running_lock);
    for (jx__job *j = ex->running; j != NULL; j = j->next_running) {
        if (job_id != NULL && strcmp(job_id, j->plan->job_id) != 0)
            continue;
        atomic_store(&j->cancelled, 1);
        if (j->cancel_fd >= 0 && write(j->cancel_fd, &one, sizeof one) < 0 &&
            errno != EAGAIN)
            continue; /* the flag alone still stops the job */
        n++;
    }
    pthread_mutex_unlock(&ex->running_lock);
    return n;
}
