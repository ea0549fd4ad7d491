#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "tls.h"
#include "util.h"

#define LABELLEN	6

/*
 * Proofs are compared with OpenSSL's constant-time CRYPTO_memcmp():
 * Debian 12's libbsd 0.11 has no timingsafe_bcmp().
 */

/* Compute HMAC-SHA256 of msg under key into mac; 0, or -1 on failure. */
int
auth_hmac(const unsigned char *key, size_t keylen, const void *msg,
    size_t len, unsigned char mac[AUTH_MACLEN])
{
	unsigned int maclen = 0;

	if (keylen > INT_MAX)
		return -1;
	if (HMAC(EVP_sha256(), keylen > 0 ? key : (const unsigned char *)"",
	    (int)keylen, msg, len, mac, &maclen) == NULL ||
	    maclen != AUTH_MACLEN)
		return -1;
	return 0;
}

/* Compute HMAC(key, label || first || second), label being 6 bytes. */
static int
proof(const struct auth *a, const char *label, const unsigned char *first,
    const unsigned char *second, unsigned char mac[AUTH_MACLEN])
{
	unsigned char msg[LABELLEN + 2 * AUTH_NONCELEN];

	memcpy(msg, label, LABELLEN);
	memcpy(msg + LABELLEN, first, AUTH_NONCELEN);
	memcpy(msg + LABELLEN + AUTH_NONCELEN, second, AUTH_NONCELEN);
	return auth_hmac(a->key, a->keylen, msg, sizeof(msg), mac);
}

/* Start a handshake; key must stay valid until it is over. */
void
auth_init(struct auth *a, enum auth_role role, const unsigned char *key,
    size_t keylen)
{
	memset(a, 0, sizeof(*a));
	a->role = role;
	a->status = AUTH_MORE;
	a->key = key;
	a->keylen = keylen;
	if (role == AUTH_SERVER) {
		arc4random_buf(a->ns, sizeof(a->ns));
		memcpy(a->out, AUTH_MAGIC, AUTH_MAGICLEN);
		memcpy(a->out + AUTH_MAGICLEN, a->ns, AUTH_NONCELEN);
		a->outlen = AUTH_MAGICLEN + AUTH_NONCELEN;
		a->need = AUTH_NONCELEN + AUTH_MACLEN;
	} else
		a->need = AUTH_MAGICLEN + AUTH_NONCELEN;
}

/* Return how many bytes wait to be sent and point *p at them. */
size_t
auth_output(const struct auth *a, const unsigned char **p)
{
	*p = a->out + a->outoff;
	return a->outlen - a->outoff;
}

/* Mark n bytes of the pending output as sent. */
void
auth_sent(struct auth *a, size_t n)
{
	a->outoff += MINIMUM(n, a->outlen - a->outoff);
}

/* Return the most bytes the handshake can consume next. */
size_t
auth_want(const struct auth *a)
{
	if (a->status != AUTH_MORE)
		return 0;
	return a->need - a->inlen;
}

/* The server has Nc and the client's proof: check it, queue its own. */
static enum auth_status
server_check(struct auth *a)
{
	unsigned char mac[AUTH_MACLEN];

	memcpy(a->nc, a->in, AUTH_NONCELEN);
	if (proof(a, "client", a->ns, a->nc, mac) == -1 ||
	    CRYPTO_memcmp(mac, a->in + AUTH_NONCELEN, AUTH_MACLEN) != 0)
		return AUTH_FAIL;
	if (proof(a, "server", a->nc, a->ns, a->out) == -1)
		return AUTH_FAIL;
	a->outlen = AUTH_MACLEN;
	a->outoff = 0;
	return AUTH_OK;
}

/* The client has the greeting: answer it; then check the server. */
static enum auth_status
client_step(struct auth *a)
{
	unsigned char mac[AUTH_MACLEN];

	if (a->step == 1) {
		if (proof(a, "server", a->nc, a->ns, mac) == -1 ||
		    CRYPTO_memcmp(mac, a->in, AUTH_MACLEN) != 0)
			return AUTH_FAIL;
		return AUTH_OK;
	}
	memcpy(a->ns, a->in + AUTH_MAGICLEN, AUTH_NONCELEN);
	arc4random_buf(a->nc, sizeof(a->nc));
	memcpy(a->out, a->nc, AUTH_NONCELEN);
	if (proof(a, "client", a->ns, a->nc, a->out + AUTH_NONCELEN) == -1)
		return AUTH_FAIL;
	a->outlen = AUTH_NONCELEN + AUTH_MACLEN;
	a->outoff = 0;
	a->need = AUTH_MACLEN;
	a->step = 1;
	return AUTH_MORE;
}

/* Consume handshake bytes from buf, set *used; return the status. */
enum auth_status
auth_feed(struct auth *a, const void *buf, size_t len, size_t *used)
{
	const unsigned char *p = buf;
	size_t n;

	*used = 0;
	while (a->status == AUTH_MORE && *used < len) {
		n = MINIMUM(len - *used, a->need - a->inlen);
		memcpy(a->in + a->inlen, p + *used, n);
		a->inlen += n;
		*used += n;
		/* A client fails at the first byte that is not the magic. */
		if (a->role == AUTH_CLIENT && a->step == 0 &&
		    memcmp(a->in, AUTH_MAGIC,
		    MINIMUM(a->inlen, AUTH_MAGICLEN)) != 0)
			a->status = AUTH_FAIL;
		else if (a->inlen == a->need) {
			a->inlen = 0;
			a->status = a->role == AUTH_SERVER ?
			    server_check(a) : client_step(a);
		}
	}
	return a->status;
}

/* Wait until fd is ready for events or the deadline (-1: none) passes. */
static int
wait_fd(int fd, short events, int64_t deadline, const char **errstr)
{
	struct pollfd pfd;
	int64_t left;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0) {
			*errstr = "authentication timed out";
			return -1;
		}
		switch (poll(&pfd, 1, (int)MINIMUM(left, INT_MAX))) {
		case -1:
			if (errno != EINTR) {
				*errstr = strerror(errno);
				return -1;
			}
			break;
		case 0:
			break;
		default:
			return 0;
		}
	}
}

/*
 * Read no more than the handshake wants, so stream data behind it stays
 * in the socket. A server that rejects the client's proof closes the
 * connection, so a client that sees EOF there has failed.
 */
static int
recv_step(int fd, struct tls *t, struct auth *a, int64_t deadline,
    const char **errstr)
{
	unsigned char buf[AUTH_NONCELEN + AUTH_MACLEN];
	ssize_t n;
	size_t used;

	/* TLS may hold decrypted bytes that poll(2) does not see. */
	if ((t == NULL || !tls_pending(t)) && wait_fd(fd, t != NULL ?
	    tls_want(t) : POLLIN, deadline, errstr) == -1)
		return -1;
	if ((n = t != NULL ? tls_read(t, buf, auth_want(a)) :
	    read(fd, buf, auth_want(a))) == -1 && t != NULL &&
	    errno == EPROTO && tls_truncated(t))
		n = 0;		/* a server that refuses closes, as it may */
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		*errstr = errno == EPROTO && t != NULL ? tls_error(t) :
		    sock_strerror(errno);
		return -1;
	}
	if (n == 0) {
		*errstr = a->role == AUTH_CLIENT && a->step == 1 ?
		    "authentication failed" :
		    "connection closed during authentication";
		return -1;
	}
	auth_feed(a, buf, n, &used);
	return 0;
}

/* Send what the handshake has queued; the caller ignores SIGPIPE. */
static int
send_step(int fd, struct tls *t, struct auth *a, int64_t deadline,
    const char **errstr)
{
	const unsigned char *p;
	size_t len;
	ssize_t n;

	len = auth_output(a, &p);
	if (wait_fd(fd, POLLOUT, deadline, errstr) == -1)
		return -1;
	if ((n = t != NULL ? tls_write(t, p, len) : write(fd, p, len)) ==
	    -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		*errstr = errno == EPROTO && t != NULL ? tls_error(t) :
		    sock_strerror(errno);
		return -1;
	}
	auth_sent(a, n);
	return 0;
}

/* Run a whole handshake on fd within timeout_ms (-1: none); 0 or -1. */
int
auth_run(int fd, struct tls *t, struct auth *a, int timeout_ms,
    const char **errstr)
{
	const unsigned char *p;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int r, one = 1;

	/* Small handshake messages wait for no ACK (Nagle); data after too. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		if (a->status == AUTH_FAIL) {
			*errstr = "authentication failed";
			return -1;
		}
		if (auth_output(a, &p) > 0)
			r = send_step(fd, t, a, deadline, errstr);
		else if (a->status == AUTH_OK)
			return 0;
		else
			r = recv_step(fd, t, a, deadline, errstr);
		if (r == -1)
			return -1;
	}
}

/*
 * Run a whole handshake in role on the connected fd with key, within
 * timeout_ms (-1: AUTH_TIMEOUT_MS); return 0, or -1 and set *errstr.
 */
int
auth_handshake(int fd, struct tls *t, enum auth_role role,
    const unsigned char *key, size_t keylen, long timeout_ms,
    const char **errstr)
{
	struct auth a;
	int rv;

	auth_init(&a, role, key, keylen);
	rv = auth_run(fd, t, &a, timeout_ms >= 0 ?
	    (int)MINIMUM(timeout_ms, INT_MAX) : AUTH_TIMEOUT_MS, errstr);
	explicit_bzero(&a, sizeof(a));
	return rv;
}

/* Read up to size bytes, retrying short reads; return the count or -1. */
static ssize_t
read_full(int fd, unsigned char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off < size) {
		if ((n = read(fd, buf + off, size - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		off += n;
	}
	return (ssize_t)off;
}

/* Read a key: the file less one trailing newline; 0, or -1 and *errstr. */
int
auth_key_load(const char *path, unsigned char **key, size_t *keylen,
    const char **errstr)
{
	unsigned char buf[AUTH_KEYMAX + 2];
	struct rlimit core = { 0, 0 };
	ssize_t n;
	int fd, saved, rc = -1;

	/* A process that holds a key writes no core file. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	(void)setrlimit(RLIMIT_CORE, &core);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	n = read_full(fd, buf, sizeof(buf));
	saved = errno;
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n == -1)
		*errstr = strerror(saved);
	else if (n == 0)
		*errstr = "empty key";
	else if (n > AUTH_KEYMAX)
		*errstr = "key longer than 4096 bytes";
	else if ((*key = malloc(n)) == NULL)
		*errstr = strerror(errno);
	else {
		memcpy(*key, buf, n);
		*keylen = n;
		rc = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* Wipe and free a key from auth_key_load(). */
void
auth_key_free(unsigned char *key, size_t keylen)
{
	if (key == NULL)
		return;
	explicit_bzero(key, keylen);
	free(key);
}
