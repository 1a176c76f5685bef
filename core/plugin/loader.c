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
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ltdl.h>

#include "base/file.h"
#include "plugin/host.h"
#include "plugin/loader.h"

#define HANDLER_V1_0_SIZE                                                     \
    (offsetof(step_handler_v1, fini) + sizeof(((step_handler_v1 *)0)->fini))
#define OBSERVER_V1_0_SIZE                                                    \
    (offsetof(health_observer_v1, fini) +                                     \
     sizeof(((health_observer_v1 *)0)->fini))

static pthread_mutex_t ltdl_lock = PTHREAD_MUTEX_INITIALIZER;

void (*jx__loader_checked_hook)(const char *path);

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

/* What a walk may go through: at most this many symbolic links, the
 * kernel's own limit (MAXSYMLINKS). */
#define MAX_LINKS 40

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

static int check_folder(const char *dir, const jx__origin *o, jx_error *err)
{
    struct stat st;

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
                      "(mode %04o), expected it writable by its owner only",
                      dir, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* A walk through a path: `done` is a folder already checked, `rest` what
 * is left to walk below it. */
typedef struct walk {
    char done[PATH_MAX];
    char rest[PATH_MAX];
    unsigned links;
} walk;

static int too_long(const jx__origin *o, jx_error *err)
{
    return refuse(err, JX_ELOAD, o, "cannot resolve: %s",
                  strerror(ENAMETOOLONG));
}

/* Moves the next component of w->rest into comp; 0 when none is left. */
static int next_component(walk *w, char *comp, size_t size)
{
    const char *p = w->rest + strspn(w->rest, "/");
    size_t n = strcspn(p, "/");

    if (n == 0 || n >= size)
        return n == 0 ? 0 : -1;
    memcpy(comp, p, n);
    comp[n] = '\0';
    memmove(w->rest, p + n, strlen(p + n) + 1);
    return 1;
}

/* The symbolic link just met is replaced by what it points to: the walk
 * goes on from its target, from "/" when that is absolute. */
static int follow_link(walk *w, const char *link, const jx__origin *o,
                       jx_error *err)
{
    char target[PATH_MAX], rest[PATH_MAX];
    ssize_t n;
    int len;

    if (++w->links > MAX_LINKS)
        return refuse(err, JX_ELOAD, o, "cannot resolve: %s",
                      strerror(ELOOP));
    n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return refuse(err, JX_ELOAD, o, "cannot resolve: %s",
                      strerror(errno));
    target[n] = '\0';
    len = snprintf(rest, sizeof rest, "%s/%s", target, w->rest);
    if (len < 0 || (size_t)len >= sizeof rest)
        return too_long(o, err);
    memcpy(w->rest, rest, (size_t)len + 1);
    if (target[0] == '/')
        strcpy(w->done, "/");
    return 0;
}

/* "..": the folder above, checked on the way down ("/" is its own). */
static void step_up(walk *w)
{
    char *slash = strrchr(w->done, '/');

    if (slash == w->done)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
}

/*
 * Resolves path into real one component at a time, checking as it goes
 * what OpenSSH's safe_path checks: every folder entered, the folders that
 * hold symbolic links included, must be owned by root or the running user
 * and not writable by group or others, and so must every link.  Then
 * nobody else can have changed anything the walk went through, and real,
 * which holds no symbolic link, names what the walk found.
 */
static int resolve_safely(const char *path, char *real, size_t size,
                          const jx__origin *o, jx_error *err)
{
    walk w = {.done = "/", .links = 0};
    char cwd[PATH_MAX], comp[NAME_MAX + 1], next[PATH_MAX];
    int rc, len;

    if (path[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        return refuse(err, JX_ELOAD, o, "cannot resolve: %s",
                      strerror(errno));
    len = snprintf(w.rest, sizeof w.rest, "%s/%s",
                   path[0] == '/' ? "" : cwd, path);
    if (len < 0 || (size_t)len >= sizeof w.rest)
        return too_long(o, err);
    if ((rc = check_folder("/", o, err)) != 0)
        return rc;
    while ((rc = next_component(&w, comp, sizeof comp)) > 0) {
        struct stat st;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            step_up(&w);
            continue;
        }
        len = snprintf(next, sizeof next, "%s%s%s", w.done,
                       strcmp(w.done, "/") == 0 ? "" : "/", comp);
        if (len < 0 || (size_t)len >= sizeof next)
            return too_long(o, err);
        if (lstat(next, &st) != 0)
            return refuse(err, JX_ELOAD, o, "cannot open: %s",
                          strerror(errno));
        if (S_ISLNK(st.st_mode)) {
            if (!owner_ok(&st))
                return refuse(err, JX_ELOAD, o,
                              "symbolic link '%s' is owned by uid %u, "
                              "expected root or the running user (uid %u)",
                              next, (unsigned)st.st_uid, (unsigned)geteuid());
            if ((rc = follow_link(&w, next, o, err)) != 0)
                return rc;
            continue;
        }
        /* The last component is the file, checked once it is open. */
        if (w.rest[strspn(w.rest, "/")] != '\0') {
            if (!S_ISDIR(st.st_mode))
                return refuse(err, JX_ELOAD, o, "cannot open: %s",
                              strerror(ENOTDIR));
            if ((rc = check_folder(next, o, err)) != 0)
                return rc;
        }
        memcpy(w.done, next, (size_t)len + 1);
    }
    if (rc < 0)
        return too_long(o, err);
    if (strlen(w.done) >= size)
        return too_long(o, err);
    memcpy(real, w.done, strlen(w.done) + 1);
    return 0;
}

/* libltdl reads a .la file and maps the module it names (its dlname),
 * which these checks would never see. */
static int is_libtool_archive(const char *path)
{
    size_t len = strlen(path);

    return len >= 3 && strcmp(path + len - 3, ".la") == 0;
}

/* The sudo checks, on the open file. */
static int check_open_file(int fd, const jx__origin *o, jx_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return refuse(err, JX_ELOAD, o, "cannot inspect: %s",
                      strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(err, JX_ELOAD, o, "%s, expected a regular file",
                      jx__file_kind(st.st_mode));
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
    return 0;
}

/*
 * Opens the module file once and checks the open file, so that what is
 * checked is what gets loaded, whatever happens to the path afterwards:
 * the caller loads through the descriptor (*fd), never through the path.
 * real receives the path with its symbolic links resolved.
 */
static int open_checked(const char *path, int *fd, char *real, size_t size,
                        const jx__origin *o, jx_error *err)
{
    struct stat st;
    int rc;

    *fd = -1;
    if (is_libtool_archive(path))
        return refuse(err, JX_ELOAD, o,
                      "a libtool archive names another file to load, which "
                      "would not be checked: name the module itself (the "
                      "%s)",
                      LT_MODULE_EXT);
    if ((rc = resolve_safely(path, real, size, o, err)) != 0)
        return rc;
    /* Refuse a FIFO or device from its name: opening one could block or
     * have effects. */
    if (lstat(real, &st) != 0)
        return refuse(err, JX_ELOAD, o, "cannot open: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(err, JX_ELOAD, o, "%s, expected a regular file",
                      jx__file_kind(st.st_mode));
    /* Swapped since for a link or a FIFO, it is refused all the same. */
    *fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                         O_CLOEXEC);
    if (*fd < 0)
        return refuse(err, JX_ELOAD, o, "cannot open: %s", strerror(errno));
    if ((rc = check_open_file(*fd, o, err)) != 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
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
    p->module_fd = -1;
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

/* The name through which the file open on fd is loaded.  libltdl knows
 * handles by name: the descriptor is held as long as the module is open,
 * so no two open modules ever share one. */
static void fd_name(int fd, char *out, size_t size)
{
    snprintf(out, size, "/proc/self/fd/%d", fd);
}

static lt_dlhandle open_file(const char *name, const char **why)
{
    lt_dladvise advise;
    lt_dlhandle h = NULL;

    /* Local symbols: one plugin's globals never satisfy another's.  No
     * extension advice: libltdl then loads the name as given, without
     * trying NAME.la or NAME.so beside it. */
    if (lt_dladvise_init(&advise) == 0 && lt_dladvise_local(&advise) == 0)
        h = lt_dlopenadvise(name, advise);
    if (h == NULL)
        *why = lt_dlerror();
    lt_dladvise_destroy(&advise);
    return h;
}

/* Loads the checked file open on fd.  dlopen's reasons name the file it
 * opened, /proc/self/fd/N: the message names the plugin's path instead. */
static int load_checked(int fd, lt_dlhandle *module, const jx__origin *o,
                        jx_error *err)
{
    char name[64];
    const char *why = NULL;
    size_t len;

    fd_name(fd, name, sizeof name);
    pthread_mutex_lock(&ltdl_lock);
    *module = open_file(name, &why);
    pthread_mutex_unlock(&ltdl_lock);
    if (*module != NULL)
        return 0;
    if (why == NULL)
        why = "unknown libltdl error";
    len = strlen(name);
    if (strncmp(why, name, len) == 0)
        return refuse(err, JX_ELOAD, o, "cannot load: %s%s", o->path,
                      why + len);
    return refuse(err, JX_ELOAD, o, "cannot load: %s", why);
}

/* The symbol prefix of a module file: its name up to the first dot, every
 * other character than a letter or digit made '_' ("sleepy-v2.so":
 * "sleepy_v2").  A module renamed after it was built still carries the old
 * one.  libltdl would take it from the name the module was loaded by,
 * /proc/self/fd/N: it is looked up here from the plugin's own path. */
static void module_prefix(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    size_t n = 0;

    base = base != NULL ? base + 1 : path;
    for (; *base != '\0' && *base != '.' && n + 1 < size; base++)
        out[n++] = isalnum((unsigned char)*base) ? *base : '_';
    out[n] = '\0';
}

/* PREFIX_LTX_symbol, else the bare symbol. */
static void *find_symbol(lt_dlhandle module, const char *prefix,
                         const char *symbol)
{
    char name[256];
    void *found = NULL;

    if ((size_t)snprintf(name, sizeof name, "%s_LTX_%s", prefix, symbol) <
        sizeof name)
        found = lt_dlsym(module, name);
    return found != NULL ? found : lt_dlsym(module, symbol);
}

/* file: the module's own file name (a link to it may be named otherwise),
 * or a preloaded module's name. */
static int find_descriptors(jx__plugin *p, const char *file,
                            const jx__origin *o, jx_error *err)
{
    char prefix[128];
    int rc;

    module_prefix(file, prefix, sizeof prefix);
    pthread_mutex_lock(&ltdl_lock);
    p->handler = find_symbol(p->module, prefix, "step_handler_v1");
    p->observer = find_symbol(p->module, prefix, "health_observer_v1");
    pthread_mutex_unlock(&ltdl_lock);
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
    char real[PATH_MAX];
    lt_dlhandle module;
    jx__plugin *p;
    int rc, fd = -1;

    *out = NULL;
    pthread_mutex_lock(&ltdl_lock);
    module = open_preloaded(pc->path_written);
    pthread_mutex_unlock(&ltdl_lock);
    const char *shown = module != NULL ? "(preloaded)" : pc->path;
    if (module == NULL) {
        if ((rc = open_checked(pc->path, &fd, real, sizeof real, &o,
                               err)) != 0)
            return rc;
        if (jx__loader_checked_hook != NULL)
            jx__loader_checked_hook(pc->path);
        if ((rc = load_checked(fd, &module, &o, err)) != 0) {
            close(fd);
            return rc;
        }
    }
    p = plugin_new(shown, pc->path_written, pc->config);
    if (p == NULL) {
        pthread_mutex_lock(&ltdl_lock);
        lt_dlclose(module);
        pthread_mutex_unlock(&ltdl_lock);
        if (fd >= 0)
            close(fd);
        return jx__fail(err, JX_ENOMEM, "out of memory");
    }
    p->module = module;
    p->module_fd = fd;
    if ((rc = find_descriptors(p, fd >= 0 ? real : pc->path_written, &o,
                               err)) != 0) {
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
    char real[PATH_MAX];
    int fd, rc = open_checked(pc->path, &fd, real, sizeof real, &o, err);

    if (rc == 0)
        close(fd);
    return rc;
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
    /* Only now: the name libltdl knows the module by is free again. */
    if (p->module_fd >= 0)
        close(p->module_fd);
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
