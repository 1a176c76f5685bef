/*
 * audit.h - the audit trail: one event when a job is created, started,
 * completed, failed, cancelled or refused by the scope gate, chained per
 * run and sealed like the evidence log (evidence/format.h), to a JSON
 * Lines file, syslog and a callback.
 */
#ifndef JX__COORD_AUDIT_H
#define JX__COORD_AUDIT_H

#include <stdint.h>

#include "base/jsonbuf.h"
#include "base/sha256.h"
#include "evidence/log.h"
#include "evidence/seal.h"

/* The executor's trail: where events go.  Zero-initialised is none. */
typedef struct jx__audit {
    jx__evlog *log;          /* audit.log, or NULL */
    int syslog;              /* audit.syslog */
    char *handler;           /* audit.handler: the worker's name */
    const jx__signer *signer; /* the evidence key, or NULL */
} jx__audit;

/* One run's place in its chain. */
typedef struct jx__audit_run {
    const char *job_id;
    uint64_t seq;
    unsigned char prev[JX__SHA256_LEN];
    jx__buf line;
} jx__audit_run;

/* What one event says beyond the run. */
typedef struct jx__audit_event {
    const char *type;        /* "job_created", ... */
    const char *tenant_id;
    const char *payload_hash; /* the plan's SHA-256 as received */
    double duration_ms;      /* < 0: none (null) */
    const char *error;       /* NULL: none */
    const char *result_hash; /* the document's SHA-256; NULL: none */
} jx__audit_event;

typedef int (*jx__audit_cb)(const char *json, size_t len, void *user);

/* Whether anything receives events: a file, syslog or the callback. */
int jx__audit_wanted(const jx__audit *a, jx__audit_cb cb);

void jx__audit_run_init(jx__audit_run *r, const char *job_id);
void jx__audit_run_fini(jx__audit_run *r);

/* Writes one event to every sink; sealed for the run's last.  Returns 0,
 * or -1 with why set (a sink refused it, or memory ran out). */
int jx__audit_emit(const jx__audit *a, jx__audit_run *r,
                   const jx__audit_event *e, int last, jx__audit_cb cb,
                   void *user, char *why, size_t why_len);

void jx__audit_close(jx__audit *a);

#endif
