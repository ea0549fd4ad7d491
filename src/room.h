#ifndef ROOM_H
#define ROOM_H

#include <stddef.h>

#include "addr.h"

#define MAX_MEMORY_DEFAULT	((size_t)64 * 1024 * 1024)

struct tls_ctx;

struct room_opts {
	const char	*nick;		/* the console's, on stdin/stdout */
	int		 verbose;
	long		 max_clients;
	struct acl	 acl;
	size_t		 maxq;		/* per-member out-queue bound */
	size_t		 max_memory;	/* all members' queues and decoders */
	size_t		 max_line;	/* longer lines are cut */
	long		 history;	/* lines replayed to a newcomer */
	long		 idle_ms;	/* -w; -1: none */
	const unsigned char *key;	/* --auth-key, or NULL */
	size_t		 keylen;
	int		 log_json;	/* --log json: events as JSON lines */
	struct tls_ctx	*tls;		/* --tls, or NULL */
};

/* Host a chat room on the n listening sockets fds; return exit status. */
int	room_run(int *, int, const struct room_opts *);

#endif
