/*
 * bench_run.c - throughput of the run loop, the cost of an isolated step
 * and start-up time of the CLI.
 *
 * Figures are medians of several rounds, printed next to a baseline
 * measured in the same run, so that a busy machine shows up as a slower
 * baseline rather than as a false regression.
 */
/* The mapping's floor hashes with SHA256_*, as the log does (see
 * core/base/sha256.c); OpenSSL 3 marks them deprecated. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <jobexec/jobexec.h>

#define N_STEPS 100000
#define N_SYNCED_STEPS 2000 /* fsync: step costs a disk flush per step */
#define ROUNDS 5
#define STARTUP_ROUNDS 40
#define N_ISOLATED_STEPS 2000 /* each a round trip to the runner */
#define FRESH_ROUNDS 200      /* a runner started and stopped per step */
#define EXEC_BYTES 328        /* noop's EXEC frame, header included */
#define DONE_BYTES 176        /* and its DONE frame */

extern char **environ;

/* Temp files, removed however the bench ends (an exit(1) included). */
static char *temp_files[3];

static void remove_temp_files(void)
{
    for (size_t i = 0; i < sizeof temp_files / sizeof *temp_files; i++)
        if (temp_files[i] != NULL) {
            unlink(temp_files[i]);
            temp_files[i] = NULL;
        }
}

/* mkstemp, with the file remembered for remove_temp_files. */
static int make_temp(char *path)
{
    int fd = mkstemp(path);

    for (size_t i = 0; fd >= 0 && i < sizeof temp_files / sizeof *temp_files;
         i++)
        if (temp_files[i] == NULL) {
            temp_files[i] = path;
            break;
        }
    return fd;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(int who);

/* The CPU seconds (user + system) of the last one_job or
 * one_mapped_pass: on a machine shared with other work, wall time
 * counts the waits for a core too. */
static double last_cpu;

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

static jx_config *parse_config(const char *text, const char *name)
{
    jx_config *cfg;
    jx_error err;

    if (jx_config_parse(text, strlen(text), name, NULL, &cfg, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    return cfg;
}

static jx_executor *new_executor(const jx_config *cfg)
{
    jx_executor *ex;
    jx_error err;

    if (jx_executor_new(cfg, &ex, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    return ex;
}

/* noop in-process; with log_path, an evidence log synced as fsync says
 * ("step", "job" or "none").  The build tree is not the installation's
 * plugin folder, so in-process is asked for by name. */
static jx_config *inproc_config(const char *log_path, const char *fsync)
{
    char text[1024];
    int n;

    n = snprintf(text, sizeof text,
                 "plugin_dir: %s/plugins/.libs\n"
                 "plugins:\n  - path: noop\n"
                 "    isolation: inproc\n"
                 "    step_types: [capability_enable]\n",
                 JX_BENCH_BUILDDIR);
    if (log_path != NULL)
        snprintf(text + n, sizeof text - (size_t)n,
                 "evidence:\n  log: %s\n  fsync: %s\n", log_path, fsync);
    return parse_config(text, "bench");
}

static jx_executor *make_executor(const char *log_path, const char *fsync)
{
    jx_config *cfg = inproc_config(log_path, fsync);
    jx_executor *ex = new_executor(cfg);

    jx_config_free(cfg);
    return ex;
}

/* noop in a jobexec-runner of this build tree. */
static jx_config *isolated_config(void)
{
    char text[1024];

    snprintf(text, sizeof text,
             "plugin_dir: %s/plugins/.libs\n"
             "plugins:\n  - path: noop\n"
             "    isolation: process\n"
             "    step_types: [capability_enable]\n"
             "runner:\n  path: %s/jobexec-runner\n",
             JX_BENCH_BUILDDIR, JX_BENCH_BUILDDIR);
    return parse_config(text, "bench-isolated");
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

/* Runs one job, which must complete.  On failure the executor is freed
 * first, so that no runner outlives the bench. */
static void run_job(jx_executor *ex, const jx_plan *plan,
                    const jx_run_options *opts)
{
    jx_result *res;
    jx_error err;

    if (jx_executor_run(ex, plan, opts, &res, &err) != 0) {
        fprintf(stderr, "bench: the job did not run: %s\n", err.message);
        jx_executor_free(ex);
        exit(1);
    }
    if (jx_result_status(res) != JX_JOB_COMPLETED) {
        fprintf(stderr, "bench: the job did not complete: %s\n",
                jx_result_reason(res));
        jx_result_free(res);
        jx_executor_free(ex);
        exit(1);
    }
    jx_result_free(res);
}

/* One job, its log truncated first; returns its seconds. */
static double one_job(jx_executor *ex, const jx_plan *plan, FILE *doc,
                      const char *log_path)
{
    jx_run_options opts = {.document = doc};
    double t0;

    double c0;

    if (log_path != NULL)
        truncate(log_path, 0);
    c0 = cpu_seconds(RUSAGE_SELF);
    t0 = now();
    run_job(ex, plan, &opts);
    last_cpu = cpu_seconds(RUSAGE_SELF) - c0;
    return now() - t0;
}

/* Runs the plan ROUNDS times; returns the median seconds per job. */
static double time_jobs(jx_executor *ex, const jx_plan *plan, FILE *doc,
                        const char *log_path)
{
    double t[ROUNDS], c[ROUNDS];

    for (int r = 0; r < ROUNDS; r++) {
        t[r] = one_job(ex, plan, doc, log_path);
        c[r] = last_cpu;
    }
    last_cpu = median(c, ROUNDS);
    return median(t, ROUNDS);
}

/* What the bare loops do per step besides the append. */
enum { BARE_WRITE = 0, BARE_SYNC = 1, BARE_HASH = 2 };

/* The chain hashes each step's two records apart: two SHA-256 digests
 * over the step's bytes, through one reused context as the log does. */
static void hash_step(EVP_MD_CTX *ctx, const EVP_MD *md, const char *bytes,
                      size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t half = len / 2;

    if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, bytes, half) != 1 ||
        EVP_DigestFinal_ex(ctx, digest, NULL) != 1 ||
        EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, bytes + half, len - half) != 1 ||
        EVP_DigestFinal_ex(ctx, digest, NULL) != 1) {
        fprintf(stderr, "bench: SHA-256 failed\n");
        exit(1);
    }
}

/* One pass of n_steps appends of bytes_per_step bytes to a truncated
 * file, each hashed first (BARE_HASH) or synced after (BARE_SYNC);
 * returns its seconds. */
static double one_bare_pass(const char *path, size_t bytes_per_step,
                            int n_steps, int mode)
{
    char *line = malloc(bytes_per_step);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    double t0, t;

    if (line == NULL || fd < 0 || md == NULL || ctx == NULL) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        exit(1);
    }
    memset(line, 'x', bytes_per_step);
    line[bytes_per_step - 1] = '\n';
    t0 = now();
    for (int i = 0; i < n_steps; i++) {
        if (mode == BARE_HASH)
            hash_step(ctx, md, line, bytes_per_step);
        if (write(fd, line, bytes_per_step) < 0 ||
            (mode == BARE_SYNC && fdatasync(fd) != 0)) {
            fprintf(stderr, "bench: write failed\n");
            exit(1);
        }
    }
    t = now() - t0;
    close(fd);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    free(line);
    return t;
}

/* The log's two records per step hashed apart, with the low-level
 * calls the log uses. */
static void hash_step_fast(const char *bytes, size_t len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    size_t half = len / 2;
    SHA256_CTX c;

    if (SHA256_Init(&c) != 1 || SHA256_Update(&c, bytes, half) != 1 ||
        SHA256_Final(digest, &c) != 1 || SHA256_Init(&c) != 1 ||
        SHA256_Update(&c, bytes + half, len - half) != 1 ||
        SHA256_Final(digest, &c) != 1) {
        fprintf(stderr, "bench: SHA-256 failed\n");
        exit(1);
    }
}

#define HUGE_PAGE ((size_t)2 << 20)

/* With huge pages: each 2 MiB made writable in one call as the copies
 * reach it, as the log does. */
static void populate_huge(char *map, size_t at, size_t *populated,
                          size_t size)
{
    size_t to;

    if (at <= *populated)
        return;
    to = *populated + HUGE_PAGE < size ? *populated + HUGE_PAGE : size;
    if (madvise(map + *populated, to - *populated, MADV_POPULATE_WRITE) != 0)
        to = size; /* the faults happen instead */
    *populated = to;
}

/* One pass of n_steps copies of bytes_per_step bytes into a MAP_SHARED
 * mapping of the truncated file, each hashed first: what a log held
 * alone does at the least.  The file is grown and mapped before the
 * clock starts; its page faults are inside, one per 4 KiB page, or (huge)
 * one call per huge page where the kernel maps the file with them.
 * Returns its seconds. */
static double one_mapped_pass(const char *path, size_t bytes_per_step,
                              int n_steps, int huge)
{
    size_t size = bytes_per_step * (size_t)n_steps, populated = 0;
    char *line = malloc(bytes_per_step), *map;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    double t0, t;

    if (huge) /* whole huge pages: the kernel aligns the mapping then */
        size = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (line == NULL || fd < 0 || fallocate(fd, 0, 0, (off_t)size) != 0 ||
        (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                    0)) == MAP_FAILED) {
        fprintf(stderr, "bench: cannot map %s\n", path);
        exit(1);
    }
    double c0;

    if (huge)
        (void)madvise(map, size, MADV_HUGEPAGE);
    memset(line, 'x', bytes_per_step);
    line[bytes_per_step - 1] = '\n';
    c0 = cpu_seconds(RUSAGE_SELF);
    t0 = now();
    for (int i = 0; i < n_steps; i++) {
        size_t at = (size_t)i * bytes_per_step;

        hash_step_fast(line, bytes_per_step);
        if (huge)
            populate_huge(map, at + bytes_per_step, &populated, size);
        memcpy(map + at, line, bytes_per_step);
    }
    t = now() - t0;
    last_cpu = cpu_seconds(RUSAGE_SELF) - c0;
    munmap(map, size);
    close(fd);
    free(line);
    return t;
}

static double time_mapped_writes(const char *path, size_t bytes_per_step,
                                 int n_steps, int huge)
{
    double t[ROUNDS], c[ROUNDS];

    for (int r = 0; r < ROUNDS; r++) {
        t[r] = one_mapped_pass(path, bytes_per_step, n_steps, huge);
        c[r] = last_cpu;
    }
    last_cpu = median(c, ROUNDS);
    return median(t, ROUNDS);
}

static double time_bare_writes(const char *path, size_t bytes_per_step,
                               int n_steps, int mode)
{
    double t[ROUNDS];

    for (int r = 0; r < ROUNDS; r++)
        t[r] = one_bare_pass(path, bytes_per_step, n_steps, mode);
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
    double t_step[ROUNDS], t_floor[ROUNDS], step, floor_;
    size_t per_step;

    one_job(ex, plan, NULL, log_path); /* to learn the bytes per step */
    per_step = log_bytes_per_step(log_path, N_SYNCED_STEPS);
    /* Alternated, so that the disk's moods fall on both alike. */
    for (int r = 0; r < ROUNDS; r++) {
        t_step[r] = one_job(ex, plan, NULL, log_path);
        t_floor[r] = one_bare_pass(log_path, per_step, N_SYNCED_STEPS,
                                   BARE_SYNC);
    }
    step = median(t_step, ROUNDS);
    floor_ = median(t_floor, ROUNDS);
    printf("fsync: step, %d no-op steps, median of %d jobs, alternated "
           "with the bare loop:\n", N_SYNCED_STEPS, ROUNDS);
    printf("  jobexec, fsync: step:          %10.1f us/step\n",
           step * 1e6 / N_SYNCED_STEPS);
    printf("  bare append + fdatasync loop:  %10.1f us/step  (jobexec "
           "%.3fx of it; target <= 1.2x)\n",
           floor_ * 1e6 / N_SYNCED_STEPS, step / floor_);
    jx_plan_free(plan);
    jx_executor_free(ex);
}

static void bench_throughput(void)
{
    static char log_path[] = "/tmp/jobexec-bench-XXXXXX";
    /* The buffer `jobexec run` gives stdout when it carries a document. */
    static char doc_buffer[64 * 1024];
    size_t len, per_step;
    long rss0, rss_plan, peak_run, rss_before_run;
    jx_executor *bare, *logged;
    jx_plan *plan;
    FILE *devnull = fopen("/dev/null", "w");
    double t_bare, t_log, t_cli, t_floor, t_hashed, t_mapped, t_huge;
    double c_log, c_cli, c_mapped, c_huge;
    int fd = make_temp(log_path);
    const double records = 2.0 * N_STEPS + 2; /* 2 per step, 2 per job */

    if (fd < 0 || devnull == NULL ||
        setvbuf(devnull, doc_buffer, _IOFBF, sizeof doc_buffer) != 0) {
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
    c_log = last_cpu;
    reset_peak();
    rss_before_run = proc_status_kib("VmRSS:");
    t_cli = time_jobs(logged, plan, devnull, log_path);
    c_cli = last_cpu;
    peak_run = proc_status_kib("VmHWM:");
    per_step = log_bytes_per_step(log_path, N_STEPS);
    t_floor = time_bare_writes(log_path, per_step, N_STEPS, BARE_WRITE);
    t_hashed = time_bare_writes(log_path, per_step, N_STEPS, BARE_HASH);
    t_mapped = time_mapped_writes(log_path, per_step, N_STEPS, 0);
    c_mapped = last_cpu;
    t_huge = time_mapped_writes(log_path, per_step, N_STEPS, 1);
    c_huge = last_cpu;

    printf("run loop, %d no-op steps, median of %d jobs:\n", N_STEPS, ROUNDS);
    printf("  no evidence sink (baseline):   %10.0f steps/s  %6.2f us/step\n",
           N_STEPS / t_bare, t_bare * 1e6 / N_STEPS);
    printf("  evidence log, fsync: none:     %10.0f steps/s  %6.2f us/step"
           "  (%.2fx baseline)\n",
           N_STEPS / t_log, t_log * 1e6 / N_STEPS, t_log / t_bare);
    printf("                                 %10.0f records/s (target "
           ">= 300000)\n", records / t_log);
    printf("                                 %10.2fx the mapping's floor "
           "(targets: >= 500000 steps/s, <= 1.60x),\n"
           "                                 %10.2fx the same floor with "
           "huge pages,\n"
           "                                 %10.2fx the write(2) + EVP "
           "floor\n",
           t_log / t_mapped, t_log / t_huge, t_log / t_hashed);
    printf("  evidence log + document:       %10.0f steps/s  %6.2f us/step"
           "  (%.2fx baseline)\n",
           N_STEPS / t_cli, t_cli * 1e6 / N_STEPS, t_cli / t_bare);
    printf("                                 %10.2fx the log alone "
           "(target <= 1.10x)\n", t_cli / t_log);
    printf("  evidence log per step:         %10zu bytes\n", per_step);
    printf("  bare write(2) of %zu bytes/step: %8.0f steps/s  %6.2f "
           "us/step  (the log's floor)\n",
           per_step, N_STEPS / t_floor, t_floor * 1e6 / N_STEPS);
    /* Write-ahead: one append per step before its handler; the chain: a
     * SHA-256 of every record.  Nothing the log does per step is cheaper,
     * so this loop caps a logged run whatever the executor does. */
    printf("  ... + SHA-256 of those bytes:  %10.0f steps/s  %6.2f us/step"
           "  (the chained log's floor;\n"
           "                                 a logged job cannot beat it; "
           "target 500000 steps/s = 2.00 us/step)\n",
           N_STEPS / t_hashed, t_hashed * 1e6 / N_STEPS);
    /* What a log held alone does instead: a copy into its mapping, and
     * the cheapest SHA-256. */
    printf("  memcpy into a shared mapping + SHA-256 (SHA256_*):\n"
           "                                 %10.0f steps/s  %6.2f us/step"
           "  (the mapping's floor: 4 KiB pages)\n",
           N_STEPS / t_mapped, t_mapped * 1e6 / N_STEPS);
    /* What the log does when its extents are large: where the kernel
     * maps the file with huge pages, the first store into each 4 KiB
     * page no longer costs a fault. */
    printf("  ... the same, huge pages:      %10.0f steps/s  %6.2f us/step"
           "  (the floor with huge pages)\n",
           N_STEPS / t_huge, t_huge * 1e6 / N_STEPS);
    /* The same medians in CPU time, which other work on the machine
     * disturbs less than it does wall time. */
    printf("  CPU time per step (user + system): log %.2f us, log + "
           "document %.2f us,\n"
           "                                 mapping's floor %.2f us (huge "
           "pages %.2f us): log %.2fx the floor\n"
           "                                 (%.2fx with huge pages), + "
           "document %.2fx the log\n",
           c_log * 1e6 / N_STEPS, c_cli * 1e6 / N_STEPS,
           c_mapped * 1e6 / N_STEPS, c_huge * 1e6 / N_STEPS,
           c_log / c_mapped, c_log / c_huge, c_cli / c_log);
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
    remove_temp_files();
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

/* User plus system CPU seconds of this process, or of its reaped
 * children. */
static double cpu_seconds(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Reads exactly len bytes; -1 at EOF or on an error. */
static int read_exactly(int fd, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A child that answers every EXEC_BYTES it reads with DONE_BYTES, until
 * the socket closes; *pid is the child's, the result our end. */
static int echo_start(pid_t *pid)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        (*pid = fork()) < 0) {
        fprintf(stderr, "bench: cannot start the echo process\n");
        exit(1);
    }
    if (*pid == 0) {
        char buf[EXEC_BYTES];
        close(sv[0]);
        memset(buf, 'd', sizeof buf);
        while (read_exactly(sv[1], buf, EXEC_BYTES) == 0)
            if (send(sv[1], buf, DONE_BYTES, MSG_NOSIGNAL) != DONE_BYTES)
                break;
        _exit(0);
    }
    close(sv[1]);
    return sv[0];
}

static void echo_stop(int fd, pid_t pid)
{
    close(fd);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The floor of a warm isolated step: n round trips to another process,
 * one send each way, sized as the EXEC and DONE frames of a noop step. */
static double time_round_trips(int fd, int n)
{
    char buf[EXEC_BYTES];
    double t0 = now();

    memset(buf, 'e', sizeof buf);
    for (int i = 0; i < n; i++)
        if (send(fd, buf, EXEC_BYTES, MSG_NOSIGNAL) != EXEC_BYTES ||
            read_exactly(fd, buf, DONE_BYTES) != 0) {
            fprintf(stderr, "bench: the echo process is gone\n");
            exit(1);
        }
    return now() - t0;
}

/* new + a 1-step job + free: for an isolated plugin, a runner started
 * (spawn, LOAD, HELO), one step, and the runner stopped (QUIT, reap). */
static double time_fresh(const jx_config *cfg, const jx_plan *plan)
{
    double t0 = now();
    jx_executor *ex = new_executor(cfg);

    run_job(ex, plan, NULL);
    jx_executor_free(ex);
    return now() - t0;
}

/* A runner that outlived jx_executor_free would still be our child. */
static void check_no_children(void)
{
    pid_t pid = waitpid(-1, NULL, WNOHANG);

    if (pid == 0 || pid > 0)
        fprintf(stderr, "bench: a child process outlived its executor\n");
}

/* The isolated step, warm and fresh, each next to what it stands on: the
 * same plan run in-process, a bare round trip to another process, and a
 * bare spawn of /bin/true. */
static void bench_isolated(void)
{
    jx_config *iso_cfg = isolated_config();
    jx_executor *inproc = make_executor(NULL, NULL);
    double cpu_children = cpu_seconds(RUSAGE_CHILDREN), cpu_core = 0;
    jx_executor *iso = new_executor(iso_cfg);
    jx_plan *plan = parse_plan(N_ISOLATED_STEPS, NULL);
    jx_plan *one = parse_plan(1, NULL);
    double t_in[ROUNDS], t_iso[ROUNDS], t_trip[ROUNDS];
    double t_true[FRESH_ROUNDS], t_new_in[FRESH_ROUNDS], t_fresh[FRESH_ROUNDS];
    double in_step, iso_step, trip, fresh_step, cpu_runner;
    const char *base[] = {"/bin/true", NULL};
    jx_config *in_cfg;
    pid_t echo_pid;
    int echo = echo_start(&echo_pid);

    /* Alternating rounds, so that load from elsewhere falls on all. */
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        run_job(inproc, plan, NULL);
        t_in[r] = now() - t0;
        cpu_core -= cpu_seconds(RUSAGE_SELF);
        t0 = now();
        run_job(iso, plan, NULL);
        t_iso[r] = now() - t0;
        cpu_core += cpu_seconds(RUSAGE_SELF);
        t_trip[r] = time_round_trips(echo, N_ISOLATED_STEPS);
    }
    /* The runner's CPU time is ours to read once it is reaped; the echo
     * process, reaped later, is not in it. */
    jx_executor_free(iso);
    cpu_runner = cpu_seconds(RUSAGE_CHILDREN) - cpu_children;
    echo_stop(echo, echo_pid);
    jx_executor_free(inproc);
    in_step = median(t_in, ROUNDS) / N_ISOLATED_STEPS;
    iso_step = median(t_iso, ROUNDS) / N_ISOLATED_STEPS;
    trip = median(t_trip, ROUNDS) / N_ISOLATED_STEPS;

    in_cfg = inproc_config(NULL, NULL);
    for (int r = 0; r < FRESH_ROUNDS; r++) {
        t_true[r] = spawn_wait(base);
        t_new_in[r] = time_fresh(in_cfg, one);
        t_fresh[r] = time_fresh(iso_cfg, one);
    }
    fresh_step = median(t_fresh, FRESH_ROUNDS);
    jx_config_free(in_cfg);
    jx_config_free(iso_cfg);
    jx_plan_free(plan);
    jx_plan_free(one);
    check_no_children();

    printf("isolated step (noop, isolation: process), %d no-op steps, "
           "median of %d jobs:\n", N_ISOLATED_STEPS, ROUNDS);
    printf("  in-process, no sink (baseline):%10.2f us/step\n",
           in_step * 1e6);
    printf("  isolated, warm runner:         %10.2f us/step  (overhead "
           "%.2f us/step)\n", iso_step * 1e6, (iso_step - in_step) * 1e6);
    printf("  isolated, CPU per step:        %10.2f us/step  (core %.2f + "
           "runner %.2f, all %d jobs)\n",
           (cpu_core + cpu_runner) * 1e6 / (ROUNDS * N_ISOLATED_STEPS),
           cpu_core * 1e6 / (ROUNDS * N_ISOLATED_STEPS),
           cpu_runner * 1e6 / (ROUNDS * N_ISOLATED_STEPS), ROUNDS);
    printf("  bare socketpair round trip:    %10.2f us  (%d B out, %d B "
           "back, blocking reads: what the\n"
           "                                 runner's spin-before-sleep "
           "saves)\n",
           trip * 1e6, EXEC_BYTES, DONE_BYTES);
    printf("a fresh runner per step (new + 1-step job + free), median of "
           "%d:\n", FRESH_ROUNDS);
    printf("  /bin/true spawn (baseline):    %10.3f ms\n",
           median(t_true, FRESH_ROUNDS) * 1e3);
    printf("  in-process executor per step:  %10.3f ms\n",
           median(t_new_in, FRESH_ROUNDS) * 1e3);
    printf("  isolated, fresh runner:        %10.3f ms/step  (%.1fx a warm "
           "isolated step)\n", fresh_step * 1e3, fresh_step / iso_step);
    printf("  targets: warm isolated step <= 100 us; >= 7x cheaper than a "
           "spawn per step\n");
}

static void bench_startup(void)
{
    static char plan_path[] = "/tmp/jobexec-bench-plan-XXXXXX";
    static char cfg_path[] = "/tmp/jobexec-bench-cfg-XXXXXX";
    const char *exe = JX_BENCH_BUILDDIR "/.libs/jobexec";
    double t_cli[STARTUP_ROUNDS], t_true[STARTUP_ROUNDS];
    int pfd = make_temp(plan_path), cfd = make_temp(cfg_path);
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
        const char *run[] = {exe, "run", "--quiet", "--config", cfg_path,
                             plan_path, NULL};
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
    remove_temp_files();
}

int main(void)
{
    atexit(remove_temp_files);
    bench_throughput();
    bench_isolated();
    bench_startup();
    return 0;
}
