#include <sys/socket.h>

#include <err.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "chatline.h"
#include "chatui.h"
#include "cmd.h"
#include "frame.h"
#include "opts.h"
#include "room.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

#define SYNOPSIS "sockkit chat [OPTIONS] HOST PORT | " \
	"sockkit chat --listen [OPTIONS] [ADDRESS] PORT"

enum {
	OPT_NICK = OPT_CMD,
	OPT_HISTORY,
	OPT_MAX_CLIENTS,
	OPT_ALLOW,
	OPT_DENY,
	OPT_MAX_QUEUE,
	OPT_MAX_LINE,
	OPT_MAX_MEMORY
};

static const char help[] =
"Join a chat room at HOST PORT, or host one (--listen) on PORT that nc,\n"
"telnet and the sockkit client can join.\n\n"
OPTS_HELP
"  -w, --timeout DUR    connect timeout; room: close members idle DUR;\n"
"                       --auth-key: the handshake's bound (default 10s)\n"
OPTS_HELP_DURATION
OPTS_HELP_SERVER
"      --auth-key FILE  mutual HMAC-SHA256 authentication with FILE's key\n"
OPTS_HELP_TLS
OPTS_HELP_TLS_CLIENT
OPTS_HELP_TLS_SERVER
"      --nick NAME      your nick (default: the login name; host: host)\n"
"  -l, --listen         host a room; stdin and stdout are a member\n"
"      --history N      replay the last N lines to a newcomer (default 0)\n"
"      --max-clients N  at most N members at once (default 10000)\n"
"      --allow CIDR     accept only clients in CIDR (repeatable)\n"
"      --deny CIDR      refuse clients in CIDR (repeatable)\n"
"      --max-queue SIZE drop a member with more queued (default 1M)\n"
"      --max-line SIZE  cut longer lines (default 8K)\n"
"      --max-memory SIZE  all members' queues and input together; past it\n"
"                       the member holding the most is dropped (default 64M)\n"
OPTS_HELP_CRLF
OPTS_HELP_TCP
OPTS_HELP_PROXY
"      --log json       host: -v join and leave events as JSON lines\n";

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_SERVER,
	{ "auth-key",		required_argument,	NULL,	OPT_AUTH_KEY },
	OPTS_LONG_TLS,
	OPTS_LONG_TCP,
	OPTS_LONG_CRLF,
	{ "log",		required_argument,	NULL,	OPT_LOG },
	{ "listen",		no_argument,		NULL,	'l' },
	{ "nick",		required_argument,	NULL,	OPT_NICK },
	{ "history",		required_argument,	NULL,	OPT_HISTORY },
	{ "max-clients",	required_argument,	NULL,	OPT_MAX_CLIENTS },
	{ "allow",		required_argument,	NULL,	OPT_ALLOW },
	{ "deny",		required_argument,	NULL,	OPT_DENY },
	{ "max-queue",		required_argument,	NULL,	OPT_MAX_QUEUE },
	{ "max-line",		required_argument,	NULL,	OPT_MAX_LINE },
	{ "max-memory",		required_argument,	NULL,	OPT_MAX_MEMORY },
	OPTS_LONG_PROXY,
	{ NULL,			0,			NULL,	0 }
};

static size_t
size_arg(const char *arg, size_t max, const char *what)
{
	const char *errstr;
	size_t n;

	if ((n = frame_size_parse(arg, &errstr)) == 0)
		errx(2, "%s %s: %s", what, arg, errstr);
	if (n > max)
		errx(2, "%s %s: too large", what, arg);
	return n;
}

/* Parse the options; return 1 if only a room may use the ones given. */
static int
parse(int argc, char *argv[], struct opts *o, struct room_opts *ro,
    int *listen, struct opts_proxy *px)
{
	int ch, room_only = 0;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT "Cl", longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg)) {
			room_only |= ch == OPT_PORT_FILE || ch == OPT_LOG;
			continue;
		}
		if (opts_proxy(px, ch, optarg))
			continue;
		room_only |= ch >= OPT_HISTORY;
		switch (ch) {
		case 'h':
			cmd_help(SYNOPSIS, help);
		case 'l':
			*listen = 1;
			break;
		case OPT_NICK:
			if (!chatline_nick_ok(optarg, strlen(optarg)))
				errx(2, "nick %s: use 1-%d letters, digits, "
				    "'_', '-' or '.'", optarg, NICK_MAX);
			ro->nick = optarg;
			break;
		case OPT_HISTORY:
			ro->history = opts_number(optarg, 0, 100000,
			    "history");
			break;
		case OPT_MAX_CLIENTS:
			ro->max_clients = opts_number(optarg, 1, 1000000,
			    "max-clients");
			break;
		case OPT_ALLOW:
		case OPT_DENY:
			opts_acl(&ro->acl, ch == OPT_ALLOW, optarg);
			break;
		case OPT_MAX_QUEUE:
			ro->maxq = size_arg(optarg, SIZE_MAX, "max-queue");
			break;
		case OPT_MAX_LINE:
			ro->max_line = size_arg(optarg, FRAME_MAX_DEFAULT,
			    "max-line");
			break;
		case OPT_MAX_MEMORY:
			ro->max_memory = size_arg(optarg, SIZE_MAX,
			    "max-memory");
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
	return room_only;
}

static int
host(int argc, char *argv[], const struct opts *o, struct room_opts *ro)
{
	struct sockopts sko = { .socktype = SOCK_STREAM };
	const char *errstr, *addr = NULL, *port;
	char name[ADDR_STRLEN];
	int fds[SOCK_MAXLISTEN], nfd, i, rv;
	long lim;

	opts_server_args(argc, argv, o, NULL, SYNOPSIS, &addr, &port);
	if (ro->nick != NULL && chatline_nick_reserved(ro->nick))
		errx(2, "nick %s is reserved: the room's replies start with it",
		    ro->nick);
	sko.family = o->family;
	sko.numeric = o->numeric;
	sko.tune = o->tune;
	lim = fd_limit_raise();
	ro->tls = opts_tls(o, 1);
	if ((nfd = sock_listen(addr, port, &sko, fds, &errstr)) == -1)
		errx(1, "%s", errstr);
	if (o->port_file != NULL && sock_port_file(o->port_file, fds[0]) == -1)
		err(1, "port file %s", o->port_file);
	for (i = 0; i < nfd && o->verbose > 0; i++)
		warnx("listening on %s", sock_name(fds[i], 1, name,
		    sizeof(name)));
	if (o->verbose > 0)
		warnx("descriptor limit %ld", lim);
	ro->verbose = o->verbose;
	ro->idle_ms = o->timeout_ms;
	ro->key = o->key;
	ro->keylen = o->keylen;
	ro->log_json = o->log_json;
	rv = room_run(fds, nfd, ro);
	auth_key_free(o->key, o->keylen);
	tls_ctx_free(ro->tls);
	return rv;
}

/* The login name, made a nick; NULL if nothing of it is left. */
static const char *
login_nick(void)
{
	static char nick[NICK_MAX + 1];
	char name[256];
	struct passwd *pw;

	if (getlogin_r(name, sizeof(name)) != 0) {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		strlcpy(name, pw->pw_name, sizeof(name));
	}
	return chatline_nick_clean(name, nick) == 0 ? nick : NULL;
}

static int
join(int argc, char *argv[], const struct opts *o, const char *nick,
    struct opts_proxy *px)
{
	struct sockopts so = { .socktype = SOCK_STREAM };
	struct tls_ctx *tc;
	struct tls *t = NULL;
	struct auth a;
	const char *errstr, *port;
	char peer[300];
	int fd, rv;

	opts_args(SYNOPSIS, argc, argv, o->family == AF_UNIX ? "PATH" :
	    "HOST PORT", o->family == AF_UNIX ? 1 : 2);
	port = o->family == AF_UNIX ? NULL : argv[1];
	if (port != NULL && opts_port(port, o->numeric, &errstr) == -1)
		errx(2, "port %s: %s", port, errstr);
	so.family = o->family;
	so.numeric = o->numeric;
	so.verbose = o->verbose;
	so.timeout_ms = o->timeout_ms;
	so.tune = o->tune;
	so.proxy = opts_proxy_done(px, o->family);
	tc = opts_tls(o, 0);
	fd = sock_connect(argv[0], port, &so, &errstr);
	proxy_chain_clear(&px->chain);
	if (fd == -1)
		errx(1, "%s", errstr);
	snprintf(peer, sizeof(peer), "%s%s%s", argv[0], port ? " port " : "",
	    port ? port : "");
	if (o->verbose > 0)
		warnx("connected to %s", peer);
	if (tc != NULL)
		t = opts_tls_start(tc, fd, port != NULL ? argv[0] : NULL, o,
		    peer);
	if (o->key != NULL) {
		auth_init(&a, AUTH_CLIENT, o->key, o->keylen);
		rv = auth_run(fd, t, &a, o->timeout_ms >= 0 ? o->timeout_ms :
		    AUTH_TIMEOUT_MS, &errstr);
		auth_key_free(o->key, o->keylen);
		if (rv == -1)
			errx(1, "%s", errstr);
	}
	rv = chatui_run(fd, t, nick != NULL ? nick : login_nick(),
	    o->verbose, o->crlf);
	tls_ctx_free(tc);
	return rv;
}

int
cmd_chat(int argc, char *argv[])
{
	struct opts o;
	struct room_opts ro = { .max_clients = 10000, .maxq = 1024 * 1024,
	    .max_line = 8192, .max_memory = MAX_MEMORY_DEFAULT };
	struct opts_proxy px = { 0 };
	int listen = 0, room_only;

	opts_init(&o);
	room_only = parse(argc, argv, &o, &ro, &listen, &px);
	argc -= optind;
	argv += optind;
	if (room_only && !listen)
		errx(2, "cannot use room options without --listen");
	if (listen && (px.chain.n > 0 || px.auth_file != NULL))
		errx(2, "cannot use --proxy or --proxy-auth with --listen");
	if (listen) {
		if (ro.nick == NULL)
			ro.nick = "host";
		return host(argc, argv, &o, &ro);
	}
	return join(argc, argv, &o, ro.nick, &px);
}
