/*
 * confine.c - the runner's confinement: resource limits, an unprivileged
 * user when started as root, no_new_privs.  Applied before the plugin is
 * opened, so its init already runs confined.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runner/confine.h"

static int set_limit(int resource, int64_t value, const char *what,
                     jx_error *err)
{
    struct rlimit rl = {(rlim_t)value, (rlim_t)value};

    if (setrlimit(resource, &rl) != 0)
        return jx__fail(err, JX_ELOAD, "runner: cannot limit %s: %s", what,
                        strerror(errno));
    return 0;
}

int jx__runner_confine(const jx__msg_load *load, jx_error *err)
{
    int rc;

    if ((rc = set_limit(RLIMIT_CORE, 0, "core dumps", err)) ||
        (rc = set_limit(RLIMIT_CPU, load->cpu_seconds, "CPU time", err)) ||
        (rc = set_limit(RLIMIT_NOFILE, load->open_files, "open files", err)))
        return rc;
#if !defined(__SANITIZE_ADDRESS__)
    /* ASan's shadow memory alone exceeds any sane limit. */
    if ((rc = set_limit(RLIMIT_AS, load->address_space_mb * 1024 * 1024,
                        "address space", err)))
        return rc;
#endif
    if (load->drop) {
        gid_t gid = (gid_t)load->gid;
        uid_t uid = (uid_t)load->uid;
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            return jx__fail(err, JX_ELOAD, "runner: cannot switch to uid %u "
                                           "gid %u: %s",
                            (unsigned)uid, (unsigned)gid, strerror(errno));
    }
    /* No PR_SET_PDEATHSIG: its "parent" is the thread that spawned the
     * runner, and a worker's job threads come and go.  The runner ends
     * when the core closes the channel instead. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return jx__fail(err, JX_ELOAD, "runner: no_new_privs: %s",
                        strerror(errno));
    return 0;
}

void jx__runner_limits_hint(const jx__msg_load *load, jx_error *err)
{
    size_t len = strlen(err->message);

    snprintf(err->message + len, sizeof err->message - len,
             " (in the runner, under runner.max_address_space_mb: %" PRId64
             " and runner.max_open_files: %" PRId64 ")",
             load->address_space_mb, load->open_files);
}

void jx__runner_user_hint(jx_error *err)
{
    const struct passwd *pw = getpwuid(geteuid());
    const struct group *gr = getgrgid(getegid());
    size_t len = strlen(err->message);

    snprintf(err->message + len, sizeof err->message - len,
             " (the runner runs as %s:%s, who must be able to read the module "
             "and search every folder above it)",
             pw != NULL ? pw->pw_name : "?", gr != NULL ? gr->gr_name : "?");
}
