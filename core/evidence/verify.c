/*
 * verify.c - checks an evidence log: every job's hash chain and seal.
 *
 * The file is read once, line by line; per job only the chain's state is
 * kept, so a log of many jobs costs a few hundred bytes per job.  The
 * rules mirror evidence.c, which writes what is checked here.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/common.h"
#include "base/sha256.h"
#include "evidence/format.h"
#include "evidence/seal.h"
#include "evidence/verify.h"

#define REASON_SIZE 256

/* One run of a job: its chain from job_started on.  A job_id may start
 * again in the same file (a queue that delivered the job twice); each run
 * is a chain of its own, and runs of one job may interleave. */
typedef struct vjob {
    char job_id[JX__UUID_LEN + 1];
    size_t earlier;   /* index + 1 of the job's previous run; 0: none */
    unsigned run;     /* 1 for the job's first run in the file, ... */
    unsigned char first[JX__SHA256_LEN]; /* SHA-256 of its job_started */
    uint64_t next_seq;
    unsigned char prev[JX__SHA256_LEN]; /* what the next record's prev must be */
    unsigned long first_line, last_line;
    unsigned long bad_line;
    unsigned long torn_line; /* a torn record a writer marked (log.c) */
    char reason[REASON_SIZE]; /* set once the job is tampered */
    char final_status[16];
    int sealed, torn, signed_seal, signature_checked;
    int audit; /* an audit trail's run (from job_created), not evidence */
} vjob;

typedef struct verifier {
    const jx_verify_options *opts;
    int have_key;
    unsigned char pk[JX__SEAL_PUBLIC_LEN];
    char key_id[JX__SEAL_KEY_ID_HEX + 1];
    vjob *jobs;       /* runs, in order of first record */
    size_t n_jobs, cap_jobs;
    size_t *slots;    /* open addressing: index + 1 of a job's latest run
                         in jobs; 0 is empty */
    size_t n_slots;
    jx_verify_summary *sum;
    unsigned long line_no;
} verifier;

/* ---- the job table ----------------------------------------------------- */

static size_t hash_id(const char *id)
{
    size_t h = 1469598103934665603u;
    for (size_t i = 0; i < JX__UUID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211u;
    return h;
}

static int grow_slots(verifier *v)
{
    size_t n = v->n_slots ? v->n_slots * 2 : 64;
    size_t *slots = calloc(n, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < v->n_slots; i++) {
        size_t s;

        if (v->slots[i] == 0)
            continue;
        s = hash_id(v->jobs[v->slots[i] - 1].job_id) & (n - 1);
        while (slots[s] != 0)
            s = (s + 1) & (n - 1);
        slots[s] = v->slots[i];
    }
    free(v->slots);
    v->slots = slots;
    v->n_slots = n;
    return 0;
}

/* The slot of job id, or of the empty place where it would go. */
static size_t *slot_of(const verifier *v, const char *id)
{
    size_t s = hash_id(id) & (v->n_slots - 1);

    while (v->slots[s] != 0 &&
           memcmp(v->jobs[v->slots[s] - 1].job_id, id, JX__UUID_LEN) != 0)
        s = (s + 1) & (v->n_slots - 1);
    return &v->slots[s];
}

/* The job's latest run, or NULL. */
static vjob *find_job(const verifier *v, const char *id)
{
    size_t *slot = v->n_slots != 0 ? slot_of(v, id) : NULL;

    return slot != NULL && *slot != 0 ? &v->jobs[*slot - 1] : NULL;
}

/* Starts a run of job id: its first, or another after the latest. */
static vjob *add_job(verifier *v, const char *id)
{
    vjob *j;
    size_t *slot;

    if (2 * (v->n_jobs + 1) > v->n_slots && grow_slots(v) != 0)
        return NULL;
    if (v->jobs == NULL || v->n_jobs == v->cap_jobs) {
        size_t cap = v->cap_jobs ? v->cap_jobs * 2 : 16;
        vjob *jobs = realloc(v->jobs, cap * sizeof *jobs);
        if (jobs == NULL)
            return NULL;
        v->jobs = jobs;
        v->cap_jobs = cap;
    }
    slot = slot_of(v, id);
    j = &v->jobs[v->n_jobs];
    memset(j, 0, sizeof *j);
    memcpy(j->job_id, id, JX__UUID_LEN);
    j->earlier = *slot;
    j->run = *slot != 0 ? v->jobs[*slot - 1].run + 1 : 1;
    j->first_line = v->line_no;
    if (jx__chain_genesis(id, JX__UUID_LEN, j->prev) != 0)
        return NULL;
    *slot = ++v->n_jobs;
    return j;
}

static vjob *earlier_run(verifier *v, const vjob *j)
{
    return j->earlier != 0 ? &v->jobs[j->earlier - 1] : NULL;
}

/* ---- verdicts ---------------------------------------------------------- */

static void tampered(vjob *j, unsigned long line, const char *fmt, ...)
    JX__PRINTF(3, 4);

/* Only the first fault of a job is kept: later lines are judged against a
 * chain that is already broken. */
static void tampered(vjob *j, unsigned long line, const char *fmt, ...)
{
    va_list ap;

    if (j->bad_line != 0)
        return;
    j->bad_line = line;
    va_start(ap, fmt);
    vsnprintf(j->reason, sizeof j->reason, fmt, ap);
    va_end(ap);
}

static void stray(verifier *v, const char *why)
{
    if (v->sum->stray_lines++ == 0) {
        v->sum->first_stray_line = v->line_no;
        snprintf(v->sum->stray_reason, sizeof v->sum->stray_reason, "%s",
                 why);
    }
}

/* The job a damaged line claims, when its header is still readable. */
static vjob *claimed_job(const verifier *v, const char *line, size_t len)
{
    static const char key[] = "\"job_id\":\"";
    const char *p = memmem(line, len, key, sizeof key - 1);

    if (p == NULL || (size_t)(line + len - p) < sizeof key - 1 + JX__UUID_LEN)
        return NULL;
    return find_job(v, p + sizeof key - 1);
}

/* ---- one record -------------------------------------------------------- */

static int is_uuid(const char *s)
{
    if (strlen(s) != JX__UUID_LEN)
        return 0;
    for (size_t i = 0; i < JX__UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL ||
                                     s[i] == '\0')
            return 0;
    }
    return 1;
}

/* Whether text (len bytes, from the seal's opening brace to the end of
 * the line) is exactly the seal as chain.c writes it, closing the
 * record: nothing may follow or be slipped in unsigned. */
static int seal_is_last(const char *text, size_t len, const char *head,
                        const char *kid, const char *sig)
{
    jx__buf want = {0};
    int same;

    if ((sig == NULL) != (kid == NULL) ||
        jx__seal_put(&want, head, kid, sig) != 0 ||
        jx__buf_append(&want, "}", 1) != 0) {
        jx__buf_free(&want);
        return 0;
    }
    same = want.len == len && memcmp(want.data, text, len) == 0;
    jx__buf_free(&want);
    return same;
}

/* Checks the seal of job_finished: head over the record without it, and
 * the signature over job_id, seq and head. */
static void check_seal(verifier *v, vjob *j, const char *line, size_t len,
                       uint64_t seq, json_t *rec)
{
    static const char key[] = JX__SEAL_MEMBER "{";
    json_t *seal = json_object_get(rec, "seal");
    const char *head = json_string_value(json_object_get(seal, "head"));
    const char *sig = json_string_value(json_object_get(seal, "sig"));
    const char *kid = json_string_value(json_object_get(seal, "key_id"));
    const char *at = NULL;
    unsigned char digest[JX__SHA256_LEN];
    char hex[2 * JX__SHA256_LEN + 1], msg[JX__SEAL_MESSAGE_SIZE];
    size_t msg_len;

    for (const char *p = line; (p = memmem(p, (size_t)(line + len - p), key,
                                           sizeof key - 1)) != NULL;
         p++)
        at = p; /* the seal is the record's last member */
    if (!json_is_object(seal) || head == NULL || at == NULL) {
        tampered(j, v->line_no, "job_finished carries no seal");
        return;
    }
    if (!seal_is_last(at + sizeof key - 2, (size_t)(line + len - at) -
                                               (sizeof key - 2),
                      head, kid, sig)) {
        tampered(j, v->line_no, "the seal is not as jobexec writes it: "
                                "members were added, removed or moved after "
                                "sealing");
        return;
    }
    /* Never "valid" with the seal unchecked. */
    if (jx__sha256_2(line, (size_t)(at - line), "}", 1, digest) != 0) {
        tampered(j, v->line_no, "SHA-256 failed");
        return;
    }
    jx__hex(digest, sizeof digest, hex);
    if (strcmp(hex, head) != 0) {
        tampered(j, v->line_no, "the seal does not match its record: "
                                "job_finished was changed after sealing");
        return;
    }
    j->signed_seal = sig != NULL;
    if (!v->have_key)
        return;
    if (sig == NULL) {
        tampered(j, v->line_no, "the seal is not signed, but a public key "
                                "was given");
        return;
    }
    if (kid != NULL && strcmp(kid, v->key_id) != 0) {
        tampered(j, v->line_no, "sealed by key %.16s, not by the given key "
                                "%s", kid, v->key_id);
        return;
    }
    j->signature_checked = 1;
    msg_len = jx__seal_message(j->job_id, seq, head, msg);
    if (!jx__sig_ok(v->pk, msg, msg_len, sig))
        tampered(j, v->line_no, "the seal's signature does not verify with "
                                "the given key");
}

/* An audit event's own hashes: previous_event_hash is its prev, and
 * integrity_hash the SHA-256 of the record as it reads without it (and
 * without the seal that may follow).  0 when both hold. */
static int check_integrity(verifier *v, vjob *j, const char *line,
                           size_t len, json_t *rec, const char *prev)
{
    static const char key[] = JX__INTEGRITY_MEMBER;
    const char *given = json_string_value(json_object_get(rec,
                                                          "integrity_hash"));
    const char *pev = json_string_value(json_object_get(rec,
                                                        "previous_event_hash"));
    const char *at = NULL;
    unsigned char digest[JX__SHA256_LEN];
    char hex[2 * JX__SHA256_LEN + 1];

    for (const char *p = line; (p = memmem(p, (size_t)(line + len - p), key,
                                           sizeof key - 1)) != NULL;
         p++)
        at = p;
    if (pev == NULL || strcmp(pev, prev) != 0) {
        tampered(j, v->line_no, "previous_event_hash is not the record's "
                                "prev");
        return -1;
    }
    if (given == NULL || at == NULL ||
        jx__sha256_2(line, (size_t)(at - line), "}", 1, digest) != 0) {
        tampered(j, v->line_no, "the audit event carries no integrity_hash");
        return -1;
    }
    jx__hex(digest, sizeof digest, hex);
    if (strcmp(hex, given) != 0) {
        tampered(j, v->line_no, "the integrity_hash does not match the "
                                "event: it was changed after it was written");
        return -1;
    }
    return 0;
}

/* The final status an audit run's last event stands for. */
static const char *audit_status(const char *event)
{
    return strcmp(event, "job_completed") == 0   ? "COMPLETED"
           : strcmp(event, "job_cancelled") == 0 ? "CANCELLED"
                                                 : "FAILED";
}

static void check_chain(verifier *v, vjob *j, const char *line, size_t len,
                        json_t *rec)
{
    json_t *jseq = json_object_get(rec, "seq");
    const char *prev = json_string_value(json_object_get(rec, "prev"));
    const char *event = json_string_value(json_object_get(rec, "event"));
    int ev;
    uint64_t seq;
    char want[2 * JX__SHA256_LEN + 1];

    /* A run's first record says which trail it belongs to. */
    if (j->next_seq == 0) {
        j->audit = jx__audit_kind_of(event) == 0;
        if (j->audit &&
            jx__audit_genesis(j->job_id, JX__UUID_LEN, j->prev) != 0) {
            tampered(j, v->line_no, "SHA-256 failed");
            return;
        }
    }
    ev = j->audit ? jx__audit_kind_of(event) : jx__record_kind_of(event);
    if (!json_is_integer(jseq) || json_integer_value(jseq) < 0 ||
        prev == NULL || ev < 0) {
        tampered(j, v->line_no, "not a well-formed record (seq, prev or "
                                "event missing or wrong)");
        return;
    }
    seq = (uint64_t)json_integer_value(jseq);
    if (j->torn_line != 0) {
        tampered(j, v->line_no, "a record after the job's torn record "
                                "(line %lu), whose writer died",
                 j->torn_line);
        return;
    }
    if (j->sealed) {
        tampered(j, v->line_no, "a record after the job's seal (line %lu)",
                 j->last_line);
        return;
    }
    if (seq != j->next_seq) {
        tampered(j, v->line_no, "seq %" PRIu64 " where %" PRIu64 " was "
                                "expected: a record is missing, duplicated "
                                "or out of order", seq, j->next_seq);
        return;
    }
    jx__hex(j->prev, sizeof j->prev, want);
    if (strcmp(prev, want) != 0) {
        if (seq == 0)
            tampered(j, v->line_no, "the first record's prev is not derived "
                                    "from its job_id: the line was changed "
                                    "or comes from another job");
        else
            tampered(j, j->last_line, "the SHA-256 of line %lu does not "
                                      "match the prev of line %lu, the "
                                      "job's next record: one of them was "
                                      "changed", j->last_line, v->line_no);
        return;
    }
    if ((seq == 0) != (ev == 0)) {
        tampered(j, v->line_no, "%s at seq %" PRIu64 ": a job starts with "
                                "%s and has only one",
                 event, seq, j->audit ? "job_created" : "job_started");
        return;
    }
    if (j->audit && check_integrity(v, j, line, len, rec, prev) != 0)
        return;
    if (ev == 3) {
        check_seal(v, j, line, len, seq, rec);
        j->sealed = 1;
        snprintf(j->final_status, sizeof j->final_status, "%s",
                 j->audit ? audit_status(event)
                 : json_string_value(json_object_get(rec, "final_status"))
                     ? json_string_value(json_object_get(rec, "final_status"))
                     : "");
    }
    if (jx__sha256(line, len, j->prev) != 0)
        tampered(j, v->line_no, "SHA-256 failed");
    if (seq == 0)
        memcpy(j->first, j->prev, sizeof j->first);
    j->next_seq++;
    j->last_line = v->line_no;
}

/* Whether rec opens a run: job_started (job_created in an audit trail)
 * at seq 0. */
static int opens_run(json_t *rec)
{
    json_t *seq = json_object_get(rec, "seq");
    const char *event = json_string_value(json_object_get(rec, "event"));

    return json_is_integer(seq) && json_integer_value(seq) == 0 &&
           event != NULL &&
           (jx__record_kind_of(event) == JX_RECORD_JOB_STARTED ||
            jx__audit_kind_of(event) == 0);
}

/* A job_started of a job already in the file: another run, unless it is
 * a copy of an earlier run's first line.  Returns the run to check the
 * line against, or NULL when the line is settled (a copy: the job's
 * latest run is tampered) or memory ran out (*oom). */
static vjob *another_run(verifier *v, vjob *latest, const char *line,
                         size_t len, int *oom)
{
    unsigned char digest[JX__SHA256_LEN];
    char id[JX__UUID_LEN + 1]; /* add_job may move the runs, latest with them */

    /* A job whose first line was not a good job_started has not started:
     * this one is that run's, out of place. */
    if (latest->next_seq == 0)
        return latest;
    if (jx__sha256(line, len, digest) != 0) {
        *oom = 1;
        return NULL;
    }
    for (vjob *r = latest; r != NULL; r = earlier_run(v, r))
        if (r->next_seq > 0 && memcmp(r->first, digest, sizeof digest) == 0) {
            tampered(latest, v->line_no, "a copy of line %lu, the "
                                         "job_started of run %u of this "
                                         "job: the line was copied",
                     r->first_line, r->run);
            return NULL;
        }
    memcpy(id, latest->job_id, sizeof id);
    if ((latest = add_job(v, id)) == NULL)
        *oom = 1;
    return latest;
}

/* The run a record continues: the open run whose chain it extends (runs
 * of one job may interleave).  When none does, the record is judged
 * against a run already found broken, else the latest. */
static vjob *continued_run(verifier *v, vjob *latest, json_t *rec)
{
    json_t *jseq = json_object_get(rec, "seq");
    const char *prev = json_string_value(json_object_get(rec, "prev"));
    char head[2 * JX__SHA256_LEN + 1];
    vjob *broken = NULL;

    if (latest->earlier == 0)
        return latest;
    for (vjob *r = latest; r != NULL; r = earlier_run(v, r)) {
        if (r->bad_line != 0) {
            broken = broken != NULL ? broken : r;
            continue;
        }
        jx__hex(r->prev, sizeof r->prev, head);
        if (!r->sealed && json_is_integer(jseq) &&
            (uint64_t)json_integer_value(jseq) == r->next_seq &&
            prev != NULL && strcmp(prev, head) == 0)
            return r;
    }
    return broken != NULL ? broken : latest;
}

/*
 * A record that another writer marked as torn (log.c): what is left of a
 * record whose writer was killed mid-write.  It ends its job's run, which
 * is incomplete; anything of the run after it is tampering, as is a torn
 * record after the run's seal.  A torn job_started starts a run of its
 * own.  One that names no job is a line of no job.
 */
static int torn_record(verifier *v, const char *line, size_t len)
{
    static const char key[] = "\"job_id\":\"";
    const char *p = memmem(line, len, key, sizeof key - 1);
    char id[JX__UUID_LEN + 1];
    vjob *j;

    if (p == NULL || (size_t)(line + len - p) < sizeof key - 1 + JX__UUID_LEN) {
        stray(v, "a torn record that names no job");
        return 0;
    }
    memcpy(id, p + sizeof key - 1, JX__UUID_LEN);
    id[JX__UUID_LEN] = '\0';
    if (!is_uuid(id)) {
        stray(v, "a torn record that names no job");
        return 0;
    }
    j = find_job(v, id);
    if (j == NULL && (j = add_job(v, id)) == NULL)
        return -1;
    if (j->sealed)
        tampered(j, v->line_no, "a torn record after the job's seal");
    else if (j->torn_line == 0)
        j->torn_line = v->line_no;
    else
        tampered(j, v->line_no, "a second torn record (line %lu was one)",
                 j->torn_line);
    j->torn = 1;
    return 0;
}

/* Whether the line ends with the mark a writer adds to a torn record. */
static int marked_torn(const char *line, size_t len)
{
    size_t mark_len = sizeof JX__TORN_MARK - 1;

    return len > mark_len &&
           memcmp(line + len - mark_len, JX__TORN_MARK, mark_len) == 0;
}

static int check_line(verifier *v, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *rec;
    const char *id;
    vjob *j;
    int oom = 0;

    if (marked_torn(line, len))
        return torn_record(v, line, len - (sizeof JX__TORN_MARK - 1));
    rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    id = json_string_value(json_object_get(rec, "job_id"));
    if (id == NULL || !is_uuid(id)) {
        /* A damaged line that still names its job breaks that job; one
         * that names none is foreign to the file. */
        j = claimed_job(v, line, len);
        if (j != NULL)
            tampered(j, v->line_no, "not a valid record: %s",
                     rec == NULL ? jerr.text : "job_id missing or malformed");
        else
            stray(v, rec == NULL ? jerr.text : "not a record of any job");
        json_decref(rec);
        return 0;
    }
    j = find_job(v, id);
    if (j == NULL)
        oom = (j = add_job(v, id)) == NULL;
    else if (opens_run(rec))
        j = another_run(v, j, line, len, &oom);
    else
        j = continued_run(v, j, rec);
    if (j != NULL && j->bad_line == 0)
        check_chain(v, j, line, len, rec);
    json_decref(rec);
    return oom ? -1 : 0;
}

/*
 * A last line without its newline: what a crash mid-append leaves.  A
 * writer that died while it held the log mapped (log.c) leaves a zero
 * tail instead: zeros after its last whole line, perhaps after part of a
 * record it was copying.  It is the same interrupted write and reads the
 * same: what comes before the first NUL (no record holds one) is the
 * torn record, if anything.
 */
static void torn_tail(verifier *v, const char *line, size_t len)
{
    const char *nul = memchr(line, '\0', len);
    vjob *j = claimed_job(v, line, nul != NULL ? (size_t)(nul - line) : len);

    v->sum->torn_tail = 1;
    if (j == NULL)
        return;
    if (j->sealed)
        tampered(j, v->line_no, "a torn record after the job's seal");
    else
        j->torn = 1;
}

/* ---- reporting --------------------------------------------------------- */

static const char *torn_reason(const vjob *j, char *why, size_t why_len)
{
    snprintf(why, why_len, "no seal: line %lu is a torn record of this "
                           "job: its writer died mid-write",
             j->torn_line);
    return why;
}

static int report(verifier *v, vjob *j)
{
    char why[REASON_SIZE];
    jx_job_report r = {
        .job_id = j->job_id,
        .run = j->run,
        .runs = find_job(v, j->job_id)->run,
        .records = j->next_seq,
        .first_line = j->first_line,
        .bad_line = j->bad_line,
        .torn = j->torn,
        .signed_seal = j->signed_seal,
        .signature_checked = j->signature_checked,
        .final_status = j->sealed ? j->final_status : NULL,
    };

    if (j->bad_line != 0) {
        r.verdict = JX_VERDICT_TAMPERED;
        r.reason = j->reason;
        v->sum->tampered++;
    } else if (!j->sealed) {
        r.verdict = JX_VERDICT_INCOMPLETE;
        r.reason = j->torn_line != 0
                       ? torn_reason(j, why, sizeof why)
                   : j->torn ? "no seal: the file ends in a torn record of "
                               "this job (a write was interrupted)"
                             : "no seal: the job was interrupted, or the "
                               "log's tail was cut";
        v->sum->incomplete++;
    } else {
        r.verdict = JX_VERDICT_VALID;
        r.reason = "";
        v->sum->valid++;
    }
    v->sum->jobs++;
    if (v->opts->on_job != NULL && v->opts->on_job(&r, v->opts->user) != 0)
        return -1;
    return 0;
}

static int report_all(verifier *v, const char *path, jx_error *err)
{
    const char *only = v->opts->job_id;
    int found = 0;

    for (size_t i = 0; v->jobs != NULL && i < v->n_jobs; i++) {
        if (only != NULL && strcmp(only, v->jobs[i].job_id) != 0)
            continue;
        found = 1;
        if (report(v, &v->jobs[i]) != 0)
            break;
    }
    if (only != NULL && !found)
        return jx__fail(err, JX_EINVAL, "%s: no record of job %s", path,
                        only);
    return 0;
}

/* ---- the file ---------------------------------------------------------- */

static int read_log(verifier *v, FILE *fp, const char *path, jx_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    errno = 0;
    while ((n = getline(&line, &cap, fp)) > 0) {
        v->line_no++;
        v->sum->lines++;
        if (line[n - 1] != '\n') {
            torn_tail(v, line, (size_t)n);
            break;
        }
        if (check_line(v, line, (size_t)n - 1) != 0) {
            rc = jx__fail(err, JX_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == 0 && ferror(fp))
        rc = jx__fail(err, JX_EIO, "%s: cannot read: %s", path,
                      strerror(errno));
    free(line);
    return rc;
}

/* Sets v up for opts, reading the public key when there is one. */
static int verifier_init(verifier *v, const jx_verify_options *opts,
                         jx_verify_summary *sum, jx_error *err)
{
    static const jx_verify_options none = {NULL, NULL, NULL, NULL};

    *v = (verifier){.opts = opts != NULL ? opts : &none, .sum = sum};
    memset(sum, 0, sizeof *sum);
    if (v->opts->pubkey_path != NULL) {
        int rc = jx__pubkey_load(v->opts->pubkey_path, v->pk, err);
        if (rc != 0)
            return rc;
        v->have_key = 1;
        jx__key_id(v->pk, v->key_id);
    }
    return 0;
}

/* Reads fp to its end, reports, and frees what v holds. */
static int verify_stream(verifier *v, FILE *fp, const char *name,
                         jx_error *err)
{
    int rc = read_log(v, fp, name, err);

    if (rc == 0)
        rc = report_all(v, name, err);
    free(v->jobs);
    free(v->slots);
    return rc;
}

int jx__evidence_verify_stream(FILE *fp, const char *name,
                               const jx_verify_options *opts,
                               jx_verify_summary *sum, jx_error *err)
{
    verifier v;
    int rc = verifier_init(&v, opts, sum, err);

    return rc != 0 ? rc : verify_stream(&v, fp, name, err);
}

/* Every line of the log is hashed: a large one is worth the faster
 * SHA-256. */
static void expect_hashing(FILE *fp)
{
    struct stat st;

    if (fstat(fileno(fp), &st) == 0 && st.st_size > 0)
        jx__sha256_expect((size_t)st.st_size);
}

int jx_evidence_verify(const char *path, const jx_verify_options *opts,
                       jx_verify_summary *sum, jx_error *err)
{
    verifier v;
    FILE *fp;
    int rc;

    if (path == NULL || sum == NULL)
        return jx__fail(err, JX_EINVAL, "jx_evidence_verify: NULL path or "
                                        "summary");
    /* The key first: a bad key is reported even when the log is missing
     * too. */
    if ((rc = verifier_init(&v, opts, sum, err)) != 0)
        return rc;
    fp = fopen(path, "re");
    if (fp == NULL)
        return jx__fail(err, JX_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    expect_hashing(fp);
    rc = verify_stream(&v, fp, path, err);
    fclose(fp);
    return rc;
}

int jx_keygen(const char *secret_path, char key_id[17], jx_error *err)
{
    if (secret_path == NULL || key_id == NULL)
        return jx__fail(err, JX_EINVAL, "jx_keygen: NULL argument");
    return jx__keygen(secret_path, key_id, err);
}
