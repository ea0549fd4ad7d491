/*
 * The datagram engine of udp-send and udp-listen: socket set-up
 * (broadcast, hop limit, multicast, receive buffer), batched receive
 * with recvmmsg(2) and send with sendmmsg(2), and stdout framing.
 *
 * Datagrams that arrive go to stdout, one writev(2) a batch; stdin lines
 * (or raw reads, or the MESSAGE) go out one datagram each, to a fixed
 * peer (udp-send) or to the most recent sender (udp-listen).
 */
#ifndef UDP_H
#define UDP_H

#include <sys/socket.h>

#include "frame.h"
#include "sock.h"

struct hexdump;

#define UDP_MAX4	65507		/* largest IPv4 (and Unix) payload */
#define UDP_MAX6	65527		/* largest IPv6 payload, no jumbograms */
#define UDP_RCVBUF	(8 * 1024 * 1024)
#define UDP_IDLE_MS	1000		/* udp-send: default -w */

/* A multicast group and the interface to use for it (0: the kernel's). */
struct udp_group {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	unsigned int		 ifindex;
};

struct udp_opts {
	enum frame_mode	 frame;		/* FRAME_LINE or FRAME_RAW */
	int		 listen;	/* stdin goes to the latest sender */
	int		 show_sender;
	int		 echo;
	int		 drain_stdin;	/* -W: also send all of stdin first */
	int		 verbose;
	long		 idle_ms;	/* -w: no traffic ends it; -1: never */
	unsigned long long count;	/* -r, -W: stop after N; 0: never */
	long		 interval_ms;	/* -i: between datagrams */
	const char	*message;	/* MESSAGE words, or NULL: stdin */
	size_t		 msglen;
	unsigned long long repeat;	/* --repeat; 0: forever */
	const char	*peer;		/* udp-send: "HOST port PORT" */
	struct hexdump	*hexdump;	/* --hexdump, or NULL */
};

int	udp_group_parse(const char *, struct udp_group *, const char **);
int	udp_is_multicast(const struct sockaddr *);
int	udp_join(int, const struct udp_group *);
int	udp_rcvbuf(int, int);
int	udp_ttl(int, int);
size_t	udp_max(int);
int	udp_client(const char *, const char *, const struct sockopts *, int,
	    struct sockaddr_storage *, socklen_t *, const char **);
int	udp_run(int *, int, const struct sockaddr *, socklen_t,
	    const struct udp_opts *);

#endif
