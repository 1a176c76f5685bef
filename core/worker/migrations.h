/*
 * migrations.h - the governance store's schema, as numbered migrations
 * (core/worker/migrations/NNNN_name.sql, compiled in by
 * scripts/embed-sql.sh).
 */
#ifndef JX__WORKER_MIGRATIONS_H
#define JX__WORKER_MIGRATIONS_H

#include <stddef.h>

typedef struct jx__migration {
    unsigned version; /* NNNN of the file's name */
    const char *name; /* the file's name without .sql */
    const char *sql;
} jx__migration;

/* In order of version, from 1 without gaps. */
extern const jx__migration jx__migrations[];
extern const size_t jx__n_migrations;

#endif
