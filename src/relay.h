#ifndef RELAY_H
#define RELAY_H

#include "addr.h"
#include "sock.h"

struct proxy_chain;
struct tls_ctx;

/*
 * tcp-serve --to TARGET: every client is paired with a connection to
 * TARGET and the bytes flow both ways unchanged.
 */
struct relay_opts {
	const char	*host;		/* TARGET HOST:PORT; NULL with path */
	const char	*port;
	const char	*path;		/* TARGET unix:PATH, or NULL */
	const char	*name;		/* TARGET as given, for messages */
	int		 family;	/* of the target: AF_UNSPEC, INET, INET6 */
	int		 numeric;
	long		 connect_ms;	/* bound of the target connect */
	long		 idle_ms;	/* close a pair idle this long; -1 never */
	long		 max_conns;
	struct acl	 acl;
	int		 verbose;
	int		 log_json;
	struct sock_tune tune;		/* for the target connections */
	struct tls_ctx	*tls;		/* --tls: toward the clients, or NULL */
	struct tls_ctx	*to_tls;	/* --to-tls: toward the target, or NULL */
	const struct proxy_chain *proxy;	/* --proxy: TARGET through it */
	char		 hostbuf[NI_MAXHOST];	/* host, split from TARGET */
};

int	relay_target(const char *, struct relay_opts *, const char **);
int	relay_run(int *, int, const struct relay_opts *, const char **);

#endif
