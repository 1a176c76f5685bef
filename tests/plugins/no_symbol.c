/* no_symbol - a module that exports no jobexec descriptor at all. */
int no_symbol_placeholder(void);

int no_symbol_placeholder(void) { return 42; }
