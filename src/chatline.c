/* vis(3) only; this picks libbsd's header without its strnvis warning. */
#define LIBBSD_OPENBSD_VIS

#include <stdlib.h>
#include <string.h>
#include <vis.h>

#include "chatline.h"

static int
nick_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Return 1 if the len bytes at s make a valid nick, else 0. */
int
chatline_nick_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NICK_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!nick_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Make a nick of s (a login name): drop what the rules forbid; 0 or -1. */
int
chatline_nick_clean(const char *s, char nick[NICK_MAX + 1])
{
	size_t n = 0;

	for (; *s != '\0' && n < NICK_MAX; s++)
		if (nick_char((unsigned char)*s))
			nick[n++] = *s;
	nick[n] = '\0';
	return n > 0 ? 0 : -1;
}

/*
 * Return the length of the valid UTF-8 sequence of two or more bytes at
 * p (at most n bytes), or 0 if there is none or it encodes a C1 control
 * (U+0080-U+009F, which terminals may obey), an overlong form or a
 * surrogate.
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned int cp, min;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
		min = 0xa0;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Copy len bytes of src to dst, NUL-terminated, with every control
 * character, DEL, C1 code and byte that is not valid UTF-8 made visible
 * by vis(3); return the length of dst.
 */
size_t
chatline_vis(char *dst, const unsigned char *src, size_t len)
{
	char *d = dst;
	size_t i = 0, n;

	while (i < len) {
		if ((src[i] >= 0x20 && src[i] < 0x7f) || src[i] == '\t') {
			*d++ = src[i++];
		} else if (src[i] >= 0x80 &&
		    (n = utf8_len(src + i, len - i)) > 0) {
			memcpy(d, src + i, n);
			d += n;
			i += n;
		} else {
			/* ESC becomes "^[", 0x9b "M^[", NUL "\000". */
			d = vis(d, src[i], VIS_NOSLASH, i + 1 < len ?
			    src[i + 1] : 0);
			i++;
		}
	}
	*d = '\0';
	return d - dst;
}
