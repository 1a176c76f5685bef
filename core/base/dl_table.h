/*
 * dl_table.h - a library loaded on first use: dlopen() by soname and a
 * table of its functions filled with dlsym().
 */
#ifndef JX__BASE_DL_TABLE_H
#define JX__BASE_DL_TABLE_H

#include <stddef.h>

/* One function to find, and where its address goes. */
typedef struct jx__dl_symbol {
    const char *name;
    void **slot;
} jx__dl_symbol;

/*
 * Opens soname, for the process's life (the slots point into it), and
 * fills the n slots.  Returns 0; or -1 when the library cannot be opened
 * (dlerror() says why) or lacks a symbol (*missing names it).
 */
int jx__dl_table(const char *soname, const jx__dl_symbol *symbols, size_t n,
                 const char **missing);

#endif
