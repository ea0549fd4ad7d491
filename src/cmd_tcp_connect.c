#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cmd.h"
#include "frame.h"
#include "hexdump.h"
#include "opts.h"
#include "pump.h"
#include "scan.h"
#include "sock.h"

#define SYNOPSIS "sockkit tcp-connect [OPTIONS] HOST PORT"

enum {
	OPT_RETRY = OPT_CMD,
	OPT_SEND_ONLY,
	OPT_RECV_ONLY,
	OPT_NO_SHUTDOWN,
	OPT_KEEP_SENDING
};

static const char help[] =
"Connect to HOST PORT and pump: stdin to the peer, the peer to stdout.\n\n"
OPTS_HELP
"  -w, --timeout DUR    connect timeout, then idle timeout (no traffic)\n"
OPTS_HELP_DURATION
OPTS_HELP_PROGRESS
OPTS_HELP_STREAM
OPTS_HELP_TLS
OPTS_HELP_TLS_CLIENT
"  -s, --source ADDR    connect from this local address\n"
"  -p, --source-port P  connect from this local port\n"
"      --retry DUR      retry a refused or unreachable connect for DUR\n"
"  -z, --scan           report open ports (PORT: 80, 20-30, 22,80,443)\n"
"      --send-only      only send stdin; ignore the peer's data\n"
"      --recv-only      only receive; do not read stdin\n"
"      --no-shutdown    at stdin EOF keep the write side open\n"
"      --keep-sending   after the peer's EOF keep sending stdin\n"
"  -e, --exec PROG      run PROG (split on spaces) on the connection\n"
"  -c, --sh-exec CMD    run /bin/sh -c CMD on the connection\n"
OPTS_HELP_CRLF
OPTS_HELP_HEXDUMP
OPTS_HELP_TCP
OPTS_HELP_PROXY;

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_PROGRESS,
	OPTS_LONG_STREAM,
	OPTS_LONG_TLS,
	OPTS_LONG_TCP,
	OPTS_LONG_HEXDUMP,
	OPTS_LONG_CRLF,
	{ "exec",		required_argument,	NULL,	'e' },
	{ "sh-exec",		required_argument,	NULL,	'c' },
	{ "source",		required_argument,	NULL,	's' },
	{ "source-port",	required_argument,	NULL,	'p' },
	{ "scan",		no_argument,		NULL,	'z' },
	{ "retry",		required_argument,	NULL,	OPT_RETRY },
	{ "send-only",		no_argument,		NULL,	OPT_SEND_ONLY },
	{ "recv-only",		no_argument,		NULL,	OPT_RECV_ONLY },
	{ "no-shutdown",	no_argument,		NULL,	OPT_NO_SHUTDOWN },
	{ "keep-sending",	no_argument,		NULL,	OPT_KEEP_SENDING },
	OPTS_LONG_PROXY,
	{ NULL,			0,			NULL,	0 }
};

/* What -e and -c ask to run on the connection. */
struct prog {
	char		**argv;
	const char	*sh_cmd;
};

static void
parse(int argc, char *argv[], struct opts *o, struct sockopts *so,
    struct pump_opts *po, int *scan, struct prog *prog,
    struct opts_proxy *px)
{
	const char *errstr;
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT "CPc:e:p:s:z", longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		if (opts_proxy(px, ch, optarg))
			continue;
		switch (ch) {
		case 'c':
			prog->sh_cmd = optarg;
			break;
		case 'e':
			prog->argv = opts_split_argv(optarg);
			break;
		case 'h':
			cmd_help(SYNOPSIS, help);
		case 'p':
			if (opts_port(optarg, 0, &errstr) == -1)
				errx(2, "source port %s: %s", optarg, errstr);
			so->src_port = optarg;
			break;
		case 's':
			so->src_host = optarg;
			break;
		case 'z':
			*scan = 1;
			break;
		case OPT_RETRY:
			if ((so->retry_ms = opts_duration(optarg, &errstr))
			    == -1)
				errx(2, "retry %s: %s", optarg, errstr);
			break;
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

/* -e and -c run a program in place of stdin and stdout. */
static void
check_prog(const struct opts *o, const struct pump_opts *po,
    const struct prog *prog, int scan)
{
	if (prog->argv == NULL && prog->sh_cmd == NULL)
		return;
	if (prog->argv != NULL && prog->sh_cmd != NULL)
		errx(2, "cannot use --exec with --sh-exec");
	if (scan || o->frame_set || o->key != NULL || o->crlf)
		errx(2, "cannot use --scan, --frame, --auth-key or --crlf "
		    "with --exec");
	if (po->send_only || po->recv_only || po->no_shutdown ||
	    po->keep_sending)
		errx(2, "cannot use --send-only, --recv-only, --no-shutdown "
		    "or --keep-sending with --exec");
}

int
cmd_tcp_connect(int argc, char *argv[])
{
	struct opts o;
	struct sockopts so = { .socktype = SOCK_STREAM };
	struct pump_opts po = { 0 };
	struct prog prog = { NULL, NULL };
	struct tls_ctx *tc;
	struct tls *t = NULL;
	struct opts_proxy px = { 0 };
	const char *errstr, *host, *port;
	char peer[160];
	int fd, rv, scan = 0;

	opts_init(&o);
	parse(argc, argv, &o, &so, &po, &scan, &prog, &px);
	argc -= optind;
	argv += optind;
	opts_args(SYNOPSIS, argc, argv, o.family == AF_UNIX ? "PATH" :
	    "HOST PORT", o.family == AF_UNIX ? 1 : 2);
	if (po.send_only && po.recv_only)
		errx(2, "cannot use --send-only with --recv-only");
	if (scan && o.family == AF_UNIX)
		errx(2, "cannot use --scan with --unix");
	check_prog(&o, &po, &prog, scan);
	if ((so.proxy = opts_proxy_done(&px, o.family)) != NULL && scan)
		errx(2, "cannot use --scan with --proxy");
	host = argv[0];
	port = o.family == AF_UNIX ? NULL : argv[1];
	so.family = o.family;
	so.numeric = o.numeric;
	so.verbose = o.verbose;
	so.timeout_ms = o.timeout_ms;
	so.tune = o.tune;
	if (scan && (o.tls.on || o.tls_set))
		errx(2, "cannot use --scan with --tls");
	if (scan) {
		auth_key_free(o.key, o.keylen);
		return scan_ports(host, port, &so);
	}
	tc = opts_tls(&o, 0);
	if (port != NULL && opts_port(port, o.numeric, &errstr) == -1)
		errx(2, "port %s: %s", port, errstr);
	fd = sock_connect(host, port, &so, &errstr);
	proxy_chain_clear(&px.chain);
	if (fd == -1)
		errx(1, "%s", errstr);
	if (port != NULL)
		snprintf(peer, sizeof(peer), "%s port %s", host, port);
	else
		snprintf(peer, sizeof(peer), "%s", host);
	if (o.verbose > 0)
		warnx("connected to %s", peer);
	if (tc != NULL)
		t = opts_tls_start(tc, fd, port != NULL ? host : NULL, &o,
		    peer);
	if (o.key != NULL) {
		rv = auth_handshake(fd, t, AUTH_CLIENT, o.key, o.keylen,
		    o.timeout_ms, &errstr);
		auth_key_free(o.key, o.keylen);
		if (rv == -1)
			errx(1, "%s", errstr);
		if (o.verbose > 0)
			warnx("authenticated");
	}
	po.peer = peer;
	po.in_name = "standard input";
	po.idle_ms = o.timeout_ms;
	po.frame = o.frame;
	po.max_frame = o.max_frame;
	po.progress = o.progress && isatty(STDERR_FILENO);
	po.crlf = o.crlf;
	po.tls = t;
	if (o.hexdump != NULL &&
	    (po.hexdump = hexdump_open(o.hexdump, &errstr)) == NULL)
		err(1, "hexdump %s: %s", o.hexdump, errstr);
	if (prog.argv != NULL || prog.sh_cmd != NULL) {
		po.linger_ms = -1;
		rv = pump_exec(fd, prog.argv, prog.sh_cmd, &po, o.verbose,
		    NULL);
		opts_free_argv(prog.argv);
	} else
		rv = pump_session(fd, &po, o.verbose);
	hexdump_close(po.hexdump);
	tls_free(t);
	tls_ctx_free(tc);
	return rv;
}
