#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_PINLEN	32		/* SHA-256 */
#define TLS_MAXPINS	16
#define TLS_ALPNMAX	255		/* the wire list's length */
#define TLS_PINSTRLEN	(7 + 2 * TLS_PINLEN + 1)	/* "SHA256:" hex NUL */

/* What the command line asks of TLS; the zero value is "no TLS". */
struct tls_opts {
	int		 on;		/* --tls */
	const char	*cert, *key;	/* --tls-cert, --tls-key */
	const char	*ca;		/* --tls-ca */
	const char	*name;		/* --tls-name */
	unsigned char	 pins[TLS_MAXPINS][TLS_PINLEN];
	int		 npins;
	int		 verify_client;	/* --tls-verify-client */
	int		 insecure;	/* --tls-insecure */
	unsigned char	 alpn[TLS_ALPNMAX + 1];	/* wire form: length, name */
	size_t		 alpnlen;
	int		 min13;		/* --tls-min 1.3 */
};

/* Pure parsing, for the options (and the fuzzer). */
int	tls_parse_pin(const char *, unsigned char [TLS_PINLEN], const char **);
int	tls_parse_alpn(const char *, unsigned char *, size_t *,
	    const char **);
void	tls_fmt_pin(const unsigned char [TLS_PINLEN], char [TLS_PINSTRLEN]);
int	tls_name_is_addr(const char *);
int	tls_host_name(const char *, char *, size_t);

struct tls_ctx;
struct tls;

/*
 * A context for one command: a server's (with its certificate, or an
 * ephemeral one whose pin goes to *pin) or a client's.
 */
struct tls_ctx	*tls_ctx_new(const struct tls_opts *, int,
		    char [TLS_PINSTRLEN], const char **);
void		 tls_ctx_free(struct tls_ctx *);

/*
 * A session on a connected socket.  A client's name is what it verifies
 * and sends as SNI (NULL: the context's --tls-name).  The calls below
 * return as read(2) and write(2) do, with errno EAGAIN when the socket
 * is not ready (tls_want() says for which poll event), and EPROTO for a
 * TLS failure that tls_error() describes.
 */
struct tls	*tls_new(struct tls_ctx *, int, const char *);
void		 tls_free(struct tls *);
void		 tls_cheap(struct tls *);
int		 tls_handshake(struct tls *);
int		 tls_handshake_wait(struct tls *, long);
ssize_t		 tls_read(struct tls *, void *, size_t);
ssize_t		 tls_write(struct tls *, const void *, size_t);
int		 tls_close_notify(struct tls *);
int		 tls_notified(const struct tls *);
int		 tls_ready(const struct tls *);
int		 tls_truncated(const struct tls *);
int		 tls_pending(const struct tls *);
int		 tls_want(const struct tls *);
const char	*tls_error(const struct tls *);
uint64_t	 tls_plain_acked(const struct tls *, uint64_t);
uint64_t	 tls_wire_written(const struct tls *);
int		 tls_ktls(const struct tls *);
void		 tls_describe(const struct tls *, char *, size_t);
void		 tls_say(const struct tls *, const char *);

#endif
