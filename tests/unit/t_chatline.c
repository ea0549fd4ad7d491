#include <stdlib.h>
#include <string.h>

#include "chatline.h"
#include "tap.h"

static const char *
vis_of(const char *s, size_t len)
{
	static char buf[CHATLINE_VISLEN(64)];

	chatline_vis(buf, (const unsigned char *)s, len);
	return buf;
}

static void
test_vis(void)
{
	ok(strcmp(vis_of("plain text\tok", 13), "plain text\tok") == 0,
	    "vis: printable ASCII and tab pass");
	ok(strcmp(vis_of("a\033[2Jb", 6), "a^[[2Jb") == 0,
	    "vis: ESC is made visible");
	ok(strcmp(vis_of("\r\b\a\x7f", 4), "^M^H^G^?") == 0,
	    "vis: CR, BS, BEL and DEL are made visible");
	ok(strcmp(vis_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == 0,
	    "vis: valid UTF-8 passes");
	ok(strcmp(vis_of("\xc2\x9b", 2), "M-BM^[") == 0,
	    "vis: a C1 control in UTF-8 is made visible");
	ok(strcmp(vis_of("\x9b\xff\xc3", 3), "M^[M^?M-C") == 0,
	    "vis: stray and truncated bytes are made visible");
	ok(strcmp(vis_of("\xc0\xaf\xed\xa0\x80", 5),
	    "M-@M-/M-m\\240M^@") == 0,
	    "vis: overlong forms and surrogates are made visible");
	ok(strcmp(vis_of("a\0b", 3), "a\\000b") == 0, "vis: NUL is visible");
}

static void
test_vis_hidden(void)
{
	ok(strcmp(vis_of("a\xe2\x80\xae" "b", 5), "a\\u{202E}b") == 0,
	    "vis: a right-to-left override is made visible");
	ok(strcmp(vis_of("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	    12), "\\u{202A}\\u{202B}\\u{202C}\\u{202D}") == 0,
	    "vis: bidi embeddings, pops and overrides are made visible");
	ok(strcmp(vis_of("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9",
	    12), "\\u{2066}\\u{2067}\\u{2068}\\u{2069}") == 0,
	    "vis: bidi isolates are made visible");
	ok(strcmp(vis_of("x\xe2\x80\x8by\xe2\x80\x8cz\xe2\x80\x8e\xe2\x80\x8f",
	    15), "x\\u{200B}y\\u{200C}z\\u{200E}\\u{200F}") == 0,
	    "vis: zero-width space, non-joiner and marks are made visible");
	ok(strcmp(vis_of("\xef\xbb\xbfhi", 5), "\\u{FEFF}hi") == 0,
	    "vis: a zero-width no-break space (BOM) is made visible");
	ok(strcmp(vis_of("a\xe2\x80\xa8" "b\xc2\xad", 7),
	    "a\\u{2028}b\\u{00AD}") == 0,
	    "vis: line separator and soft hyphen are made visible");
	ok(strcmp(vis_of("\xf3\xa0\x81\x81", 4), "\\u{E0041}") == 0,
	    "vis: invisible tag characters are made visible");
	ok(strcmp(vis_of("a\xe2\x80\x8d" "b", 5), "a\\u{200D}b") == 0,
	    "vis: a zero-width joiner between letters is made visible");
	ok(strcmp(vis_of("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 11),
	    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9") == 0,
	    "vis: a zero-width joiner in an emoji sequence passes");
	ok(strcmp(vis_of("\xe2\x80\x8d", 3), "\\u{200D}") == 0 &&
	    strcmp(vis_of("\xf0\x9f\x91\xa8\xe2\x80\x8d", 7),
	    "\xf0\x9f\x91\xa8\\u{200D}") == 0,
	    "vis: a zero-width joiner at an end is made visible");
	ok(strcmp(vis_of("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 8),
	    "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d") == 0,
	    "vis: right-to-left letters pass");
}

static void
test_me_forges(void)
{
	ok(chatline_me_forges("has left") && chatline_me_forges("has joined"),
	    "me: has left, has joined read as notices");
	ok(chatline_me_forges("is now known as bob"),
	    "me: is now known as reads as a notice");
	ok(chatline_me_forges("has left (too slow)"),
	    "me: has left (too slow) reads as a notice");
	ok(chatline_me_forges("  HAS\tLeft"),
	    "me: case and spacing do not hide a notice");
	ok(chatline_me_forges("has\xc2\xa0left") &&
	    chatline_me_forges("\xe2\x80\x83has left"),
	    "me: Unicode spaces do not hide a notice");
	ok(chatline_me_forges("h\xd0\xb0s left"),
	    "me: a look-alike letter (Cyrillic a) does not hide a notice");
	ok(!chatline_me_forges("waves") && !chatline_me_forges("has lunch") &&
	    !chatline_me_forges("has leftovers") &&
	    !chatline_me_forges("is now known to all"),
	    "me: other actions pass");
	ok(!chatline_me_forges("has\\u{200B}left"),
	    "me: a visible escape between the words passes");
	ok(chatline_nick_reserved("no") && chatline_nick_reserved("Usage") &&
	    chatline_nick_reserved("welcome"),
	    "nick: the first words of the room's replies are reserved");
	ok(!chatline_nick_reserved("host") && !chatline_nick_reserved("nobody"),
	    "nick: other nicks are not reserved");
}

static void
test_nick(void)
{
	char nick[NICK_MAX + 1];

	ok(chatline_nick_ok("alice_1.x-y", 11), "nick: letters, digits, _.-");
	ok(!chatline_nick_ok("", 0), "nick: empty is invalid");
	ok(!chatline_nick_ok("a b", 3), "nick: space is invalid");
	ok(!chatline_nick_ok("\xc3\xa9", 2), "nick: non-ASCII is invalid");
	ok(chatline_nick_ok("0123456789012345678901234567890x", 32),
	    "nick: 32 characters are valid");
	ok(!chatline_nick_ok("0123456789012345678901234567890xy", 33),
	    "nick: 33 characters are invalid");
	ok(chatline_nick_clean("j.doe@corp", nick) == 0 &&
	    strcmp(nick, "j.doecorp") == 0, "nick: login name cleaned");
	ok(chatline_nick_clean("@@", nick) == -1, "nick: nothing left");
}

int
main(void)
{
	test_vis();
	test_vis_hidden();
	test_me_forges();
	test_nick();
	return tap_done();
}
