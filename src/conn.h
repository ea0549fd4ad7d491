#ifndef CONN_H
#define CONN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "auth.h"

struct hexdump;
struct loop;
struct tls;
struct tls_ctx;

/* A reference-counted message: one copy shared by every queue it is in. */
struct msg {
	unsigned int	 refs;
	unsigned int	 qrefs;		/* nodes of budgeted queues */
	size_t		 len;
	unsigned char	 data[];
};

/*
 * A queued slice of a message: len bytes of m from off.  The two share
 * a word so that a node stays 24 bytes (32 with malloc's header) however
 * many lines a fan-out queues; a longer slice takes several nodes.
 */
#define QNODE_MAX	((1 << 24) - 1)		/* bytes one node holds */

struct qnode {
	struct qnode	*next;
	struct msg	*m;		/* NULL: a free node */
	uint64_t	 off:40;	/* messages are under 1 TiB */
	uint64_t	 len:24;
};

/*
 * What a queued node costs a queue's bound beyond its payload: the node
 * and its malloc header, and a share of a message's header and malloc
 * header.  So --max-queue holds for one-byte lines as for long ones.
 */
#define QNODE_SIZE	(sizeof(struct qnode) + 8)
#define QNODE_COST	(QNODE_SIZE + sizeof(struct msg) + 16)

/*
 * A server's memory budget: the real bytes its connections' out-queues
 * and input decoders hold: every node, and every message they share
 * once, as malloc has it.  max 0 means no bound.
 */
struct budget {
	size_t		 used;
	size_t		 max;
};

struct conn;

struct conn_cb {
	/* Bytes arrived; len 0 means the peer's EOF. */
	void	(*data)(struct conn *, const unsigned char *, size_t);
	/* The out-queue has just become empty. */
	void	(*drained)(struct conn *);
	/* The connection is closing; why is NULL for an orderly end. */
	void	(*closed)(struct conn *, const char *);
	/* Data may flow: at conn_start(), or after its TLS handshake. */
	void	(*ready)(struct conn *);
};

struct conn {
	TAILQ_ENTRY(conn) entry;	/* for the owner's list */
	struct loop	*loop;
	int		 fd;
	char		 name[ADDR_STRLEN];
	struct sockaddr_storage ss;
	struct qnode	*head, *tail;
	struct qnode	 q0;		/* a node that needs no malloc */
	size_t		 queued, maxq;	/* real bytes, QNODE_COST a node */
	size_t		 held;		/* the owner's decoder, in bytes */
	struct budget	*budget;	/* the server's, or NULL */
	size_t		 rmax;		/* bytes read a wakeup; 0: READSZ */
	/* After conn_send_slice(): over maxq after a flush; see conn_full. */
	void		(*full)(struct conn *);
	int		 paused;	/* not reading */
	int		 eof;		/* the peer sent EOF */
	int		 wr_shut;	/* shut down after the queue drains */
	int		 close_drained;	/* close once the queue drains */
	int		 dead;
	int		 err;		/* errno of a failed read or write */
	int		 blocking;	/* a blocking fd such as stdin */
	int		 later;		/* a deferred flush is due */
	int64_t		 last;		/* last traffic, loop clock */
	int64_t		 born;		/* accepted, loop clock */
	const struct conn_cb *cb;
	void		*arg;		/* the owner's */
	uint64_t	 nin, nout;	/* bytes read, written */
	struct tls	*tls;		/* the connection's TLS, or NULL */
	int		 hs;		/* the TLS handshake is under way */
	int		 trunc;		/* TLS: EOF without close_notify */
	int		 tls_rw;	/* TLS: the last call wants POLLOUT */
	struct hexdump	*hd;		/* --hexdump, or NULL */
	uint64_t	 dumped[2];	/* --hexdump: bytes out, in */
};

TAILQ_HEAD(connlist, conn);

struct msg	*msg_new(const void *, size_t);
struct msg	*msg_fmt(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 msg_unref(struct msg *);
struct conn	*conn_new(struct loop *, int, const struct sockaddr *,
		    socklen_t, size_t, const struct conn_cb *, void *);
int		 conn_send(struct conn *, struct msg *);
int		 conn_send_later(struct conn *, struct msg *);
int		 conn_send_slice(struct conn *, struct msg *, size_t, size_t);
int		 conn_write(struct conn *, const void *, size_t);
enum auth_status conn_auth(struct conn *, struct auth *,
		    const unsigned char **, size_t *);
void		 conn_pause(struct conn *, int);
void		 conn_shutdown(struct conn *);
void		 conn_close(struct conn *, const char *);
void		 conn_finish(struct conn *);
void		 conn_forget(struct conn *);
void		 conn_flush_sync(struct conn *);
const char	*conn_expired(const struct conn *, int, long);
struct conn	*conn_stdout(struct loop *, size_t, const struct conn_cb *,
		    void *);
void		 conn_destroy(struct conn *);
int		 conn_out_failed(const struct conn *, const char *);
void		 conn_full(struct conn *, void (*)(struct conn *));
void		 conn_maxq(struct conn *, size_t);
void		 conn_budget(struct conn *, struct budget *);
void		 conn_hold(struct conn *, size_t);
size_t		 conn_holding(const struct conn *);
int		 budget_over(const struct budget *);
void		 conn_read_max(struct conn *, size_t);
void		 conn_hexdump(struct conn *, struct hexdump *);
void		 conn_tls(struct conn *, struct tls *, int);
void		 conn_start(struct conn *, struct tls_ctx *);
int		 conn_handshaking(const struct conn *);
const struct tls *conn_tls_session(const struct conn *);

#endif
