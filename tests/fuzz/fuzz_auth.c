/*
 * libFuzzer target for the SKAUTH1 state machine fed attacker bytes.
 * Byte 0: the slice size (high bits) and a scenario (low two bits):
 * 0 a server fed the input, 1 a server fed an honest client's answer
 * and then the input, 2 a client fed the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const unsigned char key[] = "fuzzing key";

/* Feed the input in slices; the handshake never takes what it need not. */
static size_t
feed(struct auth *a, const uint8_t *in, size_t size, size_t step)
{
	size_t off, k, used, total = 0;
	enum auth_status st;

	for (off = 0; off < size; off += k) {
		k = size - off < step ? size - off : step;
		st = auth_feed(a, in + off, k, &used);
		if (used > k || (st == AUTH_MORE && used != k) ||
		    (st != AUTH_MORE && auth_want(a) != 0))
			abort();
		total += used;
	}
	if (total > (a->role == AUTH_CLIENT ? AUTH_MAGICLEN : 0) +
	    AUTH_NONCELEN + AUTH_MACLEN)
		abort();
	return total;
}

/* An honest client answers the server's greeting. */
static void
answer(struct auth *s, size_t step)
{
	struct auth c;
	const unsigned char *p;
	size_t n;

	auth_init(&c, AUTH_CLIENT, key, sizeof(key) - 1);
	n = auth_output(s, &p);
	if (n != AUTH_MAGICLEN + AUTH_NONCELEN ||
	    feed(&c, p, n, step) != n || c.status != AUTH_MORE)
		abort();
	auth_sent(s, n);
	n = auth_output(&c, &p);
	if (feed(s, p, n, step) != n || s->status != AUTH_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth a;
	size_t step;
	int how;

	if (size < 1)
		return 0;
	how = data[0] & 3;
	step = (data[0] >> 2) + 1;
	auth_init(&a, how == 2 ? AUTH_CLIENT : AUTH_SERVER, key,
	    sizeof(key) - 1);
	if (how == 1)
		answer(&a, step);
	if (feed(&a, data + 1, size - 1, step) != 0 && how == 1)
		abort();
	/* Nobody without the key gets the other side to say yes. */
	if ((how == 1) != (a.status == AUTH_OK))
		abort();
	return 0;
}
