/*
 * udpblast: send COUNT datagrams of SIZE bytes to host port at a fixed
 * RATE per second, paced on the monotonic clock in small sendmmsg(2)
 * batches, and print one line of key=value at the end.  Each datagram is
 * its sequence number, padded with '.', ending in '\n'.
 * Self-contained: cc -O2 -D_GNU_SOURCE -o build/udpblast bench/udpblast.c
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS		50000		/* one batch every 50 us */
#define MAXBATCH	256

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		errx(2, "%s: not a number in %ld-%ld", s, min, max);
	return v;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_socket(const char *host, const char *port)
{
	struct addrinfo hints, *res;
	int e, fd, size = 4 * 1024 * 1024;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "%s port %s: %s", host, port, gai_strerror(e));
	if ((fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		err(1, "socket to %s port %s", host, port);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	freeaddrinfo(res);
	return fd;
}

int
main(int argc, char *argv[])
{
	static struct mmsghdr mm[MAXBATCH];
	static struct iovec iov[MAXBATCH];
	static char buf[MAXBATCH][65536];
	struct timespec ts;
	int64_t start, next, elapsed;
	long count, size, rate, sent = 0, errors = 0, batch, i, n;
	int fd;

	if (argc != 6)
		errx(2, "usage: udpblast host port count size rate");
	count = number(argv[3], 1, 1000000000);
	size = number(argv[4], 1, 65507);
	rate = number(argv[5], 1, 100000000);
	batch = rate * TICK_NS / 1000000000;
	batch = batch < 1 ? 1 : batch > MAXBATCH ? MAXBATCH : batch;
	prctl(PR_SET_TIMERSLACK, 1UL);
	fd = open_socket(argv[1], argv[2]);
	for (i = 0; i < MAXBATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = size;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	start = next = now_ns();
	while (sent < count) {
		n = count - sent < batch ? count - sent : batch;
		for (i = 0; i < n; i++) {
			memset(buf[i], '.', size);
			snprintf(buf[i], size, "%ld", sent + i);
			buf[i][strlen(buf[i])] = size > 1 ? '.' : '\n';
			buf[i][size - 1] = '\n';
		}
		if ((n = sendmmsg(fd, mm, n, 0)) == -1) {
			/* ECONNREFUSED: the listener is not up (yet). */
			errors++;
			n = 1;
		}
		sent += n;
		/* Pace: batch k leaves at start + k * batch / rate. */
		next = start + (int64_t)((double)sent * 1e9 / rate);
		ts.tv_sec = next / 1000000000;
		ts.tv_nsec = next % 1000000000;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	elapsed = now_ns() - start;
	printf("sent=%ld errors=%ld seconds=%.3f rate=%.0f\n", sent, errors,
	    elapsed / 1e9, sent / (elapsed / 1e9));
	return 0;
}
