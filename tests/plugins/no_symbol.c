/*
 * no_symbol - a valid shared module that exports neither step_handler_v1
 * nor health_observer_v1: the loader opens it and must refuse it for the
 * missing descriptor, not for being unloadable.
 */

int no_symbol_placeholder(void);

/* Something to export, so that the module is not empty. */
int no_symbol_placeholder(void)
{
    return 42;
}
