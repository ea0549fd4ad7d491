#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "auth.h"
#include "frame.h"
#include "opts.h"
#include "proxy.h"
#include "util.h"

/* Fill in the defaults of the shared options. */
void
opts_init(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->timeout_ms = -1;
	o->frame = FRAME_RAW;
	o->max_frame = FRAME_MAX_DEFAULT;
}

/* Parse --keepalive's optional IDLE[,INTVL,CNT] (seconds, a count). */
static void
opts_keepalive(struct sock_tune *t, const char *arg)
{
	char buf[64], *p, *idle, *intvl, *cnt;

	t->keepalive = 1;
	if (arg == NULL)
		return;
	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf))
		errx(2, "keepalive %s: too long", arg);
	p = buf;
	idle = strsep(&p, ",");
	intvl = strsep(&p, ",");
	cnt = strsep(&p, ",");
	if (p != NULL || (intvl != NULL && cnt == NULL))
		errx(2, "keepalive %s: use IDLE or IDLE,INTVL,CNT", arg);
	t->keepidle = opts_number(idle, 1, 32767, "keepalive idle");
	if (intvl != NULL) {
		t->keepintvl = opts_number(intvl, 1, 32767,
		    "keepalive interval");
		t->keepcnt = opts_number(cnt, 1, 127, "keepalive count");
	}
}

/*
 * Handle one shared option; return 1 if ch was one, 0 otherwise.  Bad
 * values are usage errors and exit 2.
 */
/* The --tls-* options other than --tls. */
static void
opts_tls_option(struct tls_opts *t, int ch, const char *arg)
{
	const char *errstr;

	switch (ch) {
	case OPT_TLS_CERT:
		t->cert = arg;
		break;
	case OPT_TLS_KEY:
		t->key = arg;
		break;
	case OPT_TLS_CA:
		t->ca = arg;
		break;
	case OPT_TLS_NAME:
		if (*arg == '\0')
			errx(2, "tls-name: empty name");
		t->name = arg;
		break;
	case OPT_TLS_PIN:
		if (t->npins == TLS_MAXPINS)
			errx(2, "tls-pin: more than %d pins", TLS_MAXPINS);
		if (tls_parse_pin(arg, t->pins[t->npins], &errstr) == -1)
			errx(2, "tls-pin %s: %s", arg, errstr);
		t->npins++;
		break;
	case OPT_TLS_VERIFY_CLIENT:
		t->verify_client = 1;
		break;
	case OPT_TLS_INSECURE:
		t->insecure = 1;
		break;
	case OPT_TLS_ALPN:
		if (tls_parse_alpn(arg, t->alpn, &t->alpnlen, &errstr) == -1)
			errx(2, "tls-alpn %s: %s", arg, errstr);
		break;
	case OPT_TLS_MIN:
		if (strcmp(arg, "1.2") != 0 && strcmp(arg, "1.3") != 0)
			errx(2, "tls-min %s: not 1.2 or 1.3", arg);
		t->min13 = strcmp(arg, "1.3") == 0;
		break;
	}
}

/*
 * Check the TLS options of a server (server != 0) or client and make
 * the context, or NULL without --tls; a failure exits.  A server's
 * ephemeral certificate's pin is printed, even with -q.
 */
struct tls_ctx *
opts_tls(const struct opts *o, int server)
{
	const struct tls_opts *t = &o->tls;
	char pin[TLS_PINSTRLEN];
	struct tls_ctx *tc;
	const char *errstr;

	if (!t->on) {
		if (o->tls_set)
			errx(2, "the --tls-* options need --tls");
		return NULL;
	}
	if (o->family == AF_UNIX && t->name == NULL && !server &&
	    t->npins == 0 && !t->insecure)
		errx(2, "TLS over a Unix socket needs --tls-name, --tls-pin "
		    "or --tls-insecure");
	if (t->key != NULL && t->cert == NULL)
		errx(2, "cannot use --tls-key without --tls-cert");
	if (server && (t->name != NULL || t->insecure))
		errx(2, "--tls-name and --tls-insecure are for clients");
	if (!server && t->verify_client)
		errx(2, "--tls-verify-client is for servers");
	if (t->verify_client && t->ca == NULL)
		errx(2, "--tls-verify-client needs --tls-ca");
	if (t->insecure && (t->npins > 0 || t->ca != NULL))
		errx(2, "cannot use --tls-insecure with --tls-pin or "
		    "--tls-ca");
	if ((tc = tls_ctx_new(t, server, pin, &errstr)) == NULL)
		errx(1, "%s", errstr);
	if (pin[0] != '\0')
		warnx("TLS certificate %s", pin);
	if (t->insecure && o->verbose >= 0)
		warnx("TLS: not verifying the server's certificate "
		    "(--tls-insecure)");
	return tc;
}

/*
 * Run the TLS handshake on the connected fd, as a client of host (NULL:
 * a Unix socket) or as the server; say what -v shows.  A failure exits
 * 1 naming peer.  Return the session.
 */
struct tls *
opts_tls_start(struct tls_ctx *tc, int fd, const char *host,
    const struct opts *o, const char *peer)
{
	char name[256];
	struct tls *t;

	if (host != NULL && tls_host_name(host, name, sizeof(name)) == -1)
		errx(1, "%s: TLS: host name too long", peer);
	if ((t = tls_new(tc, fd, host != NULL ? name : NULL)) == NULL)
		errx(1, "%s: TLS: cannot make a session", peer);
	if (tls_handshake_wait(t, o->timeout_ms) == -1)
		errx(1, "%s: %s", peer, tls_error(t));
	if (o->verbose > 0)
		tls_say(t, peer);
	return t;
}

int
opts_common(struct opts *o, int ch, const char *arg)
{
	const char *errstr;

	switch (ch) {
	case '4':
		o->family = AF_INET;
		break;
	case '6':
		o->family = AF_INET6;
		break;
	case 'U':
		o->family = AF_UNIX;
		break;
	case 'n':
		o->numeric = 1;
		break;
	case 'P':
		o->progress = 1;
		break;
	case 'q':
		o->verbose = -1;
		break;
	case 'v':
		if (o->verbose >= 0)
			o->verbose++;
		break;
	case 'w':
		if ((o->timeout_ms = opts_duration(arg, &errstr)) == -1)
			errx(2, "timeout %s: %s", arg, errstr);
		break;
	case OPT_PORT_FILE:
		o->port_file = arg;
		break;
	case OPT_FRAME:
		if (frame_mode_parse(arg, (enum frame_mode *)&o->frame) == -1)
			errx(2, "frame %s: unknown mode (raw, line, len32)",
			    arg);
		o->frame_set = 1;
		break;
	case OPT_MAX_FRAME:
		if ((o->max_frame = frame_size_parse(arg, &errstr)) == 0)
			errx(2, "max-frame %s: %s", arg, errstr);
		break;
	case OPT_AUTH_KEY:
		auth_key_free(o->key, o->keylen);
		if (auth_key_load(arg, &o->key, &o->keylen, &errstr) == -1)
			errx(2, "auth-key %s: %s", arg, errstr);
		break;
	case 'C':
		o->crlf = 1;
		break;
	case OPT_KEEPALIVE:
		opts_keepalive(&o->tune, arg);
		break;
	case OPT_NODELAY:
		o->tune.nodelay = 1;
		break;
	case OPT_HEXDUMP:
		o->hexdump = arg;
		break;
	case OPT_TLS:
		o->tls.on = 1;
		break;
	case OPT_TLS_CERT:
	case OPT_TLS_KEY:
	case OPT_TLS_CA:
	case OPT_TLS_NAME:
	case OPT_TLS_PIN:
	case OPT_TLS_VERIFY_CLIENT:
	case OPT_TLS_INSECURE:
	case OPT_TLS_ALPN:
	case OPT_TLS_MIN:
		opts_tls_option(&o->tls, ch, arg);
		o->tls_set = 1;
		break;
	case OPT_LOG:
		if (strcmp(arg, "json") != 0)
			errx(2, "log %s: unknown format (json)", arg);
		o->log_json = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

static const struct unit {
	const char	*name;
	long long	 ms;
} units[] = {
	{ "",	1000 },
	{ "ms",	1 },
	{ "s",	1000 },
	{ "m",	60 * 1000 },
	{ "h",	60 * 60 * 1000 },
};

/*
 * Split a DURATION into its integer part (capped just above the maximum),
 * up to nine fraction digits over *den, and a unit; -1 if malformed.
 */
static int
duration_split(const char *s, long long *ip, long long *frac, long long *den,
    const struct unit **u)
{
	size_t i;

	*ip = *frac = 0;
	*den = 1;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		*ip = MINIMUM(*ip * 10 + (*s - '0'), OPTS_DURATION_MAX + 1);
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++)
			if (*den < 1000000000LL) {
				*frac = *frac * 10 + (*s - '0');
				*den *= 10;
			}
	}
	for (i = 0; i < NELEM(units); i++)
		if (strcmp(s, units[i].name) == 0) {
			*u = &units[i];
			return 0;
		}
	return -1;
}

/*
 * Parse a DURATION (a decimal number, optional fraction, optional unit
 * ms, s, m or h) into milliseconds, rounded to the nearest, at most
 * OPTS_DURATION_MAX (every timer and poll(2) takes it as an int); return
 * -1 and set *errstr if invalid or too large.
 */
long
opts_duration(const char *s, const char **errstr)
{
	const struct unit *u;
	long long ip, frac, den, ms;

	if (duration_split(s, &ip, &frac, &den, &u) == -1) {
		*errstr = "invalid duration";
		return -1;
	}
	*errstr = "too large (at most 576h, 24 days)";
	if (ip > OPTS_DURATION_MAX / u->ms)
		return -1;
	ms = ip * u->ms + (frac * u->ms + den / 2) / den;
	if (ms > OPTS_DURATION_MAX)
		return -1;
	*errstr = NULL;
	return (long)ms;
}

/*
 * Check a PORT (a number 0-65535, or a service name unless numeric);
 * return the port number, or -1 and set *errstr.
 */
int
opts_port(const char *s, int numeric, const char **errstr)
{
	struct servent *se;
	long long n;

	if (*s >= '0' && *s <= '9') {
		n = strtonum(s, 0, 65535, errstr);
		if (*errstr != NULL)
			*errstr = "invalid port";
		return *errstr == NULL ? (int)n : -1;
	}
	*errstr = "invalid port";
	if (numeric || *s == '\0' || *s == '-')
		return -1;
	if ((se = getservbyname(s, NULL)) == NULL) {
		*errstr = "unknown service";
		return -1;
	}
	*errstr = NULL;
	return ntohs(se->s_port);
}

/* Parse a number for option what in [min, max]; exit 2 if it is not. */
long long
opts_number(const char *s, long long min, long long max, const char *what)
{
	const char *errstr;
	long long n;

	n = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		errx(2, "%s %s: %s", what, s, errstr);
	return n;
}

/* Add CIDR arg to the allow (allow != 0) or deny list; exit 2 if bad. */
void
opts_acl(struct acl *acl, int allow, const char *arg)
{
	const char *errstr;

	if (acl_add(acl, allow, arg, &errstr) == -1)
		errx(2, "%s %s: %s", allow ? "allow" : "deny", arg, errstr);
}

/* Print the one-line usage and a hint to see --help to stderr; exit 2. */
void
opts_usage(const char *synopsis)
{
	char name[64], *colon;

	strlcpy(name, getprogname(), sizeof(name));
	if ((colon = strchr(name, ':')) != NULL)
		memmove(colon, colon + 1, strlen(colon));
	fprintf(stderr, "usage: %s\nTry '%s --help' for more.\n", synopsis,
	    name);
	exit(2);
}

/* Say what is wrong with the arguments, print the usage; exit 2. */
void
opts_usage_errx(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	opts_usage(synopsis);
}

/*
 * If arg is one "HOST:PORT" (or "[V6]:PORT") rather than an IPv6
 * address, say that HOST and PORT are two arguments, and exit 2.
 */
void
opts_host_port(const char *synopsis, const char *arg, const char *hostname)
{
	const char *colon = strrchr(arg, ':'), *host = arg;
	int len;

	if (colon == NULL || colon[1] == '\0')
		return;
	if (*arg == '[') {
		if (colon == arg || colon[-1] != ']')
			return;
		host = arg + 1;
		len = colon - 1 - host;
	} else if (strchr(arg, ':') != colon)
		return;
	else
		len = colon - arg;
	opts_usage_errx(synopsis, "%s: %s and PORT are two arguments: '%.*s %s'",
	    arg, hostname, len, host, colon + 1);
}

/*
 * Check the count of positional arguments: at least the words of
 * required ("HOST PORT"), at most max (-1: no limit); otherwise exit 2
 * naming what is missing, or saying that there are too many.
 */
void
opts_args(const char *synopsis, int argc, char *argv[], const char *required,
    int max)
{
	const char *w = required, *sp;
	int i;

	for (i = 0; i < argc && w != NULL; i++)
		if ((w = strchr(w, ' ')) != NULL)
			w++;
	if (w != NULL && *w != '\0') {
		if (argc == 1 && strcmp(required, "HOST PORT") == 0)
			opts_host_port(synopsis, argv[0], "HOST");
		if ((sp = strchr(w, ' ')) == NULL)
			opts_usage_errx(synopsis, "missing %s", w);
		opts_usage_errx(synopsis, "missing %.*s and %s", (int)(sp - w),
		    w, sp + 1);
	}
	if (max >= 0 && argc > max)
		opts_usage_errx(synopsis, "too many arguments");
}

/*
 * Take a server's "[ADDRESS] PORT" (PATH with -U) from argv: set *host
 * (NULL: all addresses) and *port, which is defport when omitted (defport
 * NULL: PORT is required).  A wrong count of arguments or a bad port is
 * a usage error (synopsis) and exits 2.
 */
void
opts_server_args(int argc, char *argv[], const struct opts *o,
    const char *defport, const char *synopsis, const char **host,
    const char **port)
{
	const char *errstr;

	if (o->family == AF_UNIX)
		opts_args(synopsis, argc, argv, "PATH", 1);
	else
		opts_args(synopsis, argc, argv, defport != NULL ? "" : "PORT",
		    2);
	*host = argc == 2 ? argv[0] : NULL;
	*port = argc == 0 ? defport : argv[argc - 1];
	if (o->family == AF_UNIX ||
	    opts_port(*port, o->numeric, &errstr) != -1)
		return;
	if (argc == 1)
		opts_host_port(synopsis, *port, "ADDRESS");
	errx(2, "port %s: %s", *port, errstr);
}

/* Split PROG on spaces into an argv (exit 2 if it is empty). */
char **
opts_split_argv(const char *prog)
{
	char **av = NULL, *s, *p, *tok;
	size_t n = 0;

	/* The first word starts the copy, so that freeing it frees all. */
	while (*prog == ' ')
		prog++;
	p = s = xstrdup(prog);
	while ((tok = strsep(&p, " ")) != NULL) {
		if (*tok == '\0')
			continue;
		av = xreallocarray(av, n + 2, sizeof(*av));
		av[n++] = tok;
	}
	if (n == 0)
		errx(2, "exec: empty command");
	av[n] = NULL;
	return av;
}

/* Free an argv from opts_split_argv(); NULL is none. */
void
opts_free_argv(char **av)
{
	if (av == NULL)
		return;
	free(av[0]);
	free(av);
}

/* Take --proxy and --proxy-auth; return 0 if ch is neither. */
int
opts_proxy(struct opts_proxy *px, int ch, const char *arg)
{
	const char *errstr;

	if (ch == OPT_PROXY_AUTH)
		px->auth_file = arg;
	else if (ch != OPT_PROXY)
		return 0;
	else if (proxy_parse(&px->chain, arg, &errstr) == -1)
		errx(2, "%s", errstr);
	return 1;
}

/*
 * Check the proxy options against the family and read --proxy-auth's
 * USER:PASS (less one trailing newline; exit 2 if unreadable or
 * empty); return the chain, or NULL without --proxy.
 */
const struct proxy_chain *
opts_proxy_done(struct opts_proxy *px, int family)
{
	unsigned char *key;
	const char *errstr;
	size_t len;
	int rv;

	if (px->chain.n == 0) {
		if (px->auth_file != NULL)
			errx(2, "cannot use --proxy-auth without --proxy");
		return NULL;
	}
	if (family == AF_UNIX)
		errx(2, "cannot use --proxy with --unix");
	if (px->auth_file == NULL)
		return &px->chain;
	if (auth_key_load(px->auth_file, &key, &len, &errstr) == -1)
		errx(2, "proxy-auth %s: %s", px->auth_file,
		    strcmp(errstr, "empty key") == 0 ? "empty file" : errstr);
	rv = proxy_set_auth(&px->chain, (char *)key, len, &errstr);
	auth_key_free(key, len);
	if (rv == -1)
		errx(2, "proxy-auth %s: %s", px->auth_file, errstr);
	return &px->chain;
}
