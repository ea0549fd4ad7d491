/* vis(3) only; this picks libbsd's header without its strnvis warning. */
#define LIBBSD_OPENBSD_VIS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
 * p (at most n bytes) and set *cpp to its code point, or return 0 if
 * there is none or it encodes a C1 control (U+0080-U+009F, which
 * terminals may obey), an overlong form or a surrogate.
 */
static size_t
utf8_len(const unsigned char *p, size_t n, unsigned int *cpp)
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
	*cpp = cp;
	return len;
}

/*
 * The code points that are invisible or reorder what a terminal shows
 * (bidi embeddings, overrides and isolates, zero-width characters, line
 * and paragraph separators, invisible tags): a line could show text in
 * another order than it was sent, or hide words.
 */
static const struct {
	unsigned int	lo, hi;
} hidden[] = {
	{ 0x00ad, 0x00ad },	/* soft hyphen */
	{ 0x061c, 0x061c },	/* Arabic letter mark */
	{ 0x180e, 0x180e },	/* Mongolian vowel separator */
	{ 0x200b, 0x200f },	/* zero-width space, (non-)joiner, LRM, RLM */
	{ 0x2028, 0x202e },	/* line, paragraph separators; LRE-RLO */
	{ 0x2060, 0x206f },	/* word joiner, invisible operators, LRI-PDI */
	{ 0xfeff, 0xfeff },	/* zero-width no-break space (BOM) */
	{ 0xfff9, 0xfffb },	/* interlinear annotation */
	{ 0xe0000, 0xe007f },	/* tags */
};

static int
cp_hidden(unsigned int cp)
{
	size_t i;

	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (cp >= hidden[i].lo && cp <= hidden[i].hi)
			return 1;
	return 0;
}

/* Return 1 if cp is a pictograph an emoji sequence joins with U+200D. */
static int
cp_pictograph(unsigned int cp)
{
	return (cp >= 0x2600 && cp <= 0x27bf) || (cp >= 0x1f000 &&
	    cp <= 0x1faff);
}

/*
 * Return 1 if the zero-width joiner at p[i] (3 bytes) joins two
 * pictographs (an emoji sequence such as a family), after prev.
 */
static int
zwj_joins(unsigned int prev, const unsigned char *p, size_t i, size_t len)
{
	unsigned int next;
	size_t n;

	if (!cp_pictograph(prev) || i + 3 >= len)
		return 0;
	n = utf8_len(p + i + 3, len - i - 3, &next);
	return n > 0 && cp_pictograph(next);
}

/*
 * Copy len bytes of src to dst, NUL-terminated, with every control
 * character, DEL, C1 code and byte that is not valid UTF-8 made visible
 * by vis(3), and every invisible or reordering code point (bidi
 * controls, zero-width characters) as \u{XXXX}; return the length of dst.
 */
size_t
chatline_vis(char *dst, const unsigned char *src, size_t len)
{
	char *d = dst;
	size_t i = 0, n;
	unsigned int cp, prev = 0;

	while (i < len) {
		if ((src[i] >= 0x20 && src[i] < 0x7f) || src[i] == '\t') {
			prev = src[i];
			*d++ = src[i++];
		} else if (src[i] >= 0x80 &&
		    (n = utf8_len(src + i, len - i, &cp)) > 0) {
			if (cp_hidden(cp) && !(cp == 0x200d &&
			    zwj_joins(prev, src, i, len)))
				d += sprintf(d, "\\u{%04X}", cp);
			else {
				memcpy(d, src + i, n);
				d += n;
			}
			prev = cp;
			i += n;
		} else {
			prev = 0;
			/* ESC becomes "^[", 0x9b "M^[", NUL "\000". */
			d = vis(d, src[i], VIS_NOSLASH, i + 1 < len ?
			    src[i + 1] : 0);
			i++;
		}
	}
	*d = '\0';
	return d - dst;
}

/*
 * The room's notices about a member, after "* NICK ": a /me must not
 * read as one of them.
 */
static const char *const notice_phrases[] = {
	"has joined", "has left", "is now known as",
};

/*
 * The first words of the room's replies to one member, "* WORD ...": a
 * nick that is one of them could make a /me read as a reply.
 */
static const char *const reply_words[] = {
	"commands", "invalid", "nick", "no", "online", "unknown", "usage",
	"welcome",
};

/*
 * Return the length of the run of spaces at s: ASCII spaces and tabs,
 * and the Unicode spaces that look like them.
 */
static size_t
space_run(const char *s)
{
	static const char *const spaces[] = {
		"\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
		"\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84",
		"\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87",
		"\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a",
		"\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
	};
	size_t n = 0, i, k;

	for (;;) {
		if (s[n] == ' ' || s[n] == '\t') {
			n++;
			continue;
		}
		for (i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
			k = strlen(spaces[i]);
			if (strncmp(s + n, spaces[i], k) == 0)
				break;
		}
		if (i == sizeof(spaces) / sizeof(spaces[0]))
			return n;
		n += k;
	}
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * Return the length of what matches one character of a phrase at s:
 * a run of spaces (space_run) for a space, an ASCII letter in either case,
 * or any one non-ASCII character (it may look like a Latin letter or a
 * space: a homoglyph); 0 if s does not match c.
 */
static size_t
phrase_char(const char *s, int c)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (c == ' ' && (n = space_run(s)) > 0)
		return n;
	if (p[0] >= 0x80) {
		n = 1;
		while ((p[n] & 0xc0) == 0x80)
			n++;
		return n;
	}
	return ascii_lower(p[0]) == c ? 1 : 0;
}

/*
 * Return 1 if the visible text of a /me (chatline_vis() output) would
 * make "* NICK TEXT" read as one of the room's notices about NICK ("has
 * joined", "has left", "is now known as"), with any case, spacing, or
 * non-ASCII look-alike letters; else 0.
 */
int
chatline_me_forges(const char *text)
{
	const char *s, *ph;
	size_t i, n;

	for (i = 0; i < sizeof(notice_phrases) / sizeof(notice_phrases[0]);
	    i++) {
		s = text + space_run(text);
		for (ph = notice_phrases[i]; *ph != '\0'; ph++) {
			if ((n = phrase_char(s, *ph)) == 0)
				break;
			s += n;
		}
		/* "has leftovers" is an action; "has left (too slow)" not. */
		if (*ph == '\0' && !((*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    (unsigned char)*s >= 0x80))
			return 1;
	}
	return 0;
}

/* Return 1 if nick (valid) is reserved: a room reply's first word. */
int
chatline_nick_reserved(const char *nick)
{
	size_t i;

	for (i = 0; i < sizeof(reply_words) / sizeof(reply_words[0]); i++)
		if (strcasecmp(nick, reply_words[i]) == 0)
			return 1;
	return 0;
}
