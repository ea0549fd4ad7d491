/*
 * echoback: an epoll echo server for bench/relay.py, as many connections
 * as the descriptor limit allows.  Self-contained:
 * cc -O2 -o build/echoback bench/echoback.c
 *
 * usage: echoback PORTFILE
 * Listens on 127.0.0.1 port 0, writes the port and a newline to PORTFILE,
 * echoes everything until killed.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEV	1024

static void
raise_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Write all of p, waiting (briefly, it is loopback) when the socket is full. */
static int
write_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) > 0) {
			p += w;
			n -= w;
		} else if (w == -1 && errno == EAGAIN)
			poll(&pfd, 1, 1000);
		else
			return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev, evs[NEV];
	socklen_t len = sizeof(sin);
	static char buf[65536];
	FILE *f;
	ssize_t n;
	int ls, ep, fd, i, nev, one = 1;

	if (argc != 2)
		errx(2, "usage: echoback PORTFILE");
	raise_limit();
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 4096) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen");
	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	if ((f = fopen(argv[1], "w")) == NULL)
		err(1, "%s", argv[1]);
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	fclose(f);
	for (;;) {
		if ((nev = epoll_wait(ep, evs, NEV, -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < nev; i++) {
			fd = evs[i].data.fd;
			if (fd == ls) {
				while ((fd = accept4(ls, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			n = read(fd, buf, sizeof(buf));
			if (n == -1 && errno == EAGAIN)
				continue;
			if (n <= 0 || write_all(fd, buf, n) == -1)
				close(fd);
		}
	}
}
