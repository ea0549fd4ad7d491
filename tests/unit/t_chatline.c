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
	test_nick();
	return tap_done();
}
