/*
 * Message framing, pure: no descriptors. A decoder is fed the bytes that
 * arrive and hands back whole messages.
 *
 * Use:
 *	frame_dec_init(&d, FRAME_LINE, max);
 *	for each read of n bytes at p:
 *		frame_dec_feed(&d, p, n);
 *		while ((r = frame_next(&d, &msg, &len, &errstr)) == 1)
 *			consume msg, len;
 *		if (r == -1)
 *			protocol error: errstr says why;
 *	at end of stream:
 *		frame_dec_eof(&d); then drain frame_next() as above;
 *	frame_dec_free(&d);
 *
 * frame_next() returns 0 only when the fed slice is used up, and only
 * then may the next slice be fed; the slice must stay valid until then.
 * frame_dec_eof() may come before or after the last slice is drained;
 * after it, 0 means the stream ended cleanly.
 * A message lies inside the fed slice when it can (no copy) and in the
 * decoder's buffer when it straddles slices; either way it is valid until
 * the next call on the decoder.
 *
 * raw:   each fed slice is one message; no limit applies.
 * line:  a message is a line with its '\n' (a "\r\n" stays intact); the
 *        final line of a stream may lack the '\n' and is still delivered,
 *        so no byte is ever lost. A line of more than max bytes, not
 *        counting its '\n', is a protocol error ("line too long"), or,
 *        after frame_dec_cut(), is cut: its first max bytes come out as
 *        a message without '\n' and the rest of it is skipped.
 * len32: a 4-byte big-endian length, then that many bytes; the message
 *        is the payload. A length over max is a protocol error ("frame
 *        too long"); a stream that ends inside a frame, header included,
 *        is one too ("truncated frame").
 * A decoder holds at most max + 1 bytes. After an error it keeps
 * returning -1.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX_DEFAULT	((size_t)16 * 1024 * 1024)
#define FRAME_MAX_LIMIT		((long long)4 * 1024 * 1024 * 1024)
#define FRAME_HDRLEN		4

enum frame_mode { FRAME_RAW, FRAME_LINE, FRAME_LEN32 };

struct frame_dec {
	enum frame_mode		 mode;
	size_t			 max;
	const unsigned char	*in;		/* the fed slice, not owned */
	size_t			 inlen;		/* its bytes not yet used */
	unsigned char		*buf;		/* a message across slices */
	size_t			 len;
	size_t			 cap;
	int			 delivered;	/* buf was handed out */
	unsigned char		 hdr[FRAME_HDRLEN];
	size_t			 hdrlen;
	size_t			 need;		/* len32 payload length */
	int			 eof;
	int			 cut;		/* cut long lines, no error */
	int			 skip;		/* skipping a cut line's tail */
	const char		*err;
};

/* Set *mode from "raw", "line" or "len32"; return 0, or -1 if unknown. */
int	frame_mode_parse(const char *, enum frame_mode *);
/* Return the name of a framing mode. */
const char *frame_mode_name(enum frame_mode);
/*
 * Parse a size such as 512, 64K, 16M or 1G (K, M, G are powers of 1024,
 * either case) as strtonum(3) does: from 1 to FRAME_MAX_LIMIT, else
 * return 0 and set *errstr to "invalid", "too small" or "too large".
 */
size_t	frame_size_parse(const char *, const char **);

/* Start a decoder for mode with messages of at most max bytes. */
void	frame_dec_init(struct frame_dec *, enum frame_mode, size_t);
/* Make a line decoder cut over-long lines instead of failing. */
void	frame_dec_cut(struct frame_dec *);
/* Release a decoder's buffer. */
void	frame_dec_free(struct frame_dec *);
/* Hand the decoder the next slice of the stream; see above. */
void	frame_dec_feed(struct frame_dec *, const void *, size_t);
/* Mark the end of the stream: the last slice has been fed. */
void	frame_dec_eof(struct frame_dec *);
/* Return 1 and a message, 0 when the slice is used up, -1 on error. */
int	frame_next(struct frame_dec *, const unsigned char **, size_t *,
	    const char **);

/* Write the len32 header for a payload of len bytes. */
void	frame_len32_hdr(unsigned char [FRAME_HDRLEN], uint32_t);
size_t	frame_crlf(const unsigned char *, size_t, unsigned char *, int *);

#endif
