#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "tap.h"

static struct proxy_chain c;
static struct proxy p;

static int
parse(const char *url, const char **errstr)
{
	*errstr = NULL;
	return proxy_parse(&c, url, errstr);
}

static void
t_urls(void)
{
	const char *e;
	char name[300];

	ok(parse("socks5://127.0.0.1", &e) == 0 && c.n == 1 &&
	    c.hop[0].type == PROXY_SOCKS5 && strcmp(c.hop[0].port, "1080")
	    == 0 && !c.hop[0].has_auth, "socks5 default port 1080");
	ok(parse("socks4a://me@h:9050", &e) == 0 &&
	    c.hop[0].type == PROXY_SOCKS4A && strcmp(c.hop[0].user, "me") ==
	    0 && strcmp(c.hop[0].port, "9050") == 0, "socks4a with a user");
	ok(parse("http://proxy.example/", &e) == 0 &&
	    c.hop[0].type == PROXY_HTTP && strcmp(c.hop[0].port, "3128") == 0,
	    "http default port 3128, trailing slash");
	ok(parse("HTTP://u:p%40ss@[::1]:8080", &e) == 0 &&
	    strcmp(c.hop[0].host, "::1") == 0 &&
	    strcmp(c.hop[0].port, "8080") == 0 &&
	    strcmp(c.hop[0].pass, "p@ss") == 0 && c.hop[0].has_auth,
	    "IPv6 host, percent-decoded password, scheme any case");
	ok(strcmp(proxy_hop_name(&c.hop[0], name, sizeof(name)),
	    "http://[::1]:8080") == 0, "hop name hides credentials: %s", name);
	ok(parse("socks5://a:b@h1,http://h2:3129,socks4a://h3", &e) == 0 &&
	    c.n == 3 && strcmp(c.hop[1].host, "h2") == 0 &&
	    c.hop[2].type == PROXY_SOCKS4A, "a chain of three");
	ok(parse("socks5://u:topsecret@h:0", &e) == -1 &&
	    strstr(e, "topsecret") == NULL && strstr(e, "1-65535") != NULL,
	    "port 0 refused, password hidden: %s", e);
	ok(parse("h:1080", &e) == -1 && strstr(e, "no scheme") != NULL,
	    "no scheme: %s", e);
	ok(parse("socks4://h", &e) == -1 && strstr(e, "socks4a") != NULL,
	    "socks4 points to socks4a: %s", e);
	ok(parse("https://h", &e) == -1, "https refused: %s", e);
	ok(parse("socks5://", &e) == -1 && strstr(e, "missing host"),
	    "missing host: %s", e);
	ok(parse("socks5://::1:1080", &e) == -1 && strstr(e, "brackets"),
	    "bare IPv6: %s", e);
	ok(parse("socks5://[::1", &e) == -1, "unclosed bracket: %s", e);
	ok(parse("socks5://h:12a", &e) == -1, "bad port: %s", e);
	ok(parse("socks5://h:", &e) == -1, "empty port: %s", e);
	ok(parse("http://h/x", &e) == -1, "path: %s", e);
	ok(parse("socks5://user@h", &e) == -1, "socks5 user no pass: %s", e);
	ok(parse("socks4a://u:p@h", &e) == -1, "socks4a pass: %s", e);
	ok(parse("socks5://h,", &e) == -1 && strstr(e, "empty URL"),
	    "empty URL in a chain: %s", e);
	ok(parse("socks5://a%zz:b@h", &e) == -1, "bad escape: %s", e);
	ok(parse("socks5://a%00:b@h", &e) == -1, "NUL escape: %s", e);
	ok(parse("socks5://h,socks5://h,socks5://h,socks5://h,socks5://h,"
	    "socks5://h,socks5://h,socks5://h,socks5://h", &e) == -1,
	    "nine hops: %s", e);
}

static void
t_auth(void)
{
	const char *e;

	parse("socks5://a:b@h1,http://h2", &e);
	ok(proxy_set_auth(&c, "bob:pw:x", 8, &e) == 0 &&
	    strcmp(c.hop[0].user, "a") == 0 && strcmp(c.hop[1].user, "bob") ==
	    0 && strcmp(c.hop[1].pass, "pw:x") == 0,
	    "--proxy-auth only for hops without credentials");
	ok(proxy_set_auth(&c, "nocolon", 7, &e) == -1, "no colon: %s", e);
	ok(proxy_set_auth(&c, ":pw", 3, &e) == -1, "empty user: %s", e);
}

/* Feed the whole reply; return the status and count the bytes used. */
static enum proxy_status
feed(const void *buf, size_t n, size_t *used)
{
	return proxy_input(&p, buf, n, used);
}

static void
t_socks5(void)
{
	const unsigned char *out;
	const char *e;
	size_t n, used;

	parse("socks5://h", &e);
	proxy_start(&p, &c.hop[0], "example.org", 443);
	n = proxy_output(&p, &out);
	ok(n == 3 && memcmp(out, "\5\1\0", 3) == 0, "greeting, no auth");
	proxy_sent(&p);
	ok(proxy_want(&p) == 2, "wants 2 bytes of method reply");
	ok(feed("\5\0", 2, &used) == PROXY_MORE && used == 2, "method 0");
	n = proxy_output(&p, &out);
	ok(n == 4 + 1 + 11 + 2 && memcmp(out, "\5\1\0\3\13example.org\1\273",
	    n) == 0, "CONNECT by name, ATYP 3");
	proxy_sent(&p);
	ok(feed("\5\0\0\1\177\0\0\1\0\120TUNNEL", 16, &used) == PROXY_DONE &&
	    used == 10, "IPv4 reply: exactly 10 bytes taken");

	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	feed("\5\0", 2, &used);
	proxy_sent(&p);
	ok(feed("\5\0\0\3\3abc\0\1xyz", 12, &used) == PROXY_DONE &&
	    used == 10, "domain reply: exactly 10 bytes taken");

	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	feed("\5\0", 2, &used);
	proxy_sent(&p);
	ok(feed("\5\2\0\1", 4, &used) == PROXY_FAIL && strcmp(proxy_error(&p),
	    "SOCKS5: connection not allowed by ruleset") == 0,
	    "reply code 2: %s", proxy_error(&p));
	ok(!proxy_target_down(&p), "a ruleset refusal is not for --retry");
	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	feed("\5\0", 2, &used);
	proxy_sent(&p);
	ok(feed("\5\5\0\1", 4, &used) == PROXY_FAIL &&
	    proxy_target_down(&p), "reply code 5: the target is down");

	proxy_start(&p, &c.hop[0], "h", 1);
	proxy_sent(&p);
	ok(feed("\5\377", 2, &used) == PROXY_FAIL &&
	    strstr(proxy_error(&p), "requires a user and password") != NULL,
	    "no method: %s", proxy_error(&p));
	proxy_start(&p, &c.hop[0], "h", 1);
	proxy_sent(&p);
	ok(feed("HTTP/1.1", 8, &used) == PROXY_FAIL && used == 2,
	    "not SOCKS5: %s", proxy_error(&p));
}

static void
t_socks5_auth(void)
{
	const unsigned char *out;
	const char *e;
	size_t n, used;

	parse("socks5://bob:secret@h", &e);
	proxy_start(&p, &c.hop[0], "x", 80);
	n = proxy_output(&p, &out);
	ok(n == 4 && memcmp(out, "\5\2\0\2", 4) == 0, "offers 0 and 2");
	proxy_sent(&p);
	ok(feed("\5\2\5\0", 4, &used) == PROXY_MORE && used == 2,
	    "method 2 taken, the rest left for later");
	n = proxy_output(&p, &out);
	ok(n == 1 + 1 + 3 + 1 + 6 && memcmp(out, "\1\3bob\6secret", n) == 0,
	    "RFC 1929 request");
	proxy_sent(&p);
	ok(feed("\1\1", 2, &used) == PROXY_FAIL &&
	    strstr(proxy_error(&p), "authentication failed") != NULL &&
	    strstr(proxy_error(&p), "secret") == NULL, "auth refused: %s",
	    proxy_error(&p));
	proxy_start(&p, &c.hop[0], "x", 80);
	proxy_sent(&p);
	feed("\5\2", 2, &used);
	proxy_sent(&p);
	ok(feed("\1\0", 2, &used) == PROXY_MORE && proxy_output(&p, &out) ==
	    4 + 1 + 1 + 2, "auth accepted: the request follows");
}

static void
t_socks4a(void)
{
	const unsigned char *out;
	const char *e;
	size_t n, used;

	parse("socks4a://me@h", &e);
	proxy_start(&p, &c.hop[0], "example.org", 80);
	n = proxy_output(&p, &out);
	ok(n == 8 + 3 + 12 && memcmp(out, "\4\1\0\120\0\0\0\1me\0example.org",
	    n) == 0, "SOCKS4A request with 0.0.0.1 and the name");
	proxy_sent(&p);
	ok(feed("\0\132\0\0\0\0\0\0DATA", 12, &used) == PROXY_DONE &&
	    used == 8, "granted: exactly 8 bytes taken");
	proxy_start(&p, &c.hop[0], "10.1.2.3", 80);
	n = proxy_output(&p, &out);
	ok(n == 8 + 3 && memcmp(out, "\4\1\0\120\12\1\2\3me", n) == 0,
	    "an IPv4 address goes as plain SOCKS4");
	proxy_start(&p, &c.hop[0], "example.org", 80);
	proxy_sent(&p);
	ok(feed("\0\133\0\0\0\0\0\0", 8, &used) == PROXY_FAIL &&
	    strstr(proxy_error(&p), "SOCKS4: request rejected") != NULL,
	    "91: %s", proxy_error(&p));
	proxy_start(&p, &c.hop[0], "example.org", 80);
	proxy_sent(&p);
	ok(feed("\0\135\0\0\0\0\0\0", 8, &used) == PROXY_FAIL &&
	    strstr(proxy_error(&p), "identd") != NULL, "93: %s",
	    proxy_error(&p));
}

static void
t_http(void)
{
	static const char ok200[] = "HTTP/1.1 200 Connection established\r\n"
	    "Proxy-agent: x\r\n\r\nSSH-2.0-banner\r\n";
	const unsigned char *out;
	const char *e;
	size_t n, used, i;
	enum proxy_status st = PROXY_MORE;

	parse("http://Aladdin:open%20sesame@h", &e);
	proxy_start(&p, &c.hop[0], "::1", 22);
	n = proxy_output(&p, &out);
	ok(n > 0 && memmem(out, n, "CONNECT [::1]:22 HTTP/1.1\r\n", 27) ==
	    out && memmem(out, n, "\r\nHost: [::1]:22\r\n", 18) != NULL &&
	    memmem(out, n, "Proxy-Authorization: Basic "
	    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n", 59) != NULL,
	    "CONNECT with Host and Basic credentials");
	proxy_sent(&p);
	ok(feed(ok200, sizeof(ok200) - 1, &used) == PROXY_DONE &&
	    used == sizeof(ok200) - 1 - 16, "200: the banner is left over");

	parse("http://h", &e);
	proxy_start(&p, &c.hop[0], "example.org", 443);
	n = proxy_output(&p, &out);
	ok(memmem(out, n, "Proxy-Authorization", 19) == NULL &&
	    memcmp(out + n - 4, "\r\n\r\n", 4) == 0, "no credentials");
	proxy_sent(&p);
	for (i = 0; i < sizeof(ok200) - 1 && st == PROXY_MORE; i++)
		st = feed(ok200 + i, 1, &used);
	ok(st == PROXY_DONE && i == sizeof(ok200) - 1 - 16,
	    "a byte at a time");

	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	ok(feed("HTTP/1.1 403 Forbidden\r\n\r\n", 26, &used) == PROXY_FAIL &&
	    strcmp(proxy_error(&p), "proxy refused: HTTP/1.1 403 Forbidden")
	    == 0, "403 quoted: %s", proxy_error(&p));
	ok(!proxy_target_down(&p), "403 is not for --retry");
	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	ok(feed("HTTP/1.1 500 Unable to connect\r\n\r\n", 34, &used) ==
	    PROXY_FAIL && proxy_target_down(&p), "500: the target is down");
	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	ok(feed("HTTP/1.0 407 Proxy \x1b[31m\r\n\r\n", 28, &used) ==
	    PROXY_FAIL && strchr(proxy_error(&p), '\x1b') == NULL,
	    "control bytes not quoted raw: %s", proxy_error(&p));
	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	ok(feed("SSH-2.0-x\n\n", 11, &used) == PROXY_FAIL,
	    "not HTTP: %s", proxy_error(&p));
}

static void
t_http_long(void)
{
	static char big[PROXY_REPLYMAX + 100];
	const unsigned char *out;
	const char *e;
	size_t used;

	parse("http://h", &e);
	proxy_start(&p, &c.hop[0], "example.org", 443);
	proxy_sent(&p);
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	memset(big + 17, 'x', sizeof(big) - 17);
	ok(feed(big, sizeof(big), &used) == PROXY_FAIL &&
	    used == PROXY_REPLYMAX, "header bounded at 8 KiB: %s",
	    proxy_error(&p));
	memset(big, 'a', sizeof(big));
	big[256] = '\0';
	ok(proxy_start(&p, &c.hop[0], big, 80) == -1, "256-byte host: %s",
	    proxy_error(&p));
	big[255] = '\0';
	memset(c.hop[0].user, 'u', PROXY_NAMEMAX);
	memset(c.hop[0].pass, 'p', PROXY_NAMEMAX);
	c.hop[0].has_auth = 1;
	ok(proxy_start(&p, &c.hop[0], big, 65535) == 0 &&
	    proxy_output(&p, &out) > 1200 &&
	    memcmp(out + proxy_output(&p, &out) - 4, "\r\n\r\n", 4) == 0,
	    "the longest CONNECT fits: host, user and password of 255 bytes");
}

int
main(void)
{
	t_urls();
	t_auth();
	t_socks5();
	t_socks5_auth();
	t_socks4a();
	t_http();
	t_http_long();
	proxy_clear(&p);
	proxy_chain_clear(&c);
	return tap_done();
}
