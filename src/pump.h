#ifndef PUMP_H
#define PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct hexdump;
struct tls;

/*
 * The stream core: one duplex stream between a connected socket and a
 * pair of descriptors (stdin and stdout, or a program's pipes), with the
 * End-of-stream rules of the man page.  Every one-to-one stream runs
 * through pump_run(): plain or framed, tcp-connect, the one connection of
 * tcp-serve, and each --exec program's connection.
 */
struct pump_opts {
	long		 idle_ms;	/* -w: no traffic either way; -1 none */
	long		 linger_ms;	/* drain the peer before close; <= 0: 10s */
	int		 no_shutdown;	/* keep the write side open at stdin EOF */
	int		 keep_sending;	/* a terminal too sends after peer EOF */
	int		 eof_ends;	/* peer EOF ends it, whatever stdin is */
	int		 send_only;
	int		 recv_only;
	int		 progress;	/* -P */
	enum frame_mode	 frame;
	size_t		 max_frame;
	const char	*peer;		/* for messages: "HOST port PORT" */
	const char	*in_name;	/* "standard input" or the program's */
	int		 crlf;		/* -C: stdin's line ends go as CRLF */
	struct hexdump	*hexdump;	/* --hexdump: every byte each way */
	struct tls	*tls;		/* the socket's TLS session, or NULL */
};

struct pump_stats {
	uint64_t	 sent, rcvd;
	int64_t		 start_ms, end_ms;
	const char	*err;		/* what went wrong, or NULL */
};

int	pump_run(int, int, int, const struct pump_opts *, struct pump_stats *,
	    const char **);
void	pump_report(const struct pump_stats *);
int	pump_session(int, const struct pump_opts *, int);
int	pump_exec(int, char **, const char *, const struct pump_opts *, int,
	    struct pump_stats *);

#endif
