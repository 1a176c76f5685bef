/*
 * log.h - the JSON Lines evidence log that the config may name, shared by
 * every job of an executor and by other executors.
 */
#ifndef JX__EVIDENCE_LOG_H
#define JX__EVIDENCE_LOG_H

#include <stddef.h>

#include "input/config_file.h"

typedef struct jx__evlog jx__evlog;

/* Opens (creating it 0600) the log for appending, syncing as policy says.
 * A torn last line or a zero tail left by a crash is cut off first,
 * unless another writer has the file open: its last line may still be
 * growing.  A path
 * that cannot be opened or created is JX_ECONFIG: the config names it. */
int jx__evlog_open(const char *path, jx__fsync_policy policy,
                   jx__evlog **out, jx_error *err);
/* Whether the log could be opened for appending (or created), without
 * creating or changing anything. */
int jx__evlog_probe(const char *path, jx_error *err);
void jx__evlog_close(jx__evlog *log);

/* Appends len bytes (whole lines) in one write, or one copy into the
 * mapping of a log held alone, then syncs under fsync: step.  Returns 0, or -1 with why set; a failed append is cut back off
 * when this writer is alone, and after a failed sync nothing more is
 * written to the file. */
int jx__evlog_append(jx__evlog *log, const char *data, size_t len, char *why,
                     size_t why_len);
/* A job starts writing to the log: until its jx__evlog_job_end, the log
 * may be held alone and appended to through a mapping (see log.c). */
void jx__evlog_job_begin(jx__evlog *log);
/* A job's last records are in: a log held alone is handed back (its
 * preallocated zero tail cut); under fsync: job, and under fsync: step
 * when a tail was cut, syncs.  0, or -1 with why set. */
int jx__evlog_job_done(jx__evlog *log, char *why, size_t why_len);
/* The job is over, whether or not it got to jx__evlog_job_done: hands a
 * log held alone back. */
void jx__evlog_job_end(jx__evlog *log);

#endif
