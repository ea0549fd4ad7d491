#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "pump.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define OUT_HIGH	(1024 * 1024)	/* stdout queue: pause the clients */
#define SWEEP_MS	250

/*
 * The multi-client engine of tcp-serve: every client's data to stdout
 * (whole messages with --frame), stdin to every client, or an echo, or a
 * program per client.  Slow clients are dropped, slow stdout pauses the
 * clients, and nothing read is ever thrown away.
 */
struct server {
	struct loop		*loop;
	const struct serve_opts	*so;
	int			*lfds, nlfd;
	struct connlist		 clients;
	long			 nconns;	/* clients or children */
	long			 nlive;		/* clients past the handshake */
	int			 in_held;	/* stdin waits for a client */
	struct conn		*in, *out;
	pid_t			*kids;		/* --exec: one per connection */
	size_t			 nkids;
	struct frame_dec	 indec;		/* stdin, split for framing */
	struct budget		 budget;	/* clients' queues, decoders */
	int			 stalled;	/* stdout is full */
	int			 lastcr;	/* -C: stdin's last byte was CR */
	int			 status;
};

struct client {
	struct server		*srv;
	struct frame_dec	 dec;
	struct auth		*auth;		/* during the handshake */
	int			 live;		/* past the handshake */
};

static void	client_data(struct conn *, const unsigned char *, size_t);
static void	client_drained(struct conn *);
static void	client_closed(struct conn *, const char *);
static void	client_ready(struct conn *);

static const struct conn_cb client_cb = {
	client_data, client_drained, client_closed, client_ready
};

static void
say(const struct server *s, const char *fmt, const char *name)
{
	if (s->so->verbose > 0)
		warnx(fmt, name);
}

/*
 * A connection event: with --log json one JSON line, else with -v the
 * text line ("connection from HOST:PORT", "HOST:PORT: why").
 */
static void
server_log(const struct server *s, const char *event, const char *name,
    const char *why)
{
	struct log_event e = { .event = event, .peer = name, .reason = why,
	    .status = -1 };

	if (s->so->log_json)
		log_json(&e);
	else if (strcmp(event, "open") == 0)
		say(s, "connection from %s", name);
	else if (s->so->verbose > 0)
		warnx("%s: %s", name, why);
}

static void
stop_listening(struct server *s)
{
	int i;

	for (i = 0; i < s->nlfd; i++) {
		loop_del(s->loop, s->lfds[i]);
		close(s->lfds[i]);
	}
	s->nlfd = 0;
}

/* Queue one message for stdout: [tag] payload [newline]. */
static void
to_stdout(struct server *s, struct conn *c, const unsigned char *p,
    size_t len)
{
	struct msg *m;
	size_t tl = 0, nl;

	if (s->so->frame == FRAME_RAW) {
		conn_write(s->out, p, len);
	} else {
		if (s->so->tag)
			tl = strlen(c->name) + 1;
		nl = s->so->frame == FRAME_LEN32 || len == 0 ||
		    p[len - 1] != '\n';
		m = msg_new(NULL, tl + len + nl);
		if (tl > 0) {
			memcpy(m->data, c->name, tl - 1);
			m->data[tl - 1] = ' ';
		}
		memcpy(m->data + tl, p, len);
		if (nl)
			m->data[tl + len] = '\n';
		conn_send(s->out, m);
		msg_unref(m);
	}
	/* A failed write may have closed stdout and ended the server. */
	if (s->out == NULL)
		return;
	if (s->out->queued > OUT_HIGH && !s->stalled) {
		/* Back-pressure: stop reading clients until stdout drains. */
		s->stalled = 1;
		TAILQ_FOREACH(c, &s->clients, entry)
			conn_pause(c, 1);
	}
}

static void
out_drained(struct conn *out)
{
	struct server *s = out->arg;
	struct conn *c;

	if (!s->stalled)
		return;
	s->stalled = 0;
	TAILQ_FOREACH(c, &s->clients, entry)
		conn_pause(c, 0);
}

static void
out_closed(struct conn *out, const char *why)
{
	struct server *s = out->arg;

	if (conn_out_failed(out, why))
		s->status = 1;
	s->out = NULL;
	loop_stop(s->loop);
}

/*
 * Drop the clients holding the most until the server is within its
 * memory budget; conn.c gives the memory back.
 */
static void
server_budget(struct server *s)
{
	struct conn *c, *big;
	char why[64];

	while (budget_over(&s->budget)) {
		big = NULL;
		TAILQ_FOREACH(c, &s->clients, entry)
			if (big == NULL || conn_holding(c) > conn_holding(big))
				big = c;
		if (big == NULL)
			break;
		snprintf(why, sizeof(why), "memory budget reached: dropped, "
		    "holding %zu bytes", conn_holding(big));
		conn_close(big, why);
	}
}

/* Deliver a client's stream: frames to stdout, or back to it (--echo). */
static void
client_stream(struct conn *c, const unsigned char *p, size_t len)
{
	struct client *cl = c->arg;
	struct server *s = cl->srv;
	const unsigned char *msg;
	const char *errstr;
	size_t mlen;
	int r;

	if (s->so->echo) {
		if (len > 0 && conn_write(c, p, len) == -1 && !c->dead)
			conn_pause(c, 1);
		if (len == 0)
			conn_finish(c);
		return;
	}
	if (s->so->send_only) {
		if (len == 0 && s->in == NULL)
			conn_finish(c);
		return;
	}
	if (len > 0)
		frame_dec_feed(&cl->dec, p, len);
	else
		frame_dec_eof(&cl->dec);
	while ((r = frame_next(&cl->dec, &msg, &mlen, &errstr)) == 1 &&
	    s->out != NULL)
		to_stdout(s, c, msg, mlen);
	if (r == -1) {
		/* client_closed() reports it, but not for -k without -v. */
		if (s->so->keep && s->so->verbose <= 0)
			warnx("%s: %s", c->name, errstr);
		if (!s->so->keep)
			s->status = 1;
		conn_close(c, errstr);
	} else if (len == 0)
		conn_finish(c);
	if (!c->dead)
		conn_hold(c, cl->dec.cap);
	server_budget(s);
}

static void
client_live(struct conn *c)
{
	struct client *cl = c->arg;
	struct server *s = cl->srv;

	cl->live = 1;
	if (s->stalled)
		conn_pause(c, 1);
	/* stdin is read while someone is there to send it to. */
	/* A new client has room: stdin goes on, at its pace if need be. */
	if ((s->nlive++ == 0 || s->in_held) && s->in != NULL) {
		s->in_held = 0;
		conn_pause(s->in, 0);
	}
}

/* Run the handshake on what arrived; return bytes of stream data left. */
static size_t
client_auth(struct conn *c, const unsigned char **p, size_t len)
{
	struct client *cl = c->arg;
	enum auth_status st;
	size_t left = len;

	st = conn_auth(c, cl->auth, p, &left);
	if (st == AUTH_FAIL) {
		conn_close(c, "authentication failed");
		return 0;
	}
	if (st == AUTH_OK) {
		free(cl->auth);
		cl->auth = NULL;
		say(cl->srv, "%s: authenticated", c->name);
		client_live(c);
	} else if (len == 0) {
		conn_close(c, "closed during authentication");
		return 0;
	}
	return left;
}

static void
client_data(struct conn *c, const unsigned char *p, size_t len)
{
	struct client *cl = c->arg;
	size_t left;

	if (cl->auth != NULL) {
		left = client_auth(c, &p, len);
		if (c->dead || cl->auth != NULL || (left == 0 && len > 0))
			return;
		len = left;
	}
	client_stream(c, p, len);
}

static void
client_drained(struct conn *c)
{
	struct client *cl = c->arg;

	if (cl->srv->so->echo && !c->eof)
		conn_pause(c, 0);
	if (cl->srv->in_held && cl->live) {
		cl->srv->in_held = 0;
		conn_pause(cl->srv->in, 0);
	}
}

static void
client_closed(struct conn *c, const char *why)
{
	struct client *cl = c->arg;
	struct server *s = cl->srv;

	TAILQ_REMOVE(&s->clients, c, entry);
	if (cl->live && --s->nlive == 0 && s->in != NULL)
		conn_pause(s->in, 1);
	if (s->so->log_json)
		log_json(&(struct log_event){ .event = "close", .peer = c->name,
		    .reason = why != NULL ? why : "closed", .counts = 1,
		    .sent = c->nout, .rcvd = c->nin,
		    .ms = loop_now(c->loop) - c->born, .status = -1 });
	else if ((why != NULL && !s->so->keep) || s->so->verbose > 0)
		warnx("%s: %s", c->name, why != NULL ? why : "closed");
	frame_dec_free(&cl->dec);
	free(cl->auth);
	free(cl);
	s->nconns--;
	if (!s->so->keep) {
		if (why != NULL && s->status == 0)
			s->status = 1;
		loop_stop(s->loop);
	}
}

/* Send one message of stdin to every client; drop the ones too slow. */
static void
broadcast(struct server *s, const unsigned char *p, size_t len)
{
	struct conn *c, *tmp;
	struct msg *m;

	m = msg_new(p, len);
	TAILQ_FOREACH_SAFE(c, &s->clients, entry, tmp) {
		if (!((struct client *)c->arg)->live)
			continue;
		if (conn_send(c, m) == -1 && !c->dead)
			conn_close(c, "too slow: out-queue full");
	}
	msg_unref(m);
	server_budget(s);
}

/*
 * stdin goes at the pace of the fastest client: once every client has
 * half its queue bound waiting, it is not read until one has drained.
 * A client that falls a whole bound behind is dropped, so the slow never
 * stall the others, and nothing read is thrown away while one keeps up.
 */
static void
in_pace(struct server *s)
{
	struct conn *c;

	if (s->in == NULL || s->in_held || s->nlive == 0)
		return;
	TAILQ_FOREACH(c, &s->clients, entry)
		if (((struct client *)c->arg)->live && !c->dead &&
		    c->queued <= s->so->maxq / 2)
			return;
	s->in_held = 1;
	conn_pause(s->in, 1);
}

/* -C: the n bytes of *buf with each bare LF as CR LF; return the count. */
static size_t
in_crlf(struct server *s, unsigned char **buf, size_t n)
{
	unsigned char *out;

	out = xreallocarray(NULL, n, 2);
	n = frame_crlf(*buf, n, out, &s->lastcr);
	free(*buf);
	*buf = out;
	return n;
}

/*
 * Frame stdin for the wire, lines or len32 frames of lines, and send
 * each read's whole messages to every client as one message: a queue
 * node per read, not per line.
 */
static void
in_data(struct conn *in, const unsigned char *p, size_t len)
{
	struct server *s = in->arg;
	const unsigned char *msg;
	unsigned char *buf = NULL;
	const char *errstr;
	size_t mlen, n = 0, cap = 0;
	int r, len32 = s->so->frame == FRAME_LEN32;

	if (len > 0)
		frame_dec_feed(&s->indec, p, len);
	else
		frame_dec_eof(&s->indec);
	while ((r = frame_next(&s->indec, &msg, &mlen, &errstr)) == 1) {
		if (len32 && mlen > 0 && msg[mlen - 1] == '\n')
			mlen--;
		if (n + mlen + FRAME_HDRLEN > cap) {
			cap = MAXIMUM(n + mlen + FRAME_HDRLEN, cap * 2);
			buf = xreallocarray(buf, cap, 1);
		}
		if (len32) {
			frame_len32_hdr(buf + n, mlen);
			n += FRAME_HDRLEN;
		}
		memcpy(buf + n, msg, mlen);
		n += mlen;
	}
	if (n > 0 && s->so->crlf && !len32)
		n = in_crlf(s, &buf, n);
	if (n > 0)
		broadcast(s, buf, n);
	free(buf);
	if (r == -1) {
		warnx("stdin: %s", errstr);
		s->status = 1;
		conn_close(in, NULL);
	} else
		in_pace(s);
}

static void
in_closed(struct conn *in, const char *why)
{
	struct server *s = in->arg;

	if (why != NULL)
		warnx("read stdin: %s", why);
	s->in = NULL;
}

static const struct conn_cb in_cb = { in_data, NULL, in_closed, NULL };
static const struct conn_cb out_cb = { NULL, out_drained, out_closed,
    NULL };

/*
 * In the process forked for one connection: run the program through the
 * stream core (pump_exec).  Return its exit status, or 1.
 */
static int
exec_session(const struct serve_opts *so, int fd, const char *peer,
    const char *name)
{
	struct pump_opts po = { .idle_ms = so->idle_ms, .linger_ms = -1 };
	struct pump_stats st;
	int rv;

	po.peer = peer;
	po.hexdump = so->hexdump;
	/* This process is the connection's own: its handshake blocks no one. */
	if (so->tls != NULL && ((po.tls = tls_new(so->tls, fd, NULL)) == NULL
	    || tls_handshake_wait(po.tls, so->idle_ms) == -1)) {
		if (so->verbose >= 0)
			warnx("%s: %s", peer, po.tls != NULL ?
			    tls_error(po.tls) : "TLS: cannot make a session");
		tls_free(po.tls);
		close(fd);
		return 1;
	}
	if (so->tls != NULL && so->verbose > 0)
		tls_say(po.tls, peer);
	rv = pump_exec(fd, so->exec_argv, so->sh_cmd, &po, so->verbose, &st);
	tls_free(po.tls);
	if (so->log_json)
		log_json(&(struct log_event){ .event = "close", .peer = name,
		    .reason = st.err != NULL ? st.err : "closed", .counts = 1,
		    .sent = st.sent, .rcvd = st.rcvd,
		    .ms = st.end_ms - st.start_ms, .status = rv });
	return rv;
}

static void
spawn(struct server *s, int fd, struct sockaddr *sa, socklen_t len)
{
	char peer[ADDR_STRLEN], name[ADDR_STRLEN];
	sigset_t none;
	pid_t pid;
	int i;

	addr_fmt_words(sa, len, peer, sizeof(peer));
	addr_fmt(sa, len, name, sizeof(name));
	if ((pid = fork()) == -1) {
		warn("fork for %s", peer);
		close(fd);
		return;
	}
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Not loop_del(): the epoll set is the parent's too. */
		for (i = 0; i < s->nlfd; i++)
			close(s->lfds[i]);
		_exit(exec_session(s->so, fd, peer, name));
	}
	close(fd);
	s->nconns++;
	s->kids = xreallocarray(s->kids, s->nkids + 1, sizeof(*s->kids));
	s->kids[s->nkids++] = pid;
	if (s->so->verbose > 0 && !s->so->log_json)
		warnx("%s: started process %ld", peer, (long)pid);
}

static void
forget_kid(struct server *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nkids; i++)
		if (s->kids[i] == pid) {
			s->kids[i] = s->kids[--s->nkids];
			return;
		}
}

/*
 * The server was told to stop: pass the signal on to every connection's
 * process, which passes it to its program, and reap them all.
 */
static void
kill_kids(struct server *s, int sig)
{
	size_t i;
	pid_t pid;
	int tries;

	for (i = 0; i < s->nkids; i++)
		kill(s->kids[i], sig);
	for (tries = 0; s->nkids > 0 && tries < 200; tries++) {
		while (s->nkids > 0 && (pid = waitpid(-1, NULL, WNOHANG)) > 0)
			forget_kid(s, pid);
		if (s->nkids > 0)
			usleep(10000);
	}
	for (i = 0; i < s->nkids; i++)
		kill(s->kids[i], SIGKILL);
}

static void
reap(struct loop *l, int fd, int ready, void *arg)
{
	struct server *s = arg;
	struct signalfd_siginfo si;
	int status, sig = 0;
	pid_t pid;

	(void)l;
	(void)ready;
	while (read(fd, &si, sizeof(si)) > 0)
		if (si.ssi_signo != SIGCHLD)
			sig = si.ssi_signo;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		s->nconns--;
		forget_kid(s, pid);
		if (s->so->log_json)
			;
		else if (s->so->verbose > 0 && WIFEXITED(status))
			warnx("process %ld exited %d", (long)pid,
			    WEXITSTATUS(status));
		else if (s->so->verbose > 0 && WIFSIGNALED(status))
			warnx("process %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
		if (!s->so->keep) {
			s->status = !(WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0);
			loop_stop(s->loop);
		}
	}
	if (sig != 0) {
		kill_kids(s, sig);
		s->status = 128 + sig;
		loop_stop(s->loop);
	}
}

static void
client_new(struct server *s, int fd, struct sockaddr *sa, socklen_t len)
{
	struct client *cl;
	struct conn *c;

	cl = xcalloc(1, sizeof(*cl));
	cl->srv = s;
	frame_dec_init(&cl->dec, s->so->frame, s->so->max_frame);
	if ((c = conn_new(s->loop, fd, sa, len, s->so->maxq, &client_cb,
	    cl)) == NULL) {
		frame_dec_free(&cl->dec);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&s->clients, c, entry);
	s->nconns++;
	conn_budget(c, &s->budget);
	conn_hexdump(c, s->so->hexdump);
	/* Under TLS the rest waits for the handshake, in the loop. */
	conn_start(c, s->so->tls);
}

/* Past TLS, if any: authentication, if asked for, then data. */
static void
client_ready(struct conn *c)
{
	struct client *cl = c->arg;
	struct server *s = cl->srv;
	const unsigned char *out = NULL;
	size_t n = 0;

	if (conn_tls_session(c) != NULL && s->so->verbose > 0 &&
	    !s->so->log_json)
		tls_say(conn_tls_session(c), c->name);
	if (s->so->key == NULL) {
		client_live(c);
		return;
	}
	cl->auth = xmalloc(sizeof(*cl->auth));
	auth_init(cl->auth, AUTH_SERVER, s->so->key, s->so->keylen);
	conn_auth(c, cl->auth, &out, &n);
}

static void
accept_one(struct loop *l, int fd, struct sockaddr *sa, socklen_t len,
    void *arg)
{
	struct server *s = arg;
	char name[ADDR_STRLEN];
	const char *why;

	(void)l;
	addr_fmt(sa, len, name, sizeof(name));
	if ((why = acl_refuses(&s->so->acl, sa, s->nconns,
	    s->so->max_conns)) != NULL) {
		server_log(s, "refused", name, why);
		close(fd);
		return;
	}
	server_log(s, "open", name, NULL);
	if (!s->so->keep)
		stop_listening(s);
	if (s->so->exec_argv != NULL || s->so->sh_cmd != NULL)
		spawn(s, fd, sa, len);
	else
		client_new(s, fd, sa, len);
}

/* Close clients idle for -w, or still in the handshake after it. */
static void
sweep(struct loop *l, void *arg)
{
	struct server *s = arg;
	struct conn *c, *tmp;
	struct client *cl;
	const char *why;

	TAILQ_FOREACH_SAFE(c, &s->clients, entry, tmp) {
		cl = c->arg;
		if ((why = conn_expired(c, cl->auth != NULL,
		    s->so->idle_ms)) != NULL)
			conn_close(c, why);
	}
	loop_timer(l, SWEEP_MS, sweep, s);
}

/* One connection and -w: no client within it is a failure, as in pump. */
static void
accept_timeout(struct loop *l, void *arg)
{
	struct server *s = arg;

	if (s->nlfd == 0)
		return;
	warnx("timed out waiting for a connection");
	s->status = 1;
	loop_stop(l);
}

static int
setup_children(struct server *s)
{
	int fd;

	/* A signal that ends the server is passed on to the programs. */
	if ((fd = sig_loopfd(1)) == -1)
		return -1;
	return loop_add(s->loop, fd, LOOP_READ, reap, s);
}

static void
setup_stdio(struct server *s)
{
	s->out = conn_stdout(s->loop, SIZE_MAX, &out_cb, s);
	if (s->so->echo || s->so->recv_only)
		return;
	frame_dec_init(&s->indec, s->so->frame == FRAME_RAW ? FRAME_RAW :
	    FRAME_LINE, s->so->max_frame);
	s->in = conn_new(s->loop, STDIN_FILENO, NULL, 0, 0, &in_cb, s);
	/* Nothing of stdin is read, and lost, before a client is live. */
	if (s->in != NULL)
		conn_pause(s->in, 1);
}

static int
server_init(struct server *s, const struct serve_opts *so)
{
	memset(s, 0, sizeof(*s));
	TAILQ_INIT(&s->clients);
	s->so = so;
	s->budget.max = so->max_memory;
	if ((s->loop = loop_new()) == NULL)
		return -1;
	loop_timer(s->loop, SWEEP_MS, sweep, s);
	return 0;
}

/* Free the clients, stdin, stdout and the loop. */
static void
server_free(struct server *s)
{
	struct conn *c;
	struct client *cl;

	while ((c = TAILQ_FIRST(&s->clients)) != NULL) {
		TAILQ_REMOVE(&s->clients, c, entry);
		cl = c->arg;
		frame_dec_free(&cl->dec);
		free(cl->auth);
		free(cl);
		conn_destroy(c);
	}
	/* stdio stays open: the exit handlers restore its flags. */
	if (s->in != NULL)
		conn_forget(s->in);
	if (s->out != NULL)
		conn_forget(s->out);
	frame_dec_free(&s->indec);
	free(s->kids);
	loop_free(s->loop);
}

/*
 * Serve clients on the n listening sockets fds until killed (-k) or
 * until the one client is done; return the exit status, or -1 with
 * errno set and *errstr naming what failed.
 */
int
server_run(int *fds, int n, const struct serve_opts *so, const char **errstr)
{
	struct server s;
	int i, rv;

	*errstr = "epoll";
	if (server_init(&s, so) == -1)
		return -1;
	s.lfds = fds;
	s.nlfd = n;
	for (i = 0; i < n; i++)
		if (loop_listen(s.loop, fds[i], accept_one, &s) == -1)
			goto fail;
	if (!so->keep && so->idle_ms >= 0)
		loop_timer(s.loop, so->idle_ms, accept_timeout, &s);
	if (so->exec_argv != NULL || so->sh_cmd != NULL) {
		*errstr = "signalfd";
		if (setup_children(&s) == -1)
			goto fail;
	} else
		setup_stdio(&s);
	*errstr = "epoll_wait";
	if ((rv = loop_run(s.loop)) == -1)
		goto fail;
	if (s.out != NULL)
		conn_flush_sync(s.out);
	server_free(&s);
	return s.status;
fail:
	rv = errno;
	server_free(&s);
	errno = rv;
	return -1;
}
