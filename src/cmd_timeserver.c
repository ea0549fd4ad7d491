#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "opts.h"
#include "ratelimit.h"
#include "sock.h"
#include "timeproto.h"
#include "timeserve.h"
#include "util.h"

#define SYNOPSIS "sockkit timeserver [OPTIONS] [[ADDRESS] PORT]"

enum {
	OPT_PROTO = OPT_CMD,
	OPT_TCP,
	OPT_UTC,
	OPT_STRATUM,
	OPT_RATE_LIMIT,
	OPT_USER
};

static const char help[] =
"Serve the current time over UDP (or TCP with --tcp) on PORT (default:\n"
"the protocol's port) of all addresses, or ADDRESS (ADDRESS alone: on\n"
"the default port); with -U, on the Unix datagram socket PATH.\n\n"
OPTS_HELP
"  -w, --timeout DUR    close TCP clients idle for DUR\n"
OPTS_HELP_DURATION
OPTS_HELP_SERVER
"      --proto PROTO    strftime (default, port 9000), daytime (13),\n"
"                       time (37) or ntp (123)\n"
"      --tcp            serve TCP: strftime, daytime or time\n"
"      --utc            format in UTC instead of local time\n"
"      --stratum N      NTP stratum, 1-15 (default 10)\n"
"      --rate-limit N   answer at most N requests a second per source;\n"
"                       0: no limit (default 20 for strftime and daytime\n"
"                       over UDP, whose replies outgrow requests)\n"
"      --user NAME      switch to user NAME once the socket is bound\n";

static const struct option longopts[] = {
	OPTS_LONG,
	OPTS_LONG_SERVER,
	{ "proto",		required_argument,	NULL,	OPT_PROTO },
	{ "tcp",		no_argument,		NULL,	OPT_TCP },
	{ "utc",		no_argument,		NULL,	OPT_UTC },
	{ "stratum",		required_argument,	NULL,	OPT_STRATUM },
	{ "rate-limit",		required_argument, NULL, OPT_RATE_LIMIT },
	{ "user",		required_argument,	NULL,	OPT_USER },
	{ NULL,			0,			NULL,	0 }
};

static void
parse(int argc, char *argv[], struct opts *o, struct timeserve_opts *to,
    const char **user)
{
	int ch;

	while ((ch = getopt_long(argc, argv, OPTS_SHORT, longopts,
	    NULL)) != -1) {
		if (opts_common(o, ch, optarg))
			continue;
		switch (ch) {
		case 'h':
			cmd_help(SYNOPSIS, help);
		case OPT_PROTO:
			if (timeproto_parse(optarg, &to->proto) == -1)
				errx(2, "proto %s: unknown protocol (strftime, "
				    "daytime, time, ntp)", optarg);
			break;
		case OPT_TCP:
			to->tcp = 1;
			break;
		case OPT_UTC:
			to->utc = 1;
			break;
		case OPT_STRATUM:
			to->stratum = opts_number(optarg, 1, 15, "stratum");
			break;
		case OPT_RATE_LIMIT:
			to->rate = opts_number(optarg, 0, RATELIMIT_RATE_MAX,
			    "rate-limit");
			break;
		case OPT_USER:
			*user = optarg;
			break;
		default:
			cmd_usage_error(SYNOPSIS);
		}
	}
}

/*
 * Become pw for good: supplementary groups, group, then user, and make
 * sure root cannot be had back.  Any failure exits: never serve as root
 * when asked not to.
 */
static void
drop_root(const struct passwd *pw)
{
	uid_t r, e, s;

	if (setgroups(1, &pw->pw_gid) == -1)
		err(1, "user %s: setgroups", pw->pw_name);
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		err(1, "user %s: setresgid", pw->pw_name);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		err(1, "user %s: setresuid", pw->pw_name);
	if (getresuid(&r, &e, &s) == -1 || r != pw->pw_uid ||
	    e != pw->pw_uid || s != pw->pw_uid ||
	    (pw->pw_uid != 0 && setuid(0) != -1))
		errx(1, "user %s: could not drop privileges", pw->pw_name);
}

static int
bind_all(const char *host, const char *port, const struct opts *o,
    const struct timeserve_opts *to, int *fds)
{
	struct sockopts sko = { .family = o->family, .numeric = o->numeric };
	const char *errstr;
	char name[ADDR_STRLEN];
	int i, nfd;

	sko.socktype = to->tcp ? SOCK_STREAM : SOCK_DGRAM;
	if ((nfd = sock_listen(host, port, &sko, fds, &errstr)) == -1)
		errx(1, "%s", errstr);
	if (o->port_file != NULL && sock_port_file(o->port_file, fds[0]) == -1)
		err(1, "port file %s", o->port_file);
	for (i = 0; i < nfd && o->verbose > 0; i++)
		warnx("%s %s on %s", timeproto_name(to->proto),
		    to->tcp ? "over TCP" : "over UDP",
		    sock_name(fds[i], 1, name, sizeof(name)));
	return nfd;
}

/*
 * Over UDP a reply larger than its request makes a reflection amplifier
 * for spoofed sources: rate-limit those protocols per source by default,
 * as DNS servers do.  Unix sockets cannot be spoofed.
 */
static unsigned int
default_rate(const struct opts *o, const struct timeserve_opts *to)
{
	if (to->tcp || o->family == AF_UNIX)
		return 0;
	if (to->proto == TP_STRFTIME || to->proto == TP_DAYTIME)
		return TIMESERVE_RATE_DEFAULT;
	return 0;
}

/*
 * [[ADDRESS] PORT]; an ADDRESS alone (neither a port nor all digits, so
 * a bad port number stays a usage error) is on the default port.
 */
static void
server_args(int argc, char *argv[], const struct opts *o,
    const char *defport, const char **host, const char **port)
{
	const char *errstr;

	if (argc == 1 && o->family != AF_UNIX)
		opts_host_port(SYNOPSIS, argv[0], "ADDRESS");
	if (argc == 1 && o->family != AF_UNIX &&
	    opts_port(argv[0], o->numeric, &errstr) == -1 &&
	    argv[0][strspn(argv[0], "0123456789")] != '\0') {
		*host = argv[0];
		*port = defport;
		return;
	}
	opts_server_args(argc, argv, o, defport, SYNOPSIS, host, port);
}

int
cmd_timeserver(int argc, char *argv[])
{
	struct opts o;
	struct timeserve_opts to = { .proto = TP_STRFTIME,
	    .stratum = TP_STRATUM_DEFAULT, .rate = UINT_MAX };
	struct passwd *pw = NULL;
	const char *user = NULL, *host = NULL, *port;
	char defport[16];
	int fds[SOCK_MAXLISTEN], nfd, rate_default;

	opts_init(&o);
	parse(argc, argv, &o, &to, &user);
	argc -= optind;
	argv += optind;
	snprintf(defport, sizeof(defport), "%d", timeproto_port(to.proto));
	server_args(argc, argv, &o, defport, &host, &port);
	if (to.tcp && to.proto == TP_NTP)
		errx(2, "cannot use --tcp with --proto ntp");
	if (user != NULL && (pw = getpwnam(user)) == NULL)
		errx(2, "user %s: no such user", user);
	if ((rate_default = to.rate == UINT_MAX))
		to.rate = default_rate(&o, &to);
	to.verbose = o.verbose;
	to.idle_ms = o.timeout_ms;
	/* Read the zone now: once root is gone it may not be readable. */
	tzset();
	nfd = bind_all(host, port, &o, &to, fds);
	if (o.verbose > 0 && rate_default && to.rate > 0)
		warnx("rate limit %u requests a second per source (the "
		    "default for %s over UDP)", to.rate,
		    timeproto_name(to.proto));
	if (pw != NULL)
		drop_root(pw);
	if (to.tcp)
		fd_limit_raise();
	timeserve_run(fds, nfd, &to);
	err(1, "serve");
}
