/*
 * test_cli.c - end-to-end tests of the jobexec command: the real binary on
 * real config and plan files (tests/data/e2e), the way ops run it, checking
 * exit status, standard output and standard error.  The last group stages
 * `make install` into a temporary folder and runs the installed binary.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

extern char **environ;

#define E2E TU_DATADIR "/e2e"
#define EXAMPLE_PLAN TU_SRCDIR "/conf/example-plan.yaml"

#define EXAMPLE_JOB "6b0b1b3e-4c1d-4f8e-9a51-2f0f6a7e9c11"
#define EXAMPLE_CONTRACT "0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5d"
#define PLAN_JOB "3f1c2b7a-9d4e-4a8b-8c6d-1e2f3a4b5c6d"
#define JSON_JOB "5d2e8f4a-1b3c-4d5e-8f6a-7b8c9d0e1f2a"
#define FAILS_JOB "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
#define UNHANDLED_JOB "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b7c"
#define E2E_CONTRACT "7a9e5c1d-2b3f-4c8a-9d0e-6f1a2b3c4d5e"

#define TRY_MAIN "Try 'jobexec --help' for more information.\n"
#define ALL_DONE "All steps completed successfully"

/* The default config's noop binding, as `jobexec plugins` lists it. */
#define NOOP_TYPES                                                           \
    "capability_enable capability_disable capability_add capability_remove " \
    "configuration_change unknown"

/* The same, as a YAML flow sequence for configs. */
#define NOOP_TYPES_YAML                                                      \
    "[capability_enable, capability_disable, capability_add, "               \
    "capability_remove, configuration_change, unknown]"

/* Every test's view of the main help, split around the default config path
 * (the build tree's, or the configured sysconfdir's once installed). */
#define MAIN_USAGE_HEAD                                                      \
    "Usage: jobexec COMMAND [OPTIONS] [ARGS]\n"                              \
    "Run governance jobs: an ordered plan of steps, performed by "           \
    "step-handler\nplugins, with evidence for every step.\n"                 \
    "\n"                                                                     \
    "Commands:\n"                                                            \
    "  run [--config FILE] PLAN|-    run a plan; print the evidence "        \
    "document\n"                                                             \
    "  check [--config FILE] [PLAN]  validate the config (and a plan); "     \
    "run nothing\n"                                                          \
    "  plugins [--config FILE]       list loaded plugins and their "         \
    "step types\n"                                                           \
    "  evidence verify FILE [--pubkey KEY] [--job ID]\n"                     \
    "                                check an evidence log's chains and "    \
    "seals\n"                                                                \
    "  evidence show FILE [--job ID] print an evidence log as a timeline\n"  \
    "  keygen FILE                   write a key pair for sealing "          \
    "evidence\n"                                                             \
    "  help [COMMAND]                show help for a command\n"              \
    "\n"                                                                     \
    "Options:\n"                                                             \
    "  -c, --config FILE   the config file (default: "
#define MAIN_USAGE_TAIL                                                      \
    ")\n"                                                                    \
    "  -v, --verbose       show plugin log messages of every level\n"       \
    "  -h, --help          show this help\n"                                 \
    "  -V, --version       show the version\n"                               \
    "\n"                                                                     \
    "Exit status: 0 job completed, 1 job failed or cancelled, 2 bad "        \
    "usage, config\nor plan (nothing ran), 3 internal error.  `evidence "    \
    "verify` has its own\n(see its --help).\n"

#define RUN_USAGE                                                            \
    "Usage: jobexec run [--config FILE] [--verbose] PLAN|-\n"                \
    "Run the plan in PLAN (YAML or JSON; - reads standard input).\n"         \
    "\n"                                                                     \
    "Steps run in order; the job stops at the first step that fails.\n"      \
    "The evidence document (JSON) is written to standard output as the "     \
    "job\nruns; the config's evidence.log, when set, receives one record "   \
    "per event.\nA one-line summary goes to standard error when it is a "    \
    "terminal.\n"                                                            \
    "SIGINT or SIGTERM cancels the job: the running step is asked to "       \
    "stop, no\nfurther step starts, and the job ends CANCELLED.\n"           \
    "\n"                                                                     \
    "Exit status: 0 completed, 1 failed or cancelled, 2 bad config or plan " \
    "(nothing\nran), 3 internal error.\n"

#define CHECK_USAGE                                                          \
    "Usage: jobexec check [--config FILE] [PLAN|-]\n"                        \
    "Load the config and every plugin it names, and, given a plan, check "   \
    "that\nevery step has a handler and that each handler's validate "       \
    "accepts it.\nNothing runs, and the evidence log is only checked, never " \
    "created or changed.\nExit status: 0 valid, 2 invalid (an evidence log "  \
    "that cannot be opened or\ncreated among them), 3 internal error.\n"

#define PLUGINS_USAGE                                                        \
    "Usage: jobexec plugins [--config FILE]\n"                               \
    "List the plugins the config loads: name, version, ABI, whether they "   \
    "are\nthread-safe, the file, and the step types bound to them.\n"

/* ---- per-test state ----------------------------------------------------- */

/* Whatever a test allocates lives here, so that the teardown frees it even
 * when an assertion ends the test early. */
typedef struct fixture {
    tu_proc p;      /* the last command run */
    json_t *doc;    /* the last document parsed */
    json_t *rec;    /* the last evidence record parsed */
    char *dir;      /* a temp folder, removed afterwards */
    char *keep[16]; /* strings freed afterwards */
    size_t n_keep;
} fixture;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_proc_free(&f->p);
    json_decref(f->doc);
    json_decref(f->rec);
    if (f->dir != NULL)
        tu_rm_rf(f->dir);
    free(f->dir);
    for (size_t i = 0; i < f->n_keep; i++)
        free(f->keep[i]);
    free(f);
    return 0;
}

/* Takes ownership of s (which must not be NULL) until the teardown. */
static char *fx_keep(fixture *f, char *s)
{
    assert_non_null(s);
    assert_true(f->n_keep < sizeof f->keep / sizeof f->keep[0]);
    f->keep[f->n_keep++] = s;
    return s;
}

static char *fx_printf(fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *fx_printf(fixture *f, const char *fmt, ...)
{
    char *s;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    return fx_keep(f, s);
}

/* The test's temp folder, made on first use. */
static const char *fx_dir(fixture *f)
{
    if (f->dir == NULL)
        f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    return f->dir;
}

/* ---- running the binary ------------------------------------------------- */

static void fx_run(fixture *f, const char *stdin_text,
                   const char *const *argv)
{
    tu_proc_free(&f->p);
    tu_run(&f->p, stdin_text, argv);
    assert_non_null(f->p.out);
}

/* Runs the uninstalled jobexec with the given arguments; the result is in
 * f->p. */
#define JOBEXEC(f, stdin_text, ...)                                          \
    fx_run((f), (stdin_text),                                                \
           (const char *const[]){TU_JOBEXEC, __VA_ARGS__, NULL})

/* Where the child's standard output goes. */
typedef enum out_mode { OUT_PIPE, OUT_DEV_FULL, OUT_CLOSED } out_mode;

/* Reads fds (-1: none) to their end at once, so that a child that fills
 * one pipe never blocks on the other. */
static void drain_fds(const int fds_in[2], char *bufs[2])
{
    struct pollfd fds[2];
    size_t len[2] = {0, 0};
    int open_fds = 0;

    for (int i = 0; i < 2; i++) {
        fds[i].fd = fds_in[i];
        fds[i].events = POLLIN;
        bufs[i] = calloc(1, 1);
        open_fds += fds_in[i] >= 0;
    }
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            char chunk[8192];
            ssize_t n;
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            n = read(fds[i].fd, chunk, sizeof chunk);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            bufs[i] = realloc(bufs[i], len[i] + (size_t)n + 1);
            memcpy(bufs[i] + len[i], chunk, (size_t)n);
            len[i] += (size_t)n;
            bufs[i][len[i]] = '\0';
        }
    }
}

/*
 * tu_run with more control: standard input is /dev/null, standard output a
 * pipe, /dev/full or closed (mode), and envp (NULL: ours) the environment.
 * p->out is "" unless mode is OUT_PIPE.
 */
static void spawn_ex(tu_proc *p, const char *const *argv, char *const *envp,
                     out_mode mode)
{
    posix_spawn_file_actions_t fa;
    int out[2] = {-1, -1}, err[2];
    char *bufs[2];
    pid_t pid;
    int status = 0, rc;

    memset(p, 0, sizeof *p);
    p->status = -1;
    if (pipe(err) != 0)
        return;
    if (mode == OUT_PIPE && pipe(out) != 0) {
        close(err[0]);
        close(err[1]);
        return;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (mode == OUT_PIPE) {
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
    } else if (mode == OUT_DEV_FULL) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/full", O_WRONLY, 0);
    } else {
        posix_spawn_file_actions_addclose(&fa, 1);
    }
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                     envp != NULL ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    close(err[1]);
    if (out[1] >= 0)
        close(out[1]);
    if (rc != 0) {
        close(err[0]);
        if (out[0] >= 0)
            close(out[0]);
        return;
    }
    drain_fds((const int[2]){out[0], err[0]}, bufs);
    p->out = bufs[0];
    p->err = bufs[1];
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    p->status = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
}

static void fx_spawn(fixture *f, const char *const *argv, char *const *envp,
                     out_mode mode)
{
    tu_proc_free(&f->p);
    spawn_ex(&f->p, argv, envp, mode);
    assert_non_null(f->p.out);
}

/* Opens a pseudo-terminal in raw mode (no "\r" added to newlines): *slave
 * for the child, the returned master for reading it; -1 on failure. */
static int open_raw_pty(int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    struct termios t;
    const char *name;

    if (m < 0)
        return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || (name = ptsname(m)) == NULL ||
        (*slave = open(name, O_RDWR | O_NOCTTY)) < 0) {
        close(m);
        return -1;
    }
    if (tcgetattr(*slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(*slave, TCSANOW, &t);
    }
    return m;
}

/* Runs argv with standard error a terminal (where `run` prints its
 * summary) and standard output /dev/null; p->err is what the terminal
 * received. */
static void fx_spawn_tty(fixture *f, const char *const *argv)
{
    posix_spawn_file_actions_t fa;
    int slave = -1, m = open_raw_pty(&slave);
    int fds[2] = {m, -1}, status = 0, rc;
    char *bufs[2];
    pid_t pid;

    tu_proc_free(&f->p);
    f->p.status = -1;
    assert_true(m >= 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, slave, 2);
    posix_spawn_file_actions_addclose(&fa, slave);
    posix_spawn_file_actions_addclose(&fa, m);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(slave);
    if (rc != 0) {
        close(m);
        fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    }
    /* The master reads EIO once the child and its own children are gone. */
    drain_fds(fds, bufs);
    free(bufs[1]);
    f->p.err = bufs[0];
    f->p.out = strdup("");
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    f->p.status = WIFEXITED(status) ? WEXITSTATUS(status)
                                    : 128 + WTERMSIG(status);
    assert_non_null(f->p.out);
}

/* Our environment with LD_LIBRARY_PATH set to libdir.  Free with
 * free_env(). */
static char **env_with_libdir(const char *libdir)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    env = calloc(n + 2, sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_LIBRARY_PATH=", 16) != 0)
            env[k++] = strdup(environ[i]);
    if (asprintf(&env[k], "LD_LIBRARY_PATH=%s", libdir) < 0)
        env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* ---- assertions --------------------------------------------------------- */

/* Usage errors: exit 2, nothing on stdout, exactly `err` on stderr. */
static void assert_usage_error(const tu_proc *p, const char *err)
{
    assert_int_equal(p->status, 2);
    assert_string_equal(p->out, "");
    assert_string_equal(p->err, err);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The config the build tree's jobexec reads by default. */
#define BUILD_CONFIG TU_SRCDIR "/conf/jobexec.yaml"

/* The main help text naming config as the default, or, with config NULL,
 * whatever the configured sysconfdir is. */
static void assert_main_usage(const char *out, const char *config)
{
    size_t head = strlen(MAIN_USAGE_HEAD);
    const char *tail = strstr(out, MAIN_USAGE_TAIL);
    static const char installed[] = "/jobexec/jobexec.yaml";
    size_t n;

    assert_true(starts_with(out, MAIN_USAGE_HEAD));
    assert_non_null(tail);
    assert_string_equal(tail, MAIN_USAGE_TAIL);
    assert_true(tail > out + head);
    n = (size_t)(tail - out) - head;
    if (config != NULL) {
        assert_int_equal(n, strlen(config));
        assert_memory_equal(out + head, config, n);
        return;
    }
    /* An absolute sysconfdir, on one line. */
    assert_int_equal(out[head], '/');
    assert_null(memchr(out + head, '\n', n));
    assert_true(n > sizeof installed - 1);
    assert_memory_equal(tail - (sizeof installed - 1), installed,
                        sizeof installed - 1);
}

/* The last run's stdout must be exactly one JSON object (jansson refuses
 * trailing text).  Owned by f. */
static json_t *fx_doc(fixture *f)
{
    json_error_t e;

    json_decref(f->doc);
    f->doc = json_loads(f->p.out, 0, &e);
    if (f->doc == NULL)
        fail_msg("stdout is not one JSON document: %s at %d:%d", e.text,
                 e.line, e.column);
    assert_true(json_is_object(f->doc));
    return f->doc;
}

static const char *doc_string(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is not a string", key);
    return json_string_value(v);
}

static json_int_t doc_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("member '%s' is not an integer", key);
    return json_integer_value(v);
}

/* The evidence document's fixed shape: status, reason, summary, one result
 * per executed step (indexes from 0; only the last may have failed),
 * health, timing, version. */
static void assert_doc(const json_t *doc, const char *job_id,
                       const char *status, const char *reason,
                       size_t n_results, size_t n_failed)
{
    const json_t *results = json_object_get(doc, "step_results");
    const json_t *summary = json_object_get(doc, "execution_summary");
    const json_t *health = json_object_get(doc, "health_observations");
    const json_t *timing = json_object_get(doc, "timing");

    assert_string_equal(doc_string(doc, "job_id"), job_id);
    assert_string_equal(doc_string(doc, "final_status"), status);
    assert_string_equal(doc_string(doc, "final_reason"), reason);
    assert_string_equal(doc_string(doc, "executor_version"), "0.1.0");
    assert_true(json_is_array(results));
    assert_int_equal(json_array_size(results), n_results);
    for (size_t i = 0; i < n_results; i++) {
        const json_t *r = json_array_get(results, i);
        int failed = n_failed > 0 && i == n_results - 1;
        assert_int_equal(doc_int(r, "step_index"), (json_int_t)i);
        assert_string_equal(doc_string(r, "status"),
                            failed ? "FAILED" : "COMPLETED");
        assert_true(failed ? json_is_string(json_object_get(r, "error"))
                           : json_is_null(json_object_get(r, "error")));
        assert_true(ends_with(doc_string(r, "started_at"), "+00:00"));
        assert_true(ends_with(doc_string(r, "completed_at"), "+00:00"));
    }
    assert_true(json_is_object(summary));
    assert_int_equal(doc_int(summary, "steps_executed"), n_results);
    assert_int_equal(doc_int(summary, "steps_succeeded"),
                     n_results - n_failed);
    assert_int_equal(doc_int(summary, "steps_failed"), n_failed);
    assert_true(json_is_object(health));
    assert_non_null(json_object_get(health, "before"));
    assert_non_null(json_object_get(health, "after"));
    assert_true(json_is_object(timing));
    assert_true(ends_with(doc_string(timing, "started_at"), "+00:00"));
    assert_true(ends_with(doc_string(timing, "completed_at"), "+00:00"));
    assert_true(json_is_real(json_object_get(timing, "duration_seconds")));
}

/* The last run completed: exit 0, nothing on stderr, a COMPLETED
 * document.  Returns the document (owned by f). */
static json_t *assert_completed(fixture *f, const char *job_id,
                                size_t n_steps)
{
    json_t *doc;

    if (f->p.status != 0)
        fail_msg("exit %d, stderr: %s", f->p.status, f->p.err);
    assert_string_equal(f->p.err, "");
    doc = fx_doc(f);
    assert_doc(doc, job_id, "COMPLETED", ALL_DONE, n_steps, 0);
    return doc;
}

/* A config binding the default step types to noop, with an evidence log
 * in the test's folder; *log receives the log's path. */
static const char *write_log_config(fixture *f, const char **log)
{
    const char *dir = fx_dir(f);

    *log = fx_printf(f, "%s/evidence.jsonl", dir);
    return fx_keep(f, tu_write(dir, "jobexec.yaml",
                               fx_printf(f,
                                         "plugins:\n"
                                         "  - path: noop\n"
                                         "    step_types: " NOOP_TYPES_YAML
                                         "\n"
                                         "evidence:\n"
                                         "  log: %s\n",
                                         *log)));
}

/* Every line of the log is one record of job_id, seq counting from 0 per
 * job, events as a 3-step job produces them, jobs back to back. */
static void assert_log_records(fixture *f, const char *path,
                               const char *job_id, size_t n_jobs)
{
    static const char *const events[] = {
        "job_started",  "step_started", "step_finished", "step_started",
        "step_finished", "step_started", "step_finished", "job_finished"};
    char *text = fx_keep(f, tu_read(path));
    char *line, *save = NULL;
    size_t i = 0;

    assert_int_equal(count_lines(text), 8 * n_jobs);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), i++) {
        json_error_t e;
        json_decref(f->rec);
        f->rec = json_loads(line, 0, &e);
        if (f->rec == NULL)
            fail_msg("log line %zu is not JSON: %s", i + 1, e.text);
        assert_string_equal(doc_string(f->rec, "event"), events[i % 8]);
        assert_string_equal(doc_string(f->rec, "job_id"), job_id);
        assert_int_equal(doc_int(f->rec, "seq"), (json_int_t)(i % 8));
        assert_int_equal(strlen(doc_string(f->rec, "prev")), 64);
    }
    assert_int_equal(i, 8 * n_jobs);
}

/* ---- version and help --------------------------------------------------- */

static void test_version(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--version");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "-V");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");
}

static void test_help_main(void **state)
{
    static const char *const forms[] = {"--help", "-h", "help"};
    fixture *f = *state;

    for (size_t i = 0; i < 3; i++) {
        JOBEXEC(f, NULL, forms[i]);
        assert_int_equal(f->p.status, 0);
        assert_main_usage(f->p.out, BUILD_CONFIG);
        assert_string_equal(f->p.err, "");
    }
}

/* A command's help, reached as `help CMD`, `CMD --help` and `CMD -h`. */
static void assert_command_help(fixture *f, const char *cmd, const char *text)
{
    const char *const forms[][2] = {{"help", cmd}, {cmd, "--help"},
                                    {cmd, "-h"}};

    for (size_t i = 0; i < 3; i++) {
        JOBEXEC(f, NULL, forms[i][0], forms[i][1]);
        assert_int_equal(f->p.status, 0);
        assert_string_equal(f->p.out, text);
        assert_string_equal(f->p.err, "");
    }
}

static void test_help_run(void **state)
{
    assert_command_help(*state, "run", RUN_USAGE);
}

static void test_help_check(void **state)
{
    assert_command_help(*state, "check", CHECK_USAGE);
}

static void test_help_plugins(void **state)
{
    assert_command_help(*state, "plugins", PLUGINS_USAGE);
}

/* usage lists `help [COMMAND]`: help is one of the topics. */
static void test_help_help(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "help", "help");
    assert_int_equal(f->p.status, 0);
    assert_main_usage(f->p.out, BUILD_CONFIG);
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "help", "help", "run");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'run'\n"
                              TRY_MAIN);
}

/* Help and version are answers too: a lost write is an error. */
static void test_help_stdout_full(void **state)
{
    static const char *const forms[][3] = {
        {"--help", NULL}, {"--version", NULL}, {"-V", NULL},
        {"help", NULL},   {"help", "run"},     {"run", "--help"}};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const char *const argv[] = {TU_JOBEXEC, forms[i][0], forms[i][1],
                                    NULL};
        fx_spawn(f, argv, NULL, OUT_DEV_FULL);
        assert_int_equal(f->p.status, 3);
        assert_string_equal(f->p.err,
                            "jobexec: cannot write to standard output\n");
    }
}

/* --help wins over the rest of the line: nothing is loaded. */
static void test_help_before_operands(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--config", "/nonexistent.yaml", "--help");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, RUN_USAGE);
    assert_string_equal(f->p.err, "");
}

/* ---- bad usage ---------------------------------------------------------- */

static void test_no_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, NULL);
    assert_usage_error(&f->p, "jobexec: missing command (run, check, "
                              "plugins, evidence, keygen, help)\n" TRY_MAIN);

    /* Options alone are no command either. */
    JOBEXEC(f, NULL, "--verbose");
    assert_usage_error(&f->p, "jobexec: missing command (run, check, "
                              "plugins, evidence, keygen, help)\n" TRY_MAIN);
}

static void test_unknown_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "frobnicate", EXAMPLE_PLAN);
    assert_usage_error(&f->p,
                       "jobexec: unknown command 'frobnicate'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "help", "frobnicate");
    assert_usage_error(&f->p,
                       "jobexec: unknown command 'frobnicate'\n" TRY_MAIN);
}

/* Try lines: the program's help, or the command's. */
#define TRY_CMD(cmd) "Try 'jobexec " cmd " --help' for more information.\n"

/* Every message names the program (never argv[0]'s path) and points to
 * the help of the command in use. */
static void test_unknown_option(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--bogus", "run", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: unknown option '--bogus'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "-x");
    assert_usage_error(&f->p, "jobexec: unknown option '-x'\n" TRY_MAIN);

    JOBEXEC(f, NULL, "run", "--bogus", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: unknown option '--bogus'\n"
                              TRY_CMD("run"));

    /* After the operand too: options may follow it. */
    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN, "-x");
    assert_usage_error(&f->p, "jobexec: unknown option '-x'\n"
                              TRY_CMD("check"));
}

/* An option of another command is named, not mistaken for its value, in
 * its long form and its short one alike. */
static void test_option_of_another_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--pubkey", "k.pub", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--pubkey' does not apply "
                              "to 'run'\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "-k", "k.pub", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '-k' does not apply "
                              "to 'run'\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "keygen", "--job=x", "key");
    assert_usage_error(&f->p, "jobexec: option '--job' does not apply "
                              "to 'keygen'\n" TRY_CMD("keygen"));

    JOBEXEC(f, NULL, "--config", "c.yaml", "evidence", "verify", "log");
    assert_usage_error(&f->p, "jobexec: option '--config' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    JOBEXEC(f, NULL, "evidence", "verify", "log", "--config", "x");
    assert_usage_error(&f->p, "jobexec: option '--config' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    JOBEXEC(f, NULL, "evidence", "verify", "log", "-c", "x");
    assert_usage_error(&f->p, "jobexec: option '-c' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));

    /* Before any command, only the program's own options apply. */
    JOBEXEC(f, NULL, "--pubkey", "k.pub", "run", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--pubkey' does not apply "
                              "here\n" TRY_MAIN);

    JOBEXEC(f, NULL, "evidence", "verify");
    assert_usage_error(&f->p, "jobexec: missing what to do and the log: "
                              "evidence verify|show FILE\n"
                              TRY_CMD("evidence"));
}

/* getopt_long calls "--verbose=1" an unknown 'v': it is a flag given a
 * value, named in full even when abbreviated. */
static void test_flag_with_value(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--verbose=1", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--verbose' takes no value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "--verb=1", EXAMPLE_PLAN);
    assert_usage_error(&f->p, "jobexec: option '--verbose' takes no value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "--help=x");
    assert_usage_error(&f->p, "jobexec: option '--help' takes no value\n"
                              TRY_MAIN);

    JOBEXEC(f, NULL, "evidence", "show", "log", "--version=2");
    assert_usage_error(&f->p, "jobexec: option '--version' takes no value\n"
                              TRY_CMD("evidence"));

    /* A short option after a long one with a value is still short. */
    JOBEXEC(f, NULL, "evidence", "verify", "log", "--pubkey=k", "-cx");
    assert_usage_error(&f->p, "jobexec: option '-c' does not apply "
                              "to 'evidence'\n" TRY_CMD("evidence"));
}

static void test_option_without_value(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins", "--config");
    assert_usage_error(&f->p, "jobexec: option '--config' needs a value\n"
                              TRY_CMD("plugins"));

    JOBEXEC(f, NULL, "run", EXAMPLE_PLAN, "-c");
    assert_usage_error(&f->p, "jobexec: option '-c' needs a value\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "--config");
    assert_usage_error(&f->p, "jobexec: option '--config' needs a value\n"
                              TRY_MAIN);
}

/* The global options work after the command as well. */
static void test_options_after_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "--version", EXAMPLE_PLAN);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", E2E "/plan.yaml", "--config",
            E2E "/config-health.yaml", "-v");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 3 steps, job " PLAN_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");
}

static void test_run_without_plan(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run");
    assert_usage_error(&f->p, "jobexec: missing PLAN (a file, or - for "
                              "standard input)\n" TRY_CMD("run"));

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-fail.yaml");
    assert_usage_error(&f->p, "jobexec: missing PLAN (a file, or - for "
                              "standard input)\n" TRY_CMD("run"));
}

static void test_extra_argument(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", EXAMPLE_PLAN, "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("run"));

    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN, "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("check"));

    JOBEXEC(f, NULL, "plugins", "extra");
    assert_usage_error(&f->p, "jobexec: unexpected argument 'extra'\n"
                              TRY_CMD("plugins"));
}

/* ---- run ---------------------------------------------------------------- */

static void test_run_example_plan(void **state)
{
    static const char *const types[] = {"capability_enable",
                                        "configuration_change",
                                        "capability_disable"};
    fixture *f = *state;
    json_t *doc, *results;

    JOBEXEC(f, NULL, "run", EXAMPLE_PLAN);
    doc = assert_completed(f, EXAMPLE_JOB, 3);
    assert_string_equal(doc_string(doc, "contract_id"), EXAMPLE_CONTRACT);
    assert_string_equal(doc_string(doc, "tenant_id"), "acme");
    assert_string_equal(doc_string(doc, "executed_by"), "ops-cli");
    /* The default config has no health observer. */
    assert_true(json_is_null(json_object_get(
        json_object_get(doc, "health_observations"), "before")));
    results = json_object_get(doc, "step_results");
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(results, i);
        json_t *out = json_object_get(r, "output");
        assert_string_equal(doc_string(r, "step_type"), types[i]);
        assert_string_equal(doc_string(out, "handler"), "noop");
        assert_string_equal(doc_string(out, "step_type"), types[i]);
    }
    /* One document, one trailing newline. */
    assert_true(ends_with(f->p.out, "}\n"));
}

static void test_run_options_before_command(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "--config", TU_SRCDIR "/conf/jobexec.yaml", "run",
            E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);

    JOBEXEC(f, NULL, "run", "-c", TU_SRCDIR "/conf/jobexec.yaml",
            E2E "/plan.json");
    assert_completed(f, JSON_JOB, 2);
}

static void test_run_stdin_yaml(void **state)
{
    fixture *f = *state;
    const char *text = fx_keep(f, tu_read(E2E "/plan.yaml"));

    JOBEXEC(f, text, "run", "-");
    assert_completed(f, PLAN_JOB, 3);
}

static void test_run_stdin_json(void **state)
{
    fixture *f = *state;
    const char *text = fx_keep(f, tu_read(E2E "/plan.json"));
    json_t *doc;

    JOBEXEC(f, text, "run", "-");
    doc = assert_completed(f, JSON_JOB, 2);
    /* executed_by was left out of the plan: the documented default. */
    assert_string_equal(doc_string(doc, "executed_by"), "executor");
    assert_string_equal(doc_string(doc, "contract_id"), E2E_CONTRACT);
}

static void test_run_empty_stdin(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, "", "run", "-");
    assert_usage_error(&f->p, "jobexec: <stdin>:1:1: the document is empty\n");
}

static void test_run_step_fails(void **state)
{
    fixture *f = *state;
    json_t *doc, *failed;

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-fail.yaml",
            E2E "/plan-fails.yaml");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.err, "");
    doc = fx_doc(f);
    /* Step 2 never started: two results, the second FAILED with Boom. */
    assert_doc(doc, FAILS_JOB, "FAILED", "Step 1 failed: Boom", 2, 1);
    failed = json_array_get(json_object_get(doc, "step_results"), 1);
    assert_string_equal(doc_string(failed, "error"), "Boom");
    assert_string_equal(doc_string(failed, "step_type"), "bad");
    assert_true(json_is_null(json_object_get(failed, "output")));
}

static void test_run_no_handler(void **state)
{
    fixture *f = *state;
    json_t *doc, *failed;

    JOBEXEC(f, NULL, "run", E2E "/plan-unhandled.yaml");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.err, "");
    doc = fx_doc(f);
    assert_doc(doc, UNHANDLED_JOB, "FAILED",
               "Step 0 failed: No handler registered for step type: "
               "nothing_handles_this",
               1, 1);
    failed = json_array_get(json_object_get(doc, "step_results"), 0);
    assert_string_equal(doc_string(failed, "error"),
                        "No handler registered for step type: "
                        "nothing_handles_this");
}

static void test_run_evidence_log(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log);

    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    assert_log_records(f, log, PLAN_JOB, 1);

    /* A second run appends its own eight records. */
    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    assert_log_records(f, log, PLAN_JOB, 2);
}

static void test_run_health_observer(void **state)
{
    fixture *f = *state;
    json_t *doc, *health;

    JOBEXEC(f, NULL, "run", "--config", E2E "/config-health.yaml",
            E2E "/plan.yaml");
    doc = assert_completed(f, PLAN_JOB, 3);
    health = json_object_get(doc, "health_observations");
    /* Keep the expected snapshot in f->rec so that it is freed whatever
     * happens. */
    f->rec = json_pack("{s:s, s:i}", "cpu", "ok", "disk", 42);
    assert_non_null(f->rec);
    assert_true(json_equal(json_object_get(health, "before"), f->rec));
    assert_true(json_equal(json_object_get(health, "after"), f->rec));
}

static void test_run_plugin_fails_to_load(void **state)
{
    static const char *const cmds[] = {"run", "check", "plugins"};
    static const char prefix[] =
        "jobexec: " E2E "/config-missing-plugin.yaml:5:11: plugin '"
        TU_PLUGINS "/no_such_plugin.so': ";
    fixture *f = *state;

    for (size_t i = 0; i < 3; i++) {
        if (i == 2)
            JOBEXEC(f, NULL, cmds[i], "-c",
                    E2E "/config-missing-plugin.yaml");
        else
            JOBEXEC(f, NULL, cmds[i], "-c", E2E "/config-missing-plugin.yaml",
                    E2E "/plan.yaml");
        assert_int_equal(f->p.status, 2);
        assert_string_equal(f->p.out, "");
        if (!starts_with(f->p.err, prefix))
            fail_msg("%s: stderr: %s", cmds[i], f->p.err);
        assert_true(ends_with(f->p.err, "No such file or directory\n"));
        assert_int_equal(count_lines(f->p.err), 1);
    }
}

static void test_run_plugin_init_fails(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", "-c", E2E "/config-bad-init.yaml",
            E2E "/plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/config-bad-init.yaml:5:11: "
                              "plugin '" TU_PLUGINS "/fail.so': init failed: "
                              "error_message must be a string\n");
}

static void test_run_missing_files(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "run", E2E "/no-such-plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/no-such-plan.yaml: cannot "
                              "open: No such file or directory\n");

    JOBEXEC(f, NULL, "run", "-c", E2E "/no-such-config.yaml",
            E2E "/plan.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/no-such-config.yaml: cannot "
                              "open: No such file or directory\n");
}

/* ---- writing to standard output ----------------------------------------- */

static void test_run_stdout_full(void **state)
{
    const char *const argv[] = {TU_JOBEXEC, "run", E2E "/plan.yaml", NULL};
    fixture *f = *state;

    fx_spawn(f, argv, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    /* Every step ran: the message says how the job ended. */
    assert_string_equal(f->p.err, "jobexec: job " PLAN_JOB " COMPLETED, but "
                                  "the evidence document could not be "
                                  "written to standard output\n");
}

/* With standard output closed, a file the job opens (the evidence log)
 * could take descriptor 1 and receive the document: the log must hold only
 * its own records, and the run must say the document was lost. */
static void test_run_stdout_closed(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log);
    const char *const argv[] = {TU_JOBEXEC, "run", "--config", cfg,
                                E2E "/plan.yaml", NULL};
    char *text;

    fx_spawn(f, argv, NULL, OUT_CLOSED);
    assert_int_equal(f->p.status, 3);
    assert_non_null(strstr(f->p.err, "the evidence document could not be "
                                     "written to standard output"));
    /* Whether or not the job ran, no document in the log. */
    text = tu_read(log);
    if (text != NULL && fx_keep(f, text)[0] != '\0')
        assert_log_records(f, log, PLAN_JOB, 1);
}

/* `check` and `plugins` print what scripts rely on: losing it is an
 * error, not "OK". */
static void test_listing_stdout_full(void **state)
{
    const char *const check[] = {TU_JOBEXEC, "check", E2E "/plan.yaml", NULL};
    const char *const plugins[] = {TU_JOBEXEC, "plugins", NULL};
    fixture *f = *state;

    fx_spawn(f, check, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_true(starts_with(f->p.err, "jobexec: "));

    fx_spawn(f, plugins, NULL, OUT_DEV_FULL);
    assert_int_equal(f->p.status, 3);
    assert_true(starts_with(f->p.err, "jobexec: "));
}

/* ---- check -------------------------------------------------------------- */

static void test_check_config_only(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "check");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "config OK: 1 plugin loaded\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", "--config", E2E "/config-fail.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "config OK: 2 plugins loaded\n");
    assert_string_equal(f->p.err, "");
}

/* check and plugins run nothing: the evidence log is checked, never
 * created, and a torn last line in it is no business of theirs. */
/* The build tree's binary uses the tree's runner only when the config
 * names none. */
static void test_config_runner_path_honoured(void **state)
{
    fixture *f = *state;
    const char *cfg = fx_keep(f, tu_write(fx_dir(f), "runner.yaml",
                                          "plugins:\n"
                                          "  - path: noop\n"
                                          "    isolation: process\n"
                                          "runner:\n"
                                          "  path: /nonexistent/runner\n"));
    const char *want = fx_printf(f, "jobexec: %s:2:11: plugin '%s/noop.so': "
                                    "cannot start the runner "
                                    "'/nonexistent/runner': No such file or "
                                    "directory\n",
                                 cfg, TU_PLUGINS);

    JOBEXEC(f, NULL, "plugins", "--config", cfg);
    assert_string_equal(f->p.err, want);
    assert_int_equal(f->p.status, 2);
}

static void test_check_and_plugins_leave_log_alone(void **state)
{
    fixture *f = *state;
    const char *log, *cfg = write_log_config(f, &log), *want;
    struct stat st;

    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    JOBEXEC(f, NULL, "plugins", "--config", cfg);
    assert_int_equal(f->p.status, 0);
    assert_int_equal(stat(log, &st), -1);

    fx_keep(f, tu_write(fx_dir(f), "evidence.jsonl", "{\"seq\":0,\"pre"));
    JOBEXEC(f, NULL, "check", "--config", cfg);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(fx_keep(f, tu_read(log)), "{\"seq\":0,\"pre");

    /* A log that could not be opened fails the check as it would the run. */
    cfg = fx_keep(f, tu_write(fx_dir(f), "nolog.yaml",
                              "evidence: {log: /no-such-folder/ev.jsonl}\n"));
    /* A config error (exit 2) at the key that names the log. */
    JOBEXEC(f, NULL, "check", "--config", cfg);
    assert_int_equal(f->p.status, 2);
    want = fx_printf(f, "jobexec: %s:1:17: evidence log "
                        "'/no-such-folder/ev.jsonl': cannot be created in "
                        "'/no-such-folder': No such file or directory\n",
                     cfg);
    assert_string_equal(f->p.err, want);
    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 2);
    want = fx_printf(f, "jobexec: %s:1:17: evidence log "
                        "'/no-such-folder/ev.jsonl': cannot open: No such "
                        "file or directory\n",
                     cfg);
    assert_string_equal(f->p.err, want);
}

static void test_check_good_plan(void **state)
{
    fixture *f = *state;
    const char *json = fx_keep(f, tu_read(E2E "/plan.json"));

    JOBEXEC(f, NULL, "check", E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 3 steps, job " PLAN_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "check", EXAMPLE_PLAN);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 3 steps, job " EXAMPLE_JOB
                                  ", contract " EXAMPLE_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, json, "check", "-");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 2 steps, job " JSON_JOB
                                  ", contract " E2E_CONTRACT "\n");
    assert_string_equal(f->p.err, "");

    /* No job_id: the one made up here is not the one a run would use. */
    JOBEXEC(f, "contract_id: " E2E_CONTRACT "\nsteps:\n  - {step_index: 0, "
               "step_type: capability_enable}\n",
            "check", "-");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "plan OK: 1 step, job (generated at run "
                                  "time), contract " E2E_CONTRACT "\n");
}

/* The evidence log, if check made it at all, holds nothing. */
static void assert_log_empty(fixture *f, const char *log)
{
    char *text = tu_read(log);

    if (text != NULL)
        fx_keep(f, text);
    assert_true(text == NULL || text[0] == '\0');
}

static void test_check_unhandled_step(void **state)
{
    fixture *f = *state;
    const char *log, *cfg;

    JOBEXEC(f, NULL, "check", E2E "/plan-unhandled.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/plan-unhandled.yaml:5:5: "
                              "step 0: No handler registered for step type: "
                              "nothing_handles_this\n");

    /* Nothing runs: the evidence log gets no record. */
    cfg = write_log_config(f, &log);
    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan-unhandled.yaml");
    assert_usage_error(&f->p, "jobexec: " E2E "/plan-unhandled.yaml:5:5: "
                              "step 0: No handler registered for step type: "
                              "nothing_handles_this\n");
    assert_log_empty(f, log);

    /* Nor does a good plan's check. */
    JOBEXEC(f, NULL, "check", "--config", cfg, E2E "/plan.yaml");
    assert_int_equal(f->p.status, 0);
    assert_log_empty(f, log);
}

/* ---- plugins ------------------------------------------------------------ */

static void test_plugins_default(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "noop 1.0.0 (abi 1, thread-safe)\n"
                                  "  file: " TU_PLUGINS "/noop.so\n"
                                  "  step types: " NOOP_TYPES "\n");
    assert_string_equal(f->p.err, "");
}

static void test_plugins_health_and_fail(void **state)
{
    fixture *f = *state;

    JOBEXEC(f, NULL, "plugins", "--config", E2E "/config-health.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "noop 1.0.0 (abi 1, thread-safe)\n"
                        "  file: " TU_PLUGINS "/noop.so\n"
                        "  step types: capability_enable capability_disable "
                        "configuration_change\n"
                        "health_static 1.0.0 (abi 1, thread-safe, health "
                        "observer)\n"
                        "  file: " TU_PLUGINS "/health_static.so\n"
                        "  step types: (none)\n");
    assert_string_equal(f->p.err, "");

    JOBEXEC(f, NULL, "plugins", "-c", E2E "/config-fail.yaml");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        "noop 1.0.0 (abi 1, thread-safe)\n"
                        "  file: " TU_PLUGINS "/noop.so\n"
                        "  step types: capability_enable "
                        "capability_disable\n"
                        "fail 1.0.0 (abi 1, thread-safe)\n"
                        "  file: " TU_PLUGINS "/fail.so\n"
                        "  step types: bad\n");
    assert_string_equal(f->p.err, "");
}

/* ---- evidence and keygen ------------------------------------------------ */

#define PLAN_JOB_UPPER "3F1C2B7A-9D4E-4A8B-8C6D-1E2F3A4B5C6D"

/* Runs plan.yaml (PLAN_JOB, 3 steps) with an evidence log; returns the
 * log's path. */
static const char *make_log(fixture *f)
{
    const char *log, *cfg = write_log_config(f, &log);

    JOBEXEC(f, NULL, "run", "--config", cfg, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);
    return log;
}

/* A folder opens but cannot be read: show says so, as verify does,
 * instead of showing nothing. */
static void test_evidence_unreadable(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    const char *want =
        fx_printf(f, "jobexec: %s: cannot read: Is a directory\n", dir);

    JOBEXEC(f, NULL, "evidence", "show", dir);
    assert_usage_error(&f->p, want);

    JOBEXEC(f, NULL, "evidence", "show", dir, "--job", PLAN_JOB);
    assert_usage_error(&f->p, want);

    JOBEXEC(f, NULL, "evidence", "verify", dir);
    assert_usage_error(&f->p, want);
}

/* --job takes the id as stored (lower case) or in upper case. */
static void test_evidence_job_any_case(void **state)
{
    static const char *const ids[] = {PLAN_JOB, PLAN_JOB_UPPER};
    fixture *f = *state;
    const char *log = make_log(f);

    for (size_t i = 0; i < 2; i++) {
        JOBEXEC(f, NULL, "evidence", "verify", log, "--job", ids[i]);
        assert_int_equal(f->p.status, 0);
        assert_string_equal(f->p.out,
                            PLAN_JOB ": valid (8 records, unsigned seal)\n"
                            "1 job: 1 valid, 0 incomplete, 0 tampered\n");
        assert_string_equal(f->p.err, "");

        JOBEXEC(f, NULL, "evidence", "show", log, "-j", ids[i]);
        assert_int_equal(f->p.status, 0);
        assert_int_equal(count_lines(f->p.out), 8);
        assert_string_equal(f->p.err, "");
    }

    /* Not a UUID: left as given, and not found. */
    JOBEXEC(f, NULL, "evidence", "show", log, "--job", "3F1C2B7A");
    assert_usage_error(&f->p, fx_printf(f, "jobexec: %s: no record of job "
                                           "3F1C2B7A\n", log));
}

/* Each line names the job by its first 8 characters; the job_started
 * line gives the whole id, for --job. */
static void test_evidence_show_full_id(void **state)
{
    fixture *f = *state;
    const char *log = make_log(f);
    char *line, *save = NULL;
    size_t n = 0;

    JOBEXEC(f, NULL, "evidence", "show", log);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    for (line = strtok_r(f->p.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        assert_non_null(strstr(line, "+00:00  3f1c2b7a  "));
        if (n == 0)
            assert_non_null(strstr(line, "  job started: contract "
                                         E2E_CONTRACT ", 3 steps, by "
                                         "e2e-test for tenant e2e; job id "
                                         PLAN_JOB
                                         "; plan sha256 "));
        else
            assert_null(strstr(line, PLAN_JOB));
    }
    assert_int_equal(n, 8);
}

/* What a log holds is printed with its control characters escaped: a
 * newline cannot forge a timeline line, nor ESC [8m hide the rest. */
static void test_evidence_show_escapes(void **state)
{
    fixture *f = *state;
    const char *log = fx_keep(
        f, tu_write(fx_dir(f), "forged.jsonl",
                    "{\"event\":\"step_finished\",\"job_id\":\"" PLAN_JOB
                    "\",\"step\":{\"step_index\":1,\"status\":\"FAILED\","
                    "\"completed_at\":\"2026-01-01T00:00:01+00:00\","
                    "\"error\":\"Boom\\n2026-01-01T00:00:02+00:00  "
                    "3f1c2b7a  job finished COMPLETED\\u001b[8m hidden\\r"
                    "\\t\\u007f\"}}\n"
                    "{\"event\":\"job_finished\",\"job_id\":\"" PLAN_JOB
                    "\",\"completed_at\":\"2026-01-01T00:00:03+00:00\","
                    "\"final_status\":\"FAILED\",\"final_reason\":"
                    "\"Step 1 failed: a\\nb\\u001b[8mc\",\"duration_seconds\""
                    ":1.5,\"execution_summary\":{\"steps_executed\":2,"
                    "\"steps_succeeded\":1,\"steps_failed\":1},"
                    "\"seal\":{}}\n"));

    JOBEXEC(f, NULL, "evidence", "show", log);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "");
    assert_string_equal(
        f->p.out,
        "2026-01-01T00:00:01+00:00  3f1c2b7a  step 1 FAILED: Boom\\n"
        "2026-01-01T00:00:02+00:00  3f1c2b7a  job finished COMPLETED"
        "\\u001b[8m hidden\\r\\t\\u007f\n"
        "2026-01-01T00:00:03+00:00  3f1c2b7a  job finished FAILED: Step 1 "
        "failed: a\\nb\\u001b[8mc (2 executed, 1 succeeded, 1 failed; "
        "1.500000 s; sealed, unsigned)\n");
}

/* verify's reasons may quote a damaged line (the JSON parser's "near
 * '...'"): they are escaped too. */
static void test_evidence_verify_escapes(void **state)
{
    fixture *f = *state;
    const char *log =
        fx_keep(f, tu_write(fx_dir(f), "stray.jsonl", "\x1b[8mhidden\n"));

    JOBEXEC(f, NULL, "evidence", "verify", log);
    assert_int_equal(f->p.status, 4);
    assert_string_equal(f->p.err, "");
    assert_null(strchr(f->p.out, '\x1b'));
    assert_non_null(strstr(f->p.out, "\\u001b"));
    assert_int_equal(count_lines(f->p.out), 2);
    assert_true(ends_with(f->p.out, " (1 line belongs to no job)\n"
                                    "0 jobs: 0 valid, 0 incomplete, 0 "
                                    "tampered\n"));
}

/* A plugin's text reaches the terminal escaped: its log messages, the
 * summary line of run, and the error as evidence show prints it. */
static void test_run_escapes_plugin_text(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    const char *log = fx_printf(f, "%s/evidence.jsonl", dir);
    const char *cfg = fx_keep(
        f, tu_write(dir, "escape.yaml",
                    fx_printf(f,
                              "plugins:\n"
                              "  - path: noop\n"
                              "    step_types: [capability_enable, "
                              "capability_disable]\n"
                              "  - path: fail\n"
                              "    step_types: [bad]\n"
                              "    config: {error_message: \"Boom\\nforged"
                              "\\e[8mhidden\"}\n"
                              "  - path: " TU_FIXTURES "/echo.so\n"
                              "evidence:\n"
                              "  log: %s\n",
                              log)));
    const char *plan = fx_keep(
        f, tu_write(dir, "echo.yaml",
                    "job_id: " PLAN_JOB "\n"
                    "contract_id: " E2E_CONTRACT "\n"
                    "steps:\n"
                    "  - step_index: 0\n"
                    "    step_type: echo\n"
                    "    parameters: {note: \"a\\nb\\e[8mc\"}\n"));
    const char *const run[] = {TU_JOBEXEC, "run", "-c", cfg,
                               E2E "/plan-fails.yaml", NULL};

    JOBEXEC(f, NULL, "run", "-c", cfg, plan);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.err, "jobexec: warning: job " PLAN_JOB
                                  " step 0: param note=a\\nb\\u001b[8mc\n");

    fx_spawn_tty(f, run);
    assert_int_equal(f->p.status, 1);
    if (!starts_with(f->p.err, "jobexec: job " FAILS_JOB " FAILED: 1/3 "
                               "steps succeeded in ") ||
        !ends_with(f->p.err, " s - Step 1 failed: Boom\\nforged"
                             "\\u001b[8mhidden\n"))
        fail_msg("summary line: '%s'", f->p.err);
    assert_int_equal(count_lines(f->p.err), 1);

    JOBEXEC(f, NULL, "evidence", "show", log, "--job", FAILS_JOB);
    assert_int_equal(f->p.status, 0);
    assert_non_null(strstr(f->p.out, "  9b8a7c6d  step 1 FAILED: Boom\\n"
                                     "forged\\u001b[8mhidden\n"));
    assert_int_equal(count_lines(f->p.out), 6);
}

/* A folder is no name for a key: say so, rather than "File exists". */
static void test_keygen_directory(void **state)
{
    fixture *f = *state;
    const char *dir = fx_dir(f);
    DIR *d;

    JOBEXEC(f, NULL, "keygen", dir);
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s: is a directory; name a "
                                    "file in it for the secret key, e.g. "
                                    "%s/evidence.key\n",
                                 dir, dir));

    JOBEXEC(f, NULL, "keygen", fx_printf(f, "%s/", dir));
    assert_usage_error(&f->p,
                       fx_printf(f, "jobexec: %s/: is a directory; name a "
                                    "file in it for the secret key, e.g. "
                                    "%s/evidence.key\n",
                                 dir, dir));

    /* Nothing was written. */
    d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("keygen left %s", e->d_name);
    closedir(d);
}

/* ---- the installed layout ----------------------------------------------- */

/* `make install DESTDIR=root`, done once for the tests that need it and
 * removed by the group teardown. */
static struct installed {
    int tried;
    int ok;
    char *root;    /* DESTDIR */
    char *prefix;  /* root + the configured prefix */
    char *bin;     /* the staged jobexec */
    char *libdir;  /* the staged libjobexec's folder */
    char *include; /* the staged headers' -I folder */
    char *plugins; /* the staged plugin folder */
    char *config;  /* noop and fail, plugin_dir the staged plugins */
} inst;

/* The configured prefix, from the build's jobexec.pc. */
static char *configured_prefix(void)
{
    char *pc = tu_read(TU_BUILDDIR "/jobexec.pc");
    char *prefix = NULL, *line;

    if (pc == NULL)
        return NULL;
    line = starts_with(pc, "prefix=") ? pc : strstr(pc, "\nprefix=");
    if (line != NULL) {
        line += line == pc ? 7 : 8;
        prefix = strndup(line, strcspn(line, "\n"));
    }
    free(pc);
    return prefix;
}

static int stage_paths(const char *prefix)
{
    FILE *fp;

    if (asprintf(&inst.prefix, "%s%s", inst.root, prefix) < 0 ||
        asprintf(&inst.bin, "%s/bin/jobexec", inst.prefix) < 0 ||
        asprintf(&inst.libdir, "%s/lib", inst.prefix) < 0 ||
        asprintf(&inst.include, "%s/include", inst.prefix) < 0 ||
        asprintf(&inst.plugins, "%s/lib/jobexec/plugins", inst.prefix) < 0 ||
        asprintf(&inst.config, "%s/staged.yaml", inst.root) < 0)
        return -1;
    fp = fopen(inst.config, "w");
    if (fp == NULL)
        return -1;
    fprintf(fp,
            "plugin_dir: %s\n"
            "plugins:\n"
            "  - path: noop\n"
            "    step_types: " NOOP_TYPES_YAML "\n"
            "  - path: fail\n"
            "    step_types: [bad]\n"
            "    config: {error_message: \"Boom\"}\n"
            /* Staged plugins are not in the installation's own folder, so
             * they run isolated, in the staged runner. */
            "runner:\n"
            "  path: %s/libexec/jobexec/jobexec-runner\n",
            inst.plugins, inst.prefix);
    if (fclose(fp) != 0)
        return -1;
    /* The runner drops to an unprivileged user, who must reach the
     * staged plugins. */
    return chmod(inst.root, 0755) == 0 ? 0 : -1;
}

/* Setup of the installed-layout tests: the first one stages the install,
 * the others reuse it (or fail as it did). */
static int install_once(void **state)
{
    char *prefix, *destdir = NULL;
    tu_proc p;

    if (!inst.tried) {
        inst.tried = 1;
        prefix = configured_prefix();
        inst.root = tu_mkdtemp();
        if (prefix != NULL && inst.root != NULL &&
            asprintf(&destdir, "DESTDIR=%s", inst.root) > 0) {
            tu_run(&p, NULL,
                   (const char *const[]){"/usr/bin/make", "-s", "-C",
                                         TU_BUILDDIR, "install", destdir,
                                         NULL});
            if (p.status != 0)
                fprintf(stderr, "make install failed (%d):\n%s%s", p.status,
                        p.out, p.err);
            inst.ok = p.status == 0 && stage_paths(prefix) == 0;
            tu_proc_free(&p);
        }
        free(destdir);
        free(prefix);
    }
    return inst.ok ? fx_setup(state) : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (inst.root != NULL)
        tu_rm_rf(inst.root);
    free(inst.root);
    free(inst.prefix);
    free(inst.bin);
    free(inst.libdir);
    free(inst.include);
    free(inst.plugins);
    free(inst.config);
    memset(&inst, 0, sizeof inst);
    return 0;
}

/* Runs the staged jobexec with the staged library; args end with NULL. */
static void run_installed(fixture *f, const char *const *args)
{
    const char *argv[16] = {inst.bin};
    char **env = env_with_libdir(inst.libdir);
    size_t n = 0;

    assert_non_null(env);
    while (n < 14 && args[n] != NULL) {
        argv[n + 1] = args[n];
        n++;
    }
    argv[n + 1] = NULL;
    tu_proc_free(&f->p);
    spawn_ex(&f->p, argv, env, OUT_PIPE);
    free_env(env);
    assert_non_null(f->p.out);
}

#define INSTALLED(f, ...)                                                    \
    run_installed((f), (const char *const[]){__VA_ARGS__, NULL})

static void test_installed_tree(void **state)
{
    static const char *const files[] = {
        "bin/jobexec",
        "include/jobexec/jobexec.h",
        "include/jobexec/step_handler_v1.h",
        "lib/pkgconfig/jobexec.pc",
        "etc/jobexec/jobexec.yaml",
        "share/jobexec/example-plan.yaml",
        "lib/jobexec/plugins/noop.so",
        "lib/jobexec/plugins/fail.so",
        "lib/jobexec/plugins/health_static.so",
    };
    fixture *f = *state;
    char stray[256] = "";
    struct dirent *e;
    DIR *d;

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *path = fx_printf(f, "%s/%s", inst.prefix, files[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            fail_msg("not installed: %s", path);
    }
    /* jobexec loads plugins by exact path: libtool archives are clutter. */
    d = opendir(inst.plugins);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (ends_with(e->d_name, ".la"))
            snprintf(stray, sizeof stray, "%s", e->d_name);
    closedir(d);
    assert_string_equal(stray, "");
}

static void test_installed_run(void **state)
{
    fixture *f = *state;

    INSTALLED(f, "run", "--config", inst.config, E2E "/plan.yaml");
    assert_completed(f, PLAN_JOB, 3);

    INSTALLED(f, "--config", inst.config, "run", E2E "/plan.json");
    assert_completed(f, JSON_JOB, 2);

    /* The example plan as installed. */
    INSTALLED(f, "run", "-c", inst.config,
              fx_printf(f, "%s/share/jobexec/example-plan.yaml",
                        inst.prefix));
    assert_completed(f, EXAMPLE_JOB, 3);
}

static void test_installed_failing_step(void **state)
{
    fixture *f = *state;

    INSTALLED(f, "run", "--config", inst.config, E2E "/plan-fails.yaml");
    assert_int_equal(f->p.status, 1);
    assert_string_equal(f->p.err, "");
    assert_doc(fx_doc(f), FAILS_JOB, "FAILED", "Step 1 failed: Boom", 2, 1);
}

static void test_installed_plugins_and_version(void **state)
{
    fixture *f = *state;

    INSTALLED(f, "plugins", "-c", inst.config);
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out,
                        fx_printf(f,
                                  /* A runner serves one step at a time. */
                                  "noop 1.0.0 (abi 1, isolated)\n"
                                  "  file: %s/noop.so\n"
                                  "  step types: " NOOP_TYPES "\n"
                                  "fail 1.0.0 (abi 1, isolated)\n"
                                  "  file: %s/fail.so\n"
                                  "  step types: bad\n",
                                  inst.plugins, inst.plugins));
    assert_string_equal(f->p.err, "");

    INSTALLED(f, "--version");
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "jobexec 0.1.0 (step_handler_v1 ABI 1)\n");

    /* Installed, the default config is the configured sysconfdir's, not
     * the source tree's. */
    INSTALLED(f, "--help");
    assert_int_equal(f->p.status, 0);
    assert_main_usage(f->p.out, NULL);
    assert_null(strstr(f->p.out, TU_SRCDIR "/conf"));
}

/* Each public header compiles alone, in strict C99. */
static void assert_header_compiles(fixture *f, const char *header)
{
    const char *include = fx_printf(f, "-I%s", inst.include);
    const char *source = fx_printf(f, "#include <jobexec/%s>\n"
                                      "int main(void){return 0;}\n",
                                   header);

    fx_run(f, source,
           (const char *const[]){"/usr/bin/cc", "-std=c99", "-Wall",
                                 "-Wextra", "-pedantic", "-Werror",
                                 "-fsyntax-only", include, "-x", "c", "-",
                                 NULL});
    if (f->p.status != 0)
        fail_msg("%s does not compile alone:\n%s", header, f->p.err);
    assert_string_equal(f->p.err, "");
}

static void test_installed_headers_compile(void **state)
{
    assert_header_compiles(*state, "step_handler_v1.h");
    assert_header_compiles(*state, "jobexec.h");
}

static void test_installed_pkgconfig(void **state)
{
    fixture *f = *state;
    const char *pc = fx_keep(
        f, tu_read(fx_printf(f, "%s/lib/pkgconfig/jobexec.pc", inst.prefix)));

    assert_non_null(strstr(pc, "\nName: jobexec\n"));
    assert_non_null(strstr(pc, "\nVersion: 0.1.0\n"));
    assert_non_null(strstr(pc, "\nLibs: -L${libdir} -ljobexec\n"));
    assert_non_null(strstr(pc, "\nplugindir="));
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
#define INSTALLED_TEST(name)                                                 \
    cmocka_unit_test_setup_teardown(name, install_once, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_version),
        TEST(test_help_main),
        TEST(test_help_run),
        TEST(test_help_check),
        TEST(test_help_plugins),
        TEST(test_help_before_operands),
        TEST(test_help_help),
        TEST(test_help_stdout_full),
        TEST(test_no_command),
        TEST(test_unknown_command),
        TEST(test_unknown_option),
        TEST(test_option_of_another_command),
        TEST(test_flag_with_value),
        TEST(test_option_without_value),
        TEST(test_options_after_command),
        TEST(test_run_without_plan),
        TEST(test_extra_argument),
        TEST(test_run_example_plan),
        TEST(test_run_options_before_command),
        TEST(test_run_stdin_yaml),
        TEST(test_run_stdin_json),
        TEST(test_run_empty_stdin),
        TEST(test_run_step_fails),
        TEST(test_run_no_handler),
        TEST(test_run_evidence_log),
        TEST(test_run_health_observer),
        TEST(test_run_plugin_fails_to_load),
        TEST(test_run_plugin_init_fails),
        TEST(test_run_missing_files),
        TEST(test_run_stdout_full),
        TEST(test_run_stdout_closed),
        TEST(test_listing_stdout_full),
        TEST(test_check_config_only),
        TEST(test_config_runner_path_honoured),
        TEST(test_check_and_plugins_leave_log_alone),
        TEST(test_check_good_plan),
        TEST(test_check_unhandled_step),
        TEST(test_plugins_default),
        TEST(test_plugins_health_and_fail),
        TEST(test_evidence_unreadable),
        TEST(test_evidence_job_any_case),
        TEST(test_evidence_show_full_id),
        TEST(test_evidence_show_escapes),
        TEST(test_evidence_verify_escapes),
        TEST(test_run_escapes_plugin_text),
        TEST(test_keygen_directory),
        INSTALLED_TEST(test_installed_tree),
        INSTALLED_TEST(test_installed_run),
        INSTALLED_TEST(test_installed_failing_step),
        INSTALLED_TEST(test_installed_plugins_and_version),
        INSTALLED_TEST(test_installed_headers_compile),
        INSTALLED_TEST(test_installed_pkgconfig),
    };

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
