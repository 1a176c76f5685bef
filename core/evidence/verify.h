/*
 * verify.h - checking an evidence log (or an audit trail) from a stream,
 * behind jx_evidence_verify(), which opens the file by name.
 */
#ifndef JX__EVIDENCE_VERIFY_H
#define JX__EVIDENCE_VERIFY_H

#include <stdio.h>

#include "base/common.h"

/*
 * jx_evidence_verify() on what fp holds, read to its end; name stands
 * for the file in messages.  fp stays the caller's.  The same returns and
 * verdicts: the fuzz target feeds it bytes from memory.
 */
int jx__evidence_verify_stream(FILE *fp, const char *name,
                               const jx_verify_options *opts,
                               jx_verify_summary *sum, jx_error *err);

#endif
