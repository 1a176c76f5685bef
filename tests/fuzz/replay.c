/*
 * replay.c - runs a fuzz target on every file of its corpus, once, with
 * the ordinary compiler: how `make check` keeps every seed and every
 * crash once found (added to the corpus) passing, without clang.
 *
 * Usage: replay_<target> [FOLDER|FILE]...; without arguments, the
 * target's corpus folder, JX_FUZZ_CORPUS.  Exits 0 when every file was
 * run and the target returned 0 on each; 1 when a folder is missing,
 * empty or unreadable, or the target returned non-zero.  A bug the
 * corpus reaches crashes the program or (under ASan) is reported by it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads a whole file into a buffer of its own size, so that ASan sees a
 * read past the end of the input as it would under libFuzzer. */
static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    struct stat st;
    unsigned char *data = NULL;
    size_t size = 0;
    int rc = 1;

    if (fp == NULL || fstat(fileno(fp), &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        goto out;
    }
    size = (size_t)st.st_size;
    /* malloc(0) may return NULL: keep a valid pointer for empty files. */
    data = malloc(size > 0 ? size : 1);
    if (data == NULL || fread(data, 1, size, fp) != size) {
        fprintf(stderr, "%s: cannot read\n", path);
        goto out;
    }
    rc = LLVMFuzzerTestOneInput(data, size);
    if (rc != 0)
        fprintf(stderr, "%s: the target returned %d\n", path, rc);
out:
    free(data);
    if (fp != NULL)
        fclose(fp);
    return rc != 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of a folder, in name order so that a failure
 * repeats the same way.  Returns the failures, or -1 for a folder that
 * cannot be read or holds no file. */
static int run_folder(const char *dir, unsigned long *n_run)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int failed = 0;

    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? 2 * cap : 64) *
                                              sizeof *names);
            if (grown == NULL)
                abort();
            names = grown;
        }
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
            abort();
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "%s: no corpus file\n", dir);
        free(names);
        return -1;
    }
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        failed += run_file(names[i]);
        free(names[i]);
    }
    free(names);
    *n_run += n;
    return failed;
}

int main(int argc, char **argv)
{
    static char *fallback[] = {NULL, JX_FUZZ_CORPUS, NULL};
    unsigned long n_run = 0;
    int failed = 0;

    if (argc < 2) {
        argv = fallback;
        argc = 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int rc;

        if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
            failed += run_file(argv[i]);
            n_run++;
            continue;
        }
        if ((rc = run_folder(argv[i], &n_run)) < 0)
            return 1;
        failed += rc;
    }
    printf("%lu inputs replayed, %d failed\n", n_run, failed);
    return failed != 0;
}
