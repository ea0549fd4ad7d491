#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static const struct conn_cb sink_cb = { sink_data, NULL, NULL };
static const struct conn_cb src_cb = { src_data, NULL, NULL };

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

int
main(void)
{
	test_slices();
	return tap_done();
}
