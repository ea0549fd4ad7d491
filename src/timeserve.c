/*
 * The serving half of timeserver: datagrams in batches of BATCH through
 * recvmmsg(2) and sendmmsg(2), or TCP clients through conn.c.  The
 * protocols themselves are timeproto.c; this file decides who is answered
 * and sends the answers.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "frame.h"
#include "loop.h"
#include "ratelimit.h"
#include "timeserve.h"
#include "util.h"

#define BATCH		64		/* datagrams a system call */
#define BATCHES		8		/* system calls a wakeup (fairness) */
#define REQ_MAX		1024		/* a longer datagram is truncated */
#define LINE_MAX_TCP	1024		/* longest strftime line over TCP */
#define TCP_MAXQ	(64 * 1024)	/* a client's out-queue: stop reading */
#define SWEEP_MS	250
#define CTL_SPACE	CMSG_SPACE(sizeof(struct in6_pktinfo))

union ctl {
	struct cmsghdr	 align;
	unsigned char	 buf[CTL_SPACE];
};

/* One datagram socket and its batch; replies wait in out[sent..nout). */
struct usock {
	struct tserver		*srv;
	int			 fd;
	int			 nout, sent;
	struct mmsghdr		 in[BATCH], out[BATCH];
	struct iovec		 iniov[BATCH], outiov[BATCH];
	struct sockaddr_storage	 from[BATCH];
	union ctl		 inctl[BATCH], outctl[BATCH];
	unsigned char		 req[BATCH][REQ_MAX];
	unsigned char		 rep[BATCH][TP_REPLY_MAX];
};

struct tserver {
	struct loop			*loop;
	const struct timeserve_opts	*o;
	struct ratelimit		*rl;
	struct connlist			 clients;
};

struct tclient {
	struct tserver		*srv;
	struct frame_dec	 dec;
};

static void
now_real(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* The rate limiter's key for a source: its address, without the port. */
static int
allowed(struct tserver *s, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
	const void *key = sa;
	size_t klen = 0;

	if (s->rl == NULL)
		return 1;
	if (sa->sa_family == AF_INET) {
		key = &((const struct sockaddr_in *)sa)->sin_addr;
		klen = 4;
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		/* A v4 client is one source on any socket. */
		key = &sin6->sin6_addr.s6_addr[12];
		klen = 4;
	} else if (sa->sa_family == AF_INET6) {
		key = &sin6->sin6_addr;
		klen = 16;
	} else if (sa->sa_family == AF_UNIX &&
	    len > offsetof(struct sockaddr_un, sun_path)) {
		key = sun->sun_path;
		klen = strnlen(sun->sun_path, len -
		    offsetof(struct sockaddr_un, sun_path));
	}
	return ratelimit_allow(s->rl, key, klen, loop_now(s->loop));
}

static void
say(const struct tserver *s, int level, const struct sockaddr *sa,
    socklen_t len, const char *what)
{
	char name[ADDR_STRLEN];

	if (s->o->verbose >= level)
		warnx("%s: %s", addr_fmt(sa, len, name, sizeof(name)), what);
}

/* Log an error reply with -v, and every request with -vv. */
static void
log_request(const struct tserver *s, const struct sockaddr *sa,
    socklen_t salen, const unsigned char *out, size_t n)
{
	char what[TP_REPLY_MAX + 1];

	if (s->o->proto == TP_STRFTIME && n >= 6 &&
	    memcmp(out, "error:", 6) == 0) {
		memcpy(what, out, n);
		what[n] = '\0';
		say(s, 1, sa, salen, what);
	} else
		say(s, 2, sa, salen, timeproto_name(s->o->proto));
}

/*
 * The reply to one request of len bytes into out; 0 to send nothing.
 * With -v, error replies are logged, with -vv every request.
 */
static size_t
reply(struct tserver *s, const unsigned char *req, size_t len,
    const struct sockaddr *sa, socklen_t salen, unsigned char *out)
{
	struct timespec rx, tx;
	const char *errstr;
	size_t n = 0;
	int r;

	now_real(&rx);
	switch (s->o->proto) {
	case TP_STRFTIME:
		n = timeproto_strftime(req, len, &rx, s->o->utc, (char *)out);
		break;
	case TP_DAYTIME:
		n = timeproto_daytime(&rx, s->o->utc, (char *)out);
		break;
	case TP_TIME:
		timeproto_time(&rx, out);
		n = TP_TIME_LEN;
		break;
	case TP_NTP:
		now_real(&tx);
		if ((r = timeproto_ntp_reply(req, len, &rx, &tx,
		    s->o->stratum, out, &errstr)) == -1) {
			say(s, 1, sa, salen, errstr);
			return 0;
		}
		n = r;
		break;
	}
	if (s->o->verbose > 0)
		log_request(s, sa, salen, out, n);
	return n;
}

/* Reply from the address the request came to, on a multi-homed host. */
static socklen_t
udp_pktinfo(struct msghdr *in, union ctl *out)
{
	struct cmsghdr *cm, *oc = &out->align;
	struct in_pktinfo pi;

	for (cm = CMSG_FIRSTHDR(in); cm != NULL; cm = CMSG_NXTHDR(in, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO)
			memcpy(oc, cm, CMSG_LEN(sizeof(struct in6_pktinfo)));
		else
			continue;
		oc->cmsg_level = cm->cmsg_level;
		oc->cmsg_type = cm->cmsg_type;
		return CMSG_SPACE(oc->cmsg_len - CMSG_LEN(0));
	}
	return 0;
}

/* Answer received datagram i, queueing its reply. */
static void
udp_answer(struct usock *u, int i)
{
	struct msghdr *h = &u->in[i].msg_hdr, *o;
	struct sockaddr *sa = (struct sockaddr *)&u->from[i];
	struct tserver *s = u->srv;
	size_t n;

	/* An unbound Unix client has no address to answer. */
	if (h->msg_namelen <= offsetof(struct sockaddr_un, sun_path) &&
	    (h->msg_namelen < sizeof(sa_family_t) ||
	    sa->sa_family == AF_UNIX)) {
		if (s->o->verbose > 0)
			warnx("request from an unbound socket: dropped");
		return;
	}
	if (!allowed(s, sa, h->msg_namelen)) {
		say(s, 1, sa, h->msg_namelen, "over the rate limit: dropped");
		return;
	}
	if ((n = reply(s, u->req[i], u->in[i].msg_len, sa, h->msg_namelen,
	    u->rep[u->nout])) == 0)
		return;
	o = &u->out[u->nout].msg_hdr;
	memset(o, 0, sizeof(*o));
	o->msg_name = sa;
	o->msg_namelen = h->msg_namelen;
	u->outiov[u->nout].iov_base = u->rep[u->nout];
	u->outiov[u->nout].iov_len = n;
	o->msg_iov = &u->outiov[u->nout];
	o->msg_iovlen = 1;
	if ((o->msg_controllen = udp_pktinfo(h, &u->outctl[u->nout])) > 0)
		o->msg_control = &u->outctl[u->nout];
	u->nout++;
}

/* Send the queued replies; return -1 while some wait for room. */
static int
udp_flush(struct usock *u)
{
	int r;

	while (u->sent < u->nout) {
		r = sendmmsg(u->fd, u->out + u->sent, u->nout - u->sent,
		    MSG_DONTWAIT);
		if (r > 0) {
			u->sent += r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return -1;
		/* This one reply cannot go (ENOBUFS, a bad address): skip. */
		if (u->srv->o->verbose > 0)
			warn("send reply");
		u->sent++;
	}
	u->sent = u->nout = 0;
	return 0;
}

static int
udp_recv(struct usock *u)
{
	int i, n;

	for (i = 0; i < BATCH; i++) {
		u->in[i].msg_hdr.msg_namelen = sizeof(u->from[i]);
		u->in[i].msg_hdr.msg_controllen = sizeof(u->inctl[i]);
	}
	while ((n = recvmmsg(u->fd, u->in, BATCH, MSG_DONTWAIT, NULL)) == -1 &&
	    errno == EINTR)
		;
	if (n == -1 && errno != EAGAIN && u->srv->o->verbose > 0)
		warn("receive request");
	return n;
}

/* Read batches of requests and answer them; wait when replies cannot go. */
static void
udp_io(struct loop *l, int fd, int ready, void *arg)
{
	struct usock *u = arg;
	int i, j, n;

	(void)ready;
	if (udp_flush(u) == 0) {
		for (i = 0; i < BATCHES; i++) {
			if ((n = udp_recv(u)) <= 0)
				break;
			for (j = 0; j < n; j++)
				udp_answer(u, j);
			if (udp_flush(u) == -1 || n < BATCH)
				break;
		}
	}
	loop_mask(l, fd, u->nout > 0 ? LOOP_WRITE : LOOP_READ);
}

static int
wildcard(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr);
}

static int
udp_new(struct tserver *s, int fd)
{
	struct usock *u;
	int i, one = 1;

	u = xcalloc(1, sizeof(*u));
	u->srv = s;
	u->fd = fd;
	for (i = 0; i < BATCH; i++) {
		u->iniov[i].iov_base = u->req[i];
		u->iniov[i].iov_len = sizeof(u->req[i]);
		u->in[i].msg_hdr.msg_name = &u->from[i];
		u->in[i].msg_hdr.msg_iov = &u->iniov[i];
		u->in[i].msg_hdr.msg_iovlen = 1;
		u->in[i].msg_hdr.msg_control = &u->inctl[i];
	}
	/*
	 * On a wildcard socket, ask for each request's destination address
	 * to answer from it; a socket bound to one address needs no help.
	 */
	if (wildcard(fd)) {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one));
	}
	return loop_add(s->loop, fd, LOOP_READ, udp_io, u);
}

static void	tcp_data(struct conn *, const unsigned char *, size_t);
static void	tcp_drained(struct conn *);
static void	tcp_closed(struct conn *, const char *);

static const struct conn_cb tcp_cb = { tcp_data, tcp_drained, tcp_closed,
    NULL };

/* Answer one strftime line, unless its source is over the rate limit. */
static void
tcp_line(struct conn *c, const unsigned char *line, size_t len)
{
	struct tserver *s = ((struct tclient *)c->arg)->srv;
	const struct sockaddr *sa = (struct sockaddr *)&c->ss;
	unsigned char out[TP_REPLY_MAX + 1];
	socklen_t salen = sizeof(c->ss);
	size_t n;

	if (!allowed(s, sa, salen)) {
		say(s, 1, sa, salen, "over the rate limit: dropped");
		return;
	}
	n = reply(s, line, len, sa, salen, out);
	out[n++] = '\n';
	/* A full queue stops reading until it drains. */
	if (conn_write(c, out, n) == -1 && !c->dead)
		conn_pause(c, 1);
}

/* Lines of a strftime client; an over-long one ends the connection. */
static void
tcp_data(struct conn *c, const unsigned char *p, size_t len)
{
	static const char toolong[] = "error: line too long\n";
	struct tclient *cl = c->arg;
	const unsigned char *line;
	const char *errstr;
	size_t n;
	int r = 0;

	if (cl->srv->o->proto != TP_STRFTIME) {
		if (len == 0)
			conn_finish(c);
		return;
	}
	if (len > 0)
		frame_dec_feed(&cl->dec, p, len);
	else
		frame_dec_eof(&cl->dec);
	while (!c->dead &&
	    (r = frame_next(&cl->dec, &line, &n, &errstr)) == 1)
		tcp_line(c, line, n);
	if (c->dead)
		return;
	if (r == -1) {
		if (cl->srv->o->verbose > 0)
			warnx("%s: %s", c->name, errstr);
		conn_write(c, toolong, sizeof(toolong) - 1);
		conn_finish(c);
	} else if (len == 0)
		conn_finish(c);
}

static void
tcp_drained(struct conn *c)
{
	if (!c->eof)
		conn_pause(c, 0);
}

static void
tcp_closed(struct conn *c, const char *why)
{
	struct tclient *cl = c->arg;

	TAILQ_REMOVE(&cl->srv->clients, c, entry);
	if (why != NULL && cl->srv->o->verbose > 0)
		warnx("%s: %s", c->name, why);
	frame_dec_free(&cl->dec);
	free(cl);
}

/* A new TCP client: daytime and time answer at once and close. */
static void
tcp_accept(struct loop *l, int fd, struct sockaddr *sa, socklen_t len,
    void *arg)
{
	struct tserver *s = arg;
	unsigned char out[TP_REPLY_MAX];
	struct tclient *cl;
	struct conn *c;
	size_t n;

	if (s->o->proto != TP_STRFTIME && !allowed(s, sa, len)) {
		say(s, 1, sa, len, "over the rate limit: closed");
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->srv = s;
	frame_dec_init(&cl->dec, FRAME_LINE, LINE_MAX_TCP);
	if ((c = conn_new(l, fd, sa, len, TCP_MAXQ, &tcp_cb, cl)) == NULL) {
		frame_dec_free(&cl->dec);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&s->clients, c, entry);
	if (s->o->proto == TP_STRFTIME)
		return;
	n = reply(s, NULL, 0, sa, len, out);
	conn_write(c, out, n);
	conn_finish(c);
}

/* Close TCP clients idle for -w. */
static void
tcp_sweep(struct loop *l, void *arg)
{
	struct tserver *s = arg;
	struct conn *c, *tmp;

	TAILQ_FOREACH_SAFE(c, &s->clients, entry, tmp)
		if (loop_now(l) - c->last >= s->o->idle_ms)
			conn_close(c, "idle timeout");
	loop_timer(l, MAXIMUM(1, MINIMUM(SWEEP_MS, s->o->idle_ms)), tcp_sweep,
	    s);
}

/* Serve the time on the n bound sockets fds until killed; return -1. */
int
timeserve_run(const int *fds, int n, const struct timeserve_opts *o)
{
	struct tserver s = { .o = o };
	int i;

	TAILQ_INIT(&s.clients);
	if ((s.loop = loop_new()) == NULL)
		return -1;
	if (o->rate > 0 && (s.rl = ratelimit_new(o->rate,
	    RATELIMIT_SLOTS)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (!o->tcp && udp_new(&s, fds[i]) == -1)
			return -1;
		if (o->tcp && loop_listen(s.loop, fds[i], tcp_accept, &s) == -1)
			return -1;
	}
	if (o->tcp && o->idle_ms >= 0)
		tcp_sweep(s.loop, &s);
	return loop_run(s.loop);
}
