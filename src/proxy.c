/*
 * The proxy client's messages, with no descriptors: --proxy URLs, and
 * one state machine per hop for SOCKS5 (RFC 1928, RFC 1929), SOCKS4A and
 * HTTP CONNECT.  The caller sends what proxy_output() gives, and feeds
 * the proxy's reply to proxy_input(), which takes no byte past the end
 * of the reply: what follows belongs to the tunnel.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "proxy.h"

enum {
	S5_METHOD,		/* VER METHOD */
	S5_AUTH,		/* VER STATUS of RFC 1929 */
	S5_HEAD,		/* VER REP RSV ATYP */
	S5_NAMELEN,		/* the length of a domain name in the reply */
	S5_ADDR,		/* BND.ADDR BND.PORT */
	S4_REPLY,		/* VN CD DSTPORT DSTIP */
	HTTP_HEADER		/* up to CRLFCRLF */
};

static const struct {
	const char	*scheme;
	enum proxy_type	 type;
	const char	*port;
} schemes[] = {
	{ "socks5",	PROXY_SOCKS5,	"1080" },
	{ "socks5h",	PROXY_SOCKS5,	"1080" },
	{ "socks4a",	PROXY_SOCKS4A,	"1080" },
	{ "http",	PROXY_HTTP,	"3128" },
};

/* RFC 1928's reply codes, 1 to 8. */
static const char *const socks5_rep[] = {
	"succeeded",
	"general SOCKS server failure",
	"connection not allowed by ruleset",
	"network unreachable",
	"host unreachable",
	"connection refused",
	"TTL expired",
	"command not supported",
	"address type not supported",
};

/* Copy url to buf with any password replaced by "***". */
static void
redact(const char *url, size_t len, char *buf, size_t size)
{
	const char *at, *colon, *auth, *end = url + len;

	auth = strstr(url, "://");
	auth = auth != NULL && auth < end ? auth + 3 : url;
	at = memrchr(auth, '@', end - auth);
	colon = at != NULL ? memchr(auth, ':', at - auth) : NULL;
	if (colon == NULL)
		snprintf(buf, size, "%.*s", (int)len, url);
	else
		snprintf(buf, size, "%.*s:***%.*s", (int)(colon - url), url,
		    (int)(end - at), at);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..len) into dst; return 0, or -1 if bad or too long. */
static int
pct_decode(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (o + 1 >= size)
			return -1;
		if (s[i] != '%') {
			dst[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hexval((unsigned char)s[i + 1])) == -1 ||
		    (lo = hexval((unsigned char)s[i + 2])) == -1 ||
		    (hi == 0 && lo == 0))
			return -1;
		dst[o++] = hi << 4 | lo;
		i += 2;
	}
	dst[o] = '\0';
	return 0;
}

static const char *
parse_scheme(struct proxy_hop *h, const char **s, const char *end)
{
	const char *p;
	size_t i, len;

	if ((p = strstr(*s, "://")) == NULL || p >= end)
		return "no scheme: use socks5://, socks4a:// or http://";
	len = p - *s;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i].scheme) == len &&
		    strncasecmp(*s, schemes[i].scheme, len) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		if (len == 6 && strncasecmp(*s, "socks4", 6) == 0)
			return "socks4 resolves names itself: use socks4a://";
		return "unknown scheme: use socks5://, socks4a:// or http://";
	}
	h->type = schemes[i].type;
	strlcpy(h->port, schemes[i].port, sizeof(h->port));
	*s = p + 3;
	return NULL;
}

static const char *
parse_userinfo(struct proxy_hop *h, const char *s, const char *at)
{
	const char *colon;

	colon = memchr(s, ':', at - s);
	if (h->type == PROXY_SOCKS4A && colon != NULL)
		return "socks4a takes a user but no password";
	if (h->type != PROXY_SOCKS4A && colon == NULL)
		return "credentials must be USER:PASS";
	if (colon == NULL)
		colon = at;
	if (colon == s)
		return "empty user name";
	if (pct_decode(h->user, sizeof(h->user), s, colon - s) == -1)
		return "bad or over-long user name";
	if (colon < at && pct_decode(h->pass, sizeof(h->pass), colon + 1,
	    at - colon - 1) == -1)
		return "bad or over-long password";
	h->has_auth = 1;
	return NULL;
}

static const char *
parse_hostport(struct proxy_hop *h, const char *s, const char *end)
{
	const char *hend, *port = NULL, *errstr;
	size_t len;

	if (*s == '[') {
		if ((hend = memchr(s, ']', end - s)) == NULL)
			return "missing ']' after an IPv6 address";
		s++;
		if (hend + 1 < end && hend[1] != ':')
			return "junk after ']'";
		if (hend + 1 < end)
			port = hend + 2;
	} else {
		if ((hend = memchr(s, ':', end - s)) != NULL) {
			if (memchr(hend + 1, ':', end - hend - 1) != NULL)
				return "an IPv6 address needs brackets: [::1]";
			port = hend + 1;
		} else
			hend = end;
	}
	if ((len = hend - s) == 0)
		return "missing host";
	if (len > PROXY_NAMEMAX)
		return "host name too long";
	memcpy(h->host, s, len);
	h->host[len] = '\0';
	if (memchr(h->host, '@', len) != NULL || memchr(h->host, '%', len))
		return "bad character in host";
	if (port == NULL)
		return NULL;
	if ((size_t)(end - port) >= sizeof(h->port) || port == end ||
	    strspn(port, "0123456789") < (size_t)(end - port))
		return "bad port";
	memcpy(h->port, port, end - port);
	h->port[end - port] = '\0';
	(void)strtonum(h->port, 1, 65535, &errstr);
	return errstr == NULL ? NULL : "port must be 1-65535";
}

/* Parse one URL s[0..len) into h; return NULL or what is wrong. */
static const char *
parse_url(struct proxy_hop *h, const char *s, size_t len)
{
	const char *end = s + len, *slash, *at, *why;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return "empty URL";
	if ((why = parse_scheme(h, &s, end)) != NULL)
		return why;
	if ((slash = memchr(s, '/', end - s)) != NULL) {
		if (slash + 1 != end)
			return "a proxy URL has no path";
		end = slash;
	}
	if ((at = memrchr(s, '@', end - s)) != NULL) {
		if ((why = parse_userinfo(h, s, at)) != NULL)
			return why;
		s = at + 1;
	}
	return parse_hostport(h, s, end);
}

/*
 * Parse a comma-separated list of proxy URLs into c; return 0, or -1
 * and set *errstr (which quotes the URL with its password hidden).
 */
int
proxy_parse(struct proxy_chain *c, const char *list, const char **errstr)
{
	const char *s = list, *comma, *why;
	char shown[128];
	size_t len;

	proxy_chain_clear(c);
	for (;;) {
		comma = strchr(s, ',');
		len = comma != NULL ? (size_t)(comma - s) : strlen(s);
		if (c->n == PROXY_MAXHOPS)
			why = "more than 8 proxies in the chain";
		else
			why = parse_url(&c->hop[c->n], s, len);
		if (why != NULL) {
			redact(s, len, shown, sizeof(shown));
			snprintf(c->err, sizeof(c->err), "bad proxy URL "
			    "\"%s\": %s", shown, why);
			*errstr = c->err;
			return -1;
		}
		c->n++;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

/*
 * Give the credentials USER:PASS in s[0..len) (SOCKS4A: all of it is
 * the user) to every hop without its own; return 0, or -1 and *errstr.
 */
int
proxy_set_auth(struct proxy_chain *c, const char *s, size_t len,
    const char **errstr)
{
	const char *colon = memchr(s, ':', len);
	struct proxy_hop *h;
	size_t i, ulen = 0, plen = 0;

	*errstr = NULL;
	if (memchr(s, '\0', len) != NULL)
		*errstr = "a NUL byte in the credentials";
	else if (colon == NULL || colon == s)
		*errstr = "expected USER:PASS";
	else if ((ulen = colon - s) > PROXY_NAMEMAX ||
	    (plen = len - ulen - 1) > PROXY_NAMEMAX)
		*errstr = "user or password longer than 255 bytes";
	if (*errstr != NULL)
		return -1;
	for (i = 0; i < c->n; i++) {
		if ((h = &c->hop[i])->has_auth)
			continue;
		memcpy(h->user, s, ulen);
		h->user[ulen] = '\0';
		memcpy(h->pass, colon + 1, plen);
		h->pass[plen] = '\0';
		h->has_auth = 1;
	}
	return 0;
}

/* Forget a chain, its passwords wiped. */
void
proxy_chain_clear(struct proxy_chain *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* Name a hop for messages, as "socks5://HOST:PORT": never a password. */
const char *
proxy_hop_name(const struct proxy_hop *h, char *buf, size_t size)
{
	static const char *const name[] = { "socks5", "socks4a", "http" };
	int v6 = strchr(h->host, ':') != NULL;

	snprintf(buf, size, "%s://%s%s%s:%s", name[h->type], v6 ? "[" : "",
	    h->host, v6 ? "]" : "", h->port);
	return buf;
}

/* End in failure: why, and what the proxy said (quote, or NULL). */
static enum proxy_status
failq(struct proxy *p, const char *why, const char *quote)
{
	snprintf(p->err, sizeof(p->err), "%s%s", why, quote ? quote : "");
	p->status = PROXY_FAIL;
	return PROXY_FAIL;
}

static enum proxy_status
fail(struct proxy *p, const char *why)
{
	return failq(p, why, NULL);
}

/* Append to the output; out is sized for the longest message. */
static void
put(struct proxy *p, const void *s, size_t len)
{
	if (p->outlen + len > sizeof(p->out))
		abort();
	memcpy(p->out + p->outlen, s, len);
	p->outlen += len;
}

static void
put8(struct proxy *p, int c)
{
	unsigned char b = c;

	put(p, &b, 1);
}

static void
expect(struct proxy *p, int state, size_t want)
{
	p->state = state;
	p->want = want;
	p->inlen = 0;
}

static void
socks5_request(struct proxy *p)
{
	size_t len = strlen(p->host);

	put(p, "\5\1\0\3", 4);
	put8(p, len);
	put(p, p->host, len);
	put8(p, p->port >> 8);
	put8(p, p->port & 0xff);
	expect(p, S5_HEAD, 4);
}

static void
http_request(struct proxy *p)
{
	char line[2 * PROXY_NAMEMAX + 128], up[2 * PROXY_NAMEMAX + 2];
	unsigned char b64[4 * ((sizeof(up) + 2) / 3) + 1];
	int v6 = strchr(p->host, ':') != NULL, n;

	n = snprintf(line, sizeof(line), "CONNECT %s%s%s:%d HTTP/1.1\r\n"
	    "Host: %s%s%s:%d\r\n", v6 ? "[" : "", p->host, v6 ? "]" : "",
	    p->port, v6 ? "[" : "", p->host, v6 ? "]" : "", p->port);
	put(p, line, n);
	if (p->hop->has_auth) {
		n = snprintf(up, sizeof(up), "%s:%s", p->hop->user,
		    p->hop->pass);
		EVP_EncodeBlock(b64, (unsigned char *)up, n);
		put(p, "Proxy-Authorization: Basic ", 27);
		put(p, b64, strlen((char *)b64));
		put(p, "\r\n", 2);
		explicit_bzero(up, sizeof(up));
		explicit_bzero(b64, sizeof(b64));
	}
	put(p, "\r\n", 2);
	expect(p, HTTP_HEADER, PROXY_REPLYMAX);
}

/*
 * SOCKS4A names the host after the user, with 0.0.0.1 as the address;
 * an IPv4 address needs no name, and goes as plain SOCKS4 (which every
 * SOCKS4A proxy speaks, and danted, without the name form, too).
 */
static void
socks4_request(struct proxy *p)
{
	struct in_addr ia;
	int literal = inet_pton(AF_INET, p->host, &ia) == 1;

	put(p, "\4\1", 2);
	put8(p, p->port >> 8);
	put8(p, p->port & 0xff);
	if (literal)
		put(p, &ia, 4);
	else
		put(p, "\0\0\0\1", 4);
	put(p, p->hop->user, strlen(p->hop->user) + 1);
	if (!literal)
		put(p, p->host, strlen(p->host) + 1);
	expect(p, S4_REPLY, 8);
}

/*
 * Begin the negotiation with hop for a tunnel to host port (host sent
 * by name); return 0, or -1 if host cannot be sent (proxy_error()).
 */
int
proxy_start(struct proxy *p, const struct proxy_hop *hop, const char *host,
    int port)
{
	memset(p, 0, sizeof(*p));
	p->hop = hop;
	p->port = port;
	p->status = PROXY_MORE;
	if (strlen(host) > PROXY_NAMEMAX || *host == '\0') {
		fail(p, "a host name for a proxy is 1 to 255 bytes");
		return -1;
	}
	strlcpy(p->host, host, sizeof(p->host));
	switch (hop->type) {
	case PROXY_SOCKS5:
		if (hop->has_auth)
			put(p, "\5\2\0\2", 4);
		else
			put(p, "\5\1\0", 3);
		expect(p, S5_METHOD, 2);
		break;
	case PROXY_SOCKS4A:
		socks4_request(p);
		break;
	case PROXY_HTTP:
		http_request(p);
		break;
	}
	return 0;
}

/* Point *out at the bytes to send to the proxy now; return how many. */
size_t
proxy_output(struct proxy *p, const unsigned char **out)
{
	*out = p->out;
	return p->status == PROXY_MORE ? p->outlen : 0;
}

/* Say that all of proxy_output() was sent (it is wiped: passwords). */
void
proxy_sent(struct proxy *p)
{
	explicit_bzero(p->out, p->outlen);
	p->outlen = 0;
}

/* How many bytes of the reply the caller may offer without overrunning. */
size_t
proxy_want(const struct proxy *p)
{
	if (p->status != PROXY_MORE || p->outlen > 0)
		return 0;
	return p->want - p->inlen;
}

static enum proxy_status
socks5_method(struct proxy *p)
{
	const struct proxy_hop *h = p->hop;
	size_t ulen = strlen(h->user), plen = strlen(h->pass);

	if (p->in[0] != 5)
		return fail(p, "SOCKS5: not a SOCKS5 proxy");
	if (p->in[1] == 0) {
		socks5_request(p);
		return PROXY_MORE;
	}
	if (p->in[1] == 2 && h->has_auth) {
		put8(p, 1);
		put8(p, ulen);
		put(p, h->user, ulen);
		put8(p, plen);
		put(p, h->pass, plen);
		expect(p, S5_AUTH, 2);
		return PROXY_MORE;
	}
	if (p->in[1] == 0xff && !h->has_auth)
		return fail(p, "SOCKS5: the proxy requires a user and "
		    "password");
	return fail(p, "SOCKS5: no acceptable authentication method");
}

static enum proxy_status
socks5_head(struct proxy *p)
{
	char code[32];

	if (p->in[0] != 5)
		return fail(p, "SOCKS5: bad reply version");
	if (p->in[1] != 0) {
		p->target_down = p->in[1] >= 3 && p->in[1] <= 5;
		if (p->in[1] < sizeof(socks5_rep) / sizeof(socks5_rep[0]))
			return failq(p, "SOCKS5: ", socks5_rep[p->in[1]]);
		snprintf(code, sizeof(code), "%d", p->in[1]);
		return failq(p, "SOCKS5: unknown reply code ", code);
	}
	switch (p->in[3]) {
	case 1:
		expect(p, S5_ADDR, 4 + 2);
		break;
	case 3:
		expect(p, S5_NAMELEN, 1);
		break;
	case 4:
		expect(p, S5_ADDR, 16 + 2);
		break;
	default:
		return fail(p, "SOCKS5: bad address type in the reply");
	}
	return PROXY_MORE;
}

static enum proxy_status
socks4_reply(struct proxy *p)
{
	static const char *const why[] = {
		"request rejected or failed",
		"request rejected: the proxy cannot reach identd on the client",
		"request rejected: identd reports a different user",
	};

	if (p->in[0] != 0 && p->in[0] != 4)
		return fail(p, "SOCKS4: not a SOCKS4 proxy");
	if (p->in[1] == 90) {
		p->status = PROXY_DONE;
		return PROXY_DONE;
	}
	p->target_down = p->in[1] == 91;
	if (p->in[1] >= 91 && p->in[1] <= 93)
		return failq(p, "SOCKS4: ", why[p->in[1] - 91]);
	return fail(p, "SOCKS4: unknown reply code");
}

/* One complete piece of a SOCKS reply is in p->in: act on it. */
static enum proxy_status
socks_step(struct proxy *p)
{
	switch (p->state) {
	case S5_METHOD:
		return socks5_method(p);
	case S5_AUTH:
		if (p->in[1] != 0)
			return fail(p, "SOCKS5: user/password authentication "
			    "failed");
		socks5_request(p);
		return PROXY_MORE;
	case S5_HEAD:
		return socks5_head(p);
	case S5_NAMELEN:
		expect(p, S5_ADDR, (size_t)p->in[0] + 2);
		return PROXY_MORE;
	case S5_ADDR:
		p->status = PROXY_DONE;
		return PROXY_DONE;
	default:
		return socks4_reply(p);
	}
}

/* Quote an HTTP status line: printable bytes only, at most 160. */
static enum proxy_status
http_status(struct proxy *p)
{
	char line[161];
	size_t i;
	int code;

	for (i = 0; i < p->inlen && i < sizeof(line) - 1 &&
	    p->in[i] != '\r' && p->in[i] != '\n'; i++)
		line[i] = isprint(p->in[i]) ? p->in[i] : '?';
	line[i] = '\0';
	if (i < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]))
		return failq(p, "HTTP proxy: not an HTTP reply: ", line);
	code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0';
	/* 5xx: the proxy could not reach the target (500, 502, 503, 504). */
	p->target_down = code >= 500 && code <= 599;
	if (code < 200 || code > 299)
		return failq(p, "proxy refused: ", line);
	p->status = PROXY_DONE;
	return PROXY_DONE;
}

/* Take bytes of the header one at a time: none past its blank line. */
static enum proxy_status
http_input(struct proxy *p, const unsigned char *buf, size_t n, size_t *used)
{
	unsigned char *in = p->in;
	size_t k;

	while (*used < n) {
		if (p->inlen == sizeof(p->in))
			return fail(p, "HTTP proxy: reply header longer than "
			    "8192 bytes");
		in[p->inlen++] = buf[(*used)++];
		k = p->inlen;
		if ((k >= 2 && in[k - 1] == '\n' && in[k - 2] == '\n') ||
		    (k >= 4 && memcmp(in + k - 4, "\r\n\r\n", 4) == 0))
			return http_status(p);
	}
	if (p->inlen == sizeof(p->in))
		return fail(p, "HTTP proxy: reply header longer than 8192 "
		    "bytes");
	return PROXY_MORE;
}

/*
 * Feed n bytes the proxy sent; set *used to how many were part of its
 * reply (the rest belong to the tunnel, or to a later step) and return
 * PROXY_MORE (send proxy_output(), or offer more), PROXY_DONE or
 * PROXY_FAIL.
 */
enum proxy_status
proxy_input(struct proxy *p, const unsigned char *buf, size_t n, size_t *used)
{
	size_t take;

	*used = 0;
	if (p->status == PROXY_MORE && p->state == HTTP_HEADER)
		return http_input(p, buf, n, used);
	while (p->status == PROXY_MORE && p->outlen == 0 && *used < n) {
		take = p->want - p->inlen;
		if (take > n - *used)
			take = n - *used;
		memcpy(p->in + p->inlen, buf + *used, take);
		p->inlen += take;
		*used += take;
		if (p->inlen == p->want)
			socks_step(p);
	}
	return p->status;
}

/* Why the negotiation failed: quoting the proxy, never a password. */
const char *
proxy_error(const struct proxy *p)
{
	return p->err;
}

/*
 * Whether the proxy said the target refused or could not be reached
 * (SOCKS5 3-5, SOCKS4 91, HTTP 5xx): a refusal --retry may wait out,
 * unlike one of the proxy's own rules or of authentication.
 */
int
proxy_target_down(const struct proxy *p)
{
	return p->target_down;
}

/* Wipe a negotiation (its output may hold a password). */
void
proxy_clear(struct proxy *p)
{
	explicit_bzero(p, sizeof(*p));
}
