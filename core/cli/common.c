/*
 * common.c - what every command of the jobexec CLI uses: escaped output,
 * the config in effect (the build tree's, for the binary run from it),
 * loading the executor, reporting errors, and the log handler.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const char *const jx__cli_prog = "jobexec";
#define prog jx__cli_prog

/* Whether p starts a Unicode bidirectional control in UTF-8: the
 * embeddings and overrides U+202A..U+202E (E2 80 AA..AE) and the isolates
 * U+2066..U+2069 (E2 81 A6..A9).  They reorder what a terminal shows
 * ("Trojan Source"): a reason could read as another. */
static int is_bidi_control(const unsigned char *p)
{
    return p[0] == 0xe2 &&
           ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
            (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

/* Writes s with what a terminal would act on spelled out: C0 controls, DEL,
 * C1 controls (U+0080..U+009F) and bidirectional controls.  Plugin and log
 * text is not ours: a newline in it would forge a line, an escape sequence
 * could hide text, a bidirectional override reorder it. */
static void put_escaped(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", fp);
        else if (*p == '\r')
            fputs("\\r", fp);
        else if (*p == '\t')
            fputs("\\t", fp);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\u%04x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            fprintf(fp, "\\u%04x", *++p);
        else if (is_bidi_control(p)) {
            /* p[1] and p[2] are continuation bytes: never the NUL. */
            fprintf(fp, "\\u%04x", 0x2000 | (p[1] & 0x3f) << 6 |
                                        (p[2] & 0x3f));
            p += 2;
        }
        else
            putc(*p, fp);
    }
}

/* s escaped as put_escaped() writes it, malloc'd (the caller frees it),
 * and its length; NULL when out of memory. */
static char *escaped(const char *s, size_t *len)
{
    char *text = NULL;
    FILE *mem = open_memstream(&text, len);

    if (mem == NULL)
        return NULL;
    put_escaped(mem, s);
    if (fclose(mem) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void jx__cli_print_width(FILE *fp, const char *s, size_t width)
{
    size_t len = 0, cols = 0;
    char *text = escaped(s, &len);
    const unsigned char *p = (const unsigned char *)text;

    /* A column per code point: good enough for a status line. */
    for (; p != NULL && *p != '\0' && cols < width; cols++) {
        size_t n = 1;
        while ((p[n] & 0xc0) == 0x80)
            n++;
        p += n;
    }
    if (text != NULL)
        fwrite(text, 1, (size_t)(p - (const unsigned char *)text), fp);
    free(text);
}

/* The line goes out in one piece: stderr is unbuffered, and a line written
 * a character at a time would interleave with other processes' lines. */
int jx__cli_print_line(FILE *fp, const char *fmt, ...)
{
    char *text, *line;
    size_t len = 0;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    line = escaped(text, &len);
    free(text);
    if (line == NULL)
        return -1;
    fprintf(fp, "%s\n", line);
    free(line);
    return 0;
}

int jx__cli_vusage_error(const char *command, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s%s%s --help' for more information.\n", prog,
            command != NULL ? " " : "", command != NULL ? command : "");
    return EXIT_USAGE;
}

int jx__cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = jx__cli_vusage_error(command, fmt, ap);
    va_end(ap);
    return rc;
}

/* The uninstalled binary (run from its build tree) uses the tree's config
 * and plugins, so that a fresh build works without `make install`. */
static int running_uninstalled(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t root = strlen(JX__BUILD_TREE);

    if (n <= 0)
        return 0;
    exe[n] = '\0';
    return strncmp(exe, JX__BUILD_TREE, root) == 0 && exe[root] == '/';
}

static const char *default_config(int uninstalled)
{
    return uninstalled ? JX__BUILD_CONFIG : JX__SYSCONFDIR "/jobexec.yaml";
}

const char *jx__cli_default_config(void)
{
    return default_config(running_uninstalled());
}

static int exit_for(int code)
{
    switch (code) {
    case JX_ECONFIG:
    case JX_EPLAN:
    case JX_ELIMIT:
    case JX_ELOAD:
    case JX_EABI:
    case JX_EINIT:
    case JX_EREFUSED:
        return EXIT_USAGE;
    default:
        return EXIT_INTERNAL;
    }
}

int jx__cli_status_for(const jx_error *err)
{
    return exit_for(err->code);
}

int jx__cli_report(const jx_error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->message);
    return exit_for(err->code);
}

const char *jx__cli_plugin_dir(void)
{
    return running_uninstalled() ? JX__BUILD_PLUGINDIR : NULL;
}

void jx__cli_tree_runner(jx_config *cfg)
{
    if (running_uninstalled() && jx_config_runner_path(cfg) == NULL)
        jx_config_set_runner_path(cfg, JX__BUILD_RUNNER);
}

int jx__cli_load_config(const options *o, jx_config **cfg, jx_error *err)
{
    const char *path = o->config != NULL ? o->config
                                         : jx__cli_default_config();
    int rc = jx_config_load(path, jx__cli_plugin_dir(), cfg, err);

    if (rc == 0)
        jx__cli_tree_runner(*cfg);
    return rc;
}

int jx__cli_load_executor(const options *o, unsigned flags, jx_executor **ex,
                          jx_error *err)
{
    jx_config *cfg;
    int rc;

    if ((rc = jx__cli_load_config(o, &cfg, err)) != 0)
        return rc;
    rc = jx_executor_open(cfg, flags, ex, err);
    jx_config_free(cfg);
    return rc;
}

void jx__cli_log_to_stderr(int level, const char *job_id, int64_t step_index,
                           const char *message, void *user)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const options *o = user;

    if (level > JX_LOG_WARNING && !o->verbose)
        return;
    if (level < 0 || level > JX_LOG_DEBUG)
        level = JX_LOG_DEBUG;
    jx__cli_progress_clear();
    if (job_id != NULL)
        jx__cli_print_line(stderr, "%s: %s: job %s step %lld: %s", prog,
                          names[level], job_id, (long long)step_index,
                          message);
    else
        jx__cli_print_line(stderr, "%s: %s: %s", prog, names[level], message);
}
