/*
 * frame.h - the framed protocol between the core and jobexec-runner.
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

#define JX_FRAME_CODE(a, b, c, d)                                             \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |               \
     (uint32_t)(d) << 24)

/* core -> runner */
#define JX_FRAME_LOAD JX_FRAME_CODE('L', 'O', 'A', 'D') /* open + init */
#define JX_FRAME_EXEC JX_FRAME_CODE('E', 'X', 'E', 'C') /* run one step */
#define JX_FRAME_VALI JX_FRAME_CODE('V', 'A', 'L', 'I') /* validate one */
#define JX_FRAME_QUIT JX_FRAME_CODE('Q', 'U', 'I', 'T') /* fini, exit */
/* runner -> core */
#define JX_FRAME_HELO JX_FRAME_CODE('H', 'E', 'L', 'O') /* loaded */
#define JX_FRAME_FAIL JX_FRAME_CODE('F', 'A', 'I', 'L') /* could not load */
#define JX_FRAME_LOG JX_FRAME_CODE('L', 'O', 'G', '_')  /* host->log */
#define JX_FRAME_PROG JX_FRAME_CODE('P', 'R', 'O', 'G') /* progress */
#define JX_FRAME_DONE JX_FRAME_CODE('D', 'O', 'N', 'E') /* step result */
#define JX_FRAME_VRES JX_FRAME_CODE('V', 'R', 'E', 'S') /* validate result */

#define JX_FRAME_HEADER 8

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
    unsigned char header[JX_FRAME_HEADER];
    size_t got;      /* bytes of header + payload received */
    uint32_t type;
    uint32_t len;    /* payload length, valid once the header is in */
    char *data;      /* the payload being received */
} jx__frame_reader;

enum {
    JX_FRAME_MORE = 0,     /* nothing complete yet */
    JX_FRAME_READY = 1,    /* a frame is in type/len/data */
    JX_FRAME_EOF = -1,     /* the peer closed (or reset) the stream */
    JX_FRAME_TOO_BIG = -2, /* header announced more than the limit */
    JX_FRAME_ERROR = -3    /* read failed: errno */
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
