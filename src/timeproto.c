/*
 * The time protocols of timeserver as pure functions: the caller passes
 * the request bytes and the current time, and sends what comes back.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeproto.h"
#include "util.h"

/* Seconds from 1900-01-01 (NTP and RFC 868 epoch) to 1970-01-01. */
#define EPOCH_1900		2208988800LL

#define NTP_MODE_CLIENT		3
#define NTP_MODE_SERVER		4
#define NTP_VERSION_MIN		1
#define NTP_VERSION_MAX		4
#define NTP_PRECISION		(-20)	/* about one microsecond */
#define NTP_ROOTDISP		0x00000042	/* 16.16 seconds: about 1 ms */
#define NTP_REFID		"LOCL"

/*
 * strftime(3) format syntax as glibc reads it: flags, an optional width
 * (three digits are plenty for a 512-byte reply), an E or O modifier and
 * one conversion character.
 */
#define FMT_FLAGS		"_-0^#"
#define FMT_WIDTH_DIGITS	3
#define FMT_CONVERSIONS		"aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%"

#define FMT_EXPAND_MAX		(TP_FORMAT_MAX * 10 + 2)

#define DAYTIME_LOCAL		"%A, %B %d, %Y %H:%M:%S-%Z\r\n"
#define DAYTIME_UTC		"%A, %B %d, %Y %H:%M:%S-UTC\r\n"

static const struct {
	const char	*name;
	int		 port;
} protos[] = {
	[TP_STRFTIME] =	{ "strftime",	9000 },
	[TP_DAYTIME] =	{ "daytime",	13 },
	[TP_TIME] =	{ "time",	37 },
	[TP_NTP] =	{ "ntp",	123 },
};

/* Parse a protocol name ("strftime", ...); return 0 or -1 if unknown. */
int
timeproto_parse(const char *name, enum timeproto *tp)
{
	size_t i;

	for (i = 0; i < NELEM(protos); i++) {
		if (strcmp(name, protos[i].name) == 0) {
			*tp = (enum timeproto)i;
			return 0;
		}
	}
	return -1;
}

/* Return the name of a protocol. */
const char *
timeproto_name(enum timeproto tp)
{
	return protos[tp].name;
}

/* Return the default port of a protocol (9000, 13, 37, 123). */
int
timeproto_port(enum timeproto tp)
{
	return protos[tp].port;
}

static int
in_set(const char *set, char c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* Return NULL if fmt (len bytes, no NUL) is a valid format, else why not. */
static const char *
fmt_check(const char *fmt, size_t len)
{
	size_t i, w;

	for (i = 0; i < len; i++) {
		if (fmt[i] != '%')
			continue;
		for (i++; i < len && in_set(FMT_FLAGS, fmt[i]); i++)
			;
		for (w = 0; i < len && fmt[i] >= '0' && fmt[i] <= '9'; i++)
			w++;
		if (w > FMT_WIDTH_DIGITS)
			return "error: field width too large";
		if (i < len && (fmt[i] == 'E' || fmt[i] == 'O'))
			i++;
		if (i == len || !in_set(FMT_CONVERSIONS, fmt[i]))
			return "error: invalid conversion";
	}
	return NULL;
}

/*
 * Copy the checked format fmt (len bytes) to out as a C string ending in
 * a sentinel '.', with each %s conversion written out as the seconds
 * since the epoch: glibc computes %s with mktime(3), which takes the tm
 * for local time and so is hours off with --utc.  A "%s" of 2 bytes
 * becomes at most 20, so out needs FMT_EXPAND_MAX bytes.
 */
static void
fmt_expand(const char *fmt, size_t len, time_t t, char *out)
{
	size_t i, j, o = 0;

	for (i = 0; i < len; i++) {
		if (fmt[i] != '%') {
			out[o++] = fmt[i];
			continue;
		}
		/* Checked: flags, width and E/O end in a conversion. */
		for (j = i + 1; !in_set(FMT_CONVERSIONS, fmt[j]); j++)
			;
		if (fmt[j] == 's')
			o += snprintf(out + o, 21, "%lld", (long long)t);
		else {
			memcpy(out + o, fmt + i, j - i + 1);
			o += j - i + 1;
		}
		i = j;
	}
	out[o++] = '.';
	out[o] = '\0';
}

static size_t
reply_str(char *out, const char *s)
{
	size_t n;

	n = MINIMUM(strlen(s), TP_REPLY_MAX);
	memcpy(out, s, n);
	return n;
}

static int
tm_get(const struct timespec *now, int utc, struct tm *tm)
{
	time_t t = now->tv_sec;

	if (utc)
		return gmtime_r(&t, tm) == NULL ? -1 : 0;
	return localtime_r(&t, tm) == NULL ? -1 : 0;
}

/*
 * Answer a strftime request of len bytes at time now into out (at least
 * TP_REPLY_MAX bytes, not NUL-terminated, no newline: a TCP caller adds
 * "\n"); return the reply length. Errors are replies starting "error:".
 */
size_t
timeproto_strftime(const void *req, size_t len, const struct timespec *now,
    int utc, char *out)
{
	/* Room for the format or the reply, a sentinel and the NUL. */
	char fmt[FMT_EXPAND_MAX], buf[TP_REPLY_MAX + 2];
	const char *p = req, *why;
	struct tm tm;
	size_t n;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len == 0) {
		p = TP_FORMAT_DEFAULT;
		len = strlen(p);
	}
	if (len > TP_FORMAT_MAX)
		return reply_str(out, "error: format too long");
	if (memchr(p, '\0', len) != NULL)
		return reply_str(out, "error: format contains a NUL byte");
	if ((why = fmt_check(p, len)) != NULL)
		return reply_str(out, why);
	if (tm_get(now, utc, &tm) == -1)
		return reply_str(out, "error: time out of range");

	/*
	 * strftime(3) returns 0 both for an empty result and for one that
	 * does not fit; a sentinel character after the format makes every
	 * result that fits at least one byte long.
	 */
	fmt_expand(p, len, now->tv_sec, fmt);
	if ((n = strftime(buf, sizeof(buf), fmt, &tm)) == 0)
		return reply_str(out, "error: output too long");
	memcpy(out, buf, n - 1);
	return n - 1;
}

/*
 * Write the RFC 867 line for now, ending in CRLF, to out; return length.
 * The format is date(1)'s long style, e.g.
 * "Sunday, November 22, 2026 03:41:19-UTC\r\n".
 */
size_t
timeproto_daytime(const struct timespec *now, int utc, char *out)
{
	char buf[TP_REPLY_MAX];
	struct tm tm;
	size_t n;

	if (tm_get(now, utc, &tm) == -1 ||
	    (n = strftime(buf, sizeof(buf), utc ? DAYTIME_UTC : DAYTIME_LOCAL,
	    &tm)) == 0)
		return reply_str(out, "error: time out of range\r\n");
	memcpy(out, buf, n);
	return n;
}

/* Return now as a 64-bit NTP timestamp (32.32 fixed point, era wraps). */
uint64_t
timeproto_ntp_ts(const struct timespec *now)
{
	uint32_t sec, frac;

	/* Conversion to unsigned is modulo 2^32: the era wrap of RFC 4330. */
	sec = (uint32_t)((int64_t)now->tv_sec + EPOCH_1900);
	frac = (uint32_t)(((uint64_t)now->tv_nsec << 32) / 1000000000);
	return (uint64_t)sec << 32 | frac;
}

/* Return now as RFC 868 seconds since 1900, modulo 2^32. */
uint32_t
timeproto_rfc868(const struct timespec *now)
{
	return timeproto_ntp_ts(now) >> 32;
}

static void
put_be(unsigned char *p, uint64_t v, int len)
{
	while (len-- > 0) {
		p[len] = v & 0xff;
		v >>= 8;
	}
}

/* Write the 4-byte big-endian RFC 868 reply for now to out. */
void
timeproto_time(const struct timespec *now, unsigned char out[TP_TIME_LEN])
{
	put_be(out, timeproto_rfc868(now), TP_TIME_LEN);
}

static int
ntp_check(const unsigned char *q, size_t len, const char **errstr)
{
	int vn;

	if (len < TP_NTP_LEN) {
		*errstr = "short packet";
		return -1;
	}
	if ((q[0] & 7) != NTP_MODE_CLIENT) {
		*errstr = "not a client request";
		return -1;
	}
	vn = (q[0] >> 3) & 7;
	if (vn < NTP_VERSION_MIN || vn > NTP_VERSION_MAX) {
		*errstr = "unsupported version";
		return -1;
	}
	return vn;
}

/*
 * Build the SNTP reply to req (len bytes) received at rx and sent at tx;
 * return TP_NTP_LEN, or -1 and set *errstr if the packet is to be dropped.
 * The caller keeps stratum within 1-15.
 */
int
timeproto_ntp_reply(const void *req, size_t len, const struct timespec *rx,
    const struct timespec *tx, int stratum, unsigned char out[TP_NTP_LEN],
    const char **errstr)
{
	const unsigned char *q = req;
	int vn;

	if ((vn = ntp_check(q, len, errstr)) == -1)
		return -1;
	memset(out, 0, TP_NTP_LEN);
	out[0] = vn << 3 | NTP_MODE_SERVER;	/* leap indicator 0 */
	out[1] = (unsigned char)stratum;
	out[2] = q[2];				/* poll */
	out[3] = (unsigned char)NTP_PRECISION;
	put_be(out + 8, NTP_ROOTDISP, 4);	/* root delay stays 0 */
	memcpy(out + 12, NTP_REFID, 4);
	put_be(out + 16, timeproto_ntp_ts(rx), 8);	/* reference */
	memcpy(out + 24, q + 40, 8);		/* origin: client transmit */
	put_be(out + 32, timeproto_ntp_ts(rx), 8);
	put_be(out + 40, timeproto_ntp_ts(tx), 8);
	return TP_NTP_LEN;
}
