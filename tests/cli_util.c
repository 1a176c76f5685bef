/*
 * cli_util.c - see cli_util.h.
 */
#include "config.h"

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
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli_util.h"

extern char **environ;

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
    "  plugin check FILE [--config-section YAML] [--step YAML] [--run]\n"    \
    "                                load one plugin as the loader does, "    \
    "ask its\n"                                                              \
    "                                validate, run one step isolated\n"      \
    "  evidence verify FILE [--pubkey KEY] [--job ID]\n"                     \
    "                                check an evidence log's chains and "    \
    "seals\n"                                                                \
    "  evidence show FILE [--job ID] print an evidence log as a timeline\n"  \
    "  evidence export FILE --job ID --format in-toto|slsa [--key KEY]\n"    \
    "                                signed in-toto statements (DSSE) for "   \
    "a job\n"                                                                \
    "  keygen FILE                   write a key pair for sealing "          \
    "evidence\n"                                                             \
    "  registry list|history         what the capability registry holds, "   \
    "what\n"                                                                 \
    "                                changed it\n"                           \
    "  scope create|list|show|revoke bound execution scopes for run "       \
    "--scope\n"                                                              \
    "  worker [--db URL] [--concurrency N] [--once]\n"                      \
    "                                run jobs from the PostgreSQL "          \
    "governance store\n"                                                     \
    "  submit [--db URL] PLAN|-      add a plan to the store as a PENDING "  \
    "job\n"                                                                  \
    "  jobs list|show                the store's jobs, their status and "    \
    "evidence\n"                                                             \
    "  retry-advice --attempt N --error TEXT\n"                              \
    "                                whether and when to retry failed "      \
    "work\n"                                                                 \
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
    "usage, config\nor plan (nothing ran), 3 internal error, 5 refused by " \
    "the scope gate\n(run --scope).  `evidence verify` has its own (see "   \
    "its --help).\n"

int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return *state == NULL ? -1 : 0;
}

int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_proc_free(&f->p);
    json_decref(f->doc);
    json_decref(f->rec);
    tu_temp_free(f->dir);
    for (size_t i = 0; i < f->n_keep; i++)
        free(f->keep[i]);
    free(f);
    return 0;
}

char *fx_keep(fixture *f, char *s)
{
    assert_non_null(s);
    assert_true(f->n_keep < sizeof f->keep / sizeof f->keep[0]);
    f->keep[f->n_keep++] = s;
    return s;
}

char *fx_printf(fixture *f, const char *fmt, ...)
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

const char *fx_dir(fixture *f)
{
    if (f->dir == NULL)
        f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    return f->dir;
}

/* ---- running the binary ------------------------------------------------- */

void fx_run(fixture *f, const char *stdin_text,
            const char *const *argv)
{
    tu_proc_free(&f->p);
    tu_run(&f->p, stdin_text, argv);
    assert_non_null(f->p.out);
}

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

void spawn_ex(tu_proc *p, const char *const *argv, char *const *envp,
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

void fx_spawn(fixture *f, const char *const *argv, char *const *envp,
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

void fx_spawn_tty(fixture *f, const char *const *argv)
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

/* ---- assertions --------------------------------------------------------- */

void assert_usage_error(const tu_proc *p, const char *err)
{
    assert_int_equal(p->status, 2);
    assert_string_equal(p->out, "");
    assert_string_equal(p->err, err);
}

int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

void assert_main_usage(const char *out, const char *config)
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

json_t *fx_doc(fixture *f)
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

const char *doc_string(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is not a string", key);
    return json_string_value(v);
}

json_int_t doc_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("member '%s' is not an integer", key);
    return json_integer_value(v);
}

void assert_doc(const json_t *doc, const char *job_id,
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

const char *fx_cut_summary(fixture *f, const char *job_id,
                           const char *status)
{
    char *err = f->p.err, *line, head[128];
    size_t len = strlen(err);
    unsigned done, total;
    double seconds;
    int used = 0;

    if (len == 0 || err[len - 1] != '\n')
        fail_msg("stderr does not end with a summary line: '%s'", err);
    err[len - 1] = '\0';
    line = strrchr(err, '\n') != NULL ? strrchr(err, '\n') + 1 : err;
    snprintf(head, sizeof head, "jobexec: job %s %s: ", job_id, status);
    if (!starts_with(line, head) ||
        sscanf(line + strlen(head), "%u/%u steps succeeded in %lf s - %n",
               &done, &total, &seconds, &used) != 3 || used == 0)
        fail_msg("not the summary of job %s %s: '%s'", job_id, status, line);
    *line = '\0';
    return err;
}

json_t *assert_completed(fixture *f, const char *job_id,
                         size_t n_steps)
{
    json_t *doc;

    if (f->p.status != 0)
        fail_msg("exit %d, stderr: %s", f->p.status, f->p.err);
    assert_string_equal(fx_cut_summary(f, job_id, "COMPLETED"), "");
    doc = fx_doc(f);
    assert_doc(doc, job_id, "COMPLETED", TU_ALL_DONE, n_steps, 0);
    return doc;
}

const char *write_log_config(fixture *f, const char **log)
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

void assert_log_records(fixture *f, const char *path,
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
