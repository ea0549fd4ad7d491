#ifndef UTIL_H
#define UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define MINIMUM(a, b)	((a) < (b) ? (a) : (b))
#define MAXIMUM(a, b)	((a) > (b) ? (a) : (b))
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);

/* Milliseconds on the monotonic clock. */
int64_t		 now_ms(void);

/* Ignore SIGPIPE; make SIGINT and SIGTERM exit 128 + signal cleanly. */
void		 sig_setup(void);
/* Pass a signal that ends this process on to pid (-pgid) first. */
void		 sig_forward(pid_t);
/* A signalfd for the signals that stop a loop (and SIGCHLD); or -1. */
int		 sig_loopfd(int);
/* Remove path (a Unix socket) when a signal or exit(3) ends the process. */
void		 sig_unlink_on_exit(const char *);
/* Make fd non-blocking until exit. */
void		 fd_nonblock(int);
/* Raise the soft descriptor limit to the hard one; return the new limit. */
long		 fd_limit_raise(void);
/*
 * Two byte counts that grow together at different rates (bytes on the
 * wire and the input they carry), paired at the end of each batch: a
 * count of one maps to the other by the pairs around it (in between,
 * in proportion).  The newest MARKS pairs are kept.
 */
#define MARKS		64
struct mark {
	uint64_t	 outer, inner;
};
struct marks {
	struct mark	 ring[MARKS];
	struct mark	 base;		/* the newest pair overwritten */
	unsigned int	 n;
};
void		 marks_add(struct marks *, uint64_t, uint64_t);
uint64_t	 marks_map(const struct marks *, uint64_t);

/* Describe a socket's errno: a reset or EPIPE is "connection reset by peer". */
const char	*sock_strerror(int);

#endif
