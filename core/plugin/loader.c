/*
 * loader.c - opens plugin modules the way sudo and PostgreSQL do: the file
 * and every folder above it are checked before anything is mapped, the
 * descriptor is checked (magic, then version, then size) before any of the
 * plugin's code is called, and every refusal says where and why.
 *
 * These checks catch accidents (a world-writable folder, a stale build of a
 * plugin); they do not make hostile code safe.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ltdl.h>

#include "plugin/host.h"
#include "plugin/loader.h"

#define HANDLER_V1_0_SIZE                                                     \
    (offsetof(step_handler_v1, fini) + sizeof(((step_handler_v1 *)0)->fini))
#define OBSERVER_V1_0_SIZE                                                    \
    (offsetof(health_observer_v1, fini) +                                     \
     sizeof(((health_observer_v1 *)0)->fini))

static pthread_mutex_t ltdl_lock = PTHREAD_MUTEX_INITIALIZER;

int jx__ltdl_acquire(jx_error *err)
{
    int rc;
    pthread_mutex_lock(&ltdl_lock);
    rc = lt_dlinit();
    pthread_mutex_unlock(&ltdl_lock);
    return rc == 0 ? 0 : jx__fail(err, JX_EINTERNAL, "libltdl: cannot start");
}

void jx__ltdl_release(void)
{
    pthread_mutex_lock(&ltdl_lock);
    lt_dlexit();
    pthread_mutex_unlock(&ltdl_lock);
}

static int refuse(jx_error *err, int code, const jx__origin *o,
                  const char *fmt, ...) JX__PRINTF(4, 5);

static int refuse(jx_error *err, int code, const jx__origin *o,
                  const char *fmt, ...)
{
    char why[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (o->file != NULL)
        return jx__fail(err, code, "%s:%u:%u: plugin '%s': %s", o->file,
                        o->line, o->col, o->path, why);
    return jx__fail(err, code, "plugin '%s': %s", o->path, why);
}

static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

static int owner_ok(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

/* A world-writable folder with the sticky bit (/tmp) lets nobody replace
 * what others own in it; anything else writable by group/others is unsafe. */
static int folder_mode_ok(const struct stat *st)
{
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
        return 1;
    return (st->st_mode & S_ISVTX) != 0;
}

static int check_folders(const char *real, const jx__origin *o, jx_error *err)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof dir, "%s", real);
    while ((slash = strrchr(dir, '/')) != NULL) {
        struct stat st;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(dir, &st) != 0)
            return refuse(err, JX_ELOAD, o, "cannot inspect folder '%s': %s",
                          dir, strerror(errno));
        if (!owner_ok(&st))
            return refuse(err, JX_ELOAD, o,
                          "folder '%s' is owned by uid %u, expected root or "
                          "the running user (uid %u)",
                          dir, (unsigned)st.st_uid, (unsigned)geteuid());
        if (!folder_mode_ok(&st))
            return refuse(err, JX_ELOAD, o,
                          "folder '%s' is writable by group or others "
                          "(mode %04o), expected it writable by its owner "
                          "only",
                          dir, (unsigned)(st.st_mode & 07777));
        if (strcmp(dir, "/") == 0)
            break;
    }
    return 0;
}

/* The sudo checks, done on the file that will be mapped. */
static int check_file(const char *path, const jx__origin *o, jx_error *err)
{
    char real[PATH_MAX];
    struct stat st;

    if (lstat(path, &st) != 0)
        return refuse(err, JX_ELOAD, o, "cannot open: %s", strerror(errno));
    if (realpath(path, real) == NULL || stat(real, &st) != 0)
        return refuse(err, JX_ELOAD, o, "cannot resolve: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(err, JX_ELOAD, o, "%s, expected a regular file",
                      kind_of(st.st_mode));
    if (!owner_ok(&st))
        return refuse(err, JX_ELOAD, o,
                      "owned by uid %u, expected root or the running user "
                      "(uid %u)",
                      (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return refuse(err, JX_ELOAD, o,
                      "writable by group or others (mode %04o), expected it "
                      "writable by its owner only",
                      (unsigned)(st.st_mode & 07777));
    return check_folders(real, o, err);
}

static int check_header(uint64_t magic, uint32_t version, uint32_t size,
                        uint64_t want_magic, size_t min_size,
                        const char *symbol, const jx__origin *o,
                        jx_error *err)
{
    if (magic != want_magic)
        return refuse(err, JX_EABI, o,
                      "%s has magic 0x%016llx, expected 0x%016llx",
                      symbol, (unsigned long long)magic,
                      (unsigned long long)want_magic);
    if (version != JX_ABI_VERSION)
        return refuse(err, JX_EABI, o, "%s has abi_version %u, expected %u",
                      symbol, (unsigned)version, JX_ABI_VERSION);
    if (size < min_size)
        return refuse(err, JX_EABI, o,
                      "%s has struct_size %u, expected at least %zu", symbol,
                      (unsigned)size, min_size);
    return 0;
}

int jx__check_handler(const step_handler_v1 *d, const jx__origin *o,
                      jx_error *err)
{
    int rc = check_header(d->magic, d->abi_version, d->struct_size,
                          JX_STEP_HANDLER_MAGIC, HANDLER_V1_0_SIZE,
                          "step_handler_v1", o, err);
    if (rc != 0)
        return rc;
    if (d->name == NULL || d->name[0] == '\0')
        return refuse(err, JX_EABI, o, "step_handler_v1 has no name");
    if (d->version == NULL)
        return refuse(err, JX_EABI, o, "step_handler_v1 has no version");
    if (d->execute == NULL)
        return refuse(err, JX_EABI, o, "step_handler_v1 has no execute");
    return 0;
}

int jx__check_observer(const health_observer_v1 *d, const jx__origin *o,
                       jx_error *err)
{
    int rc = check_header(d->magic, d->abi_version, d->struct_size,
                          JX_HEALTH_OBSERVER_MAGIC, OBSERVER_V1_0_SIZE,
                          "health_observer_v1", o, err);
    if (rc != 0)
        return rc;
    if (d->name == NULL || d->name[0] == '\0')
        return refuse(err, JX_EABI, o, "health_observer_v1 has no name");
    if (d->version == NULL)
        return refuse(err, JX_EABI, o, "health_observer_v1 has no version");
    if (d->observe == NULL)
        return refuse(err, JX_EABI, o, "health_observer_v1 has no observe");
    return 0;
}

static jx__plugin *plugin_new(const char *path, const char *written,
                              const json_t *config)
{
    jx__plugin *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->path = strdup(path);
    p->written = strdup(written);
    p->config = config != NULL ? json_deep_copy(config) : json_object();
    if (p->path == NULL || p->written == NULL || p->config == NULL) {
        jx__plugin_free(p);
        return NULL;
    }
    return p;
}

/* Modules linked into the program with -dlpreopen are found by name, with
 * no file to check: they are part of the trusted binary. */
static lt_dlhandle open_preloaded(const char *name)
{
    lt_dladvise advise;
    lt_dlhandle h = NULL;

    if (strchr(name, '/') != NULL || strchr(name, '.') != NULL)
        return NULL;
    if (lt_dladvise_init(&advise) == 0 && lt_dladvise_preload(&advise) == 0)
        h = lt_dlopenadvise(name, advise);
    lt_dladvise_destroy(&advise);
    return h;
}

static lt_dlhandle open_file(const char *path, const char **why)
{
    lt_dladvise advise;
    lt_dlhandle h = NULL;

    /* Local symbols: one plugin's globals never satisfy another's. */
    if (lt_dladvise_init(&advise) == 0 && lt_dladvise_local(&advise) == 0)
        h = lt_dlopenadvise(path, advise);
    if (h == NULL)
        *why = lt_dlerror();
    lt_dladvise_destroy(&advise);
    return h;
}

/* The symbol prefix libltdl tries for a module file: its name up to the
 * first dot, every other character than a letter or digit made '_'
 * ("sleepy-v2.so": "sleepy_v2").  A module renamed after it was built
 * still carries the old one. */
static void module_prefix(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    size_t n = 0;

    base = base != NULL ? base + 1 : path;
    for (; *base != '\0' && *base != '.' && n + 1 < size; base++)
        out[n++] = isalnum((unsigned char)*base) ? *base : '_';
    out[n] = '\0';
}

static int find_descriptors(jx__plugin *p, const jx__origin *o, jx_error *err)
{
    char prefix[128];
    int rc;

    pthread_mutex_lock(&ltdl_lock);
    p->handler = lt_dlsym(p->module, "step_handler_v1");
    p->observer = lt_dlsym(p->module, "health_observer_v1");
    pthread_mutex_unlock(&ltdl_lock);
    module_prefix(o->path, prefix, sizeof prefix);
    if (p->handler == NULL && p->observer == NULL)
        return refuse(err, JX_EABI, o,
                      "exports neither step_handler_v1 nor "
                      "health_observer_v1: looked for %s_LTX_step_handler_v1 "
                      "and %s_LTX_health_observer_v1, as JX_STEP_HANDLER(%s) "
                      "and JX_HEALTH_OBSERVER(%s) name them (the prefix comes "
                      "from the file's name: a module renamed after it was "
                      "built keeps its old one)",
                      prefix, prefix, prefix, prefix);
    if (p->handler != NULL && (rc = jx__check_handler(p->handler, o, err)))
        return rc;
    if (p->observer != NULL && (rc = jx__check_observer(p->observer, o, err)))
        return rc;
    return 0;
}

int jx__plugin_open(const jx__plugin_conf *pc, const char *config_name,
                    jx__plugin **out, jx_error *err)
{
    jx__origin o = {config_name, pc->line, pc->col, pc->path};
    const char *why = NULL;
    lt_dlhandle module;
    jx__plugin *p;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&ltdl_lock);
    module = open_preloaded(pc->path_written);
    pthread_mutex_unlock(&ltdl_lock);
    const char *shown = module != NULL ? "(preloaded)" : pc->path;
    if (module == NULL) {
        if ((rc = check_file(pc->path, &o, err)) != 0)
            return rc;
        pthread_mutex_lock(&ltdl_lock);
        module = open_file(pc->path, &why);
        pthread_mutex_unlock(&ltdl_lock);
        if (module == NULL)
            return refuse(err, JX_ELOAD, &o, "cannot load: %s",
                          why != NULL ? why : "unknown libltdl error");
    }
    p = plugin_new(shown, pc->path_written, pc->config);
    if (p == NULL) {
        pthread_mutex_lock(&ltdl_lock);
        lt_dlclose(module);
        pthread_mutex_unlock(&ltdl_lock);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    p->module = module;
    if ((rc = find_descriptors(p, &o, err)) != 0) {
        jx__plugin_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int jx__plugin_is_preloaded(const char *name)
{
    lt_dlhandle h;

    pthread_mutex_lock(&ltdl_lock);
    h = open_preloaded(name);
    if (h != NULL)
        lt_dlclose(h);
    pthread_mutex_unlock(&ltdl_lock);
    return h != NULL;
}

int jx__plugin_check_path(const jx__plugin_conf *pc, const char *config_name,
                          jx_error *err)
{
    jx__origin o = {config_name, pc->line, pc->col, pc->path};
    return check_file(pc->path, &o, err);
}

int jx__plugin_proxy(const jx__plugin_conf *pc, const step_handler_v1 *desc,
                     void *state, jx__plugin **out, jx_error *err)
{
    jx__plugin *p = plugin_new(pc->path, pc->path_written, pc->config);

    *out = NULL;
    if (p == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    p->handler = desc;
    p->handler_state = state;
    p->handler_ready = 1; /* its fini releases the proxy */
    p->isolated = 1;
    *out = p;
    return 0;
}

int jx__plugin_wrap(const step_handler_v1 *handler,
                    const health_observer_v1 *observer,
                    const char *config_json, jx__plugin **out, jx_error *err)
{
    jx__origin o = {NULL, 0, 0, "(in-process)"};
    json_t *config = NULL;
    json_error_t jerr;
    jx__plugin *p;
    int rc;

    *out = NULL;
    if (handler == NULL && observer == NULL)
        return jx__fail(err, JX_EINVAL, "in-process plugin: no descriptor");
    if (handler != NULL && (rc = jx__check_handler(handler, &o, err)) != 0)
        return rc;
    if (observer != NULL && (rc = jx__check_observer(observer, &o, err)) != 0)
        return rc;
    if (config_json != NULL) {
        config = json_loads(config_json, JSON_REJECT_DUPLICATES, &jerr);
        if (config == NULL || !json_is_object(config)) {
            json_decref(config);
            return jx__fail(err, JX_EINVAL,
                            "in-process plugin config: %s at %d:%d",
                            config == NULL ? jerr.text : "not a JSON object",
                            jerr.line, jerr.column);
        }
    }
    p = plugin_new("(in-process)", handler != NULL ? handler->name
                                                   : observer->name,
                   config);
    json_decref(config);
    if (p == NULL)
        return jx__fail(err, JX_ENOMEM, "out of memory");
    p->handler = handler;
    p->observer = observer;
    *out = p;
    return 0;
}

typedef int (*init_fn)(const jx_host_v1 *, const jx_plugin_config *, void **,
                       char *, size_t);

static int call_init(jx__plugin *p, init_fn init, void **state,
                     const jx__origin *o, jx_error *err)
{
    jx_plugin_config view = {p->config, NULL};
    char why[512] = "";
    int rc;

    *state = NULL;
    if (init == NULL)
        return 0;
    jx__log_plugin = jx__plugin_name(p);
    rc = init(&jx__host, &view, state, why, sizeof why);
    jx__log_plugin = NULL;
    jx__scratch_free(&view.scratch);
    if (rc != 0) {
        why[sizeof why - 1] = '\0';
        return refuse(err, JX_EINIT, o, "init failed: %s",
                      why[0] != '\0' ? why : "(no reason given)");
    }
    return 0;
}

int jx__plugin_init_handler(jx__plugin *p, const jx__origin *o, jx_error *err)
{
    int rc = call_init(p, p->handler->init, &p->handler_state, o, err);
    p->handler_ready = rc == 0;
    return rc;
}

int jx__plugin_init_observer(jx__plugin *p, const jx__origin *o,
                             jx_error *err)
{
    int rc = call_init(p, p->observer->init, &p->observer_state, o, err);
    p->observer_ready = rc == 0;
    return rc;
}

void jx__plugin_free(jx__plugin *p)
{
    if (p == NULL)
        return;
    jx__log_plugin = jx__plugin_name(p);
    if (p->handler_ready && p->handler->fini != NULL)
        p->handler->fini(p->handler_state);
    if (p->observer_ready && p->observer->fini != NULL)
        p->observer->fini(p->observer_state);
    jx__log_plugin = NULL;
    if (p->module != NULL) {
        pthread_mutex_lock(&ltdl_lock);
        lt_dlclose(p->module);
        pthread_mutex_unlock(&ltdl_lock);
    }
    for (size_t i = 0; i < p->n_bound; i++)
        free(p->bound[i]);
    free(p->bound);
    free(p->runner_user);
    json_decref(p->config);
    free(p->path);
    free(p->written);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
