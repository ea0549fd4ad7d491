/*
 * The chat room's text rules, pure: nicks, and making bytes from the
 * network safe to show on a terminal.
 */
#ifndef CHATLINE_H
#define CHATLINE_H

#include <stddef.h>

#define NICK_MAX	32
/* Room chatline_vis() needs for len bytes, with its terminator. */
#define CHATLINE_VISLEN(len)	((len) * 4 + 1)

/* Return 1 if the len bytes at s make a valid nick, else 0. */
int	chatline_nick_ok(const char *, size_t);
/* Make a nick of s (a login name): drop what the rules forbid; 0 or -1. */
int	chatline_nick_clean(const char *, char [NICK_MAX + 1]);
/*
 * Copy len bytes of src to dst, NUL-terminated, with every control
 * character, DEL, C1 code and byte that is not valid UTF-8 made visible
 * by vis(3), and every invisible or reordering code point (bidi
 * controls, zero-width characters) as \u{XXXX}; return the length of dst.
 */
size_t	chatline_vis(char *, const unsigned char *, size_t);
/*
 * Return 1 if the visible text of a /me (chatline_vis() output) would
 * make "* NICK TEXT" read as one of the room's notices about NICK ("has
 * joined", "has left", "is now known as"), with any case, spacing, or
 * non-ASCII look-alike letters; else 0.
 */
int	chatline_me_forges(const char *);
/* Return 1 if nick (valid) is reserved: a room reply's first word. */
int	chatline_nick_reserved(const char *);

#endif
