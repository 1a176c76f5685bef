/*
 * test_man.c - the man pages: each one lint-clean under mandoc, and
 * jobexec.1 in step with the CLI's --help texts, both ways: every command
 * and option --help shows is documented, and everything documented is
 * shown.  A mismatch is reported line by line, naming the command or
 * option and where in jobexec.1 it belongs (its comment says how the page
 * is laid out for this).
 */
#include "config.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"

#define MANDIR JX_TEST_MANDIR
#define MANDOC "/usr/bin/mandoc"

/* Every page make installs; each may refer to the others with .Xr. */
static const char *const pages[] = {
    "jobexec.1", "step_handler_v1.3", "jobexec.yaml.5", "jobexec-plan.5",
    "jobexec-evidence.5",
};
#define N_PAGES (sizeof pages / sizeof pages[0])

/* ---- small sets of strings ---------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n;
} strset;

static int set_has(const strset *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return 1;
    return 0;
}

/* Adds len bytes of str unless present. */
static void set_add(strset *s, const char *str, size_t len)
{
    char *copy = strndup(str, len);
    char **v;

    assert_non_null(copy);
    if (set_has(s, copy)) {
        free(copy);
        return;
    }
    v = realloc(s->v, (s->n + 1) * sizeof *v);
    assert_non_null(v);
    s->v = v;
    s->v[s->n++] = copy;
}

static void set_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* ---- what --help shows -------------------------------------------------- */

/* Each option in text: "-x" or "--long", where the dash starts a word (so
 * that "step-handler", "in-toto" and "1-jitter" are not options). */
static void help_options(const char *text, size_t len, strset *out)
{
    for (size_t i = 0; i < len; i++) {
        size_t n;

        if (text[i] != '-' ||
            (i > 0 && strchr(" \t\n[(|,`", text[i - 1]) == NULL))
            continue;
        if (i + 2 < len && text[i + 1] == '-' && isalpha((unsigned char)text[i + 2])) {
            n = 2;
            while (i + n < len &&
                   (isalnum((unsigned char)text[i + n]) || text[i + n] == '-'))
                n++;
        } else if (i + 1 < len && isalnum((unsigned char)text[i + 1]) &&
                   (i + 2 == len || !isalnum((unsigned char)text[i + 2]))) {
            n = 2;
        } else {
            continue;
        }
        set_add(out, text + i, n);
        i += n - 1;
    }
}

/* The lines of text after the line "heading" up to the next empty line;
 * NULL when there is no such heading. */
static const char *section(const char *text, const char *heading,
                           size_t *len)
{
    const char *start = strstr(text, heading), *end;

    if (start == NULL)
        return NULL;
    start += strlen(heading);
    end = strstr(start, "\n\n");
    *len = end != NULL ? (size_t)(end - start) + 1 : strlen(start);
    return start;
}

/* The commands of the main help, as they are invoked: "run", "plugin
 * check", and "registry list" and "registry history" for "registry
 * list|history".  A command's line starts with two spaces and its name;
 * the lines that continue a description start with more. */
static void help_commands(const char *main_help, strset *out)
{
    size_t len;
    const char *p = section(main_help, "\nCommands:\n", &len);
    const char *end = p != NULL ? p + len : NULL;

    assert_non_null(p);
    for (; p < end; p = strchr(p, '\n') + 1) {
        const char *name = p + 2, *verb;
        size_t name_len, verb_len;

        if (strncmp(p, "  ", 2) != 0 || !islower((unsigned char)*name))
            continue;
        name_len = strcspn(name, " \n");
        verb = name + name_len + (name[name_len] == ' ');
        verb_len = strspn(verb, "abcdefghijklmnopqrstuvwxyz|");
        if (name[name_len] != ' ' || verb_len == 0 ||
            (verb[verb_len] != ' ' && verb[verb_len] != '\n')) {
            set_add(out, name, name_len);
            continue;
        }
        /* name verb|verb|... */
        while (verb_len > 0) {
            size_t one = strcspn(verb, "|");
            char entry[128];

            if (one > verb_len)
                one = verb_len;
            snprintf(entry, sizeof entry, "%.*s %.*s", (int)name_len, name,
                     (int)one, verb);
            set_add(out, entry, strlen(entry));
            verb += one + (one < verb_len);
            verb_len -= one + (one < verb_len);
        }
    }
}

/* A command's --help text, by the name it is invoked with ("registry"
 * for "registry list"). */
typedef struct cmd_help {
    const char *name;
    const char *text;
} cmd_help;

/* ---- what jobexec.1 documents ------------------------------------------- */

/* Whether a token of a macro line is a macro name (Ar, Op, Cm, ...) or
 * a delimiter, rather than an argument of the macro before it. */
static int is_macro(const char *tok)
{
    size_t len = strlen(tok);

    if (len == 1 && strchr(".,;:()[]|", tok[0]) != NULL)
        return 1;
    return (len == 2 || len == 3) && isupper((unsigned char)tok[0]) &&
           islower((unsigned char)tok[1]);
}

/* The options a macro line documents: the argument of each "Fl" (".Fl
 * -config" is "--config", ".Fl c" is "-c"); a bare Fl is not one. */
static void line_options(const char *line, strset *out)
{
    char buf[1024], *save = NULL, *tok, *prev = NULL;

    snprintf(buf, sizeof buf, "%s", line + 1);
    for (tok = strtok_r(buf, " \t", &save); tok != NULL;
         prev = tok, tok = strtok_r(NULL, " \t", &save)) {
        char opt[256];

        if (prev == NULL || strcmp(prev, "Fl") != 0 || is_macro(tok))
            continue;
        snprintf(opt, sizeof opt, "-%s", tok);
        set_add(out, opt, strlen(opt));
    }
}

/* jobexec.1 as the check sees it: the options under OPTIONS, and under
 * COMMANDS each subsection's title and options. */
typedef struct man_page {
    strset global;
    strset titles;
    strset opts[64]; /* opts[i] for titles.v[i] */
} man_page;

static void man_parse(const char *text, man_page *m)
{
    enum { OTHER, OPTIONS, COMMANDS } sh = OTHER;
    const char *p = text;

    memset(m, 0, sizeof *m);
    while (*p != '\0') {
        size_t len = strcspn(p, "\n");
        char line[1024];

        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (p[len] == '\n');
        if (strncmp(line, ".Sh ", 4) == 0) {
            sh = strcmp(line + 4, "OPTIONS") == 0    ? OPTIONS
                 : strcmp(line + 4, "COMMANDS") == 0 ? COMMANDS
                                                     : OTHER;
        } else if (sh == COMMANDS && strncmp(line, ".Ss ", 4) == 0) {
            const char *title = line + 4;
            size_t title_len = strlen(title);

            if (title[0] == '"' && title_len >= 2) {
                title++;
                title_len -= 2;
            }
            assert_true(m->titles.n < sizeof m->opts / sizeof m->opts[0]);
            set_add(&m->titles, title, title_len);
        } else if (line[0] == '.' && sh == OPTIONS) {
            line_options(line, &m->global);
        } else if (line[0] == '.' && sh == COMMANDS && m->titles.n > 0) {
            line_options(line, &m->opts[m->titles.n - 1]);
        }
    }
}

static void man_free(man_page *m)
{
    for (size_t i = 0; i < m->titles.n; i++)
        set_free(&m->opts[i]);
    set_free(&m->titles);
    set_free(&m->global);
}

/* ".Fl -long" or ".Fl x" for an option. */
static const char *fl(const char *opt, char *buf, size_t size)
{
    snprintf(buf, size, ".Fl %s", opt + 1);
    return buf;
}

/* Whether title ("registry list") belongs to the command name
 * ("registry"). */
static int title_of(const char *title, const char *name)
{
    size_t len = strlen(name);

    return strncmp(title, name, len) == 0 &&
           (title[len] == '\0' || title[len] == ' ');
}

/* One command's options, both ways. */
static void compare_command(FILE *r, const man_page *m, const strset *global,
                            const char *name, const char *help)
{
    strset in_help = {0}, in_man = {0};
    char first[128] = "";
    char buf[300];

    help_options(help, strlen(help), &in_help);
    for (size_t i = 0; i < m->titles.n; i++) {
        if (!title_of(m->titles.v[i], name))
            continue;
        if (first[0] == '\0')
            snprintf(first, sizeof first, "%s", m->titles.v[i]);
        for (size_t j = 0; j < m->opts[i].n; j++) {
            const char *opt = m->opts[i].v[j];
            set_add(&in_man, opt, strlen(opt));
            if (!set_has(&in_help, opt) && !set_has(global, opt))
                fprintf(r,
                        "jobexec.1: '.Ss %s' documents the option '%s', "
                        "which neither 'jobexec %s --help' nor 'jobexec "
                        "--help' shows\n",
                        m->titles.v[i], opt, name);
        }
    }
    for (size_t i = 0; first[0] != '\0' && i < in_help.n; i++)
        if (!set_has(&in_man, in_help.v[i]))
            fprintf(r,
                    "jobexec.1: 'jobexec %s --help' shows the option '%s': "
                    "add '%s' under '.Ss %s'\n",
                    name, in_help.v[i], fl(in_help.v[i], buf, sizeof buf),
                    first);
    set_free(&in_help);
    set_free(&in_man);
}

/* What differs between jobexec.1 (man) and the help texts: one line per
 * thing to fix, "" when none.  free() the result. */
static char *compare(const char *man, const char *main_help,
                     const cmd_help *helps, size_t n_helps)
{
    man_page m;
    strset commands = {0}, global = {0};
    char *report = NULL;
    size_t report_len = 0, len;
    const char *opts = section(main_help, "\nOptions:\n", &len);
    FILE *r = open_memstream(&report, &report_len);
    char buf[300];

    assert_non_null(r);
    assert_non_null(opts);
    man_parse(man, &m);
    help_commands(main_help, &commands);
    help_options(opts, len, &global);

    for (size_t i = 0; i < commands.n; i++)
        if (!set_has(&m.titles, commands.v[i]))
            fprintf(r,
                    "jobexec.1: 'jobexec --help' lists the command '%s': "
                    "add '.Ss %s' under '.Sh COMMANDS'\n",
                    commands.v[i], commands.v[i]);
    for (size_t i = 0; i < m.titles.n; i++)
        if (!set_has(&commands, m.titles.v[i]))
            fprintf(r,
                    "jobexec.1: '.Ss %s' documents a command that 'jobexec "
                    "--help' does not list\n",
                    m.titles.v[i]);
    for (size_t i = 0; i < global.n; i++)
        if (!set_has(&m.global, global.v[i]))
            fprintf(r,
                    "jobexec.1: 'jobexec --help' shows the option '%s': add "
                    "'%s' under '.Sh OPTIONS'\n",
                    global.v[i], fl(global.v[i], buf, sizeof buf));
    for (size_t i = 0; i < m.global.n; i++)
        if (!set_has(&global, m.global.v[i]))
            fprintf(r,
                    "jobexec.1: '.Sh OPTIONS' documents the option '%s', "
                    "which 'jobexec --help' does not show\n",
                    m.global.v[i]);
    for (size_t i = 0; i < n_helps; i++)
        compare_command(r, &m, &global, helps[i].name, helps[i].text);

    fclose(r);
    man_free(&m);
    set_free(&commands);
    set_free(&global);
    return report;
}

/* ---- the tests ---------------------------------------------------------- */

/* Writes to r each line of mandoc's text that is not a note that one of
 * our own pages is not installed on this machine (yet). */
static void lint_problems(FILE *r, const char *text)
{
    while (*text != '\0') {
        size_t len = strcspn(text, "\n");
        int ours = 0;

        for (size_t j = 0; j < N_PAGES && !ours; j++) {
            const char *dot = strrchr(pages[j], '.');
            char note[128];

            snprintf(note, sizeof note,
                     "STYLE: referenced manual not found: Xr %.*s %s",
                     (int)(dot - pages[j]), pages[j], dot + 1);
            ours = memmem(text, len, note, strlen(note)) != NULL;
        }
        if (!ours)
            fprintf(r, "%.*s\n", (int)len, text);
        text += len + (text[len] == '\n');
    }
}

/* Writes to r each placeholder ("@name@") of the template that make left
 * in page. */
static void unfilled(FILE *r, const char *page)
{
    char *text = tu_read(page);
    const char *p = text;

    if (text == NULL) {
        fprintf(r, "%s: cannot read it\n", page);
        return;
    }
    while ((p = strchr(p, '@')) != NULL) {
        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");
        if (n > 0 && p[n + 1] == '@')
            fprintf(r, "%s: '%.*s' was not filled in\n", page, (int)n + 2, p);
        p += n + 1;
    }
    free(text);
}

/* mandoc's lint, style notes included, on every page, and no
 * placeholder left. */
static void test_lint(void **state)
{
    fixture *f = *state;
    char *problems = NULL;
    size_t problems_len = 0;
    FILE *r;

    if (access(MANDOC, X_OK) != 0)
        fail_msg("%s not found: install the Debian package mandoc "
                 "(scripts/deps.sh does)", MANDOC);
    r = open_memstream(&problems, &problems_len);
    assert_non_null(r);
    for (size_t i = 0; i < N_PAGES; i++) {
        char page[4096];

        snprintf(page, sizeof page, MANDIR "/%s", pages[i]);
        fx_run(f, NULL,
               (const char *const[]){MANDOC, "-T", "lint", "-W", "style",
                                     page, NULL});
        lint_problems(r, f->p.out);
        lint_problems(r, f->p.err);
        unfilled(r, page);
        /* 0, or 1 for style notes alone. */
        if (f->p.status != 0 && f->p.status != 1)
            fprintf(r, "mandoc exited %d on %s\n", f->p.status, page);
    }
    fclose(r);
    fx_keep(f, problems);
    if (problems_len > 0)
        fail_msg("mandoc -T lint:\n%s", problems);
}

/* The build tree's jobexec: its main --help, and each command's. */
static void test_jobexec_1_matches_help(void **state)
{
    fixture *f = *state;
    strset commands = {0}, names = {0}, texts = {0};
    cmd_help helps[32] = {{NULL, NULL}};
    char *man = fx_keep(f, tu_read(MANDIR "/jobexec.1"));
    char *main_help, *report;

    assert_non_null(man);
    JOBEXEC(f, NULL, "--help");
    assert_int_equal(f->p.status, 0);
    main_help = fx_keep(f, strdup(f->p.out));
    help_commands(main_help, &commands);
    /* One --help per command name ("registry" once for both verbs); help
     * itself has none. */
    for (size_t i = 0; i < commands.n; i++)
        if (strcmp(commands.v[i], "help") != 0)
            set_add(&names, commands.v[i], strcspn(commands.v[i], " "));
    assert_true(names.n <= sizeof helps / sizeof helps[0]);
    for (size_t i = 0; i < names.n; i++) {
        JOBEXEC(f, NULL, names.v[i], "--help");
        if (f->p.status != 0)
            fail_msg("jobexec %s --help: exit %d\n%s", names.v[i],
                     f->p.status, f->p.err);
        /* Help texts differ, so the set keeps each. */
        set_add(&texts, f->p.out, strlen(f->p.out));
        helps[i].name = names.v[i];
        helps[i].text = texts.v[texts.n - 1];
    }

    report = fx_keep(f, compare(man, main_help, helps, names.n));
    set_free(&commands);
    set_free(&names);
    set_free(&texts);
    if (report[0] != '\0')
        fail_msg("jobexec.1 and --help differ:\n%s", report);
}

/* The check itself names exactly what is missing, on a made-up program
 * that grew a command, an option and lost another. */
static void test_mismatch_named(void **state)
{
    fixture *f = *state;
    static const char main_help[] =
        "Usage: jobexec COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "Commands:\n"
        "  run [--config FILE] PLAN|-    run a plan\n"
        "  worker [--queue Q]            serve a queue; a description\n"
        "                                that goes on -x --not-this\n"
        "  jobs list|cancel              the jobs\n"
        "  help [COMMAND]                show help\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE   the config file (default: /a/b-c/d.yaml)\n"
        "  -h, --help          show this help\n"
        "\n"
        "Exit status: 0 done, 1-jitter step-handler in-toto\n";
    static const cmd_help helps[] = {
        {"run", "Usage: jobexec run [--config FILE] [--quiet] PLAN|-\n"
                "  -q, --quiet   no summary (see `jobexec scope`)\n"
                "Not options: 1-jitter step-handler in-toto 2^(N-1) - x\n"},
        {"worker", "Usage: jobexec worker [--queue Q]\n"},
        {"jobs", "Usage: jobexec jobs list [--json]\n"
                 "       jobexec jobs cancel ID\n"},
    };
    static const char man[] =
        ".Sh SYNOPSIS\n"
        ".Nm\n"
        ".Op Fl z\n"
        ".Sh OPTIONS\n"
        ".Bl -tag -width Ds\n"
        ".It Fl c , Fl -config Ar FILE\n"
        ".It Fl V , Fl -version\n"
        ".El\n"
        ".Sh COMMANDS\n"
        ".Ss run\n"
        ".Op Fl -config Ar FILE\n"
        ".Ar PLAN | Fl\n"
        ".It Fl -quiet\n"
        ".Ss jobs list\n"
        ".Op Fl -json\n"
        ".Op Fl -all\n"
        ".Ss \"jobs cancel\"\n"
        ".Ss scope\n"
        ".Ss help\n"
        ".Sh EXIT STATUS\n"
        ".Fl -anything\n";
    char *report = fx_keep(f, compare(man, main_help, helps,
                                      sizeof helps / sizeof helps[0]));

    assert_string_equal(
        report,
        "jobexec.1: 'jobexec --help' lists the command 'worker': add "
        "'.Ss worker' under '.Sh COMMANDS'\n"
        "jobexec.1: '.Ss scope' documents a command that 'jobexec --help' "
        "does not list\n"
        "jobexec.1: 'jobexec --help' shows the option '-h': add '.Fl h' "
        "under '.Sh OPTIONS'\n"
        "jobexec.1: 'jobexec --help' shows the option '--help': add "
        "'.Fl -help' under '.Sh OPTIONS'\n"
        "jobexec.1: '.Sh OPTIONS' documents the option '-V', which "
        "'jobexec --help' does not show\n"
        "jobexec.1: '.Sh OPTIONS' documents the option '--version', which "
        "'jobexec --help' does not show\n"
        "jobexec.1: 'jobexec run --help' shows the option '-q': add "
        "'.Fl q' under '.Ss run'\n"
        "jobexec.1: '.Ss jobs list' documents the option '--all', which "
        "neither 'jobexec jobs --help' nor 'jobexec --help' shows\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_lint),
        TEST(test_jobexec_1_matches_help),
        TEST(test_mismatch_named),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
