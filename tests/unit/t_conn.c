#include <sys/socket.h>

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "loop.h"
#include "tap.h"

/*
 * conn's out-queue: whole messages and slices of one, and a message
 * longer than one queue node holds, arrive in order and intact at the
 * other end of a socketpair read in the same loop.
 */
struct sink {
	unsigned char	*buf;
	size_t		 len, want;
};

static void
sink_data(struct conn *c, const unsigned char *p, size_t len)
{
	struct sink *s = c->arg;

	if (len == 0 || s->len + len > s->want) {
		loop_stop(c->loop);
		return;
	}
	memcpy(s->buf + s->len, p, len);
	if ((s->len += len) == s->want)
		loop_stop(c->loop);
}

static void
src_data(struct conn *c, const unsigned char *p, size_t len)
{
	(void)c;
	(void)p;
	(void)len;
}

static const struct conn_cb sink_cb = { sink_data, NULL, NULL, NULL };
static const struct conn_cb src_cb = { src_data, NULL, NULL, NULL };

static void
put(unsigned char *buf, size_t *n, const void *p, size_t len)
{
	memcpy(buf + *n, p, len);
	*n += len;
}

static void
fill(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->len; i++)
		m->data[i] = (unsigned char)(i * 7 + i / 251);
}

static void
test_slices(void)
{
	struct loop *l;
	struct conn *src, *dst;
	struct msg *small, *big;
	struct sink s;
	unsigned char *want;
	size_t bigsz = (size_t)QNODE_MAX * 2 + 1000, n = 0;
	int sv[2];

	ok(sizeof(struct qnode) <= 3 * sizeof(void *), "conn: a queue node "
	    "is three words (%zu bytes)", sizeof(struct qnode));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	l = loop_new();
	src = conn_new(l, sv[0], NULL, 0, SIZE_MAX, &src_cb, NULL);
	memset(&s, 0, sizeof(s));
	dst = conn_new(l, sv[1], NULL, 0, SIZE_MAX, &sink_cb, &s);
	small = msg_new("0123456789", 10);
	big = msg_new(NULL, bigsz);
	fill(big);
	s.want = 10 + 3 + 4 + bigsz + 0 + 5;
	s.buf = malloc(s.want);
	want = malloc(s.want);
	put(want, &n, small->data, 10);
	put(want, &n, "234", 3);
	put(want, &n, "6789", 4);
	put(want, &n, big->data, bigsz);
	put(want, &n, big->data + bigsz - 5, 5);
	ok(conn_send(src, small) == 0, "conn: send a message");
	ok(conn_send_slice(src, small, 2, 3) == 0, "conn: send a slice");
	ok(conn_send_slice(src, small, 6, 4) == 0, "conn: send a tail");
	ok(conn_send(src, big) == 0, "conn: send %zu bytes", bigsz);
	ok(conn_send_slice(src, small, 3, 0) == 0, "conn: an empty slice");
	ok(conn_send_slice(src, big, bigsz - 5, 5) == 0,
	    "conn: a slice far into a long message");
	msg_unref(small);
	msg_unref(big);
	/* The first send was written at once: the loop wakes for it. */
	loop_run(l);
	ok(s.len == s.want && memcmp(s.buf, want, s.want) == 0,
	    "conn: %zu of %zu bytes arrive in order", s.len, s.want);
	ok(src->head == NULL && src->queued == 0, "conn: the queue is empty");
	conn_destroy(src);
	conn_destroy(dst);
	loop_free(l);
	free(s.buf);
	free(want);
}

/*
 * A queue counts its slices with QNODE_COST a node; a slice that goes on
 * from the last one extends its node; a budget counts the nodes and each
 * shared message once, and a closed connection's bytes leave it at once.
 */
static void
test_budget(void)
{
	struct budget b = { 0, 0 };
	struct loop *l;
	struct conn *a, *c;
	struct msg *m;
	size_t msz;
	int sv[2], sw[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sw) == -1)
		abort();
	l = loop_new();
	a = conn_new(l, sv[0], NULL, 0, SIZE_MAX, &src_cb, NULL);
	c = conn_new(l, sw[0], NULL, 0, SIZE_MAX, &src_cb, NULL);
	conn_budget(a, &b);
	conn_budget(c, &b);
	m = msg_new(NULL, 100);
	msz = malloc_usable_size(m) + 8;
	conn_send_slice(a, m, 0, 50);
	ok(a->queued == 50 + QNODE_COST, "budget: a slice costs its bytes "
	    "and QNODE_COST (%zu)", a->queued);
	ok(b.used == QNODE_SIZE + msz, "budget: a node and the message "
	    "(%zu)", b.used);
	conn_send_slice(a, m, 50, 50);
	ok(a->head == a->tail && a->queued == 100 + QNODE_COST,
	    "budget: the next slice extends the node");
	conn_send_slice(c, m, 0, 100);
	ok(b.used == 2 * QNODE_SIZE + msz, "budget: a shared message counts "
	    "once (%zu)", b.used);
	conn_hold(a, 1000);
	ok(b.used == 2 * QNODE_SIZE + msz + 1000 &&
	    conn_holding(a) == 100 + QNODE_COST + 1000,
	    "budget: a decoder's bytes count");
	b.max = b.used;
	ok(!budget_over(&b), "budget: at its bound is not over");
	b.max--;
	ok(budget_over(&b), "budget: one byte more is over");
	conn_close(a, NULL);
	ok(b.used == QNODE_SIZE + msz, "budget: a closed connection's bytes "
	    "leave at once (%zu)", b.used);
	conn_close(c, NULL);
	ok(b.used == 0, "budget: back to 0 (%zu)", b.used);
	msg_unref(m);
	loop_free(l);
	close(sv[1]);
	close(sw[1]);
}

static int	fulls;

static void
on_full(struct conn *c)
{
	(void)c;
	fulls++;
}

static struct conn	*fconn;
static struct msg	*fmsg;

/* After a turn of the 4K slice: check it, then queue all 8M. */
static void
phase2(struct loop *l, void *arg)
{
	(void)l;
	(void)arg;
	ok(fulls == 0 && fconn->queued == 0, "full: 4K over a 1K bound, "
	    "written at once, is not too slow");
	conn_send_slice(fconn, fmsg, 0, fmsg->len);
}

static void
stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

/*
 * The bound of conn_send_slice() is judged after the turn's write: a
 * burst the socket takes at once is not too much, one it cannot take is.
 */
static void
test_full(void)
{
	struct loop *l;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	l = loop_new();
	fconn = conn_new(l, sv[0], NULL, 0, 1024, &src_cb, NULL);
	conn_full(fconn, on_full);
	fmsg = msg_new(NULL, 8 * 1024 * 1024);
	memset(fmsg->data, 'x', fmsg->len);
	conn_send_slice(fconn, fmsg, 0, 4096);
	loop_timer(l, 20, phase2, NULL);
	loop_timer(l, 40, stop, NULL);
	loop_run(l);
	ok(fulls == 1, "full: 8M the socket cannot take is too slow");
	msg_unref(fmsg);
	conn_destroy(fconn);
	loop_free(l);
	close(sv[1]);
}

int
main(void)
{
	test_slices();
	test_budget();
	test_full();
	return tap_done();
}
