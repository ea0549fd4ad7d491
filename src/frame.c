#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "util.h"

static const struct {
	const char	*name;
	enum frame_mode	 mode;
} modes[] = {
	{ "raw",	FRAME_RAW },
	{ "line",	FRAME_LINE },
	{ "len32",	FRAME_LEN32 },
};

static const struct {
	char	suffix;
	int	shift;
} units[] = {
	{ 'K', 10 }, { 'k', 10 },
	{ 'M', 20 }, { 'm', 20 },
	{ 'G', 30 }, { 'g', 30 },
};

#define FRAME_KEEP	(64 * 1024)	/* a buffer kept between messages */

/* Messages of zero length point here when there is no slice to point in. */
static const unsigned char empty[1];

/* Set *mode from "raw", "line" or "len32"; return 0, or -1 if unknown. */
int
frame_mode_parse(const char *s, enum frame_mode *mode)
{
	size_t i;

	for (i = 0; i < NELEM(modes); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

/* Return the name of a framing mode. */
const char *
frame_mode_name(enum frame_mode mode)
{
	size_t i;

	for (i = 0; i < NELEM(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "unknown";
}

/* Parse a size such as 512, 64K, 16M or 1G as strtonum(3) does. */
size_t
frame_size_parse(const char *s, const char **errstr)
{
	char num[32];
	size_t i, n;
	long long v;
	int shift = 0;

	n = strlen(s);
	if (n == 0 || n >= sizeof(num)) {
		*errstr = "invalid";
		return 0;
	}
	for (i = 0; i < NELEM(units); i++) {
		if (s[n - 1] == units[i].suffix) {
			shift = units[i].shift;
			n--;
			break;
		}
	}
	memcpy(num, s, n);
	num[n] = '\0';
	v = strtonum(num, 1, FRAME_MAX_LIMIT >> shift, errstr);
	if (*errstr != NULL)
		return 0;
	return (size_t)v << shift;
}

/* Start a decoder for mode with messages of at most max bytes. */
void
frame_dec_init(struct frame_dec *d, enum frame_mode mode, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->max = max;
}

/* Make a line decoder cut over-long lines instead of failing. */
void
frame_dec_cut(struct frame_dec *d)
{
	d->cut = 1;
}

/* Release a decoder's buffer. */
void
frame_dec_free(struct frame_dec *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* Hand the decoder the next slice of the stream; see frame.h. */
void
frame_dec_feed(struct frame_dec *d, const void *p, size_t n)
{
	d->in = p;
	d->inlen = n;
}

/* Mark the end of the stream: the last slice has been fed. */
void
frame_dec_eof(struct frame_dec *d)
{
	d->eof = 1;
}

/* Write the len32 header for a payload of len bytes. */
void
frame_len32_hdr(unsigned char hdr[FRAME_HDRLEN], uint32_t len)
{
	hdr[0] = len >> 24;
	hdr[1] = len >> 16;
	hdr[2] = len >> 8;
	hdr[3] = len;
}

/* Use up n bytes of the slice. */
static void
take(struct frame_dec *d, size_t n)
{
	if (n == 0)
		return;
	d->in += n;
	d->inlen -= n;
}

/*
 * Move n bytes of the slice to the buffer. The buffer doubles, so a long
 * message is copied O(1) times a byte, and never grows past max + 1.
 */
static void
carry(struct frame_dec *d, size_t n)
{
	size_t want;

	if (n == 0)
		return;
	if (d->len + n > d->cap) {
		want = MINIMUM(MAXIMUM(d->cap * 2, 256), d->max + 1);
		want = MAXIMUM(want, d->len + n);
		d->buf = xreallocarray(d->buf, want, 1);
		d->cap = want;
	}
	memcpy(d->buf + d->len, d->in, n);
	d->len += n;
	take(d, n);
}

/* Hand out a message: the first n bytes of the slice, or the buffer. */
static int
yield(struct frame_dec *d, size_t n, const unsigned char **msg, size_t *len)
{
	if (d->len == 0) {
		*msg = d->in != NULL ? d->in : empty;
		*len = n;
		take(d, n);
	} else {
		carry(d, n);
		*msg = d->buf;
		*len = d->len;
		d->delivered = 1;
	}
	return 1;
}

/* Record a protocol error; it sticks. */
static int
fail(struct frame_dec *d, const char *why, const char **errstr)
{
	d->err = why;
	*errstr = why;
	return -1;
}

/* Each byte is searched once: only the new slice, never the buffer. */
static int
next_line(struct frame_dec *d, const unsigned char **msg, size_t *len,
    const char **errstr)
{
	const unsigned char *nl;
	size_t room;

	if (d->skip && d->inlen > 0) {
		/* The tail of a cut line, up to and with its newline. */
		nl = memchr(d->in, '\n', d->inlen);
		d->skip = nl == NULL;
		take(d, nl != NULL ? (size_t)(nl - d->in) + 1 : d->inlen);
	}
	if (d->inlen > 0) {
		/* Room for the rest of a line of max bytes and its newline. */
		room = d->max - d->len + 1;
		nl = memchr(d->in, '\n', MINIMUM(d->inlen, room));
		if (nl != NULL)
			return yield(d, nl - d->in + 1, msg, len);
		if (d->inlen >= room && d->cut) {
			d->skip = 1;
			return yield(d, room - 1, msg, len);
		}
		if (d->inlen >= room)
			return fail(d, "line too long", errstr);
		carry(d, d->inlen);
	}
	if (!d->eof || d->len == 0)
		return 0;
	*msg = d->buf;
	*len = d->len;
	d->delivered = 1;
	return 1;
}

/* Gather the header, then hand out the payload once it is all here. */
static int
next_len32(struct frame_dec *d, const unsigned char **msg, size_t *len,
    const char **errstr)
{
	size_t n;

	if (d->hdrlen < FRAME_HDRLEN) {
		n = MINIMUM(FRAME_HDRLEN - d->hdrlen, d->inlen);
		if (n > 0)
			memcpy(d->hdr + d->hdrlen, d->in, n);
		d->hdrlen += n;
		take(d, n);
		if (d->hdrlen < FRAME_HDRLEN) {
			if (d->eof && d->hdrlen > 0)
				return fail(d, "truncated frame", errstr);
			return 0;
		}
		d->need = (size_t)d->hdr[0] << 24 | (size_t)d->hdr[1] << 16 |
		    (size_t)d->hdr[2] << 8 | d->hdr[3];
		if (d->need > d->max)
			return fail(d, "frame too long", errstr);
	}
	if (d->inlen >= d->need - d->len) {
		d->hdrlen = 0;
		return yield(d, d->need - d->len, msg, len);
	}
	carry(d, d->inlen);
	if (d->eof)
		return fail(d, "truncated frame", errstr);
	return 0;
}

/* Return 1 and a message, 0 when the slice is used up, -1 on error. */
int
frame_next(struct frame_dec *d, const unsigned char **msg, size_t *len,
    const char **errstr)
{
	if (d->err != NULL) {
		*errstr = d->err;
		return -1;
	}
	if (d->delivered) {
		d->len = 0;
		d->delivered = 0;
		/* A long message's buffer is not kept for the short ones. */
		if (d->cap > FRAME_KEEP) {
			free(d->buf);
			d->buf = NULL;
			d->cap = 0;
		}
	}
	switch (d->mode) {
	case FRAME_LINE:
		return next_line(d, msg, len, errstr);
	case FRAME_LEN32:
		return next_len32(d, msg, len, errstr);
	default:
		if (d->inlen == 0)
			return 0;
		return yield(d, d->inlen, msg, len);
	}
}

/*
 * -C: copy len bytes from in to out turning each bare LF into CR LF (an
 * existing CR LF stays); *lastcr carries "the byte before was CR" from
 * one call to the next.  out has room for 2 * len bytes, and may be the
 * same buffer as in if in starts at least len bytes into it.  Return the
 * bytes written.
 */
size_t
frame_crlf(const unsigned char *in, size_t len, unsigned char *out,
    int *lastcr)
{
	size_t i, j = 0;
	int cr = *lastcr;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && !cr)
			out[j++] = '\r';
		cr = in[i] == '\r';
		out[j++] = in[i];
	}
	*lastcr = cr;
	return j;
}
