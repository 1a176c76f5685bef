/*
 * isolation_util.c - see isolation_util.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <jobexec/jobexec.h>

#include "isolation_util.h"

int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL || (f->dir = tu_mkdtemp()) == NULL)
        return -1;
    if (chmod(f->dir, 0755) != 0 ||
        asprintf(&f->shared, "%s/shared", f->dir) < 0 ||
        mkdir(f->shared, 0700) != 0 || chmod(f->shared, 01777) != 0)
        return -1;
    atomic_init(&f->step_started, 0);
    f->cancel_kind = -1;
    *state = f;
    return 0;
}

void drop_run(fixture *f)
{
    tu_drop_job(&f->res, &f->plan, NULL, NULL);
    json_decref(f->step);
    f->step = NULL;
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    drop_run(f);
    jx_executor_free(f->ex);
    tu_temp_free(f->dir);
    free(f->shared);
    free(f);
    return 0;
}

char *config_text(const char *plugin_extra, const char *runner_extra,
                  const char *tail)
{
    char *text;

    if (asprintf(&text,
                 "plugins:\n"
                 "  - path: " MISBEHAVE "\n"
                 "%s"
                 "runner:\n"
                 "  path: " TU_RUNNER "\n"
                 "%s%s",
                 plugin_extra, runner_extra, tail) < 0)
        fail_msg("out of memory");
    return text;
}

jx_config *parse_config(const char *text, jx_error *err)
{
    jx_config *cfg = NULL;

    tu_configf(&cfg, err, "test.yaml", TU_PLUGINS, "%s", text);
    return cfg;
}

void make_executor(fixture *f, const char *plugin_extra,
                   const char *runner_extra, const char *tail)
{
    char *text = config_text(plugin_extra, runner_extra, tail);
    jx_config *cfg = parse_config(text, &f->err);
    int rc = jx_executor_new(cfg, &f->ex, &f->err);

    jx_config_free(cfg);
    free(text);
    if (rc != 0)
        fail_msg("executor: %s", f->err.message);
}

/* ---- running ------------------------------------------------------------ */

/* Keeps the last step result and, on request, cancels the job at one of
 * step 0's records. */
static int on_record(const jx_record *rec, void *user)
{
    fixture *f = user;
    json_t *v;

    if (rec->kind == JX_RECORD_STEP_STARTED)
        atomic_store(&f->step_started, 1);
    if ((int)rec->kind == f->cancel_kind && rec->step_index == 0)
        f->cancel_told = jx_executor_cancel(f->ex, NULL);
    if (rec->kind != JX_RECORD_STEP_FINISHED)
        return 0;
    v = json_loadb(rec->json, rec->json_len, 0, NULL);
    if (v == NULL)
        return -1;
    json_decref(f->step);
    f->step = json_incref(json_object_get(v, "step"));
    json_decref(v);
    return 0;
}

void parse_plan(fixture *f, const char *steps)
{
    char *text;

    if (asprintf(&text, HEAD "%s", steps) < 0)
        fail_msg("out of memory");
    tu_plan(text, &f->plan, &f->err);
    free(text);
}

void run_parsed(fixture *f)
{
    jx_run_options opts = {.on_record = on_record, .user = f};

    jx_result_free(f->res);
    f->res = NULL;
    json_decref(f->step);
    f->step = NULL;
    atomic_store(&f->step_started, 0);
    tu_run_job(f->ex, f->plan, &opts, &f->res, &f->err);
    assert_non_null(f->res);
}

void run_steps(fixture *f, const char *steps)
{
    drop_run(f);
    parse_plan(f, steps);
    run_parsed(f);
}

void run_type(fixture *f, const char *type, int timeout,
              const char *params)
{
    char *steps;

    if (asprintf(&steps,
                 "  - {step_index: 0, step_type: %s, timeout_seconds: %d%s%s}"
                 "\n",
                 type, timeout, params ? ", parameters: " : "",
                 params ? params : "") < 0)
        fail_msg("out of memory");
    run_steps(f, steps);
    free(steps);
}

void assert_outcome(const fixture *f, jx_job_status status,
                    const char *reason)
{
    assert_string_equal(jx_result_reason(f->res), reason);
    assert_int_equal(jx_result_status(f->res), status);
}

const char *step_error(const fixture *f)
{
    const char *error;

    assert_non_null(f->step);
    error = json_string_value(json_object_get(f->step, "error"));
    assert_non_null(error);
    return error;
}

pid_t well_pid(fixture *f)
{
    json_t *pid;

    run_type(f, "well", 30, NULL);
    assert_outcome(f, JX_JOB_COMPLETED, "All steps completed successfully");
    assert_non_null(f->step);
    pid = json_object_get(json_object_get(f->step, "output"), "pid");
    assert_true(json_is_integer(pid));
    assert_true(json_integer_value(pid) > 0);
    return (pid_t)json_integer_value(pid);
}

/* ---- /proc -------------------------------------------------------------- */

size_t count_fds(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    d = opendir(path);
    if (d == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

char proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[1024], state = 0;
    FILE *fp;
    const char *close_paren;
    long parent = 0;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "re")) == NULL)
        return 0;
    if (fgets(buf, sizeof buf, fp) != NULL &&
        (close_paren = strrchr(buf, ')')) != NULL &&
        sscanf(close_paren + 1, " %c %ld", &state, &parent) != 2)
        state = 0;
    fclose(fp);
    if (ppid != NULL)
        *ppid = (pid_t)parent;
    return state;
}

size_t count_zombie_children(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        pid_t ppid = 0;
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (proc_state((pid_t)pid, &ppid) == 'Z' && ppid == getpid())
            n++;
    }
    closedir(d);
    return n;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- cgroups ------------------------------------------------------------ */

/* ---- a setsid() grandchild ---------------------------------------------- */

int cgroup_parent(char *path, size_t path_len, char *why, size_t len)
{
    char line[4096], mount[1024] = "", self[2048] = "";
    FILE *fp = fopen("/proc/self/mountinfo", "re");

    if (fp == NULL)
        return snprintf(why, len, "no /proc/self/mountinfo"), 0;
    while (mount[0] == '\0' && fgets(line, sizeof line, fp) != NULL)
        if (strstr(line, " - cgroup2 ") == NULL ||
            sscanf(line, "%*s %*s %*s %*s %1023s", mount) != 1)
            mount[0] = '\0';
    fclose(fp);
    if (mount[0] == '\0')
        return snprintf(why, len, "no cgroup v2 hierarchy is mounted"), 0;
    if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
        return snprintf(why, len, "no /proc/self/cgroup"), 0;
    while (self[0] == '\0' && fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, "0::", 3) != 0 ||
            sscanf(line + 3, "%2047s", self) != 1)
            self[0] = '\0';
    fclose(fp);
    snprintf(path, path_len, "%s%s", mount,
             strcmp(self, "/") == 0 ? "" : self);
    if (self[0] == '\0' || access(path, W_OK) != 0)
        return snprintf(why, len, "the cgroup v2 folder %s is not writable",
                        path), 0;
    return 1;
}

size_t count_runner_cgroups(void)
{
    char parent[4096], why[512], prefix[64];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    if (!cgroup_parent(parent, sizeof parent, why, sizeof why))
        return 0;
    snprintf(prefix, sizeof prefix, "jobexec-%ld-", (long)getpid());
    if ((d = opendir(parent)) == NULL)
        fail_msg("cannot open %s: %s", parent, strerror(errno));
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}
