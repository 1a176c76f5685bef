/*
 * version.c - what the library says about its build: its version and the
 * plugin folder of its installation.
 */
#include "config.h"

#include "base/common.h"

const char *jx_version(void) { return JX_VERSION_STRING; }

const char *jx_default_plugin_dir(void) { return JX__PLUGINDIR; }
