/*
 * relayload: open N connections through a relay, send SIZE bytes on each
 * (a pattern of its own), read them back from the echo server behind the
 * relay and check them, holding every connection open.  Self-contained:
 * cc -O2 -o build/relayload bench/relayload.c
 *
 * usage: relayload HOST PORT CONNS [SIZE]
 * Output, one key=value line on stdout once every connection is done:
 *   held conns=N echoed=E failed=F bad=B t1000=S total=S
 * t1000 is the seconds until the first 1000 connections had their bytes
 * back.  Then it waits for a byte (or EOF) on stdin and closes them all.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT	256		/* connections set up at once */
#define NEV		1024

enum state { S_FREE, S_CONNECTING, S_ECHO, S_DONE, S_DEAD };

struct c {
	int		 fd;
	enum state	 st;
	size_t		 sent, got;
};

static struct c		*cs;
static size_t		 size = 4096;
static int		 ep;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned char
pat(int i, size_t off)
{
	return (unsigned char)(i * 131 + off * 7);
}

static int
start(struct sockaddr_in *sin, int i)
{
	struct epoll_event ev;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	cs[i] = (struct c){ fd, S_CONNECTING, 0, 0 };
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.u32 = i;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

/* Advance connection i; return 1 when it is done (echoed or dead). */
static int
step(int i, int *bad)
{
	struct c *c = &cs[i];
	unsigned char buf[65536];
	struct epoll_event ev;
	ssize_t n;
	size_t k;

	while (c->sent < size) {
		for (k = 0; k < size - c->sent && k < sizeof(buf); k++)
			buf[k] = pat(i, c->sent + k);
		if ((n = write(c->fd, buf, k)) == -1)
			break;
		c->sent += n;
	}
	if (c->sent == size && c->st == S_CONNECTING) {
		c->st = S_ECHO;
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
		for (k = 0; k < (size_t)n; k++)
			if (buf[k] != pat(i, c->got + k))
				(*bad)++;
		c->got += n;
	}
	if (c->got >= size || n == 0 || (n == -1 && errno != EAGAIN)) {
		c->st = c->got == size ? S_DONE : S_DEAD;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event evs[NEV];
	struct rlimit rl;
	double t0, t1000 = -1;
	int conns, next = 0, active = 0, done = 0, echoed = 0, failed = 0;
	int bad = 0, i, n;
	char b;

	if (argc < 4 || argc > 5)
		errx(2, "usage: relayload HOST PORT CONNS [SIZE]");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		errx(2, "%s: not an IPv4 address", argv[1]);
	sin.sin_port = htons(atoi(argv[2]));
	conns = atoi(argv[3]);
	if (argc == 5)
		size = strtoul(argv[4], NULL, 10);
	if ((cs = calloc(conns, sizeof(*cs))) == NULL || conns <= 0 ||
	    (ep = epoll_create1(0)) == -1)
		err(1, "setup");
	t0 = now();
	while (done < conns) {
		while (active < INFLIGHT && next < conns) {
			if (start(&sin, next) == -1) {
				cs[next].st = S_DEAD;
				failed++;
				done++;
			} else
				active++;
			next++;
		}
		if ((n = epoll_wait(ep, evs, NEV, 10000)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++)
			if (step(evs[i].data.u32, &bad)) {
				active--;
				done++;
				if (cs[evs[i].data.u32].st == S_DONE)
					echoed++;
				else
					failed++;
				if (echoed == 1000 && t1000 < 0)
					t1000 = now() - t0;
			}
	}
	printf("held conns=%d echoed=%d failed=%d bad=%d t1000=%.3f "
	    "total=%.3f\n", conns, echoed, failed + (conns - done), bad, t1000,
	    now() - t0);
	fflush(stdout);
	if (read(STDIN_FILENO, &b, 1) < 0)
		warn("stdin");
	return 0;
}
