/*
 * exec.h - what the files of the exec plugin share: a command as a step
 * describes it (request.c) and running it (run.c).
 */
#ifndef EXEC_H
#define EXEC_H

#include <stddef.h>
#include <sys/types.h>

#include <jobexec/step_handler_v1.h>

#define EXEC_DEFAULT_MAX_OUTPUT 65536
#define EXEC_DEFAULT_GRACE_MS 300
#define EXEC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define EXEC_DEFAULT_LANG "C.UTF-8"

typedef struct exec_config {
    size_t max_output_bytes; /* per stream */
    long kill_grace_ms;
    char *path;              /* PATH given to commands */
    char *lang;              /* LANG given to commands */
} exec_config;

/* A command, ready to spawn: every string malloc'd, freed with
 * exec_request_free(). */
typedef struct exec_request {
    char **argv;   /* NULL-terminated; argv[0] resolved to a path */
    char **envp;   /* NULL-terminated NAME=VALUE */
    char *cwd;     /* NULL: the executor's */
    char *input;   /* stdin text; NULL: /dev/null */
    size_t input_len;
} exec_request;

/* Checks the step's parameters (argv, env, cwd, stdin) without touching
 * anything; with req, also builds the command.  0, or -1 with why. */
int exec_request_read(const exec_config *cfg, const jx_host_v1 *host,
                      const jx_step *step, exec_request *req, char *why,
                      size_t why_len);
void exec_request_free(exec_request *req);

/* What running it gave. */
typedef struct exec_result {
    int exited;        /* exit_status is valid */
    int exit_status;
    int signal;        /* killed by this signal (0: not) */
    int timed_out, cancelled;
    char *out, *err;   /* what it wrote, up to max_output_bytes each */
    size_t out_len, err_len;
    int out_truncated, err_truncated;
    double seconds;
} exec_result;

/* Runs req in its own process group until it exits, the step's time runs
 * out or the job is cancelled (then TERM, the grace, KILL to the group).
 * 0, or -1 with why when it could not be started. */
int exec_run(const exec_config *cfg, const jx_host_v1 *host,
             const jx_context *ctx, const exec_request *req,
             exec_result *res, char *why, size_t why_len);
void exec_result_free(exec_result *res);

void exec_why(char *why, size_t why_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
