#include <sys/socket.h>
#include <sys/uio.h>

#include <net/if.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "hexdump.h"
#include "loop.h"
#include "opts.h"
#include "udp.h"
#include "util.h"

#define BATCH		64		/* datagrams a recvmmsg/sendmmsg */
#define SLOT		65536		/* receive slot: any UDP datagram */
#define UNIX_SLOT_MAX	(4 * 1024 * 1024)	/* Unix slot at most */
#define UNIX_BATCH_MEM	(16 * 1024 * 1024)	/* Unix slots at most */
#define ROUNDS		4		/* receive batches a wakeup */

/*
 * One endpoint.  Received datagrams land in BATCH slots and go to stdout
 * in one writev; what stdout cannot take at once waits in the stdout
 * conn's queue, and the sockets are not read until it drains, so at most
 * one batch is ever held.  Outgoing datagrams are pulled from the stdin
 * decoder (or the MESSAGE) a batch at a time, and stdin is read again
 * only when the batch is sent: memory stays bounded either way.
 */
struct udp {
	struct loop		*loop;
	const struct udp_opts	*o;
	int			*fds, nfd;
	struct mmsghdr		 rm[BATCH];
	struct iovec		 riov[BATCH];
	struct sockaddr_storage	 rname[BATCH];
	unsigned char		*rbuf;
	size_t			 slot;		/* bytes a receive slot */
	int			 batch;		/* slots */
	char			 pfx[BATCH][ADDR_STRLEN + 1];
	struct iovec		 oiov[BATCH * 3];
	struct conn		*out;
	int			 stalled;	/* stdout is behind */
	int			 dfd;		/* where datagrams go; -1 none */
	struct sockaddr_storage	 dst;
	socklen_t		 dstlen;	/* 0: dfd is connected */
	int			 wblocked;	/* dfd's send buffer is full */
	struct frame_dec	 dec;
	unsigned char		*ibuf, *spill;
	size_t			 ilen, maxdg;
	int			 in_on, in_eof;
	struct iovec		 siov[BATCH];
	int			 shead, sn;	/* pulled, not yet sent */
	unsigned long long	 left;		/* MESSAGE repeats to go */
	int			 ticking;	/* -i: wait for the timer */
	int			 done;		/* nothing more to send */
	int64_t			 last;		/* last traffic, loop clock */
	struct sockaddr_storage	 cname;		/* --show-sender cache */
	socklen_t		 clen;
	char			 cstr[ADDR_STRLEN + 1];
	size_t			 cstrlen;
	unsigned long long	 nin, nout, nrefused, ncut;
	uint64_t		 dumped[2];	/* --hexdump: out, in */
	int			 counted;	/* -W reached: read no more */
	int			 stopped;
	int			 status;
};

static void	send_pump(struct udp *);

/*
 * Parse GROUP[%IFACE]: a numeric multicast address and, optionally, the
 * interface to use for it; return -1 and set *errstr if it is not one.
 */
int
udp_group_parse(const char *s, struct udp_group *g, const char **errstr)
{
	struct addrinfo hints, *res;
	char buf[NI_MAXHOST], *pct;

	memset(g, 0, sizeof(*g));
	*errstr = "not a multicast address";
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((pct = strchr(buf, '%')) != NULL) {
		*pct++ = '\0';
		if ((g->ifindex = if_nametoindex(pct)) == 0) {
			*errstr = "unknown interface";
			return -1;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(buf, NULL, &hints, &res) != 0)
		return -1;
	memcpy(&g->ss, res->ai_addr, res->ai_addrlen);
	g->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (!udp_is_multicast((struct sockaddr *)&g->ss))
		return -1;
	if (g->ss.ss_family == AF_INET6 && g->ifindex != 0)
		((struct sockaddr_in6 *)&g->ss)->sin6_scope_id = g->ifindex;
	*errstr = NULL;
	return 0;
}

/* Return 1 if sa is an IPv4 or IPv6 multicast address. */
int
udp_is_multicast(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return IN_MULTICAST(ntohl(
		    ((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_MULTICAST(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* Join group g on socket fd; return -1 with errno set on failure. */
int
udp_join(int fd, const struct udp_group *g)
{
	struct ip_mreqn mr;
	struct ipv6_mreq m6;

	if (g->ss.ss_family == AF_INET) {
		memset(&mr, 0, sizeof(mr));
		mr.imr_multiaddr = ((const struct sockaddr_in *)&g->ss)->
		    sin_addr;
		mr.imr_ifindex = g->ifindex;
		return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
		    sizeof(mr));
	}
	memset(&m6, 0, sizeof(m6));
	m6.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)&g->ss)->
	    sin6_addr;
	m6.ipv6mr_interface = g->ifindex;
	return setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6,
	    sizeof(m6));
}

/* Send multicast to g on its interface, if it names one. */
static int
multicast_if(int fd, const struct udp_group *g)
{
	struct ip_mreqn mr;
	int idx = g->ifindex;

	if (g->ifindex == 0)
		return 0;
	if (g->ss.ss_family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx,
		    sizeof(idx));
	memset(&mr, 0, sizeof(mr));
	mr.imr_ifindex = g->ifindex;
	return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr));
}

/*
 * Ask for a receive buffer of size bytes, past the rmem_max sysctl when
 * privileged (SO_RCVBUFFORCE); return the size the kernel granted.
 */
int
udp_rcvbuf(int fd, int size)
{
	socklen_t len = sizeof(size);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, len) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, len);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == -1)
		return -1;
	/* The kernel reports twice what it counts against the buffer. */
	return size / 2;
}

static int
sock_family(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return AF_UNSPEC;
	return ss.ss_family;
}

/* Set the unicast and multicast hop limit of fd; -1 with errno set. */
int
udp_ttl(int fd, int ttl)
{
	if (sock_family(fd) == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl,
		    sizeof(ttl)) == -1 || setsockopt(fd, IPPROTO_IPV6,
		    IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl)) == -1 ? -1 : 0;
	/* IPv4 unicast takes 1-255; 0 keeps multicast on this host. */
	if (ttl > 0 && setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl,
	    sizeof(ttl)) == -1)
		return -1;
	return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
}

/* Return the largest datagram socket fd can send. */
size_t
udp_max(int fd)
{
	return sock_family(fd) == AF_INET6 ? UDP_MAX6 : UDP_MAX4;
}

static int
open_unconnected(const struct sockaddr *sa, socklen_t len, int broadcast,
    struct sockaddr_storage *dst, socklen_t *dstlen)
{
	int fd, one = 1;

	if ((fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one,
	    sizeof(one)) == -1) {
		close(fd);
		return -1;
	}
	memcpy(dst, sa, len);
	*dstlen = len;
	return fd;
}

/* A multicast HOST may name its interface: 239.1.2.3%lo, ff01::1%eth0. */
static int
client_group(const char *host, const char *port, const struct sockopts *so,
    struct sockaddr_storage *dst, socklen_t *dstlen)
{
	struct udp_group g;
	const char *errstr;
	int fd, p;

	if (udp_group_parse(host, &g, &errstr) == -1 ||
	    (so->family != AF_UNSPEC && so->family != g.ss.ss_family) ||
	    (p = opts_port(port, so->numeric, &errstr)) == -1)
		return -2;
	if (g.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&g.ss)->sin_port = htons(p);
	else
		((struct sockaddr_in6 *)&g.ss)->sin6_port = htons(p);
	if ((fd = open_unconnected((struct sockaddr *)&g.ss, g.len, 0, dst,
	    dstlen)) != -1 && multicast_if(fd, &g) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Open a datagram socket to host port: connected to a unicast peer, so
 * the kernel reports refusals and drops strangers' datagrams; left
 * unconnected for broadcast (-b) and multicast, whose replies come from
 * other addresses, with the destination in *dst.  Return the socket, or
 * -1 and set *errstr.
 */
int
udp_client(const char *host, const char *port, const struct sockopts *so,
    int broadcast, struct sockaddr_storage *dst, socklen_t *dstlen,
    const char **errstr)
{
	static char msg[512];
	struct addrinfo *res, *ai;
	int fd = -1, error = 0;

	*dstlen = 0;
	if (so->family == AF_UNIX)
		return sock_connect(host, NULL, so, errstr);
	if ((fd = client_group(host, port, so, dst, dstlen)) != -2)
		goto done;
	if ((res = addr_resolve(host, port, so->family, SOCK_DGRAM, 0,
	    so->numeric, errstr)) == NULL) {
		snprintf(msg, sizeof(msg), "%s port %s: %s", host, port,
		    *errstr);
		*errstr = msg;
		return -1;
	}
	for (ai = res, fd = -1; ai != NULL && fd == -1; ai = ai->ai_next) {
		if (broadcast || udp_is_multicast(ai->ai_addr))
			fd = open_unconnected(ai->ai_addr, ai->ai_addrlen,
			    broadcast, dst, dstlen);
		else
			fd = sock_connect_addr(ai->ai_addr, ai->ai_addrlen, so);
		if (fd == -1)
			error = errno;
	}
	freeaddrinfo(res);
	errno = error;
done:
	if (fd == -1) {
		snprintf(msg, sizeof(msg), "connect to %s port %s: %s%s", host,
		    port, strerror(errno), errno == EACCES && !broadcast ?
		    " (broadcast needs -b)" : "");
		*errstr = msg;
	}
	return fd;
}

/* --- stdout ------------------------------------------------------------ */

static void
set_masks(struct udp *u)
{
	int i, m;

	for (i = 0; i < u->nfd; i++) {
		m = u->stalled || u->counted ? 0 : LOOP_READ;
		if (u->fds[i] == u->dfd && u->wblocked)
			m |= LOOP_WRITE;
		loop_mask(u->loop, u->fds[i], m);
	}
}

static void
finish(struct udp *u, int status)
{
	if (status > u->status)
		u->status = status;
	u->stopped = 1;
	loop_stop(u->loop);
}

static void
out_drained(struct conn *c)
{
	struct udp *u = c->arg;

	u->stalled = 0;
	set_masks(u);
}

static void
out_closed(struct conn *c, const char *why)
{
	struct udp *u = c->arg;

	if (conn_out_failed(c, why))
		u->status = 1;
	u->out = NULL;
	u->stopped = 1;
	loop_stop(u->loop);
}

static const struct conn_cb out_cb = { NULL, out_drained, out_closed,
    NULL };

/* Queue what writev did not take; stop reading until it drains. */
static void
out_queue(struct udp *u, const struct iovec *iov, int n, size_t skip)
{
	struct msg *m;
	size_t len = 0, off = 0;
	int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	m = msg_new(NULL, len - skip);
	for (i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		memcpy(m->data + off, (char *)iov[i].iov_base + skip,
		    iov[i].iov_len - skip);
		off += iov[i].iov_len - skip;
		skip = 0;
	}
	u->stalled = 1;
	set_masks(u);
	conn_send(u->out, m);
	msg_unref(m);
}

/* Write a batch to stdout: one writev, the rest queued. */
static void
out_write(struct udp *u, int n)
{
	size_t total;
	ssize_t w;
	int i;

	if (u->out == NULL || n == 0)
		return;
	if (u->out->head != NULL) {
		out_queue(u, u->oiov, n, 0);
		return;
	}
	while ((w = writev(STDOUT_FILENO, u->oiov, n)) == -1 &&
	    errno == EINTR)
		;
	if (w == -1 && errno != EAGAIN) {
		conn_close(u->out, strerror(errno));
		return;
	}
	for (i = 0, total = 0; i < n; i++)
		total += u->oiov[i].iov_len;
	if (w == -1)
		w = 0;
	if ((size_t)w < total)
		out_queue(u, u->oiov, n, w);
}

/*
 * --hexdump: dump a datagram that went dir, to or from the address sa
 * (or, if it has none, the connected peer).
 */
static void
dump_dg(struct udp *u, int dir, const void *sa, socklen_t len,
    const void *buf, size_t n)
{
	char name[ADDR_STRLEN];

	if (u->o->hexdump == NULL)
		return;
	if (len > sizeof(sa_family_t))
		addr_fmt(sa, len, name, sizeof(name));
	else
		strlcpy(name, u->o->peer != NULL ? u->o->peer : "peer",
		    sizeof(name));
	hexdump_write(u->o->hexdump, dir, name,
	    &u->dumped[dir == HEXDUMP_IN], buf, n);
}

/* --- receiving --------------------------------------------------------- */

/* The sender's "HOST:PORT ", cached. */
static size_t
sender_name(struct udp *u, const struct sockaddr_storage *ss,
    socklen_t len, char *buf)
{
	if (len != u->clen || memcmp(ss, &u->cname, len) != 0) {
		memcpy(&u->cname, ss, len);
		u->clen = len;
		addr_fmt((const struct sockaddr *)ss, len, u->cstr,
		    ADDR_STRLEN);
		u->cstrlen = strlen(u->cstr);
		u->cstr[u->cstrlen++] = ' ';
	}
	memcpy(buf, u->cstr, u->cstrlen);
	return u->cstrlen;
}

/* Lay out datagram i for stdout: [sender ] payload [newline]. */
static int
out_layout(struct udp *u, int i, int k)
{
	static char nl[] = "\n";
	const unsigned char *p = u->riov[i].iov_base;
	size_t len = u->rm[i].msg_len;

	if (u->o->show_sender) {
		u->oiov[k].iov_base = u->pfx[i];
		u->oiov[k++].iov_len = sender_name(u, &u->rname[i],
		    u->rm[i].msg_hdr.msg_namelen, u->pfx[i]);
	}
	u->oiov[k].iov_base = (void *)p;
	u->oiov[k++].iov_len = len;
	if (u->o->frame == FRAME_LINE && (len == 0 || p[len - 1] != '\n')) {
		u->oiov[k].iov_base = nl;
		u->oiov[k++].iov_len = 1;
	}
	return k;
}

/* A sender that has an address can be answered. */
static int
named(const struct mmsghdr *m)
{
	return m->msg_hdr.msg_namelen > sizeof(sa_family_t);
}

/* Send each datagram of the batch back where it came from. */
static void
echo_batch(struct udp *u, int fd, int n)
{
	struct mmsghdr em[BATCH];
	struct iovec eiov[BATCH];
	int i, j, k = 0, r;

	for (i = 0; i < n; i++) {
		if (!named(&u->rm[i]))
			continue;
		eiov[k].iov_base = u->riov[i].iov_base;
		eiov[k].iov_len = u->rm[i].msg_len;
		em[k].msg_hdr = u->rm[i].msg_hdr;
		em[k].msg_hdr.msg_iov = &eiov[k];
		em[k].msg_hdr.msg_iovlen = 1;
		k++;
	}
	/* An echo the kernel cannot take now is dropped, as UDP may. */
	for (i = 0; i < k; i += r) {
		if ((r = sendmmsg(fd, em + i, k - i, MSG_DONTWAIT)) <= 0) {
			if (u->o->verbose > 0)
				warn("echo");
			break;
		}
		for (j = i; j < i + r; j++)
			dump_dg(u, HEXDUMP_OUT, em[j].msg_hdr.msg_name,
			    em[j].msg_hdr.msg_namelen, eiov[j].iov_base,
			    eiov[j].iov_len);
	}
}

/*
 * -W reached: end now, or, when stdin is to be drained (not a terminal),
 * once it has been read to its end and sent to the latest sender.
 */
static void
count_reached(struct udp *u)
{
	u->counted = 1;
	/* No sender to answer (an unbound Unix client): nothing to send. */
	if (!u->o->drain_stdin || u->o->message != NULL || u->o->echo ||
	    u->done || u->dfd == -1)
		finish(u, 0);
	else
		set_masks(u);
}

/* Say so when a datagram did not fit its slot; the exit status is 1. */
static void
check_cut(struct udp *u, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!(u->rm[i].msg_hdr.msg_flags & MSG_TRUNC))
			continue;
		u->ncut++;
		u->status = 1;
		warnx("datagram cut to %zu bytes: longer than the receive "
		    "buffer", u->slot);
	}
}

/* Deliver n received datagrams: stdout, echo, the latest sender. */
static void
deliver(struct udp *u, int fd, int n)
{
	int i, k = 0;

	if (u->o->count > 0 && u->nin + n > u->o->count)
		n = u->o->count - u->nin;
	for (i = 0; i < n; i++) {
		dump_dg(u, HEXDUMP_IN, &u->rname[i],
		    u->rm[i].msg_hdr.msg_namelen, u->riov[i].iov_base,
		    u->rm[i].msg_len);
		k = out_layout(u, i, k);
	}
	u->nin += n;
	u->last = loop_now(u->loop);
	out_write(u, k);
	if (u->o->echo)
		echo_batch(u, fd, n);
	if (u->o->listen && n > 0 && named(&u->rm[n - 1])) {
		u->dfd = fd;
		u->dstlen = u->rm[n - 1].msg_hdr.msg_namelen;
		memcpy(&u->dst, &u->rname[n - 1], u->dstlen);
		if (!u->in_on && !u->o->echo && u->o->message == NULL &&
		    !u->in_eof && u->sn == u->shead)
			send_pump(u);
	}
	if (u->o->count > 0 && u->nin >= u->o->count)
		count_reached(u);
}

static void
refused(struct udp *u)
{
	u->nrefused++;
	/* After the last send, a refusal leaves nothing to wait for. */
	if (u->done && !u->o->listen) {
		if (u->o->verbose >= 0)
			warnx("%s: %s", u->o->peer, strerror(ECONNREFUSED));
		finish(u, 1);
	} else if (u->o->verbose > 0)
		warnx("%s: %s", u->o->peer ? u->o->peer : "send",
		    strerror(ECONNREFUSED));
}

static void
recv_batch(struct udp *u, int fd)
{
	int i, n, want;

	for (i = 0; i < ROUNDS && !u->stalled && !u->stopped; i++) {
		want = u->batch;
		if (u->o->count > 0 && u->o->count - u->nin < (unsigned)want)
			want = u->o->count - u->nin;
		if (want == 0)
			break;
		for (n = 0; n < want; n++)
			u->rm[n].msg_hdr.msg_namelen = sizeof(u->rname[n]);
		if ((n = recvmmsg(fd, u->rm, want, MSG_DONTWAIT, NULL)) ==
		    -1) {
			if (errno == ECONNREFUSED) {
				refused(u);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				warn("receive");
			break;
		}
		check_cut(u, n);
		deliver(u, fd, n);
		if (n < want || u->out == NULL)
			break;
	}
}

static void
sock_io(struct loop *l, int fd, int ready, void *arg)
{
	struct udp *u = arg;

	(void)l;
	if ((ready & LOOP_WRITE) && fd == u->dfd) {
		u->wblocked = 0;
		set_masks(u);
		send_pump(u);
	}
	if ((ready & LOOP_READ) && !u->stalled)
		recv_batch(u, fd);
}

/* --- sending ----------------------------------------------------------- */

/* Pull the next datagrams of stdin from the decoder into siov. */
static int
pull_stdin(struct udp *u, int max)
{
	const unsigned char *m;
	const char *errstr;
	size_t len;
	int r = 0;

	while (u->sn < max &&
	    (r = frame_next(&u->dec, &m, &len, &errstr)) == 1) {
		/* A line across reads is in the decoder: keep a copy. */
		if (m < u->ibuf || m >= u->ibuf + u->ilen) {
			memcpy(u->spill, m, len);
			m = u->spill;
		}
		u->siov[u->sn].iov_base = (void *)m;
		u->siov[u->sn++].iov_len = len;
	}
	/* The lines before a bad one go first; the decoder keeps failing. */
	if (r == -1 && u->sn == 0) {
		warnx("stdin: %s (a datagram holds at most %zu bytes)",
		    errstr, u->maxdg);
		finish(u, 1);
		return -1;
	}
	return 0;
}

/* Fill siov with the next batch; return how many, 0 if none is ready. */
static int
fill(struct udp *u)
{
	int max = u->o->interval_ms > 0 ? 1 : BATCH;

	u->shead = u->sn = 0;
	if (u->o->message != NULL) {
		while (u->sn < max && (u->o->repeat == 0 || u->left > 0)) {
			u->siov[u->sn].iov_base = (void *)u->o->message;
			u->siov[u->sn++].iov_len = u->o->msglen;
			u->left--;
		}
	} else if (pull_stdin(u, max) == -1)
		return -1;
	return u->sn;
}

static void
quiet(struct loop *l, void *arg)
{
	struct udp *u = arg;
	int64_t left;

	left = u->last + u->o->idle_ms - loop_now(l);
	if (left > 0) {
		loop_timer(l, left, quiet, u);
		return;
	}
	if (!u->o->listen && u->nin == 0 && u->nrefused > 0) {
		/* Refused, and nothing answered: nobody is there. */
		if (u->o->verbose >= 0)
			warnx("%s: %s", u->o->peer, strerror(ECONNREFUSED));
		finish(u, 1);
	} else if (u->o->count > 0 && u->nin < u->o->count) {
		if (u->o->verbose >= 0)
			warnx("timed out: %llu of %llu %s", u->nin,
			    u->o->count, u->o->listen ? "datagrams" :
			    "replies");
		finish(u, 1);
	} else {
		if (u->o->verbose > 0)
			warnx("no traffic for %ld ms: done", u->o->idle_ms);
		finish(u, 0);
	}
}

/* Nothing more to send: udp-send waits for the quiet time, then ends. */
static void
input_done(struct udp *u)
{
	if (u->done)
		return;
	u->done = 1;
	if (u->o->listen) {
		if (u->counted)
			finish(u, 0);
		return;
	}
	u->last = loop_now(u->loop);
	loop_timer(u->loop, u->o->idle_ms, quiet, u);
}

static void
tick(struct loop *l, void *arg)
{
	struct udp *u = arg;

	(void)l;
	u->ticking = 0;
	send_pump(u);
}

/* A failed send: wait, retry once after a refusal, or give up. */
static int
send_failed(struct udp *u, int *retried)
{
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN || errno == ENOBUFS) {
		u->wblocked = 1;
		set_masks(u);
		return -1;
	}
	/* A refusal reported on send consumed the error: send again. */
	if (errno == ECONNREFUSED && u->dstlen == 0 && !*retried &&
	    sock_family(u->dfd) != AF_UNIX) {
		*retried = 1;
		refused(u);
		return 0;
	}
	if (u->o->listen) {
		if (u->o->verbose > 0)
			warn("send");
		u->shead++;
		return 0;
	}
	warn("send to %s", u->o->peer);
	finish(u, 1);
	return -1;
}

/* Send siov[shead..sn); return -1 if it has to wait. */
static int
send_batch(struct udp *u)
{
	struct mmsghdr sm[BATCH];
	int i, n, retried = 0;

	while (u->shead < u->sn) {
		for (i = u->shead, n = 0; i < u->sn; i++, n++) {
			memset(&sm[n], 0, sizeof(sm[n]));
			sm[n].msg_hdr.msg_iov = &u->siov[i];
			sm[n].msg_hdr.msg_iovlen = 1;
			if (u->dstlen > 0) {
				sm[n].msg_hdr.msg_name = &u->dst;
				sm[n].msg_hdr.msg_namelen = u->dstlen;
			}
		}
		if ((n = sendmmsg(u->dfd, sm, n, MSG_DONTWAIT)) == -1) {
			if (send_failed(u, &retried) == -1)
				return -1;
			continue;
		}
		for (i = 0; i < n; i++)
			dump_dg(u, HEXDUMP_OUT, &u->dst, u->dstlen,
			    u->siov[u->shead + i].iov_base,
			    u->siov[u->shead + i].iov_len);
		u->shead += n;
		u->nout += n;
		u->last = loop_now(u->loop);
		retried = 0;
	}
	return 0;
}

static void
in_io(struct loop *l, int fd, int ready, void *arg)
{
	struct udp *u = arg;
	ssize_t n;

	(void)ready;
	n = read(fd, u->ibuf, u->o->frame == FRAME_RAW ? u->maxdg : SLOT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1)
		warn("read stdin");
	loop_mask(l, fd, 0);
	u->in_on = 0;
	if (n > 0) {
		u->ilen = n;
		frame_dec_feed(&u->dec, u->ibuf, n);
	} else {
		u->in_eof = 1;
		frame_dec_eof(&u->dec);
	}
	send_pump(u);
}

/* Send what is ready; then read stdin, wait for the timer, or end. */
static void
send_pump(struct udp *u)
{
	int n;

	while (!u->ticking && !u->wblocked && u->dfd != -1 && !u->stopped) {
		if (u->shead == u->sn && (n = fill(u)) <= 0) {
			if (n == 0 && u->o->message == NULL && !u->in_eof) {
				u->in_on = 1;
				loop_mask(u->loop, STDIN_FILENO, LOOP_READ);
			} else if (n == 0)
				input_done(u);
			return;
		}
		if (send_batch(u) == -1)
			return;
		/* The last MESSAGE is out: from now on, a refusal is final. */
		if (u->o->message != NULL && u->o->repeat > 0 && u->left == 0)
			input_done(u);
		if (u->o->interval_ms > 0 && !u->done) {
			u->ticking = 1;
			loop_timer(u->loop, u->o->interval_ms, tick, u);
		}
	}
}

/* --- set-up ------------------------------------------------------------ */

/*
 * A UDP datagram fits SLOT.  A Unix one can be as long as its sender's
 * send buffer, up to the wmem_max sysctl unprivileged: size the slots to
 * that (at most UNIX_SLOT_MAX; a longer one is reported as cut).
 */
static void
slot_size(struct udp *u)
{
	FILE *fp;
	long max = 0;

	u->slot = SLOT;
	u->batch = BATCH;
	if (sock_family(u->fds[0]) != AF_UNIX)
		return;
	if ((fp = fopen("/proc/sys/net/core/wmem_max", "r")) != NULL) {
		if (fscanf(fp, "%ld", &max) != 1)
			max = 0;
		fclose(fp);
	}
	u->slot = MAXIMUM(SLOT, MINIMUM(max, UNIX_SLOT_MAX));
	u->batch = MAXIMUM(1, MINIMUM(BATCH, UNIX_BATCH_MEM / u->slot));
}

/* Set up u on the nfd sockets fds; 0, or -1 with errno set. */
static int
udp_init(struct udp *u, int *fds, int nfd, const struct udp_opts *o)
{
	int i;

	memset(u, 0, sizeof(*u));
	u->o = o;
	u->fds = fds;
	u->nfd = nfd;
	u->dfd = -1;
	u->left = o->repeat;
	if ((u->loop = loop_new()) == NULL)
		return -1;
	slot_size(u);
	u->rbuf = xmalloc((size_t)u->batch * u->slot);
	for (i = 0; i < u->batch; i++) {
		u->riov[i].iov_base = u->rbuf + (size_t)i * u->slot;
		u->riov[i].iov_len = u->slot;
		u->rm[i].msg_hdr.msg_iov = &u->riov[i];
		u->rm[i].msg_hdr.msg_iovlen = 1;
		u->rm[i].msg_hdr.msg_name = &u->rname[i];
	}
	for (i = 0; i < nfd; i++)
		if (loop_add(u->loop, fds[i], LOOP_READ, sock_io, u) == -1)
			return -1;
	if ((u->out = conn_stdout(u->loop, SIZE_MAX, &out_cb, u)) == NULL)
		return -1;
	return 0;
}

/* Read stdin, unless the MESSAGE or --echo stands for it; 0 or -1. */
static int
stdin_init(struct udp *u)
{
	u->maxdg = udp_max(u->fds[0]);
	if (u->o->message != NULL || u->o->echo) {
		u->in_eof = 1;
		return 0;
	}
	frame_dec_init(&u->dec, u->o->frame, u->maxdg);
	u->ibuf = xmalloc(SLOT);
	u->spill = xmalloc(u->maxdg + 1);
	/* Added with no events, a hung-up pipe would wake the loop. */
	if (loop_add(u->loop, STDIN_FILENO, LOOP_READ, in_io, u) == -1 ||
	    loop_mask(u->loop, STDIN_FILENO, 0) == -1)
		return -1;
	return 0;
}

/* Free what udp_init set up; with report, log the -v summary first. */
static void
udp_free(struct udp *u, int report)
{
	if (report && u->o->verbose > 0)
		warnx("sent %llu datagrams, received %llu%s", u->nout, u->nin,
		    u->nrefused > 0 ? ", some refused" : "");
	if (u->out != NULL) {
		conn_flush_sync(u->out);
		conn_close(u->out, NULL);
	}
	frame_dec_free(&u->dec);
	if (u->loop != NULL)
		loop_free(u->loop);
	free(u->rbuf);
	free(u->ibuf);
	free(u->spill);
}

/*
 * Run the endpoint on the n sockets fds: received datagrams to stdout,
 * stdin or the MESSAGE to dst (dstlen 0: fds[0] is connected; NULL with
 * o->listen: the latest sender).  Return the exit status, or -1 with
 * errno set if the event loop fails.
 */
int
udp_run(int *fds, int n, const struct sockaddr *dst, socklen_t dstlen,
    const struct udp_opts *o)
{
	struct udp u;
	int save;

	if (udp_init(&u, fds, n, o) == -1 || stdin_init(&u) == -1)
		goto bad;
	u.last = loop_now(u.loop);
	if (!o->listen) {
		u.dfd = fds[0];
		u.dstlen = dstlen;
		if (dstlen > 0)
			memcpy(&u.dst, dst, dstlen);
		send_pump(&u);
	} else if (o->idle_ms >= 0)
		loop_timer(u.loop, o->idle_ms, quiet, &u);
	if (loop_run(u.loop) == -1)
		goto bad;
	udp_free(&u, 1);
	return u.status;
bad:
	save = errno;
	udp_free(&u, 0);
	errno = save;
	return -1;
}
