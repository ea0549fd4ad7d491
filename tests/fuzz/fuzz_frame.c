/*
 * libFuzzer target for the frame decoder. Byte 0 picks the mode (low two
 * bits) and the slice size (the rest; 0 feeds all at once), byte 1 the
 * limit. Every message must be the next piece of the input, so whatever
 * decodes cleanly reassembles the input exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Check one message against the input at *pos and step past it. */
static void
check(const struct frame_dec *d, const uint8_t *in, size_t size,
    size_t *pos, const unsigned char *msg, size_t len)
{
	if (d->mode == FRAME_LEN32)
		*pos += FRAME_HDRLEN;
	if (*pos + len > size || memcmp(msg, in + *pos, len) != 0)
		abort();
	if (d->mode == FRAME_LEN32 && len > d->max)
		abort();
	if (d->mode == FRAME_LINE && (len == 0 || len > d->max + 1 ||
	    memchr(msg, '\n', len - 1) != NULL))
		abort();
	*pos += len;
}

/* Take every message out; return 0 at the end of a slice, -1 on error. */
static int
drain(struct frame_dec *d, const uint8_t *in, size_t size, size_t *pos)
{
	const unsigned char *msg;
	const char *errstr;
	size_t len;
	int r;

	while ((r = frame_next(d, &msg, &len, &errstr)) == 1)
		check(d, in, size, pos, msg, len);
	if (r == -1 && errstr == NULL)
		abort();
	if (d->cap > d->max + 1)
		abort();
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_dec d;
	size_t step, off, k, pos = 0;
	int r = 0;

	if (size < 2)
		return 0;
	frame_dec_init(&d, (enum frame_mode)(data[0] & 3) % 3, data[1]);
	step = data[0] >> 2;
	data += 2;
	size -= 2;
	if (step == 0)
		step = size;
	for (off = 0; off < size && r == 0; off += k) {
		k = size - off < step ? size - off : step;
		frame_dec_feed(&d, data + off, k);
		r = drain(&d, data, size, &pos);
	}
	if (r == 0) {
		frame_dec_eof(&d);
		if (drain(&d, data, size, &pos) == 0 && pos != size)
			abort();
	}
	frame_dec_free(&d);
	return 0;
}
