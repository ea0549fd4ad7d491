#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/sockios.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pump.h"
#include "util.h"

#define BUFSZ		(256 * 1024)	/* copy buffer per direction */
#define CHUNK		(1024 * 1024)	/* most one splice moves */
#define PIPESZ		(1024 * 1024)	/* asked-for pipe capacity */
#define STEPS		64		/* transfers per wakeup, for fairness */
#define PROGRESS_MS	500
#define ACK_POLL_MS	10

/*
 * How a direction moves bytes: splice(2) when one end is a pipe,
 * sendfile(2) from a regular file, splice through a private pipe into a
 * file or device, and read/write through a buffer for everything else.
 */
enum mode { M_BUFFER, M_SPLICE, M_SENDFILE, M_VIAPIPE };

struct dir {
	const char	*rdop, *wrop;	/* what failed, for messages */
	int		 from, to;
	enum mode	 mode;
	int		 blocking;	/* from is blocking: one read a wakeup */
	int		 from_ready, to_ready;
	int		 eof;		/* nothing more will be read */
	int		 done;		/* eof and everything written */
	int		 to_gone;	/* the reader of stdout went away */
	int		 to_stdout;	/* to is stdout, from the socket */
	int		 closed;	/* its end was shut down */
	int		 p[2];		/* M_VIAPIPE */
	size_t		 pending;	/* bytes in buf or p */
	unsigned char	*buf;		/* M_BUFFER */
	size_t		 off;
	uint64_t	 bytes;
};

static char pump_err[256];

static void
dir_init(struct dir *d, int from, int to, int from_sock)
{
	struct stat fst, tst;
	int fl;

	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->to_stdout = from_sock;
	d->p[0] = d->p[1] = -1;
	d->from_ready = d->to_ready = 1;
	if (fstat(from, &fst) == -1 || fstat(to, &tst) == -1)
		fst.st_mode = tst.st_mode = 0;
	if (S_ISFIFO(fst.st_mode) || S_ISFIFO(tst.st_mode)) {
		d->mode = M_SPLICE;
		fcntl(S_ISFIFO(fst.st_mode) ? from : to, F_SETPIPE_SZ, PIPESZ);
	} else if (!from_sock && S_ISREG(fst.st_mode))
		d->mode = M_SENDFILE;
	else if (from_sock && (S_ISREG(tst.st_mode) ||
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

static void
dir_free(struct dir *d)
{
	if (d->p[0] != -1) {
		close(d->p[0]);
		close(d->p[1]);
	}
	free(d->buf);
}

/* Fall back to read/write, first moving what the private pipe holds. */
static int
dir_fallback(struct dir *d)
{
	ssize_t n, w;

	d->buf = xmalloc(BUFSZ);
	while (d->mode == M_VIAPIPE && d->pending > 0) {
		if ((n = read(d->p[0], d->buf, BUFSZ)) <= 0)
			return -1;
		for (d->off = 0; d->off < (size_t)n; d->off += w)
			if ((w = write(d->to, d->buf + d->off, n - d->off))
			    == -1 && errno != EINTR)
				return -1;
			else if (w == -1)
				w = 0;
		d->pending -= n;
		d->bytes += n;
	}
	dir_free(d);
	d->buf = xmalloc(BUFSZ);
	d->p[0] = d->p[1] = -1;
	d->off = d->pending = 0;
	d->mode = M_BUFFER;
	d->from_ready = !d->blocking;
	return 0;
}

/* Record the outcome of a read-side call; return 1 if it moved bytes. */
static int
got(struct dir *d, ssize_t n, int *err)
{
	if (n > 0)
		return 1;
	if (n == 0)
		d->eof = 1;
	else if (errno == EAGAIN)
		d->from_ready = 0;
	else if (errno != EINTR)
		*err = 1;
	return 0;
}

/* Record the outcome of a write-side call; return 1 if it moved bytes. */
static int
put(struct dir *d, ssize_t n, int *err)
{
	if (n > 0)
		return 1;
	if (n == -1 && errno == EAGAIN)
		d->to_ready = 0;
	else if (n == -1 && errno == EPIPE && d->to_stdout)
		d->to_gone = 1;
	else if (n == -1 && errno != EINTR)
		*err = 1;
	return 0;
}

static int
step_buffer(struct dir *d, int *err, int *rd)
{
	ssize_t n;

	if (d->pending > 0 && d->to_ready) {
		*rd = 0;
		if (!put(d, n = write(d->to, d->buf + d->off, d->pending), err))
			return 0;
		d->off += n;
		d->pending -= n;
		d->bytes += n;
		return 1;
	}
	if (d->pending > 0 || d->eof || !d->from_ready)
		return 0;
	*rd = 1;
	n = read(d->from, d->buf, BUFSZ);
	if (d->blocking)
		d->from_ready = 0;
	if (!got(d, n, err))
		return 0;
	d->off = 0;
	d->pending = n;
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
step_splice(struct dir *d, int moved, int *err, int *rd)
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
	/* A reset is the socket's, the write side when sending. */
	*rd = n == 0 || (errno != EPIPE &&
	    !(errno == ECONNRESET && !d->to_stdout));
	if (n == -1 && errno == EINVAL && d->bytes == 0)
		return dir_fallback(d) == 0 ? 1 : (*err = 1, 0);
	return *rd ? got(d, n, err) : put(d, n, err);
}

static int
step_sendfile(struct dir *d, int *err, int *rd)
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
		return dir_fallback(d) == 0 ? 1 : (*err = 1, 0);
	*rd = n == 0;
	return *rd ? got(d, n, err) : put(d, n, err);
}

static int
step_viapipe(struct dir *d, int *err, int *rd)
{
	ssize_t n;

	if (d->pending > 0) {
		*rd = 0;
		n = splice(d->p[0], NULL, d->to, NULL, d->pending,
		    SPLICE_F_MOVE);
		if (n == -1 && errno == EINVAL)
			return dir_fallback(d) == 0 ? 1 : (*err = 1, 0);
		if (!put(d, n, err))
			return 0;
		d->pending -= n;
		d->bytes += n;
		return 1;
	}
	if (d->eof || !d->from_ready)
		return 0;
	*rd = 1;
	n = splice(d->from, NULL, d->p[1], NULL, CHUNK,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (!got(d, n, err))
		return 0;
	d->pending += n;
	return 1;
}

/*
 * Move what can be moved now, at most STEPS transfers; return the bytes
 * delivered, or -1 with errno set and pump_err naming the operation.
 */
static int64_t
dir_step(struct dir *d)
{
	uint64_t before = d->bytes;
	int i, err = 0, rd = 0, moved = 1;

	for (i = 0; i < STEPS && moved && !err && !d->done; i++) {
		switch (d->mode) {
		case M_SPLICE:
			moved = step_splice(d, i > 0, &err, &rd);
			break;
		case M_SENDFILE:
			moved = step_sendfile(d, &err, &rd);
			break;
		case M_VIAPIPE:
			moved = step_viapipe(d, &err, &rd);
			break;
		default:
			moved = step_buffer(d, &err, &rd);
			break;
		}
		if (d->eof && d->pending == 0)
			d->done = 1;
	}
	if (err) {
		snprintf(pump_err, sizeof(pump_err), "%s",
		    rd ? d->rdop : d->wrop);
		return -1;
	}
	return d->bytes - before;
}

/* Add the descriptors d waits on to pfd; return how many. */
static int
dir_wants(struct dir *d, struct pollfd *pfd)
{
	int n = 0;

	if (d->done)
		return 0;
	if (!d->from_ready && !d->eof && (d->mode != M_BUFFER ||
	    d->pending == 0)) {
		pfd[n].fd = d->from;
		pfd[n++].events = POLLIN;
	}
	if (!d->to_ready) {
		pfd[n].fd = d->to;
		pfd[n++].events = POLLOUT;
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
		if (pfd[i].fd == d->from && (pfd[i].events & POLLIN))
			d->from_ready = 1;
		if (pfd[i].fd == d->to && (pfd[i].events & POLLOUT))
			d->to_ready = 1;
	}
}

static void
progress(const struct pump_stats *st, int final)
{
	static int64_t shown;
	char s[8], r[8], rate[8];
	int64_t now = now_ms(), ms = MAXIMUM(now - st->start_ms, 1);

	if (!final && now - shown < PROGRESS_MS)
		return;
	shown = now;
	humanize_number(s, sizeof(s), st->sent, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
	humanize_number(r, sizeof(r), st->rcvd, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
	humanize_number(rate, sizeof(rate), (st->sent + st->rcvd) * 1000 / ms,
	    "B", HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE);
	fprintf(stderr, "\r%s: sent %s, received %s, %s/s \033[K%s",
	    getprogname(), s, r, rate, final ? "\n" : "");
}

/* True once the peer has acknowledged every byte sent. */
static int
acked(int sock)
{
	int n;

	return ioctl(sock, SIOCOUTQ, &n) == -1 || n == 0;
}

/*
 * The end-of-stream rules, after nc's readwrite(): stdin EOF with its
 * buffer drained -> shutdown(SHUT_WR) unless --no-shutdown; peer EOF ->
 * deliver what is buffered and close stdout, then stop unless
 * --keep-sending; stdout gone -> shutdown(SHUT_RD); both done -> done.
 */
static void
update_ends(struct dir *up, struct dir *down, int sock,
    const struct pump_opts *po)
{
	if (up->done && !up->closed) {
		up->closed = 1;
		if (!po->no_shutdown && !po->recv_only)
			shutdown(sock, SHUT_WR);
	}
	if (down->to_gone && !down->done) {
		down->done = 1;
		shutdown(sock, SHUT_RD);
	}
	if (down->done && !down->closed) {
		down->closed = 1;
		if (down->eof) {
			close(down->to);
			/* Peer EOF ends the session unless --keep-sending. */
			if (!po->keep_sending && !po->send_only && !up->eof) {
				up->eof = 1;
				up->done = up->pending == 0;
			}
		}
	}
}

static int
pump_wait(struct dir *up, struct dir *down, const struct pump_opts *po,
    int64_t last, struct pump_stats *st)
{
	struct pollfd pfd[4];
	int64_t now, left = -1;
	int n, nup, r;

	nup = dir_wants(up, pfd);
	n = nup + dir_wants(down, pfd + nup);
	now = now_ms();
	if (po->idle_ms >= 0) {
		left = last + po->idle_ms - now;
		if (left <= 0) {
			snprintf(pump_err, sizeof(pump_err),
			    "no traffic for %.3gs", po->idle_ms / 1000.0);
			errno = ETIMEDOUT;
			return -1;
		}
	}
	if (po->progress && (left < 0 || left > PROGRESS_MS))
		left = PROGRESS_MS;
	/* --send-only at its end polls for the peer's last ack. */
	if (up->done && po->send_only && (left < 0 || left > ACK_POLL_MS))
		left = ACK_POLL_MS;
	if ((r = poll(pfd, n, left > INT32_MAX ? INT32_MAX : (int)left)) == -1
	    && errno != EINTR) {
		snprintf(pump_err, sizeof(pump_err), "poll");
		return -1;
	}
	if (po->progress)
		progress(st, 0);
	if (r > 0) {
		dir_woken(up, pfd, nup);
		dir_woken(down, pfd + nup, n - nup);
	}
	return 0;
}

/*
 * Pump between a connected socket and in/out until both directions end,
 * as the options say.  Return 0, or -1 with errno set and *errstr naming
 * the failed operation.
 */
int
pump_run(int sock, int in, int out, const struct pump_opts *po,
    struct pump_stats *st, const char **errstr)
{
	struct dir up, down;
	char sendop[160], recvop[160];
	int64_t last, n1, n2;
	int rv = 0, null = -1;

	snprintf(sendop, sizeof(sendop), "send to %s", po->peer);
	snprintf(recvop, sizeof(recvop), "receive from %s", po->peer);
	/*
	 * --send-only reads what the peer sends into /dev/null: unread data
	 * at close would reset the connection and lose what is still queued.
	 */
	if (po->send_only && (null = open("/dev/null", O_WRONLY |
	    O_CLOEXEC)) == -1) {
		*errstr = "open /dev/null";
		return -1;
	}
	dir_init(&up, in, sock, 0);
	if (!po->send_only)
		dir_init(&down, sock, out, 1);
	up.rdop = "read stdin";
	up.wrop = sendop;
	down.rdop = recvop;
	down.wrop = "write stdout";
	if (po->recv_only)
		up.eof = up.done = up.closed = 1;
	if (po->send_only)
		dir_init(&down, sock, null, 1);
	memset(st, 0, sizeof(*st));
	st->start_ms = last = now_ms();
	for (;;) {
		if ((n1 = dir_step(&up)) == -1 || (n2 = dir_step(&down)) == -1) {
			rv = -1;
			break;
		}
		st->sent = up.bytes;
		st->rcvd = down.bytes;
		if (n1 + n2 > 0)
			last = now_ms();
		update_ends(&up, &down, sock, po);
		if (up.done && (down.done || (po->send_only && acked(sock))))
			break;
		if (n1 + n2 == 0 && pump_wait(&up, &down, po, last, st) == -1) {
			rv = -1;
			break;
		}
	}
	st->sent = up.bytes;
	st->rcvd = down.bytes;
	st->end_ms = now_ms();
	if (po->progress)
		progress(st, 1);
	dir_free(&up);
	dir_free(&down);
	if (null != -1 && !down.closed)
		close(null);
	*errstr = pump_err;
	return rv;
}

/* Print the -v summary line: bytes each way, time and rate. */
void
pump_report(const struct pump_stats *st)
{
	char s[8], r[8], rate[8];
	double secs = MAXIMUM(st->end_ms - st->start_ms, 1) / 1000.0;

	humanize_number(s, sizeof(s), st->sent, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
	humanize_number(r, sizeof(r), st->rcvd, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
	humanize_number(rate, sizeof(rate),
	    (int64_t)((st->sent + st->rcvd) / secs), "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
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
	if (rv == -1) {
		if (errno == ETIMEDOUT)
			warnx("%s: %s", po->peer, errstr);
		else
			warn("%s", errstr);
	}
	if (verbose > 0)
		pump_report(&st);
	close(sock);
	return rv == -1 ? 1 : 0;
}
