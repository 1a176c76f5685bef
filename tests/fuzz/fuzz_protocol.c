/*
 * fuzz_protocol.c - the runner protocol's decoder: bytes as they would
 * arrive on the channel between the core and jobexec-runner, cut into
 * frames both ways the two sides read them (the core's incremental
 * reader, the runner's blocking one), each frame's payload handed to the
 * decoder of its type and what it yields used as its reader uses it.
 * Either side may be the one that is compromised, so every message is
 * decoded whatever its direction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "base/common.h"
#include "base/jsonbuf.h"
#include "fuzz.h"
#include "input/plan.h"
#include "isolate/frame.h"
#include "isolate/protocol.h"
#include "plugin/output.h"

/* A DONE's limit: runner.max_output_bytes is 1 MiB unless set. */
#define DONE_MAX (1024 * 1024)

static size_t frame_max(uint32_t type, void *user)
{
    (void)user;
    switch (type) {
    case JX__MSG_LOAD:
    case JX__MSG_EXEC:
    case JX__MSG_VALI:
    case JX__MSG_QUIT:
        return JX__MSG_REQUEST_MAX;
    case JX__MSG_DONE:
        return DONE_MAX;
    case JX__MSG_HELO:
    case JX__MSG_FAIL:
    case JX__MSG_LOG:
    case JX__MSG_PROG:
    case JX__MSG_VRES:
        return JX__MSG_SMALL_MAX;
    default:
        return 0;
    }
}

/* A step request, turned into the one-step plan the runner runs. */
static void request(const char *data, size_t len)
{
    jx__msg_request m;
    json_t *keep = NULL;
    jx_plan *plan = NULL;
    jx_error err = {0, ""};

    if (jx__msg_request_decode(data, len, &m, &keep) == 0 &&
        jx__plan_single(&m.step, &plan, &err) == 0)
        jx_plan_free(plan);
    json_decref(keep);
}

/* A step result, mirrored into an output and written out again, as the
 * core does before the output reaches the evidence. */
static void done(const char *data)
{
    jx_output out = {0};
    jx__buf b = {0};
    int rc;

    if (jx__msg_done_decode(data, &out, &rc) == 0)
        (void)jx__output_put(&b, &out);
    jx__buf_free(&b);
    jx__output_clear(&out);
}

static void decode(uint32_t type, const char *data, size_t len)
{
    json_t *keep = NULL;
    char name[12];

    jx__frame_name(type, name);
    if (type == JX__MSG_LOAD) {
        jx__msg_load m;
        (void)jx__msg_load_decode(data, len, &m, &keep);
    } else if (type == JX__MSG_HELO) {
        jx__msg_hello m;
        (void)jx__msg_hello_decode(data, &m, &keep);
    } else if (type == JX__MSG_FAIL) {
        int code;
        const char *message;
        jx__msg_fail_decode(data, &code, &message, &keep);
    } else if (type == JX__MSG_EXEC || type == JX__MSG_VALI) {
        request(data, len);
    } else if (type == JX__MSG_LOG || type == JX__MSG_PROG) {
        jx__msg_note m;
        jx__msg_note_decode(data, len, &m, &keep);
    } else if (type == JX__MSG_DONE) {
        done(data);
    } else if (type == JX__MSG_VRES) {
        char why[256];
        (void)jx__msg_vres_decode(data, why, sizeof why);
    }
    json_decref(keep);
}

/* A connected pair with data written into one end, which is then shut
 * for writing: the reader sees the bytes, then the end of the stream.
 * Returns the reading end, or -1. */
static int channel(const uint8_t *data, size_t size, int *writer)
{
    int sv[2];
    int big = 4 * 1024 * 1024;
    size_t at = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    while (at < size) {
        ssize_t n = send(sv[0], data + at, size - at, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* more than the socket holds: the rest is cut */
        at += (size_t)n;
    }
    shutdown(sv[0], SHUT_WR);
    *writer = sv[0];
    return sv[1];
}

/* The core's side: frames as poll() would hand them over. */
static int read_as_core(const uint8_t *data, size_t size)
{
    jx__frame_reader r = {0};
    int w, fd = channel(data, size, &w);

    if (fd < 0)
        return -1;
    while (jx__frame_feed(&r, fd, frame_max, NULL) == JX__FRAME_READY) {
        decode(r.type, r.data, r.len);
        jx__frame_reset(&r);
    }
    jx__frame_reset(&r);
    close(fd);
    close(w);
    return 0;
}

/* The runner's side: whole frames, one blocking read each.  The runner
 * allows a request as big as a plan (JX__MSG_REQUEST_MAX); a smaller
 * limit here keeps a header that announces 256 MiB from costing a
 * 256 MiB allocation per input, and tests the same code. */
static int read_as_runner(const uint8_t *data, size_t size)
{
    uint32_t type;
    char *payload;
    size_t len;
    int w, fd = channel(data, size, &w);

    if (fd < 0)
        return -1;
    while (jx__frame_read(fd, DONE_MAX, &type, &payload, &len) == 0) {
        decode(type, payload, len);
        free(payload);
    }
    close(fd);
    close(w);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (read_as_core(data, size) != 0 || read_as_runner(data, size) != 0)
        return 1;
    return 0;
}
