#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "chatline.h"
#include "chatui.h"
#include "conn.h"
#include "frame.h"
#include "loop.h"
#include "pump.h"
#include "tls.h"
#include "util.h"

#define LINE_MAX_IN	(64 * 1024)	/* longer incoming lines are cut */
#define PROMPT		"> "
#define SGR_NOTICE	"\033[2m"	/* dim */
#define SGR_PRIVATE	"\033[1m"	/* bold */
#define SGR_RESET	"\033[0m"

/*
 * The interactive client: libedit's readline callback interface edits
 * the line being typed while the event loop shows what arrives.  Each
 * incoming line clears the edit line, is printed, and the prompt and
 * the half-typed text are drawn again below it.
 */
struct ui {
	struct loop	*loop;
	struct conn	*sock;
	struct frame_dec dec;
	char		*vis;
	int		 edit;		/* libedit, not a filter */
	int		 color;
	int		 crlf;		/* -C: lines end in CR LF */
	int		 lastcr;	/* -C: the last byte sent was CR */
	int		 status;
	int		 in_poll;	/* stdin is in the loop, not polled */
	int		 in_wait;	/* stdin paused: the room is behind */
	int		 in_done;	/* stdin at its end */
	struct pump_stats st;		/* the filter's, for -v */
};

#define IN_QUEUE_MAX	(256 * 1024)	/* stdin read ahead of the room */

static struct ui *the_ui;	/* for libedit's line callback */

/* Show one received line above the line being edited. */
static void
ui_show(struct ui *u, const unsigned char *p, size_t len)
{
	const char *sgr = NULL;

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	chatline_vis(u->vis, p, len);
	if (!u->edit) {
		printf("%s\n", u->vis);
		fflush(stdout);
		return;
	}
	if (u->color && strncmp(u->vis, "* ", 2) == 0)
		sgr = SGR_NOTICE;
	else if (u->color && strstr(u->vis, "> (private) ") != NULL)
		sgr = SGR_PRIVATE;
	printf("\r\033[K%s%s%s\n", sgr ? sgr : "", u->vis, sgr ? SGR_RESET :
	    "");
	fflush(stdout);
	rl_forced_update_display();
}

static void
ui_sock_data(struct conn *c, const unsigned char *p, size_t len)
{
	struct ui *u = c->arg;
	const unsigned char *line;
	const char *errstr;
	size_t n;

	u->st.rcvd += len;
	if (len > 0)
		frame_dec_feed(&u->dec, p, len);
	else
		frame_dec_eof(&u->dec);
	while (frame_next(&u->dec, &line, &n, &errstr) == 1)
		ui_show(u, line, n);
	if (len == 0)
		conn_close(c, NULL);
}

static void
ui_sock_closed(struct conn *c, const char *why)
{
	struct ui *u = c->arg;

	if (why != NULL) {
		if (u->edit) {
			printf("\r\033[K");
			fflush(stdout);
		}
		warnx("%s: %s", c->name, why);
		u->status = 1;
	}
	u->sock = NULL;
	loop_stop(u->loop);
}

static void	ui_sock_drained(struct conn *);

static const struct conn_cb sock_cb = { ui_sock_data, ui_sock_drained,
    ui_sock_closed, NULL };

static void	ui_in_read(struct ui *);

static void
ui_in_ready(struct loop *l, int fd, int ready, void *arg)
{
	(void)l;
	(void)fd;
	(void)ready;
	ui_in_read(arg);
}

static void
ui_in_poll(struct loop *l, void *arg)
{
	(void)l;
	ui_in_read(arg);
}

/* Read stdin again: it is in the loop, or a file polled every turn. */
static void
ui_in_resume(struct ui *u)
{
	u->in_wait = 0;
	if (u->in_poll)
		loop_timer(u->loop, 0, ui_in_poll, u);
	else if (loop_add(u->loop, STDIN_FILENO, LOOP_READ, ui_in_ready,
	    u) == -1) {
		if (errno != EPERM) {
			warn("epoll");
			u->status = 1;
			loop_stop(u->loop);
			return;
		}
		/* A regular file or /dev/null: always ready. */
		u->in_poll = 1;
		loop_timer(u->loop, 0, ui_in_poll, u);
	}
}

/* Stop reading stdin until the room has taken what is queued. */
static void
ui_in_pause(struct ui *u)
{
	u->in_wait = 1;
	if (!u->in_poll)
		loop_del(u->loop, STDIN_FILENO);
}

/* The filter's stdin: a share of it to the room; at its end, half-close. */
static void
ui_in_read(struct ui *u)
{
	char buf[16 * 1024];
	unsigned char crbuf[2 * sizeof(buf)];
	ssize_t n;

	if (u->in_wait || u->in_done || u->sock == NULL)
		return;
	if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1 &&
	    (errno == EINTR || errno == EAGAIN)) {
		if (u->in_poll)
			loop_timer(u->loop, 0, ui_in_poll, u);
		return;
	}
	if (n <= 0) {
		if (n == -1)
			warn("read standard input");
		ui_in_pause(u);
		u->in_done = 1;
		conn_shutdown(u->sock);
		return;
	}
	u->st.sent += n;
	if (u->crlf) {
		n = frame_crlf((unsigned char *)buf, n, crbuf, &u->lastcr);
		conn_write(u->sock, crbuf, n);
	} else
		conn_write(u->sock, buf, n);
	if (u->sock->queued > IN_QUEUE_MAX)
		ui_in_pause(u);
	else if (u->in_poll)
		loop_timer(u->loop, 0, ui_in_poll, u);
}

static void
ui_sock_drained(struct conn *c)
{
	struct ui *u = c->arg;

	if (!u->edit && u->in_wait && !u->in_done)
		ui_in_resume(u);
}

/* A line typed; NULL at end of input (^D): leave the room. */
static void
ui_line(char *line)
{
	struct ui *u = the_ui;

	if (line == NULL) {
		rl_callback_handler_remove();
		loop_del(u->loop, STDIN_FILENO);
		if (u->sock != NULL)
			conn_shutdown(u->sock);
		return;
	}
	if (*line != '\0')
		add_history(line);
	if (u->sock != NULL) {
		conn_write(u->sock, line, strlen(line));
		conn_write(u->sock, u->crlf ? "\r\n" : "\n", u->crlf ? 2 : 1);
	}
	free(line);
	/*
	 * libedit leaves its callback mode (and the terminal's raw mode)
	 * before calling us and does not go back: the next line would be
	 * typed in the kernel's cooked mode, unseen by libedit, and a
	 * redisplay would draw this line again.  Installing the handler
	 * again restores both and draws a fresh prompt.
	 */
	rl_callback_handler_install(PROMPT, ui_line);
}

static void
ui_tty(struct loop *l, int fd, int ready, void *arg)
{
	(void)l;
	(void)fd;
	(void)ready;
	(void)arg;
	rl_callback_read_char();
}

static int
ui_color(void)
{
	const char *term = getenv("TERM");

	return term != NULL && strcmp(term, "dumb") != 0 &&
	    getenv("NO_COLOR") == NULL;
}

/*
 * The terminal client (edit) or the filter to a terminal; return the exit
 * status (1 on a failure, told).
 */
static int
ui_run(int fd, struct tls *t, const char *nick, int edit, int verbose,
    int crlf)
{
	struct ui u;

	memset(&u, 0, sizeof(u));
	the_ui = &u;
	u.edit = edit;
	u.crlf = crlf;
	u.color = ui_color();
	u.vis = xmalloc(CHATLINE_VISLEN(LINE_MAX_IN));
	frame_dec_init(&u.dec, FRAME_LINE, LINE_MAX_IN);
	frame_dec_cut(&u.dec);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if ((u.loop = loop_new()) == NULL || (u.sock = conn_new(u.loop, fd,
	    NULL, 0, SIZE_MAX, &sock_cb, &u)) == NULL) {
		warn("epoll");
		tls_free(t);
		u.status = 1;
		goto done;
	}
	if (t != NULL)
		conn_tls(u.sock, t, 0);
	strlcpy(u.sock->name, "connection", sizeof(u.sock->name));
	if (nick != NULL) {
		conn_write(u.sock, "/nick ", 6);
		conn_write(u.sock, nick, strlen(nick));
		conn_write(u.sock, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
	}
	if (!edit) {
		u.st.start_ms = now_ms();
		ui_in_resume(&u);
		if (u.status == 0 && loop_run(u.loop) == -1) {
			warn("epoll");
			u.status = 1;
		}
		u.st.end_ms = now_ms();
		if (verbose > 0)
			pump_report(&u.st);
		goto done;
	}
	rl_callback_handler_install(PROMPT, ui_line);
	if (loop_add(u.loop, STDIN_FILENO, LOOP_READ, ui_tty, &u) == -1 ||
	    loop_run(u.loop) == -1) {
		warn("epoll");
		u.status = 1;
	}
	rl_callback_handler_remove();
done:
	if (u.sock != NULL)
		conn_destroy(u.sock);
	if (u.loop != NULL)
		loop_free(u.loop);
	frame_dec_free(&u.dec);
	free(u.vis);
	return u.status;
}

/* Write all of s to the socket fd (through t if not NULL); 0, or -1. */
static int
write_all(int fd, struct tls *t, const char *s, size_t len)
{
	struct pollfd pfd = { .fd = fd };
	ssize_t n;

	while (len > 0) {
		if ((n = t != NULL ? tls_write(t, s, len) :
		    write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			pfd.events = t != NULL ? tls_want(t) : POLLOUT;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		s += n;
		len -= n;
	}
	return 0;
}

/*
 * Be a member of the chat room on the connected socket fd as nick (NULL:
 * none sent): on a terminal, a line editor that shows incoming lines
 * above the line being typed; otherwise a plain line filter, which
 * makes control characters visible when its output is a terminal.
 * With crlf (-C) each line goes with CR LF.  Return the exit status: 0
 * when the room closes, 1 when the connection is lost or on a failure
 * (reported on stderr).
 */
int
chatui_run(int fd, struct tls *t, const char *nick, int verbose, int crlf)
{
	/* A room that closed takes no more lines, whatever stdin is. */
	struct pump_opts po = { .idle_ms = -1, .linger_ms = -1,
	    .eof_ends = 1, .peer = "room", .in_name = "standard input" };
	char line[NICK_MAX + 16];
	int rv;

	if (isatty(STDOUT_FILENO))
		return ui_run(fd, t, nick, isatty(STDIN_FILENO), verbose,
		    crlf);
	/* A filter for bots and scripts: lines in, lines out, no escapes. */
	if (nick != NULL) {
		snprintf(line, sizeof(line), "/nick %s%s", nick,
		    crlf ? "\r\n" : "\n");
		if (write_all(fd, t, line, strlen(line)) == -1) {
			warnx("room: %s", t != NULL && errno == EPROTO ?
			    tls_error(t) : strerror(errno));
			tls_free(t);
			return 1;
		}
	}
	po.crlf = crlf;
	po.tls = t;
	rv = pump_session(fd, &po, verbose);
	tls_free(t);
	return rv;
}
