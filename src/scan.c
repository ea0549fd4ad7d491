#include <sys/socket.h>

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

enum { S_TODO, S_OPEN, S_CLOSED };

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

static int
scan_start(const struct addrinfo *ai, int port)
{
	struct sockaddr_storage ss;
	int fd;

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
	close(fd);
	return -1;
}

static int
scan_done(int fd)
{
	socklen_t len = sizeof(int);
	int error = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	close(fd);
	return error == 0 ? S_OPEN : S_CLOSED;
}

/* Print the results that are final, in port order, from *next on. */
static int
report(const char *host, const unsigned char *want, const unsigned char *res,
    int *next, int verbose)
{
	int open = 0;

	for (; *next <= 65535; (*next)++) {
		if (!want[*next])
			continue;
		if (res[*next] == S_TODO)
			break;
		if (res[*next] == S_OPEN) {
			printf("%s %d open\n", host, *next);
			fflush(stdout);
			open = 1;
		} else if (verbose > 0)
			warnx("%s %d closed", host, *next);
	}
	return open;
}

struct probe {
	int		fd, port;
	int64_t		started;
};

/*
 * Wait for the probes in flight and record the ones that finished; 0, or
 * -1 with errno set if poll(2) fails.
 */
static int
scan_wait(struct probe *pr, int *n, unsigned char *res, long tmo)
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
			res[pr[i].port] = scan_done(pr[i].fd);
		else if (now - pr[i].started >= tmo) {
			close(pr[i].fd);
			res[pr[i].port] = S_CLOSED;
		} else
			continue;
		pr[i] = pr[--*n];
	}
	return 0;
}

/*
 * Probe each port of spec on host with up to SCAN_WINDOW connects in
 * flight; print "HOST PORT open" for each open one, in port order.
 * Return the exit status: 0 if any port was open, 1 if none or on a
 * failure (reported), 2 if spec is bad.
 */
int
scan_ports(const char *host, const char *spec, const struct sockopts *so)
{
	struct probe pr[SCAN_WINDOW];
	struct addrinfo *ai;
	unsigned char *want, *res;
	const char *errstr;
	long tmo = so->timeout_ms >= 0 ? so->timeout_ms : SCAN_TIMEOUT_MS;
	int n = 0, port = 1, next = 1, open = 0, fd;

	want = xcalloc(65536, 1);
	res = xcalloc(65536, 1);
	if (parse_ports(spec, want, so->numeric) == -1) {
		free(want);
		free(res);
		return 2;
	}
	if ((ai = addr_resolve(host, "0", so->family, SOCK_STREAM, 0,
	    so->numeric, &errstr)) == NULL) {
		warnx("%s: %s", host, errstr);
		free(want);
		free(res);
		return 1;
	}
	for (;;) {
		for (; n < SCAN_WINDOW && port <= 65535; port++) {
			if (!want[port])
				continue;
			if ((fd = scan_start(ai, port)) == -1) {
				res[port] = S_CLOSED;
				continue;
			}
			pr[n++] = (struct probe){ fd, port, now_ms() };
		}
		open |= report(host, want, res, &next, so->verbose);
		if (n == 0)
			break;
		if (scan_wait(pr, &n, res, tmo) == -1) {
			warn("poll");
			while (n > 0)
				close(pr[--n].fd);
			open = 0;
			break;
		}
	}
	freeaddrinfo(ai);
	free(want);
	free(res);
	return open ? 0 : 1;
}
