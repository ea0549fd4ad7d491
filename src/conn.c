#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "hexdump.h"
#include "loop.h"
#include "tls.h"
#include "util.h"

#define READSZ		(64 * 1024)
#define READS		4		/* reads a wakeup, for fairness */
#define IOVS		64
#define TRIM_MIN	(1024 * 1024)	/* freed bytes worth a malloc_trim */
#define FLUSH_WAIT_MS	10000		/* at exit, for a reader of stdout */

static unsigned char rbuf[READSZ];
static unsigned char tbuf[READSZ];	/* gathered for one TLS write */
static size_t tls_live, tls_peak;	/* TLS sessions, now and at most */

/* Make a message holding a copy of len bytes at p (p may be NULL). */
struct msg *
msg_new(const void *p, size_t len)
{
	struct msg *m;

	m = xmalloc(sizeof(*m) + len);
	m->refs = 1;
	m->qrefs = 0;
	m->len = len;
	if (p != NULL)
		memcpy(m->data, p, len);
	return m;
}

/* Make a message of printf(3)-formatted text. */
struct msg *
msg_fmt(const char *fmt, ...)
{
	struct msg *m;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	m = msg_new(NULL, n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)m->data, n + 1, fmt, ap);
	va_end(ap);
	m->len = n;
	return m;
}

/* Drop a reference; the last one frees the message. */
void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

static void conn_io(struct loop *, int, int, void *);

/* Count n more bytes held by c's queue. */
static void
charge(struct conn *c, size_t n)
{
	c->queued += n;
}

/* Count n bytes fewer held by c's queue. */
static void
credit(struct conn *c, size_t n)
{
	c->queued -= n;
}

/* What m takes from malloc, header included. */
static size_t
msg_size(struct msg *m)
{
	return malloc_usable_size(m) + 8;
}

/* Count node q in budget b: the node, and its message once. */
static void
budget_add(struct budget *b, struct qnode *q)
{
	b->used += QNODE_SIZE;
	if (q->m->qrefs++ == 0)
		b->used += msg_size(q->m);
}

static void
budget_sub(struct budget *b, struct qnode *q)
{
	b->used -= QNODE_SIZE;
	if (--q->m->qrefs == 0)
		b->used -= msg_size(q->m);
}

/* Take c's bytes out of its budget: it is closing, they go soon. */
static void
unbudget(struct conn *c)
{
	struct qnode *q;

	if (c->budget == NULL)
		return;
	for (q = c->head; q != NULL; q = q->next)
		budget_sub(c->budget, q);
	c->budget->used -= c->held;
	c->budget = NULL;
}

static int
want(const struct conn *c)
{
	return (c->paused || c->eof ? 0 : LOOP_READ) |
	    (c->head != NULL || c->tls_rw ? LOOP_WRITE : 0);
}

/*
 * Our EOF: close_notify first under TLS, then shutdown(SHUT_WR); return
 * -1 while the close_notify waits for room in the socket.
 */
static int
half_close(struct conn *c)
{
	c->tls_rw = 0;
	if (c->tls != NULL && tls_close_notify(c->tls) == -1 &&
	    errno == EAGAIN) {
		c->tls_rw = tls_want(c->tls) == POLLOUT;
		return -1;
	}
	shutdown(c->fd, SHUT_WR);
	return 0;
}

/*
 * Take over the connected non-blocking socket fd from peer sa, with an
 * out-queue bound of maxq bytes; return the connection.
 */
struct conn *
conn_new(struct loop *l, int fd, const struct sockaddr *sa, socklen_t salen,
    size_t maxq, const struct conn_cb *cb, void *arg)
{
	struct conn *c;

	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->fd = fd;
	c->maxq = maxq;
	c->cb = cb;
	c->arg = arg;
	c->last = c->born = loop_now(l);
	if (salen > sizeof(c->ss))
		salen = sizeof(c->ss);
	if (sa != NULL) {
		memcpy(&c->ss, sa, salen);
		addr_fmt(sa, salen, c->name, sizeof(c->name));
	} else
		strlcpy(c->name, fd == STDIN_FILENO ? "stdin" : "stdout",
		    sizeof(c->name));
	c->blocking = (fcntl(fd, F_GETFL) & O_NONBLOCK) == 0;
	if (loop_add(l, fd, LOOP_READ, conn_io, c) == -1) {
		close(fd);
		free(c);
		return NULL;
	}
	return c;
}

/* Drop q's reference; q0 is only marked free. */
static void
qnode_free(struct conn *c, struct qnode *q)
{
	credit(c, q->len + QNODE_COST);
	if (c->budget != NULL)
		budget_sub(c->budget, q);
	msg_unref(q->m);
	q->m = NULL;
	if (q != &c->q0)
		free(q);
}

/*
 * Free c's TLS session.  Sessions leave memory in malloc's free lists
 * that no queue accounts for: once half of the most there were are
 * gone, give it back to the system.
 */
static void
tls_gone(struct conn *c)
{
	if (c->tls == NULL)
		return;
	tls_free(c->tls);
	c->tls = NULL;
	tls_live--;
	if (tls_peak >= 64 && tls_live < tls_peak / 2) {
		malloc_trim(0);
		tls_peak = tls_live;
	}
}

static void
conn_free(struct loop *l, void *arg)
{
	struct conn *c = arg;
	struct qnode *q;
	size_t freed = c->queued + c->held;

	(void)l;
	while ((q = c->head) != NULL) {
		c->head = q->next;
		qnode_free(c, q);
	}
	free(c);
	/* Give the memory of a big queue or decoder back to the system. */
	if (freed >= TRIM_MIN)
		malloc_trim(0);
}

/* Free c at once without closing its fd (stdin, stdout at exit). */
void
conn_forget(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	unbudget(c);
	loop_del(c->loop, c->fd);
	tls_gone(c);
	conn_free(c->loop, c);
}

/* Close now, dropping what is queued; the memory goes after this turn. */
void
conn_close(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	unbudget(c);
	loop_del(c->loop, c->fd);
	/* An orderly end under TLS says so, or the peer sees a truncation. */
	if (c->tls != NULL && why == NULL && !c->hs)
		(void)half_close(c);
	if (why == NULL && c->trunc)
		why = "TLS: closed without close_notify";
	tls_gone(c);
	close(c->fd);
	if (c->cb->closed != NULL)
		c->cb->closed(c, why);
	loop_defer(c->loop, conn_free, c);
}

static void
conn_drop(struct conn *c, size_t w)
{
	struct qnode *q;
	size_t left;

	while (w > 0 && (q = c->head) != NULL) {
		left = q->len;
		if (w < left) {
			q->off += w;
			q->len -= w;
			credit(c, w);
			break;
		}
		w -= left;
		c->head = q->next;
		qnode_free(c, q);
	}
	if (c->head == NULL)
		c->tail = NULL;
}

/* --hexdump: dump the first w bytes that iov holds, as sent. */
static void
dump_iov(struct conn *c, const struct iovec *iov, size_t w)
{
	size_t k;

	for (; w > 0; iov++, w -= k) {
		k = MINIMUM(w, iov->iov_len);
		hexdump_write(c->hd, HEXDUMP_OUT, c->name, &c->dumped[0],
		    iov->iov_base, k);
	}
}

/* Dump every byte c sends and receives to hd (NULL: none). */
void
conn_hexdump(struct conn *c, struct hexdump *hd)
{
	c->hd = hd;
}

/*
 * Write the first of iov's n slices through TLS, gathered so that small
 * messages share a record; return as writev(2).  After a write that had
 * to wait, the queue is unchanged, so the same bytes are offered again.
 */
static ssize_t
tls_writev(struct conn *c, const struct iovec *iov, int n)
{
	size_t len = 0, k;
	int i;

	for (i = 0; i < n && len < sizeof(tbuf); i++) {
		k = MINIMUM(iov[i].iov_len, sizeof(tbuf) - len);
		memcpy(tbuf + len, iov[i].iov_base, k);
		len += k;
	}
	return tls_write(c->tls, tbuf, len);
}

/* Why an I/O call failed with errno e. */
static const char *
io_strerror(const struct conn *c, int e)
{
	if (e == EPROTO && c->tls != NULL)
		return tls_error(c->tls);
	return sock_strerror(e);
}

/* Write what is queued; return -1 if that closed the connection. */
static int
conn_flush(struct conn *c)
{
	struct iovec iov[IOVS];
	struct qnode *q;
	ssize_t w;
	int n, had = c->head != NULL;

	/* Nothing goes out before the TLS handshake is done. */
	if (c->hs)
		return 0;
	c->tls_rw = 0;
	while (c->head != NULL) {
		for (n = 0, q = c->head; q != NULL && n < IOVS; q = q->next) {
			iov[n].iov_base = q->m->data + q->off;
			iov[n++].iov_len = q->len;
		}
		if ((w = c->tls != NULL ? tls_writev(c, iov, n) :
		    writev(c->fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			c->err = errno;
			conn_close(c, io_strerror(c, errno));
			return -1;
		}
		c->last = loop_now(c->loop);
		if (c->hd != NULL)
			dump_iov(c, iov, w);
		c->nout += w;
		conn_drop(c, w);
	}
	if (c->head == NULL && c->close_drained) {
		conn_close(c, NULL);
		return -1;
	}
	if (c->head == NULL && c->wr_shut == 1 && half_close(c) == 0)
		c->wr_shut = 2;
	loop_mask(c->loop, c->fd, want(c));
	if (had && c->head == NULL && c->cb->drained != NULL)
		c->cb->drained(c);
	return 0;
}

static void	conn_read(struct conn *);

static void
conn_reread(struct loop *l, void *arg)
{
	struct conn *c = arg;

	(void)l;
	if (!c->dead)
		conn_read(c);
}

static void
conn_read(struct conn *c)
{
	size_t max = c->rmax > 0 ? MINIMUM(c->rmax, sizeof(rbuf)) :
	    sizeof(rbuf);
	ssize_t n;
	int i;

	if (c->hs)
		return;
	for (i = 0; i < READS && !c->paused && !c->eof && !c->dead; i++) {
		if ((n = c->tls != NULL ? tls_read(c->tls, rbuf, max) :
		    read(c->fd, rbuf, max)) > 0) {
			c->last = loop_now(c->loop);
			if (c->hd != NULL)
				hexdump_write(c->hd, HEXDUMP_IN, c->name,
				    &c->dumped[1], rbuf, n);
			c->nin += n;
			c->cb->data(c, rbuf, n);
			/*
			 * A blocking fd (stdin) is read once a wakeup, and so
			 * is one with a read bound, so others get their turn.
			 */
			if (((size_t)n < max && (c->tls == NULL ||
			    !tls_pending(c->tls))) || c->blocking ||
			    c->rmax > 0)
				break;
		} else if (n == 0 || (c->tls != NULL && errno == EPROTO &&
		    tls_truncated(c->tls))) {
			/* An EOF without close_notify: said when it closes. */
			c->trunc = n != 0;
			c->eof = 1;
			c->cb->data(c, NULL, 0);
		} else if (errno != EINTR) {
			if (errno != EAGAIN) {
				c->err = errno;
				conn_close(c, io_strerror(c, errno));
			} else if (c->tls != NULL)
				c->tls_rw = tls_want(c->tls) == POLLOUT;
			break;
		}
	}
	/* Decrypted bytes left behind wake no poll: read them next turn. */
	if (!c->dead && c->tls != NULL && !c->paused && !c->eof &&
	    tls_pending(c->tls))
		loop_defer(c->loop, conn_reread, c);
	if (!c->dead)
		loop_mask(c->loop, c->fd, want(c));
}

/*
 * A step of the TLS handshake; return -1 if it is not done (or c was
 * closed), 0 once data may flow.
 */
static int
conn_handshake(struct conn *c)
{
	if (tls_handshake(c->tls) == -1) {
		if (errno != EAGAIN)
			conn_close(c, io_strerror(c, errno));
		else
			loop_mask(c->loop, c->fd, tls_want(c->tls) == POLLOUT ?
			    LOOP_WRITE : LOOP_READ);
		return -1;
	}
	c->hs = 0;
	c->last = loop_now(c->loop);
	if (c->cb->ready != NULL)
		c->cb->ready(c);
	if (c->dead)
		return -1;
	loop_mask(c->loop, c->fd, want(c));
	return 0;
}

static void
conn_io(struct loop *l, int fd, int ready, void *arg)
{
	struct conn *c = arg;

	(void)l;
	(void)fd;
	if (c->hs && conn_handshake(c) == -1)
		return;
	/* TLS: a read may wait for the socket's room, a write for data. */
	if (c->tls != NULL)
		ready = LOOP_READ | LOOP_WRITE;
	if ((ready & LOOP_WRITE) && conn_flush(c) == -1)
		return;
	if (ready & LOOP_READ)
		conn_read(c);
}

/*
 * Append the len bytes of m at off to the out-queue, a reference a node;
 * return whether the queue was empty.  Most queues hold one node at a
 * time: that one is c->q0, not malloc'd.
 */
static int
conn_enqueue(struct conn *c, struct msg *m, size_t off, size_t len)
{
	struct qnode *q = c->tail;
	int was_empty = c->head == NULL;

	/* The next bytes of the message the last node holds: one node. */
	if (q != NULL && q->m == m && q->off + q->len == off &&
	    q->len + len <= QNODE_MAX) {
		q->len += len;
		charge(c, len);
		return 0;
	}
	while (len > 0) {
		q = c->q0.m == NULL ? &c->q0 : xmalloc(sizeof(*q));
		q->next = NULL;
		q->m = m;
		q->off = off;
		q->len = MINIMUM(len, QNODE_MAX);
		charge(c, q->len + QNODE_COST);
		off += q->len;
		len -= q->len;
		m->refs++;
		if (c->budget != NULL)
			budget_add(c->budget, q);
		if (c->tail != NULL)
			c->tail->next = q;
		else
			c->head = q;
		c->tail = q;
	}
	return was_empty;
}

/*
 * Queue m (taking a reference) and write what can be written now.
 * Return -1 if the queue is now over its bound or the connection is
 * gone; the caller decides whether to drop it.
 */
int
conn_send(struct conn *c, struct msg *m)
{
	if (c->dead)
		return -1;
	if (m->len == 0)
		return 0;
	if (conn_enqueue(c, m, 0, m->len) && conn_flush(c) == -1)
		return -1;
	return c->queued > c->maxq ? -1 : 0;
}

/*
 * Write what a turn queued; a queue still over its bound after that is
 * the owner's to handle (conn_full()), or c is closed as too slow.
 */
static void
conn_later(struct loop *l, void *arg)
{
	struct conn *c = arg;

	(void)l;
	c->later = 0;
	if (c->dead || conn_flush(c) == -1 || c->queued <= c->maxq)
		return;
	if (c->full != NULL)
		c->full(c);
	else
		conn_close(c, "too slow");
}

/*
 * As conn_send(), but write once this turn's events are handled, so that
 * the many messages a turn queues for c go out in one writev(2).  The
 * bound is checked after that write: a burst that a reader takes at once
 * is not too much for it.  Return -1 only if c is gone.
 */
int
conn_send_later(struct conn *c, struct msg *m)
{
	return conn_send_slice(c, m, 0, m->len);
}

/* As conn_send_later(), for the len bytes of m at off. */
int
conn_send_slice(struct conn *c, struct msg *m, size_t off, size_t len)
{
	if (c->dead)
		return -1;
	if (len == 0)
		return 0;
	conn_enqueue(c, m, off, len);
	if (!c->later) {
		c->later = 1;
		loop_defer(c->loop, conn_later, c);
	}
	return 0;
}

/*
 * Feed what arrived at *p (*len bytes; 0 to start) to the handshake a,
 * send what it has to say on c, and step *p and *len past the bytes it
 * used; return its status.
 */
enum auth_status
conn_auth(struct conn *c, struct auth *a, const unsigned char **p,
    size_t *len)
{
	const unsigned char *out;
	enum auth_status st = a->status;
	size_t used = 0, n;
	int one = 1;

	/* Small handshake messages wait for no ACK (Nagle); data after too. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (*len > 0)
		st = auth_feed(a, *p, *len, &used);
	if (st != AUTH_FAIL && (n = auth_output(a, &out)) > 0) {
		/*
		 * A failed write closes c, and its owner may free a: mark the
		 * bytes sent first, and touch neither after.
		 */
		auth_sent(a, n);
		if (conn_write(c, out, n) == -1 && c->dead)
			return AUTH_FAIL;
	}
	*p += used;
	*len -= used;
	return st;
}

/* Queue a copy of len bytes at p, as conn_send(). */
int
conn_write(struct conn *c, const void *p, size_t len)
{
	struct msg *m;
	int rv;

	m = msg_new(p, len);
	rv = conn_send(c, m);
	msg_unref(m);
	return rv;
}

/* Stop (paused != 0) or resume reading from c. */
void
conn_pause(struct conn *c, int paused)
{
	if (c->dead || c->paused == paused)
		return;
	c->paused = paused;
	loop_mask(c->loop, c->fd, want(c));
	/* What TLS decrypted before the pause wakes no poll. */
	if (!paused && c->tls != NULL && !c->hs && tls_pending(c->tls))
		loop_defer(c->loop, conn_reread, c);
}

/*
 * Half-close: close_notify under TLS and shutdown(SHUT_WR), once the
 * out-queue has drained.
 */
void
conn_shutdown(struct conn *c)
{
	if (c->dead || c->wr_shut)
		return;
	c->wr_shut = 1;
	if (c->head == NULL && !c->hs && half_close(c) == 0)
		c->wr_shut = 2;
	if (c->tls_rw)
		loop_mask(c->loop, c->fd, want(c));
}

/*
 * Run c over the TLS session t, which c owns from now on; handshake
 * says whether the handshake is still to be done (cb->ready follows it).
 */
void
conn_tls(struct conn *c, struct tls *t, int handshake)
{
	c->tls = t;
	c->hs = handshake;
	tls_cheap(t);
	if (++tls_live > tls_peak)
		tls_peak = tls_live;
	if (handshake)
		loop_mask(c->loop, c->fd, LOOP_READ);
	/* A session handshaken before may hold records read ahead. */
	else if (tls_pending(t))
		loop_defer(c->loop, conn_reread, c);
}

/* c's TLS session (NULL: none), for what -v says of it. */
const struct tls *
conn_tls_session(const struct conn *c)
{
	return c->tls;
}

/*
 * Start an accepted connection: with tc, a TLS server session whose
 * handshake runs in the loop, then cb->ready; without, cb->ready now.
 * c may be closed when this returns.
 */
void
conn_start(struct conn *c, struct tls_ctx *tc)
{
	struct tls *t;

	if (tc == NULL) {
		c->cb->ready(c);
		return;
	}
	if ((t = tls_new(tc, c->fd, NULL)) == NULL)
		conn_close(c, "TLS: cannot make a session");
	else
		conn_tls(c, t, 1);
}

/* True while c's TLS handshake is under way. */
int
conn_handshaking(const struct conn *c)
{
	return c->hs;
}

/* Close c once its out-queue has drained. */
void
conn_finish(struct conn *c)
{
	if (c->dead)
		return;
	c->close_drained = 1;
	if (c->head == NULL)
		conn_close(c, NULL);
}

/*
 * Write out the whole queue before exit (stdout), waiting while the
 * reader takes it, but giving up after FLUSH_WAIT_MS without progress:
 * a terminal no one reads must not hold the exit for ever.
 */
void
conn_flush_sync(struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	int n;

	while (!c->dead && c->head != NULL) {
		if (conn_flush(c) == -1 || c->head == NULL)
			return;
		if ((n = poll(&pfd, 1, FLUSH_WAIT_MS)) == 0 ||
		    (n == -1 && errno != EINTR))
			return;
	}
}

/* Close and free c at once, calling no callback: for a loop's end. */
void
conn_destroy(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	unbudget(c);
	loop_del(c->loop, c->fd);
	tls_gone(c);
	close(c->fd);
	conn_free(c->loop, c);
}

/*
 * Return why c is past its time, or NULL: a handshake (handshake != 0)
 * not done within idle_ms of the accept (AUTH_TIMEOUT_MS without -w),
 * however the peer trickles bytes; otherwise idle_ms with no traffic.
 */
const char *
conn_expired(const struct conn *c, int handshake, long idle_ms)
{
	int64_t now = loop_now(c->loop);

	if (c->hs)
		return now - c->born >= (idle_ms >= 0 ? idle_ms :
		    AUTH_TIMEOUT_MS) ? "TLS handshake timed out" : NULL;
	if (handshake)
		return now - c->born >= (idle_ms >= 0 ? idle_ms :
		    AUTH_TIMEOUT_MS) ? "authentication timed out" : NULL;
	return idle_ms >= 0 && now - c->last >= idle_ms ? "idle timeout" :
	    NULL;
}

/*
 * Make stdout a write-only connection with a queue bound of maxq; it
 * never blocks the loop.  A pipe or socket there is written non-blocking
 * (its flags are restored at exit).  A terminal is opened anew through
 * /proc, a file description of our own whose O_NONBLOCK leaves the
 * shell's alone; a file is written as it is.  Return it, or NULL.
 */
struct conn *
conn_stdout(struct loop *l, size_t maxq, const struct conn_cb *cb,
    void *arg)
{
	struct conn *c;
	int fd = STDOUT_FILENO;

	if (!isatty(fd))
		fd_nonblock(fd);
	else if ((fd = open("/proc/self/fd/1", O_WRONLY | O_NOCTTY |
	    O_NONBLOCK | O_CLOEXEC)) == -1)
		fd = STDOUT_FILENO;
	if ((c = conn_new(l, fd, NULL, 0, maxq, cb, arg)) != NULL)
		conn_pause(c, 1);
	return c;
}

/*
 * Call full(c) when c's queue is over its bound after the flush that
 * follows conn_send_slice(), instead of closing c as too slow.
 */
void
conn_full(struct conn *c, void (*full)(struct conn *))
{
	c->full = full;
}

/* Set c's out-queue bound to maxq bytes. */
void
conn_maxq(struct conn *c, size_t maxq)
{
	c->maxq = maxq;
}

/* Count c's queue and what c's owner reports in budget b. */
void
conn_budget(struct conn *c, struct budget *b)
{
	struct qnode *q;

	unbudget(c);
	if (c->dead || b == NULL)
		return;
	c->budget = b;
	for (q = c->head; q != NULL; q = q->next)
		budget_add(b, q);
	b->used += c->held;
}

/* Read at most n bytes from c a wakeup, once: a fair share of a turn. */
void
conn_read_max(struct conn *c, size_t n)
{
	c->rmax = n;
}

/* Set the bytes c's owner holds for it (a decoder's buffer). */
void
conn_hold(struct conn *c, size_t n)
{
	if (c->budget != NULL)
		c->budget->used = c->budget->used - c->held + n;
	c->held = n;
}

/* Return the bytes held for c: its out-queue and its owner's. */
size_t
conn_holding(const struct conn *c)
{
	return c->queued + c->held;
}

/* Return whether budget b is bounded and its bytes are over it. */
int
budget_over(const struct budget *b)
{
	return b->max > 0 && b->used > b->max;
}

/*
 * For stdout's closed callback: report a write error and return 1; a
 * reader that went away ends quietly, as SIGPIPE would, and returns 0.
 */
int
conn_out_failed(const struct conn *c, const char *why)
{
	if (why == NULL || c->err == EPIPE)
		return 0;
	warnx("write stdout: %s", why);
	return 1;
}
