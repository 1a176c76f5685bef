/*
 * fuzz_config.c - the config parser: an ops config's bytes through
 * jx_config_parse() (nothing is loaded: plugin paths are only resolved),
 * and the same bytes as one plugin entry alone, as
 * `jobexec plugin check --config-section` takes it.
 */
#include "config.h"

#include "base/common.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    jx_error err = {0, ""};
    jx_config *cfg = NULL;

    if (jx_config_parse(text, size, "fuzz", "/nonexistent/plugins", &cfg,
                        &err) == 0)
        jx_config_free(cfg);
    cfg = NULL;
    if (jx_config_parse_plugin(text, size, "fuzz", NULL,
                               "/nonexistent/plugins", 0, &cfg, &err) == 0)
        jx_config_free(cfg);
    return 0;
}
