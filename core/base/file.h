/*
 * file.h - input files and durable names.
 */
#ifndef JX__BASE_FILE_H
#define JX__BASE_FILE_H

#include <stddef.h>

#include "base/common.h"

/* Reads a whole file (or stdin for "-") into a NUL-terminated buffer of at
 * most max_bytes.  The caller frees *out. */
int jx__read_file(const char *path, size_t max_bytes, char **out,
                  size_t *out_len, jx_error *err);

/* The folder that holds path ("." for a bare name), malloc'd; NULL when
 * out of memory. */
char *jx__folder_of(const char *path);

/* Syncs the folder that holds path: a new file's name is only durable
 * once its folder is. */
int jx__sync_folder_of(const char *path, jx_error *err);

#endif
