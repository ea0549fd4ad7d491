#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include <netdb.h>

/* Room for "[v6]:PORT" or a Unix socket path. */
#define ADDR_STRLEN	128

struct cidr {
	int		family;
	unsigned char	addr[16];
	int		bits;
};

/* Allow and deny lists; a client must match allow (if any) and no deny. */
struct acl {
	struct cidr	*allow, *deny;
	size_t		 nallow, ndeny;
};

struct addrinfo	*addr_resolve(const char *, const char *, int, int, int,
		    int, const char **);
const char	*addr_fmt(const struct sockaddr *, socklen_t, char *, size_t);
const char	*addr_fmt_words(const struct sockaddr *, socklen_t, char *,
		    size_t);
int		 addr_port(const struct sockaddr *);
int		 addr_cidr_parse(const char *, struct cidr *, const char **);
int		 addr_cidr_match(const struct cidr *, const struct sockaddr *);
int		 acl_add(struct acl *, int, const char *, const char **);
int		 acl_permits(const struct acl *, const struct sockaddr *);
const char	*acl_refuses(const struct acl *, const struct sockaddr *, long,
		    long);

#endif
