#include <sys/socket.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "opts.h"
#include "scan.h"
#include "sock.h"
#include "util.h"

#define SCAN_WINDOW	64		/* connects in flight at once */
#define SCAN_TIMEOUT_MS	2000		/* per port without -w */
#define SCAN_MAX_ADDRS	16		/* addresses of HOST tried */
#define SCAN_PAUSE_MS	250		/* between passes with --retry */
#define ST_PENDING	(-1)		/* else 0 (open) or an errno */

/* Mark the ports of spec ("80", "20-30", "22,80,443") in want. */
static int
parse_ports(const char *spec, unsigned char *want, int numeric)
{
	char *s, *p, *tok, *dash;
	const char *errstr;
	int lo, hi, n = 0;

	p = s = xstrdup(spec);
	while ((tok = strsep(&p, ",")) != NULL) {
		/* A service name may hold a '-' (http-alt): try it whole. */
		dash = NULL;
		if ((lo = opts_port(tok, numeric, &errstr)) == -1 &&
		    (dash = strchr(tok, '-')) != NULL && dash != tok) {
			*dash++ = '\0';
			lo = opts_port(tok, numeric, &errstr);
		}
		hi = dash ? opts_port(dash, numeric, &errstr) : lo;
		if (lo <= 0 || hi <= 0 || hi < lo) {
			warnx("port %s: %s", spec, lo == 0 || hi == 0 ?
			    "invalid port" : errstr ? errstr : "invalid range");
			free(s);
			return -1;
		}
		for (; lo <= hi; lo++, n++)
			want[lo] = 1;
	}
	free(s);
	return n;
}

/* One scan: every wanted port on every address of host. */
struct scan {
	const char	*host;
	struct addrinfo	*ai;
	struct addrinfo	*addr[SCAN_MAX_ADDRS];
	int		 naddr;
	int		*ports;		/* wanted ports, ascending */
	int		 nports;
	int		*st;		/* per port and address: ST_PENDING... */
	int		 verbose;
};

struct probe {
	int		fd, job;	/* job: port index * naddr + address */
	int64_t		started;
};

/* Start a connect to ai on port; return the socket, or -1 with errno. */
static int
scan_start(const struct addrinfo *ai, int port)
{
	struct sockaddr_storage ss;
	int fd, e;

	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == 0 ||
	    errno == EINPROGRESS)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Close a finished probe; return 0 if it connected, else its errno. */
static int
scan_done(int fd)
{
	socklen_t len = sizeof(int);
	int error = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	close(fd);
	return error;
}

/* With -v, name each address of port i and its result. */
static void
report_addrs(const struct scan *s, int i)
{
	char host[NI_MAXHOST];
	int a, e;

	for (a = 0; a < s->naddr; a++) {
		if (getnameinfo(s->addr[a]->ai_addr, s->addr[a]->ai_addrlen,
		    host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			strlcpy(host, "?", sizeof(host));
		e = s->st[i * s->naddr + a];
		if (e == 0)
			warnx("%s (%s) port %d: open", s->host, host,
			    s->ports[i]);
		else
			warnx("%s (%s) port %d: %s", s->host, host,
			    s->ports[i], strerror(e));
	}
}

/*
 * Print the results that are final, in port order, from *next on: a port
 * is open if any address accepted.  Return 1 if one was open.
 */
static int
report(const struct scan *s, int *next, int loud)
{
	int a, open = 0, any;

	for (; *next < s->nports; (*next)++) {
		for (a = 0, any = 0; a < s->naddr; a++) {
			if (s->st[*next * s->naddr + a] == ST_PENDING)
				return open;
			any |= s->st[*next * s->naddr + a] == 0;
		}
		if (any) {
			printf("%s %d open\n", s->host, s->ports[*next]);
			fflush(stdout);
			open = 1;
		}
		if (s->verbose > 0 && (any || loud))
			report_addrs(s, *next);
	}
	return open;
}

/*
 * Wait for the probes in flight and record the ones that finished; 0, or
 * -1 with errno set if poll(2) fails.
 */
static int
scan_wait(struct probe *pr, int *n, int *st, long tmo)
{
	struct pollfd pfd[SCAN_WINDOW];
	int64_t now = now_ms(), wait = tmo;
	int i;

	if (*n <= 0 || *n > SCAN_WINDOW)
		return 0;
	for (i = 0; i < *n; i++) {
		pfd[i].fd = pr[i].fd;
		pfd[i].events = POLLOUT;
		pfd[i].revents = 0;
		wait = MINIMUM(wait, pr[i].started + tmo - now);
	}
	if (poll(pfd, *n, (int)MAXIMUM(wait, 0)) == -1 && errno != EINTR)
		return -1;
	now = now_ms();
	for (i = *n - 1; i >= 0; i--) {
		if (pfd[i].revents != 0)
			st[pr[i].job] = scan_done(pr[i].fd);
		else if (now - pr[i].started >= tmo) {
			close(pr[i].fd);
			st[pr[i].job] = ETIMEDOUT;
		} else
			continue;
		pr[i] = pr[--*n];
	}
	return 0;
}

/*
 * Probe every port on every address with up to SCAN_WINDOW connects in
 * flight; print "HOST PORT open" for each open port, in port order, and
 * with -v (when loud, or for an open port) each address's result.
 * Return 1 if a port was open, 0 if none, -1 if poll(2) failed.
 */
static int
scan_pass(struct scan *s, long tmo, int loud)
{
	struct probe pr[SCAN_WINDOW];
	int njobs = s->nports * s->naddr, job = 0, next = 0, open = 0;
	int n = 0, fd;

	for (job = 0; job < njobs; job++)
		s->st[job] = ST_PENDING;
	for (job = 0;;) {
		for (; n < SCAN_WINDOW && job < njobs; job++) {
			fd = scan_start(s->addr[job % s->naddr],
			    s->ports[job / s->naddr]);
			if (fd == -1) {
				s->st[job] = errno;
				continue;
			}
			pr[n++] = (struct probe){ fd, job, now_ms() };
		}
		open |= report(s, &next, loud);
		if (n == 0)
			return open;
		if (scan_wait(pr, &n, s->st, tmo) == -1) {
			warn("poll");
			while (n > 0)
				close(pr[--n].fd);
			return -1;
		}
	}
}

/* Resolve s->host into s->addr; 0, or -1 with a message unless quiet. */
static int
scan_resolve(struct scan *s, const struct sockopts *so, int quiet)
{
	struct addrinfo *a;
	const char *errstr;

	if ((s->ai = addr_resolve(s->host, "0", so->family, SOCK_STREAM, 0,
	    so->numeric, &errstr)) == NULL) {
		if (!quiet)
			warnx("%s: %s", s->host, errstr);
		return -1;
	}
	for (a = s->ai, s->naddr = 0; a != NULL && s->naddr < SCAN_MAX_ADDRS;
	    a = a->ai_next)
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
			s->addr[s->naddr++] = a;
	return 0;
}

/* Fill s->ports from the marks in want; return how many. */
static int
scan_port_list(struct scan *s, const unsigned char *want)
{
	int port;

	s->ports = xreallocarray(NULL, 65536, sizeof(int));
	for (port = 1, s->nports = 0; port <= 65535; port++)
		if (want[port])
			s->ports[s->nports++] = port;
	return s->nports;
}

/*
 * Probe each port of spec on every address host resolves to; print "HOST
 * PORT open" for each open one, in port order.  With so->retry_ms, probe
 * again until a port is open or that time has passed.  Return the exit
 * status: 0 if any port was open, 1 if none or on a failure (reported),
 * 2 if spec is bad.
 */
int
scan_ports(const char *host, const char *spec, const struct sockopts *so)
{
	struct scan s = { .host = host, .verbose = so->verbose };
	unsigned char *want;
	long tmo = so->timeout_ms >= 0 ? so->timeout_ms : SCAN_TIMEOUT_MS;
	int64_t deadline = now_ms() + MAXIMUM(so->retry_ms, 0), left;
	int open = 0, pass;

	want = xcalloc(65536, 1);
	if (parse_ports(spec, want, so->numeric) == -1) {
		free(want);
		return 2;
	}
	scan_port_list(&s, want);
	free(want);
	for (pass = 0;; pass++) {
		left = deadline - now_ms();
		if (scan_resolve(&s, so, pass > 0 && left > 0) == 0) {
			s.st = xreallocarray(s.st, (size_t)s.nports * s.naddr,
			    sizeof(int));
			open = scan_pass(&s, so->retry_ms > 0 ?
			    MINIMUM(tmo, MAXIMUM(left, 1)) : tmo, pass == 0);
			freeaddrinfo(s.ai);
		}
		left = deadline - now_ms();
		if (open != 0 || left <= 0)
			break;
		usleep(MINIMUM(left, SCAN_PAUSE_MS) * 1000);
	}
	if (open == 0 && so->retry_ms > 0 && so->verbose >= 0)
		warnx("%s port %s: nothing open after %ld%s", host, spec,
		    so->retry_ms % 1000 ? so->retry_ms : so->retry_ms / 1000,
		    so->retry_ms % 1000 ? " ms" : " s");
	free(s.ports);
	free(s.st);
	return open == 1 ? 0 : 1;
}
