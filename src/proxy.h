#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

#define PROXY_MAXHOPS	8
#define PROXY_NAMEMAX	255	/* a SOCKS5 domain name, and user, password */
#define PROXY_REPLYMAX	8192	/* an HTTP reply's header, CRLFCRLF included */
#define PROXY_TIMEOUT_MS 10000	/* the whole negotiation, without -w */

enum proxy_type {
	PROXY_SOCKS5,
	PROXY_SOCKS4A,
	PROXY_HTTP
};

/* One proxy of a --proxy chain; user and pass are "" when not given. */
struct proxy_hop {
	enum proxy_type	 type;
	char		 host[PROXY_NAMEMAX + 1];
	char		 port[8];
	char		 user[PROXY_NAMEMAX + 1];
	char		 pass[PROXY_NAMEMAX + 1];
	int		 has_auth;
};

struct proxy_chain {
	size_t		 n;
	struct proxy_hop hop[PROXY_MAXHOPS];
	char		 err[256];
};

enum proxy_status {
	PROXY_MORE,		/* send proxy_output(), or read more */
	PROXY_DONE,		/* the tunnel is open */
	PROXY_FAIL		/* proxy_error() says why */
};

/* The negotiation with one hop for one target; no descriptors. */
struct proxy {
	const struct proxy_hop *hop;
	int		 state;
	enum proxy_status status;
	unsigned char	 out[2048];	/* CONNECT, Host, Basic: < 1300 */
	size_t		 outlen;
	unsigned char	 in[PROXY_REPLYMAX];
	size_t		 inlen;
	size_t		 want;		/* SOCKS: bytes the reply still has */
	char		 host[PROXY_NAMEMAX + 1];
	int		 port;
	char		 err[256];
	int		 target_down;	/* refused or unreachable: --retry */
};

int	 proxy_parse(struct proxy_chain *, const char *, const char **);
int	 proxy_set_auth(struct proxy_chain *, const char *, size_t,
	    const char **);
void	 proxy_chain_clear(struct proxy_chain *);
const char *proxy_hop_name(const struct proxy_hop *, char *, size_t);
int	 proxy_start(struct proxy *, const struct proxy_hop *, const char *,
	    int);
size_t	 proxy_output(struct proxy *, const unsigned char **);
void	 proxy_sent(struct proxy *);
size_t	 proxy_want(const struct proxy *);
enum proxy_status proxy_input(struct proxy *, const unsigned char *, size_t,
	    size_t *);
const char *proxy_error(const struct proxy *);
int	 proxy_target_down(const struct proxy *);
void	 proxy_clear(struct proxy *);

#endif
