/*
 * pq_load.c - libpq, loaded on first use (see pg.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "base/dl_table.h"
#include "worker/pg.h"

/* The soname of the libpq the build was made against (Debian: libpq5). */
#ifndef JX__LIBPQ_SONAME
#define JX__LIBPQ_SONAME "libpq.so.5"
#endif

struct jx__pq_api jx__pq;

static const jx__dl_symbol symbols[] = {
    {"PQclear", (void **)&jx__pq.f_PQclear},
    {"PQcmdTuples", (void **)&jx__pq.f_PQcmdTuples},
    {"PQconnectdb", (void **)&jx__pq.f_PQconnectdb},
    {"PQconsumeInput", (void **)&jx__pq.f_PQconsumeInput},
    {"PQenterPipelineMode", (void **)&jx__pq.f_PQenterPipelineMode},
    {"PQerrorMessage", (void **)&jx__pq.f_PQerrorMessage},
    {"PQexec", (void **)&jx__pq.f_PQexec},
    {"PQexecParams", (void **)&jx__pq.f_PQexecParams},
    {"PQexecPrepared", (void **)&jx__pq.f_PQexecPrepared},
    {"PQexitPipelineMode", (void **)&jx__pq.f_PQexitPipelineMode},
    {"PQfinish", (void **)&jx__pq.f_PQfinish},
    {"PQfreemem", (void **)&jx__pq.f_PQfreemem},
    {"PQgetResult", (void **)&jx__pq.f_PQgetResult},
    {"PQgetisnull", (void **)&jx__pq.f_PQgetisnull},
    {"PQgetvalue", (void **)&jx__pq.f_PQgetvalue},
    {"PQnotifies", (void **)&jx__pq.f_PQnotifies},
    {"PQntuples", (void **)&jx__pq.f_PQntuples},
    {"PQpipelineSync", (void **)&jx__pq.f_PQpipelineSync},
    {"PQprepare", (void **)&jx__pq.f_PQprepare},
    {"PQresultErrorField", (void **)&jx__pq.f_PQresultErrorField},
    {"PQresultErrorMessage", (void **)&jx__pq.f_PQresultErrorMessage},
    {"PQresultStatus", (void **)&jx__pq.f_PQresultStatus},
    {"PQsendQueryPrepared", (void **)&jx__pq.f_PQsendQueryPrepared},
    {"PQsetNoticeProcessor", (void **)&jx__pq.f_PQsetNoticeProcessor},
    {"PQsocket", (void **)&jx__pq.f_PQsocket},
    {"PQstatus", (void **)&jx__pq.f_PQstatus}
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[512]; /* empty once loaded */

static void load(void)
{
    const char *missing;

    if (jx__dl_table(JX__LIBPQ_SONAME, symbols,
                     sizeof symbols / sizeof *symbols, &missing) == 0)
        return;
    if (missing == NULL)
        snprintf(why, sizeof why,
                 "the PostgreSQL client library cannot be loaded (%s; "
                 "Debian: apt-get install libpq5)",
                 dlerror());
    else
        snprintf(why, sizeof why, "%s has no %s: libpq 14 or later is needed",
                 JX__LIBPQ_SONAME, missing);
}

int jx__pq_load(jx_error *err)
{
    pthread_once(&once, load);
    return why[0] == '\0' ? 0 : jx__fail(err, JX_EIO, "%s", why);
}
