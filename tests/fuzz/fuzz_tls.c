/*
 * libFuzzer target for what sockkit itself parses around TLS: pins
 * (--tls-pin), ALPN lists (--tls-alpn) and the host names a client
 * verifies.  Byte 0 picks the parser; the rest is the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char pin[TLS_PINLEN], alpn[TLS_ALPNMAX + 1];
	char s[TLS_PINSTRLEN], *text, name[64];
	const char *errstr;
	size_t len, off;

	if (size == 0)
		return 0;
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		if (tls_parse_pin(text, pin, &errstr) == 0) {
			/* What is printed parses back to the same pin. */
			tls_fmt_pin(pin, s);
			if (strlen(s) != TLS_PINSTRLEN - 1 ||
			    tls_parse_pin(s, alpn, &errstr) != 0 ||
			    memcmp(pin, alpn, TLS_PINLEN) != 0)
				abort();
		}
		break;
	case 1:
		if (tls_parse_alpn(text, alpn, &len, &errstr) == 0) {
			/* The wire list is well formed and within bounds. */
			if (len == 0 || len > TLS_ALPNMAX)
				abort();
			for (off = 0; off < len; off += 1 + alpn[off])
				if (alpn[off] == 0)
					abort();
			if (off != len)
				abort();
		}
		break;
	default:
		if (tls_host_name(text, name, sizeof(name)) == 0) {
			if (strlen(name) >= sizeof(name))
				abort();
			(void)tls_name_is_addr(name);
		}
		break;
	}
	free(text);
	return 0;
}
