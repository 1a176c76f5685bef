/*
 * keygen.c - `jobexec keygen FILE`: a key pair for sealing evidence.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define prog jx__cli_prog

static void usage_keygen(FILE *fp)
{
    fprintf(fp,
            "Usage: %s keygen FILE\n"
            "Write a new Ed25519 key pair for sealing evidence: FILE holds "
            "the secret key\n(mode 0600; set evidence.signing_key to it) and "
            "FILE.pub the public key\n(give it to `%s evidence verify "
            "--pubkey`).  Existing files are never\noverwritten.\n",
            prog, prog);
}

static int cmd_keygen(const options *o)
{
    const char *path = o->operand;
    size_t len = strlen(path);
    char key_id[17];
    jx_error err = {0, ""};
    struct stat st;

    /* jx_keygen would only see that the name exists. */
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: is a directory; name a file in it for the "
                        "secret key, e.g. %s%sevidence.key\n",
                prog, path, path,
                len > 0 && path[len - 1] == '/' ? "" : "/");
        return EXIT_USAGE;
    }
    if (jx_keygen(o->operand, key_id, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return err.code == JX_EINTERNAL ? EXIT_INTERNAL : EXIT_USAGE;
    }
    printf("secret key: %s\npublic key: %s.pub\nkey id: %s\n", o->operand,
           o->operand, key_id);
    return EXIT_COMPLETED;
}

static const struct option keygen_options[] = {
    JX__CLI_OPT_HELP, JX__CLI_OPT_VERSION, JX__CLI_OPT_END,
};

const jx__cli_command jx__cli_keygen = {
    "keygen", cmd_keygen, usage_keygen, 1, 1,
    "missing FILE (where to write the secret key)", ":hV", keygen_options,
};
