/*
 * file.c - reading whole input files within a limit, and making a new
 * file's name durable.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/huge.h"

const char *jx__file_kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Opens path for reading if it is a regular file.  O_NONBLOCK keeps open
 * from waiting for a FIFO's writer; it changes nothing for a regular
 * file, the only kind read. */
static int open_regular(const char *path, FILE **out, jx_error *err)
{
    struct stat st;
    int rc = 0, fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0)
        return jx__fail(err, JX_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = jx__fail(err, JX_EIO, "%s: cannot inspect: %s", path,
                      strerror(errno));
    else if (S_ISDIR(st.st_mode)) /* as reading it would have said */
        rc = jx__fail(err, JX_EIO, "%s: cannot read: %s", path,
                      strerror(EISDIR));
    else if (!S_ISREG(st.st_mode))
        rc = jx__fail(err, JX_EIO, "%s: %s, expected a regular file", path,
                      jx__file_kind(st.st_mode));
    else if ((*out = fdopen(fd, "rb")) == NULL)
        rc = jx__fail(err, JX_ENOMEM, "%s: out of memory", path);
    if (rc != 0)
        close(fd);
    return rc;
}

int jx__read_file(const char *path, size_t max_bytes, char **out,
                  size_t *out_len, jx_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = stdin;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = is_stdin ? 0 : open_regular(path, &fp, err);

    if (rc != 0)
        return rc;
    if (!is_stdin) {
        /* Sized to the file: one read, no copies while the buffer grows
         * (a file that grows meanwhile still grows the buffer). */
        struct stat st;
        if (fstat(fileno(fp), &st) == 0 && st.st_size >= 0 &&
            (uintmax_t)st.st_size < max_bytes &&
            (buf = malloc((size_t)st.st_size + 2)) != NULL) {
            cap = (size_t)st.st_size + 2;
            jx__huge_advise(buf, cap);
        }
    }
    for (;;) {
        size_t n;
        if (cap - len < 2) {
            /* Refuse before the buffer can grow past the limit. */
            char *grown;
            if (cap > max_bytes) {
                rc = JX_ELIMIT;
                break;
            }
            grown = realloc(buf, cap ? cap * 2 : 8192);
            if (grown == NULL) {
                rc = JX_ENOMEM;
                break;
            }
            buf = grown;
            cap = cap ? cap * 2 : 8192;
        }
        n = fread(buf + len, 1, cap - 1 - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (rc == 0 && ferror(fp))
        rc = jx__fail(err, JX_EIO, "%s: cannot read: %s", path,
                      strerror(errno));
    if (rc == 0 && len > max_bytes)
        rc = JX_ELIMIT;
    if (!is_stdin)
        fclose(fp);
    if (rc == JX_ELIMIT)
        jx__fail(err, rc, "%s: larger than the limit of %zu bytes", path,
                 max_bytes);
    else if (rc == JX_ENOMEM)
        jx__fail(err, rc, "%s: out of memory", path);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

char *jx__folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash == NULL   ? strdup(".")
           : slash == path ? strdup("/")
                           : strndup(path, (size_t)(slash - path));
}

int jx__sync_folder_of(const char *path, jx_error *err)
{
    char *dir = jx__folder_of(path);
    int fd, rc = 0;

    if (dir == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = jx__fail(err, JX_EIO, "%s: cannot sync its folder: %s", path,
                      strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}
