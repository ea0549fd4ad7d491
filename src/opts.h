#ifndef OPTS_H
#define OPTS_H

#include <stddef.h>

#include "proxy.h"
#include "sock.h"
#include "tls.h"

/* Long-only options; each command numbers its own from OPT_CMD up. */
enum {
	OPT_PORT_FILE = 256,
	OPT_FRAME,
	OPT_MAX_FRAME,
	OPT_AUTH_KEY,
	OPT_KEEPALIVE,
	OPT_NODELAY,
	OPT_HEXDUMP,
	OPT_LOG,
	OPT_TLS,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_TLS_NAME,
	OPT_TLS_PIN,
	OPT_TLS_VERIFY_CLIENT,
	OPT_TLS_INSECURE,
	OPT_TLS_ALPN,
	OPT_TLS_MIN,
	OPT_CMD = 320
};

/*
 * The longest DURATION, in milliseconds: 24 days, below INT32_MAX, so
 * that poll(2) and every timer can take it as an int.
 */
#define OPTS_DURATION_MAX	(24LL * 24 * 60 * 60 * 1000)

/* The short options every command shares, for getopt_long(3). */
#define OPTS_SHORT	"46Unvqw:h"

/* The long options every command shares, first rows of its table. */
#define OPTS_LONG \
	{ "ipv4",	no_argument,		NULL,	'4' }, \
	{ "ipv6",	no_argument,		NULL,	'6' }, \
	{ "unix",	no_argument,		NULL,	'U' }, \
	{ "numeric",	no_argument,		NULL,	'n' }, \
	{ "verbose",	no_argument,		NULL,	'v' }, \
	{ "quiet",	no_argument,		NULL,	'q' }, \
	{ "timeout",	required_argument,	NULL,	'w' }, \
	{ "help",	no_argument,		NULL,	'h' }

/* -P (add "P" to the short options), for the commands that pump bytes. */
#define OPTS_LONG_PROGRESS \
	{ "progress",	no_argument,		NULL,	'P' }

/* For the commands that bind a port. */
#define OPTS_LONG_SERVER \
	{ "port-file",	required_argument,	NULL,	OPT_PORT_FILE }

/* Framing and authentication, for the stream commands. */
#define OPTS_LONG_STREAM \
	{ "frame",	required_argument,	NULL,	OPT_FRAME }, \
	{ "max-frame",	required_argument,	NULL,	OPT_MAX_FRAME }, \
	{ "auth-key",	required_argument,	NULL,	OPT_AUTH_KEY }

/* TLS, for the stream commands. */
#define OPTS_LONG_TLS \
	{ "tls",	no_argument,		NULL,	OPT_TLS }, \
	{ "tls-cert",	required_argument,	NULL,	OPT_TLS_CERT }, \
	{ "tls-key",	required_argument,	NULL,	OPT_TLS_KEY }, \
	{ "tls-ca",	required_argument,	NULL,	OPT_TLS_CA }, \
	{ "tls-name",	required_argument,	NULL,	OPT_TLS_NAME }, \
	{ "tls-pin",	required_argument,	NULL,	OPT_TLS_PIN }, \
	{ "tls-verify-client", no_argument,	NULL,	OPT_TLS_VERIFY_CLIENT }, \
	{ "tls-insecure", no_argument,		NULL,	OPT_TLS_INSECURE }, \
	{ "tls-alpn",	required_argument,	NULL,	OPT_TLS_ALPN }, \
	{ "tls-min",	required_argument,	NULL,	OPT_TLS_MIN }

#define OPTS_HELP_TLS \
"      --tls            TLS 1.2/1.3 on every connection\n" \
"      --tls-cert FILE  our certificate chain (PEM); a server without one\n" \
"                       makes an ephemeral one and prints its pin\n" \
"      --tls-key FILE   its private key (default: in --tls-cert)\n" \
"      --tls-ca FILE    verify the peer against these CAs, not the system's\n" \
"      --tls-pin SHA256:HEX\n" \
"                       accept only a peer certificate with this SHA-256\n" \
"                       (repeatable; without --tls-ca, replaces the chain)\n" \
"      --tls-alpn LIST  ALPN protocols, comma-separated\n" \
"      --tls-min 1.2|1.3 lowest protocol version (default 1.2)\n"

#define OPTS_HELP_TLS_CLIENT \
"      --tls-name NAME  the server name to verify and send (default HOST)\n" \
"      --tls-insecure   accept any server certificate (says so)\n"

#define OPTS_HELP_TLS_SERVER \
"      --tls-verify-client\n" \
"                       require a client certificate signed by --tls-ca\n"

/* The TCP socket options, for the TCP commands. */
#define OPTS_LONG_TCP \
	{ "keepalive",	optional_argument,	NULL,	OPT_KEEPALIVE }, \
	{ "nodelay",	no_argument,		NULL,	OPT_NODELAY }

#define OPTS_HELP_TCP \
"      --keepalive[=IDLE[,INTVL,CNT]]\n" \
"                       TCP keepalive probes, after IDLE seconds idle,\n" \
"                       every INTVL seconds, CNT of them\n" \
"      --nodelay        send small writes at once (TCP_NODELAY)\n"

/* Habits of nc users: -C and --hexdump, for the commands that move data. */
#define OPTS_LONG_HEXDUMP \
	{ "hexdump",	required_argument,	NULL,	OPT_HEXDUMP }
#define OPTS_LONG_CRLF \
	{ "crlf",	no_argument,		NULL,	'C' }

#define OPTS_HELP_HEXDUMP \
"      --hexdump FILE   dump every byte each way to FILE (- for stderr)\n"
#define OPTS_HELP_CRLF \
"  -C, --crlf           send each line of stdin ending in CRLF\n"

#define OPTS_HELP_STREAM \
"      --frame MODE     raw (default), line or len32 messages on the wire\n" \
"      --max-frame SIZE longest message (default 16M)\n" \
"      --auth-key FILE  mutual HMAC-SHA256 authentication with FILE's key\n"

/*
 * Usage lines for the shared options, for each command's --help; each
 * command says what its -w does, then gives OPTS_HELP_DURATION.
 */
#define OPTS_HELP \
"  -4, -6               IPv4 only / IPv6 only\n" \
"  -U, --unix           Unix-domain socket: PATH replaces the address\n" \
"  -n, --numeric        no DNS or service-name look-ups\n" \
"  -v, --verbose        report addresses, connections, a summary; repeat\n" \
"  -q, --quiet          print nothing but errors\n" \
"  -h, --help           this help\n"

#define OPTS_HELP_DURATION \
"                       DUR: a number, unit ms, s (default), m or h, <= 576h\n"

#define OPTS_HELP_PROGRESS \
"  -P, --progress       live progress on stderr when it is a terminal\n"

#define OPTS_HELP_SERVER \
"      --port-file FILE once bound, write the port number to FILE\n"

struct opts {
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX */
	int		 numeric;
	int		 verbose;	/* -1 with -q */
	long		 timeout_ms;	/* -1: none given */
	int		 progress;
	const char	*port_file;
	int		 frame;		/* enum frame_mode */
	int		 frame_set;
	size_t		 max_frame;
	unsigned char	*key;		/* --auth-key contents */
	size_t		 keylen;
	struct sock_tune tune;		/* --keepalive, --nodelay */
	const char	*hexdump;	/* --hexdump FILE */
	int		 crlf;		/* -C */
	int		 log_json;	/* --log json */
	struct tls_opts	 tls;		/* --tls and its options */
	int		 tls_set;	/* some --tls-* option was given */
};

struct acl;

void	 opts_init(struct opts *);
int	 opts_common(struct opts *, int, const char *);
long	 opts_duration(const char *, const char **);
int	 opts_port(const char *, int, const char **);
void	 opts_server_args(int, char *[], const struct opts *, const char *,
	    const char *, const char **, const char **);
long long opts_number(const char *, long long, long long, const char *);
void	 opts_acl(struct acl *, int, const char *);
void	 opts_usage(const char *) __attribute__((noreturn));
void	 opts_usage_errx(const char *, const char *, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
void	 opts_args(const char *, int, char *[], const char *, int);
void	 opts_host_port(const char *, const char *, const char *);
char	**opts_split_argv(const char *);
void	 opts_free_argv(char **);
struct tls_ctx *opts_tls(const struct opts *, int);
struct tls	*opts_tls_start(struct tls_ctx *, int, const char *,
		    const struct opts *, const char *);

/*
 * --proxy and --proxy-auth, for tcp-connect and the chat client: long
 * only, numbered apart from the shared options (which grow up from 256)
 * and below each command's own (from OPT_CMD).
 */
enum {
	OPT_PROXY = OPT_CMD - 8,
	OPT_PROXY_AUTH
};

#define OPTS_LONG_PROXY \
	{ "proxy",	required_argument,	NULL,	OPT_PROXY }, \
	{ "proxy-auth",	required_argument,	NULL,	OPT_PROXY_AUTH }

#define OPTS_HELP_PROXY \
"      --proxy URL[,URL...]\n" \
"                       connect through a proxy, or a chain of them:\n" \
"                       socks5://[USER:PASS@]HOST[:PORT] (port 1080),\n" \
"                       socks4a://[USER@]HOST[:PORT] (1080),\n" \
"                       http://[USER:PASS@]HOST[:PORT] (3128); -w bounds\n" \
"                       the whole negotiation (default 10s)\n" \
"      --proxy-auth FILE\n" \
"                       USER:PASS for the proxies whose URL has none\n"

struct opts_proxy {
	struct proxy_chain chain;
	const char	*auth_file;
};

int	 opts_proxy(struct opts_proxy *, int, const char *);
const struct proxy_chain *opts_proxy_done(struct opts_proxy *, int);

#endif
