/*
 * dl_table.c - see dl_table.h.
 */
#include "config.h"

#include <dlfcn.h>

#include "base/dl_table.h"

int jx__dl_table(const char *soname, const jx__dl_symbol *symbols, size_t n,
                 const char **missing)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    *missing = NULL;
    if (lib == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((*symbols[i].slot = dlsym(lib, symbols[i].name)) == NULL) {
            *missing = symbols[i].name;
            return -1;
        }
    return 0;
}
