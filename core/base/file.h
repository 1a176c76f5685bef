/*
 * file.h - input files and durable names.
 */
#ifndef JX__BASE_FILE_H
#define JX__BASE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/common.h"

/* Reads a whole file (or stdin for "-") into a NUL-terminated buffer of at
 * most max_bytes.  The caller frees *out.  Anything but a regular file is
 * refused ("PATH: a FIFO, expected a regular file") without blocking: a
 * FIFO would wait for a writer for ever. */
int jx__read_file(const char *path, size_t max_bytes, char **out,
                  size_t *out_len, jx_error *err);

/* What a file of that mode is, for messages that refuse anything but a
 * regular file: "a folder", "a FIFO", "a device", ... */
const char *jx__file_kind(mode_t mode);

/* The folder that holds path ("." for a bare name), malloc'd; NULL when
 * out of memory. */
char *jx__folder_of(const char *path);

/* Syncs the folder that holds path: a new file's name is only durable
 * once its folder is. */
int jx__sync_folder_of(const char *path, jx_error *err);

#endif
