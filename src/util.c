#include <sys/resource.h>
#include <sys/signalfd.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static char unlink_path[108];
static pid_t unlink_pid;
static volatile pid_t forward_pid;	/* gets our ending signal */
static int restore_fd = -1, restore_fl;

/* Allocate n bytes or exit. */
void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		err(1, "malloc");
	return p;
}

/* Allocate a zeroed array or exit. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) == NULL)
		err(1, "calloc");
	return p;
}

/* Resize an array, checking for overflow, or exit. */
void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q;

	if ((q = reallocarray(p, nmemb == 0 ? 1 : nmemb, size)) == NULL)
		err(1, "reallocarray");
	return q;
}

/* Duplicate a string or exit. */
char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		err(1, "strdup");
	return p;
}

/* Milliseconds on the monotonic clock. */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The kernel closes every socket at exit, sending FIN as close(2) would,
 * so the handler only removes a Unix socket path and exits.
 */
static void
sig_exit(int sig)
{
	if (forward_pid != 0)
		kill(forward_pid, sig);
	if (unlink_path[0] != '\0' && getpid() == unlink_pid)
		unlink(unlink_path);
	if (restore_fd != -1)
		fcntl(restore_fd, F_SETFL, restore_fl);
	_exit(128 + sig);
}

/* Pass a signal that ends this process on to pid (-pgid) first. */
void
sig_forward(pid_t pid)
{
	forward_pid = pid;
}

/* Ignore SIGPIPE; make SIGINT and SIGTERM exit 128 + signal cleanly. */
void
sig_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = sig_exit;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void
unlink_at_exit(void)
{
	/* Not in a forked child: the path is its parent's. */
	if (unlink_path[0] != '\0' && getpid() == unlink_pid)
		unlink(unlink_path);
}

/* Remove path (a Unix socket) when a signal or exit(3) ends the process. */
void
sig_unlink_on_exit(const char *path)
{
	if (unlink_pid == 0)
		atexit(unlink_at_exit);
	unlink_pid = getpid();
	strlcpy(unlink_path, path, sizeof(unlink_path));
}

static void
restore_flags(void)
{
	if (restore_fd != -1)
		fcntl(restore_fd, F_SETFL, restore_fl);
}

/*
 * Make fd (stdout) non-blocking, and put its flags back at exit: the
 * open file may be shared with the shell that started us.
 */
void
fd_nonblock(int fd)
{
	int fl;

	if (restore_fd != -1 || (fl = fcntl(fd, F_GETFL)) == -1 ||
	    (fl & O_NONBLOCK))
		return;
	/*
	 * Keep a duplicate to restore through: fd itself may be closed
	 * before exit, and the flags belong to the shared open file.
	 */
	if ((restore_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return;
	restore_fl = fl;
	atexit(restore_flags);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Raise the soft descriptor limit to the hard one; return the new limit. */
long
fd_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

/*
 * Describe errnum from a socket.  EPIPE there means the peer is gone (a
 * reset after its FIN, or a closed Unix peer): say so, never "Broken
 * pipe", and in the words pump.c uses for ECONNRESET.
 */
const char *
sock_strerror(int errnum)
{
	if (errnum == EPIPE || errnum == ECONNRESET)
		return "connection reset by peer";
	return strerror(errnum);
}

/* Pair outer and inner, the counts at the end of a batch. */
void
marks_add(struct marks *ms, uint64_t outer, uint64_t inner)
{
	struct mark *m = &ms->ring[ms->n++ % MARKS];

	if (ms->n > MARKS)
		ms->base = *m;
	m->outer = outer;
	m->inner = inner;
}

/* Return the inner count that the first outer bytes carried. */
uint64_t
marks_map(const struct marks *ms, uint64_t outer)
{
	struct mark lo = { 0, 0 }, hi = { 0, 0 };
	unsigned int i, n = MINIMUM(ms->n, MARKS);
	const struct mark *m;
	int above = 0;

	/* The newest pair overwritten comes first, then those kept. */
	if (ms->n > MARKS && ms->base.outer <= outer)
		lo = ms->base;
	else if (ms->n > MARKS) {
		hi = ms->base;
		above = 1;
	}
	for (i = 0; i < n && !above; i++) {
		m = &ms->ring[(ms->n - n + i) % MARKS];
		if (m->outer <= outer)
			lo = *m;
		else {
			hi = *m;
			above = 1;
		}
	}
	if (!above || hi.outer <= lo.outer)
		return lo.inner;
	return lo.inner + (outer - lo.outer) * (hi.inner - lo.inner) /
	    (hi.outer - lo.outer);
}

/*
 * Block SIGINT, SIGTERM and SIGHUP (and SIGCHLD with chld) and return a
 * non-blocking signalfd that reads them, for an event loop; -1 on error.
 */
int
sig_loopfd(int chld)
{
	sigset_t set;

	sigemptyset(&set);
	if (chld)
		sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
