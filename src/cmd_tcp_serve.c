#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "opts.h"
#include "pump.h"
#include "sock.h"

#define SYNOPSIS "sockkit tcp-serve [OPTIONS] [ADDRESS] PORT"

enum {
	OPT_NO_SHUTDOWN = OPT_CMD,
	OPT_KEEP_SENDING,
	OPT_SEND_ONLY,
	OPT_RECV_ONLY
};

static const char help[] =
"Listen on PORT (all addresses, or ADDRESS), accept one connection and\n"
"pump: stdin to the peer, the peer to stdout.\n\n"
OPTS_HELP
"      --send-only      only send stdin; ignore the peer's data\n"
"      --recv-only      only receive; do not read stdin\n"
"      --no-shutdown    at stdin EOF keep the write side open\n"
"      --keep-sending   after the peer's EOF keep sending stdin\n";

static const struct option longopts[] = {
	OPTS_LONG,
	{ "send-only",		no_argument,		NULL,	OPT_SEND_ONLY },
	{ "recv-only",		no_argument,		NULL,	OPT_RECV_ONLY },
	{ "no-shutdown",	no_argument,		NULL,	OPT_NO_SHUTDOWN },
	{ "keep-sending",	no_argument,		NULL,	OPT_KEEP_SENDING },
	{ NULL,			0,			NULL,	0 }
};

static void
parse(int argc, char *argv[], struct opts *o, struct pump_opts *po)
{
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT, longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		switch (ch) {
		case 'h':
			cmd_help(SYNOPSIS, help);
		case OPT_SEND_ONLY:
			po->send_only = 1;
			break;
		case OPT_RECV_ONLY:
			po->recv_only = 1;
			break;
		case OPT_NO_SHUTDOWN:
			po->no_shutdown = 1;
			break;
		case OPT_KEEP_SENDING:
			po->keep_sending = 1;
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
}

int
cmd_tcp_serve(int argc, char *argv[])
{
	struct opts o;
	struct sockopts so = { .socktype = SOCK_STREAM };
	struct pump_opts po = { 0 };
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *errstr, *host = NULL, *port;
	char peer[ADDR_STRLEN];
	int fds[SOCK_MAXLISTEN], nfd, fd, i;

	opts_init(&o);
	parse(argc, argv, &o, &po);
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > (o.family == AF_UNIX ? 1 : 2))
		cmd_usage_error(SYNOPSIS);
	if (po.send_only && po.recv_only)
		errx(2, "cannot use --send-only with --recv-only");
	if (argc == 2)
		host = *argv++;
	port = argv[0];
	if (o.family != AF_UNIX && opts_port(port, o.numeric, &errstr) == -1)
		errx(2, "port %s: %s", port, errstr);
	so.family = o.family;
	so.numeric = o.numeric;
	if ((nfd = sock_listen(host, port, &so, fds, &errstr)) == -1)
		errx(1, "%s", errstr);
	if (o.port_file != NULL && sock_port_file(o.port_file, fds[0]) == -1)
		err(1, "port file %s", o.port_file);
	if (o.verbose > 0)
		for (i = 0; i < nfd; i++)
			warnx("listening on %s", sock_name(fds[i], 1, peer,
			    sizeof(peer)));
	sslen = sizeof(ss);
	fd = sock_accept(fds, nfd, o.timeout_ms, &ss, &sslen, &errstr);
	if (fd == -1 && errno == ETIMEDOUT)
		errx(1, "%s", errstr);
	if (fd == -1)
		err(1, "%s", errstr);
	/* Exactly one connection: stop listening once it is accepted. */
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	if (o.family == AF_UNIX)
		unlink(port);
	addr_fmt((struct sockaddr *)&ss, sslen, peer, sizeof(peer));
	if (o.verbose > 0)
		warnx("connection from %s", peer);
	po.peer = peer;
	po.idle_ms = o.timeout_ms;
	po.progress = o.progress && isatty(STDERR_FILENO);
	return pump_session(fd, &po, o.verbose);
}
