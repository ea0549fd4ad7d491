/*
 * The SKAUTH1 handshake (SPEC.md, Authentication) as a state machine
 * that does no I/O, and auth_run(), a blocking driver over poll(2).
 *
 *	server -> client: "SKAUTH1\n" Ns
 *	client -> server: Nc HMAC-SHA256(key, "client" Ns Nc)
 *	server -> client: HMAC-SHA256(key, "server" Nc Ns)
 *
 * Use, in an event loop (a server) or around read/write (a client):
 * auth_init(); then, until auth_feed() says AUTH_OK or AUTH_FAIL,
 * send what auth_output() shows and report it with auth_sent(), and
 * feed received bytes to auth_feed(). auth_feed() consumes only the
 * handshake's own bytes: what follows them in the buffer is stream data.
 * At most auth_want() bytes are needed next, so a reader that reads no
 * more than that never reads past the handshake. A server that reaches
 * AUTH_OK still has its proof in auth_output() to send before any data.
 *
 * auth_run() drives either role on a blocking or non-blocking fd with
 * poll(2); it reads exactly what auth_want() asks, so stream data the
 * peer sends after the handshake stays in the socket for the caller.
 * Its *errstr: "authentication failed" (a wrong proof or magic, or, for
 * a client, a server that hung up on its proof), "authentication timed
 * out", "connection closed during authentication", or strerror(errno).
 * It writes with write(2): the program ignores SIGPIPE.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_MAGIC	"SKAUTH1\n"
#define AUTH_MAGICLEN	8
#define AUTH_NONCELEN	32
#define AUTH_MACLEN	32
#define AUTH_KEYMAX	4096
#define AUTH_TIMEOUT_MS	10000		/* a handshake without -w */

enum auth_role { AUTH_CLIENT, AUTH_SERVER };
enum auth_status { AUTH_MORE, AUTH_OK, AUTH_FAIL };

struct tls;

struct auth {
	enum auth_role		 role;
	enum auth_status	 status;
	int			 step;		/* messages received */
	const unsigned char	*key;		/* not owned */
	size_t			 keylen;
	unsigned char		 ns[AUTH_NONCELEN];
	unsigned char		 nc[AUTH_NONCELEN];
	unsigned char		 in[AUTH_NONCELEN + AUTH_MACLEN];
	size_t			 inlen;
	size_t			 need;		/* awaited message size */
	unsigned char		 out[AUTH_NONCELEN + AUTH_MACLEN];
	size_t			 outlen;
	size_t			 outoff;
};

/* Start a handshake; key must stay valid until it is over. */
void	auth_init(struct auth *, enum auth_role, const unsigned char *,
	    size_t);
/* Return how many bytes wait to be sent and point *p at them. */
size_t	auth_output(const struct auth *, const unsigned char **);
/* Mark n bytes of the pending output as sent. */
void	auth_sent(struct auth *, size_t);
/* Return the most bytes the handshake can consume next. */
size_t	auth_want(const struct auth *);
/* Consume handshake bytes from buf, set *used; return the status. */
enum auth_status
	auth_feed(struct auth *, const void *, size_t, size_t *);
/* Run a whole handshake on fd within timeout_ms (-1: none); 0 or -1. */
int	auth_run(int, struct tls *, struct auth *, int, const char **);
int	auth_handshake(int, struct tls *, enum auth_role,
	    const unsigned char *, size_t, long, const char **);

/*
 * Read a key: the file less one trailing newline; turn off core files
 * first. Return 0, or -1 and set *errstr.
 */
int	auth_key_load(const char *, unsigned char **, size_t *,
	    const char **);
/* Wipe and free a key from auth_key_load(). */
void	auth_key_free(unsigned char *, size_t);
/* Compute HMAC-SHA256 of msg under key into mac; 0, or -1 on failure. */
int	auth_hmac(const unsigned char *, size_t, const void *, size_t,
	    unsigned char [AUTH_MACLEN]);

#endif
