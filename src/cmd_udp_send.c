#include <sys/socket.h>

#include <err.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "frame.h"
#include "hexdump.h"
#include "opts.h"
#include "sock.h"
#include "udp.h"
#include "util.h"

#define SYNOPSIS "sockkit udp-send [OPTIONS] HOST PORT [MESSAGE...]"

enum {
	OPT_REPEAT = OPT_CMD,
	OPT_COUNT,
	OPT_TTL,
	OPT_SHOW_SENDER
};

static const char help[] =
"Send MESSAGE (the words joined by spaces) as one datagram, or each line\n"
"of stdin as one datagram, to HOST PORT; write the replies to stdout\n"
"until none has come for the -w time (default 1s).\n\n"
OPTS_HELP
"  -w, --timeout DUR    after the last datagram, wait DUR for replies (1s)\n"
OPTS_HELP_DURATION
"      --frame MODE     stdin: line (default: a line a datagram) or raw\n"
"  -b, --broadcast      allow a broadcast destination\n"
"  -i, --interval DUR   wait DUR between datagrams\n"
"      --repeat N       send MESSAGE N times (0: until killed)\n"
"  -r, --replies N      exit as soon as N replies have come\n"
"      --ttl N          unicast and multicast hop limit\n"
"      --show-sender    prefix each reply with its sender's HOST:PORT\n"
OPTS_HELP_HEXDUMP;

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_HEXDUMP,
	{ "frame",		required_argument,	NULL,	OPT_FRAME },
	{ "broadcast",		no_argument,		NULL,	'b' },
	{ "interval",		required_argument,	NULL,	'i' },
	{ "replies",		required_argument,	NULL,	'r' },
	{ "repeat",		required_argument,	NULL,	OPT_REPEAT },
	{ "count",		required_argument,	NULL,	OPT_COUNT },
	{ "ttl",		required_argument,	NULL,	OPT_TTL },
	{ "show-sender",	no_argument,		NULL,	OPT_SHOW_SENDER },
	{ NULL,			0,			NULL,	0 }
};

struct send_opts {
	int		 broadcast;
	int		 ttl;		/* -1: the system's */
	int		 repeat_set;
	char		*path;		/* -U: our own address */
};

static void
parse(int argc, char *argv[], struct opts *o, struct udp_opts *uo,
    struct send_opts *so)
{
	const char *errstr;
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT "bi:r:", longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		switch (ch) {
		case 'b':
			so->broadcast = 1;
			break;
		case 'h':
			cmd_help(SYNOPSIS, help);
		case 'i':
			if ((uo->interval_ms = opts_duration(optarg,
			    &errstr)) == -1)
				errx(2, "interval %s: %s", optarg, errstr);
			break;
		case 'r':
			uo->count = opts_number(optarg, 1, LLONG_MAX,
			    "replies");
			break;
		case OPT_REPEAT:
			uo->repeat = opts_number(optarg, 0, LLONG_MAX,
			    "repeat");
			so->repeat_set = 1;
			break;
		case OPT_COUNT:
			/* Was this option's name; udp-listen's means "exit". */
			errx(2, "--count is now --repeat N on udp-send");
		case OPT_TTL:
			so->ttl = opts_number(optarg, 0, 255, "ttl");
			break;
		case OPT_SHOW_SENDER:
			uo->show_sender = 1;
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
}

/* Join the MESSAGE words with spaces. */
static char *
join_words(int argc, char *argv[], size_t *lenp)
{
	size_t len = 0;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < argc; i++) {
		strlcat(s, argv[i], len);
		if (i + 1 < argc)
			strlcat(s, " ", len);
	}
	*lenp = strlen(s);
	return s;
}

static int
open_peer(const char *host, const char *port, const struct opts *o,
    struct send_opts *so, struct sockaddr_storage *dst, socklen_t *dstlen)
{
	struct sockopts sko = { .socktype = SOCK_DGRAM, .timeout_ms = -1 };
	const char *errstr;
	int fd;

	sko.family = o->family;
	sko.numeric = o->numeric;
	/* A Unix client binds a path of its own, so that replies come. */
	if (o->family == AF_UNIX && (sko.src_host = so->path =
	    sock_unix_client_path()) == NULL)
		err(1, "temporary socket path");
	if ((fd = udp_client(host, port, &sko, so->broadcast, dst, dstlen,
	    &errstr)) == -1)
		errx(1, "%s", errstr);
	if (so->ttl >= 0 && udp_ttl(fd, so->ttl) == -1)
		err(1, "ttl %d", so->ttl);
	if (o->family != AF_UNIX)
		udp_rcvbuf(fd, UDP_RCVBUF);
	return fd;
}

static void
check(const struct opts *o, const struct send_opts *so, int message)
{
	if (o->frame == FRAME_LEN32)
		errx(2, "frame len32: not for datagrams (line or raw)");
	if (so->repeat_set && !message)
		errx(2, "cannot use --repeat without MESSAGE");
	if (o->family == AF_UNIX && (so->broadcast || so->ttl >= 0))
		errx(2, "cannot use -b or --ttl with --unix");
}

int
cmd_udp_send(int argc, char *argv[])
{
	struct opts o;
	struct udp_opts uo = { .repeat = 1 };
	struct send_opts so = { .ttl = -1 };
	struct sockaddr_storage dst;
	socklen_t dstlen;
	const char *errstr, *host, *port = NULL;
	char peer[512];
	int fd, nargs, rv;

	opts_init(&o);
	parse(argc, argv, &o, &uo, &so);
	argc -= optind;
	argv += optind;
	nargs = o.family == AF_UNIX ? 1 : 2;
	opts_args(SYNOPSIS, argc, argv, nargs == 1 ? "PATH" : "HOST PORT", -1);
	check(&o, &so, argc > nargs);
	uo.frame = o.frame_set ? o.frame : FRAME_LINE;
	host = argv[0];
	if (o.family != AF_UNIX && opts_port((port = argv[1]), o.numeric,
	    &errstr) == -1)
		errx(2, "port %s: %s", port, errstr);
	if (argc > nargs)
		uo.message = join_words(argc - nargs, argv + nargs,
		    &uo.msglen);
	if (port != NULL)
		snprintf(peer, sizeof(peer), "%s port %s", host, port);
	else
		snprintf(peer, sizeof(peer), "%s", host);
	fd = open_peer(host, port, &o, &so, &dst, &dstlen);
	if (uo.message != NULL && uo.msglen > udp_max(fd))
		errx(2, "message too long: %zu bytes (a datagram holds at "
		    "most %zu)", uo.msglen, udp_max(fd));
	if (o.verbose > 0)
		warnx("sending to %s", peer);
	uo.peer = peer;
	uo.verbose = o.verbose;
	uo.idle_ms = o.timeout_ms >= 0 ? o.timeout_ms : UDP_IDLE_MS;
	if (o.hexdump != NULL &&
	    (uo.hexdump = hexdump_open(o.hexdump, &errstr)) == NULL)
		err(1, "hexdump %s: %s", o.hexdump, errstr);
	if ((rv = udp_run(&fd, 1, (struct sockaddr *)&dst, dstlen, &uo)) == -1)
		err(1, "epoll");
	hexdump_close(uo.hexdump);
	close(fd);
	free(so.path);
	free((char *)uo.message);
	return rv;
}
