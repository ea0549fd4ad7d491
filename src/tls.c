#include <sys/socket.h>

#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "util.h"

#define TLS_WAIT_MS	10000		/* a handshake without -w */
#define EPHEMERAL_DAYS	30
#define READ_AHEAD	(64 * 1024)	/* bytes one read of the socket takes */

struct tls_ctx {
	SSL_CTX		*ctx;
	struct tls_opts	 o;
	int		 server;
};

struct tls {
	SSL		*ssl;
	struct tls_ctx	*tc;
	int		 fd;
	int		 want;		/* POLLIN or POLLOUT */
	int		 notified;	/* our close_notify is out */
	int		 trunc;		/* EOF came without close_notify */
	int		 starved;	/* the last read wanted the socket */
	uint64_t	 plain;		/* plaintext bytes written */
	struct marks	 marks;		/* wire bytes, plaintext bytes */
	char		 name[256];	/* what a client verifies */
	char		 err[320];
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse a pin: SHA256: (either case, or none) and 64 hex digits, which
 * may come in pairs separated by colons, as openssl prints them.
 */
int
tls_parse_pin(const char *s, unsigned char pin[TLS_PINLEN],
    const char **errstr)
{
	size_t n = 0;
	int hi, lo;

	if (strncasecmp(s, "SHA256:", 7) == 0)
		s += 7;
	while (*s != '\0') {
		if (n > 0 && *s == ':')
			s++;
		if (n == TLS_PINLEN || (hi = hexval(s[0])) == -1 ||
		    (lo = hexval(s[1])) == -1)
			goto bad;
		pin[n++] = hi << 4 | lo;
		s += 2;
	}
	if (n == TLS_PINLEN)
		return 0;
bad:
	*errstr = "not SHA256: and 64 hex digits";
	return -1;
}

/* Parse a comma-separated ALPN list into its wire form. */
int
tls_parse_alpn(const char *s, unsigned char *out, size_t *outlen,
    const char **errstr)
{
	const char *e;
	size_t len, n = 0;

	for (;;) {
		e = strchr(s, ',');
		len = e != NULL ? (size_t)(e - s) : strlen(s);
		if (len == 0 || len > 255) {
			*errstr = len == 0 ? "empty protocol name" :
			    "protocol name longer than 255 bytes";
			return -1;
		}
		if (n + 1 + len > TLS_ALPNMAX) {
			*errstr = "list longer than 255 bytes";
			return -1;
		}
		out[n++] = len;
		memcpy(out + n, s, len);
		n += len;
		if (e == NULL)
			break;
		s = e + 1;
	}
	*outlen = n;
	return 0;
}

void
tls_fmt_pin(const unsigned char pin[TLS_PINLEN], char out[TLS_PINSTRLEN])
{
	int i;

	memcpy(out, "SHA256:", 7);
	for (i = 0; i < TLS_PINLEN; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", pin[i]);
}

/*
 * The name a client verifies for HOST as given: [::1] is the address
 * ::1.  Return 0, or -1 if it does not fit size.
 */
int
tls_host_name(const char *host, char *buf, size_t size)
{
	size_t len = strlen(host);

	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= size)
		return -1;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return 0;
}

/* True if name is an IPv4 or IPv6 address (not sent as SNI). */
int
tls_name_is_addr(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1;
}

/*
 * The reason for the queued OpenSSL errors: a system error's own (a
 * missing file), else the last one's; what if there is none.
 */
static const char *
ssl_reason(const char *what)
{
	unsigned long e, last = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e))
			return strerror(ERR_GET_REASON(e));
		last = e;
	}
	if (last == 0 || (r = ERR_reason_error_string(last)) == NULL)
		return what;
	return r;
}

static int
ctx_fail(struct tls_ctx *tc, const char *what, const char *file,
    const char **errstr)
{
	static char buf[PATH_MAX + 128];

	if (file != NULL)
		snprintf(buf, sizeof(buf), "%s %s: %s", what, file,
		    ssl_reason("cannot read it"));
	else
		snprintf(buf, sizeof(buf), "%s: %s", what,
		    ssl_reason("failed"));
	*errstr = buf;
	ERR_clear_error();
	tls_ctx_free(tc);
	return -1;
}

/* The SHA-256 of x's DER form. */
static void
cert_pin(X509 *x, unsigned char pin[TLS_PINLEN])
{
	unsigned int len = TLS_PINLEN;

	if (X509_digest(x, EVP_sha256(), pin, &len) != 1)
		memset(pin, 0, TLS_PINLEN);
}

/*
 * A self-signed ECDSA P-256 certificate made now, for a server that was
 * given none; its pin is what a client pins.
 */
static int
ephemeral(SSL_CTX *ctx, char pinstr[TLS_PINSTRLEN])
{
	unsigned char pin[TLS_PINLEN], serial[8];
	X509V3_CTX v3;
	X509_EXTENSION *ext = NULL;
	EVP_PKEY *pk;
	X509_NAME *nm;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	int ok = 0;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto out;
	arc4random_buf(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)EPHEMERAL_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, pk) != 1)
		goto out;
	nm = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"sockkit ephemeral", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, nm) != 1)
		goto out;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1,IP:::1")) == NULL ||
	    X509_add_ext(x, ext, -1) != 1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0 ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		goto out;
	cert_pin(x, pin);
	tls_fmt_pin(pin, pinstr);
	ok = 1;
out:
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

/* A pin, without a CA, stands in for chain validation: take any chain. */
static int
verify_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

/* Server: pick the client's first protocol that we accept, or refuse. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_ctx *tc = arg;
	unsigned char *sel;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, tc->o.alpn, tc->o.alpnlen,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/*
 * Make the context a command uses for every connection: server != 0 for
 * the accepting side.  A server without --tls-cert gets an ephemeral
 * certificate and its pin in pin (else pin is ""); NULL and *errstr on
 * failure.
 */
struct tls_ctx *
tls_ctx_new(const struct tls_opts *o, int server, char pin[TLS_PINSTRLEN],
    const char **errstr)
{
	struct tls_ctx *tc;
	STACK_OF(X509_NAME) *names;
	int mode = SSL_VERIFY_NONE;

	pin[0] = '\0';
	tc = xcalloc(1, sizeof(*tc));
	tc->o = *o;
	tc->server = server;
	if ((tc->ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method())) == NULL)
		return ctx_fail(tc, "TLS", NULL, errstr), NULL;
	SSL_CTX_set_min_proto_version(tc->ctx, o->min13 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(tc->ctx, 1);
	SSL_CTX_set_default_read_buffer_len(tc->ctx, READ_AHEAD);
#ifdef SSL_OP_ENABLE_KTLS
	SSL_CTX_set_options(tc->ctx, SSL_OP_ENABLE_KTLS);
#endif
	if (o->cert != NULL && SSL_CTX_use_certificate_chain_file(tc->ctx,
	    o->cert) != 1)
		return ctx_fail(tc, "TLS certificate", o->cert, errstr), NULL;
	if (o->cert != NULL && SSL_CTX_use_PrivateKey_file(tc->ctx,
	    o->key != NULL ? o->key : o->cert, SSL_FILETYPE_PEM) != 1)
		return ctx_fail(tc, "TLS key", o->key != NULL ? o->key :
		    o->cert, errstr), NULL;
	if (o->cert != NULL && SSL_CTX_check_private_key(tc->ctx) != 1)
		return ctx_fail(tc, "TLS key", o->key != NULL ? o->key :
		    o->cert, errstr), NULL;
	if (server && o->cert == NULL && ephemeral(tc->ctx, pin) == -1)
		return ctx_fail(tc, "TLS ephemeral certificate", NULL,
		    errstr), NULL;
	if (o->ca != NULL && SSL_CTX_load_verify_locations(tc->ctx, o->ca,
	    NULL) != 1)
		return ctx_fail(tc, "TLS CA file", o->ca, errstr), NULL;
	if (!server && o->ca == NULL && !o->insecure && o->npins == 0 &&
	    SSL_CTX_set_default_verify_paths(tc->ctx) != 1)
		return ctx_fail(tc, "TLS system CA store", NULL, errstr),
		    NULL;
	if (server) {
		/* Tickets sit unread in a client that exits: resets. */
		SSL_CTX_set_num_tickets(tc->ctx, 0);
		SSL_CTX_set_options(tc->ctx, SSL_OP_NO_TICKET);
		if (o->verify_client || o->npins > 0)
			mode = SSL_VERIFY_PEER |
			    SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		if (o->verify_client && o->ca != NULL &&
		    (names = SSL_load_client_CA_file(o->ca)) != NULL)
			SSL_CTX_set_client_CA_list(tc->ctx, names);
		if (o->alpnlen > 0)
			SSL_CTX_set_alpn_select_cb(tc->ctx, alpn_select, tc);
	} else {
		if (!o->insecure)
			mode = SSL_VERIFY_PEER;
		if (o->alpnlen > 0 && SSL_CTX_set_alpn_protos(tc->ctx,
		    o->alpn, o->alpnlen) != 0)
			return ctx_fail(tc, "TLS ALPN", NULL, errstr), NULL;
	}
	SSL_CTX_set_verify(tc->ctx, mode, o->npins > 0 && o->ca == NULL &&
	    !(server && o->verify_client) ? verify_any : NULL);
	return tc;
}

void
tls_ctx_free(struct tls_ctx *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

/*
 * A session on the connected socket fd.  A client verifies name (or the
 * context's --tls-name) and sends it as SNI unless it is an address.
 */
struct tls *
tls_new(struct tls_ctx *tc, int fd, const char *name)
{
	struct tls *t;
	const char *n;
	int names;

	t = xcalloc(1, sizeof(*t));
	t->tc = tc;
	t->fd = fd;
	if ((t->ssl = SSL_new(tc->ctx)) == NULL || SSL_set_fd(t->ssl, fd)
	    != 1) {
		SSL_free(t->ssl);
		free(t);
		return NULL;
	}
	if (tc->server) {
		SSL_set_accept_state(t->ssl);
		return t;
	}
	SSL_set_connect_state(t->ssl);
	n = tc->o.name != NULL ? tc->o.name : name;
	if (n == NULL)
		return t;
	strlcpy(t->name, n, sizeof(t->name));
	/* A name is verified unless a pin alone, or nothing, stands for it. */
	names = !tc->o.insecure && (tc->o.npins == 0 || tc->o.ca != NULL);
	if (!tls_name_is_addr(n))
		SSL_set_tlsext_host_name(t->ssl, n);
	if (names && tls_name_is_addr(n))
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), n);
	else if (names)
		SSL_set1_host(t->ssl, n);
	return t;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	free(t);
}

/* Give buffers back while idle: for servers of many clients. */
void
tls_cheap(struct tls *t)
{
	/* One record's buffer, not the read-ahead's, and only while used. */
	SSL_set_read_ahead(t->ssl, 0);
	SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
}

/* Set errno and t->err for a failed call whose SSL_get_error is e. */
static int
io_fail(struct tls *t, int e, int handshake)
{
	unsigned long reason;
	long v;
	int saved = errno;

	/* After a truncation every call fails: the first reason stands. */
	if (t->trunc && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		t->want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && saved != 0) {
			snprintf(t->err, sizeof(t->err), "%s%s",
			    handshake ? "TLS handshake: " : "",
			    sock_strerror(saved));
			ERR_clear_error();
			errno = saved;
			return -1;
		}
		break;
	}
	reason = ERR_GET_REASON(ERR_peek_last_error());
	if (handshake && reason == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    (v = SSL_get_verify_result(t->ssl)) != X509_V_OK)
		if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
		    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
			snprintf(t->err, sizeof(t->err),
			    "TLS: certificate does not match %s", t->name);
		else
			snprintf(t->err, sizeof(t->err),
			    "TLS: certificate verify failed: %s",
			    X509_verify_cert_error_string(v));
	else if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
	    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
		t->trunc = !handshake;
		snprintf(t->err, sizeof(t->err), handshake ?
		    "TLS: connection closed during the handshake" :
		    "TLS: connection closed without close_notify");
	} else
		snprintf(t->err, sizeof(t->err), "TLS: %s",
		    ssl_reason("protocol error"));
	ERR_clear_error();
	errno = EPROTO;
	return -1;
}

/* After the handshake: the pins, if any, must match the peer's. */
static int
check_pin(struct tls *t)
{
	unsigned char pin[TLS_PINLEN];
	char s[TLS_PINSTRLEN];
	X509 *x;
	int i;

	if (t->tc->o.npins == 0)
		return 0;
	if ((x = SSL_get1_peer_certificate(t->ssl)) == NULL) {
		snprintf(t->err, sizeof(t->err),
		    "TLS: the peer sent no certificate");
		errno = EPROTO;
		return -1;
	}
	cert_pin(x, pin);
	X509_free(x);
	for (i = 0; i < t->tc->o.npins; i++)
		if (memcmp(pin, t->tc->o.pins[i], TLS_PINLEN) == 0)
			return 0;
	tls_fmt_pin(pin, s);
	snprintf(t->err, sizeof(t->err), "TLS: pin mismatch: peer is %s", s);
	errno = EPROTO;
	return -1;
}

/*
 * One step of the handshake: 0 once it is done (and the pins checked),
 * -1 with errno EAGAIN while it waits for the socket (tls_want()), or
 * EPROTO (tls_error()), or the socket's own error.
 */
int
tls_handshake(struct tls *t)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(t->ssl)) == 1)
		return check_pin(t);
	if (io_fail(t, SSL_get_error(t->ssl, r), 1) == 0) {
		snprintf(t->err, sizeof(t->err),
		    "TLS: connection closed during the handshake");
		errno = EPROTO;
	}
	return -1;
}

/* The whole handshake on a blocking wait, within timeout_ms (-1: 10s). */
int
tls_handshake_wait(struct tls *t, long timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms >= 0 ? timeout_ms :
	    TLS_WAIT_MS), left;
	struct pollfd pfd = { .fd = t->fd };

	while (tls_handshake(t) == -1) {
		if (errno != EAGAIN)
			return -1;
		if ((left = deadline - now_ms()) <= 0) {
			snprintf(t->err, sizeof(t->err),
			    "TLS handshake timed out");
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.events = t->want;
		if (poll(&pfd, 1, (int)MINIMUM(left, INT32_MAX)) == -1 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Read as read(2) does: 0 is the peer's close_notify.  An EOF without
 * one is -1 with EPROTO and tls_truncated() true.
 */
ssize_t
tls_read(struct tls *t, void *buf, size_t len)
{
	size_t n;

	int e;

	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(t->ssl, buf, len, &n) == 1) {
		t->starved = 0;
		return n;
	}
	/* Part of a record may be buffered: no more until the socket has. */
	e = SSL_get_error(t->ssl, 0);
	t->starved = e == SSL_ERROR_WANT_READ;
	return io_fail(t, e, 0);
}

/* Write as write(2) does: whole records, at least one. */
ssize_t
tls_write(struct tls *t, const void *buf, size_t len)
{
	size_t n;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(t->ssl, buf, len, &n) != 1) {
		if (io_fail(t, SSL_get_error(t->ssl, 0), 0) == 0)
			errno = EPIPE;
		return -1;
	}
	t->plain += n;
	marks_add(&t->marks, BIO_number_written(SSL_get_wbio(t->ssl)),
	    t->plain);
	return n;
}

/*
 * Send our close_notify, once: OpenSSL 3.0 fails a second SSL_shutdown
 * while data is pending, and the peer's data may still come after it.
 * Return 0, or -1 with errno (EAGAIN: try again when writable).
 */
int
tls_close_notify(struct tls *t)
{
	int r;

	if (t->notified)
		return 0;
	/* After an EOF without close_notify the session is over. */
	if (t->trunc) {
		t->notified = 1;
		return 0;
	}
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_shutdown(t->ssl)) >= 0) {
		t->notified = 1;
		return 0;
	}
	if (io_fail(t, SSL_get_error(t->ssl, r), 0) == 0 || errno == EPROTO)
		errno = EPIPE;
	return -1;
}

/* True once the handshake is done. */
int
tls_ready(const struct tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

int
tls_notified(const struct tls *t)
{
	return t->notified;
}

int
tls_truncated(const struct tls *t)
{
	return t->trunc;
}

/*
 * True if decrypted or buffered bytes wait that poll(2) cannot see: not
 * a part of a record after a read that wanted more from the socket.
 */
int
tls_pending(const struct tls *t)
{
	return SSL_pending(t->ssl) > 0 ||
	    (SSL_has_pending(t->ssl) && !t->starved);
}

int
tls_want(const struct tls *t)
{
	return t->want != 0 ? t->want : POLLIN;
}

const char *
tls_error(const struct tls *t)
{
	return t->err[0] != '\0' ? t->err : "TLS: protocol error";
}

/* How many plaintext bytes the first wire bytes acknowledged carried. */
uint64_t
tls_plain_acked(const struct tls *t, uint64_t wire)
{
	return marks_map(&t->marks, wire);
}

/* Bytes written to the socket so far, records and handshakes. */
uint64_t
tls_wire_written(const struct tls *t)
{
	return BIO_number_written(SSL_get_wbio(t->ssl));
}

/* True if the kernel does the record layer for what we send. */
int
tls_ktls(const struct tls *t)
{
#ifdef BIO_get_ktls_send
	return BIO_get_ktls_send(SSL_get_wbio(t->ssl)) > 0;
#else
	(void)t;
	return 0;
#endif
}

/* Say on stderr what -v shows of a session, for peer. */
void
tls_say(const struct tls *t, const char *peer)
{
	char buf[512];

	tls_describe(t, buf, sizeof(buf));
	warnx("%s: %s", peer, buf);
}

/* For -v: protocol, cipher, ALPN, peer subject and pin. */
void
tls_describe(const struct tls *t, char *buf, size_t size)
{
	unsigned char pin[TLS_PINLEN];
	char subj[160] = "no certificate", pinstr[TLS_PINSTRLEN] = "";
	const unsigned char *alpn;
	unsigned int alen = 0;
	X509 *x;

	if ((x = SSL_get1_peer_certificate(t->ssl)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(x), subj,
		    sizeof(subj));
		cert_pin(x, pin);
		tls_fmt_pin(pin, pinstr);
		X509_free(x);
	}
	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	snprintf(buf, size, "%s, %s%s%.*s, peer %s%s%s%s",
	    SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
	    alen > 0 ? ", ALPN " : "", (int)alen, alen > 0 ?
	    (const char *)alpn : "", subj, pinstr[0] != '\0' ? " " : "",
	    pinstr, tls_ktls(t) ? ", kernel TLS" : "");
}
