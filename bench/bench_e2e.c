/*
 * bench_e2e.c - end to end: how fast plans are read, how a whole
 * `jobexec run` compares with a Python model of the reference executor
 * (bench/reference_executor.py), what a secret in every step adds to a
 * run, and how much memory parsing a hostile plan takes.
 *
 * Figures are medians of several rounds, each next to a baseline measured
 * in the same run (jansson's json_loadb and libyaml's own event parsing
 * for parsing, the Python model for whole runs, a 1-step plan for
 * memory), so that a busy machine shows up in the baseline too.  Parsing
 * is timed in CPU seconds of this process, which a busy machine moves
 * less than wall time.  Nothing here passes or fails on a number.
 *
 * Peak RSS of a child is wait4()'s ru_maxrss.  A child this process
 * starts with posix_spawn never shows less than some MiB that come from
 * this process (about its own RSS once its libraries are loaded, whatever
 * it holds on the heap), so /bin/true, spawned the same way, is printed as
 * the method's floor; this process also resets its own peak
 * (/proc/self/clear_refs) and holds no plan text before each spawn.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include <jobexec/jobexec.h>

#define N_STEPS 100000
#define PARSE_ROUNDS 5
#define RUN_ROUNDS 5       /* jobexec run of N_STEPS */
#define SECRET_ROUNDS 5    /* jobexec run of N_STEPS, a secret in each */
#define REF_ROUNDS 3       /* the Python model: seconds per round */
#define HOSTILE_MIB 20     /* each hostile plan's size, about: millions of
                              values, about 1 GiB before the budget */
#define CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define MIB (1024.0 * 1024.0)

extern char **environ;

/* Everything the bench writes goes into one folder, removed at exit and
 * on SIGINT, SIGTERM or SIGHUP (which end the running child too): a
 * reference log of 80 MB is left otherwise.  Its files are named by tmp_path() alone, so that the
 * folder is emptied with unlink and rmdir, which a signal handler may
 * call. */
#define MAX_TMP_FILES 16
static char tmp_dir[] = "/tmp/jobexec-bench-e2e-XXXXXX";
static char tmp_files[MAX_TMP_FILES][512];
static volatile sig_atomic_t n_tmp_files, tmp_made;

static void remove_tmp_dir(void)
{
    if (!tmp_made)
        return;
    for (int i = 0; i < n_tmp_files; i++)
        unlink(tmp_files[i]);
    rmdir(tmp_dir);
    tmp_made = 0;
}

/* The child being waited for, 0 when none: a signal ends it too. */
static volatile sig_atomic_t child_pid;

static void on_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
    remove_tmp_dir();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("bench_e2e: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Cleans up on sig, unless sig was ignored when the bench started (nohup,
 * a background job). */
static void catch_signal(int sig)
{
    struct sigaction old;

    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        signal(sig, on_signal);
}

/* The path of the file name in the bench's folder, the same pointer for
 * the same name. */
static const char *tmp_path(const char *name)
{
    char path[sizeof tmp_files[0]];

    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    for (int i = 0; i < n_tmp_files; i++)
        if (strcmp(tmp_files[i], path) == 0)
            return tmp_files[i];
    if (n_tmp_files == MAX_TMP_FILES)
        die("more than %d temporary files", MAX_TMP_FILES);
    /* Written whole before it is counted, for on_signal. */
    memcpy(tmp_files[n_tmp_files], path, sizeof path);
    n_tmp_files = n_tmp_files + 1;
    return tmp_files[n_tmp_files - 1];
}

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

/* ---- Plan text ---------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_printf(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("vsnprintf failed");
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 4096;
        if ((b->p = realloc(b->p, b->cap)) == NULL)
            die("out of memory");
    }
}

static void buf_free(buf *b)
{
    free(b->p);
    *b = (buf){0};
}

/* What each step of a generated JSON plan carries as parameters. */
enum step_params { REASON, TOKEN, SECRET_TOKEN };

/* The no-op plan, as JSON, one step per line: parameters {reason, n}, or
 * a token of the step's own, plain or a secret (those two plans differ
 * only by the secret_parameters key). */
static buf plan_json(size_t n, enum step_params params)
{
    buf b = {0};
    char p[128];

    buf_printf(&b, "{\"contract_id\": \"%s\", \"steps\": [\n", CONTRACT);
    for (size_t i = 0; i < n; i++) {
        if (params == REASON)
            snprintf(p, sizeof p, "{\"reason\": \"bench\", \"n\": %zu}", i);
        else
            snprintf(p, sizeof p, "{\"token\": \"%016zx%016zx\"}%s",
                     i * 0x9e3779b97f4a7c15u, i,
                     params == SECRET_TOKEN
                         ? ", \"secret_parameters\": [\"token\"]"
                         : "");
        buf_printf(&b,
                   "  {\"step_index\": %zu, \"step_type\": "
                   "\"capability_enable\", \"target\": \"CAP_%zu\", "
                   "\"parameters\": %s}%s\n",
                   i, i % 1000, p, i + 1 < n ? "," : "");
    }
    buf_printf(&b, "]}\n");
    return b;
}

/* The same plan as YAML, block style, as people write it. */
static buf plan_yaml(size_t n)
{
    buf b = {0};

    buf_printf(&b, "contract_id: %s\nsteps:\n", CONTRACT);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b,
                   "  - step_index: %zu\n"
                   "    step_type: capability_enable\n"
                   "    target: CAP_%zu\n"
                   "    parameters:\n"
                   "      reason: bench\n"
                   "      n: %zu\n",
                   i, i % 1000, i);
    return b;
}

enum hostile_style { HOSTILE_JSON, HOSTILE_FLOW, HOSTILE_BLOCK };

/* One step whose parameters hold many tiny values: a list of zeros and a
 * mapping of distinct keys to 1, each about half of `bytes`. */
static buf plan_hostile(enum hostile_style style, size_t bytes)
{
    /* Bytes per zero and per key (k + 7 digits) in each style. */
    static const size_t zero_bytes[] = {2, 3, 12}, key_bytes[] = {13, 12, 20};
    size_t n_zeros = bytes / 2 / zero_bytes[style];
    size_t n_keys = bytes / 2 / key_bytes[style];
    buf b = {0};

    if (style == HOSTILE_BLOCK) {
        buf_printf(&b,
                   "contract_id: %s\nsteps:\n  - step_index: 0\n"
                   "    step_type: capability_enable\n    target: CAP_0\n"
                   "    parameters:\n      zeros:\n", CONTRACT);
        for (size_t i = 0; i < n_zeros; i++)
            buf_printf(&b, "        - 0\n");
        buf_printf(&b, "      ones:\n");
        for (size_t i = 0; i < n_keys; i++)
            buf_printf(&b, "        k%07zu: 1\n", i);
        return b;
    }
    if (style == HOSTILE_JSON)
        buf_printf(&b,
                   "{\"contract_id\": \"%s\", \"steps\": [{\"step_index\": "
                   "0, \"step_type\": \"capability_enable\", \"target\": "
                   "\"CAP_0\", \"parameters\": {\"zeros\": [", CONTRACT);
    else
        buf_printf(&b,
                   "contract_id: %s\nsteps: [{step_index: 0, step_type: "
                   "capability_enable, target: CAP_0, parameters: {zeros: [",
                   CONTRACT);
    for (size_t i = 0; i < n_zeros; i++)
        buf_printf(&b, style == HOSTILE_JSON ? "0%s" : "0%s ",
                   i + 1 < n_zeros ? "," : "");
    buf_printf(&b, style == HOSTILE_JSON ? "], \"ones\": {" : "], ones: {");
    for (size_t i = 0; i < n_keys; i++)
        buf_printf(&b, style == HOSTILE_JSON ? "\"k%07zu\":1%s" : "k%07zu: 1%s",
                   i, i + 1 < n_keys ? "," : "");
    buf_printf(&b, "}}}]%s\n", style == HOSTILE_JSON ? "}" : "");
    return b;
}

static void write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    while (fd >= 0 && len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        text += n;
        len -= (size_t)n;
    }
    if (fd < 0 || len != 0 || close(fd) != 0)
        die("cannot write %s", path);
}

/* ---- Children ----------------------------------------------------------- */

/* Resets this process's peak RSS to its current RSS (see the top). */
static void reset_peak(void)
{
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (fp != NULL) {
        fputs("5", fp);
        fclose(fp);
    }
}

typedef struct child_run {
    double seconds;
    double cpu_seconds; /* user + system, less sensitive to load */
    double peak_mib; /* ru_maxrss */
    int status;      /* as wait4 gives it */
} child_run;

/* Runs argv (a path, no search) with stdout to out and stderr to err
 * (NULL: /dev/null; the same path: both into one file, truncated). */
static child_run spawn_measure(const char *const *argv, const char *out,
                               const char *err)
{
    posix_spawn_file_actions_t fa;
    struct rusage ru;
    child_run r;
    double t0;
    pid_t pid;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out != NULL ? out : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err != NULL && out != NULL && strcmp(err, out) == 0)
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2,
                                         err != NULL ? err : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    malloc_trim(0);
    reset_peak();
    t0 = now();
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        die("cannot start %s: %s", argv[0], strerror(rc));
    child_pid = pid;
    while (wait4(pid, &r.status, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    child_pid = 0;
    r.seconds = now() - t0;
    r.cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    r.peak_mib = (double)ru.ru_maxrss / 1024.0;
    return r;
}

static int exited_with(const child_run *r, int code)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

static const char *describe_status(int status, char *text, size_t size)
{
    if (WIFEXITED(status))
        snprintf(text, size, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(text, size, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(text, size, "status %#x", status);
    return text;
}

/* The first line of a file, at most size - 1 bytes of it. */
static const char *first_line(const char *path, char *line, size_t size)
{
    FILE *fp = fopen(path, "r");

    line[0] = '\0';
    if (fp != NULL) {
        if (fgets(line, (int)size, fp) != NULL)
            line[strcspn(line, "\n")] = '\0';
        fclose(fp);
    }
    return line;
}

/* The last non-empty line of a file (a Python traceback's reason). */
static const char *last_line(const char *path, char *line, size_t size)
{
    FILE *fp = fopen(path, "r");
    char next[512];

    line[0] = '\0';
    if (fp != NULL) {
        while (fgets(next, sizeof next, fp) != NULL) {
            next[strcspn(next, "\n")] = '\0';
            if (next[0] != '\0')
                snprintf(line, size, "%s", next);
        }
        fclose(fp);
    }
    return line;
}

static void write_config(const char *path, const char *log_path)
{
    buf b = {0};

    buf_printf(&b,
               "plugin_dir: %s/plugins/.libs\n"
               "plugins:\n  - path: noop\n"
               "    isolation: inproc\n"
               "    step_types: [capability_enable]\n",
               JX_BENCH_BUILDDIR);
    if (log_path != NULL)
        buf_printf(&b, "evidence:\n  log: %s\n  fsync: none\n", log_path);
    write_file(path, b.p, b.len);
    buf_free(&b);
}

/* ---- 1. Parsing --------------------------------------------------------- */

/* CPU seconds of this process: parsing runs on one thread, and a busy
 * machine stretches wall time far more than the work. */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double time_plan_parse(const buf *text, const char *name)
{
    jx_plan *plan;
    jx_error err;
    double t0 = cpu_now(), t;

    if (jx_plan_parse(text->p, text->len, name, &plan, &err) != 0)
        die("%s", err.message);
    t = cpu_now() - t0;
    if (jx_plan_step_count(plan) != N_STEPS)
        die("%s: %zu steps read", name, jx_plan_step_count(plan));
    jx_plan_free(plan);
    return t;
}

static double time_json_loadb(const buf *text)
{
    json_error_t jerr;
    json_t *doc;
    double t0 = cpu_now(), t;

    if ((doc = json_loadb(text->p, text->len, 0, &jerr)) == NULL)
        die("json_loadb: %s", jerr.text);
    t = cpu_now() - t0;
    json_decref(doc);
    return t;
}

/* libyaml's event parser alone, every event made and deleted: the floor
 * of any reader built on it. */
static double time_libyaml_events(const buf *text)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    double t0 = cpu_now(), t;
    int done = 0;

    if (!yaml_parser_initialize(&parser))
        die("libyaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text->p,
                                 text->len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev))
            die("libyaml: %s", parser.problem);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    t = cpu_now() - t0;
    yaml_parser_delete(&parser);
    return t;
}

static void bench_parse(const buf *json, const buf *yaml)
{
    double t_json[PARSE_ROUNDS], t_yaml[PARSE_ROUNDS], t_jansson[PARSE_ROUNDS];
    double t_events[PARSE_ROUNDS];
    double mb_json = (double)json->len / 1e6, mb_yaml = (double)yaml->len / 1e6;
    double json_rate, yaml_rate, jansson_rate, events_rate;

    /* Alternated, so that load from elsewhere falls on all four. */
    for (int r = 0; r < PARSE_ROUNDS; r++) {
        t_jansson[r] = time_json_loadb(json);
        t_json[r] = time_plan_parse(json, "bench.json");
        t_events[r] = time_libyaml_events(yaml);
        t_yaml[r] = time_plan_parse(yaml, "bench.yaml");
    }
    jansson_rate = mb_json / median(t_jansson, PARSE_ROUNDS);
    json_rate = mb_json / median(t_json, PARSE_ROUNDS);
    events_rate = mb_yaml / median(t_events, PARSE_ROUNDS);
    yaml_rate = mb_yaml / median(t_yaml, PARSE_ROUNDS);
    printf("plan parsing, jx_plan_parse() of a %d-step plan, median of %d, "
           "CPU time (MB = 10^6 bytes):\n", N_STEPS, PARSE_ROUNDS);
    printf("  plan text: JSON %.1f MB (%zu B/step), YAML block %.1f MB "
           "(%zu B/step)\n",
           mb_json, json->len / N_STEPS, mb_yaml, yaml->len / N_STEPS);
    printf("  json_loadb() of the JSON (baseline): %8.1f MB/s  %7.1f ms\n",
           jansson_rate, median(t_jansson, PARSE_ROUNDS) * 1e3);
    printf("  jx_plan_parse(), JSON:               %8.1f MB/s  %7.1f ms  "
           "(%.1fx json_loadb's speed;\n"
           "                                       target >= 100 MB/s)\n",
           json_rate, median(t_json, PARSE_ROUNDS) * 1e3,
           json_rate / jansson_rate);
    printf("  libyaml's events alone (the floor):  %8.1f MB/s  %7.1f ms\n",
           events_rate, median(t_events, PARSE_ROUNDS) * 1e3);
    /* The YAML target is relative to the reader of 2026-12-04, which read
     * at about 0.45 of libyaml's own speed (measured side by side, CPU
     * time): 3 times that is beyond what any reader built on libyaml can
     * do, so the line says where the reader stands against that floor. */
    printf("  jx_plan_parse(), YAML block:         %8.1f MB/s  %7.1f ms  "
           "(%.2f of libyaml's speed;\n"
           "                                       2026-12-04's reader: "
           "about 0.45 of it)\n",
           yaml_rate, median(t_yaml, PARSE_ROUNDS) * 1e3,
           yaml_rate / events_rate);
}

/* ---- 2. Whole runs ------------------------------------------------------- */

/* The system python3 (a shim earlier in PATH, as pyenv's, would add its
 * own start-up to every run), or JX_BENCH_PYTHON. */
static const char *find_python(void)
{
    static const char *const candidates[] = {"/usr/bin/python3",
                                             "/usr/local/bin/python3"};
    const char *env = getenv("JX_BENCH_PYTHON");

    if (env != NULL && *env != '\0')
        return access(env, X_OK) == 0 ? env : NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* `jobexec run --quiet --config CFG PLAN` (argv, in that order) with the
 * evidence log emptied first; it must exit 0. */
static child_run run_on_empty_log(const char *const *argv, const char *log)
{
    child_run c;

    truncate(log, 0);
    c = spawn_measure(argv, NULL, NULL);
    if (!exited_with(&c, 0))
        die("jobexec run of %s failed", argv[5]);
    return c;
}

static void bench_runs(const char *exe, size_t plan_len)
{
    const char *plan = tmp_path("plan.json"), *cfg = tmp_path("run.yaml");
    const char *log = tmp_path("evidence.jsonl");
    const char *ref_log = tmp_path("reference.jsonl");
    const char *script = JX_BENCH_SRCDIR "/bench/reference_executor.py";
    const char *python = find_python();
    const char *jx_argv[] = {exe, "run", "--quiet", "--config", cfg, plan,
                             NULL};
    const char *ref_argv[] = {python, script, plan, ref_log, NULL};
    const char *true_argv[] = {"/bin/true", NULL};
    const char *ref_err = tmp_path("reference.err");
    char why[1024] = "no python3", line[512], st[64];
    double t_jx[RUN_ROUNDS], m_jx[RUN_ROUNDS], c_jx[RUN_ROUNDS];
    double t_ref[REF_ROUNDS], m_ref[REF_ROUNDS], c_ref[REF_ROUNDS];
    double jx_s, jx_cpu, jx_mib, ref_s, ref_cpu, ref_mib;
    child_run floor_ = spawn_measure(true_argv, NULL, NULL);

    write_config(cfg, log);
    for (int r = 0; r < RUN_ROUNDS; r++) {
        child_run c = run_on_empty_log(jx_argv, log);

        t_jx[r] = c.seconds;
        c_jx[r] = c.cpu_seconds;
        m_jx[r] = c.peak_mib;
        /* Alternated with the reference, so that load falls on both. */
        if (python != NULL && r < REF_ROUNDS) {
            truncate(ref_log, 0);
            c = spawn_measure(ref_argv, NULL, ref_err);
            if (!exited_with(&c, 0)) {
                /* A python3 without its standard library, say. */
                snprintf(why, sizeof why, "%s failed (%s): %s", python,
                         describe_status(c.status, st, sizeof st),
                         last_line(ref_err, line, sizeof line));
                python = NULL;
                continue;
            }
            t_ref[r] = c.seconds;
            c_ref[r] = c.cpu_seconds;
            m_ref[r] = c.peak_mib;
        }
    }
    jx_s = median(t_jx, RUN_ROUNDS);
    jx_cpu = median(c_jx, RUN_ROUNDS);
    jx_mib = median(m_jx, RUN_ROUNDS);
    printf("whole run, `jobexec run --quiet` of the %d-step JSON plan "
           "(noop in-process,\nevidence log fsync: none, document to "
           "/dev/null), median of %d; the reference\nmodel "
           "(bench/reference_executor.py) median of %d:\n",
           N_STEPS, RUN_ROUNDS, REF_ROUNDS);
    printf("  jobexec run:          %7.3f s  CPU %7.3f s  peak RSS %6.1f MiB"
           "  (plan text %.1f MiB;\n"
           "                        target peak <= 40 MiB)\n",
           jx_s, jx_cpu, jx_mib, (double)plan_len / MIB);
    if (python == NULL) {
        printf("  reference model:      skipped: %s\n"
               "                        (install the Debian package python3,"
               " or set JX_BENCH_PYTHON)\n", why);
    } else {
        ref_s = median(t_ref, REF_ROUNDS);
        ref_cpu = median(c_ref, REF_ROUNDS);
        ref_mib = median(m_ref, REF_ROUNDS);
        printf("  reference model:      %7.3f s  CPU %7.3f s  peak RSS %6.1f MiB"
               "  (%s)\n", ref_s, ref_cpu, ref_mib, python);
        printf("  jobexec is %.1fx faster (%.1fx in CPU time; target >= 20x); "
               "its peak RSS is %.3f\n  of the reference's (target <= 0.1)\n",
               ref_s / jx_s, ref_cpu / jx_cpu, jx_mib / ref_mib);
    }
    printf("  /bin/true, spawned the same way: peak RSS %.1f MiB (the "
           "method's floor)\n", floor_.peak_mib);
}

/* ---- 3. Secrets ---------------------------------------------------------- */

/* Redaction looks for every secret of the plan in all the run writes: a
 * plan with a secret in each step must cost about what the same plan
 * without them does, not a scan of every secret per string. */
static void bench_secrets(const char *exe)
{
    const char *plain = tmp_path("tokens.json"), *secret =
        tmp_path("secrets.json");
    const char *cfg = tmp_path("run.yaml"), *log = tmp_path("evidence.jsonl");
    const char *plain_argv[] = {exe, "run", "--quiet", "--config", cfg,
                                plain, NULL};
    const char *secret_argv[] = {exe, "run", "--quiet", "--config", cfg,
                                 secret, NULL};
    double t_plain[SECRET_ROUNDS], t_secret[SECRET_ROUNDS];
    buf text = plan_json(N_STEPS, TOKEN);

    write_file(plain, text.p, text.len);
    buf_free(&text);
    text = plan_json(N_STEPS, SECRET_TOKEN);
    write_file(secret, text.p, text.len);
    buf_free(&text);
    for (int r = 0; r < SECRET_ROUNDS; r++) {
        t_plain[r] = run_on_empty_log(plain_argv, log).seconds;
        t_secret[r] = run_on_empty_log(secret_argv, log).seconds;
    }
    unlink(plain);
    unlink(secret);
    printf("secrets, `jobexec run --quiet` of a %d-step plan with a token in "
           "each step\n(evidence log fsync: none), median of %d:\n",
           N_STEPS, SECRET_ROUNDS);
    printf("  tokens as plain parameters:       %7.3f s\n",
           median(t_plain, SECRET_ROUNDS));
    printf("  each token a secret (%d secrets): %7.3f s  (%.2fx)\n",
           N_STEPS, median(t_secret, SECRET_ROUNDS),
           median(t_secret, SECRET_ROUNDS) / median(t_plain, SECRET_ROUNDS));
}

/* ---- 4. Memory on hostile plans ------------------------------------------ */

static void bench_hostile(const char *exe)
{
    static const char *const names[] = {"hostile.json", "hostile-flow.yaml",
                                        "hostile-block.yaml"};
    static const char *const labels[] = {"JSON", "YAML flow", "YAML block"};
    const char *cfg = tmp_path("check.yaml"), *out = tmp_path("check.out");
    const char *small = tmp_path("small.yaml");
    static const char one_step[] =
        "contract_id: " CONTRACT "\nsteps:\n"
        "  - {step_index: 0, step_type: capability_enable, target: A}\n";
    const char *argv[] = {exe, "check", "--config", cfg, NULL, NULL};
    char line[512], st[64];
    child_run base;

    write_config(cfg, NULL);
    write_file(small, one_step, sizeof one_step - 1);
    argv[4] = small;
    base = spawn_measure(argv, out, out);
    if (!exited_with(&base, 0))
        die("jobexec check of a 1-step plan failed: %s",
            first_line(out, line, sizeof line));
    printf("memory while parsing hostile plans, `jobexec check` of one step "
           "whose parameters\nhold a list of zeros and a mapping of "
           "distinct keys to 1; a plan may take 8 times\nits size plus "
           "16 MiB while it is read, over what a 1-step plan's check "
           "takes (%.1f MiB):\n",
           base.peak_mib);
    for (int s = HOSTILE_JSON; s <= HOSTILE_BLOCK; s++) {
        const char *path = tmp_path(names[s]);
        buf text = plan_hostile((enum hostile_style)s,
                                (size_t)HOSTILE_MIB * 1024 * 1024);
        size_t len = text.len;
        child_run c;

        write_file(path, text.p, text.len);
        buf_free(&text);
        argv[4] = path;
        c = spawn_measure(argv, out, out);
        unlink(path);
        printf("  %-10s %6.1f MiB: %6.2f s  peak RSS %7.1f MiB, %6.1f MiB "
               "over the 1-step check\n"
               "             (bound: 8 x %.1f + 16 = %.1f MiB; %.1fx the "
               "plan) (%s)\n",
               labels[s], (double)len / MIB, c.seconds, c.peak_mib,
               c.peak_mib - base.peak_mib, (double)len / MIB,
               8.0 * (double)len / MIB + 16.0,
               (c.peak_mib - base.peak_mib) * MIB / (double)len,
               describe_status(c.status, st, sizeof st));
        printf("             %s: %s\n",
               exited_with(&c, 0) ? "accepted" : "refused",
               first_line(out, line, sizeof line));
    }
}

int main(void)
{
    /* The real binary, not libtool's wrapper script. */
    const char *exe = JX_BENCH_BUILDDIR "/.libs/jobexec";
    buf json, yaml;
    size_t json_len;

    if (mkdtemp(tmp_dir) == NULL)
        die("mkdtemp: %s", strerror(errno));
    tmp_made = 1;
    atexit(remove_tmp_dir);
    catch_signal(SIGINT);
    catch_signal(SIGTERM);
    catch_signal(SIGHUP);
    setenv("LD_LIBRARY_PATH", JX_BENCH_BUILDDIR "/.libs", 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    json = plan_json(N_STEPS, REASON);
    yaml = plan_yaml(N_STEPS);
    bench_parse(&json, &yaml);
    write_file(tmp_path("plan.json"), json.p, json.len);
    json_len = json.len;
    buf_free(&json);
    buf_free(&yaml);

    bench_runs(exe, json_len);
    bench_secrets(exe);
    bench_hostile(exe);
    return 0;
}
