/*
 * frame.h - the frames that carry the runner protocol's messages
 * (protocol.h) between the core and jobexec-runner.
 *
 * A frame is an 8-byte header, a type code and a payload length (both
 * 32-bit little-endian), then the payload: JSON text.  The core treats
 * everything that comes back as untrusted: lengths are checked against a
 * limit before anything is allocated.
 */
#ifndef JX__ISOLATE_FRAME_H
#define JX__ISOLATE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define JX__FRAME_HEADER 8

/* Writes one frame whole (blocking; EINTR-safe).  Returns 0 or -1 with
 * errno set.  Never raises SIGPIPE when fd is a socket. */
int jx__frame_write(int fd, uint32_t type, const char *data, size_t len);

/* Reads one frame whole (blocking).  *data is malloc'd and NUL-ended.
 * Returns 0, or -1 (errno set; 0 at a clean end of stream), or -2 when
 * the length exceeds max. */
int jx__frame_read(int fd, size_t max, uint32_t *type, char **data,
                   size_t *len);

/* An incremental reader for a non-blocking fd, fed as poll() says. */
typedef struct jx__frame_reader {
    unsigned char header[JX__FRAME_HEADER];
    size_t got;      /* bytes of header + payload received */
    uint32_t type;
    uint32_t len;    /* payload length, valid once the header is in */
    char *data;      /* the payload being received */
} jx__frame_reader;

enum {
    JX__FRAME_MORE = 0,     /* nothing complete yet */
    JX__FRAME_READY = 1,    /* a frame is in type/len/data */
    JX__FRAME_EOF = -1,     /* the peer closed (or reset) the stream */
    JX__FRAME_TOO_BIG = -2, /* header announced more than the limit */
    JX__FRAME_ERROR = -3    /* read failed: errno */
};

/* Reads what is available.  max_for(type) gives the limit of each frame
 * type (0: type not allowed).  On READY the caller takes r->data (and must
 * free it) and calls jx__frame_reset. */
int jx__frame_feed(jx__frame_reader *r, int fd,
                   size_t (*max_for)(uint32_t type, void *user), void *user);
void jx__frame_reset(jx__frame_reader *r);

/* "EXEC" for a code, "0x...." for one that is not printable. */
void jx__frame_name(uint32_t type, char out[12]);

#endif
