#ifndef SOCK_H
#define SOCK_H

#include <sys/socket.h>

#define SOCK_MAXLISTEN	8
#define SOCK_LOG_JSON	(-2)	/* sock_accept: refusals as --log json */

/* TCP socket options: --keepalive[=IDLE[,INTVL,CNT]] and --nodelay. */
struct sock_tune {
	int		 keepalive;
	int		 keepidle;	/* seconds; 0: the system's */
	int		 keepintvl;
	int		 keepcnt;
	int		 nodelay;
};

struct proxy_chain;

struct sockopts {
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX */
	int		 socktype;	/* SOCK_STREAM or SOCK_DGRAM */
	int		 numeric;
	int		 verbose;
	long		 timeout_ms;	/* connect timeout, -1 for none */
	long		 retry_ms;	/* keep retrying this long, 0 for once */
	const char	*src_host;	/* -s; with AF_UNIX, a path to bind */
	const char	*src_port;	/* -p */
	struct sock_tune tune;		/* TCP only; a listener's are inherited */
	const struct proxy_chain *proxy; /* connect through these, or NULL */
};

int	sock_connect(const char *, const char *, const struct sockopts *,
	    const char **);
int	sock_connect_addr(const struct sockaddr *, socklen_t,
	    const struct sockopts *);
int	sock_listen(const char *, const char *, const struct sockopts *,
	    int *, const char **);
struct acl;
int	sock_accept(int *, int, long, struct sockaddr_storage *, socklen_t *,
	    const struct acl *, int, const char **);
int	sock_tune(int, const struct sock_tune *);
int	sock_port_file(const char *, int);
int	sock_port_number(const char *);
char	*sock_unix_client_path(void);
const char *sock_name(int, int, char *, size_t);

#endif
