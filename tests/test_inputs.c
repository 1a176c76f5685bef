/*
 * test_inputs.c - malformed configs and plans given to the real jobexec
 * binary, the way ops would.  Every file in tests/data/bad must be refused
 * with exit status 2, nothing on standard output (nothing ran, no evidence
 * document) and exactly one line on standard error:
 *
 *     jobexec: FILE:LINE:COL: REASON
 *
 * The table below says, per file, where the fault is and why.  Then the
 * hostile inputs: an alias expansion bomb and 100,000-deep nestings, which
 * must be refused quickly and in little memory.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "testutil.h"

#define BAD_DIR TU_DATADIR "/bad"
#define GOOD_DIR TU_DATADIR "/inputs"

/* The sanitizers reserve terabytes of address space: under them the child
 * runs without an address-space limit and only its peak RSS is checked. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define AS_LIMIT (256UL * 1024 * 1024)   /* address space of the child */
#define MAX_RSS_KB (64L * 1024)           /* its peak resident set */
#define MAX_SECONDS 5.0                   /* "quickly", generously */

/* ---- the table ---------------------------------------------------------- */

typedef struct bad_input {
    const char *file; /* in tests/data/bad: config-* or plan-* */
    unsigned line, col;
    const char *reason;
} bad_input;

#define NOT_INCREASING "indexes must strictly increase"
#define NEEDS_CONTRACT                                                       \
    "missing 'contract_id': every job needs the UUID of its approved "       \
    "contract"
#define NO_ALIASES "anchors and aliases are not allowed"
#define NO_TOKEN                                                             \
    "found character that cannot start any token while scanning for the "    \
    "next token"

static const bad_input bad_inputs[] = {
    /* Plans: YAML that does not parse. */
    {"plan-tab-indent.yaml", 3, 1, NO_TOKEN},
    {"plan-unclosed-flow-seq.yaml", 4, 1,
     "did not find expected ',' or ']' while parsing a flow sequence started at 2:8"},
    {"plan-unclosed-flow-map.yaml", 4, 1,
     "did not find expected ',' or '}' while parsing a flow mapping started at 3:5"},
    {"plan-unclosed.json", 3, 1,
     "did not find expected ',' or '}' while parsing a flow mapping started at 1:1"},
    {"plan-unterminated-quote.yaml", 5, 1,
     "found unexpected end of stream while scanning a quoted scalar started at 4:16"},
    {"plan-mapping-in-value.yaml", 5, 16,
     "mapping values are not allowed in this context"},
    {"plan-bad-indent.yaml", 5, 4,
     "did not find expected '-' indicator while parsing a block collection started at 3:3"},
    /* Plans: bytes that are not text.  Each is reported at the byte. */
    {"plan-invalid-utf8.yaml", 5, 17, "invalid leading UTF-8 octet"},
    {"plan-nul-byte.yaml", 4, 26, "control characters are not allowed"},
    {"plan-control-char.yaml", 5, 13, "control characters are not allowed"},
    {"plan-nul-escape.yaml", 4, 16, "a value contains a NUL character"},
    /* Plans: YAML features refused. */
    {"plan-alias.yaml", 5, 17, NO_ALIASES},
    {"plan-alias-only.yaml", 5, 13, NO_ALIASES},
    {"plan-anchor-scalar.yaml", 4, 16, NO_ALIASES},
    {"plan-merge-key.yaml", 3, 5, NO_ALIASES},
    {"plan-complex-key.yaml", 5, 7, "a mapping key must be a plain value"},
    {"plan-multi-doc.yaml", 5, 1, "more than one document"},
    {"plan-duplicate-key.yaml", 5, 1, "duplicate key 'contract_id'"},
    {"plan-duplicate-key.json", 2, 2, "duplicate key 'contract_id'"},
    {"plan-duplicate-step-key.yaml", 5, 5, "duplicate key 'step_index'"},
    {"plan-too-deep.yaml", 5, 81, "nesting deeper than 64 levels"},
    /* Plans: the wrong shape. */
    {"plan-empty.yaml", 1, 1, "the document is empty"},
    {"plan-comments-only.yaml", 1, 1, "the document is empty"},
    {"plan-sequence-root.yaml", 1, 1,
     "a plan must be a mapping, found a sequence"},
    {"plan-scalar-root.yaml", 2, 1, "a plan must be a mapping, found a scalar"},
    {"plan-unknown-key.yaml", 5, 1, "unknown key 'priority' in the plan"},
    {"plan-missing-steps.yaml", 1, 1, "missing 'steps'"},
    {"plan-steps-mapping.yaml", 3, 3,
     "steps must be a sequence, found a mapping"},
    {"plan-step-scalar.yaml", 5, 5,
     "a step must be a mapping, found a scalar"},
    {"plan-unknown-step-key.yaml", 5, 5, "unknown key 'retries' in a step"},
    /* Plans: JOB-001 and the job's own fields. */
    {"plan-missing-contract.yaml", 2, 1, NEEDS_CONTRACT},
    {"plan-missing-contract.json", 1, 1, NEEDS_CONTRACT},
    {"plan-contract-not-uuid.yaml", 1, 14,
     "contract_id must be a UUID, found 'CONTRACT-42'"},
    {"plan-contract-bad-hex.yaml", 1, 14,
     "contract_id must be a UUID, found "
     "'0f8c2a8d-5b7e-4f3a-8c2d-9e1f0a3b4c5z'"},
    {"plan-contract-list.yaml", 2, 3,
     "contract_id must be a UUID, found a sequence"},
    {"plan-job-not-uuid.yaml", 1, 9, "job_id must be a UUID, found 'job-1'"},
    /* Quoted input stays one line that drives no terminal. */
    {"plan-contract-controls.yaml", 1, 14,
     "contract_id must be a UUID, found '\\x1b[2J\\u202eabc\\nx'"},
    {"plan-executed-by-empty.yaml", 1, 14, "executed_by must not be empty"},
    {"plan-tenant-list.yaml", 1, 12, "tenant_id must be a text value"},
    /* Plans: EXEC-001 and the steps' fields. */
    {"plan-index-equal.yaml", 5, 17,
     "step_index 0 does not follow 0: " NOT_INCREASING},
    {"plan-index-decreasing.yaml", 7, 17,
     "step_index 2 does not follow 6: " NOT_INCREASING},
    {"plan-index-decreasing.json", 3, 18,
     "step_index 0 does not follow 1: " NOT_INCREASING},
    {"plan-index-negative.yaml", 3, 17,
     "step_index must not be negative, found -3"},
    {"plan-index-string.yaml", 3, 17, "step_index must be an integer"},
    {"plan-index-float.yaml", 3, 17, "step_index must be an integer"},
    {"plan-missing-index.yaml", 3, 5, "step has no 'step_index'"},
    {"plan-missing-type.yaml", 3, 5, "step has no 'step_type'"},
    {"plan-empty-type.yaml", 4, 15, "step_type must not be empty"},
    {"plan-target-mapping.yaml", 5, 13, "target must be a text value"},
    {"plan-timeout-zero.yaml", 5, 22,
     "timeout_seconds must be between 1 and 604800, found 0"},
    {"plan-timeout-too-large.yaml", 5, 22,
     "timeout_seconds must be between 1 and 604800, found 604801"},
    {"plan-timeout-text.yaml", 5, 22, "timeout_seconds must be an integer"},
    {"plan-parameters-list.yaml", 5, 17, "parameters must be a mapping"},
    {"plan-parameter-overflow.yaml", 6, 14,
     "integer out of range: 123456789012345678901234567890"},

    /* Configs: YAML faults. */
    {"config-tab.yaml", 2, 1, NO_TOKEN},
    {"config-unclosed-flow.yaml", 2, 1,
     "did not find expected ',' or ']' while parsing a flow sequence started at 1:10"},
    {"config-invalid-utf8.yaml", 3, 21, "invalid leading UTF-8 octet"},
    {"config-duplicate-key.yaml", 3, 5, "duplicate key 'path'"},
    {"config-alias.yaml", 3, 17, NO_ALIASES},
    {"config-multi-doc.yaml", 3, 1, "more than one document"},
    {"config-empty.yaml", 1, 1, "the document is empty"},
    {"config-too-deep.yaml", 3, 42, "nesting deeper than 32 levels"},
    /* Configs: the schema. */
    {"config-sequence-root.yaml", 1, 1,
     "the config must be a mapping, found a sequence"},
    {"config-unknown-key.yaml", 3, 1,
     "unknown key 'plugin_path' in the config"},
    {"config-plugin-dir-relative.yaml", 1, 13,
     "plugin_dir 'lib/jobexec/plugins' must be an absolute path"},
    {"config-plugins-scalar.yaml", 1, 10,
     "plugins must be a sequence, found a scalar"},
    {"config-entry-scalar.yaml", 2, 5,
     "a plugin entry must be a mapping, found a scalar"},
    {"config-unknown-plugin-key.yaml", 3, 5,
     "unknown key 'types' in a plugin entry"},
    {"config-missing-path.yaml", 2, 5, "plugin entry has no 'path'"},
    {"config-empty-path.yaml", 2, 11, "path must not be empty"},
    {"config-dotdot.yaml", 2, 11,
     "plugin path '../../tmp/evil' may not leave plugin_dir with '..'"},
    {"config-folder-path.yaml", 2, 11, "plugin path 'noop/' names a folder"},
    {"config-step-types-scalar.yaml", 3, 17,
     "step_types must be a sequence, found a scalar"},
    {"config-step-type-space.yaml", 3, 18,
     "step type 'capability_enable capability_disable' contains white "
     "space (a missing comma?)"},
    {"config-config-list.yaml", 4, 7,
     "config must be a mapping, found a sequence"},
    {"config-health-scalar.yaml", 1, 9,
     "health must be a mapping, found a scalar"},
    {"config-unknown-health-key.yaml", 4, 3, "unknown key 'plugin' in health"},
    {"config-unknown-evidence-key.yaml", 2, 3,
     "unknown key 'path' in evidence"},
};

enum { N_BAD = sizeof bad_inputs / sizeof bad_inputs[0] };

/* ---- shared state: a valid config --------------------------------------- */

static char *g_dir;    /* the suite's temp folder */
static char *g_config; /* a valid config in it */

/* noop, from the build tree, bound to the step types the plans use. */
static int group_setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp();
    if (g_dir == NULL)
        return -1;
    g_config = tu_write(g_dir, "config.yaml",
                        "plugin_dir: " TU_PLUGINS "\n"
                        "plugins:\n"
                        "  - path: noop\n"
                        "    step_types: [capability_enable, "
                        "capability_disable]\n");
    return g_config == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_temp_free(g_dir);
    free(g_config);
    return 0;
}

/* ---- per-test state ----------------------------------------------------- */

typedef struct fixture {
    const bad_input *in; /* for the table's tests */
    tu_proc p;
    char *path; /* the input given to jobexec */
    char *tmp;  /* a file of the test's own, removed afterwards */
    char *want;
    char *text;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    f->in = *state; /* the table entry, or NULL */
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;

    tu_proc_free(&f->p);
    if (f->tmp != NULL)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    free(f->want);
    free(f->text);
    free(f);
    return 0;
}

static int is_config(const char *file)
{
    return strncmp(file, "config-", 7) == 0;
}

/* Bad configs are checked; bad plans are run against the valid config. */
static void run_jobexec(tu_proc *p, const char *file, const char *path)
{
    if (is_config(file))
        tu_run(p, NULL,
               (const char *const[]){TU_JOBEXEC, "check", "--config", path,
                                     NULL});
    else
        tu_run(p, NULL,
               (const char *const[]){TU_JOBEXEC, "run", "--config", g_config,
                                     path, NULL});
    assert_non_null(p->out);
    assert_non_null(p->err);
}

/* Exit 2, nothing on stdout, and stderr exactly the one expected line. */
static void assert_refused(const tu_proc *p, const char *want)
{
    if (p->status != 2)
        fail_msg("exit status %d, stderr: %s", p->status, p->err);
    assert_string_equal(p->out, "");
    assert_string_equal(p->err, want);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    const bad_input *in = f->in;

    assert_true(asprintf(&f->path, BAD_DIR "/%s", in->file) > 0);
    assert_true(asprintf(&f->want, "jobexec: %s:%u:%u: %s\n", f->path,
                         in->line, in->col, in->reason) > 0);
    run_jobexec(&f->p, in->file, f->path);
    assert_refused(&f->p, f->want);
}

/* ---- the table is complete ---------------------------------------------- */

static const bad_input *find_bad(const char *file)
{
    for (size_t i = 0; i < N_BAD; i++)
        if (strcmp(bad_inputs[i].file, file) == 0)
            return &bad_inputs[i];
    return NULL;
}

/* Every file in tests/data/bad has its expectation here, once. */
static void test_table_lists_every_file(void **state)
{
    DIR *d = opendir(BAD_DIR);
    struct dirent *e;
    size_t n = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (find_bad(e->d_name) == NULL) {
            closedir(d);
            fail_msg("%s/%s is not in the table", BAD_DIR, e->d_name);
        }
        n++;
    }
    closedir(d);
    assert_int_equal(n, N_BAD);
    for (size_t i = 0; i < N_BAD; i++) {
        assert_true(find_bad(bad_inputs[i].file) == &bad_inputs[i]);
        assert_true(is_config(bad_inputs[i].file) ||
                    strncmp(bad_inputs[i].file, "plan-", 5) == 0);
    }
    assert_true(N_BAD >= 30);
}

/* The valid config and plans go through, so that each refusal above is the
 * bad file's doing. */
static void test_good_inputs_accepted(void **state)
{
    fixture *f = *state;

    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "check", "--config", g_config,
                                 NULL});
    assert_int_equal(f->p.status, 0);
    assert_string_equal(f->p.out, "config OK: 1 plugin loaded\n");
    assert_string_equal(f->p.err, "");
    tu_proc_free(&f->p);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "run", "--config", g_config,
                                 GOOD_DIR "/plan-good.yaml", NULL});
    if (f->p.status != 0)
        fail_msg("exit status %d, stderr: %s", f->p.status, f->p.err);
    assert_non_null(strstr(f->p.out, "\"status\""));
    tu_proc_free(&f->p);
    tu_run(&f->p, NULL,
           (const char *const[]){TU_JOBEXEC, "check", "--config", g_config,
                                 GOOD_DIR "/plan-good.json", NULL});
    assert_int_equal(f->p.status, 0);
    assert_true(strncmp(f->p.out, "plan OK: 2 steps, job ", 22) == 0);
}

/* ---- hostile inputs, under limits --------------------------------------- */

typedef struct limited_run {
    int status;     /* exit status, or 128 + signal */
    char *out, *err;
    long maxrss_kb; /* the child's peak resident set */
    double seconds; /* wall time */
} limited_run;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends what fd has to *buf; returns 0 at its end. */
static int read_some(int fd, char **buf, size_t *len)
{
    char chunk[8192];
    ssize_t n = read(fd, chunk, sizeof chunk);
    char *grown;

    if (n < 0 && errno == EINTR)
        return 1;
    if (n <= 0)
        return 0;
    grown = realloc(*buf, *len + (size_t)n + 1);
    assert_non_null(grown);
    *buf = grown;
    memcpy(*buf + *len, chunk, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return 1;
}

static void child_exec(const char *const *argv, int out_fd, int err_fd)
{
    int null_fd = open("/dev/null", O_RDONLY);

    if (!UNDER_ASAN) {
        struct rlimit rl = {AS_LIMIT, AS_LIMIT};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(126);
    }
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
        dup2(err_fd, 2) < 0)
        _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

/* Runs argv with an address-space limit, measuring wall time and peak RSS
 * (wait4 reports the child's usage). */
static void run_limited(limited_run *r, const char *const *argv)
{
    int out[2], err[2], status = 0, open_fds = 2;
    size_t len[2] = {0, 0};
    char *bufs[2] = {NULL, NULL};
    struct rusage ru;
    struct pollfd fds[2];
    double start;
    pid_t pid;

    memset(r, 0, sizeof *r);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    start = now_seconds();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        close(err[0]);
        child_exec(argv, out[1], err[1]);
    }
    close(out[1]);
    close(err[1]);
    fds[0] = (struct pollfd){out[0], POLLIN, 0};
    fds[1] = (struct pollfd){err[0], POLLIN, 0};
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            if (!read_some(fds[i].fd, &bufs[i], &len[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    r->seconds = now_seconds() - start;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
    r->maxrss_kb = ru.ru_maxrss;
    r->out = bufs[0] != NULL ? bufs[0] : calloc(1, 1);
    r->err = bufs[1] != NULL ? bufs[1] : calloc(1, 1);
}

/* Writes text as a plan in the suite's folder and runs it under limits;
 * asserts the refusal, the time and the memory. */
static void assert_hostile_refused(fixture *f, const char *name,
                                   const char *text, unsigned line,
                                   unsigned col, const char *reason)
{
    limited_run r;

    f->tmp = tu_write(g_dir, name, text);
    assert_non_null(f->tmp);
    assert_true(asprintf(&f->want, "jobexec: %s:%u:%u: %s\n", f->tmp, line,
                         col, reason) > 0);
    run_limited(&r, (const char *const[]){TU_JOBEXEC, "run", "--config",
                                          g_config, f->tmp, NULL});
    f->p.out = r.out; /* freed by the teardown */
    f->p.err = r.err;
    f->p.status = r.status;
    assert_refused(&f->p, f->want);
    if (r.seconds >= MAX_SECONDS)
        fail_msg("took %.1f s", r.seconds);
    if (r.maxrss_kb >= MAX_RSS_KB)
        fail_msg("peak RSS %ld KiB", r.maxrss_kb);
}

/* Ten levels of nine aliases each: 9^10 strings if expanded.  The first
 * anchor is refused where it stands, before any alias can be followed. */
static void test_billion_laughs(void **state)
{
    fixture *f = *state;
    size_t cap = 4096, len = 0;
    char prev = 0;

    f->text = malloc(cap);
    assert_non_null(f->text);
    for (char c = 'a'; c <= 'j'; c++) {
        len += (size_t)snprintf(f->text + len, cap - len, "%c: &%c [", c, c);
        for (int i = 0; i < 9; i++) {
            if (prev == 0)
                len += (size_t)snprintf(f->text + len, cap - len, "%s\"lol\"",
                                        i ? ", " : "");
            else
                len += (size_t)snprintf(f->text + len, cap - len, "%s*%c",
                                        i ? ", " : "", prev);
        }
        len += (size_t)snprintf(f->text + len, cap - len, "]\n");
        prev = c;
    }
    assert_true(len < cap);
    assert_hostile_refused(f, "laughs.yaml", f->text, 1, 4,
                           "anchors and aliases are not allowed");
}

/* The same bomb built from aliases alone: refused at the first alias. */
static void test_alias_bomb_without_anchor(void **state)
{
    fixture *f = *state;
    assert_hostile_refused(
        f, "aliases.yaml",
        "contract_id: " TU_CONTRACT "\n"
        "steps:\n"
        "  - step_index: 0\n"
        "    step_type: capability_enable\n"
        "    parameters: {a: [*l, *l, *l, *l, *l, *l, *l, *l, *l]}\n",
        5, 22, "anchors and aliases are not allowed");
}

static char *repeat(const char *open, size_t n, const char *middle,
                    const char *close)
{
    size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 2);
    char *p = s;

    assert_non_null(s);
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, middle, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    strcpy(p, "\n");
    return s;
}

/* "[[[[...]]]]" 100,000 deep: refused at the 65th bracket, column 65. */
static void test_deep_flow_sequences(void **state)
{
    fixture *f = *state;

    f->text = repeat("[", 100000, "", "]");
    assert_hostile_refused(f, "deep-seq.yaml", f->text, 1, 65,
                           "nesting deeper than 64 levels");
}

/* "{a: {a: ...}}" 100,000 deep: each level is 4 columns wide, so the 65th
 * brace stands at column 4 * 64 + 1. */
static void test_deep_flow_mappings(void **state)
{
    fixture *f = *state;

    f->text = repeat("{a: ", 100000, "1", "}");
    assert_hostile_refused(f, "deep-map.yaml", f->text, 1, 257,
                           "nesting deeper than 64 levels");
}

/* The block form: level k is "a:" on line k, indented by k - 1, so level 65
 * opens at line 65, column 65.  Depth 2,000 keeps the file at 2 MB. */
static void test_deep_block_mappings(void **state)
{
    fixture *f = *state;
    size_t depth = 2000, cap = depth * (depth + 4), len = 0;

    f->text = malloc(cap);
    assert_non_null(f->text);
    for (size_t i = 0; i < depth; i++) {
        memset(f->text + len, ' ', i);
        len += i;
        memcpy(f->text + len, "a:\n", 3);
        len += 3;
    }
    f->text[len] = '\0';
    assert_hostile_refused(f, "deep-block.yaml", f->text, 65, 65,
                           "nesting deeper than 64 levels");
}

/* JSON has no aliases, but nesting it deep is the same attack. */
static void test_deep_json(void **state)
{
    fixture *f = *state;

    f->text = repeat("{\"k\":", 100000, "0", "}");
    assert_hostile_refused(f, "deep.json", f->text, 1, 321,
                           "nesting deeper than 64 levels");
}

/* ---- files that are not regular ----------------------------------------- */

/* Runs jobexec under timeout(1): before a FIFO was refused, opening one
 * blocked for ever, and the test would have hung with it. */
static void run_timed(fixture *f, const char *const *args)
{
    const char *argv[12] = {"/usr/bin/timeout", "10", TU_JOBEXEC};
    size_t n = 3;

    for (size_t i = 0; args[i] != NULL && n + 1 < 12; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    tu_run(&f->p, NULL, argv);
    assert_non_null(f->p.out);
    assert_non_null(f->p.err);
}

/* A plan or config that is a FIFO, named where a file is expected, is
 * refused at once: opening it would wait for a writer.  ("-" reads
 * standard input.) */
static void test_fifo_plan_and_config_refused(void **state)
{
    fixture *f = *state;

    assert_true(asprintf(&f->tmp, "%s/fifo.yaml", g_dir) > 0);
    assert_int_equal(mkfifo(f->tmp, 0600), 0);
    run_timed(f, (const char *const[]){"run", "--config", g_config, f->tmp,
                                       NULL});
    assert_true(asprintf(&f->want, "jobexec: %s: a FIFO, expected a regular "
                                   "file\n", f->tmp) > 0);
    assert_refused(&f->p, f->want);
    tu_proc_free(&f->p);
    run_timed(f, (const char *const[]){"check", "--config", f->tmp, NULL});
    assert_refused(&f->p, f->want);
    tu_proc_free(&f->p);
    run_timed(f, (const char *const[]){"check", "--config", "/dev/null",
                                       NULL});
    assert_refused(&f->p, "jobexec: /dev/null: a device, expected a regular "
                          "file\n");
}

/* evidence.log must name a regular file by an absolute path: a FIFO
 * would block or swallow the evidence, /dev/null would swallow it, and a
 * relative path would depend on where jobexec was started.  The check
 * refuses what the run would, at the key's position. */
static void assert_log_refused(fixture *f, const char *log, const char *why)
{
    char *cfg, *text, *want;
    const char *cmds[][6] = {
        {"check", "--config", NULL, NULL},
        {"run", "--config", NULL, GOOD_DIR "/plan-good.yaml", NULL},
    };

    assert_true(asprintf(&text, "evidence:\n  log: %s\n", log) > 0);
    cfg = tu_write(g_dir, "log.yaml", text);
    free(text);
    assert_non_null(cfg);
    assert_true(asprintf(&want, "jobexec: %s:2:8: %s\n", cfg, why) > 0);
    for (size_t i = 0; i < 2; i++) {
        cmds[i][2] = cfg;
        run_timed(f, cmds[i]);
        if (f->p.status != 2 || strcmp(f->p.err, want) != 0)
            fail_msg("%s: exit %d, stderr: %s", cmds[i][0], f->p.status,
                     f->p.err);
        assert_string_equal(f->p.out, "");
        tu_proc_free(&f->p);
    }
    unlink(cfg);
    free(cfg);
    free(want);
}

static void test_evidence_log_not_regular(void **state)
{
    fixture *f = *state;
    char *why;

    assert_true(asprintf(&f->tmp, "%s/fifo.jsonl", g_dir) > 0);
    assert_int_equal(mkfifo(f->tmp, 0600), 0);
    assert_true(asprintf(&why, "evidence log '%s': a FIFO, expected a "
                               "regular file", f->tmp) > 0);
    assert_log_refused(f, f->tmp, why);
    free(why);
    assert_log_refused(f, "/dev/null", "evidence log '/dev/null': a device, "
                                       "expected a regular file");
    assert_log_refused(f, "evidence.jsonl", "evidence.log 'evidence.jsonl' "
                                            "must be an absolute path");
}

int main(void)
{
    struct CMUnitTest tests[N_BAD + 10];
    size_t n = 0;

    for (size_t i = 0; i < N_BAD; i++)
        tests[n++] = (struct CMUnitTest){
            .name = bad_inputs[i].file,
            .test_func = test_bad_input,
            .setup_func = fx_setup,
            .teardown_func = fx_teardown,
            .initial_state = (void *)&bad_inputs[i],
        };
#define T(name)                                                              \
    tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(         \
        name, fx_setup, fx_teardown)
    T(test_table_lists_every_file);
    T(test_good_inputs_accepted);
    T(test_billion_laughs);
    T(test_alias_bomb_without_anchor);
    T(test_deep_flow_sequences);
    T(test_deep_flow_mappings);
    T(test_deep_block_mappings);
    T(test_deep_json);
    T(test_fifo_plan_and_config_refused);
    T(test_evidence_log_not_regular);
#undef T
    if (n != sizeof tests / sizeof tests[0])
        return 1; /* a test left out of the count above */
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
