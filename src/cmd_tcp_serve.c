#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "cmd.h"
#include "frame.h"
#include "hexdump.h"
#include "log.h"
#include "opts.h"
#include "pump.h"
#include "relay.h"
#include "server.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

#define SYNOPSIS "sockkit tcp-serve [OPTIONS] [ADDRESS] PORT"
#define MAXQ_DEFAULT	(1024 * 1024)
#define MAXMEM_DEFAULT	((size_t)64 * 1024 * 1024)

enum {
	OPT_NO_SHUTDOWN = OPT_CMD,
	OPT_KEEP_SENDING,
	OPT_SEND_ONLY,
	OPT_RECV_ONLY,
	OPT_ECHO,
	OPT_ALLOW,
	OPT_DENY,
	OPT_TAG,
	OPT_MAX_QUEUE,
	OPT_MAX_MEMORY,
	OPT_TO,
	OPT_IDLE,
	OPT_TO_TLS,
	OPT_TO_TLS_CA,
	OPT_TO_TLS_PIN
};

static const char help[] =
"Listen on PORT (all addresses, or ADDRESS), accept a connection and\n"
"pump: stdin to the peer, the peer to stdout.\n\n"
OPTS_HELP
"  -w, --timeout DUR    wait DUR for the client, then close it when idle\n"
"                       for DUR; with -k, close each client idle for DUR\n"
OPTS_HELP_DURATION
OPTS_HELP_PROGRESS
OPTS_HELP_SERVER
OPTS_HELP_STREAM
OPTS_HELP_TLS
OPTS_HELP_TLS_SERVER
"  -k, --keep-open      keep accepting; serve clients concurrently\n"
"  -e, --exec PROG      run PROG (split on spaces) for each connection\n"
"  -c, --sh-exec CMD    run /bin/sh -c CMD for each connection\n"
"      --echo           send everything received back to its sender\n"
"  -m, --max-conns N    at most N connections at once (default 10000)\n"
"      --allow CIDR     accept only clients in CIDR (repeatable)\n"
"      --deny CIDR      refuse clients in CIDR (repeatable)\n"
"      --tag            prefix each message on stdout with HOST:PORT\n"
"      --max-queue SIZE bound of each client's out-queue (default 1M)\n"
"      --max-memory SIZE  all clients' queues and input together; past it\n"
"                       the client holding the most is dropped (default 64M)\n"
"      --send-only      only send stdin; ignore the peer's data\n"
"      --recv-only      only receive; do not read stdin\n"
"      --no-shutdown    at stdin EOF keep the write side open\n"
"      --keep-sending   after the peer's EOF keep sending stdin\n"
OPTS_HELP_CRLF
OPTS_HELP_HEXDUMP
OPTS_HELP_TCP
"      --log json       -v connection events as JSON lines on stderr\n"
"      --to TARGET      relay each client to TARGET (HOST:PORT, [V6]:PORT or\n"
"                       unix:PATH), implies -k; -w bounds the connect\n"
"                       (default 10s); stdin is not read\n"
"      --idle DUR       with --to: close a pair idle for DUR (default never)\n"
"      --to-tls         with --to: TLS toward TARGET, verified (SNI: its HOST)\n"
"      --to-tls-ca FILE verify TARGET against these CAs, not the system's\n"
"      --to-tls-pin SHA256:HEX\n"
"                       accept only this TARGET certificate (repeatable)\n"
OPTS_HELP_PROXY;

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_PROGRESS,
	OPTS_LONG_SERVER,
	OPTS_LONG_STREAM,
	OPTS_LONG_TLS,
	OPTS_LONG_TCP,
	OPTS_LONG_HEXDUMP,
	OPTS_LONG_CRLF,
	{ "log",		required_argument,	NULL,	OPT_LOG },
	{ "keep-open",		no_argument,		NULL,	'k' },
	{ "exec",		required_argument,	NULL,	'e' },
	{ "sh-exec",		required_argument,	NULL,	'c' },
	{ "max-conns",		required_argument,	NULL,	'm' },
	{ "echo",		no_argument,		NULL,	OPT_ECHO },
	{ "allow",		required_argument,	NULL,	OPT_ALLOW },
	{ "deny",		required_argument,	NULL,	OPT_DENY },
	{ "tag",		no_argument,		NULL,	OPT_TAG },
	{ "max-queue",		required_argument,	NULL,	OPT_MAX_QUEUE },
	{ "max-memory",		required_argument,	NULL,	OPT_MAX_MEMORY },
	{ "send-only",		no_argument,		NULL,	OPT_SEND_ONLY },
	{ "recv-only",		no_argument,		NULL,	OPT_RECV_ONLY },
	{ "no-shutdown",	no_argument,		NULL,	OPT_NO_SHUTDOWN },
	{ "keep-sending",	no_argument,		NULL,	OPT_KEEP_SENDING },
	{ "to",			required_argument,	NULL,	OPT_TO },
	{ "idle",		required_argument,	NULL,	OPT_IDLE },
	{ "to-tls",		no_argument,		NULL,	OPT_TO_TLS },
	{ "to-tls-ca",		required_argument,	NULL,	OPT_TO_TLS_CA },
	{ "to-tls-pin",		required_argument,	NULL,	OPT_TO_TLS_PIN },
	OPTS_LONG_PROXY,
	{ NULL,			0,			NULL,	0 }
};

/* --to-tls and its options: TLS toward the relay's target. */
static struct tls_opts to_tls;
static int to_tls_set;
/* --proxy and --proxy-auth: the relay reaches its target through them. */
static struct opts_proxy relay_px;

static void
parse(int argc, char *argv[], struct opts *o, struct serve_opts *so,
    struct relay_opts *ro)
{
	const char *errstr;
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT "CPc:e:km:", longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		if (opts_proxy(&relay_px, ch, optarg))
			continue;
		switch (ch) {
		case 'c':
			so->sh_cmd = optarg;
			break;
		case 'e':
			so->exec_argv = opts_split_argv(optarg);
			break;
		case 'h':
			cmd_help(SYNOPSIS, help);
		case 'k':
			so->keep = 1;
			break;
		case 'm':
			so->max_conns = opts_number(optarg, 1, 1000000,
			    "max-conns");
			break;
		case OPT_ALLOW:
		case OPT_DENY:
			opts_acl(&so->acl, ch == OPT_ALLOW, optarg);
			break;
		case OPT_ECHO:
			so->echo = 1;
			break;
		case OPT_TAG:
			so->tag = 1;
			break;
		case OPT_MAX_QUEUE:
			if ((so->maxq = frame_size_parse(optarg, &errstr)) == 0)
				errx(2, "max-queue %s: %s", optarg, errstr);
			break;
		case OPT_MAX_MEMORY:
			if ((so->max_memory = frame_size_parse(optarg,
			    &errstr)) == 0)
				errx(2, "max-memory %s: %s", optarg, errstr);
			break;
		case OPT_SEND_ONLY:
			so->send_only = 1;
			break;
		case OPT_RECV_ONLY:
			so->recv_only = 1;
			break;
		case OPT_NO_SHUTDOWN:
			so->no_shutdown = 1;
			break;
		case OPT_KEEP_SENDING:
			so->keep_sending = 1;
			break;
		case OPT_TO:
			ro->name = optarg;
			break;
		case OPT_IDLE:
			if ((ro->idle_ms = opts_duration(optarg, &errstr)) == -1)
				errx(2, "idle %s: %s", optarg, errstr);
			break;
		case OPT_TO_TLS:
			to_tls.on = 1;
			break;
		case OPT_TO_TLS_CA:
			to_tls.ca = optarg;
			to_tls_set = 1;
			break;
		case OPT_TO_TLS_PIN:
			if (to_tls.npins == TLS_MAXPINS)
				errx(2, "to-tls-pin: more than %d pins",
				    TLS_MAXPINS);
			if (tls_parse_pin(optarg, to_tls.pins[to_tls.npins],
			    &errstr) == -1)
				errx(2, "to-tls-pin %s: %s", optarg, errstr);
			to_tls.npins++;
			to_tls_set = 1;
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
}

static void
check(const struct opts *o, const struct serve_opts *so)
{
	if (so->send_only && so->recv_only)
		errx(2, "cannot use --send-only with --recv-only");
	if (so->exec_argv != NULL && so->sh_cmd != NULL)
		errx(2, "cannot use --exec with --sh-exec");
	if ((so->exec_argv != NULL || so->sh_cmd != NULL) && so->echo)
		errx(2, "cannot use --echo with --exec or --sh-exec");
	if ((so->exec_argv != NULL || so->sh_cmd != NULL) &&
	    (o->frame_set || o->key != NULL))
		errx(2, "cannot use --frame or --auth-key with --exec");
	if ((so->keep || so->echo || so->exec_argv != NULL ||
	    so->sh_cmd != NULL) && (so->no_shutdown || so->keep_sending))
		errx(2, "cannot use --no-shutdown or --keep-sending with -k, "
		    "--echo or --exec");
	if (so->tag && o->frame == FRAME_RAW)
		errx(2, "cannot use --tag without --frame line or len32");
}

/* --to: the options it cannot take, and its TARGET. */
static void
check_relay(const struct opts *o, const struct serve_opts *so,
    struct relay_opts *ro)
{
	/* The options that read or change the data, and whether each is set. */
	static const char *const names[] = { "--exec", "--sh-exec", "--echo",
	    "--frame", "--auth-key", "--crlf", "--hexdump", "--send-only",
	    "--recv-only", "--tag", "--no-shutdown", "--keep-sending",
	    "--progress" };
	const int set[NELEM(names)] = { so->exec_argv != NULL, so->sh_cmd != NULL,
	    so->echo, o->frame_set, o->key != NULL, o->crlf,
	    o->hexdump != NULL, so->send_only, so->recv_only, so->tag,
	    so->no_shutdown, so->keep_sending, o->progress };
	const char *errstr;
	size_t i;

	ro->proxy = opts_proxy_done(&relay_px, AF_UNSPEC);
	if (ro->name == NULL) {
		if (ro->proxy != NULL)
			errx(2, "cannot use --proxy without --to");
		if (ro->idle_ms >= 0)
			errx(2, "cannot use --idle without --to");
		if (to_tls.on || to_tls_set)
			errx(2, "cannot use --to-tls without --to");
		return;
	}
	if (to_tls_set && !to_tls.on)
		errx(2, "the --to-tls-* options need --to-tls");
	for (i = 0; i < NELEM(names); i++)
		if (set[i])
			errx(2, "cannot use --to with %s", names[i]);
	ro->numeric = o->numeric;
	if (relay_target(ro->name, ro, &errstr) == -1)
		errx(2, "target %s: %s", ro->name, errstr);
	if (to_tls.on && ro->path != NULL && to_tls.npins == 0)
		errx(2, "--to-tls to a unix: target needs --to-tls-pin");
	if (ro->proxy != NULL && ro->path != NULL)
		errx(2, "cannot reach a unix: target through --proxy");
}

/* Relay every client to the target (--to) until killed. */
static int
serve_relay(int *fds, int nfd, const struct opts *o,
    const struct serve_opts *so, struct relay_opts *ro)
{
	char pin[TLS_PINSTRLEN];
	const char *errstr;
	int rv;

	if (o->family == AF_INET || o->family == AF_INET6)
		ro->family = o->family;
	ro->connect_ms = o->timeout_ms >= 0 ? o->timeout_ms : 10000;
	ro->max_conns = so->max_conns;
	ro->acl = so->acl;
	ro->verbose = o->verbose;
	ro->log_json = o->log_json;
	ro->tune = o->tune;
	ro->tls = so->tls;
	if (to_tls.on && (ro->to_tls = tls_ctx_new(&to_tls, 0, pin,
	    &errstr)) == NULL)
		errx(1, "%s", errstr);
	fd_limit_raise();
	rv = relay_run(fds, nfd, ro, &errstr);
	tls_ctx_free(ro->to_tls);
	if (rv == -1 && errno != 0)
		err(1, "%s", errstr);
	if (rv == -1)
		errx(1, "%s", errstr);
	return rv;
}

/* Run the one connection's session, its end logged as --log json says. */
static int
session_logged(int fd, const struct pump_opts *po, const char *name)
{
	struct pump_stats st;
	const char *errstr;
	int rv;

	if ((rv = pump_run(fd, STDIN_FILENO, STDOUT_FILENO, po, &st,
	    &errstr)) == -1)
		warnx("%s", errstr);
	log_json(&(struct log_event){ .event = "close", .peer = name,
	    .reason = rv == -1 ? errstr : "closed", .counts = 1,
	    .sent = st.sent, .rcvd = st.rcvd, .ms = st.end_ms - st.start_ms,
	    .status = -1 });
	close(fd);
	return rv == -1 ? 1 : 0;
}

/*
 * One connection, plain or framed, goes through the stream core and its
 * splice fast path, once the handshake (--auth-key) has succeeded.
 */
static int
serve_one(int *fds, int nfd, const struct opts *o,
    const struct serve_opts *so)
{
	struct pump_opts po = { 0 };
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	const char *errstr;
	char peer[ADDR_STRLEN], name[ADDR_STRLEN];
	int fd, i, rv;

	fd = sock_accept(fds, nfd, o->timeout_ms, &ss, &sslen, &so->acl,
	    so->log_json ? SOCK_LOG_JSON : o->verbose, &errstr);
	if (fd == -1 && errno == ETIMEDOUT)
		errx(1, "%s", errstr);
	if (fd == -1)
		err(1, "%s", errstr);
	/* Exactly one connection: stop listening once it is accepted. */
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	addr_fmt_words((struct sockaddr *)&ss, sslen, peer, sizeof(peer));
	addr_fmt((struct sockaddr *)&ss, sslen, name, sizeof(name));
	if (so->log_json)
		log_json(&(struct log_event){ .event = "open", .peer = name,
		    .status = -1 });
	else if (o->verbose > 0)
		warnx("connection from %s", peer);
	if (so->tls != NULL)
		po.tls = opts_tls_start(so->tls, fd, NULL, o, peer);
	if (o->key != NULL) {
		if (auth_handshake(fd, po.tls, AUTH_SERVER, o->key, o->keylen,
		    o->timeout_ms, &errstr) == -1)
			errx(1, "%s: %s", peer, errstr);
		if (o->verbose > 0)
			warnx("%s: authenticated", peer);
	}
	po.peer = peer;
	po.in_name = "standard input";
	po.idle_ms = o->timeout_ms;
	po.frame = o->frame;
	po.max_frame = o->max_frame;
	po.progress = o->progress && isatty(STDERR_FILENO);
	po.send_only = so->send_only;
	po.recv_only = so->recv_only;
	po.no_shutdown = so->no_shutdown;
	po.keep_sending = so->keep_sending;
	po.crlf = so->crlf;
	po.hexdump = so->hexdump;
	if (so->log_json)
		rv = session_logged(fd, &po, name);
	else
		rv = pump_session(fd, &po, o->verbose);
	tls_free(po.tls);
	return rv;
}

int
cmd_tcp_serve(int argc, char *argv[])
{
	struct opts o;
	struct sockopts sko = { .socktype = SOCK_STREAM };
	struct serve_opts so = { .max_conns = 10000, .maxq = MAXQ_DEFAULT,
	    .max_memory = MAXMEM_DEFAULT };
	struct relay_opts ro = { .idle_ms = -1 };
	const char *errstr, *host = NULL, *port;
	char name[ADDR_STRLEN];
	int fds[SOCK_MAXLISTEN], nfd, i, rv;
	long lim;

	opts_init(&o);
	parse(argc, argv, &o, &so, &ro);
	argc -= optind;
	argv += optind;
	opts_server_args(argc, argv, &o, NULL, SYNOPSIS, &host, &port);
	check_relay(&o, &so, &ro);
	check(&o, &so);
	sko.family = o.family;
	sko.numeric = o.numeric;
	sko.tune = o.tune;
	/* Before the port file: a client that sees it may read the pin. */
	so.tls = opts_tls(&o, 1);
	if ((nfd = sock_listen(host, port, &sko, fds, &errstr)) == -1)
		errx(1, "%s", errstr);
	if (o.port_file != NULL && sock_port_file(o.port_file, fds[0]) == -1)
		err(1, "port file %s", o.port_file);
	for (i = 0; i < nfd && o.verbose > 0; i++)
		warnx("listening on %s", sock_name(fds[i], 1, name,
		    sizeof(name)));
	so.verbose = o.verbose;
	so.idle_ms = o.timeout_ms;
	so.frame = o.frame;
	so.max_frame = o.max_frame;
	so.key = o.key;
	so.keylen = o.keylen;
	so.crlf = o.crlf;
	so.log_json = o.log_json;
	if (o.hexdump != NULL &&
	    (so.hexdump = hexdump_open(o.hexdump, &errstr)) == NULL)
		err(1, "hexdump %s: %s", o.hexdump, errstr);
	if (ro.name != NULL)
		rv = serve_relay(fds, nfd, &o, &so, &ro);
	else if (!so.keep && !so.echo && so.exec_argv == NULL &&
	    so.sh_cmd == NULL)
		rv = serve_one(fds, nfd, &o, &so);
	else {
		lim = fd_limit_raise();
		if (o.verbose > 0)
			warnx("descriptor limit %ld", lim);
		if ((rv = server_run(fds, nfd, &so, &errstr)) == -1)
			err(1, "%s", errstr);
	}
	auth_key_free(o.key, o.keylen);
	hexdump_close(so.hexdump);
	opts_free_argv(so.exec_argv);
	tls_ctx_free(so.tls);
	proxy_chain_clear(&relay_px.chain);
	return rv;
}
