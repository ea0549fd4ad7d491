#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <err.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "chatline.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "room.h"
#include "util.h"

#define SWEEP_MS	1000
#define NOTICE_CHUNK	(64 * 1024)	/* a message of notices */
#define RUN_MIN		4096
#define RUN_MAX		(64 * 1024)	/* a run of lines, one message */
#define MEMBER_READ	(16 * 1024)	/* bytes read from a member a turn */
#define MEMBER_LINES	256		/* its lines handled a turn */

/*
 * The chat room: members, nicks, commands, history and fan-out.  A line
 * is made into one reference-counted message shared by every queue it
 * goes to.  A member whose queue passes its bound is closed and its
 * notice sent later from the loop's deferred pass, so a fan-out never
 * runs inside another and no member is freed while one runs.
 *
 * The join and leave notices of a loop turn (up to 256 accepts a wakeup)
 * go out as one batch, so a join storm of N members queues N slices a
 * turn, not N for each join.  Each member gets the slice of the batch it
 * would have got line by line: a member that joined in it the part after
 * its own notice, one that left the part before.  The batches of many
 * turns are written one after another into one chunk of NOTICE_CHUNK
 * bytes, so the slices a member that does not read is owed join up into
 * one queue node (conn.c extends it): N members that never read cost N
 * nodes a chunk, not N for each turn.  Any other line first sends the
 * batch, so every member's lines keep their order.
 *
 * A member's input is work bounded a turn: MEMBER_READ bytes and
 * MEMBER_LINES lines, the rest kept for the next turn while its socket
 * is not read, so one member's flood of short lines or commands never
 * stalls the others.  Its room lines in a row make one run, one message
 * for all (broadcast()), not one a line.
 */
struct member {
	TAILQ_ENTRY(member) entry;
	RB_ENTRY(member) byname;
	struct room	*room;
	struct conn	*in;		/* the socket, or stdin */
	struct conn	*out;		/* the socket, or stdout */
	struct frame_dec dec;
	struct auth	*auth;		/* during the handshake */
	int		 joined;	/* has a nick, gets room lines */
	int		 gone;		/* has left; waits to be freed */
	const char	*why;		/* for the leave notice */
	unsigned long	 bgen;		/* the batch boff and bend are about */
	size_t		 boff, bend;	/* its slice of that batch */
	int		 finish;	/* to close once the batch is sent */
	unsigned char	*pend;		/* input kept for its next turn */
	struct loop_timer *resume;	/* that turn */
	char		 nick[NICK_MAX + 1];
};

/* A line of the history: a slice of a message. */
struct hline {
	struct msg	*m;
	size_t		 off, len;
};

TAILQ_HEAD(memberlist, member);
RB_HEAD(nicktree, member);

struct room {
	struct loop		*loop;
	const struct room_opts	*ro;
	struct memberlist	 members;
	struct nicktree		 nicks;
	struct member		 console;
	struct conn		*conout;	/* stdout, the console's output */
	struct budget		 budget;	/* members: queues, decoders */
	int			 bcheck;	/* a budget check is due */
	long			 nclients;
	long			 npeak;		/* most since a trim */
	unsigned long		 guests;
	long			 online;
	struct hline		*hist;		/* a ring of ro->history */
	long			 nhist, hfirst;
	char			*vis;		/* chatline_vis() output */
	struct msg		*batch;		/* the notices, a chunk */
	size_t			 bcap;		/* bytes batch has room for */
	size_t			 bstart;	/* the unsent ones start */
	struct msg		*run;		/* lines not yet broadcast */
	size_t			 runcap;
	struct member		*runfrom;	/* the member run is not for */
	unsigned long		 bgen;		/* counts batches */
	int			 bsched;	/* a batch_run() is deferred */
	int			 closing;	/* at exit: no more notices */
	int			 status;
};

static int
nick_cmp(struct member *a, struct member *b)
{
	return strcasecmp(a->nick, b->nick);
}

/* Not _STATIC: libbsd leaves its __unused undefined. */
RB_GENERATE(nicktree, member, byname, nick_cmp)

static void	member_data(struct conn *, const unsigned char *, size_t);
static void	member_closed(struct conn *, const char *);
static void	member_ready(struct conn *);
static void	console_out_closed(struct conn *, const char *);
static void	member_drained(struct conn *);
static void	console_in_closed(struct conn *, const char *);
static void	member_leave(struct member *);

static const struct conn_cb member_cb = {
	member_data, member_drained, member_closed, member_ready
};
static const struct conn_cb console_in_cb = {
	member_data, NULL, console_in_closed, NULL
};
static const struct conn_cb console_out_cb = {
	NULL, NULL, console_out_closed, NULL
};

static void
verbose(const struct room *r, const char *what, const struct member *m)
{
	const char *name = m == &r->console ? "stdin" : m->in->name;
	int leave = strncmp(what, "left", 4) == 0;
	char why[64] = "closed";

	/* m->why reads " (too slow)": the reason is what is in brackets. */
	if (m->why != NULL && strlen(m->why) > 3 && strlen(m->why) < 60)
		snprintf(why, sizeof(why), "%.*s", (int)strlen(m->why) - 3,
		    m->why + 2);

	/* --log json: "join" and "leave", a leave with the member's bytes. */
	if (r->ro->log_json)
		log_json(&(struct log_event){
		    .event = leave ? "leave" : "join", .peer = name,
		    .nick = m->nick, .counts = leave && m != &r->console,
		    .sent = leave && m != &r->console ? m->out->nout : 0,
		    .rcvd = leave && m != &r->console ? m->in->nin : 0,
		    .ms = leave && m != &r->console ?
		    loop_now(r->loop) - m->in->born : 0,
		    .reason = leave ? why : NULL, .status = -1 });
	else if (r->ro->verbose > 0)
		warnx("%s: %s%s", name, what, m->nick);
}

static struct member *
nick_find(struct room *r, const char *nick)
{
	struct member key;

	strlcpy(key.nick, nick, sizeof(key.nick));
	return RB_FIND(nicktree, &r->nicks, &key);
}

/*
 * stdout is over its bound after a write: the console leaves the room,
 * what stdout has queued is written, and stdin still takes /quit.
 */
static void
console_full(struct conn *c)
{
	struct room *r = c->arg;

	if (r->console.gone)
		return;
	warnx("stdout is too slow: the console has left the room");
	r->console.why = " (too slow)";
	r->console.out = NULL;
	member_leave(&r->console);
}

/* A member is over its bound after a write: it is dropped as too slow. */
static void
member_full(struct conn *c)
{
	struct member *m = c->arg;

	m->why = " (too slow)";
	conn_close(m->in, "too slow");
}

static int
holding_cmp(const void *a, const void *b)
{
	size_t x = conn_holding((*(struct member *const *)a)->in);
	size_t y = conn_holding((*(struct member *const *)b)->in);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Drop the members holding the most until the room is within its memory
 * budget; each leaves with the reason.  Runs from a timer, after the
 * turn's writes, never inside a fan-out.
 */
static void
room_budget(struct loop *l, void *arg)
{
	struct room *r = arg;
	struct member *m, **big;
	long i, n = 0;

	(void)l;
	r->bcheck = 0;
	if (!budget_over(&r->budget))
		return;
	big = xreallocarray(NULL, r->nclients + 1, sizeof(*big));
	TAILQ_FOREACH(m, &r->members, entry)
		if (m != &r->console && !m->in->dead && n <= r->nclients)
			big[n++] = m;
	qsort(big, n, sizeof(*big), holding_cmp);
	for (i = 0; i < n && budget_over(&r->budget); i++) {
		m = big[i];
		if (r->ro->verbose > 0)
			warnx("%s: memory budget reached: dropped, holding %zu "
			    "bytes", m->in->name, conn_holding(m->in));
		m->why = " (memory budget reached)";
		conn_close(m->in, "memory budget reached");
	}
	free(big);
}

/* Check the budget once this turn's writes are done. */
static void
budget_check(struct room *r)
{
	if (r->bcheck || !budget_over(&r->budget))
		return;
	r->bcheck = 1;
	loop_timer(r->loop, 0, room_budget, r);
}

/* Queue len bytes of msg at off for m, even if m has just left. */
static void
deliver_slice(struct member *m, struct msg *msg, size_t off, size_t len)
{
	if (m->out == NULL || m->out->dead)
		return;
	conn_send_slice(m->out, msg, off, len);
	budget_check(m->room);
}

/* Queue msg for m unless m has left. */
static void
deliver(struct member *m, struct msg *msg)
{
	if (!m->gone)
		deliver_slice(m, msg, 0, msg->len);
}

/* Keep len bytes of msg at off, one line, for newcomers. */
static void
history_add(struct room *r, struct msg *msg, size_t off, size_t len)
{
	struct hline *h;

	if (r->ro->history <= 0)
		return;
	msg->refs++;
	if (r->nhist < r->ro->history) {
		h = &r->hist[(r->hfirst + r->nhist++) % r->ro->history];
	} else {
		h = &r->hist[r->hfirst];
		msg_unref(h->m);
		r->hfirst = (r->hfirst + 1) % r->ro->history;
	}
	h->m = msg;
	h->off = off;
	h->len = len;
}

/*
 * Send the lines of the run: one message, to every member but the one
 * it is not for; each of its lines is kept for the history.
 */
static void
run_flush(struct room *r)
{
	struct msg *run = r->run;
	struct member *m;
	const unsigned char *nl;
	size_t off;

	if (run == NULL)
		return;
	r->run = NULL;
	TAILQ_FOREACH(m, &r->members, entry)
		if (m != r->runfrom && m->joined)
			deliver(m, run);
	for (off = 0; r->ro->history > 0 && off < run->len; off = nl -
	    run->data + 1) {
		if ((nl = memchr(run->data + off, '\n', run->len - off)) ==
		    NULL)
			break;
		history_add(r, run, off, nl - run->data + 1 - off);
	}
	msg_unref(run);
}

/*
 * Send the notices of this turn: each member its slice of them (see the
 * top of the file).  The chunk they are in stays for the next ones.
 */
static void
batch_flush(struct room *r)
{
	struct msg *b = r->batch;
	struct member *m;
	size_t start, end;

	if (b == NULL || b->len == r->bstart)
		return;
	start = r->bstart;
	r->bstart = b->len;
	TAILQ_FOREACH(m, &r->members, entry) {
		if (!m->joined)
			continue;
		if (m->bgen != r->bgen) {
			if (!m->gone)
				deliver_slice(m, b, start, b->len - start);
			continue;
		}
		end = MINIMUM(m->bend, b->len);
		if (m->boff < end)
			deliver_slice(m, b, m->boff, end - m->boff);
		if (m->finish) {
			m->finish = 0;
			conn_finish(m->out);
		}
	}
}

static void
batch_run(struct loop *l, void *arg)
{
	struct room *r = arg;

	(void)l;
	r->bsched = 0;
	batch_flush(r);
}

/* Append line to the notices and keep it; return its offset in them. */
static size_t
batch_add(struct room *r, struct msg *line)
{
	size_t off;

	run_flush(r);
	if (r->batch != NULL && r->batch->len + line->len > r->bcap) {
		/* The chunk is full: what is in it goes, a new one starts. */
		batch_flush(r);
		msg_unref(r->batch);
		r->batch = NULL;
	}
	if (r->batch == NULL) {
		r->bcap = MAXIMUM(NOTICE_CHUNK, line->len);
		r->batch = msg_new(NULL, r->bcap);
		r->batch->len = r->bstart = 0;
	}
	if (r->batch->len == r->bstart) {
		r->bgen++;
		if (!r->bsched) {
			r->bsched = 1;
			loop_defer(r->loop, batch_run, r);
		}
	}
	off = r->batch->len;
	memcpy(r->batch->data + off, line->data, line->len);
	r->batch->len += line->len;
	history_add(r, line, 0, line->len);
	msg_unref(line);
	return off;
}

/*
 * Send msg to every member but from (NULL: all), and keep it.  Lines
 * for the same members in a row join one run, sent as one message
 * once the member's turn is over or another line comes between.
 */
static void
broadcast(struct room *r, struct member *from, struct msg *msg)
{
	if (r->run != NULL && (r->runfrom != from ||
	    r->run->len + msg->len > RUN_MAX))
		run_flush(r);
	if (r->run == NULL) {
		batch_flush(r);
		r->runcap = MAXIMUM(RUN_MIN, msg->len);
		r->run = msg_new(NULL, r->runcap);
		r->run->len = 0;
		r->runfrom = from;
	}
	if (r->run->len + msg->len > r->runcap) {
		/* Not yet in any queue: it may move. */
		r->runcap = MAXIMUM(r->runcap * 2, r->run->len + msg->len);
		r->run = xreallocarray(r->run, 1, sizeof(*r->run) +
		    r->runcap);
	}
	memcpy(r->run->data + r->run->len, msg->data, msg->len);
	r->run->len += msg->len;
	msg_unref(msg);
}

/* Send msg to m alone, after the lines before it. */
static void
tell(struct member *m, struct msg *msg)
{
	run_flush(m->room);
	batch_flush(m->room);
	deliver(m, msg);
	msg_unref(msg);
}

/* Leave the room: the nick is free again and the others are told. */
static void
member_leave(struct member *m)
{
	struct room *r = m->room;
	size_t off;

	if (m->gone)
		return;
	m->gone = 1;
	if (!m->joined || r->closing)
		return;
	RB_REMOVE(nicktree, &r->nicks, m);
	r->online--;
	verbose(r, "left: ", m);
	off = batch_add(r, msg_fmt("* %s has left%s\n", m->nick,
	    m->why != NULL ? m->why : ""));
	/* It still gets what came before, if it joined before the batch. */
	if (m->bgen != r->bgen) {
		m->bgen = r->bgen;
		m->boff = r->bstart;
	}
	m->bend = off;
}

/* Close m, which has left, once it has been sent what it is owed. */
static void
member_finish(struct member *m)
{
	struct room *r = m->room;

	if (r->batch != NULL && r->batch->len > r->bstart &&
	    m->bgen == r->bgen)
		m->finish = 1;
	else
		conn_finish(m->out);
}

static void
member_join(struct member *m)
{
	struct room *r = m->room;
	struct msg *welcome;
	struct hline *h;
	size_t owed = 0;
	long i;

	/* Lines before m's join are not m's, but its history. */
	run_flush(r);
	do
		snprintf(m->nick, sizeof(m->nick), "guest%lu", ++r->guests);
	while (nick_find(r, m->nick) != NULL);
	RB_INSERT(nicktree, &r->nicks, m);
	m->joined = 1;
	r->online++;
	/* The batch before m's notice is not m's: no flush here. */
	for (i = 0; i < r->nhist; i++) {
		h = &r->hist[(r->hfirst + i) % r->ro->history];
		owed += h->len + QNODE_COST;
		deliver_slice(m, h->m, h->off, h->len);
	}
	/* The history it is owed does not make a newcomer too slow. */
	if (owed > 0)
		conn_maxq(m->out, r->ro->maxq + owed);
	welcome = msg_fmt("* welcome, %s: %ld online; /help lists the "
	    "commands\n", m->nick, r->online);
	deliver(m, welcome);
	msg_unref(welcome);
	verbose(r, "joined as ", m);
	batch_add(r, msg_fmt("* %s has joined\n", m->nick));
	m->bgen = r->bgen;
	m->boff = r->batch->len;
	m->bend = SIZE_MAX;
}

/* Make len bytes of network text safe to show; valid until next call. */
static const char *
visible(struct room *r, const unsigned char *p, size_t len)
{
	chatline_vis(r->vis, p, MINIMUM(len, r->ro->max_line));
	return r->vis;
}

static void
cmd_help(struct member *m, const unsigned char *arg, size_t len);

static void
cmd_me(struct member *m, const unsigned char *arg, size_t len)
{
	if (len == 0) {
		tell(m, msg_fmt("* usage: /me ACTION\n"));
		return;
	}
	/* Notices about a member are the room's to make, not the member's. */
	if (chatline_me_forges(visible(m->room, arg, len))) {
		tell(m, msg_fmt("* /me %s: reads as a room notice, not sent\n",
		    m->room->vis));
		return;
	}
	broadcast(m->room, m, msg_fmt("* %s %s\n", m->nick, m->room->vis));
}

static void
cmd_msg(struct member *m, const unsigned char *arg, size_t len)
{
	struct member *to;
	char nick[NICK_MAX + 1];
	const unsigned char *sp;
	size_t n;

	sp = memchr(arg, ' ', len);
	n = sp != NULL ? (size_t)(sp - arg) : len;
	while (sp != NULL && sp < arg + len && *sp == ' ')
		sp++;
	if (sp == NULL || sp == arg + len || n == 0) {
		tell(m, msg_fmt("* usage: /msg NICK TEXT\n"));
		return;
	}
	if (!chatline_nick_ok((const char *)arg, n)) {
		tell(m, msg_fmt("* no such nick: %s\n",
		    visible(m->room, arg, n)));
		return;
	}
	memcpy(nick, arg, n);
	nick[n] = '\0';
	if ((to = nick_find(m->room, nick)) == NULL) {
		tell(m, msg_fmt("* no such nick: %s\n", nick));
		return;
	}
	tell(to, msg_fmt("<%s> (private) %s\n", m->nick,
	    visible(m->room, sp, arg + len - sp)));
}

static void
cmd_nick(struct member *m, const unsigned char *arg, size_t len)
{
	struct room *r = m->room;
	struct member *other;
	char old[NICK_MAX + 1], new[NICK_MAX + 1];

	if (len == 0) {
		tell(m, msg_fmt("* usage: /nick NAME\n"));
		return;
	}
	if (!chatline_nick_ok((const char *)arg, len)) {
		tell(m, msg_fmt("* invalid nick %s: use 1-%d letters, digits, "
		    "'_', '-' or '.'\n", visible(r, arg, len), NICK_MAX));
		return;
	}
	memcpy(new, arg, len);
	new[len] = '\0';
	if (chatline_nick_reserved(new)) {
		tell(m, msg_fmt("* nick %s is reserved: the room's replies "
		    "start with it\n", new));
		return;
	}
	if ((other = nick_find(r, new)) != NULL && other != m) {
		tell(m, msg_fmt("* nick %s is taken\n", other->nick));
		return;
	}
	if (strcmp(new, m->nick) == 0)
		return;
	/* The tree is ordered by nick: out under the old, in under the new. */
	strlcpy(old, m->nick, sizeof(old));
	RB_REMOVE(nicktree, &r->nicks, m);
	strlcpy(m->nick, new, sizeof(m->nick));
	RB_INSERT(nicktree, &r->nicks, m);
	broadcast(r, NULL, msg_fmt("* %s is now known as %s\n", old,
	    m->nick));
}

static void
cmd_quit(struct member *m, const unsigned char *arg, size_t len)
{
	struct room *r = m->room;

	(void)arg;
	(void)len;
	if (m == &r->console) {
		loop_stop(r->loop);
		return;
	}
	member_leave(m);
	conn_pause(m->in, 1);
	member_finish(m);
}

static void
cmd_who(struct member *m, const unsigned char *arg, size_t len)
{
	struct member *n;
	struct msg *msg;
	size_t size = sizeof("* online: \n"), off;

	(void)arg;
	(void)len;
	RB_FOREACH(n, nicktree, &m->room->nicks)
		size += strlen(n->nick) + 2;
	msg = msg_new(NULL, size);
	off = strlcpy((char *)msg->data, "* online: ", size);
	RB_FOREACH(n, nicktree, &m->room->nicks) {
		off += strlcpy((char *)msg->data + off, n->nick, size - off);
		if (RB_NEXT(nicktree, &m->room->nicks, n) != NULL)
			off += strlcpy((char *)msg->data + off, ", ",
			    size - off);
	}
	msg->data[off++] = '\n';
	msg->len = off;
	tell(m, msg);
}

static const struct command {
	const char	*name;
	void		(*fn)(struct member *, const unsigned char *, size_t);
	const char	*help;
} commands[] = {
	{ "help",	cmd_help,	"/help                this list" },
	{ "me",		cmd_me,		"/me ACTION           tell the room "
	    "what you do" },
	{ "msg",	cmd_msg,	"/msg NICK TEXT       a private line "
	    "to NICK" },
	{ "nick",	cmd_nick,	"/nick NAME           change your nick "
	    "(1-32 of A-Z a-z 0-9 _ - .)" },
	{ "quit",	cmd_quit,	"/quit                leave the room" },
	{ "who",	cmd_who,	"/who                 who is online" },
};

static void
cmd_help(struct member *m, const unsigned char *arg, size_t len)
{
	size_t i;

	(void)arg;
	(void)len;
	tell(m, msg_fmt("* commands (a line starting with // sends one "
	    "starting with /):\n"));
	for (i = 0; i < NELEM(commands); i++)
		tell(m, msg_fmt("*   %s\n", commands[i].help));
}

/* Run "/NAME ARG" (without its newline). */
static void
member_command(struct member *m, const unsigned char *p, size_t len)
{
	const unsigned char *sp;
	size_t i, n;

	sp = memchr(p, ' ', len);
	n = (sp != NULL ? (size_t)(sp - p) : len) - 1;
	while (sp != NULL && sp < p + len && *sp == ' ')
		sp++;
	for (i = 0; i < NELEM(commands); i++) {
		if (strlen(commands[i].name) == n &&
		    memcmp(commands[i].name, p + 1, n) == 0) {
			commands[i].fn(m, sp != NULL ? sp : p + len,
			    sp != NULL ? (size_t)(p + len - sp) : 0);
			return;
		}
	}
	tell(m, msg_fmt("* unknown command %s; /help lists the commands\n",
	    visible(m->room, p, n + 1)));
}

/* Handle one line from m, with its newline (and a CR before it) cut. */
static void
member_line(struct member *m, const unsigned char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	/* A console that fell behind has left, but may still /quit. */
	if (m->gone && m == &m->room->console && len == 5 &&
	    memcmp(p, "/quit", 5) == 0)
		loop_stop(m->room->loop);
	if (len == 0 || m->gone)
		return;
	if (p[0] == '/' && (len == 1 || p[1] != '/')) {
		member_command(m, p, len);
		return;
	}
	if (p[0] == '/') {
		p++;
		len--;
	}
	broadcast(m->room, m, msg_fmt("<%s> %s\n", m->nick,
	    visible(m->room, p, len)));
}

/* Run the handshake on what arrived; return 1 if stream data follows. */
static int
member_auth(struct member *m, const unsigned char **p, size_t *len)
{
	struct conn *c = m->in;
	enum auth_status st;
	int eof = *len == 0;

	st = conn_auth(c, m->auth, p, len);
	if (c->dead)
		return 0;
	if (st == AUTH_FAIL) {
		if (m->room->ro->verbose > 0)
			warnx("%s: authentication failed", c->name);
		conn_close(c, "authentication failed");
		return 0;
	}
	if (st == AUTH_MORE) {
		if (eof)
			conn_close(c, "closed during authentication");
		return 0;
	}
	free(m->auth);
	m->auth = NULL;
	member_join(m);
	return *len > 0 || eof;
}

/*
 * Handle up to n of m's lines (n < 0: all of them); return 1 if what it
 * sent has more lines for another turn.
 */
static int
member_lines(struct member *m, int n)
{
	const unsigned char *line;
	const char *errstr;
	size_t len;

	/* Cut lines: the decoder never fails.  A console gone may /quit. */
	while (!m->gone || m == &m->room->console) {
		if (n >= 0 && n-- == 0)
			return m->dec.inlen > 0;
		if (frame_next(&m->dec, &line, &len, &errstr) != 1)
			break;
		member_line(m, line, len);
	}
	return 0;
}

static void	member_resume(struct loop *, void *);

/*
 * Send m's run, and if it sent more lines than a turn takes (more), keep
 * the rest and stop reading it until they are handled in turns to come.
 */
static void
member_account(struct member *m, int more)
{
	struct room *r = m->room;
	struct conn *c = m->in;

	run_flush(r);
	if (more && !c->dead && !m->gone) {
		if (m->pend == NULL) {
			/* The slice is conn.c's read buffer: copy it. */
			m->pend = xmalloc(MEMBER_READ);
			memcpy(m->pend, m->dec.in, m->dec.inlen);
			frame_dec_feed(&m->dec, m->pend, m->dec.inlen);
			conn_pause(c, 1);
		}
		m->resume = loop_timer(r->loop, 1, member_resume, m);
	} else if (m->pend != NULL) {
		frame_dec_feed(&m->dec, NULL, 0);
		free(m->pend);
		m->pend = NULL;
		if (!c->dead && !m->gone)
			conn_pause(c, 0);
	}
	if (!c->dead) {
		conn_hold(c, m->dec.cap + (m->pend != NULL ? MEMBER_READ : 0));
		budget_check(r);
	}
}

/* The next turn of a member that sent more than one turn takes. */
static void
member_resume(struct loop *l, void *arg)
{
	struct member *m = arg;

	(void)l;
	m->resume = NULL;
	if (m->in->dead)
		return;
	member_account(m, member_lines(m, MEMBER_LINES));
}

static void
member_data(struct conn *c, const unsigned char *p, size_t len)
{
	struct member *m = c->arg;
	int console = m == &m->room->console;

	if (m->auth != NULL && !member_auth(m, &p, &len))
		return;
	if (len > 0)
		frame_dec_feed(&m->dec, p, len);
	else
		frame_dec_eof(&m->dec);
	/* The host's console is not held to a member's share. */
	if (console) {
		member_lines(m, -1);
		run_flush(m->room);
	} else
		member_account(m, member_lines(m, len > 0 ? MEMBER_LINES :
		    -1));
	if (len > 0 || console || m->gone)
		return;
	/* The peer's EOF: it leaves once its queue is written. */
	member_leave(m);
	member_finish(m);
}

static void
member_free(struct loop *l, void *arg)
{
	struct member *m = arg;
	struct room *r = m->room;

	(void)l;
	/* A member dropped during a fan-out is announced from here. */
	member_leave(m);
	TAILQ_REMOVE(&r->members, m, entry);
	loop_timer_cancel(r->loop, m->resume);
	frame_dec_free(&m->dec);
	free(m->pend);
	free(m->auth);
	free(m);
	r->nclients--;
}

static void
member_closed(struct conn *c, const char *why)
{
	struct member *m = c->arg;

	if (m->room->ro->verbose > 1 && why != NULL)
		warnx("%s: %s", c->name, why);
	if (m->room->closing)
		member_free(c->loop, m);
	else
		loop_defer(c->loop, member_free, m);
}

/* The history replay has been written: back to the usual bound. */
static void
member_drained(struct conn *c)
{
	struct member *m = c->arg;

	conn_maxq(c, m->room->ro->maxq);
}

/* A read error on stdin: the console stays, without input. */
static void
console_in_closed(struct conn *c, const char *why)
{
	struct room *r = ((struct member *)c->arg)->room;

	if (why != NULL)
		warnx("read stdin: %s", why);
	r->console.in = NULL;
}

static void
console_out_closed(struct conn *c, const char *why)
{
	struct room *r = c->arg;

	if (conn_out_failed(c, why))
		r->status = 1;
	r->conout = NULL;
	r->console.out = NULL;
	loop_stop(r->loop);
}

static void
member_new(struct room *r, int fd, struct sockaddr *sa, socklen_t len)
{
	struct member *m;

	m = xcalloc(1, sizeof(*m));
	m->room = r;
	frame_dec_init(&m->dec, FRAME_LINE, r->ro->max_line);
	frame_dec_cut(&m->dec);
	m->in = m->out = conn_new(r->loop, fd, sa, len, r->ro->maxq,
	    &member_cb, m);
	if (m->in == NULL) {
		free(m);
		return;
	}
	conn_budget(m->in, &r->budget);
	conn_full(m->in, member_full);
	conn_read_max(m->in, MEMBER_READ);
	TAILQ_INSERT_TAIL(&r->members, m, entry);
	r->nclients++;
	/* Under TLS the rest waits for the handshake, in the loop. */
	conn_start(m->in, r->ro->tls);
}

/* Past TLS, if any: authentication if asked for, then the room. */
static void
member_ready(struct conn *c)
{
	struct member *m = c->arg;
	struct room *r = m->room;
	const unsigned char *p = NULL;
	size_t n = 0;

	if (r->ro->key == NULL) {
		member_join(m);
		return;
	}
	m->auth = xmalloc(sizeof(*m->auth));
	auth_init(m->auth, AUTH_SERVER, r->ro->key, r->ro->keylen);
	conn_auth(m->in, m->auth, &p, &n);
}

static void
refuse(const struct room *r, int fd, const char *name, const char *why,
    const char *line)
{
	if (r->ro->log_json)
		log_json(&(struct log_event){ .event = "refused", .peer = name,
		    .reason = why, .status = -1 });
	else if (r->ro->verbose > 0)
		warnx("%s: %s", name, why);
	if (line != NULL)
		(void)!write(fd, line, strlen(line));
	close(fd);
}

static void
room_accept(struct loop *l, int fd, struct sockaddr *sa, socklen_t len,
    void *arg)
{
	struct room *r = arg;
	char name[ADDR_STRLEN];
	const char *why;

	(void)l;
	addr_fmt(sa, len, name, sizeof(name));
	if ((why = acl_refuses(&r->ro->acl, sa, r->nclients,
	    r->ro->max_clients)) != NULL)
		refuse(r, fd, name, why, acl_permits(&r->ro->acl, sa) &&
		    r->ro->tls == NULL ? "* the room is full\n" : NULL);
	else
		member_new(r, fd, sa, len);
}

/*
 * Close members idle for -w, or still in the handshake after it; once
 * half the members have gone, give their memory back to the system.
 */
static void
room_sweep(struct loop *l, void *arg)
{
	struct room *r = arg;
	struct member *m;
	const char *why;

	TAILQ_FOREACH(m, &r->members, entry) {
		if (m == &r->console || m->in->dead)
			continue;
		if ((why = conn_expired(m->in, m->auth != NULL,
		    r->ro->idle_ms)) != NULL)
			conn_close(m->in, why);
	}
	if (r->nclients > r->npeak)
		r->npeak = r->nclients;
	else if (r->npeak >= 64 && r->nclients < r->npeak / 2) {
		malloc_trim(0);
		r->npeak = r->nclients;
	}
	loop_timer(l, SWEEP_MS, room_sweep, r);
}

/* The host's terminal is a member: its stdin lines, every line to stdout. */
static void
console_join(struct room *r)
{
	struct member *m = &r->console;

	m->room = r;
	strlcpy(m->nick, r->ro->nick, sizeof(m->nick));
	frame_dec_init(&m->dec, FRAME_LINE, r->ro->max_line);
	frame_dec_cut(&m->dec);
	if ((r->conout = conn_stdout(r->loop, r->ro->maxq, &console_out_cb,
	    r)) == NULL)
		err(1, "epoll");
	conn_full(r->conout, console_full);
	m->out = r->conout;
	m->in = conn_new(r->loop, STDIN_FILENO, NULL, 0, 0, &console_in_cb,
	    m);
	TAILQ_INSERT_TAIL(&r->members, m, entry);
	RB_INSERT(nicktree, &r->nicks, m);
	m->joined = 1;
	r->online = 1;
}

/* Write out stdout, drop the members, free it all. */
static void
room_close(struct room *r)
{
	struct member *m, *tmp;
	long i;

	run_flush(r);
	batch_flush(r);
	r->closing = 1;
	if (r->conout != NULL) {
		conn_flush_sync(r->conout);
		conn_close(r->conout, NULL);
	}
	if (r->console.in != NULL)
		conn_close(r->console.in, NULL);
	frame_dec_free(&r->console.dec);
	/* A member that does not read must not hold up the exit. */
	TAILQ_FOREACH_SAFE(m, &r->members, entry, tmp)
		if (m != &r->console)
			conn_close(m->in, NULL);
	for (i = 0; i < r->nhist; i++)
		msg_unref(r->hist[(r->hfirst + i) % r->ro->history].m);
	free(r->hist);
	msg_unref(r->batch);
	free(r->vis);
	loop_free(r->loop);
}

/* Host a chat room on the n listening sockets fds; return exit status. */
int
room_run(int *fds, int n, const struct room_opts *ro)
{
	struct room r;
	int i;

	memset(&r, 0, sizeof(r));
	TAILQ_INIT(&r.members);
	RB_INIT(&r.nicks);
	r.ro = ro;
	r.budget.max = ro->max_memory;
	r.vis = xmalloc(CHATLINE_VISLEN(ro->max_line));
	if (ro->history > 0)
		r.hist = xcalloc(ro->history, sizeof(*r.hist));
	if ((r.loop = loop_new()) == NULL)
		err(1, "epoll");
	for (i = 0; i < n; i++)
		if (loop_listen(r.loop, fds[i], room_accept, &r) == -1)
			err(1, "epoll");
	console_join(&r);
	loop_timer(r.loop, SWEEP_MS, room_sweep, &r);
	if (loop_run(r.loop) == -1)
		err(1, "epoll_wait");
	room_close(&r);
	return r.status;
}
