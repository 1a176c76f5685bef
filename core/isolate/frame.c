/*
 * frame.c - writing and reading the frames of the runner protocol.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "isolate/frame.h"

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Writes the header and payload with one sendmsg(): two sends would wake
 * the peer twice.  MSG_NOSIGNAL makes a dead peer an EPIPE, not a signal
 * that would kill the embedding worker; a non-socket falls back to
 * writev(). */
static ssize_t put(int fd, struct iovec *iov, int iovcnt)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK)
        n = writev(fd, iov, iovcnt);
    return n;
}

int jx__frame_write(int fd, uint32_t type, const char *data, size_t len)
{
    unsigned char header[JX__FRAME_HEADER];
    struct iovec iov[2];
    int at = 0;

    if (len > UINT32_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    put_u32(header, type);
    put_u32(header + 4, (uint32_t)len);
    iov[0] = (struct iovec){header, sizeof header};
    iov[1] = (struct iovec){(void *)data, len};
    while (at < 2) {
        ssize_t n = put(fd, iov + at, 2 - at);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        /* A short write: skip what went out. */
        while (at < 2 && (size_t)n >= iov[at].iov_len) {
            n -= (ssize_t)iov[at].iov_len;
            at++;
        }
        if (at < 2) {
            iov[at].iov_base = (char *)iov[at].iov_base + n;
            iov[at].iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* Reads exactly len bytes; 1 at a clean EOF before the first byte. */
static int get_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = got == 0 ? 0 : EPROTO;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int jx__frame_read(int fd, size_t max, uint32_t *type, char **data,
                   size_t *len)
{
    unsigned char header[JX__FRAME_HEADER];
    uint32_t n;
    char *buf;

    *data = NULL;
    if (get_all(fd, header, sizeof header) != 0)
        return -1;
    *type = get_u32(header);
    n = get_u32(header + 4);
    if (n > max)
        return -2;
    if ((buf = malloc((size_t)n + 1)) == NULL)
        return -1;
    if (get_all(fd, buf, n) != 0) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

void jx__frame_reset(jx__frame_reader *r)
{
    free(r->data);
    memset(r, 0, sizeof *r);
}

int jx__frame_feed(jx__frame_reader *r, int fd,
                   size_t (*max_for)(uint32_t type, void *user), void *user)
{
    for (;;) {
        ssize_t n;

        if (r->got < JX__FRAME_HEADER) {
            n = recv(fd, r->header + r->got, JX__FRAME_HEADER - r->got,
                     MSG_DONTWAIT);
        } else {
            size_t have = r->got - JX__FRAME_HEADER;
            if (have == r->len) {
                r->data[r->len] = '\0';
                return JX__FRAME_READY;
            }
            n = recv(fd, r->data + have, r->len - have, MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return JX__FRAME_MORE;
            return errno == ECONNRESET ? JX__FRAME_EOF : JX__FRAME_ERROR;
        }
        if (n == 0)
            return JX__FRAME_EOF;
        r->got += (size_t)n;
        if (r->got == JX__FRAME_HEADER) {
            r->type = get_u32(r->header);
            r->len = get_u32(r->header + 4);
            if ((size_t)r->len > max_for(r->type, user))
                return JX__FRAME_TOO_BIG;
            if ((r->data = malloc((size_t)r->len + 1)) == NULL) {
                errno = ENOMEM;
                return JX__FRAME_ERROR;
            }
        }
    }
}

void jx__frame_name(uint32_t type, char out[12])
{
    unsigned char c[4] = {(unsigned char)type, (unsigned char)(type >> 8),
                          (unsigned char)(type >> 16),
                          (unsigned char)(type >> 24)};
    for (int i = 0; i < 4; i++)
        if (c[i] < 0x20 || c[i] > 0x7e) {
            snprintf(out, 12, "0x%08x", (unsigned)type);
            return;
        }
    snprintf(out, 12, "%c%c%c%c", c[0], c[1], c[2], c[3]);
}
