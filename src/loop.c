#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#define MAXEVENTS	256

/*
 * An fd epoll cannot watch (a regular file, /dev/null) is always ready:
 * the loop calls it every turn while it asks for events.
 */
struct handler {
	loop_fn		*fn;
	void		*arg;
	int		 mask;
	int		 always;
	int		 watched;	/* in the epoll set */
};

struct loop_timer {
	int64_t		 when;
	loop_timer_fn	*fn;		/* NULL once cancelled */
	void		*arg;
};

#define ACCEPTS		256		/* accepts a wakeup */
#define EMFILE_PAUSE_MS	100

struct listener {
	struct listener	*next;
	int		 fd;
	loop_accept_fn	*fn;
	void		*arg;
};

struct deferred {
	loop_timer_fn	*fn;
	void		*arg;
};

struct loop {
	int		 ep;
	struct handler	*h;
	int		 nh;		/* size of h, indexed by fd */
	int		 nalways;
	struct loop_timer **heap;	/* min-heap on when */
	size_t		 nheap, heapcap;
	struct deferred	*defer;
	size_t		 ndefer, defercap;
	struct listener	*listeners;
	int		 stop;
	int64_t		 now;
};

static void	run_deferred(struct loop *);

/* Create an event loop, or return NULL with errno set. */
struct loop *
loop_new(void)
{
	struct loop *l;

	l = xcalloc(1, sizeof(*l));
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	l->now = now_ms();
	return l;
}

/* Run the deferred calls, then free the loop and its timers; fds stay open. */
void
loop_free(struct loop *l)
{
	struct listener *ls;
	size_t i;

	/* They free what closed in the last turn. */
	run_deferred(l);
	while ((ls = l->listeners) != NULL) {
		l->listeners = ls->next;
		free(ls);
	}
	for (i = 0; i < l->nheap; i++)
		free(l->heap[i]);
	free(l->heap);
	free(l->defer);
	free(l->h);
	close(l->ep);
	free(l);
}

static uint32_t
epmask(int mask)
{
	return (mask & LOOP_READ ? EPOLLIN : 0) |
	    (mask & LOOP_WRITE ? EPOLLOUT : 0);
}

/*
 * Call fn(l, fd, ready, arg) when fd is ready for mask (LOOP_READ,
 * LOOP_WRITE); return -1 with errno set on failure.
 */
int
loop_add(struct loop *l, int fd, int mask, loop_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = epmask(mask), .data.fd = fd };
	int n;

	if (fd >= l->nh) {
		n = MAXIMUM(fd + 1, l->nh * 2);
		l->h = xreallocarray(l->h, n, sizeof(*l->h));
		memset(l->h + l->nh, 0, (n - l->nh) * sizeof(*l->h));
		l->nh = n;
	}
	l->h[fd] = (struct handler){ fn, arg, mask, 0, 1 };
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		if (errno != EPERM) {
			l->h[fd].fn = NULL;
			return -1;
		}
		l->h[fd].always = 1;
		l->h[fd].watched = 0;
		l->nalways++;
	}
	return 0;
}

/* Change the events fd waits for (0: none for now). */
int
loop_mask(struct loop *l, int fd, int mask)
{
	struct epoll_event ev = { .events = epmask(mask), .data.fd = fd };

	if (fd < 0 || fd >= l->nh || l->h[fd].fn == NULL) {
		errno = EBADF;
		return -1;
	}
	if (l->h[fd].mask == mask)
		return 0;
	l->h[fd].mask = mask;
	if (l->h[fd].always)
		return 0;
	/*
	 * An fd with no events leaves the set: epoll would still report
	 * its hang-up, over and over, to a handler that is not reading.
	 */
	if (mask == 0) {
		l->h[fd].watched = 0;
		return epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	}
	if (!l->h[fd].watched) {
		l->h[fd].watched = 1;
		return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
	}
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Stop watching fd; do this before closing it. */
void
loop_del(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nh || l->h[fd].fn == NULL)
		return;
	if (l->h[fd].always)
		l->nalways--;
	else if (l->h[fd].watched)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->h[fd], 0, sizeof(l->h[fd]));
}

static void
heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
}

static void
heap_pop(struct loop *l)
{
	size_t i = 0, c;

	l->heap[0] = l->heap[--l->nheap];
	for (;;) {
		c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->when < l->heap[c]->when)
			c++;
		if (l->heap[i]->when <= l->heap[c]->when)
			break;
		heap_swap(l, i, c);
		i = c;
	}
}

/* Call fn(l, arg) once, ms milliseconds from now; return a handle. */
struct loop_timer *
loop_timer(struct loop *l, long ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t;
	size_t i;

	if (l->nheap == l->heapcap) {
		l->heapcap = MAXIMUM(16, l->heapcap * 2);
		l->heap = xreallocarray(l->heap, l->heapcap, sizeof(*l->heap));
	}
	t = xmalloc(sizeof(*t));
	t->when = now_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	i = l->nheap++;
	l->heap[i] = t;
	while (i > 0 && l->heap[(i - 1) / 2]->when > l->heap[i]->when) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return t;
}

/* Cancel a timer that has not fired yet; it is freed when it falls due. */
void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	(void)l;
	if (t != NULL)
		t->fn = NULL;
}

/* Call fn(l, arg) once this turn's events are handled (deferred close). */
void
loop_defer(struct loop *l, loop_timer_fn *fn, void *arg)
{
	if (l->ndefer == l->defercap) {
		l->defercap = MAXIMUM(16, l->defercap * 2);
		l->defer = xreallocarray(l->defer, l->defercap,
		    sizeof(*l->defer));
	}
	l->defer[l->ndefer++] = (struct deferred){ fn, arg };
}

static void
run_timers(struct loop *l)
{
	struct loop_timer *t;

	while (l->nheap > 0 && l->heap[0]->when <= l->now) {
		t = l->heap[0];
		heap_pop(l);
		if (t->fn != NULL)
			t->fn(l, t->arg);
		free(t);
	}
}

static void
run_deferred(struct loop *l)
{
	size_t i;

	/* Deferred calls may defer more; those run in the same pass. */
	for (i = 0; i < l->ndefer; i++)
		l->defer[i].fn(l, l->defer[i].arg);
	l->ndefer = 0;
}

static void
run_always(struct loop *l)
{
	int fd;

	for (fd = 0; fd < l->nh && !l->stop; fd++)
		if (l->h[fd].always && l->h[fd].mask != 0)
			l->h[fd].fn(l, fd, l->h[fd].mask, l->h[fd].arg);
}

static int
next_timeout(struct loop *l)
{
	int64_t ms;
	int fd;

	for (fd = 0; l->nalways > 0 && fd < l->nh; fd++)
		if (l->h[fd].always && l->h[fd].mask != 0)
			return 0;
	if (l->nheap == 0)
		return -1;
	ms = l->heap[0]->when - now_ms();
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void
listen_resume(struct loop *l, void *arg)
{
	struct listener *ls = arg;

	loop_mask(l, ls->fd, LOOP_READ);
}

/*
 * Accept what the backlog holds.  Out of descriptors, stop listening for
 * a moment instead of spinning; the clients wait in the backlog.
 */
static void
listen_io(struct loop *l, int fd, int ready, void *arg)
{
	struct listener *ls = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, cfd;

	(void)ready;
	for (i = 0; i < ACCEPTS; i++) {
		len = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd != -1) {
			ls->fn(l, cfd, (struct sockaddr *)&ss, len, ls->arg);
			/* The callback may have stopped listening on fd. */
			if (fd >= l->nh || l->h[fd].fn != listen_io)
				break;
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			loop_mask(l, fd, 0);
			loop_timer(l, EMFILE_PAUSE_MS, listen_resume, ls);
		}
		if (errno != EINTR && errno != ECONNABORTED)
			break;
	}
}

/* Accept connections on the listening socket fd, calling fn for each. */
int
loop_listen(struct loop *l, int fd, loop_accept_fn *fn, void *arg)
{
	struct listener *ls;

	ls = xcalloc(1, sizeof(*ls));
	ls->fd = fd;
	ls->fn = fn;
	ls->arg = arg;
	ls->next = l->listeners;
	l->listeners = ls;
	return loop_add(l, fd, LOOP_READ, listen_io, ls);
}

/* Dispatch events and timers until loop_stop(); return 0, or -1. */
int
loop_run(struct loop *l)
{
	struct epoll_event ev[MAXEVENTS];
	struct handler *h;
	int i, n, ready;

	while (!l->stop) {
		n = epoll_wait(l->ep, ev, MAXEVENTS, next_timeout(l));
		if (n == -1 && errno != EINTR)
			return -1;
		l->now = now_ms();
		for (i = 0; i < n && !l->stop; i++) {
			h = &l->h[ev[i].data.fd];
			/* A hang-up or error wakes whatever the fd waits for. */
			if (ev[i].events & (EPOLLHUP | EPOLLERR))
				ready = h->mask;
			else
				ready = (ev[i].events & EPOLLIN ? LOOP_READ : 0) |
				    (ev[i].events & EPOLLOUT ? LOOP_WRITE : 0);
			/* An fd closed earlier in this batch has no handler. */
			if (h->fn != NULL && (ready &= h->mask) != 0)
				h->fn(l, ev[i].data.fd, ready, h->arg);
		}
		run_always(l);
		run_deferred(l);
		run_timers(l);
		run_deferred(l);
	}
	return 0;
}

/* Make loop_run() return after the current event. */
void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

/* The loop's clock, read once per turn, in milliseconds. */
int64_t
loop_now(struct loop *l)
{
	return l->now;
}
