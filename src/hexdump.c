#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hexdump.h"
#include "util.h"

struct hexdump {
	int		 fd;
	int		 own;		/* fd is ours to close */
};

/*
 * Open FILE for --hexdump ("-" is stderr), truncating it; return the
 * dump or NULL with errno set and *errstr naming the failure.
 */
struct hexdump *
hexdump_open(const char *path, const char **errstr)
{
	struct hexdump *h;
	int fd = STDERR_FILENO;

	if (strcmp(path, "-") != 0 && (fd = open(path, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC | O_APPEND, 0666)) == -1) {
		*errstr = "open";
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->fd = fd;
	h->own = fd != STDERR_FILENO;
	return h;
}

void
hexdump_close(struct hexdump *h)
{
	if (h == NULL)
		return;
	if (h->own)
		close(h->fd);
	free(h);
}

/* Format one line of at most 16 bytes at offset off into line. */
static size_t
hex_line(char *line, size_t size, int dir, uint64_t off,
    const unsigned char *p, size_t n)
{
	size_t i, len;

	len = snprintf(line, size, "%c %08" PRIx64 " ", dir, off);
	for (i = 0; i < 16; i++)
		len += snprintf(line + len, size - len, i < n ? "%s%02x" :
		    "%s  ", i == 8 ? "  " : " ", i < n ? p[i] : 0);
	len += snprintf(line + len, size - len, "  |");
	for (i = 0; i < n; i++)
		line[len++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';
	line[len++] = '|';
	line[len++] = '\n';
	return len;
}

/* Write all of buf, retrying; a dump that fails is given up quietly. */
static void
hex_put(struct hexdump *h, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0 && h->fd != -1) {
		if ((w = write(h->fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf += w;
		len -= w;
	}
}

/*
 * Dump n bytes that went in direction dir (HEXDUMP_OUT: to peer,
 * HEXDUMP_IN: from it), with the time and the peer's name; *off counts
 * the direction's bytes so far and is advanced.
 */
void
hexdump_write(struct hexdump *h, int dir, const char *peer, uint64_t *off,
    const void *buf, size_t n)
{
	const unsigned char *p = buf;
	char out[4096], ts[32];
	struct timespec now;
	struct tm tm;
	size_t len, k;

	if (h == NULL || n == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	len = snprintf(out, sizeof(out), "%s.%06ldZ %c %s: %zu bytes at %"
	    PRIu64 "\n", ts, now.tv_nsec / 1000, dir, peer, n, *off);
	len = MINIMUM(len, sizeof(out) - 1);
	while (n > 0) {
		if (len > sizeof(out) - 100) {
			hex_put(h, out, len);
			len = 0;
		}
		k = MINIMUM(n, 16);
		len += hex_line(out + len, sizeof(out) - len, dir, *off, p, k);
		*off += k;
		p += k;
		n -= k;
	}
	hex_put(h, out, len);
}
