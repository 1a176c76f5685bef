/*
 * bench_run.c - throughput of the run loop and start-up time of the CLI.
 *
 * Figures are medians of several rounds, printed next to a baseline
 * measured in the same run, so that a busy machine shows up as a slower
 * baseline rather than as a false regression.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jobexec/jobexec.h>

#define N_STEPS 100000
#define N_SYNCED_STEPS 2000 /* fsync: step costs a disk flush per step */
#define ROUNDS 5
#define STARTUP_ROUNDS 40

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Resident set size now and at its peak, in KiB, from /proc. */
static long proc_status_kib(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t flen = strlen(field);

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, field, flen) == 0)
            kib = strtol(line + flen, NULL, 10);
    fclose(fp);
    return kib;
}

/* Resets VmHWM to the current RSS, so a peak can be measured per phase. */
static void reset_peak(void)
{
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (fp != NULL) {
        fputs("5", fp);
        fclose(fp);
    }
}

static char *make_plan(size_t n_steps, size_t *len)
{
    size_t cap = 256 + n_steps * 96;
    char *text = malloc(cap);
    size_t off;

    if (text == NULL)
        return NULL;
    off = (size_t)snprintf(text, cap,
                           "contract_id: 0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d\n"
                           "steps:\n");
    for (size_t i = 0; i < n_steps; i++)
        off += (size_t)snprintf(text + off, cap - off,
                                "  - {step_index: %zu, step_type: "
                                "capability_enable, target: CAP_%zu}\n",
                                i, i % 1000);
    *len = off;
    return text;
}

/* An executor with noop; with log_path, an evidence log synced as fsync
 * says ("step", "job" or "none"). */
static jx_executor *make_executor(const char *log_path, const char *fsync)
{
    char text[1024];
    jx_config *cfg;
    jx_executor *ex;
    jx_error err;
    int n;

    n = snprintf(text, sizeof text,
                 "plugin_dir: %s/plugins/.libs\n"
                 "plugins:\n  - path: noop\n"
                 "    step_types: [capability_enable]\n",
                 JX_BENCH_BUILDDIR);
    if (log_path != NULL)
        snprintf(text + n, sizeof text - (size_t)n,
                 "evidence:\n  log: %s\n  fsync: %s\n", log_path, fsync);
    if (jx_config_parse(text, strlen(text), "bench", NULL, &cfg, &err) != 0 ||
        jx_executor_new(cfg, &ex, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    jx_config_free(cfg);
    return ex;
}

static jx_plan *parse_plan(size_t n_steps, size_t *text_len)
{
    size_t len;
    char *text = make_plan(n_steps, &len);
    jx_plan *plan;
    jx_error err;

    if (text == NULL ||
        jx_plan_parse(text, len, "bench-plan", &plan, &err) != 0) {
        fprintf(stderr, "bench: cannot build the plan\n");
        exit(1);
    }
    free(text);
    if (text_len != NULL)
        *text_len = len;
    return plan;
}

/* Runs the plan ROUNDS times; returns the median seconds per job. */
static double time_jobs(jx_executor *ex, const jx_plan *plan, FILE *doc,
                        const char *log_path)
{
    jx_run_options opts = {NULL, NULL, NULL, doc};
    double t[ROUNDS];

    for (int r = 0; r < ROUNDS; r++) {
        jx_result *res;
        jx_error err;
        double t0;

        if (log_path != NULL)
            truncate(log_path, 0);
        t0 = now();
        if (jx_executor_run(ex, plan, &opts, &res, &err) != 0 ||
            jx_result_status(res) != JX_JOB_COMPLETED) {
            fprintf(stderr, "bench: the job did not complete\n");
            exit(1);
        }
        t[r] = now() - t0;
        jx_result_free(res);
    }
    return median(t, ROUNDS);
}

/* The floor the log cannot go below: one write(2) per step of as many
 * bytes as the log wrote per step (followed by fdatasync when sync is
 * set), to a file truncated the same way. */
static double time_bare_writes(const char *path, size_t bytes_per_step,
                               int n_steps, int sync)
{
    char *line = malloc(bytes_per_step);
    double t[ROUNDS];

    if (line == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    memset(line, 'x', bytes_per_step);
    line[bytes_per_step - 1] = '\n';
    for (int r = 0; r < ROUNDS; r++) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
        double t0;
        if (fd < 0) {
            fprintf(stderr, "bench: cannot open %s\n", path);
            exit(1);
        }
        t0 = now();
        for (int i = 0; i < n_steps; i++)
            if (write(fd, line, bytes_per_step) < 0 ||
                (sync && fdatasync(fd) != 0)) {
                fprintf(stderr, "bench: write failed\n");
                exit(1);
            }
        t[r] = now() - t0;
        close(fd);
    }
    free(line);
    return median(t, ROUNDS);
}

static size_t log_bytes_per_step(const char *path, size_t n_steps)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size / n_steps : 0;
}

/* fsync: step next to the bare append-plus-fdatasync loop it stands on. */
static void bench_synced(const char *log_path)
{
    jx_executor *ex = make_executor(log_path, "step");
    jx_plan *plan = parse_plan(N_SYNCED_STEPS, NULL);
    double t_step = time_jobs(ex, plan, NULL, log_path);
    size_t per_step = log_bytes_per_step(log_path, N_SYNCED_STEPS);
    double t_floor = time_bare_writes(log_path, per_step, N_SYNCED_STEPS, 1);

    printf("fsync: step, %d no-op steps, median of %d jobs:\n",
           N_SYNCED_STEPS, ROUNDS);
    printf("  jobexec, fsync: step:          %10.1f us/step\n",
           t_step * 1e6 / N_SYNCED_STEPS);
    printf("  bare append + fdatasync loop:  %10.1f us/step  (jobexec "
           "%.3fx of it; target <= 1.2x)\n",
           t_floor * 1e6 / N_SYNCED_STEPS, t_step / t_floor);
    jx_plan_free(plan);
    jx_executor_free(ex);
}

static void bench_throughput(void)
{
    char log_path[] = "/tmp/jobexec-bench-XXXXXX";
    size_t len, per_step;
    long rss0, rss_plan, peak_run, rss_before_run;
    jx_executor *bare, *logged;
    jx_plan *plan;
    FILE *devnull = fopen("/dev/null", "w");
    double t_bare, t_log, t_cli, t_floor;
    int fd = mkstemp(log_path);
    const double records = 2.0 * N_STEPS + 2; /* 2 per step, 2 per job */

    if (fd < 0 || devnull == NULL) {
        fprintf(stderr, "bench: setup failed\n");
        exit(1);
    }
    close(fd);
    bare = make_executor(NULL, NULL);
    logged = make_executor(log_path, "none");
    rss0 = proc_status_kib("VmRSS:");
    plan = parse_plan(N_STEPS, &len);
    rss_plan = proc_status_kib("VmRSS:");

    t_bare = time_jobs(bare, plan, NULL, NULL);
    t_log = time_jobs(logged, plan, NULL, log_path);
    reset_peak();
    rss_before_run = proc_status_kib("VmRSS:");
    t_cli = time_jobs(logged, plan, devnull, log_path);
    peak_run = proc_status_kib("VmHWM:");
    per_step = log_bytes_per_step(log_path, N_STEPS);
    t_floor = time_bare_writes(log_path, per_step, N_STEPS, 0);

    printf("run loop, %d no-op steps, median of %d jobs:\n", N_STEPS, ROUNDS);
    printf("  no evidence sink (baseline):   %10.0f steps/s  %6.2f us/step\n",
           N_STEPS / t_bare, t_bare * 1e6 / N_STEPS);
    printf("  evidence log, fsync: none:     %10.0f steps/s  %6.2f us/step"
           "  (%.2fx baseline)\n",
           N_STEPS / t_log, t_log * 1e6 / N_STEPS, t_log / t_bare);
    printf("                                 %10.0f records/s (target "
           ">= 300000)\n", records / t_log);
    printf("  evidence log + document:       %10.0f steps/s  %6.2f us/step"
           "  (%.2fx baseline)\n",
           N_STEPS / t_cli, t_cli * 1e6 / N_STEPS, t_cli / t_bare);
    printf("  evidence log per step:         %10zu bytes\n", per_step);
    printf("  bare write(2) of %zu bytes/step: %8.0f steps/s  %6.2f "
           "us/step  (the log's floor)\n",
           per_step, N_STEPS / t_floor, t_floor * 1e6 / N_STEPS);
    printf("memory:\n");
    printf("  plan text:                     %10zu KiB\n", len / 1024);
    printf("  plan in memory:                %10ld KiB\n", rss_plan - rss0);
    printf("  RSS growth while running:      %10ld KiB (peak %ld KiB over "
           "%ld KiB before the run)\n",
           peak_run - rss_before_run, peak_run, rss_before_run);

    jx_plan_free(plan);
    jx_executor_free(bare);
    jx_executor_free(logged);
    bench_synced(log_path);
    fclose(devnull);
    unlink(log_path);
}

static double spawn_wait(const char *const *argv)
{
    posix_spawn_file_actions_t fa;
    double t0 = now();
    pid_t pid;
    int status;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                    environ) != 0) {
        fprintf(stderr, "bench: cannot start %s\n", argv[0]);
        exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: %s failed\n", argv[0]);
        exit(1);
    }
    return now() - t0;
}

static void bench_startup(void)
{
    char plan_path[] = "/tmp/jobexec-bench-plan-XXXXXX";
    char cfg_path[] = "/tmp/jobexec-bench-cfg-XXXXXX";
    const char *exe = JX_BENCH_BUILDDIR "/.libs/jobexec";
    double t_cli[STARTUP_ROUNDS], t_true[STARTUP_ROUNDS];
    int pfd = mkstemp(plan_path), cfd = mkstemp(cfg_path);
    FILE *fp;

    if (pfd < 0 || cfd < 0) {
        fprintf(stderr, "bench: cannot create temp files\n");
        exit(1);
    }
    fp = fdopen(pfd, "w");
    fputs("contract_id: 0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d\nsteps:\n"
          "  - {step_index: 0, step_type: capability_enable, target: A}\n",
          fp);
    fclose(fp);
    fp = fdopen(cfd, "w");
    fprintf(fp,
            "plugin_dir: %s/plugins/.libs\nplugins:\n  - path: noop\n"
            "    step_types: [capability_enable]\n",
            JX_BENCH_BUILDDIR);
    fclose(fp);
    /* The real binary, not libtool's wrapper script. */
    setenv("LD_LIBRARY_PATH", JX_BENCH_BUILDDIR "/.libs", 1);
    for (int r = 0; r < STARTUP_ROUNDS; r++) {
        const char *run[] = {exe, "run", "--config", cfg_path, plan_path,
                             NULL};
        const char *base[] = {"/bin/true", NULL};
        t_true[r] = spawn_wait(base);
        t_cli[r] = spawn_wait(run);
    }
    printf("start-up, `jobexec run` of a 1-step plan, median of %d:\n",
           STARTUP_ROUNDS);
    printf("  /bin/true (spawn baseline):    %10.3f ms\n",
           median(t_true, STARTUP_ROUNDS) * 1e3);
    printf("  jobexec run:                   %10.3f ms\n",
           median(t_cli, STARTUP_ROUNDS) * 1e3);
    unlink(plan_path);
    unlink(cfg_path);
}

int main(void)
{
    bench_throughput();
    bench_startup();
    return 0;
}
