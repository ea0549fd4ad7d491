#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proxy.h"
#include "sock.h"
#include "util.h"

#define RETRY_PAUSE_MS	100

static char sock_err[512];

static const char *
fail(const char *what, const char *host, const char *port, int error)
{
	if (port != NULL)
		snprintf(sock_err, sizeof(sock_err), "%s %s port %s: %s",
		    what, host, port, strerror(error));
	else
		snprintf(sock_err, sizeof(sock_err), "%s %s: %s", what, host,
		    strerror(error));
	errno = error;
	return sock_err;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len = sizeof(*sun);
	return 0;
}

/* Wait up to ms (-1: forever) for a non-blocking connect on fd to end. */
static int
connect_wait(int fd, long ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int error = 0, n;

	while ((n = poll(&pfd, 1, ms < 0 ? -1 : (int)ms)) == -1 &&
	    errno == EINTR)
		;
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		return -1;
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

static int
bind_source(int fd, const struct sockaddr *dst, const struct sockopts *so)
{
	struct addrinfo *res, *ai;
	const char *errstr;
	int one = 1;

	if (so->src_host == NULL && so->src_port == NULL)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((res = addr_resolve(so->src_host, so->src_port, dst->sa_family,
	    so->socktype, 1, so->numeric, &errstr)) == NULL) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
	freeaddrinfo(res);
	return ai == NULL ? -1 : 0;
}

/* A Unix datagram client binds so->src_host, so that replies can come. */
static int
bind_unix_source(int fd, const struct sockopts *so)
{
	struct sockaddr_un sun;
	socklen_t len;

	if (so->src_host == NULL)
		return 0;
	if (unix_addr(so->src_host, &sun, &len) == -1)
		return -1;
	return bind(fd, (struct sockaddr *)&sun, len);
}

/*
 * Set the keepalive and Nagle options of a TCP socket as tune asks (a
 * socket accepted from a listener inherits them); return 0, or -1 with
 * errno set.
 */
int
sock_tune(int fd, const struct sock_tune *t)
{
	static const struct {
		int	 level, name;
		size_t	 off;
	} opt[] = {
		{ SOL_SOCKET, SO_KEEPALIVE, offsetof(struct sock_tune,
		    keepalive) },
		{ IPPROTO_TCP, TCP_KEEPIDLE, offsetof(struct sock_tune,
		    keepidle) },
		{ IPPROTO_TCP, TCP_KEEPINTVL, offsetof(struct sock_tune,
		    keepintvl) },
		{ IPPROTO_TCP, TCP_KEEPCNT, offsetof(struct sock_tune,
		    keepcnt) },
		{ IPPROTO_TCP, TCP_NODELAY, offsetof(struct sock_tune,
		    nodelay) },
	};
	size_t i;
	int v;

	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		v = *(const int *)((const char *)t + opt[i].off);
		if (v != 0 && setsockopt(fd, opt[i].level, opt[i].name, &v,
		    sizeof(v)) == -1)
			return -1;
	}
	return 0;
}

/*
 * Open a non-blocking socket to one address and connect it within the
 * timeout; return the socket or -1 with errno set.
 */
int
sock_connect_addr(const struct sockaddr *sa, socklen_t len,
    const struct sockopts *so)
{
	int fd, save;

	if ((fd = socket(sa->sa_family, so->socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if ((sa->sa_family == AF_UNIX ? bind_unix_source(fd, so) :
	    bind_source(fd, sa, so)) == -1)
		goto bad;
	if (sa->sa_family != AF_UNIX && so->socktype == SOCK_STREAM &&
	    sock_tune(fd, &so->tune) == -1)
		goto bad;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN)
		goto bad;
	if (connect_wait(fd, so->timeout_ms) == 0)
		return fd;
bad:
	save = errno;
	close(fd);
	errno = save;
	return -1;
}

/*
 * Connect to one of host's addresses; with a deadline (-1: none), each
 * address has what is left of it, at most so->timeout_ms.
 */
static int
connect_once(const char *host, const char *port, const struct sockopts *so,
    int64_t deadline, const char **errstr)
{
	struct sockopts aso = *so;
	struct sockaddr_un sun;
	struct addrinfo *res, *ai;
	socklen_t len;
	int fd = -1, error = 0;
	int64_t left;

	if (so->family == AF_UNIX) {
		if (unix_addr(host, &sun, &len) == -1 ||
		    (fd = sock_connect_addr((struct sockaddr *)&sun, len,
		    so)) == -1)
			*errstr = fail("connect to", host, NULL, errno);
		return fd;
	}
	if ((res = addr_resolve(host, port, so->family, so->socktype, 0,
	    so->numeric, errstr)) == NULL) {
		snprintf(sock_err, sizeof(sock_err), "%s port %s: %s", host,
		    port, *errstr);
		*errstr = sock_err;
		errno = 0;
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if (deadline >= 0) {
			if ((left = deadline - now_ms()) <= 0) {
				error = ETIMEDOUT;
				break;
			}
			if (so->timeout_ms < 0 || left < so->timeout_ms)
				aso.timeout_ms = left;
		}
		if ((fd = sock_connect_addr(ai->ai_addr, ai->ai_addrlen,
		    &aso)) == -1)
			error = errno;
	}
	freeaddrinfo(res);
	if (fd == -1)
		*errstr = fail("connect to", host, port, error);
	return fd;
}

/* Wait until fd is ready for events or the deadline passes. */
static int
proxy_poll(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = poll(&pfd, 1, (int)MINIMUM(left, INT32_MAX))) > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

static int
proxy_send(int fd, const unsigned char *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) > 0) {
			buf += n;
			len -= n;
		} else if (n == -1 && errno != EINTR && errno != EAGAIN)
			return -1;
		else if (n == -1 && errno == EAGAIN &&
		    proxy_poll(fd, POLLOUT, deadline) == -1)
			return -1;
	}
	return 0;
}

/*
 * Read the proxy's reply: peek at what has come, let proxy.c say how
 * much of it is the reply, and take just that off the socket, so that
 * what follows stays there for the tunnel (or for the next hop).
 */
static int
proxy_recv(int fd, struct proxy *p, int64_t deadline, const char **why)
{
	unsigned char buf[PROXY_REPLYMAX];
	size_t used;
	ssize_t n;

	if (proxy_poll(fd, POLLIN, deadline) == -1)
		return -1;
	n = recv(fd, buf, MINIMUM(proxy_want(p), sizeof(buf)), MSG_PEEK);
	if (n == -1)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		*why = "the proxy closed the connection during the handshake";
		errno = ECONNRESET;
		return -1;
	}
	proxy_input(p, buf, n, &used);
	while (used > 0 && (n = recv(fd, buf, used, 0)) != (ssize_t)used)
		if (n >= 0 || errno != EINTR)
			return -1;
	return 0;
}

/* Ask the proxy at the other end of fd for a tunnel to host port. */
static int
proxy_hop(int fd, const struct proxy_hop *hop, const char *host, int port,
    int64_t deadline, const char **why)
{
	static char err[sizeof(((struct proxy *)NULL)->err)];
	struct proxy p;
	const unsigned char *out;
	size_t len;
	int rv = -1;

	*why = NULL;
	if (proxy_start(&p, hop, host, port) == -1) {
		*why = strcpy(err, proxy_error(&p));
		errno = EINVAL;
		goto done;
	}
	while (p.status == PROXY_MORE) {
		if ((len = proxy_output(&p, &out)) > 0) {
			if (proxy_send(fd, out, len, deadline) == -1)
				goto done;
			proxy_sent(&p);
		} else if (proxy_recv(fd, &p, deadline, why) == -1)
			goto done;
	}
	if (p.status == PROXY_DONE)
		rv = 0;
	else {
		*why = strcpy(err, proxy_error(&p));
		errno = proxy_target_down(&p) ? ECONNREFUSED : EPROTO;
	}
done:
	proxy_clear(&p);
	return rv;
}

/* A port by number or service name, for a proxy to reach; or -1. */
int
sock_port_number(const char *port)
{
	struct servent *se;
	const char *errstr;
	int n;

	n = strtonum(port, 1, 65535, &errstr);
	if (errstr == NULL)
		return n;
	if ((se = getservbyname(port, "tcp")) == NULL)
		return -1;
	return ntohs(se->s_port);
}

static const char *
proxy_fail(const struct proxy_hop *hop, const char *host, const char *port,
    const char *why, int error)
{
	char name[PROXY_NAMEMAX + 32];

	proxy_hop_name(hop, name, sizeof(name));
	if (why == NULL)
		why = error == ETIMEDOUT ? "timed out" : strerror(error);
	snprintf(sock_err, sizeof(sock_err), "%s port %s through %s: %s",
	    host, port, name, why);
	errno = error;
	return sock_err;
}

/* Say that the address that failed is the proxy's; keep errno. */
static int
proxy_name_error(const char **errstr)
{
	char buf[sizeof(sock_err)];
	int save = errno;

	if (strncmp(*errstr, "connect to ", 11) == 0)
		snprintf(buf, sizeof(buf), "connect to proxy %s", *errstr + 11);
	else
		snprintf(buf, sizeof(buf), "proxy %s", *errstr);
	strlcpy(sock_err, buf, sizeof(sock_err));
	*errstr = sock_err;
	errno = save;
	return -1;
}

/*
 * Connect to the first proxy of so->proxy (every address), then have
 * each hop open a tunnel to the next and the last to host port, all
 * within one deadline: -w, or PROXY_TIMEOUT_MS.
 */
static int
proxy_connect(const char *host, const char *port, const struct sockopts *so,
    const char **errstr)
{
	const struct proxy_chain *c = so->proxy;
	struct sockopts hso = *so;
	const char *nhost, *nport, *why;
	char name[PROXY_NAMEMAX + 32];
	int64_t deadline;
	size_t i;
	int fd, nport_n, save;

	deadline = now_ms() + (so->timeout_ms >= 0 ? so->timeout_ms :
	    PROXY_TIMEOUT_MS);
	hso.proxy = NULL;
	if ((fd = connect_once(c->hop[0].host, c->hop[0].port, &hso,
	    deadline, errstr)) == -1)
		return proxy_name_error(errstr);
	for (i = 0; i < c->n; i++) {
		nhost = i + 1 < c->n ? c->hop[i + 1].host : host;
		nport = i + 1 < c->n ? c->hop[i + 1].port : port;
		if ((nport_n = sock_port_number(nport)) == -1) {
			*errstr = proxy_fail(&c->hop[i], nhost, nport,
			    "unknown service", EINVAL);
			goto bad;
		}
		if (proxy_hop(fd, &c->hop[i], nhost, nport_n, deadline,
		    &why) == -1) {
			*errstr = proxy_fail(&c->hop[i], nhost, nport, why,
			    errno);
			goto bad;
		}
		if (so->verbose > 0)
			warnx("%s: tunnel to %s port %s", proxy_hop_name(
			    &c->hop[i], name, sizeof(name)), nhost, nport);
	}
	return fd;
bad:
	save = errno;
	close(fd);
	errno = save;
	return -1;
}

/*
 * Connect to host port, trying every address it resolves to, and keep
 * retrying a refused or unreachable connect for so->retry_ms; return a
 * non-blocking socket, or -1 and set *errstr (errno 0 for look-ups).
 * With so->proxy, the socket is a tunnel through the proxy chain.
 */
int
sock_connect(const char *host, const char *port, const struct sockopts *so,
    const char **errstr)
{
	int64_t deadline = now_ms() + so->retry_ms;
	int fd;

	if (so->proxy != NULL && so->family == AF_UNIX) {
		*errstr = "cannot reach a Unix socket through a proxy";
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		if ((fd = so->proxy != NULL && so->proxy->n > 0 ?
		    proxy_connect(host, port, so, errstr) :
		    connect_once(host, port, so, -1, errstr)) != -1)
			return fd;
		if (errno != ECONNREFUSED && errno != ENETUNREACH &&
		    errno != EHOSTUNREACH && errno != ETIMEDOUT &&
		    errno != ENOENT)
			return -1;
		if (so->retry_ms <= 0 || now_ms() >= deadline)
			return -1;
		poll(NULL, 0, RETRY_PAUSE_MS);
	}
}

/*
 * Remove a stale Unix socket at path: one no socket is bound to any more.
 * Probing it with connect(2) would hand a live one-shot server its
 * connection, so look in /proc/net/unix instead.  It shows each path as
 * given to bind(2), perhaps relative to another directory, so any bound
 * socket with the same last component counts as live.
 */
static void
unix_unlink_stale(const char *path)
{
	struct stat st;
	const char *base, *p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;
	int live = 0;

	if (stat(path, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    (fp = fopen("/proc/net/unix", "re")) == NULL)
		return;
	base = (base = strrchr(path, '/')) != NULL ? base + 1 : path;
	while (!live && (n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((p = strrchr(line, ' ')) == NULL)
			continue;
		p = strrchr(p, '/') != NULL ? strrchr(p, '/') + 1 : p + 1;
		live = strcmp(p, base) == 0;
	}
	free(line);
	fclose(fp);
	if (!live)
		unlink(path);
}

/*
 * Unix socket paths have one owner, here: each socket file sockkit binds
 * (a server's listening socket, a datagram client's own address) is
 * handed to unix_own() once it exists, and removed when the process
 * ends, by return from main, exit(3) or SIGINT, SIGTERM or SIGHUP; never
 * by a forked child.  Command files never remove them themselves.
 */
static void
unix_own(const char *path)
{
	sig_unlink_on_exit(path);
}

#define UNIX_DIRMAX	80	/* leave room in sun_path for the name */

/*
 * Make a fresh path in $TMPDIR (or /tmp) for a Unix datagram client to
 * bind, so that replies can come back, and own it (removed at exit);
 * return it (to free) or NULL with errno set.
 */
char *
sock_unix_client_path(void)
{
	const char *dir;
	char *path;
	int fd, save;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0' ||
	    strlen(dir) > UNIX_DIRMAX)
		dir = "/tmp";
	if (asprintf(&path, "%s/sockkit.XXXXXXXXXX", dir) == -1)
		return NULL;
	/* mkstemp(3) picks a free name; bind(2) needs it gone again. */
	if ((fd = mkstemp(path)) == -1) {
		save = errno;
		free(path);
		errno = save;
		return NULL;
	}
	close(fd);
	unlink(path);
	unix_own(path);
	return path;
}

static int
listen_unix(const char *path, const struct sockopts *so, int *fds,
    const char **errstr)
{
	struct sockaddr_un sun;
	sigset_t set, old;
	socklen_t len;
	int fd, rv = -1, save;

	if (unix_addr(path, &sun, &len) == -1) {
		*errstr = fail("bind", path, NULL, errno);
		return -1;
	}
	unix_unlink_stale(path);
	/* A signal between bind(2) and unix_own() would leave the path. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((fd = socket(AF_UNIX, so->socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) != -1 &&
	    bind(fd, (struct sockaddr *)&sun, len) == 0) {
		unix_own(path);
		if (so->socktype != SOCK_STREAM ||
		    listen(fd, SOMAXCONN) == 0)
			rv = 1;
	}
	save = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rv == -1) {
		*errstr = fail("bind", path, NULL, save);
		if (fd != -1)
			close(fd);
		return -1;
	}
	fds[0] = fd;
	return 1;
}

static int
listen_one(const struct sockaddr *sa, socklen_t len, const struct sockopts *so)
{
	int fd, one = 1, zero = 0, save;

	if ((fd = socket(sa->sa_family, so->socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/*
	 * TIME_WAIT must not block a TCP restart; on UDP the option would
	 * let two servers share one port, so a busy port is an error.
	 */
	if (so->socktype == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Without -6, an IPv6 wildcard socket takes IPv4 clients too. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		    so->family == AF_INET6 ? &one : &zero, sizeof(int));
	if (bind(fd, sa, len) == -1 ||
	    (so->socktype == SOCK_STREAM && (sock_tune(fd, &so->tune) == -1 ||
	    listen(fd, SOMAXCONN) == -1))) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

/* Set the port of sa to port (the one the kernel chose for the first). */
static void
set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/*
 * Bind every address host (NULL: all addresses, one dual-stack socket
 * where the system allows) resolves to at port, and listen on stream
 * sockets.  Store up to SOCK_MAXLISTEN sockets in fds and return how many,
 * or -1 and set *errstr.  Port 0 asks the kernel for one free port, the
 * same on every address.
 */
int
sock_listen(const char *host, const char *port, const struct sockopts *so,
    int *fds, const char **errstr)
{
	struct sockaddr_storage ss;
	struct addrinfo *res, *ai;
	socklen_t sslen;
	int n = 0, fd, error = EADDRNOTAVAIL, chosen = 0;

	if (so->family == AF_UNIX)
		return listen_unix(port, so, fds, errstr);
	if ((res = addr_resolve(host, port, host == NULL &&
	    so->family == AF_UNSPEC ? AF_INET6 : so->family, so->socktype, 1,
	    so->numeric, errstr)) == NULL && host == NULL &&
	    so->family == AF_UNSPEC)
		res = addr_resolve(host, port, AF_INET, so->socktype, 1,
		    so->numeric, errstr);
	if (res == NULL) {
		snprintf(sock_err, sizeof(sock_err), "%s port %s: %s",
		    host ? host : "*", port, *errstr);
		*errstr = sock_err;
		return -1;
	}
	for (ai = res; ai != NULL && n < SOCK_MAXLISTEN; ai = ai->ai_next) {
		if (chosen != 0)
			set_port(ai->ai_addr, chosen);
		if ((fd = listen_one(ai->ai_addr, ai->ai_addrlen, so)) == -1) {
			error = errno;
			continue;
		}
		fds[n++] = fd;
		sslen = sizeof(ss);
		if (chosen == 0 && getsockname(fd, (struct sockaddr *)&ss,
		    &sslen) == 0)
			chosen = addr_port((struct sockaddr *)&ss);
	}
	freeaddrinfo(res);
	if (n == 0) {
		*errstr = fail("bind", host ? host : "*", port, error);
		return -1;
	}
	return n;
}

/* Log a client the access list refused: as text with -v, or as JSON. */
static void
refused(const struct sockaddr_storage *ss, socklen_t len, int verbose)
{
	static const char why[] = "refused by the access list";
	char name[ADDR_STRLEN];

	addr_fmt((const struct sockaddr *)ss, len, name, sizeof(name));
	if (verbose == SOCK_LOG_JSON)
		log_json(&(struct log_event){ .event = "refused",
		    .peer = name, .reason = why, .status = -1 });
	else if (verbose > 0)
		warnx("%s: %s", name, why);
}

/*
 * Wait up to ms (-1: forever) for a connection on any of the n listening
 * sockets that acl lets in, and accept it; return the non-blocking
 * socket or -1.  Refused clients are closed (and logged with -v, or
 * with verbose SOCK_LOG_JSON as --log json).
 */
int
sock_accept(int *fds, int n, long ms, struct sockaddr_storage *ss,
    socklen_t *len, const struct acl *acl, int verbose, const char **errstr)
{
	struct pollfd pfd[SOCK_MAXLISTEN];
	int i, fd, r;

	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		if ((r = poll(pfd, n, ms < 0 ? -1 : (int)ms)) == -1) {
			if (errno == EINTR)
				continue;
			*errstr = "poll";
			return -1;
		}
		if (r == 0) {
			errno = ETIMEDOUT;
			*errstr = "timed out waiting for a connection";
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			*len = sizeof(*ss);
			fd = accept4(fds[i], (struct sockaddr *)ss, len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd != -1 && acl_permits(acl,
			    (struct sockaddr *)ss))
				return fd;
			if (fd != -1) {
				refused(ss, *len, verbose);
				close(fd);
				continue;
			}
			if (errno != EAGAIN && errno != ECONNABORTED &&
			    errno != EINTR) {
				*errstr = "accept";
				return -1;
			}
		}
	}
}

#define PORT_FILE_TRIES	16

/*
 * Create a temporary file beside path with a name no one can guess, and
 * never through a symlink planted there (O_EXCL, O_NOFOLLOW); return its
 * descriptor and its name in tmp, or -1 with errno set.
 */
static int
port_file_tmp(const char *path, char *tmp, size_t size)
{
	unsigned char rnd[8];
	int i, fd;

	for (i = 0; i < PORT_FILE_TRIES; i++) {
		arc4random_buf(rnd, sizeof(rnd));
		if ((size_t)snprintf(tmp, size, "%s.%02x%02x%02x%02x%02x%02x"
		    "%02x%02x.tmp", path, rnd[0], rnd[1], rnd[2], rnd[3],
		    rnd[4], rnd[5], rnd[6], rnd[7]) >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644)) != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * Write the port fd is bound to, and a newline, atomically to path: a
 * new file beside it, renamed over it (a symlink at path is replaced,
 * never followed).
 */
int
sock_port_file(const char *path, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char tmp[4096], line[16];
	int tfd, n, save;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	n = snprintf(line, sizeof(line), "%d\n",
	    addr_port((struct sockaddr *)&ss));
	if ((tfd = port_file_tmp(path, tmp, sizeof(tmp))) == -1)
		return -1;
	errno = 0;
	if (write(tfd, line, n) != n) {
		save = errno != 0 ? errno : EIO;
		close(tfd);
		goto bad;
	}
	if (close(tfd) == -1 || rename(tmp, path) == -1) {
		save = errno;
		goto bad;
	}
	return 0;
bad:
	unlink(tmp);
	errno = save;
	return -1;
}

/* Format the peer (local == 0) or local address of fd into buf. */
const char *
sock_name(int fd, int local, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((local ? getsockname(fd, (struct sockaddr *)&ss, &len) :
	    getpeername(fd, (struct sockaddr *)&ss, &len)) == -1) {
		strlcpy(buf, "?", size);
		return buf;
	}
	return addr_fmt((struct sockaddr *)&ss, len, buf, size);
}
