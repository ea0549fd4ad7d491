#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <linux/sockios.h>
#include <linux/tcp.h>

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

#include "frame.h"
#include "hexdump.h"
#include "pump.h"
#include "tls.h"
#include "util.h"

#define BUFSZ		(256 * 1024)	/* copy buffer per direction */
#define CHUNK		(1024 * 1024)	/* most one splice moves */
#define PIPESZ		(1024 * 1024)	/* asked-for pipe capacity */
#define STEPS		64		/* transfers per wakeup, for fairness */
#define PROGRESS_MS	500
#define ACK_POLL_MS	10
#define LINGER_MS	10000		/* drain before close, without -w */
#define TRUNCATED	"TLS: connection closed without close_notify"
#define TCPS_CLOSE	7		/* tcpi_state after a reset */

/*
 * How a direction moves bytes: splice(2) when one end is a pipe,
 * sendfile(2) from a regular file, splice through a private pipe into a
 * file or device, read/write through a buffer for everything else, and
 * through a frame decoder and encoder with --frame.
 */
enum mode { M_BUFFER, M_SPLICE, M_SENDFILE, M_VIAPIPE, M_FRAME };

/* Which end of a direction failed, or why it stopped. */
enum fail { F_NONE, F_FROM, F_TO, F_PROTO };

struct dir {
	int		 from, to;
	struct tls	*tls;		/* the socket end's TLS, or NULL */
	short		 from_ev, to_ev;	/* what to poll for when not ready */
	int		 trunc;		/* TLS: EOF without close_notify */
	int		 stash;		/* TLS: a read's end, saved: 0 or errno */
	int		 stashed;
	enum mode	 mode;
	int		 blocking;	/* from is blocking: one read a wakeup */
	int		 from_ready, to_ready;
	int		 eof;		/* nothing more will be read */
	int		 done;		/* eof and everything written */
	int		 to_gone;	/* the reader of to went away */
	int		 to_sock;	/* to is the socket */
	int		 closed;	/* its end was dealt with */
	int		 p[2];		/* M_VIAPIPE */
	size_t		 pending;	/* bytes in buf, p or out */
	unsigned char	*buf;		/* M_BUFFER, M_FRAME: read buffer */
	size_t		 off;
	struct frame_dec dec;		/* M_FRAME */
	int		 slice;		/* the decoder holds a fed slice */
	int		 len32;		/* M_FRAME: encode len32 frames */
	int		 nl;		/* M_FRAME: end each message in \n */
	unsigned char	*out;		/* M_FRAME: encoded, to write */
	size_t		 outcap;
	uint64_t	 bytes;		/* delivered to to */
	uint64_t	 inread;	/* M_FRAME: bytes read from from */
	uint64_t	 inused;	/* of them, in messages encoded */
	struct marks	 marks;		/* M_FRAME toward the socket: wire, in */
	int		 crlf;		/* -C: a bare LF read goes as CRLF */
	int		 lastcr;	/* -C: the last byte read was CR */
	struct hexdump	*hd;		/* --hexdump */
	const char	*peer;		/* --hexdump: the peer's name */
	uint64_t	 dumped;	/* --hexdump: bytes dumped */
	enum fail	 fail;
	int		 errnum;
	const char	*errstr;	/* F_PROTO */
};

struct pump {
	struct dir		 up, down;	/* in -> sock, sock -> out */
	int			 sock;
	struct tls		*tls;
	uint64_t		 seq0;		/* sequence space used before it */
	uint64_t		 plain0;	/* TLS: written before the pump */
	uint64_t		 wire0;		/* TLS: its bytes on the wire */
	int			 notify_wait;	/* TLS: close_notify must wait */
	const struct pump_opts	*po;
	int			 in_tty;	/* a person types stdin */
	int			 discard;	/* down goes to /dev/null */
	int			 acked;		/* all we sent is acknowledged */
	int			 outq;		/* SIOCOUTQ at the last look */
	int			 ackpoll;	/* ms between looks at it */
	int64_t			 last;		/* last traffic */
	int64_t			 up_end;	/* when up was acknowledged */
	char			*msg;		/* what went wrong */
};

static char pump_msg[320];

static void
dir_init(struct dir *d, int from, int to, int to_sock, struct tls *tls)
{
	struct stat fst, tst;
	int fl;

	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->to_sock = to_sock;
	d->tls = tls;
	d->from_ev = POLLIN;
	d->to_ev = POLLOUT;
	d->p[0] = d->p[1] = -1;
	d->from_ready = d->to_ready = 1;
	if (fstat(from, &fst) == -1 || fstat(to, &tst) == -1)
		fst.st_mode = tst.st_mode = 0;
	/*
	 * TLS goes through OpenSSL's calls, which move the records to the
	 * kernel when it does TLS (kernel TLS); splice is left for plain.
	 */
	if (tls != NULL)
		d->mode = M_BUFFER;
	else if (S_ISFIFO(fst.st_mode) || S_ISFIFO(tst.st_mode)) {
		d->mode = M_SPLICE;
		fcntl(S_ISFIFO(fst.st_mode) ? from : to, F_SETPIPE_SZ, PIPESZ);
	} else if (to_sock && S_ISREG(fst.st_mode))
		d->mode = M_SENDFILE;
	else if (!to_sock && (S_ISREG(tst.st_mode) ||
	    (S_ISCHR(tst.st_mode) && !isatty(to))) &&
	    pipe2(d->p, O_CLOEXEC | O_NONBLOCK) == 0) {
		d->mode = M_VIAPIPE;
		fcntl(d->p[0], F_SETPIPE_SZ, PIPESZ);
	} else
		d->mode = M_BUFFER;
	if ((fl = fcntl(from, F_GETFL)) == -1 || !(fl & O_NONBLOCK))
		d->blocking = 1;
	if (d->mode == M_BUFFER) {
		d->buf = xmalloc(BUFSZ);
		d->from_ready = !d->blocking;
	}
}

/* Leave the fast path: move d's bytes through a buffer, in mode. */
static void
dir_buffered(struct dir *d, enum mode mode)
{
	free(d->buf);
	if (d->p[0] != -1) {
		close(d->p[0]);
		close(d->p[1]);
		d->p[0] = d->p[1] = -1;
	}
	d->mode = mode;
	d->buf = xmalloc(BUFSZ);
	d->from_ready = !d->blocking;
}

/*
 * Frame a direction: toward the socket each line of stdin is a line, or
 * a len32 frame without its newline; from the socket each message is
 * written as a line.  A message is held whole, so a direction holds at
 * most max_frame bytes in its decoder and a read's worth of output.
 */
static void
dir_frame(struct dir *d, enum frame_mode mode, size_t max)
{
	dir_buffered(d, M_FRAME);
	d->len32 = d->to_sock && mode == FRAME_LEN32;
	d->nl = !d->to_sock;
	frame_dec_init(&d->dec, d->to_sock ? FRAME_LINE : mode, max);
}

/*
 * -C and --hexdump see every byte: a raw direction that uses them moves
 * its bytes through the buffer (the fast paths stay for everyone else).
 */
static void
dir_habits(struct dir *d, const struct pump_opts *po)
{
	d->crlf = po->crlf && d->to_sock;
	d->hd = po->hexdump;
	d->peer = po->peer;
	if ((!d->crlf && d->hd == NULL) || d->mode == M_FRAME ||
	    d->mode == M_BUFFER)
		return;
	dir_buffered(d, M_BUFFER);
}

/* Dump n bytes of buf as going the way of d, if --hexdump asks. */
static void
dir_dump(struct dir *d, const void *buf, size_t n)
{
	if (d->hd != NULL)
		hexdump_write(d->hd, d->to_sock ? HEXDUMP_OUT : HEXDUMP_IN,
		    d->peer, &d->dumped, buf, n);
}

static void
dir_free(struct dir *d)
{
	if (d->p[0] != -1) {
		close(d->p[0]);
		close(d->p[1]);
	}
	if (d->mode == M_FRAME)
		frame_dec_free(&d->dec);
	free(d->buf);
	free(d->out);
	d->p[0] = d->p[1] = -1;
	d->buf = d->out = NULL;
}

/*
 * Fall back to read/write, first moving what the private pipe holds;
 * return 1, or 0 with the failure recorded.
 */
static int
dir_fallback(struct dir *d)
{
	ssize_t n, w;

	d->buf = xmalloc(BUFSZ);
	while (d->mode == M_VIAPIPE && d->pending > 0) {
		if ((n = read(d->p[0], d->buf, BUFSZ)) <= 0)
			goto fail;
		for (d->off = 0; d->off < (size_t)n; d->off += w)
			if ((w = write(d->to, d->buf + d->off, n - d->off))
			    == -1 && errno != EINTR)
				goto fail;
			else if (w == -1)
				w = 0;
		d->pending -= n;
		d->bytes += n;
	}
	dir_free(d);
	d->buf = xmalloc(BUFSZ);
	d->off = d->pending = 0;
	d->mode = M_BUFFER;
	d->from_ready = !d->blocking;
	return 1;
fail:
	if (errno == EPIPE && !d->to_sock) {
		d->to_gone = 1;
		return 0;
	}
	d->fail = F_TO;
	d->errnum = errno;
	return 0;
}

/*
 * Read from d's source.  From TLS, read records until len is filled or
 * the socket runs dry, so that a write to stdout moves more than one
 * 16 KiB record; how the reading ended is kept for the next call.  An
 * EOF without close_notify is an EOF here, remembered in d->trunc.
 */
static ssize_t
dir_read(struct dir *d, unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (d->tls == NULL || d->to_sock)
		return read(d->from, buf, len);
	if (d->stashed) {
		d->stashed = 0;
		errno = d->stash;
		return d->stash == 0 ? 0 : -1;
	}
	while (got < len) {
		if ((n = tls_read(d->tls, buf + got, len - got)) > 0) {
			got += n;
			continue;
		}
		if (n == -1 && errno == EPROTO && tls_truncated(d->tls)) {
			d->trunc = 1;
			n = 0;
		}
		if (got == 0)
			return n;
		/* An end or an error is kept; EAGAIN is asked again. */
		if (n == 0 || errno != EAGAIN) {
			d->stashed = 1;
			d->stash = n == 0 ? 0 : errno;
		}
		break;
	}
	return got;
}

/* Write to d's destination, through TLS if it is the socket's. */
static ssize_t
dir_write(struct dir *d, const void *buf, size_t len)
{
	if (d->tls != NULL && d->to_sock)
		return tls_write(d->tls, buf, len);
	return write(d->to, buf, len);
}

/* Record the outcome of a read-side call; return 1 if it moved bytes. */
static int
got(struct dir *d, ssize_t n)
{
	if (n > 0)
		return 1;
	if (n == 0)
		d->eof = 1;
	else if (errno == EAGAIN) {
		d->from_ready = 0;
		if (d->tls != NULL && !d->to_sock)
			d->from_ev = tls_want(d->tls);
		else
			d->from_ev = POLLIN;
	} else if (errno == EPROTO && d->tls != NULL) {
		d->fail = F_PROTO;
		d->errstr = tls_error(d->tls);
	} else if (errno != EINTR) {
		d->fail = F_FROM;
		d->errnum = errno;
	}
	return 0;
}

/* Record the outcome of a write-side call; return 1 if it moved bytes. */
static int
put(struct dir *d, ssize_t n)
{
	if (n > 0)
		return 1;
	if (n == -1 && errno == EAGAIN) {
		d->to_ready = 0;
		d->to_ev = d->tls != NULL && d->to_sock ? tls_want(d->tls) :
		    POLLOUT;
	} else if (n == -1 && errno == EPROTO && d->tls != NULL &&
	    tls_truncated(d->tls)) {
		/* The peer is gone: say how much of the input is not there. */
		d->fail = F_TO;
		d->errnum = EPIPE;
	} else if (n == -1 && errno == EPROTO && d->tls != NULL) {
		d->fail = F_PROTO;
		d->errstr = tls_error(d->tls);
	} else if (n == -1 && errno == EPIPE && !d->to_sock)
		d->to_gone = 1;
	else if (n == -1 && errno != EINTR) {
		d->fail = F_TO;
		d->errnum = errno;
	}
	return 0;
}

static int
step_buffer(struct dir *d)
{
	ssize_t n;

	if (d->pending > 0 && d->to_ready) {
		if (!put(d, n = dir_write(d, d->buf + d->off, d->pending)))
			return 0;
		if (d->to_sock)
			dir_dump(d, d->buf + d->off, n);
		d->off += n;
		d->pending -= n;
		d->bytes += n;
		return 1;
	}
	if (d->pending > 0 || d->eof || !d->from_ready)
		return 0;
	/* -C reads into the upper half and expands into the whole. */
	n = dir_read(d, d->buf + (d->crlf ? BUFSZ / 2 : 0),
	    d->crlf ? BUFSZ / 2 : BUFSZ);
	if (d->blocking)
		d->from_ready = 0;
	if (!got(d, n))
		return 0;
	if (!d->to_sock)
		dir_dump(d, d->buf, n);
	d->off = 0;
	d->pending = d->crlf ? frame_crlf(d->buf + BUFSZ / 2, n, d->buf,
	    &d->lastcr) : (size_t)n;
	return 1;
}

/* True if fd can take a write now. */
static int
writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
}

static int
step_splice(struct dir *d, int moved)
{
	ssize_t n;

	if (!d->from_ready || !d->to_ready)
		return 0;
	n = splice(d->from, NULL, d->to, NULL, CHUNK,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->bytes += n;
		return 1;
	}
	if (n == -1 && errno == EAGAIN) {
		/*
		 * Either end may be the one that is not ready.  Right after
		 * a transfer it is almost always the source that ran dry; a
		 * wrong guess costs one wakeup, after which the check runs.
		 */
		if (moved || writable(d->to))
			d->from_ready = 0;
		else
			d->to_ready = 0;
		return 0;
	}
	if (n == -1 && errno == EINVAL && d->bytes == 0)
		return dir_fallback(d);
	/* A reset belongs to the socket: the write side when sending. */
	if (n == 0 || (errno != EPIPE &&
	    !(errno == ECONNRESET && d->to_sock)))
		return got(d, n);
	return put(d, n);
}

static int
step_sendfile(struct dir *d)
{
	ssize_t n;

	if (!d->to_ready)
		return 0;
	n = sendfile(d->to, d->from, NULL, CHUNK);
	if (n > 0) {
		d->bytes += n;
		return 1;
	}
	if (n == -1 && (errno == EINVAL || errno == ENOSYS) && d->bytes == 0)
		return dir_fallback(d);
	return n == 0 ? got(d, n) : put(d, n);
}

static int
step_viapipe(struct dir *d)
{
	ssize_t n;

	if (d->pending > 0) {
		n = splice(d->p[0], NULL, d->to, NULL, d->pending,
		    SPLICE_F_MOVE);
		if (n == -1 && errno == EINVAL)
			return dir_fallback(d);
		if (!put(d, n))
			return 0;
		d->pending -= n;
		d->bytes += n;
		return 1;
	}
	if (d->eof || !d->from_ready)
		return 0;
	n = splice(d->from, NULL, d->p[1], NULL, CHUNK,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (!got(d, n))
		return 0;
	d->pending += n;
	return 1;
}

/* Append one message to d->out, encoded for the other end. */
static void
frame_put(struct dir *d, const unsigned char *msg, size_t len)
{
	size_t need;

	d->inused += len;
	if (d->len32 && len > 0 && msg[len - 1] == '\n')
		len--;
	need = d->pending + len + FRAME_HDRLEN + 1;
	if (need > d->outcap) {
		d->outcap = MAXIMUM(need, MAXIMUM(d->outcap * 2, BUFSZ));
		d->out = xreallocarray(d->out, d->outcap, 1);
	}
	if (d->len32) {
		frame_len32_hdr(d->out + d->pending, len);
		d->pending += FRAME_HDRLEN;
	}
	memcpy(d->out + d->pending, msg, len);
	d->pending += len;
	/* -C: a line's bare LF goes as CRLF (need has room for the CR). */
	if (d->crlf && !d->len32 && len > 0 && msg[len - 1] == '\n' &&
	    (len < 2 || msg[len - 2] != '\r')) {
		d->out[d->pending - 1] = '\r';
		d->out[d->pending++] = '\n';
	}
	/* A line keeps its newline; a final line without one gets one. */
	if (d->nl && (d->dec.mode == FRAME_LEN32 || len == 0 ||
	    msg[len - 1] != '\n'))
		d->out[d->pending++] = '\n';
}

/*
 * Framed: write what is encoded; else encode the messages of the fed
 * slice, at most a buffer's worth; else read and feed the next slice.
 */
static int
step_frame(struct dir *d)
{
	const unsigned char *msg;
	size_t len;
	ssize_t n;
	int r = 0;

	if (d->pending > 0) {
		if (!d->to_ready || !put(d, n = dir_write(d, d->out + d->off,
		    d->pending)))
			return 0;
		if (d->to_sock)
			dir_dump(d, d->out + d->off, n);
		d->off += n;
		d->pending -= n;
		d->bytes += n;
		return 1;
	}
	d->off = 0;
	/* A protocol error counts once the messages before it are out. */
	if (d->errstr != NULL) {
		d->fail = F_PROTO;
		return 0;
	}
	while (d->slice && d->pending < BUFSZ &&
	    (r = frame_next(&d->dec, &msg, &len, &d->errstr)) == 1)
		frame_put(d, msg, len);
	if (r != 1)
		d->slice = 0;
	if (r == -1 && d->pending == 0) {
		d->fail = F_PROTO;
		return 0;
	}
	if (d->pending > 0 && d->to_sock)
		/* The wire bytes of this batch carry this much input. */
		marks_add(&d->marks, d->bytes + d->pending, d->inused);
	if (d->pending > 0)
		return 1;
	if (d->slice || d->eof || !d->from_ready)
		return 0;
	n = dir_read(d, d->buf, BUFSZ);
	if (d->blocking)
		d->from_ready = 0;
	if (n == 0) {
		d->eof = 1;
		frame_dec_eof(&d->dec);
	} else if (!got(d, n))
		return 0;
	else {
		if (!d->to_sock)
			dir_dump(d, d->buf, n);
		frame_dec_feed(&d->dec, d->buf, n);
		d->inread += n;
	}
	d->slice = 1;
	return 1;
}

/* Move what can be moved now, at most STEPS transfers; return bytes. */
static int64_t
dir_step(struct dir *d)
{
	uint64_t before = d->bytes;
	int i, moved = 1;

	for (i = 0; i < STEPS && moved && d->fail == F_NONE && !d->done;
	    i++) {
		switch (d->mode) {
		case M_SPLICE:
			moved = step_splice(d, i > 0);
			break;
		case M_SENDFILE:
			moved = step_sendfile(d);
			break;
		case M_VIAPIPE:
			moved = step_viapipe(d);
			break;
		case M_FRAME:
			moved = step_frame(d);
			break;
		default:
			moved = step_buffer(d);
			break;
		}
		if (d->eof && d->pending == 0 && !d->slice)
			d->done = 1;
	}
	return d->fail != F_NONE ? -1 : (int64_t)(d->bytes - before);
}

/* Add the descriptors d waits on to pfd; return how many. */
static int
dir_wants(struct dir *d, struct pollfd *pfd)
{
	int n = 0;

	if (d->done)
		return 0;
	if (!d->from_ready && !d->eof && !d->slice &&
	    (d->mode == M_SPLICE || d->pending == 0)) {
		pfd[n].fd = d->from;
		pfd[n++].events = d->from_ev;
	}
	if (!d->to_ready) {
		pfd[n].fd = d->to;
		pfd[n++].events = d->to_ev;
	}
	return n;
}

static void
dir_woken(struct dir *d, const struct pollfd *pfd, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == d->from && !d->from_ready)
			d->from_ready = 1;
		else if (pfd[i].fd == d->to)
			d->to_ready = 1;
	}
}

/* Format n bytes as 1.5MiB into buf. */
static void
hum(char buf[12], uint64_t n)
{
	/* Eight bytes at most, so that four digits and a prefix show. */
	humanize_number(buf, 8, n, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE | HN_IEC_PREFIXES);
}

static void
progress(const struct pump_stats *st, int final)
{
	static int64_t shown;
	char s[12], r[12], rate[12];
	int64_t now = now_ms(), ms = MAXIMUM(now - st->start_ms, 1);

	if (!final && now - shown < PROGRESS_MS)
		return;
	shown = now;
	hum(s, st->sent);
	hum(r, st->rcvd);
	hum(rate, (st->sent + st->rcvd) * 1000 / ms);
	fprintf(stderr, "\r%s: sent %s, received %s, %s/s \033[K%s",
	    getprogname(), s, r, rate, final ? "\n" : "");
}

/*
 * Look at what the peer has acknowledged: return 1 once every byte sent
 * is, 0 while some are in flight, -1 if the connection was reset (after
 * a reset the send queue never drains).  Unix sockets count bytes the
 * peer has not read yet, which is stricter still.
 */
static int
ack_state(struct pump *p)
{
	struct tcp_info ti;
	socklen_t len;
	int n, e = 0, closed = 0;

	/*
	 * The state first: after an orderly close the queue is empty by
	 * the time the state reads closed; after a reset it never empties.
	 */
	len = sizeof(ti);
	if (getsockopt(p->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
		closed = ti.tcpi_state == TCPS_CLOSE;
	if (ioctl(p->sock, SIOCOUTQ, &n) == -1 || n == 0)
		return 1;
	/* Only now: reading SO_ERROR clears it for the reads to come. */
	len = sizeof(e);
	if (getsockopt(p->sock, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = 0;
	if (e != 0 || closed) {
		errno = e != 0 ? e : ECONNRESET;
		return -1;
	}
	if (n != p->outq) {
		/* Acknowledgements are traffic for -w. */
		p->outq = n;
		p->last = now_ms();
	}
	return 0;
}

/*
 * The sequence space the peer has acknowledged (SYN included on one
 * side but not the other, and FIN): 0, or -1 if it is not TCP.
 */
static int
bytes_acked(int sock, uint64_t *n)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_acked) +
	    sizeof(ti.tcpi_bytes_acked))
		return -1;
	*n = ti.tcpi_bytes_acked;
	return 0;
}

/*
 * Count what of the input never reached the peer: what the peer's kernel
 * did not acknowledge, what is held here, and what is left in a file.
 * Return the count; *atleast is set if more may follow in a pipe.
 */
static uint64_t
undelivered(struct pump *p, int *atleast)
{
	struct stat st;
	uint64_t n, acked = p->up.bytes, since;
	off_t pos;
	int q;

	*atleast = 0;
	if (p->po->recv_only)
		return 0;
	if (bytes_acked(p->sock, &since) == 0) {
		/* Acknowledged since the pump began; TLS adds records. */
		since = since > p->seq0 ? since - p->seq0 : 0;
		acked = MINIMUM(acked, p->tls == NULL ? since :
		    tls_plain_acked(p->tls, p->wire0 + since) - p->plain0);
		/* Kernel TLS: record headers are on the wire, not counted. */
		if (p->tls != NULL && tls_ktls(p->tls))
			*atleast = 1;
	}
	if (p->up.mode == M_FRAME)
		n = p->up.inread - marks_map(&p->up.marks, acked);
	else
		n = p->up.bytes - acked + p->up.pending;
	if (p->up.eof)
		return n;
	if (fstat(p->up.from, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((pos = lseek(p->up.from, 0, SEEK_CUR)) != -1 &&
		    st.st_size > pos)
			n += st.st_size - pos;
	} else {
		if (ioctl(p->up.from, FIONREAD, &q) == 0 && q > 0)
			n += q;
		*atleast = 1;
	}
	return n;
}

/* Write out what is held for stdout, as far as it goes without waiting. */
static void
deliver_held(struct pump *p)
{
	struct dir *d = &p->down;
	int i;

	if (p->discard || d->closed)
		return;
	d->fail = F_NONE;
	for (i = 0; i < 4 && !d->done && d->fail == F_NONE; i++)
		if (dir_step(d) <= 0)
			break;
}

/*
 * The connection is gone under us: say so, with how much of the input
 * did not arrive, once what was received is written.
 */
static void
reset_msg(struct pump *p, int errnum)
{
	uint64_t n;
	int atleast, len;

	n = undelivered(p, &atleast);
	deliver_held(p);
	if (p->tls != NULL && tls_truncated(p->tls))
		len = snprintf(p->msg, sizeof(pump_msg), "%s: %s after %"
		    PRIu64 " bytes", p->po->peer, TRUNCATED, p->down.bytes);
	else
		len = snprintf(p->msg, sizeof(pump_msg), "%s: %s",
		    p->po->peer, errnum == ECONNRESET || errnum == EPIPE ?
		    "connection reset by peer" : strerror(errnum));
	if (n > 0 && len > 0 && (size_t)len < sizeof(pump_msg))
		snprintf(p->msg + len, sizeof(pump_msg) - len,
		    "; %s%" PRIu64 " bytes of %s not delivered",
		    atleast ? "at least " : "", n, p->po->in_name);
}

/* Name what failed in direction d. */
static void
fail_msg(struct pump *p, struct dir *d)
{
	const char *what = d == &p->up ? p->po->in_name : "standard output";

	if (d->fail == F_PROTO)
		snprintf(p->msg, sizeof(pump_msg), "%s: %s", d == &p->up ?
		    p->po->in_name : p->po->peer, d->errstr);
	else if ((d->fail == F_TO) == (d == &p->up))
		reset_msg(p, d->errnum);
	else
		snprintf(p->msg, sizeof(pump_msg), "%s %s: %s", d == &p->up ?
		    "read" : "write", what, strerror(d->errnum));
}

/* From now on what the peer sends is read and thrown away. */
static void
go_discard(struct pump *p)
{
	uint64_t dumped;
	int null;

	if (p->discard)
		return;
	p->discard = 1;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dumped = p->down.dumped;
	dir_free(&p->down);
	dir_init(&p->down, p->sock, null, 0, p->tls);
	if (p->po->hexdump != NULL)
		dir_habits(&p->down, p->po);
	p->down.dumped = dumped;
	p->down.closed = 1;
}

/*
 * Close stdout so that its reader sees the end, leaving /dev/null in its
 * place (a descriptor number reused by chance would be worse).
 */
static void
close_out(int fd)
{
	int null;

	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		close(fd);
	else if (null != fd) {
		dup2(null, fd);
		close(null);
	}
}

/*
 * Our EOF: close_notify first under TLS (it may have to wait for the
 * socket: -1), then shutdown(SHUT_WR).
 */
static int
half_close(struct pump *p)
{
	p->notify_wait = 0;
	if (p->tls == NULL || tls_notified(p->tls)) {
		shutdown(p->sock, SHUT_WR);
		return 0;
	}
	/*
	 * The data acknowledged first: a peer that closes after its own
	 * close_notify may answer ours with a reset, and a reset stops the
	 * count of what was acknowledged.  So it is exact, and a reset that
	 * answers only the close_notify loses nothing.  (A reset before is
	 * for finished() to report.)
	 */
	if (ack_state(p) == 0)
		return -1;
	if (tls_close_notify(p->tls) == -1 && errno == EAGAIN) {
		p->notify_wait = 1;
		return -1;
	}
	shutdown(p->sock, SHUT_WR);
	return 0;
}

/*
 * The End-of-stream rules, in one place.  stdin EOF with everything
 * written -> shutdown(SHUT_WR) (not with --no-shutdown).  Peer EOF ->
 * everything received is written and stdout closed; a person at a
 * terminal is done then, anything else goes on sending stdin to its end.
 * stdout's reader gone -> what the peer sends is thrown away, so that a
 * close never turns unread data into a reset.
 */
static void
update_ends(struct pump *p)
{
	struct dir *up = &p->up, *down = &p->down;

	if (up->done && !up->closed && (p->po->no_shutdown ||
	    p->po->recv_only || half_close(p) == 0))
		up->closed = 1;
	/* --recv-only over TLS answers the peer's close_notify. */
	if (p->tls != NULL && p->po->recv_only && down->done &&
	    !tls_notified(p->tls))
		(void)half_close(p);
	if (down->to_gone)
		go_discard(p);
	if (down->done && !down->closed) {
		down->closed = 1;
		close_out(down->to);
	}
	if (down->done && (p->in_tty || p->po->eof_ends) &&
	    !p->po->keep_sending && !up->eof) {
		up->eof = 1;
		up->done = up->pending == 0 && !up->slice;
	}
}

/* Milliseconds left for the peer to finish once ours is delivered. */
static int64_t
linger_left(const struct pump *p)
{
	const struct pump_opts *po = p->po;

	return p->up_end + (po->idle_ms >= 0 ? po->idle_ms :
	    po->linger_ms > 0 ? po->linger_ms : LINGER_MS) - now_ms();
}

/*
 * Under TLS, a peer that has sent its close_notify and closed may answer
 * our own with a reset: that loses nothing if every byte of the input
 * was acknowledged before it.
 */
static int
late_reset(struct pump *p)
{
	int atleast, i, saved = errno;

	/* Its close_notify may be unread yet, ahead of the reset. */
	p->down.from_ready = 1;
	for (i = 0; i < 8 && p->tls != NULL && !p->down.done &&
	    p->down.fail == F_NONE; i++)
		if (dir_step(&p->down) <= 0)
			break;
	/*
	 * Under kernel TLS the socket counts plaintext, the wire records:
	 * what was acknowledged is not known to the byte, so no excuse.
	 */
	if (p->tls == NULL || tls_ktls(p->tls) || !p->down.done ||
	    p->down.trunc || undelivered(p, &atleast) != 0) {
		errno = saved;
		return 0;
	}
	return 1;
}

/* Return 1 when the session is over, -1 on a reset while waiting. */
static int
finished(struct pump *p)
{
	int a;

	if (!p->up.done || !p->up.closed)
		return 0;
	if (!p->acked) {
		if ((a = ack_state(p)) == -1 && late_reset(p))
			return 1;
		if (a == -1) {
			reset_msg(p, errno);
			return -1;
		}
		if (!(p->acked = a))
			return 0;
		p->up_end = now_ms();
	}
	if (p->down.done || p->po->send_only)
		return 1;
	/* stdout is gone: give the peer a while to finish, then close. */
	return p->discard && linger_left(p) <= 0;
}

static int
pump_wait(struct pump *p, struct pump_stats *st)
{
	struct pollfd pfd[5];
	int64_t now, left = -1;
	int n, nup, r;

	nup = dir_wants(&p->up, pfd);
	if (p->notify_wait) {
		pfd[nup].fd = p->sock;
		pfd[nup++].events = tls_want(p->tls);
	}
	n = nup + dir_wants(&p->down, pfd + nup);
	now = now_ms();
	if (p->po->idle_ms >= 0) {
		left = p->last + p->po->idle_ms - now;
		if (left <= 0) {
			snprintf(p->msg, sizeof(pump_msg),
			    "%s: timed out: no traffic for %.3gs", p->po->peer,
			    p->po->idle_ms / 1000.0);
			return -1;
		}
	}
	if (p->po->progress && (left < 0 || left > PROGRESS_MS))
		left = PROGRESS_MS;
	/* Waiting for the peer's last acknowledgement is polled. */
	if (p->up.done && !p->acked) {
		/* Most last acknowledgements take a round trip: look soon. */
		p->ackpoll = MINIMUM(MAXIMUM(p->ackpoll * 2, 1), ACK_POLL_MS);
		if (left < 0 || left > p->ackpoll)
			left = p->ackpoll;
	}
	if (p->acked && p->discard && (left < 0 || left > linger_left(p)))
		left = MAXIMUM(linger_left(p), 0);
	if ((r = poll(pfd, n, left > INT32_MAX ? INT32_MAX : (int)left)) == -1
	    && errno != EINTR) {
		snprintf(p->msg, sizeof(pump_msg), "poll: %s", strerror(errno));
		return -1;
	}
	if (p->po->progress)
		progress(st, 0);
	if (r > 0) {
		dir_woken(&p->up, pfd, nup);
		dir_woken(&p->down, pfd + nup, n - nup);
	}
	return 0;
}

static void
pump_init(struct pump *p, int sock, int in, int out,
    const struct pump_opts *po)
{
	int q;

	memset(p, 0, sizeof(*p));
	pump_msg[0] = '\0';
	p->msg = pump_msg;
	p->sock = sock;
	p->po = po;
	p->in_tty = isatty(in);
	p->outq = -1;
	p->tls = po->tls;
	/*
	 * What was sent before (handshakes, the SYN) is acknowledged or in
	 * the queue: counts of acknowledged bytes start from there.
	 */
	if (bytes_acked(sock, &p->seq0) == 0 &&
	    ioctl(sock, SIOCOUTQ, &q) == 0 && q > 0)
		p->seq0 += q;
	if (p->tls != NULL) {
		p->plain0 = tls_plain_acked(p->tls, UINT64_MAX);
		p->wire0 = tls_wire_written(p->tls);
	}
	dir_init(&p->up, in, sock, 1, p->tls);
	dir_init(&p->down, sock, out, 0, p->tls);
	if (po->frame != FRAME_RAW) {
		dir_frame(&p->up, po->frame, po->max_frame);
		dir_frame(&p->down, po->frame, po->max_frame);
	}
	dir_habits(&p->up, po);
	dir_habits(&p->down, po);
	if (po->recv_only)
		p->up.eof = p->up.done = p->up.closed = 1;
	/*
	 * --send-only reads what the peer sends into /dev/null: unread data
	 * at close would reset the connection and lose what is still queued.
	 */
	if (po->send_only)
		go_discard(p);
}

/*
 * Pump between a connected socket and in/out until both directions end,
 * as the End-of-stream rules say.  Return 0, or -1 with *errstr saying
 * what went wrong, peer and byte counts included.
 */
int
pump_run(int sock, int in, int out, const struct pump_opts *po,
    struct pump_stats *st, const char **errstr)
{
	struct pump p;
	int64_t n1, n2;
	int rv = 0, r, discard;

	pump_init(&p, sock, in, out, po);
	memset(st, 0, sizeof(*st));
	st->start_ms = p.last = now_ms();
	for (;;) {
		n1 = dir_step(&p.up);
		n2 = n1 == -1 ? 0 : dir_step(&p.down);
		if (n1 == -1 || n2 == -1) {
			fail_msg(&p, n1 == -1 ? &p.up : &p.down);
			rv = -1;
			break;
		}
		st->sent = p.up.bytes;
		st->rcvd = p.discard ? st->rcvd : p.down.bytes;
		if (n1 + n2 > 0)
			p.last = now_ms();
		discard = p.discard;
		update_ends(&p);
		if ((r = finished(&p)) != 0) {
			rv = r == 1 ? 0 : -1;
			break;
		}
		/* A fresh discard has not looked at the socket yet. */
		if (n1 + n2 == 0 && discard == p.discard &&
		    pump_wait(&p, st) == -1) {
			rv = -1;
			break;
		}
	}
	if (rv == 0 && p.down.trunc) {
		/* What arrived is written; that it may not be all is loud. */
		snprintf(pump_msg, sizeof(pump_msg), "%s: %s after %" PRIu64
		    " bytes", po->peer, TRUNCATED, p.down.bytes);
		rv = -1;
	}
	st->sent = p.up.bytes;
	st->end_ms = now_ms();
	st->err = rv == -1 ? pump_msg : NULL;
	if (po->progress)
		progress(st, 1);
	if (p.discard && p.down.to != -1)
		close(p.down.to);
	dir_free(&p.up);
	dir_free(&p.down);
	*errstr = pump_msg;
	return rv;
}

/* Print the -v summary line: bytes each way, time and rate. */
void
pump_report(const struct pump_stats *st)
{
	char s[12], r[12], rate[12];
	double secs = MAXIMUM(st->end_ms - st->start_ms, 1) / 1000.0;

	hum(s, st->sent);
	hum(r, st->rcvd);
	hum(rate, (int64_t)((st->sent + st->rcvd) / secs));
	warnx("sent %" PRIu64 " bytes (%s), received %" PRIu64
	    " bytes (%s) in %.3fs (%s/s)", st->sent, s, st->rcvd, r, secs,
	    rate);
}

/*
 * Run one connection's session on stdin and stdout, report as -v asks,
 * close the socket and return the exit status.
 */
int
pump_session(int sock, const struct pump_opts *po, int verbose)
{
	struct pump_stats st;
	const char *errstr;
	int rv;

	rv = pump_run(sock, STDIN_FILENO, STDOUT_FILENO, po, &st, &errstr);
	if (rv == -1)
		warnx("%s", errstr);
	if (verbose > 0)
		pump_report(&st);
	close(sock);
	return rv == -1 ? 1 : 0;
}

/* Close both ends of a pipe that pipe2() may have made. */
static void
close_pair(int p[2])
{
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
}

/* In the program's process: stdin from in, stdout to out, then exec. */
static void
child_exec(char **argv, const char *sh_cmd, int in, int out)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* A group of its own, so that a signal reaches what it started too. */
	setpgid(0, 0);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	if (sh_cmd != NULL)
		execl("/bin/sh", "sh", "-c", sh_cmd, (char *)NULL);
	else
		execvp(argv[0], argv);
	warn("exec %s", sh_cmd ? "/bin/sh" : argv[0]);
	_exit(127);
}

/*
 * Run a program (argv, or /bin/sh -c sh_cmd) on a pipe each way and move
 * its bytes to and from sock through the stream core, so that its exit
 * is a half-close after everything it wrote, never a reset that loses
 * the end of its output.  Close sock; return the program's exit status,
 * or 1 if the connection failed; fill in *stp unless it is NULL.
 */
int
pump_exec(int sock, char **argv, const char *sh_cmd,
    const struct pump_opts *opts, int verbose, struct pump_stats *stp)
{
	struct pump_opts po = *opts;
	struct pump_stats st0, *st = stp != NULL ? stp : &st0;
	const char *errstr, *peer = po.peer;
	int in[2], out[2], status = 0, rv;
	pid_t pid;

	memset(st, 0, sizeof(*st));
	in[0] = in[1] = out[0] = out[1] = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    (pid = fork()) == -1) {
		warn("%s: run program", peer);
		st->err = "cannot run the program";
		close(sock);
		close_pair(in);
		close_pair(out);
		return 1;
	}
	if (pid == 0)
		child_exec(argv, sh_cmd, in[0], out[1]);
	setpgid(pid, pid);
	sig_forward(-pid);
	close(in[0]);
	close(out[1]);
	/* Our ends never block: a full pipe must not stop the other way. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	po.in_name = "the program's output";
	po.crlf = 0;
	if ((rv = pump_run(sock, out[0], in[1], &po, st, &errstr)) == -1) {
		warnx("%s", errstr);
		/* The connection is gone: so is the program's reason to run. */
		kill(-pid, SIGTERM);
	}
	close(sock);
	close(out[0]);
	close(in[1]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (verbose > 0 && WIFEXITED(status))
		warnx("%s: program exited %d", peer, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		warnx("%s: program killed by signal %d", peer,
		    WTERMSIG(status));
	if (rv == -1)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
