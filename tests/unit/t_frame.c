#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"

struct result {
	char		 out[4096];	/* messages, each followed by '|' */
	int		 nmsg;
	int		 copied;	/* messages not inside the slice */
	int		 rc;		/* 0 clean end, -1 error */
	const char	*errstr;
};

static int cutting;		/* run() cuts long lines */

static void
drain(struct frame_dec *d, const unsigned char *lo, const unsigned char *hi,
    struct result *r)
{
	const unsigned char *msg;
	size_t len;

	while ((r->rc = frame_next(d, &msg, &len, &r->errstr)) == 1) {
		strncat(r->out, (const char *)msg, len);
		strlcat(r->out, "|", sizeof(r->out));
		r->nmsg++;
		if (len > 0 && (msg < lo || msg + len > hi))
			r->copied++;
	}
}

/* Decode n bytes fed step bytes at a time (0: all at once). */
static struct result
run(enum frame_mode mode, size_t max, const void *in, size_t n, size_t step)
{
	static struct result r;
	struct frame_dec d;
	const unsigned char *p = in;
	size_t off, k;

	memset(&r, 0, sizeof(r));
	frame_dec_init(&d, mode, max);
	if (cutting)
		frame_dec_cut(&d);
	if (step == 0)
		step = n;
	for (off = 0; off < n && r.rc != -1; off += k) {
		k = n - off < step ? n - off : step;
		frame_dec_feed(&d, p + off, k);
		drain(&d, p + off, p + off + k, &r);
	}
	if (r.rc != -1) {
		frame_dec_eof(&d);
		drain(&d, p, p, &r);
	}
	frame_dec_free(&d);
	return r;
}

/* Append a len32 frame holding s to buf at *n. */
static void
put(unsigned char *buf, size_t *n, const char *s)
{
	size_t len = strlen(s);

	frame_len32_hdr(buf + *n, len);
	memcpy(buf + *n + 4, s, len);
	*n += 4 + len;
}

static void
test_parse(void)
{
	enum frame_mode m;
	const char *e;

	ok(frame_mode_parse("len32", &m) == 0 && m == FRAME_LEN32, "len32");
	ok(frame_mode_parse("line", &m) == 0 && m == FRAME_LINE, "line");
	ok(frame_mode_parse("raw", &m) == 0 && m == FRAME_RAW, "raw");
	ok(frame_mode_parse("Line", &m) == -1, "mode names are exact");
	ok(strcmp(frame_mode_name(FRAME_LEN32), "len32") == 0, "mode name");
	ok(frame_size_parse("512", &e) == 512 && e == NULL, "size 512");
	ok(frame_size_parse("64K", &e) == 65536 && e == NULL, "size 64K");
	ok(frame_size_parse("16m", &e) == FRAME_MAX_DEFAULT, "size 16m");
	ok(frame_size_parse("4G", &e) == (size_t)4 << 30, "size 4G");
	frame_size_parse("5G", &e);
	ok(e != NULL && strcmp(e, "too large") == 0, "size 5G too large");
	frame_size_parse("0", &e);
	ok(e != NULL && strcmp(e, "too small") == 0, "size 0 too small");
	frame_size_parse("12Q", &e);
	ok(e != NULL && strcmp(e, "invalid") == 0, "size 12Q invalid");
	frame_size_parse("K", &e);
	ok(e != NULL, "size K invalid");
	frame_size_parse("", &e);
	ok(e != NULL, "empty size invalid");
}

static void
test_len32(void)
{
	unsigned char buf[256], big[8] = { 0xff, 0xff, 0xff, 0xff };
	size_t n = 0, step;
	struct result r;

	put(buf, &n, "hello");
	put(buf, &n, "");
	put(buf, &n, "world!");
	r = run(FRAME_LEN32, 64, buf, n, 0);
	ok(r.rc == 0 && strcmp(r.out, "hello||world!|") == 0,
	    "len32: coalesced frames, zero-length frame: %s", r.out);
	ok(r.copied == 0, "len32: whole frames are not copied");
	for (step = 1; step <= 7; step++) {
		r = run(FRAME_LEN32, 64, buf, n, step);
		ok(r.rc == 0 && strcmp(r.out, "hello||world!|") == 0,
		    "len32: fed %zu bytes at a time", step);
	}
	r = run(FRAME_LEN32, 5, buf, 9, 2);
	ok(r.rc == 0 && r.nmsg == 1, "len32: exactly max is ok");
	r = run(FRAME_LEN32, 4, buf, 9, 0);
	ok(r.rc == -1 && r.nmsg == 0 && strcmp(r.errstr, "frame too long")
	    == 0, "len32: max + 1 is an error");
	r = run(FRAME_LEN32, FRAME_MAX_DEFAULT, big, 4, 1);
	ok(r.rc == -1, "len32: 4 GiB header is refused before any payload");
	r = run(FRAME_LEN32, 64, buf, 2, 1);
	ok(r.rc == -1 && strcmp(r.errstr, "truncated frame") == 0,
	    "len32: stream ending mid header");
	r = run(FRAME_LEN32, 64, buf, 7, 3);
	ok(r.rc == -1 && strcmp(r.errstr, "truncated frame") == 0,
	    "len32: stream ending mid payload");
	r = run(FRAME_LEN32, 64, buf, 4, 0);
	ok(r.rc == -1, "len32: stream ending after a header");
	r = run(FRAME_LEN32, 64, buf, 13, 1);
	ok(r.rc == 0 && r.nmsg == 2, "len32: zero-length frame at the end");
	r = run(FRAME_LEN32, 64, buf, 0, 0);
	ok(r.rc == 0 && r.nmsg == 0, "len32: empty stream");
}

static void
test_line(void)
{
	const char *in = "one\r\ntwo\n\nthree", *e;
	const unsigned char *msg;
	struct frame_dec d;
	struct result r;
	size_t step, len;

	for (step = 0; step <= 4; step++) {
		r = run(FRAME_LINE, 64, in, strlen(in), step);
		ok(r.rc == 0 && strcmp(r.out, "one\r\n|two\n|\n|three|") == 0,
		    "line: CRLF intact, last line delivered, step %zu", step);
	}
	r = run(FRAME_LINE, 64, in, strlen(in), 0);
	ok(r.copied == 1, "line: only the unterminated line is copied");
	r = run(FRAME_LINE, 5, "abcde\nx", 7, 1);
	ok(r.rc == 0 && strcmp(r.out, "abcde\n|x|") == 0,
	    "line: exactly max bytes and a newline is ok");
	r = run(FRAME_LINE, 5, "abcdef\n", 7, 0);
	ok(r.rc == -1 && strcmp(r.errstr, "line too long") == 0,
	    "line: max + 1 is an error");
	r = run(FRAME_LINE, 5, "abcdef", 6, 1);
	ok(r.rc == -1, "line: max + 1 without a newline, byte by byte");
	frame_dec_init(&d, FRAME_LINE, 8);
	frame_dec_feed(&d, "ab\ncd", 5);
	frame_dec_eof(&d);
	ok(frame_next(&d, &msg, &len, &e) == 1 && len == 3 &&
	    frame_next(&d, &msg, &len, &e) == 1 && len == 2 &&
	    memcmp(msg, "cd", 2) == 0 && frame_next(&d, &msg, &len, &e) == 0,
	    "line: end of stream marked before the last slice is drained");
	frame_dec_free(&d);
	r = run(FRAME_LINE, 5, "abcde", 5, 1);
	ok(r.rc == 0 && strcmp(r.out, "abcde|") == 0,
	    "line: unterminated line of max bytes at the end");
}

static void
test_cut(void)
{
	struct result r;
	size_t step;

	cutting = 1;
	for (step = 0; step <= 3; step++) {
		r = run(FRAME_LINE, 4, "abcdefgh\nxy\nabcd\nlongertail", 28,
		    step);
		ok(r.rc == 0 && strcmp(r.out, "abcd|xy\n|abcd\n|long|") == 0,
		    "cut: long lines cut, tails skipped, step %zu", step);
	}
	cutting = 0;
}

static void
test_raw(void)
{
	struct result r;

	r = run(FRAME_RAW, 2, "abcdef", 6, 4);
	ok(r.rc == 0 && strcmp(r.out, "abcd|ef|") == 0 && r.copied == 0,
	    "raw: each slice is a message, no limit");
}

static void
test_bulk(void)
{
	struct frame_dec d;
	const unsigned char *msg;
	const char *e;
	unsigned char *big;
	size_t len, n = 1 << 20, i, full = 0, all = 0;

	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = i % 1000 == 999 ? '\n' : 'x';
	frame_dec_init(&d, FRAME_LINE, 1000);
	for (i = 0; i < n; i += 65536) {
		frame_dec_feed(&d, big + i, 65536);
		while (frame_next(&d, &msg, &len, &e) == 1) {
			full += len == 1000;
			all++;
		}
	}
	frame_dec_eof(&d);
	while (frame_next(&d, &msg, &len, &e) == 1)
		all++;
	ok(full == n / 1000 && all == full + 1,
	    "line: 1 MiB in 64 KiB slices: %zu lines", all);
	ok(d.cap <= 1001, "line: buffer bounded by max + 1 (%zu)", d.cap);
	frame_dec_free(&d);
	free(big);
}

static void
test_crlf(void)
{
	unsigned char out[32];
	size_t n;
	int cr = 0;

	n = frame_crlf((const unsigned char *)"a\nb\r\n\n", 6, out, &cr);
	ok(n == 8 && memcmp(out, "a\r\nb\r\n\r\n", 8) == 0,
	    "crlf: a bare LF becomes CR LF, a CR LF stays");
	n = frame_crlf((const unsigned char *)"x\r", 2, out, &cr);
	ok(n == 2 && cr == 1, "crlf: a final CR is remembered");
	n = frame_crlf((const unsigned char *)"\ny", 2, out, &cr);
	ok(n == 2 && memcmp(out, "\ny", 2) == 0,
	    "crlf: a CR LF split between reads stays");
}

int
main(void)
{
	test_parse();
	test_crlf();
	test_len32();
	test_line();
	test_cut();
	test_raw();
	test_bulk();
	return tap_done();
}
