/*
 * udpload: keep a window of UDP requests outstanding against one time
 * server (SNTP or sockkit's strftime protocol) from several source sockets,
 * resend what times out, and print one line of key=value at the end.
 * Self-contained: cc -O2 -o build/udpload bench/udpload.c
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HIST_US		100000	/* latency histogram: 1 us buckets */
#define SCAN_US		10000	/* how often timeouts are looked for */
#define NTP_LEN		48

struct slot {				/* one outstanding request */
	uint32_t	 gen;
	int64_t		 sent;		/* us */
};

struct load {
	int		 ntp;
	int		*fds;
	int		 nfds;
	struct slot	*win;
	uint32_t	 nwin;
	int64_t		 timeout;	/* us */
	uint64_t	 sent, replies, lost, late, errors;
	uint64_t	 hist[HIST_US + 1];
};

static void
usage(void)
{
	fprintf(stderr, "usage: udpload host port [--proto ntp|strftime] "
	    "[--window W] [--sockets S] [--seconds T] [--timeout MS]\n");
	exit(2);
}

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
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The id of a request is its slot and generation, echoed in the reply. */
static size_t
req_make(const struct load *ld, unsigned char *buf, uint32_t i, uint32_t gen)
{
	uint64_t id = htobe64((uint64_t)i << 32 | gen);

	if (!ld->ntp)
		return (size_t)snprintf((char *)buf, 64, "%08x%08x %%s", i,
		    gen);
	memset(buf, 0, NTP_LEN);
	buf[0] = 4 << 3 | 3;		/* version 4, client */
	memcpy(buf + 40, &id, 8);	/* transmit timestamp */
	return NTP_LEN;
}

static int
rep_parse(const struct load *ld, const unsigned char *buf, ssize_t n,
    uint32_t *i, uint32_t *gen)
{
	uint64_t id;

	/* drain() NUL-terminates buf. */
	if (!ld->ntp)
		return sscanf((const char *)buf, "%8x%8x", i, gen) == 2 ? 0 : -1;
	if (n < NTP_LEN || (buf[0] & 7) != 4)
		return -1;
	memcpy(&id, buf + 24, 8);	/* origin = our transmit */
	id = be64toh(id);
	*i = id >> 32;
	*gen = (uint32_t)id;
	return 0;
}

static void
send_req(struct load *ld, uint32_t i)
{
	unsigned char buf[64];
	struct slot *s = &ld->win[i];
	size_t len;

	len = req_make(ld, buf, i, ++s->gen);
	s->sent = now_us();
	ld->sent++;
	/* A failed send is left to time out and be sent again. */
	if (send(ld->fds[i % ld->nfds], buf, len, 0) == -1)
		ld->errors++;
}

static void
drain(struct load *ld, int fd)
{
	unsigned char buf[2048];
	uint32_t i, gen;
	ssize_t n;
	int64_t us;

	for (;;) {
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) == -1) {
			ld->errors += errno != EAGAIN;
			/* An ICMP error is reported once; keep reading. */
			if (errno != ECONNREFUSED)
				return;
			continue;
		}
		buf[n] = '\0';
		if (rep_parse(ld, buf, n, &i, &gen) == -1 || i >= ld->nwin ||
		    ld->win[i].gen != gen) {
			ld->late++;
			continue;
		}
		us = now_us() - ld->win[i].sent;
		ld->hist[us < HIST_US ? us : HIST_US]++;
		ld->replies++;
		send_req(ld, i);
	}
}

/* Open nfds non-blocking sockets connected to host port, in one epoll. */
static int
open_sockets(struct load *ld, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	struct epoll_event ev;
	int ep, e, i;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "%s port %s: %s", host, port, gai_strerror(e));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	for (i = 0; i < ld->nfds; i++) {
		/* connect(2) makes the kernel drop datagrams from others. */
		if ((ld->fds[i] = socket(res->ai_family, SOCK_DGRAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
		    connect(ld->fds[i], res->ai_addr, res->ai_addrlen) == -1)
			err(1, "socket to %s port %s", host, port);
		ev.events = EPOLLIN;
		ev.data.fd = ld->fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, ld->fds[i], &ev) == -1)
			err(1, "epoll_ctl");
	}
	freeaddrinfo(res);
	return ep;
}

static int64_t
percentile(const struct load *ld, double p)
{
	uint64_t want, sum = 0;
	int64_t us;

	if (ld->replies == 0)
		return -1;
	want = (uint64_t)(p * ld->replies + 0.999999);
	for (us = 0; us < HIST_US; us++)
		if ((sum += ld->hist[us]) >= want)
			break;
	return us;
}

static void
report(const struct load *ld, double secs)
{
	printf("proto=%s sent=%ju replies=%ju lost=%ju late=%ju errors=%ju "
	    "seconds=%.3f rps=%.0f p50_us=%jd p99_us=%jd\n",
	    ld->ntp ? "ntp" : "strftime", (uintmax_t)ld->sent,
	    (uintmax_t)ld->replies, (uintmax_t)ld->lost, (uintmax_t)ld->late,
	    (uintmax_t)ld->errors, secs, ld->replies / secs,
	    (intmax_t)percentile(ld, 0.5), (intmax_t)percentile(ld, 0.99));
}

static void
run(struct load *ld, int ep, long seconds)
{
	struct epoll_event evs[64];
	int64_t start, now, last;
	uint32_t i;
	int k, n;

	start = last = now_us();
	for (i = 0; i < ld->nwin; i++)
		send_req(ld, i);
	while ((now = now_us()) - start < seconds * 1000000) {
		if ((n = epoll_wait(ep, evs, 64, SCAN_US / 1000)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (k = 0; k < n; k++)
			drain(ld, evs[k].data.fd);
		if ((now = now_us()) - last < SCAN_US)
			continue;
		for (i = 0, last = now; i < ld->nwin; i++) {
			if (now - ld->win[i].sent >= ld->timeout) {
				ld->lost++;
				send_req(ld, i);
			}
		}
	}
	report(ld, (now - start) / 1e6);
}

/* Parse the options into ld; return the run time in seconds. */
static long
options(struct load *ld, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "proto",	required_argument,	NULL,	'p' },
		{ "seconds",	required_argument,	NULL,	't' },
		{ "sockets",	required_argument,	NULL,	's' },
		{ "timeout",	required_argument,	NULL,	'T' },
		{ "window",	required_argument,	NULL,	'w' },
		{ NULL,		0,			NULL,	0 }
	};
	long seconds = 5;
	int ch;

	while ((ch = getopt_long(argc, argv, "p:s:T:t:w:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			if ((ld->ntp = strcmp(optarg, "ntp") == 0) == 0 &&
			    strcmp(optarg, "strftime") != 0)
				usage();
			break;
		case 's':
			ld->nfds = number(optarg, 1, 1024);
			break;
		case 'T':
			ld->timeout = number(optarg, 1, 60000) * 1000;
			break;
		case 't':
			seconds = number(optarg, 1, 3600);
			break;
		case 'w':
			ld->nwin = number(optarg, 1, 65536);
			break;
		default:
			usage();
		}
	}
	return seconds;
}

int
main(int argc, char *argv[])
{
	static struct load ld = { .ntp = 1, .nfds = 4, .nwin = 64,
	    .timeout = 200000 };
	long seconds;
	int ep;

	if ((seconds = options(&ld, argc, argv)) == 0 || argc - optind != 2)
		usage();
	argv += optind;
	if ((ld.fds = calloc(ld.nfds, sizeof(*ld.fds))) == NULL ||
	    (ld.win = calloc(ld.nwin, sizeof(*ld.win))) == NULL)
		err(1, "calloc");
	ep = open_sockets(&ld, argv[0], argv[1]);
	run(&ld, ep, seconds);
	return ld.replies == 0;
}
