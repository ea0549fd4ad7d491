#ifndef TIMEPROTO_H
#define TIMEPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum timeproto {
	TP_STRFTIME,
	TP_DAYTIME,
	TP_TIME,
	TP_NTP
};

#define TP_REPLY_MAX		512	/* strftime/daytime reply, bytes */
#define TP_FORMAT_MAX		256	/* longest strftime format */
#define TP_FORMAT_DEFAULT	"%Y-%m-%d %X"
#define TP_TIME_LEN		4	/* RFC 868 reply */
#define TP_NTP_LEN		48	/* SNTP packet without extensions */
#define TP_STRATUM_DEFAULT	10

/* Parse a protocol name ("strftime", ...); return 0 or -1 if unknown. */
int		 timeproto_parse(const char *, enum timeproto *);
/* Return the name of a protocol. */
const char	*timeproto_name(enum timeproto);
/* Return the default port of a protocol (9000, 13, 37, 123). */
int		 timeproto_port(enum timeproto);

/*
 * Answer a strftime request of len bytes at time now into out (at least
 * TP_REPLY_MAX bytes, not NUL-terminated, no newline: a TCP caller adds
 * "\n"); return the reply length. Errors are replies starting "error:".
 */
size_t		 timeproto_strftime(const void *, size_t,
		    const struct timespec *, int, char *);
/* Write the RFC 867 line for now, ending in CRLF, to out; return length. */
size_t		 timeproto_daytime(const struct timespec *, int, char *);
/* Return now as RFC 868 seconds since 1900, modulo 2^32. */
uint32_t	 timeproto_rfc868(const struct timespec *);
/* Write the 4-byte big-endian RFC 868 reply for now to out. */
void		 timeproto_time(const struct timespec *,
		    unsigned char[TP_TIME_LEN]);
/* Return now as a 64-bit NTP timestamp (32.32 fixed point, era wraps). */
uint64_t	 timeproto_ntp_ts(const struct timespec *);
/*
 * Build the SNTP reply to req (len bytes) received at rx and sent at tx;
 * return TP_NTP_LEN, or -1 and set *errstr if the packet is to be dropped.
 */
int		 timeproto_ntp_reply(const void *, size_t,
		    const struct timespec *, const struct timespec *, int,
		    unsigned char[TP_NTP_LEN], const char **);

#endif
