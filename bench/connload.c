/*
 * connload: open many TCP connections to one echo server, check that each
 * echoes a line, then keep one line in flight on every connection for a
 * fixed time and count the round trips.  Self-contained:
 * cc -O2 -o build/connload bench/connload.c
 *
 * Output, one key=value line per phase on stdout:
 *   held conns=N connected=C echoed=E failed=F
 *   done rt=R seconds=S rt_per_s=X alive=A
 * With --sync it waits for one byte on stdin between the two phases, so
 * the caller can look at the server while every connection is held.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT	256		/* connects in progress at once */
#define LINE		"connload: one line, echo me please\n"
#define LINELEN		(sizeof(LINE) - 1)
#define NEV		1024

enum state { S_FREE, S_CONNECTING, S_IDLE, S_WAIT, S_DEAD };

struct c {
	int		 fd;
	enum state	 st;
	size_t		 got;		/* bytes of the current echo */
};

static struct c		*cs;
static int		 ep;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: connload host port [--conns N] "
	    "[--seconds T] [--sync]\n");
	exit(2);
}

static void
kill_conn(struct c *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->st = S_DEAD;
}

static int
start_connect(struct sockaddr_in *sin, int i)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = i };
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	cs[i].fd = fd;
	cs[i].st = S_CONNECTING;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

/* Send the line on c and wait for its echo; 0, or -1 if c died. */
static int
send_line(struct c *c, int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

	if (write(c->fd, LINE, LINELEN) != (ssize_t)LINELEN) {
		kill_conn(c);
		return -1;
	}
	c->got = 0;
	c->st = S_WAIT;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

/* Read echo bytes; return 1 when a whole line is back, -1 if c died. */
static int
read_echo(struct c *c)
{
	char buf[4096];
	ssize_t n;

	if ((n = read(c->fd, buf, sizeof(buf))) <= 0) {
		if (n == -1 && errno == EAGAIN)
			return 0;
		kill_conn(c);
		return -1;
	}
	c->got += n;
	return c->got >= LINELEN;
}

/* Connect n sockets, INFLIGHT at a time; return how many connected. */
static int
connect_all(struct sockaddr_in *sin, int n, int64_t deadline, int *failed)
{
	struct epoll_event ev[NEV];
	int next = 0, pending = 0, ok = 0, i, k, e;
	socklen_t len;

	while ((next < n || pending > 0) && now_us() < deadline) {
		while (next < n && pending < INFLIGHT) {
			if (start_connect(sin, next) == -1) {
				cs[next].st = S_DEAD;
				(*failed)++;
			} else
				pending++;
			next++;
		}
		k = epoll_wait(ep, ev, NEV, 100);
		for (i = 0; i < k; i++) {
			struct c *c = &cs[ev[i].data.u32];

			pending--;
			len = sizeof(e);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e,
			    &len) == -1 || e != 0) {
				kill_conn(c);
				(*failed)++;
				continue;
			}
			/* Connected: quiet until every connect is done. */
			ok++;
			c->st = S_IDLE;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &(struct epoll_event)
			    { .events = 0, .data.u32 = ev[i].data.u32 });
		}
	}
	return ok;
}

/* Wait for the first echo on every live connection; return how many. */
static int
first_echoes(int n, int64_t deadline)
{
	struct epoll_event ev[NEV];
	int waiting = 0, ok = 0, i, k, r;

	for (i = 0; i < n; i++)
		if (cs[i].st == S_IDLE)
			waiting += send_line(&cs[i], i) == 0;
	while (waiting > 0 && now_us() < deadline) {
		k = epoll_wait(ep, ev, NEV, 100);
		for (i = 0; i < k; i++) {
			struct c *c = &cs[ev[i].data.u32];

			if (c->st != S_WAIT || c->got >= LINELEN)
				continue;
			if ((r = read_echo(c)) != 0)
				waiting--;
			if (r == 1) {
				ok++;
				c->st = S_IDLE;
			}
		}
	}
	return ok;
}

/* Keep one line in flight on every live connection until deadline. */
static uint64_t
round_trips(int n, int64_t deadline)
{
	struct epoll_event ev[NEV];
	uint64_t rt = 0;
	int i, k;

	for (i = 0; i < n; i++)
		if (cs[i].st == S_IDLE)
			send_line(&cs[i], i);
	while (now_us() < deadline) {
		k = epoll_wait(ep, ev, NEV, 100);
		for (i = 0; i < k; i++) {
			struct c *c = &cs[ev[i].data.u32];

			if (c->st == S_WAIT && read_echo(c) == 1) {
				rt++;
				send_line(c, ev[i].data.u32);
			}
		}
	}
	return rt;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "conns",	required_argument,	NULL,	'n' },
		{ "seconds",	required_argument,	NULL,	't' },
		{ "sync",	no_argument,		NULL,	's' },
		{ NULL,		0,			NULL,	0 }
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit rl;
	double secs = 5;
	int n = 10000, sync = 0, ch, ok, echoed, failed = 0, alive = 0, i;
	int64_t t0;
	uint64_t rt;
	char b;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'n')
			n = atoi(optarg);
		else if (ch == 't')
			secs = atof(optarg);
		else if (ch == 's')
			sync = 1;
		else
			usage();
	}
	if (argc - optind != 2 || n <= 0 || secs <= 0)
		usage();
	if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		errx(2, "%s: not an IPv4 address", argv[optind]);
	sin.sin_port = htons(atoi(argv[optind + 1]));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((cs = calloc(n, sizeof(*cs))) == NULL)
		err(1, "calloc");
	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");

	t0 = now_us();
	ok = connect_all(&sin, n, t0 + 60 * 1000000LL, &failed);
	echoed = first_echoes(n, now_us() + 30 * 1000000LL);
	printf("held conns=%d connected=%d echoed=%d failed=%d "
	    "setup_s=%.3f\n", n, ok, echoed, failed,
	    (now_us() - t0) / 1e6);
	fflush(stdout);
	if (sync && read(STDIN_FILENO, &b, 1) < 0)
		err(1, "read stdin");
	t0 = now_us();
	rt = round_trips(n, t0 + (int64_t)(secs * 1e6));
	secs = (now_us() - t0) / 1e6;
	for (i = 0; i < n; i++)
		alive += cs[i].st == S_WAIT;
	printf("done rt=%llu seconds=%.3f rt_per_s=%.0f alive=%d\n",
	    (unsigned long long)rt, secs, rt / secs, alive);
	return 0;
}
