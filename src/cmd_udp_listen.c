#include <sys/socket.h>

#include <err.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "frame.h"
#include "hexdump.h"
#include "opts.h"
#include "sock.h"
#include "udp.h"

#define SYNOPSIS "sockkit udp-listen [OPTIONS] [ADDRESS] PORT"
#define MAXJOIN	16

enum {
	OPT_ECHO = OPT_CMD,
	OPT_JOIN,
	OPT_SHOW_SENDER
};

static const char help[] =
"Bind PORT (all addresses, or ADDRESS) and write every datagram received\n"
"to stdout; send each line of stdin as a datagram to the latest sender.\n\n"
OPTS_HELP
"  -w, --timeout DUR    exit when no datagram has come or gone for DUR\n"
OPTS_HELP_DURATION
OPTS_HELP_SERVER
"      --frame MODE     line (default: a datagram a line) or raw bytes\n"
"      --show-sender    prefix each datagram with HOST:PORT of its sender\n"
"      --echo           send each datagram back to its sender\n"
"  -W, --count N        exit after N datagrams (and, if stdin is not a\n"
"                       terminal, once stdin went to the latest sender)\n"
"      --join GROUP     join multicast GROUP (GROUP%IFACE: on IFACE)\n"
OPTS_HELP_HEXDUMP;

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_SERVER,
	OPTS_LONG_HEXDUMP,
	{ "frame",		required_argument,	NULL,	OPT_FRAME },
	{ "count",		required_argument,	NULL,	'W' },
	{ "echo",		no_argument,		NULL,	OPT_ECHO },
	{ "join",		required_argument,	NULL,	OPT_JOIN },
	{ "show-sender",	no_argument,		NULL,	OPT_SHOW_SENDER },
	{ NULL,			0,			NULL,	0 }
};

struct groups {
	struct udp_group g[MAXJOIN];
	const char	*name[MAXJOIN];
	int		 n;
};

static void
parse(int argc, char *argv[], struct opts *o, struct udp_opts *uo,
    struct groups *gs)
{
	const char *errstr;
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT "W:", longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		switch (ch) {
		case 'h':
			cmd_help(SYNOPSIS, help);
		case 'W':
			uo->count = opts_number(optarg, 1, LLONG_MAX, "count");
			break;
		case OPT_ECHO:
			uo->echo = 1;
			break;
		case OPT_JOIN:
			if (gs->n == MAXJOIN)
				errx(2, "join: at most %d groups", MAXJOIN);
			if (udp_group_parse(optarg, &gs->g[gs->n], &errstr)
			    == -1)
				errx(2, "join %s: %s", optarg, errstr);
			gs->name[gs->n++] = optarg;
			break;
		case OPT_SHOW_SENDER:
			uo->show_sender = 1;
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
}

/* Groups decide the family when -4 and -6 do not; they must agree. */
static void
check(struct opts *o, const struct groups *gs)
{
	int i;

	if (o->frame == FRAME_LEN32)
		errx(2, "frame len32: not for datagrams (line or raw)");
	if (gs->n > 0 && o->family == AF_UNIX)
		errx(2, "cannot use --join with --unix");
	for (i = 0; i < gs->n; i++) {
		if (o->family == AF_UNSPEC)
			o->family = gs->g[i].ss.ss_family;
		if (gs->g[i].ss.ss_family != o->family)
			errx(2, "join %s: not an %s group", gs->name[i],
			    o->family == AF_INET ? "IPv4" : "IPv6");
	}
}

/* Receive buffer, groups and -v reports for each bound socket. */
static void
setup(int *fds, int nfd, const struct opts *o, const struct groups *gs)
{
	char name[ADDR_STRLEN];
	int i, j, size;

	for (i = 0; i < nfd; i++) {
		size = o->family == AF_UNIX ? 0 : udp_rcvbuf(fds[i],
		    UDP_RCVBUF);
		for (j = 0; j < gs->n; j++)
			if (udp_join(fds[i], &gs->g[j]) == -1)
				err(1, "join %s", gs->name[j]);
		if (o->verbose <= 0)
			continue;
		warnx("listening on %s", sock_name(fds[i], 1, name,
		    sizeof(name)));
		if (size > 0)
			warnx("receive buffer %d bytes", size);
	}
	for (j = 0; j < gs->n && o->verbose > 0; j++)
		warnx("joined %s", gs->name[j]);
}

int
cmd_udp_listen(int argc, char *argv[])
{
	struct opts o;
	struct udp_opts uo = { .listen = 1 };
	struct sockopts sko = { .socktype = SOCK_DGRAM };
	struct groups gs = { .n = 0 };
	const char *errstr, *host = NULL, *port;
	int fds[SOCK_MAXLISTEN], nfd, rv;

	opts_init(&o);
	parse(argc, argv, &o, &uo, &gs);
	argc -= optind;
	argv += optind;
	opts_server_args(argc, argv, &o, NULL, SYNOPSIS, &host, &port);
	check(&o, &gs);
	sko.family = o.family;
	sko.numeric = o.numeric;
	if ((nfd = sock_listen(host, port, &sko, fds, &errstr)) == -1)
		errx(1, "%s", errstr);
	setup(fds, nfd, &o, &gs);
	if (o.port_file != NULL && sock_port_file(o.port_file, fds[0]) == -1)
		err(1, "port file %s", o.port_file);
	uo.frame = o.frame_set ? o.frame : FRAME_LINE;
	uo.verbose = o.verbose;
	uo.idle_ms = o.timeout_ms;
	if (o.hexdump != NULL &&
	    (uo.hexdump = hexdump_open(o.hexdump, &errstr)) == NULL)
		err(1, "hexdump %s: %s", o.hexdump, errstr);
	/* A one-shot responder: printf 'answer\n' | udp-listen -W 1 P. */
	uo.drain_stdin = !isatty(STDIN_FILENO);
	if ((rv = udp_run(fds, nfd, NULL, 0, &uo)) == -1)
		err(1, "epoll");
	hexdump_close(uo.hexdump);
	return rv;
}
