#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "timeproto.h"

/* 2026-11-22T03:41:19Z, a Sunday. */
#define T_2026		1795318879
/* 2036-02-07T06:28:16Z, where the 32-bit seconds since 1900 wrap. */
#define T_WRAP		2085978496LL

static char out[TP_REPLY_MAX];

/* Run a strftime request (a C string) at t in UTC; NUL-terminate it. */
static const char *
fmt(const char *req, time_t t)
{
	static char s[TP_REPLY_MAX + 1];
	struct timespec ts = { t, 0 };
	size_t n;

	n = timeproto_strftime(req, strlen(req), &ts, 1, out);
	memcpy(s, out, n);
	s[n] = '\0';
	return s;
}

static int
is_error(const char *s)
{
	return strncmp(s, "error:", 6) == 0;
}

static void
test_strftime(void)
{
	char big[300];

	ok(strcmp(fmt("%Y-%m-%d %H:%M:%S", T_2026), "2026-11-22 03:41:19") == 0,
	    "strftime: fixed time in UTC");
	ok(strcmp(fmt("", T_2026), "2026-11-22 03:41:19") == 0,
	    "strftime: empty request is %%Y-%%m-%%d %%X");
	ok(strcmp(fmt("\r\n", 0), "1970-01-01 00:00:00") == 0,
	    "strftime: a bare CRLF is the default format");
	ok(strcmp(fmt("%s\r\n\n", T_2026), "1795318879") == 0,
	    "strftime: trailing CR/LF stripped");
	ok(strcmp(fmt("%A %B %p", T_2026), "Sunday November AM") == 0,
	    "strftime: names in the C locale");
	ok(strcmp(fmt("%%", T_2026), "%") == 0, "strftime: %%%% is a percent");
	ok(strcmp(fmt("%-d|%_5Y|%Ey|%Od|%^a", T_2026),
	    "22| 2026|26|22|SUN") == 0,
	    "strftime: flags, widths and E/O modifiers accepted");
	ok(strcmp(fmt("%n", T_2026), "\n") == 0, "strftime: %%n is a newline");

	memset(big, 'x', sizeof(big));
	big[TP_FORMAT_MAX] = '\0';
	ok(strlen(fmt(big, T_2026)) == TP_FORMAT_MAX,
	    "strftime: 256-byte format accepted");
	big[TP_FORMAT_MAX] = 'x';
	big[TP_FORMAT_MAX + 1] = '\0';
	ok(strcmp(fmt(big, T_2026), "error: format too long") == 0,
	    "strftime: 257-byte format is too long");
}

static void
test_strftime_errors(void)
{
	char many[2 * 22 + 1];
	struct timespec ts = { T_2026, 0 };
	size_t n;
	int i;

	n = timeproto_strftime("%Y\0%Y", 5, &ts, 1, out);
	ok(n > 6 && memcmp(out, "error:", 6) == 0,
	    "strftime: a NUL byte is an error");
	ok(strlen(fmt("%512Y", T_2026)) == TP_REPLY_MAX,
	    "strftime: 512 bytes of output fit");
	ok(strcmp(fmt("%513Y", T_2026), "error: output too long") == 0,
	    "strftime: 513 bytes of output do not");
	for (i = 0; i < 22; i++)
		memcpy(many + 2 * i, "%c", 3);
	ok(strcmp(fmt(many, T_2026), "error: output too long") == 0,
	    "strftime: 22 times %%c (528 bytes) is too long");
	ok(is_error(fmt("%1000Y", T_2026)), "strftime: 4-digit width");
	ok(is_error(fmt("%Q", T_2026)), "strftime: unknown conversion");
	ok(is_error(fmt("abc%", T_2026)), "strftime: trailing %%");
	ok(is_error(fmt("%E", T_2026)), "strftime: bare modifier");
}

/* An empty result is a reply, not the "too long" strftime(3) 0 means. */
static void
test_strftime_empty(void)
{
	struct timespec ts = { T_2026, 0 };

	setenv("TZ", "<>0", 1);
	tzset();
	ok(timeproto_strftime("%Z", 2, &ts, 0, out) == 0,
	    "strftime: empty zone name gives an empty reply");
	ok(timeproto_strftime("%Z%H", 4, &ts, 0, out) == 2 &&
	    memcmp(out, "03", 2) == 0, "strftime: empty zone then hour");
	setenv("TZ", "UTC0", 1);
	tzset();
}

static void
test_daytime(void)
{
	struct timespec ts = { T_2026, 0 };
	size_t n;

	n = timeproto_daytime(&ts, 1, out);
	ok(n == strlen("Sunday, November 22, 2026 03:41:19-UTC\r\n") &&
	    memcmp(out, "Sunday, November 22, 2026 03:41:19-UTC\r\n", n) == 0,
	    "daytime: UTC line");
	n = timeproto_daytime(&ts, 0, out);
	ok(n > 2 && out[n - 2] == '\r' && out[n - 1] == '\n',
	    "daytime: local line ends in CRLF");
}

static void
test_time(void)
{
	struct timespec ts = { 0, 0 };
	unsigned char b[TP_TIME_LEN];

	ok(timeproto_rfc868(&ts) == 2208988800U, "time: 1970 is 2208988800");
	timeproto_time(&ts, b);
	ok(b[0] == 0x83 && b[1] == 0xaa && b[2] == 0x7e && b[3] == 0x80,
	    "time: big-endian bytes");
	ts.tv_sec = T_WRAP - 1;
	ok(timeproto_rfc868(&ts) == UINT32_MAX, "time: last second of era 0");
	ts.tv_sec = T_WRAP;
	ok(timeproto_rfc868(&ts) == 0, "time: wraps at 2036-02-07T06:28:16Z");
	ts.tv_sec = T_WRAP + 5;
	timeproto_time(&ts, b);
	ok(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 5,
	    "time: era 1 counts from zero");
}

static uint64_t
get_be(const unsigned char *p, int len)
{
	uint64_t v = 0;

	while (len-- > 0)
		v = v << 8 | *p++;
	return v;
}

static void
test_ntp_ts(void)
{
	struct timespec ts = { 0, 500000000 };

	ok(timeproto_ntp_ts(&ts) == (2208988800ULL << 32 | 0x80000000U),
	    "ntp: half a second is 0x80000000");
	ts.tv_nsec = 999999999;
	ok((timeproto_ntp_ts(&ts) & 0xffffffffU) == 0xfffffffbU,
	    "ntp: fraction below one second");
	ts.tv_sec = T_WRAP;
	ts.tv_nsec = 250000000;
	ok(timeproto_ntp_ts(&ts) == 0x40000000U, "ntp: era 1 starts at 0");
}

/* A client request: version vn, mode m, poll 6, transmit 0x0102...08. */
static void
ntp_req(unsigned char req[TP_NTP_LEN], int vn, int m)
{
	int i;

	memset(req, 0, TP_NTP_LEN);
	req[0] = vn << 3 | m;
	req[2] = 6;
	for (i = 0; i < 8; i++)
		req[40 + i] = i + 1;
}

static void
test_ntp_reply(void)
{
	struct timespec rx = { T_2026, 500000000 }, tx = { T_2026 + 1, 0 };
	unsigned char req[TP_NTP_LEN + 20], rep[TP_NTP_LEN];
	const char *errstr;

	ntp_req(req, 4, 3);
	ok(timeproto_ntp_reply(req, TP_NTP_LEN, &rx, &tx, 10, rep,
	    &errstr) == TP_NTP_LEN, "ntp: v4 client request answered");
	ok(rep[0] == (4 << 3 | 4), "ntp: LI 0, version 4, mode 4");
	ok(rep[1] == 10 && rep[2] == 6 && (signed char)rep[3] == -20,
	    "ntp: stratum, poll copied, precision");
	ok(get_be(rep + 4, 4) == 0 && memcmp(rep + 12, "LOCL", 4) == 0,
	    "ntp: root delay 0, refid LOCL");
	ok(memcmp(rep + 24, req + 40, 8) == 0,
	    "ntp: origin is the client's transmit timestamp");
	ok(get_be(rep + 32, 8) == ((uint64_t)(T_2026 + 2208988800ULL) << 32 |
	    0x80000000U), "ntp: receive timestamp with fraction");
	ok(get_be(rep + 40, 8) == (uint64_t)(T_2026 + 1 + 2208988800ULL) << 32,
	    "ntp: transmit timestamp");
	ok(get_be(rep + 16, 8) != 0 && get_be(rep + 16, 8) <=
	    get_be(rep + 40, 8), "ntp: reference time set, not after transmit");

	ntp_req(req, 1, 3);
	ok(timeproto_ntp_reply(req, sizeof(req), &rx, &tx, 3, rep,
	    &errstr) == TP_NTP_LEN && rep[0] == (1 << 3 | 4) && rep[1] == 3,
	    "ntp: v1 with extra bytes answered, version echoed");
}

static void
test_ntp_drop(void)
{
	struct timespec rx = { T_2026, 0 };
	unsigned char req[TP_NTP_LEN], rep[TP_NTP_LEN];
	const char *errstr = NULL;
	int m;

	ntp_req(req, 4, 3);
	ok(timeproto_ntp_reply(req, TP_NTP_LEN - 1, &rx, &rx, 10, rep,
	    &errstr) == -1 && strcmp(errstr, "short packet") == 0,
	    "ntp: 47 bytes dropped");
	ok(timeproto_ntp_reply(req, 0, &rx, &rx, 10, rep, &errstr) == -1,
	    "ntp: empty packet dropped");
	for (m = 0; m < 8; m++) {
		if (m == 3)
			continue;
		ntp_req(req, 4, m);
		ok(timeproto_ntp_reply(req, TP_NTP_LEN, &rx, &rx, 10, rep,
		    &errstr) == -1, "ntp: mode %d dropped", m);
	}
	ntp_req(req, 0, 3);
	ok(timeproto_ntp_reply(req, TP_NTP_LEN, &rx, &rx, 10, rep,
	    &errstr) == -1, "ntp: version 0 dropped");
	ntp_req(req, 5, 3);
	ok(timeproto_ntp_reply(req, TP_NTP_LEN, &rx, &rx, 10, rep,
	    &errstr) == -1 && strcmp(errstr, "unsupported version") == 0,
	    "ntp: version 5 dropped");
	memset(req, 0xff, sizeof(req));
	ok(timeproto_ntp_reply(req, TP_NTP_LEN, &rx, &rx, 10, rep,
	    &errstr) == -1, "ntp: garbage dropped");
}

static void
test_names(void)
{
	enum timeproto tp;

	ok(timeproto_parse("ntp", &tp) == 0 && tp == TP_NTP &&
	    timeproto_port(tp) == 123, "proto: ntp port 123");
	ok(timeproto_parse("strftime", &tp) == 0 && tp == TP_STRFTIME &&
	    timeproto_port(tp) == 9000, "proto: strftime port 9000");
	ok(timeproto_parse("daytime", &tp) == 0 && timeproto_port(tp) == 13,
	    "proto: daytime port 13");
	ok(timeproto_parse("time", &tp) == 0 && timeproto_port(tp) == 37 &&
	    strcmp(timeproto_name(tp), "time") == 0, "proto: time port 37");
	ok(timeproto_parse("Time", &tp) == -1 &&
	    timeproto_parse("tim", &tp) == -1, "proto: exact names only");
}

/* %s is the epoch in UTC mode too, though glibc's %s reads a local tm. */
static void
test_strftime_epoch_zone(void)
{
	setenv("TZ", "XST-5:30", 1);
	tzset();
	ok(strcmp(fmt("%s", T_2026), "1795318879") == 0,
	    "strftime: %%s with --utc in a zone east of UTC");
	ok(strcmp(fmt("%H %s %%s %-s", T_2026), "03 1795318879 %s 1795318879")
	    == 0, "strftime: every %%s conversion, not %%%%s");
	setenv("TZ", "UTC0", 1);
	tzset();
}

int
main(void)
{
	setenv("TZ", "UTC0", 1);
	test_strftime();
	test_strftime_errors();
	test_strftime_empty();
	test_daytime();
	test_time();
	test_ntp_ts();
	test_ntp_reply();
	test_ntp_drop();
	test_names();
	test_strftime_epoch_zone();
	return tap_done();
}
