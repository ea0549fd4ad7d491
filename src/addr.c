#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

/*
 * Resolve host (NULL for the wildcard) and port for socktype; passive
 * asks for listening addresses.  A bracketed IPv6 literal "[::1]" is
 * accepted.  Return the list, or NULL and set *errstr.
 */
struct addrinfo *
addr_resolve(const char *host, const char *port, int family, int socktype,
    int passive, int numeric, const char **errstr)
{
	struct addrinfo hints, *res;
	char buf[NI_MAXHOST];
	size_t len;
	int error;

	if (host != NULL && host[0] == '[' &&
	    (len = strlen(host)) > 2 && host[len - 1] == ']' &&
	    len - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = socktype;
	hints.ai_flags = (passive ? AI_PASSIVE : AI_ADDRCONFIG) |
	    (numeric ? AI_NUMERICHOST | AI_NUMERICSERV : 0);
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		/* Loopback-only machines have no "configured" address. */
		if (error == EAI_NONAME || error == EAI_ADDRFAMILY) {
			hints.ai_flags &= ~AI_ADDRCONFIG;
			error = getaddrinfo(host, port, &hints, &res);
		}
		if (error != 0) {
			*errstr = gai_strerror(error);
			return NULL;
		}
	}
	return res;
}

/*
 * Format sa as "HOST:PORT", "[V6]:PORT" or a Unix path into buf; an
 * IPv4-mapped IPv6 address is shown as IPv4.
 */
static const char *
fmt(const struct sockaddr *sa, socklen_t salen, char *buf, size_t size,
    int words)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	const struct sockaddr_un *sun;
	struct sockaddr_in sin;

	if (sa->sa_family == AF_UNIX) {
		sun = (const struct sockaddr_un *)sa;
		if (salen <= offsetof(struct sockaddr_un, sun_path) ||
		    sun->sun_path[0] == '\0')
			strlcpy(buf, "unix", size);
		else
			strlcpy(buf, sun->sun_path, size);
		return buf;
	}
	/* An IPv4 client of a dual-stack socket is shown as IPv4. */
	if (sa->sa_family == AF_INET6 && salen >= sizeof(*sin6) &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = sin6->sin6_port;
		memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		sa = (const struct sockaddr *)&sin;
		salen = sizeof(sin);
	}
	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(buf, "?", size);
		return buf;
	}
	if (words)
		snprintf(buf, size, "%s port %s", host, serv);
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, serv);
	else
		snprintf(buf, size, "%s:%s", host, serv);
	return buf;
}

/* Format sa as HOST:PORT or [V6]:PORT into buf; return buf. */
const char *
addr_fmt(const struct sockaddr *sa, socklen_t salen, char *buf, size_t size)
{
	return fmt(sa, salen, buf, size, 0);
}

/* Format sa as messages name a peer, "HOST port PORT"; return buf. */
const char *
addr_fmt_words(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t size)
{
	return fmt(sa, salen, buf, size, 1);
}

/* Return the port of an inet socket address, 0 for others. */
int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

/* Parse "ADDR" or "ADDR/BITS" (IPv4 or IPv6); return -1 and set *errstr. */
int
addr_cidr_parse(const char *s, struct cidr *c, const char **errstr)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	int max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf)) {
		*errstr = "invalid address";
		return -1;
	}
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		*errstr = "invalid address";
		return -1;
	}
	c->bits = max;
	if (slash != NULL) {
		c->bits = strtonum(slash, 0, max, errstr);
		if (*errstr != NULL) {
			*errstr = "invalid prefix length";
			return -1;
		}
	}
	return 0;
}

static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

/* Return 1 if sa lies in c; IPv4-mapped IPv6 addresses match IPv4. */
int
addr_cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6;
	const unsigned char *a;

	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		return c->family == AF_INET && prefix_eq(a, c->addr, c->bits);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	a = sin6->sin6_addr.s6_addr;
	if (c->family == AF_INET6)
		return prefix_eq(a, c->addr, c->bits);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return prefix_eq(a + 12, c->addr, c->bits);
	return 0;
}

/* Add CIDR s to the allow (allow != 0) or deny list; -1 if invalid. */
int
acl_add(struct acl *acl, int allow, const char *s, const char **errstr)
{
	struct cidr c;

	if (addr_cidr_parse(s, &c, errstr) == -1)
		return -1;
	if (allow) {
		acl->allow = xreallocarray(acl->allow, acl->nallow + 1,
		    sizeof(c));
		acl->allow[acl->nallow++] = c;
	} else {
		acl->deny = xreallocarray(acl->deny, acl->ndeny + 1,
		    sizeof(c));
		acl->deny[acl->ndeny++] = c;
	}
	return 0;
}

/* Return 1 if the lists let the client at sa in. */
int
acl_permits(const struct acl *acl, const struct sockaddr *sa)
{
	size_t i;
	int ok;

	if (sa->sa_family == AF_UNIX)
		return 1;
	ok = acl->nallow == 0;
	for (i = 0; i < acl->nallow && !ok; i++)
		ok = addr_cidr_match(&acl->allow[i], sa);
	for (i = 0; i < acl->ndeny && ok; i++)
		ok = !addr_cidr_match(&acl->deny[i], sa);
	return ok;
}

/*
 * Decide whether a server holding n clients of at most max (0: no
 * bound) takes the one at sa: return NULL, or why not, as -v says it.
 */
const char *
acl_refuses(const struct acl *acl, const struct sockaddr *sa, long n,
    long max)
{
	if (!acl_permits(acl, sa))
		return "refused by the access list";
	if (max > 0 && n >= max)
		return "refused: too many connections";
	return NULL;
}
