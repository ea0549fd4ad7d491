/*
 * libFuzzer target for the proxy module: the URL parser, and each hop
 * type fed a hostile reply.  Byte 0: the slice size (high bits) and a
 * scenario (low two bits): 0 SOCKS5 with credentials, 1 SOCKS5 without,
 * 2 SOCKS4A, 3 HTTP; byte 1 odd: parse the input as a URL list instead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const urls[] = {
	"socks5://user:Zq9sekrit@h",
	"socks5://h",
	"socks4a://me@h",
	"http://user:Zq9sekrit@h",
};

static void
fuzz_url(const uint8_t *in, size_t size)
{
	static struct proxy_chain c;
	char *s;
	const char *errstr;
	char name[PROXY_NAMEMAX + 32];
	size_t i;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, in, size);
	s[size] = '\0';
	if (proxy_parse(&c, s, &errstr) == 0) {
		if (c.n == 0 || c.n > PROXY_MAXHOPS)
			abort();
		for (i = 0; i < c.n; i++)
			proxy_hop_name(&c.hop[i], name, sizeof(name));
		(void)proxy_set_auth(&c, s, strlen(s), &errstr);
	} else if (errstr == NULL || strlen(errstr) == 0)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	static struct proxy_chain c;
	static struct proxy p;
	const unsigned char *out;
	const char *errstr;
	size_t off = 0, k, step, used, want;
	enum proxy_status st = PROXY_MORE;

	if (size < 2)
		return 0;
	if (in[1] & 1) {
		fuzz_url(in + 2, size - 2);
		return 0;
	}
	step = (in[0] >> 2) + 1;
	if (proxy_parse(&c, urls[in[0] & 3], &errstr) == -1 ||
	    proxy_start(&p, &c.hop[0], "example.org", 443) == -1)
		abort();
	in += 2;
	size -= 2;
	while (st == PROXY_MORE) {
		if (proxy_output(&p, &out) > 0) {
			proxy_sent(&p);
			continue;
		}
		if (off == size)
			break;
		want = proxy_want(&p);
		if (want == 0)
			abort();
		k = size - off < step ? size - off : step;
		if (k > want)
			k = want;
		st = proxy_input(&p, in + off, k, &used);
		if (used > k || (st == PROXY_MORE && used != k &&
		    proxy_output(&p, &out) == 0))
			abort();
		off += used;
	}
	if (st == PROXY_FAIL && strlen(proxy_error(&p)) == 0)
		abort();
	/* A message quotes the proxy, never the password. */
	if (st == PROXY_FAIL && strstr(proxy_error(&p), "Zq9sekrit") != NULL &&
	    memmem(in, size, "Zq9sekrit", 9) == NULL)
		abort();
	return 0;
}
