#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Append s to buf as a JSON string; return the new length. */
static size_t
json_str(char *buf, size_t len, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;

	if (len + 2 >= size)
		return len;
	buf[len++] = '"';
	for (; *s != '\0' && len + 8 < size; s++) {
		c = *s;
		if (c == '"' || c == '\\') {
			buf[len++] = '\\';
			buf[len++] = c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(buf + len, "\\u00", 4);
			buf[len + 4] = hex[c >> 4];
			buf[len + 5] = hex[c & 15];
			len += 6;
		} else
			buf[len++] = c;
	}
	buf[len++] = '"';
	return len;
}

/* Append ,"key":value where value is a JSON string. */
static size_t
json_kv(char *buf, size_t len, size_t size, const char *key, const char *v)
{
	int n;

	n = snprintf(buf + len, size - len, ",\"%s\":", key);
	if (n < 0 || (size_t)n >= size - len)
		return len;
	return json_str(buf, len + n, size, v);
}

/* Write one event as a JSON line on stderr, in one write(2). */
void
log_json(const struct log_event *e)
{
	char buf[2048], ts[32];
	struct timespec now;
	struct tm tm;
	size_t len;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	len = snprintf(buf, sizeof(buf), "{\"time\":\"%s.%03ldZ\"", ts,
	    now.tv_nsec / 1000000);
	len = json_kv(buf, len, sizeof(buf), "event", e->event);
	len = json_kv(buf, len, sizeof(buf), "peer", e->peer);
	if (e->nick != NULL)
		len = json_kv(buf, len, sizeof(buf), "nick", e->nick);
	if (e->counts) {
		n = snprintf(buf + len, sizeof(buf) - len, ",\"sent\":%" PRIu64
		    ",\"received\":%" PRIu64 ",\"duration_ms\":%" PRId64,
		    e->sent, e->rcvd, e->ms);
		if (n > 0 && (size_t)n < sizeof(buf) - len)
			len += n;
	}
	if (e->status >= 0) {
		n = snprintf(buf + len, sizeof(buf) - len, ",\"status\":%d",
		    e->status);
		if (n > 0 && (size_t)n < sizeof(buf) - len)
			len += n;
	}
	if (e->reason != NULL)
		len = json_kv(buf, len, sizeof(buf), "reason", e->reason);
	if (len + 2 > sizeof(buf))
		len = sizeof(buf) - 2;
	buf[len++] = '}';
	buf[len++] = '\n';
	(void)!write(STDERR_FILENO, buf, len);
}
