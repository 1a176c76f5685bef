/*
 * misbehave - a plugin that does, on request, each thing an isolated
 * plugin must not be able to do to the executor.  The step type says what:
 *
 *   segfault     dereferences NULL
 *   abort        calls abort()
 *   exit0        calls exit(0) in the middle of the step
 *   loop         spins forever without checking anything
 *   ignore_term  ignores SIGTERM, then sleeps forever
 *   setsid_child forks a child that calls setsid() and sleeps; writes the
 *                child's pid to the parameter "pid_file"; then sleeps
 *   alloc_10g    allocates 10 GiB and touches it
 *   open_files   opens /dev/null 10,000 times
 *   stdout_1g    writes 1 GiB to stdout, then succeeds
 *   big_output   returns 1 MiB of output
 *   garbage      writes garbage to the protocol channel (fd 3)
 *   sleep        sleeps "ms" milliseconds (default forever), checking
 *                ctx_cancelled and stopping with "stopped: cancelled"
 *   well         succeeds with {"pid": <its process id>}
 *   bad_utf8     succeeds with an output string that is not UTF-8
 *   meet         creates the file "mine", then waits up to "ms" for the file
 *                "other" (checking ctx_cancelled): succeeds with its pid
 *                when it appears, fails with "alone" when it does not; two
 *                such steps only meet when they run at the same time
 *   no_stderr    closes its stderr, sleeps "ms" milliseconds, succeeds
 *   late_stderr  succeeds at once, leaving a thread that writes "said"
 *                to stderr "ms" milliseconds later (a child would be
 *                killed with the step)
 *   chatter      validate writes "said" to stderr and accepts; execute
 *                succeeds
 *   big_log      logs a warning of "bytes" bytes of \x01, then succeeds
 *   big_progress reports progress with a message of "bytes" bytes of 'p'
 *   close_chan   closes the protocol channel (fd 3), then sleeps forever
 *   close_chan_child  starts /bin/sleep 60 without closing anything in it
 *                (as a plugin that trusts close-on-exec), then does as
 *                close_chan
 *   double_fork  leaves a grandchild sleeping, its parent gone (a daemon's
 *                double fork); writes its pid to "pid_file"; succeeds
 *   escape_fork  gives up the runner's role of child subreaper, then does
 *                as double_fork: the grandchild is init's, not the runner's
 *   setpgid_child  leaves a child sleeping in a process group of its own;
 *                writes its pid to "pid_file"; succeeds
 *   nap          one nanosleep of "ms" milliseconds, its result and
 *                ctx_cancelled ignored; succeeds with {"slept_ms": the
 *                milliseconds that passed}
 *
 * With "init_log" in its config, init logs that text as a warning; with
 * "fini_log", fini does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jobexec/step_handler_v1.h>

static const char *const types[] = {
    "segfault", "abort", "exit0", "loop", "ignore_term", "setsid_child",
    "alloc_10g", "open_files", "stdout_1g", "big_output", "garbage", "sleep",
    "well", "meet", "bad_utf8", "no_stderr", "late_stderr", "chatter",
    "big_log", "big_progress", "close_chan", "close_chan_child",
    "double_fork", "escape_fork", "setpgid_child", "nap", NULL};

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fail_with(const jx_host_v1 *host, jx_output *out, const char *what)
{
    char message[256];

    snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
    host->out_error(out, message);
    return JX_STEP_FAILED;
}

static int setsid_child(const jx_host_v1 *host, const jx_step *step,
                        jx_output *out)
{
    const char *pid_file = host->param_string(step, "pid_file");
    pid_t pid = fork();
    FILE *fp;

    if (pid < 0)
        return fail_with(host, out, "fork");
    if (pid == 0) {
        setsid();
        for (;;)
            pause();
    }
    if (pid_file != NULL && (fp = fopen(pid_file, "w")) != NULL) {
        fprintf(fp, "%ld\n", (long)pid);
        fclose(fp);
    }
    for (;;)
        pause();
}

static int64_t param_ms(const jx_host_v1 *host, const jx_step *step);

static void write_pid(const jx_host_v1 *host, const jx_step *step,
                      pid_t pid)
{
    const char *pid_file = host->param_string(step, "pid_file");
    FILE *fp;

    if (pid_file != NULL && (fp = fopen(pid_file, "w")) != NULL) {
        fprintf(fp, "%ld\n", (long)pid);
        fclose(fp);
    }
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

/* The grandchild's pid is written by its parent, which then exits: once
 * the step has reaped that parent, the file is complete. */
static int double_fork(const jx_host_v1 *host, const jx_step *step,
                       jx_output *out)
{
    pid_t pid = fork();

    if (pid < 0)
        return fail_with(host, out, "fork");
    if (pid == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0)
            sleep_forever();
        if (grandchild > 0)
            write_pid(host, step, grandchild);
        _exit(grandchild > 0 ? 0 : 1);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    host->out_string(out, "left", "grandchild");
    return JX_STEP_OK;
}

static int setpgid_child(const jx_host_v1 *host, const jx_step *step,
                         jx_output *out)
{
    pid_t pid = fork();

    if (pid < 0)
        return fail_with(host, out, "fork");
    if (pid == 0) {
        setpgid(0, 0);
        sleep_forever();
    }
    setpgid(pid, pid); /* either side may run first */
    write_pid(host, step, pid);
    host->out_string(out, "left", "child");
    return JX_STEP_OK;
}

/* Sleeps once, as a plugin that trusts its sleep to have slept. */
static int nap(const jx_host_v1 *host, const jx_step *step, jx_output *out)
{
    int64_t ms = param_ms(host, step);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&ts, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    host->out_int(out, "slept_ms",
                  (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
                      (t1.tv_nsec - t0.tv_nsec) / 1000000);
    return JX_STEP_OK;
}

static int alloc_10g(const jx_host_v1 *host, jx_output *out)
{
    size_t size = (size_t)10 << 30;
    /* volatile: a compiler may drop an allocation nobody reads back. */
    volatile char *p = malloc(size);

    if (p == NULL)
        return fail_with(host, out, "cannot allocate 10 GiB");
    for (size_t i = 0; i < size; i += 4096)
        p[i] = 1;
    free((void *)p);
    host->out_string(out, "allocated", "10 GiB");
    return JX_STEP_OK;
}

static int open_files(const jx_host_v1 *host, jx_output *out)
{
    for (int i = 0; i < 10000; i++)
        if (open("/dev/null", O_RDONLY) < 0) {
            char what[64];
            snprintf(what, sizeof what, "open #%d failed", i + 1);
            return fail_with(host, out, what);
        }
    host->out_int(out, "opened", 10000);
    return JX_STEP_OK;
}

static int stdout_1g(const jx_host_v1 *host, jx_output *out)
{
    static char block[1 << 16];

    memset(block, 'x', sizeof block);
    for (size_t done = 0; done < ((size_t)1 << 30); done += sizeof block)
        if (write(1, block, sizeof block) < 0)
            return fail_with(host, out, "write to stdout");
    host->out_string(out, "wrote", "1 GiB to stdout");
    return JX_STEP_OK;
}

static int big_output(const jx_host_v1 *host, jx_output *out)
{
    char *text = malloc((1 << 20) + 1);

    if (text == NULL)
        return fail_with(host, out, "malloc");
    memset(text, 'y', 1 << 20);
    text[1 << 20] = '\0';
    host->out_string(out, "blob", text);
    free(text);
    return JX_STEP_OK;
}

static int sleep_step(const jx_host_v1 *host, const jx_context *ctx,
                      const jx_step *step, jx_output *out)
{
    int64_t ms = -1;

    host->param_int(step, "ms", &ms);
    for (int64_t slept = 0; ms < 0 || slept < ms; slept += 5) {
        if (host->ctx_cancelled(ctx)) {
            host->out_error(out, "stopped: cancelled");
            return JX_STEP_FAILED;
        }
        nap_ms(5);
    }
    host->out_int(out, "slept_ms", ms);
    return JX_STEP_OK;
}

static int meet(const jx_host_v1 *host, const jx_context *ctx,
                const jx_step *step, jx_output *out)
{
    const char *mine = host->param_string(step, "mine");
    const char *other = host->param_string(step, "other");
    int64_t ms = 5000;
    int fd;

    host->param_int(step, "ms", &ms);
    if (mine == NULL || other == NULL) {
        host->out_error(out, "meet needs 'mine' and 'other'");
        return JX_STEP_FAILED;
    }
    if ((fd = open(mine, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return fail_with(host, out, mine);
    close(fd);
    for (int64_t waited = 0; access(other, F_OK) != 0; waited += 2) {
        if (waited >= ms || host->ctx_cancelled(ctx)) {
            host->out_error(out, "alone");
            return JX_STEP_FAILED;
        }
        nap_ms(2);
    }
    host->out_int(out, "pid", (int64_t)getpid());
    return JX_STEP_OK;
}

static int64_t param_ms(const jx_host_v1 *host, const jx_step *step)
{
    int64_t ms = 0;

    host->param_int(step, "ms", &ms);
    return ms;
}

static void say_to_stderr(const jx_host_v1 *host, const jx_step *step)
{
    const char *said = host->param_string(step, "said");

    if (said != NULL && write(2, said, strlen(said)) < 0)
        return;
}

/* What late_stderr's thread says, and when: copied, as the step's
 * parameters are gone once execute returns. */
typedef struct late_words {
    long ms;
    char *said;
} late_words;

static void *say_later(void *arg)
{
    late_words *w = arg;

    nap_ms(w->ms);
    if (w->said != NULL && write(2, w->said, strlen(w->said)) < 0)
        w->ms = 0;
    free(w->said);
    free(w);
    return NULL;
}

static int late_stderr(const jx_host_v1 *host, const jx_step *step,
                       jx_output *out)
{
    const char *said = host->param_string(step, "said");
    late_words *w = calloc(1, sizeof *w);
    pthread_t t;

    if (w == NULL || (said != NULL && (w->said = strdup(said)) == NULL)) {
        free(w);
        return fail_with(host, out, "malloc");
    }
    w->ms = (long)param_ms(host, step);
    if (pthread_create(&t, NULL, say_later, w) != 0) {
        free(w->said);
        free(w);
        return fail_with(host, out, "pthread_create");
    }
    pthread_detach(t);
    host->out_int(out, "pid", (int64_t)getpid());
    return JX_STEP_OK;
}

/* A message of "bytes" copies of c, sent as a log or as progress. */
static int big_message(const jx_host_v1 *host, const jx_context *ctx,
                       const jx_step *step, jx_output *out, char c)
{
    int64_t bytes = 0;
    char *text;

    host->param_int(step, "bytes", &bytes);
    if (bytes < 0 || (text = malloc((size_t)bytes + 1)) == NULL)
        return fail_with(host, out, "malloc");
    memset(text, c, (size_t)bytes);
    text[bytes] = '\0';
    if (c == 'p')
        host->ctx_progress(ctx, 0.5, text);
    else
        host->log(ctx, JX_LOG_WARNING, "%s", text);
    free(text);
    host->out_int(out, "bytes", bytes);
    return JX_STEP_OK;
}

/* What fini needs: the host table lives until fini returns. */
typedef struct fini_words {
    const jx_host_v1 *host;
    char *say;
} fini_words;

static int misbehave_init(const jx_host_v1 *host,
                          const jx_plugin_config *config, void **state,
                          char *errbuf, size_t errbuf_len)
{
    const char *say = host->config_string(config, "init_log");
    const char *at_fini = host->config_string(config, "fini_log");
    fini_words *words = NULL;

    if (say != NULL)
        host->log(NULL, JX_LOG_WARNING, "%s", say);
    if (at_fini != NULL) {
        if ((words = calloc(1, sizeof *words)) == NULL ||
            (words->say = strdup(at_fini)) == NULL) {
            free(words);
            snprintf(errbuf, errbuf_len, "out of memory");
            return -1;
        }
        words->host = host;
    }
    *state = words;
    return 0;
}

static void misbehave_fini(void *state)
{
    fini_words *words = state;

    if (words == NULL)
        return;
    words->host->log(NULL, JX_LOG_WARNING, "%s", words->say);
    free(words->say);
    free(words);
}

static int misbehave_validate(void *state, const jx_host_v1 *host,
                              const jx_step *step, char *why, size_t why_len)
{
    (void)state;
    (void)why;
    (void)why_len;
    if (strcmp(host->step_type(step), "chatter") == 0)
        say_to_stderr(host, step);
    return 0;
}

static int misbehave_execute(void *state, const jx_host_v1 *host,
                             const jx_context *ctx, const jx_step *step,
                             jx_output *out)
{
    const char *type = host->step_type(step);
    volatile int *nowhere = NULL;

    (void)state;
    if (strcmp(type, "segfault") == 0)
        return *nowhere;
    if (strcmp(type, "abort") == 0)
        abort();
    if (strcmp(type, "exit0") == 0)
        exit(0);
    if (strcmp(type, "loop") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp(type, "ignore_term") == 0) {
        signal(SIGTERM, SIG_IGN);
        for (;;)
            pause();
    }
    if (strcmp(type, "setsid_child") == 0)
        return setsid_child(host, step, out);
    if (strcmp(type, "alloc_10g") == 0)
        return alloc_10g(host, out);
    if (strcmp(type, "double_fork") == 0)
        return double_fork(host, step, out);
    if (strcmp(type, "escape_fork") == 0) {
        if (prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) != 0)
            return fail_with(host, out, "prctl");
        return double_fork(host, step, out);
    }
    if (strcmp(type, "setpgid_child") == 0)
        return setpgid_child(host, step, out);
    if (strcmp(type, "nap") == 0)
        return nap(host, step, out);
    if (strcmp(type, "open_files") == 0)
        return open_files(host, out);
    if (strcmp(type, "stdout_1g") == 0)
        return stdout_1g(host, out);
    if (strcmp(type, "big_output") == 0)
        return big_output(host, out);
    if (strcmp(type, "close_chan_child") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/sleep", "sleep", "60", (char *)NULL);
            _exit(127);
        }
        if (pid < 0)
            return fail_with(host, out, "fork");
    }
    if (strncmp(type, "close_chan", 10) == 0) {
        close(3);
        for (;;)
            pause();
    }
    if (strcmp(type, "garbage") == 0) {
        static const char junk[] = "\xde\xad\xbe\xef garbage on the channel";
        if (write(3, junk, sizeof junk) < 0)
            return fail_with(host, out, "write to fd 3");
        nap_ms(100);
        host->out_string(out, "wrote", "garbage");
        return JX_STEP_OK;
    }
    if (strcmp(type, "sleep") == 0)
        return sleep_step(host, ctx, step, out);
    if (strcmp(type, "meet") == 0)
        return meet(host, ctx, step, out);
    if (strcmp(type, "no_stderr") == 0) {
        close(2);
        nap_ms((long)param_ms(host, step));
        host->out_string(out, "stderr", "closed");
        return JX_STEP_OK;
    }
    if (strcmp(type, "late_stderr") == 0)
        return late_stderr(host, step, out);
    if (strcmp(type, "big_log") == 0)
        return big_message(host, ctx, step, out, '\x01');
    if (strcmp(type, "big_progress") == 0)
        return big_message(host, ctx, step, out, 'p');
    if (strcmp(type, "bad_utf8") == 0) {
        host->out_string(out, "v", "\xc3\x28");
        return JX_STEP_OK;
    }
    host->out_int(out, "pid", (int64_t)getpid());
    return JX_STEP_OK;
}

JX_STEP_HANDLER(misbehave) = {
    JX_STEP_HANDLER_HEADER,
    .name = "misbehave",
    .version = "1.0.0",
    .step_types = types,
    .flags = JX_HANDLER_THREAD_SAFE,
    .init = misbehave_init,
    .execute = misbehave_execute,
    .validate = misbehave_validate,
    .fini = misbehave_fini,
};
