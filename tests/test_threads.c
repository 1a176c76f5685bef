/*
 * test_threads.c - one executor shared by several threads, as a worker
 * with a thread pool uses it.  Every job completes with its own counts; a
 * handler or observer that does not declare JX_HANDLER_THREAD_SAFE is never
 * entered by two threads at once, while a thread-safe one is not
 * serialised; records of concurrent jobs never interleave inside a line of
 * the evidence log, and each job's chain verifies on its own.
 *
 * cmocka is not thread-safe: worker threads only count, and the main
 * thread asserts.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <jobexec/jobexec.h>

#include "fixture.h"
#include "testutil.h"

#define JOBS_PER_THREAD 200
#define MAX_THREADS 4
#define STEPS_PER_JOB 3
#define LINES_PER_JOB (2 + 2 * STEPS_PER_JOB)

/* ---- handlers that watch for concurrency -------------------------------- */

static struct {
    atomic_int serial_inside;   /* a thread is in the serial handler */
    atomic_int serial_overlaps; /* times it was entered while occupied */
    atomic_long serial_calls;
    atomic_int observer_inside;
    atomic_int observer_overlaps;
    atomic_long observer_calls;
    atomic_int parallel_active;
    atomic_int parallel_max;
    atomic_long parallel_calls;
    /* The rendezvous: callers inside it now, and whether two ever were
     * inside together. */
    atomic_int meeting_inside;
    atomic_int meeting_met;
} watch;

/* Long enough that two unserialised callers overlap, short enough for
 * 800 jobs. */
static void linger(void)
{
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
}

/* Declared not thread-safe: the core must serialise calls. */
static int serial_execute(void *state, const jx_host_v1 *host,
                          const jx_context *ctx, const jx_step *step,
                          jx_output *out)
{
    (void)state;
    (void)ctx;
    if (atomic_exchange(&watch.serial_inside, 1) != 0)
        atomic_fetch_add(&watch.serial_overlaps, 1);
    atomic_fetch_add(&watch.serial_calls, 1);
    linger();
    host->out_int(out, "index", host->step_index(step));
    atomic_store(&watch.serial_inside, 0);
    return JX_STEP_OK;
}

static const char *const serial_types[] = {"serial", NULL};

static const step_handler_v1 serial_handler = {
    JX_STEP_HANDLER_HEADER, "serial", "1.0.0", serial_types, 0, NULL, NULL,
    serial_execute, NULL,
};

/* Waits (up to 30 s) until a second caller is inside at the same time, or
 * has seen this one inside. */
static void meet(void)
{
    struct timespec start, now;

    atomic_fetch_add(&watch.meeting_inside, 1);
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        if (atomic_load(&watch.meeting_inside) >= 2)
            atomic_store(&watch.meeting_met, 1);
        if (atomic_load(&watch.meeting_met))
            break;
        linger();
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 30);
    atomic_fetch_sub(&watch.meeting_inside, 1);
}

/* Declared thread-safe: the core may call it from many threads at once. */
static int parallel_execute(void *state, const jx_host_v1 *host,
                            const jx_context *ctx, const jx_step *step,
                            jx_output *out)
{
    int active = atomic_fetch_add(&watch.parallel_active, 1) + 1;
    int max = atomic_load(&watch.parallel_max);

    (void)state;
    (void)ctx;
    while (active > max &&
           !atomic_compare_exchange_weak(&watch.parallel_max, &max, active))
        ;
    atomic_fetch_add(&watch.parallel_calls, 1);
    if (strcmp(host->step_type(step), "meet") == 0)
        meet();
    else
        linger();
    host->out_int(out, "index", host->step_index(step));
    atomic_fetch_sub(&watch.parallel_active, 1);
    return JX_STEP_OK;
}

static const char *const parallel_types[] = {"parallel", "meet", NULL};

static const step_handler_v1 parallel_handler = {
    JX_STEP_HANDLER_HEADER,
    "parallel",
    "1.0.0",
    parallel_types,
    JX_HANDLER_THREAD_SAFE,
    NULL,
    NULL,
    parallel_execute,
    NULL,
};

/* A health observer that is not thread-safe either. */
static int serial_observe(void *state, const jx_host_v1 *host,
                          jx_output *snapshot, char *errbuf,
                          size_t errbuf_len)
{
    (void)state;
    (void)errbuf;
    (void)errbuf_len;
    if (atomic_exchange(&watch.observer_inside, 1) != 0)
        atomic_fetch_add(&watch.observer_overlaps, 1);
    atomic_fetch_add(&watch.observer_calls, 1);
    linger();
    host->out_string(snapshot, "status", "green");
    atomic_store(&watch.observer_inside, 0);
    return 0;
}

static const health_observer_v1 serial_observer = {
    JX_HEALTH_OBSERVER_HEADER, "serial_observer", "1.0.0", 0, NULL,
    serial_observe, NULL,
};

/* ---- the workers -------------------------------------------------------- */

typedef struct worker {
    pthread_t thread;
    jx_executor *ex;
    unsigned id;
    size_t n_jobs;
    const char *middle_type; /* the second step's type */
    /* Counted here, asserted by the main thread. */
    size_t n_completed;
    size_t n_wrong;
    char first_problem[512];
} worker;

static void job_id_of(unsigned thread, size_t job, char out[37])
{
    snprintf(out, 37, "%08x-0000-4000-8000-%012zx", thread, job);
}

static void problem(worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(worker *w, const char *fmt, ...)
{
    va_list ap;

    w->n_wrong++;
    if (w->first_problem[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(w->first_problem, sizeof w->first_problem, fmt, ap);
    va_end(ap);
}

static void run_one(worker *w, size_t k)
{
    char job_id[37], text[1024];
    jx_plan *plan = NULL;
    jx_result *res = NULL;
    jx_error err;
    int len;

    job_id_of(w->id, k, job_id);
    len = snprintf(text, sizeof text,
                   "job_id: %s\ncontract_id: " TU_CONTRACT "\nsteps:\n"
                   "  - {step_index: 0, step_type: capability_enable}\n"
                   "  - {step_index: 1, step_type: %s}\n"
                   "  - {step_index: 2, step_type: parallel}\n",
                   job_id, w->middle_type);
    if (jx_plan_parse(text, (size_t)len, "plan.yaml", &plan, &err) != 0) {
        problem(w, "plan %s: %s", job_id, err.message);
        return;
    }
    if (jx_executor_run(w->ex, plan, NULL, &res, &err) != 0) {
        problem(w, "run %s: %s", job_id, err.message);
    } else if (jx_result_status(res) != JX_JOB_COMPLETED ||
               jx_result_steps_executed(res) != STEPS_PER_JOB ||
               jx_result_steps_succeeded(res) != STEPS_PER_JOB ||
               jx_result_steps_failed(res) != 0 ||
               strcmp(jx_result_job_id(res), job_id) != 0) {
        problem(w, "job %s: %s (%s), %zu/%zu/%zu steps, job_id %s", job_id,
                jx_result_status_name(res), jx_result_reason(res),
                jx_result_steps_executed(res),
                jx_result_steps_succeeded(res), jx_result_steps_failed(res),
                jx_result_job_id(res));
    } else {
        w->n_completed++;
    }
    jx_result_free(res);
    jx_plan_free(plan);
}

static void *work(void *arg)
{
    worker *w = arg;

    for (size_t k = 0; k < w->n_jobs; k++)
        run_one(w, k);
    return NULL;
}

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char *log_path;
    jx_config *cfg;
    jx_executor *ex;
    char *log_text;
    char **lines; /* per job: LINES_PER_JOB pointers into log_text */
    size_t *n_lines;
    jx_error err;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    memset(&watch, 0, sizeof watch);
    if (f == NULL || tu_temp_log(&f->dir, &f->log_path) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_drop_job(NULL, NULL, &f->ex, &f->cfg);
    free(f->log_text);
    free(f->lines);
    free(f->n_lines);
    tu_temp_free(f->dir);
    free(f->log_path);
    free(f);
    return 0;
}

static void make_executor(fixture *f)
{
    tu_configf(&f->cfg, &f->err, "test.yaml", TU_PLUGINS,
               "plugin_dir: " TU_PLUGINS "\n"
               "plugins:\n"
               "  - path: noop\n"
               "    step_types: [capability_enable]\n"
               "evidence: {log: \"%s\"}\n",
               f->log_path);
    if (jx_executor_new(f->cfg, &f->ex, &f->err) != 0 ||
        jx_executor_add_handler(f->ex, &serial_handler, NULL, NULL,
                                &f->err) != 0 ||
        jx_executor_add_handler(f->ex, &parallel_handler, NULL, NULL,
                                &f->err) != 0 ||
        jx_executor_set_health_observer(f->ex, &serial_observer, NULL,
                                        &f->err) != 0)
        fail_msg("executor: %s", f->err.message);
}

static void run_workers(fixture *f, unsigned n_threads, size_t n_jobs,
                        const char *middle_type)
{
    worker w[MAX_THREADS];

    assert_true(n_threads <= MAX_THREADS);
    memset(w, 0, sizeof w);
    for (unsigned t = 0; t < n_threads; t++) {
        w[t].ex = f->ex;
        w[t].id = t;
        w[t].n_jobs = n_jobs;
        w[t].middle_type = middle_type;
        assert_int_equal(pthread_create(&w[t].thread, NULL, work, &w[t]), 0);
    }
    for (unsigned t = 0; t < n_threads; t++)
        assert_int_equal(pthread_join(w[t].thread, NULL), 0);
    for (unsigned t = 0; t < n_threads; t++) {
        if (w[t].n_wrong != 0)
            fail_msg("thread %u: %zu jobs went wrong; first: %s", t,
                     w[t].n_wrong, w[t].first_problem);
        assert_int_equal(w[t].n_completed, n_jobs);
    }
}

/* ---- checking the log --------------------------------------------------- */

/* The job's slot from its job_id ("TTTTTTTT-0000-4000-8000-KKKKKKKKKKKK"). */
static size_t slot_of(const char *job_id, size_t n_jobs)
{
    unsigned thread;
    size_t job;

    if (sscanf(job_id, "%8x-0000-4000-8000-%12zx", &thread, &job) != 2 ||
        thread >= MAX_THREADS || job >= n_jobs)
        fail_msg("unexpected job_id '%s'", job_id);
    return thread * n_jobs + job;
}

/* Every line of the log is one whole JSON record; sorted by job, each
 * job's lines form its chain. */
static void verify_log(fixture *f, unsigned n_threads, size_t n_jobs)
{
    size_t n_slots = MAX_THREADS * n_jobs, n_lines = 0;
    char *p;

    free(f->log_text);
    f->log_text = tu_read(f->log_path);
    assert_non_null(f->log_text);
    f->lines = calloc(n_slots * LINES_PER_JOB, sizeof *f->lines);
    f->n_lines = calloc(n_slots, sizeof *f->n_lines);
    assert_non_null(f->lines);
    assert_non_null(f->n_lines);

    for (p = f->log_text; *p != '\0'; n_lines++) {
        char *nl = strchr(p, '\n');
        json_error_t jerr;
        json_t *rec;
        size_t slot;

        if (nl == NULL)
            fail_msg("the log ends inside a line: '%.80s'", p);
        *nl = '\0';
        rec = json_loads(p, 0, &jerr);
        if (rec == NULL)
            fail_msg("line %zu is not one JSON record (%s): '%.200s'",
                     n_lines + 1, jerr.text, p);
        if (!json_is_string(json_object_get(rec, "job_id")) ||
            !json_is_string(json_object_get(rec, "event"))) {
            json_decref(rec);
            fail_msg("line %zu lacks job_id or event", n_lines + 1);
        }
        slot = slot_of(json_string_value(json_object_get(rec, "job_id")),
                       n_jobs);
        json_decref(rec);
        assert_true(f->n_lines[slot] < LINES_PER_JOB);
        f->lines[slot * LINES_PER_JOB + f->n_lines[slot]++] = p;
        p = nl + 1;
    }
    assert_int_equal(n_lines, n_threads * n_jobs * LINES_PER_JOB);

    for (unsigned t = 0; t < n_threads; t++) {
        for (size_t k = 0; k < n_jobs; k++) {
            size_t slot = t * n_jobs + k;
            char job_id[37], prev[TU_SHA256_HEX_SIZE];

            job_id_of(t, k, job_id);
            assert_int_equal(f->n_lines[slot], LINES_PER_JOB);
            tu_chain_genesis(job_id, prev);
            for (size_t i = 0; i < LINES_PER_JOB; i++) {
                const char *line = f->lines[slot * LINES_PER_JOB + i];
                json_t *rec = json_loads(line, 0, NULL);
                assert_non_null(rec);
                assert_int_equal(
                    json_integer_value(json_object_get(rec, "seq")), i);
                if (strcmp(json_string_value(json_object_get(rec, "prev")),
                           prev) != 0) {
                    json_decref(rec);
                    fail_msg("job %s: record %zu does not chain", job_id, i);
                }
                json_decref(rec);
                tu_sha256_hex(line, strlen(line), prev);
            }
        }
    }
}

/* ---- the tests ---------------------------------------------------------- */

static void many_jobs(fixture *f, unsigned n_threads)
{
    long jobs = (long)n_threads * JOBS_PER_THREAD;

    make_executor(f);
    run_workers(f, n_threads, JOBS_PER_THREAD, "serial");
    assert_int_equal(atomic_load(&watch.serial_overlaps), 0);
    assert_int_equal(atomic_load(&watch.observer_overlaps), 0);
    assert_int_equal(atomic_load(&watch.serial_calls), jobs);
    assert_int_equal(atomic_load(&watch.parallel_calls), jobs);
    /* Once before each job, once after each of its steps. */
    assert_int_equal(atomic_load(&watch.observer_calls),
                     jobs * (1 + STEPS_PER_JOB));
    assert_true(atomic_load(&watch.parallel_max) >= 1);
    assert_true(atomic_load(&watch.parallel_max) <= (int)n_threads);
    verify_log(f, n_threads, JOBS_PER_THREAD);
}

static void test_two_threads(void **state) { many_jobs(*state, 2); }

static void test_four_threads(void **state) { many_jobs(*state, 4); }

static void test_thread_safe_handler_not_serialised(void **state)
{
    fixture *f = *state;

    make_executor(f);
    /* Each thread runs one job whose middle step waits (up to 30 s) for
     * the other thread's to be inside the same handler: only possible
     * when the core does not serialise a thread-safe handler. */
    run_workers(f, 2, 1, "meet");
    assert_int_equal(atomic_load(&watch.meeting_met), 1);
    assert_int_equal(atomic_load(&watch.parallel_calls), 4);
    assert_int_equal(atomic_load(&watch.parallel_max), 2);
    verify_log(f, 2, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_two_threads),
        T(test_four_threads),
        T(test_thread_safe_handler_not_serialised),
    };
#undef T
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
