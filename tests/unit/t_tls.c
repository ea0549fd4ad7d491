/* Unit tests for what tls.c parses: pins, ALPN lists, host names. */
#include <string.h>

#include "tap.h"
#include "tls.h"

static const char hex[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

int
main(void)
{
	unsigned char pin[TLS_PINLEN], pin2[TLS_PINLEN], alpn[TLS_ALPNMAX + 1];
	char s[TLS_PINSTRLEN], buf[600], name[64];
	const char *errstr = NULL;
	size_t len = 0;
	int i;

	snprintf(buf, sizeof(buf), "SHA256:%s", hex);
	ok(tls_parse_pin(buf, pin, &errstr) == 0 && pin[0] == 0x01 &&
	    pin[31] == 0xef, "SHA256:hex parses");
	tls_fmt_pin(pin, s);
	ok(strcmp(s, buf) == 0, "a pin prints as SHA256: and lowercase hex");
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = buf[i] >= 'a' && buf[i] <= 'f' ? buf[i] - 32 :
		    buf[i];
	ok(tls_parse_pin(buf, pin2, &errstr) == 0 &&
	    memcmp(pin, pin2, TLS_PINLEN) == 0, "upper-case hex, SHA256:, too");
	ok(tls_parse_pin("sha256:" "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
	    "CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF", pin2,
	    &errstr) == 0 && memcmp(pin, pin2, TLS_PINLEN) == 0,
	    "openssl's AB:CD:... form parses to the same pin");
	ok(tls_parse_pin(hex, pin2, &errstr) == 0 &&
	    memcmp(pin, pin2, TLS_PINLEN) == 0, "bare hex parses");
	ok(tls_parse_pin("SHA256:0123", pin2, &errstr) == -1 &&
	    strstr(errstr, "64 hex digits") != NULL, "a short pin is refused");
	snprintf(buf, sizeof(buf), "SHA256:%s00", hex);
	ok(tls_parse_pin(buf, pin2, &errstr) == -1, "a long pin is refused");
	snprintf(buf, sizeof(buf), "SHA256:%.63sg", hex);
	ok(tls_parse_pin(buf, pin2, &errstr) == -1, "a non-hex digit is refused");
	ok(tls_parse_pin("", pin2, &errstr) == -1, "an empty pin is refused");
	ok(tls_parse_pin("SHA256:0:123", pin2, &errstr) == -1,
	    "a colon inside a byte is refused");

	ok(tls_parse_alpn("h2,http/1.1", alpn, &len, &errstr) == 0 &&
	    len == 12 && alpn[0] == 2 && memcmp(alpn + 1, "h2", 2) == 0 &&
	    alpn[3] == 8 && memcmp(alpn + 4, "http/1.1", 8) == 0,
	    "an ALPN list becomes its wire form");
	ok(tls_parse_alpn("h2,,x", alpn, &len, &errstr) == -1 &&
	    strcmp(errstr, "empty protocol name") == 0,
	    "an empty ALPN name is refused");
	ok(tls_parse_alpn("", alpn, &len, &errstr) == -1,
	    "an empty ALPN list is refused");
	memset(buf, 'a', 300);
	buf[300] = '\0';
	ok(tls_parse_alpn(buf, alpn, &len, &errstr) == -1,
	    "a 300-byte ALPN name is refused");
	for (i = 0; i < 100; i++)
		memcpy(buf + 3 * i, "ab,", 3);
	buf[299] = '\0';
	ok(tls_parse_alpn(buf, alpn, &len, &errstr) == -1 &&
	    strstr(errstr, "255") != NULL, "an ALPN list over 255 bytes is refused");

	ok(tls_host_name("[::1]", name, sizeof(name)) == 0 &&
	    strcmp(name, "::1") == 0 && tls_name_is_addr(name),
	    "[::1] is verified as the address ::1");
	ok(tls_host_name("localhost", name, sizeof(name)) == 0 &&
	    strcmp(name, "localhost") == 0 && !tls_name_is_addr(name),
	    "a name stays a name (sent as SNI)");
	ok(tls_name_is_addr("127.0.0.1"), "127.0.0.1 is an address");
	ok(tls_host_name("[]", name, sizeof(name)) == 0 &&
	    strcmp(name, "[]") == 0, "[] is left alone");
	memset(buf, 'a', 100);
	buf[100] = '\0';
	ok(tls_host_name(buf, name, sizeof(name)) == -1,
	    "a name longer than the buffer is refused");
	return tap_done();
}
