#include <sys/queue.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "proxy.h"
#include "relay.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

#define CHUNK		(64 * 1024)	/* a pipe's worth: most one step moves */
#define STEPS		16		/* transfers a wakeup, for fairness */
#define POOL_IDLE	64		/* empty pipes kept for reuse */
#define DRAIN_MAX	(256 * 1024)	/* read and dropped before a close */
#define SWEEP_MIN_MS	100
#define POOL_RETRY_MS	100		/* no pipe2() this long after a failure */
#define TLS_WAIT_MS	10000		/* a client's handshake without -w */

/*
 * The relay engine: pairs of connections on the loop, bytes moved by
 * splice(2) through a pipe per direction while they are in flight.  The
 * pipes come from a pool and go back to it as soon as a direction has
 * nothing in flight, so an idle pair holds only its two sockets.  When
 * no pipe can be had, a direction copies through a shared buffer and
 * keeps only what the other side did not take (at most one CHUNK).
 */

struct pair;

/* One connection of a pair; its I/O goes through the side_* functions. */
struct side {
	int		 fd;
	struct pair	*p;
	const char	*who;		/* "the client", "the target" */
	struct tls	*tls;		/* --tls (client), --to-tls (target) */
	int		 rd_other;	/* TLS: a read waits to write: LOOP_WRITE */
	int		 wr_other;	/* TLS: a write waits to read: LOOP_READ */
};

/* One direction: bytes read from from, held (pipe or buf), written to to. */
struct dir {
	struct side	*from, *to;
	int		 pipe[2];	/* from the pool while bytes are held */
	unsigned char	*buf;		/* no pipe: what to did not take */
	size_t		 off;
	size_t		 pending;	/* bytes held, in pipe or buf */
	int		 eof;		/* from said EOF */
	int		 done;		/* eof passed on: to was shut down */
	uint64_t	 bytes;		/* delivered to to */
};

/*
 * A TLS client's handshake comes first; then the target's connect, the
 * proxies' tunnels (--proxy) and the target's TLS handshake.
 */
enum state { HANDSHAKE, CONNECTING, PROXYING, TARGET_HANDSHAKE, OPEN, DEAD };

struct pair {
	struct relay	*r;
	enum state	 state;
	struct side	 c, t;		/* client, target */
	struct dir	 up, down;	/* c -> t, t -> c */
	size_t		 ai;		/* the target address being tried */
	int		 cerr;		/* the last connect's errno */
	struct loop_timer *ctimer;	/* bounds the target connect */
	struct proxy	*px;		/* --proxy: the hop being negotiated */
	size_t		 hop;		/* its index in the chain */
	size_t		 pxoff;		/* of its request, bytes sent */
	int64_t		 start, last;
	const char	*why;		/* how it ended, first cause */
	char		 whybuf[192];
	char		 peer[ADDR_STRLEN];
	TAILQ_ENTRY(pair) entry;
};

TAILQ_HEAD(pairlist, pair);

struct pool {
	int		(*free)[2];
	size_t		 nfree;
	int64_t		 retry;		/* after EMFILE: no pipe2() before */
};

struct relay {
	struct loop		*loop;
	const struct relay_opts	*ro;
	struct sockaddr_storage	*addrs;
	socklen_t		*lens;
	size_t			 naddr;
	struct pairlist		 pairs;
	long			 npairs;
	struct pool		 pool;
	int			 status;
};

static unsigned char scratch[CHUNK];

static void	side_io(struct loop *, int, int, void *);
static void	pair_connect(struct pair *);
static void	pair_open(struct pair *);
static void	pair_update(struct pair *);
static void	pair_unreachable(struct pair *, const char *);
static void	connect_timeout(struct loop *, void *);
static void	target_ready(struct pair *);
static void	proxy_next(struct pair *);
static void	proxy_step(struct pair *);

/* The pipe pool. */

static int
pool_get(struct pool *pl, int p[2], int64_t now)
{
	if (pl->nfree > 0) {
		pl->nfree--;
		p[0] = pl->free[pl->nfree][0];
		p[1] = pl->free[pl->nfree][1];
		return 0;
	}
	/* Out of descriptors, the direction copies instead for a while. */
	if (now < pl->retry)
		return -1;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0)
		return 0;
	pl->retry = now + POOL_RETRY_MS;
	return -1;
}

/* Take back an empty pipe; one with bytes in it is closed. */
static void
pool_put(struct pool *pl, int p[2], int empty)
{
	if (p[0] == -1)
		return;
	if (empty && pl->nfree < POOL_IDLE) {
		pl->free[pl->nfree][0] = p[0];
		pl->free[pl->nfree][1] = p[1];
		pl->nfree++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

/*
 * The transport of a side: a plain descriptor, spliced, or a TLS
 * session, whose records are made and opened here.
 */

static int
side_splices(const struct side *s)
{
	return s->tls == NULL;
}

/*
 * Read as read(2) does.  Under TLS an end without close_notify may be a
 * truncation: it is passed on as a reset (EPROTO, for pair_fail()).
 */
static ssize_t
side_read(struct side *s, void *buf, size_t len)
{
	ssize_t n;

	if (s->tls == NULL)
		return read(s->fd, buf, len);
	n = tls_read(s->tls, buf, len);
	/* A read that waits for room to write (a key update, say). */
	s->rd_other = n == -1 && errno == EAGAIN &&
	    tls_want(s->tls) == POLLOUT ? LOOP_WRITE : 0;
	return n;
}

static ssize_t
side_write(struct side *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->tls == NULL)
		return send(s->fd, buf, len, MSG_NOSIGNAL);
	n = tls_write(s->tls, buf, len);
	s->wr_other = n == -1 && errno == EAGAIN &&
	    tls_want(s->tls) == POLLIN ? LOOP_READ : 0;
	return n;
}

/* Move at most len bytes from s into the pipe's write end. */
static ssize_t
side_splice_in(struct side *s, int pfd, size_t len)
{
	return splice(s->fd, NULL, pfd, NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

/* Move at most len bytes from the pipe's read end to s. */
static ssize_t
side_splice_out(struct side *s, int pfd, size_t len)
{
	return splice(pfd, NULL, s->fd, NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

/*
 * Pass an EOF on: no more bytes will be written to s (close_notify
 * first under TLS).  Return -1 with errno EAGAIN while that waits for
 * room in the socket.
 */
static int
side_shutdown(struct side *s)
{
	if (s->tls != NULL && tls_close_notify(s->tls) == -1 &&
	    errno == EAGAIN) {
		s->wr_other = tls_want(s->tls) == POLLIN ? LOOP_READ : 0;
		return -1;
	}
	shutdown(s->fd, SHUT_WR);
	return 0;
}

/* Close s; with reset, as a reset (SO_LINGER 0) so its peer sees one. */
static void
side_close(struct loop *l, struct side *s, int reset)
{
	struct linger lg = { 1, 0 };

	if (s->fd == -1)
		return;
	loop_del(l, s->fd);
	if (reset)
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	else if (s->tls != NULL && tls_ready(s->tls))
		(void)side_shutdown(s);
	tls_free(s->tls);
	s->tls = NULL;
	close(s->fd);
	s->fd = -1;
}

/*
 * Read and drop what s has already sent (bounded), so that closing it
 * sends a FIN rather than a reset.
 */
static void
side_drain(struct side *s)
{
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_MAX &&
	    (n = side_read(s, scratch, sizeof(scratch))) > 0)
		total += n;
}

/* Bytes and durations for the -v line. */

static void
fmt_bytes(char *buf, size_t size, uint64_t n)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = n;
	size_t i;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return;
	}
	for (i = 0, v /= 1024; v >= 1024 && i + 1 < NELEM(units); i++)
		v /= 1024;
	snprintf(buf, size, "%.1f %s", v, units[i]);
}

static void
pair_log(struct pair *p)
{
	const struct relay_opts *ro = p->r->ro;
	char in[32], out[32];
	int64_t ms = loop_now(p->r->loop) - p->start;

	if (ro->log_json) {
		log_json(&(struct log_event){ .event = "close",
		    .peer = p->peer, .reason = p->why, .counts = 1,
		    .sent = p->down.bytes, .rcvd = p->up.bytes, .ms = ms,
		    .status = -1 });
		return;
	}
	if (ro->verbose <= 0)
		return;
	fmt_bytes(in, sizeof(in), p->up.bytes);
	fmt_bytes(out, sizeof(out), p->down.bytes);
	warnx("%s -> %s: %s in, %s out, %.1fs, %s", p->peer, ro->name, in,
	    out, ms / 1000.0, p->why);
}

/* Set how the pair ended, unless something ended it first. */
static void
pair_why(struct pair *p, const char *fmt, const char *a, const char *b)
{
	if (p->why != NULL)
		return;
	snprintf(p->whybuf, sizeof(p->whybuf), fmt, a, b);
	p->why = p->whybuf;
}

static void
pair_free(struct loop *l, void *arg)
{
	(void)l;
	free(arg);
}

static void
dir_release(struct relay *r, struct dir *d)
{
	pool_put(&r->pool, d->pipe, d->pending == 0);
	free(d->buf);
	d->buf = NULL;
	d->pending = 0;
}

/*
 * End the pair: log it, close both sides (as resets with reset), give
 * the pipes back.  The pair is freed once this turn is over.
 */
static void
pair_close(struct pair *p, int reset)
{
	struct relay *r = p->r;

	if (p->state == DEAD)
		return;
	p->state = DEAD;
	loop_timer_cancel(r->loop, p->ctimer);
	pair_log(p);
	if (p->px != NULL) {
		proxy_clear(p->px);
		free(p->px);
		p->px = NULL;
	}
	side_close(r->loop, &p->c, reset);
	side_close(r->loop, &p->t, reset);
	dir_release(r, &p->up);
	dir_release(r, &p->down);
	TAILQ_REMOVE(&r->pairs, p, entry);
	r->npairs--;
	loop_defer(r->loop, pair_free, p);
}

/* A side failed: a reset is passed on as a reset. */
static void
pair_fail(struct pair *p, struct side *s, int errnum)
{
	if (errnum == ECONNRESET || errnum == EPIPE)
		pair_why(p, "reset by %s%s", s->who, "");
	else if (errnum == EPROTO && s->tls != NULL)
		pair_why(p, "%s: %s", s->who, tls_error(s->tls));
	else
		pair_why(p, "%s: %s", s->who, strerror(errnum));
	pair_close(p, 1);
}

/* Write what d holds to d->to; return -1 (errno set) on failure. */
static int
dir_flush(struct relay *r, struct dir *d)
{
	ssize_t n;

	while (d->pending > 0) {
		if (d->buf != NULL)
			n = side_write(d->to, d->buf + d->off, d->pending);
		else
			n = side_splice_out(d->to, d->pipe[0], d->pending);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		d->pending -= n;
		d->off += n;
		d->bytes += n;
		d->to->p->last = loop_now(r->loop);
	}
	/* Nothing in flight: the pipe goes back to the pool. */
	dir_release(r, d);
	d->off = 0;
	return 0;
}

/* Copy through the shared buffer, keeping what d->to did not take. */
static ssize_t
dir_copy(struct dir *d)
{
	ssize_t n, w;

	if ((n = side_read(d->from, scratch, sizeof(scratch))) <= 0)
		return n;
	if ((w = side_write(d->to, scratch, n)) == -1) {
		if (errno != EAGAIN)
			return -2;
		w = 0;
	}
	d->bytes += w;
	if (w < n) {
		d->buf = xmalloc(n - w);
		memcpy(d->buf, scratch + w, n - w);
		d->off = 0;
		d->pending = n - w;
	}
	return n;
}

/*
 * Read from d->from into a pipe (or the shared buffer): the bytes read,
 * 0 at EOF, -1 (errno set) if reading failed, -2 if writing did.
 */
static ssize_t
dir_fill(struct relay *r, struct dir *d)
{
	ssize_t n;

	if (!side_splices(d->from) || !side_splices(d->to) ||
	    pool_get(&r->pool, d->pipe, loop_now(r->loop)) == -1) {
		d->pipe[0] = d->pipe[1] = -1;
		return dir_copy(d);
	}
	n = side_splice_in(d->from, d->pipe[1], CHUNK);
	if (n > 0)
		d->pending = n;
	else
		pool_put(&r->pool, d->pipe, 1);
	return n;
}

static void	dir_run(struct relay *, struct dir *);

static void
dir_again(struct loop *l, void *arg)
{
	struct dir *d = arg;
	struct pair *p = d->from->p;

	(void)l;
	if (p->state != OPEN)
		return;
	dir_run(p->r, d);
	pair_update(p);
}

/*
 * Move what d can move now, at most STEPS transfers: read only when
 * nothing is held, so at most one pipe's worth is ever in flight.  The
 * pair may end here (state DEAD).
 */
static void
dir_run(struct relay *r, struct dir *d)
{
	struct pair *p = d->from->p;
	ssize_t n;
	int steps = 0;

	/*
	 * Read again until EAGAIN: a splice from TCP often moves less than
	 * it could while more is queued, and one more try costs less than
	 * going back to epoll_wait for every chunk.
	 */
	for (;;) {
		if (d->pending > 0 && dir_flush(r, d) == -1) {
			pair_fail(p, d->to, errno);
			return;
		}
		if (d->pending > 0 || d->eof || steps++ == STEPS)
			break;
		n = dir_fill(r, d);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			pair_fail(p, n == -1 ? d->from : d->to, errno);
			return;
		}
		p->last = loop_now(r->loop);
		if (n == 0) {
			d->eof = 1;
			pair_why(p, "closed by %s%s", d->from->who, "");
		}
	}
	/* EOF is passed on once every byte before it is written. */
	if (d->eof && d->pending == 0 && !d->done && side_shutdown(d->to) == 0)
		d->done = 1;
	/* What TLS decrypted and the STEPS bound left wakes no poll. */
	if (d->from->tls != NULL && d->pending == 0 && !d->eof &&
	    tls_pending(d->from->tls))
		loop_defer(r->loop, dir_again, d);
}

/*
 * What side s waits for: reading while its outgoing direction out holds
 * nothing, writing while its incoming one in holds bytes or an EOF to
 * pass on.  A TLS call that wants the other event gets both.
 */
static int
side_mask(const struct side *s, const struct dir *out, const struct dir *in)
{
	int mask;

	mask = (!out->eof && out->pending == 0 ? LOOP_READ : 0) |
	    (in->pending > 0 || (in->eof && !in->done) ? LOOP_WRITE : 0);
	/* Only while that very call waits on it, not for ever after. */
	if (mask & LOOP_READ)
		mask |= s->rd_other;
	if (mask & LOOP_WRITE)
		mask |= s->wr_other;
	return mask;
}

/*
 * Watch each side for what its directions need: reading while its
 * outgoing direction holds nothing, writing while its incoming one holds
 * bytes.  Both directions done: the pair is over.
 */
static void
pair_update(struct pair *p)
{
	struct loop *l = p->r->loop;

	if (p->state != OPEN)
		return;
	if (p->up.done && p->down.done) {
		pair_close(p, 0);
		return;
	}
	loop_mask(l, p->c.fd, side_mask(&p->c, &p->up, &p->down));
	loop_mask(l, p->t.fd, side_mask(&p->t, &p->down, &p->up));
}

/*
 * A step of side s's TLS handshake: 0 once done, -1 while it waits (the
 * side is watched for what it wants) or after the pair was closed.
 */
static int
side_handshake(struct pair *p, struct side *s)
{
	if (tls_handshake(s->tls) == 0)
		return 0;
	if (errno == EAGAIN) {
		loop_mask(p->r->loop, s->fd, tls_want(s->tls) == POLLOUT ?
		    LOOP_WRITE : LOOP_READ);
		return -1;
	}
	if (s == &p->t) {
		pair_unreachable(p, tls_error(s->tls));
		return -1;
	}
	pair_why(p, "%s%s", tls_error(s->tls), "");
	pair_close(p, 0);
	return -1;
}

static void
handshake_timeout(struct loop *l, void *arg)
{
	struct pair *p = arg;

	(void)l;
	p->ctimer = NULL;
	pair_why(p, "TLS handshake timed out%s%s", "", "");
	pair_close(p, 0);
}

/* The client's handshake is done: now the target. */
static void
client_ready(struct pair *p)
{
	struct relay *r = p->r;

	loop_timer_cancel(r->loop, p->ctimer);
	p->ctimer = NULL;
	p->state = CONNECTING;
	/* The client waits, unread, while the target is connected. */
	loop_mask(r->loop, p->c.fd, 0);
	if (r->ro->connect_ms >= 0)
		p->ctimer = loop_timer(r->loop, r->ro->connect_ms,
		    connect_timeout, p);
	pair_connect(p);
}

/* The target is connected: TLS toward it first, if asked for. */
static void
target_ready(struct pair *p)
{
	struct relay *r = p->r;

	if (r->ro->to_tls == NULL) {
		pair_open(p);
		return;
	}
	if ((p->t.tls = tls_new(r->ro->to_tls, p->t.fd, r->ro->host)) ==
	    NULL) {
		pair_unreachable(p, "TLS: cannot make a session");
		return;
	}
	p->state = TARGET_HANDSHAKE;
	if (side_handshake(p, &p->t) == 0)
		pair_open(p);
}

static void
pair_open(struct pair *p)
{
	struct relay *r = p->r;

	loop_timer_cancel(r->loop, p->ctimer);
	p->ctimer = NULL;
	p->state = OPEN;
	p->last = loop_now(r->loop);
	if ((p->c.tls == NULL && loop_add(r->loop, p->c.fd, LOOP_READ,
	    side_io, &p->c) == -1) || loop_mask(r->loop, p->t.fd,
	    LOOP_READ) == -1) {
		pair_why(p, "%s%s", strerror(errno), "");
		pair_close(p, 0);
		return;
	}
	/* Bytes that came with the handshakes are in OpenSSL already. */
	if (p->c.tls != NULL)
		loop_defer(r->loop, dir_again, &p->up);
	if (p->t.tls != NULL)
		loop_defer(r->loop, dir_again, &p->down);
	pair_update(p);
}

/* The target cannot be reached: close the client without a reset. */
static void
pair_unreachable(struct pair *p, const char *reason)
{
	pair_why(p, "target unreachable: %s", reason, "");
	side_drain(&p->c);
	pair_close(p, 0);
}

static void
connect_done(struct pair *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int), sslen = sizeof(ss);
	int error = 0;

	if (getsockopt(p->t.fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	/* A stale event for an earlier socket of the same number: wait. */
	if (error == 0 && getpeername(p->t.fd, (struct sockaddr *)&ss,
	    &sslen) == -1 && errno == ENOTCONN)
		return;
	if (error == 0 && p->r->ro->proxy != NULL) {
		proxy_next(p);
		return;
	}
	if (error == 0) {
		target_ready(p);
		return;
	}
	p->cerr = error;
	side_close(p->r->loop, &p->t, 0);
	p->ai++;
	pair_connect(p);
}

static const struct proxy_chain *
r_proxy(const struct pair *p)
{
	return p->r->ro->proxy;
}

/* A hop failed or refused: the target is unreachable, through it. */
static void
proxy_failed(struct pair *p, const char *why)
{
	char name[PROXY_NAMEMAX + 32], msg[sizeof(name) + 320];

	proxy_hop_name(&r_proxy(p)->hop[p->hop], name, sizeof(name));
	snprintf(msg, sizeof(msg), "through %s: %s", name, why);
	pair_unreachable(p, msg);
}

/*
 * Ask hop p->hop for a tunnel to the next hop, or to the target after
 * the last; once the last tunnel is open, the target is reached.
 */
static void
proxy_next(struct pair *p)
{
	const struct proxy_chain *c = r_proxy(p);
	const struct relay_opts *ro = p->r->ro;
	const char *host, *port;
	int n;

	if (p->px == NULL) {
		p->px = xmalloc(sizeof(*p->px));
		p->hop = 0;
	} else {
		proxy_clear(p->px);
		if (++p->hop == c->n) {
			free(p->px);
			p->px = NULL;
			target_ready(p);
			return;
		}
	}
	p->state = PROXYING;
	p->pxoff = 0;
	host = p->hop + 1 < c->n ? c->hop[p->hop + 1].host : ro->host;
	port = p->hop + 1 < c->n ? c->hop[p->hop + 1].port : ro->port;
	if ((n = sock_port_number(port)) == -1) {
		proxy_failed(p, "unknown service");
		return;
	}
	if (proxy_start(p->px, &c->hop[p->hop], host, n) == -1) {
		proxy_failed(p, proxy_error(p->px));
		return;
	}
	proxy_step(p);
}

/*
 * Send the hop's request and read its reply, as far as the socket lets
 * us now: peek at what came and take only the reply's bytes, so that the
 * tunnel's first bytes stay for the next hop or the client.
 */
static void
proxy_step(struct pair *p)
{
	unsigned char buf[PROXY_REPLYMAX];
	const unsigned char *out;
	size_t len, used;
	ssize_t n;

	while (p->px->status == PROXY_MORE) {
		if ((len = proxy_output(p->px, &out)) > 0) {
			n = send(p->t.fd, out + p->pxoff, len - p->pxoff,
			    MSG_NOSIGNAL);
			if (n == -1 && errno == EAGAIN) {
				loop_mask(p->r->loop, p->t.fd, LOOP_WRITE);
				return;
			}
			if (n == -1 && errno != EINTR) {
				proxy_failed(p, strerror(errno));
				return;
			}
			if (n > 0 && (p->pxoff += n) == len) {
				proxy_sent(p->px);
				p->pxoff = 0;
			}
			continue;
		}
		n = recv(p->t.fd, buf, MINIMUM(proxy_want(p->px),
		    sizeof(buf)), MSG_PEEK);
		if (n == -1 && errno == EAGAIN) {
			loop_mask(p->r->loop, p->t.fd, LOOP_READ);
			return;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			proxy_failed(p, n == 0 ? "the proxy closed the "
			    "connection during the handshake" :
			    strerror(errno));
			return;
		}
		proxy_input(p->px, buf, n, &used);
		if (used > 0 && recv(p->t.fd, buf, used, 0) != (ssize_t)used) {
			proxy_failed(p, strerror(errno));
			return;
		}
	}
	if (p->px->status == PROXY_FAIL) {
		proxy_failed(p, proxy_error(p->px));
		return;
	}
	if (p->r->ro->verbose > 1)
		warnx("%s -> %s: tunnel %zu of %zu open", p->peer,
		    p->r->ro->name, p->hop + 1, r_proxy(p)->n);
	proxy_next(p);
}

static void
connect_timeout(struct loop *l, void *arg)
{
	struct pair *p = arg;

	(void)l;
	p->ctimer = NULL;
	pair_unreachable(p, p->state == PROXYING ? "the proxy did not open "
	    "the tunnel in time" : p->state == TARGET_HANDSHAKE ?
	    "TLS handshake timed out" : "connection timed out");
}

/* Start a non-blocking connect to the target's addresses from p->ai on. */
static void
pair_connect(struct pair *p)
{
	struct relay *r = p->r;
	struct sockaddr *sa;
	int fd;

	for (; p->ai < r->naddr; p->ai++) {
		sa = (struct sockaddr *)&r->addrs[p->ai];
		if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			p->cerr = errno;
			continue;
		}
		if ((sa->sa_family == AF_UNIX || sock_tune(fd,
		    &r->ro->tune) == 0) && (connect(fd, sa, r->lens[p->ai]) ==
		    0 || errno == EINPROGRESS) &&
		    loop_add(r->loop, fd, LOOP_WRITE, side_io, &p->t) == 0) {
			p->t.fd = fd;
			return;
		}
		p->cerr = errno;
		close(fd);
	}
	pair_unreachable(p, strerror(p->cerr));
}

static void
side_io(struct loop *l, int fd, int ready, void *arg)
{
	struct side *s = arg;
	struct pair *p = s->p;
	struct relay *r = p->r;

	(void)l;
	(void)fd;
	if (p->state == HANDSHAKE) {
		if (side_handshake(p, &p->c) == 0)
			client_ready(p);
		return;
	}
	if (p->state == CONNECTING) {
		if (s == &p->t)
			connect_done(p);
		return;
	}
	if (p->state == PROXYING) {
		if (s == &p->t)
			proxy_step(p);
		return;
	}
	if (p->state == TARGET_HANDSHAKE) {
		if (s == &p->t && side_handshake(p, &p->t) == 0)
			pair_open(p);
		return;
	}
	if (ready & LOOP_READ)
		dir_run(r, s == &p->c ? &p->up : &p->down);
	if (p->state == OPEN && (ready & LOOP_WRITE))
		dir_run(r, s == &p->c ? &p->down : &p->up);
	pair_update(p);
}

static void
relay_log_refused(struct relay *r, const char *peer, const char *why)
{
	if (r->ro->log_json)
		log_json(&(struct log_event){ .event = "refused", .peer = peer,
		    .reason = why, .status = -1 });
	else if (r->ro->verbose > 0)
		warnx("%s -> %s: %s", peer, r->ro->name, why);
}

static void
accept_one(struct loop *l, int fd, struct sockaddr *sa, socklen_t len,
    void *arg)
{
	struct relay *r = arg;
	struct pair *p;
	char peer[ADDR_STRLEN];
	const char *why;

	addr_fmt(sa, len, peer, sizeof(peer));
	if ((why = acl_refuses(&r->ro->acl, sa, r->npairs,
	    r->ro->max_conns)) != NULL) {
		relay_log_refused(r, peer, why);
		close(fd);
		return;
	}
	if (r->ro->log_json)
		log_json(&(struct log_event){ .event = "open", .peer = peer,
		    .status = -1 });
	p = xcalloc(1, sizeof(*p));
	p->r = r;
	p->state = CONNECTING;
	p->c = (struct side){ fd, p, "the client", NULL, 0, 0 };
	p->t = (struct side){ -1, p, "the target", NULL, 0, 0 };
	p->up = (struct dir){ .from = &p->c, .to = &p->t, .pipe = { -1, -1 } };
	p->down = (struct dir){ .from = &p->t, .to = &p->c,
	    .pipe = { -1, -1 } };
	p->start = p->last = loop_now(l);
	strlcpy(p->peer, peer, sizeof(p->peer));
	TAILQ_INSERT_TAIL(&r->pairs, p, entry);
	r->npairs++;
	if (r->ro->tls != NULL) {
		/* The target is connected only once the client is through. */
		p->state = HANDSHAKE;
		if ((p->c.tls = tls_new(r->ro->tls, fd, NULL)) == NULL) {
			pair_why(p, "TLS: cannot make a session%s%s", "", "");
			pair_close(p, 0);
			return;
		}
		tls_cheap(p->c.tls);
		p->ctimer = loop_timer(l, r->ro->connect_ms >= 0 ?
		    r->ro->connect_ms : TLS_WAIT_MS, handshake_timeout, p);
		if (loop_add(l, fd, LOOP_READ, side_io, &p->c) == -1) {
			pair_why(p, "%s%s", strerror(errno), "");
			pair_close(p, 0);
		}
		return;
	}
	if (r->ro->connect_ms >= 0)
		p->ctimer = loop_timer(l, r->ro->connect_ms, connect_timeout,
		    p);
	pair_connect(p);
}

/* Close the pairs that carried nothing either way for --idle. */
static void
sweep(struct loop *l, void *arg)
{
	struct relay *r = arg;
	struct pair *p, *tmp;
	int64_t now = loop_now(l);

	TAILQ_FOREACH_SAFE(p, &r->pairs, entry, tmp)
		if (p->state == OPEN && now - p->last >= r->ro->idle_ms) {
			pair_why(p, "idle%s%s", "", "");
			pair_close(p, 0);
		}
	loop_timer(l, MAXIMUM(r->ro->idle_ms / 4, SWEEP_MIN_MS), sweep, r);
}

static void
on_signal(struct loop *l, int fd, int ready, void *arg)
{
	struct relay *r = arg;
	struct signalfd_siginfo si;

	(void)ready;
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		r->status = 128 + si.ssi_signo;
	if (r->status != 0)
		loop_stop(l);
}

static int
relay_signals(struct relay *r)
{
	int fd;

	if ((fd = sig_loopfd(0)) == -1)
		return -1;
	return loop_add(r->loop, fd, LOOP_READ, on_signal, r);
}

/* Resolve TARGET once, at the start, into r's address list. */
static int
relay_resolve(struct relay *r, const char **errstr)
{
	const struct relay_opts *ro = r->ro;
	struct addrinfo *res = NULL, *ai;
	struct sockaddr_un *sun;
	static char msg[PROXY_NAMEMAX + ADDR_STRLEN + 128];
	const char *why;
	size_t n = 0;

	if (ro->path != NULL) {
		r->addrs = xcalloc(1, sizeof(*r->addrs));
		r->lens = xcalloc(1, sizeof(*r->lens));
		sun = (struct sockaddr_un *)r->addrs;
		sun->sun_family = AF_UNIX;
		if (strlcpy(sun->sun_path, ro->path, sizeof(sun->sun_path)) >=
		    sizeof(sun->sun_path)) {
			*errstr = "unix socket path too long";
			return -1;
		}
		r->lens[0] = sizeof(*sun);
		r->naddr = 1;
		return 0;
	}
	/* Through a proxy, the first hop is connected; it resolves TARGET. */
	if (ro->proxy != NULL && (res = addr_resolve(ro->proxy->hop[0].host,
	    ro->proxy->hop[0].port, ro->family, SOCK_STREAM, 0, ro->numeric,
	    &why)) == NULL) {
		snprintf(msg, sizeof(msg), "proxy %s: %s",
		    ro->proxy->hop[0].host, why);
		*errstr = msg;
		return -1;
	}
	if (ro->proxy == NULL && (res = addr_resolve(ro->host, ro->port,
	    ro->family, SOCK_STREAM, 0, ro->numeric, &why)) == NULL) {
		snprintf(msg, sizeof(msg), "target %s: %s", ro->name, why);
		*errstr = msg;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	r->addrs = xcalloc(n, sizeof(*r->addrs));
	r->lens = xcalloc(n, sizeof(*r->lens));
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (ai->ai_addrlen <= sizeof(*r->addrs)) {
			memcpy(&r->addrs[r->naddr], ai->ai_addr,
			    ai->ai_addrlen);
			r->lens[r->naddr++] = ai->ai_addrlen;
		}
	freeaddrinfo(res);
	return 0;
}

static void
relay_free(struct relay *r)
{
	struct pair *p;
	size_t i;

	while ((p = TAILQ_FIRST(&r->pairs)) != NULL) {
		pair_why(p, "stopped%s%s", "", "");
		pair_close(p, 0);
	}
	loop_free(r->loop);
	for (i = 0; i < r->pool.nfree; i++) {
		close(r->pool.free[i][0]);
		close(r->pool.free[i][1]);
	}
	free(r->pool.free);
	free(r->addrs);
	free(r->lens);
}

/*
 * Split TARGET (HOST:PORT, [V6]:PORT or unix:PATH) into ro's host and
 * port, or path; return -1 and set *errstr if it is none of them.
 */
int
relay_target(const char *spec, struct relay_opts *ro, const char **errstr)
{
	char *s = ro->hostbuf, *colon;

	ro->name = spec;
	if (strncmp(spec, "unix:", 5) == 0) {
		ro->path = spec + 5;
		if (*ro->path == '\0') {
			*errstr = "no path after unix:";
			return -1;
		}
		return 0;
	}
	if (strlcpy(s, spec, sizeof(ro->hostbuf)) >= sizeof(ro->hostbuf)) {
		*errstr = "too long";
		return -1;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    colon[1] == '\0') {
		*errstr = "expected HOST:PORT, [V6]:PORT or unix:PATH";
		return -1;
	}
	*colon = '\0';
	ro->port = colon + 1;
	ro->host = s;
	if (s[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		ro->host = s + 1;
	} else if (strchr(s, ':') != NULL) {
		*errstr = "an IPv6 address goes in brackets: [V6]:PORT";
		return -1;
	}
	return opts_port(ro->port, ro->numeric, errstr) == -1 ? -1 : 0;
}

/*
 * Relay every client of the n listening sockets fds to the target until
 * a signal; return 128 + its number, or -1 with *errstr (and errno) set.
 */
int
relay_run(int *fds, int n, const struct relay_opts *ro, const char **errstr)
{
	struct relay r;
	int i, save;

	memset(&r, 0, sizeof(r));
	TAILQ_INIT(&r.pairs);
	r.ro = ro;
	r.pool.free = xreallocarray(NULL, POOL_IDLE, sizeof(*r.pool.free));
	*errstr = "epoll";
	if ((r.loop = loop_new()) == NULL) {
		free(r.pool.free);
		return -1;
	}
	if (relay_resolve(&r, errstr) == -1) {
		errno = 0;
		goto fail;
	}
	*errstr = "signalfd";
	if (relay_signals(&r) == -1)
		goto fail;
	*errstr = "epoll";
	for (i = 0; i < n; i++)
		if (loop_listen(r.loop, fds[i], accept_one, &r) == -1)
			goto fail;
	if (ro->idle_ms >= 0)
		loop_timer(r.loop, MAXIMUM(ro->idle_ms / 4, SWEEP_MIN_MS),
		    sweep, &r);
	*errstr = "epoll_wait";
	if (loop_run(r.loop) == -1)
		goto fail;
	relay_free(&r);
	return r.status;
fail:
	save = errno;
	relay_free(&r);
	errno = save;
	return -1;
}
