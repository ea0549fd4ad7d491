#ifndef HEXDUMP_H
#define HEXDUMP_H

#include <stddef.h>
#include <stdint.h>

/*
 * --hexdump FILE: every byte each way, as a timestamped record naming the
 * direction and the peer, then hex and ASCII lines, 16 bytes a line:
 *
 *   2026-11-30T15:04:05.123456Z > 127.0.0.1 port 25: 6 bytes at 0
 *   > 00000000  48 45 4c 4f 0d 0a                                |HELO..|
 *
 * '>' is what was sent to the peer, '<' what was received from it; the
 * offset counts the bytes of that direction of that connection so far.
 */
struct hexdump;

struct hexdump	*hexdump_open(const char *, const char **);
void		 hexdump_close(struct hexdump *);
void		 hexdump_write(struct hexdump *, int, const char *,
		    uint64_t *, const void *, size_t);

#define HEXDUMP_OUT	'>'
#define HEXDUMP_IN	'<'

#endif
