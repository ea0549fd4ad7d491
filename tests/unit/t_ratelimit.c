#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ratelimit.h"
#include "tap.h"

static const unsigned char a4[4] = { 127, 0, 0, 1 };
static const unsigned char b4[4] = { 127, 0, 0, 2 };
static const unsigned char a6[16] = { [15] = 1 };

/* Count how many of n requests from key at now are allowed. */
static int
burst(struct ratelimit *rl, const void *key, size_t len, int n, int64_t now)
{
	int i, allowed = 0;

	for (i = 0; i < n; i++)
		allowed += ratelimit_allow(rl, key, len, now);
	return allowed;
}

static void
test_bucket(void)
{
	struct ratelimit *rl;

	rl = ratelimit_new(5, RATELIMIT_SLOTS);
	ok(rl != NULL, "ratelimit: new");
	ok(burst(rl, a4, sizeof(a4), 10, 1000) == 5, "ratelimit: N then drop");
	ok(burst(rl, a4, sizeof(a4), 10, 1000) == 0, "ratelimit: still empty");
	ok(burst(rl, a4, sizeof(a4), 10, 1199) == 0,
	    "ratelimit: 199 ms refill less than one");
	ok(burst(rl, a4, sizeof(a4), 10, 1200) == 1,
	    "ratelimit: 200 ms refill one at 5/s");
	ok(burst(rl, a4, sizeof(a4), 10, 3000) == 5,
	    "ratelimit: idle time refills to N, no more");
	ok(burst(rl, a4, sizeof(a4), 10, 2000) == 0,
	    "ratelimit: a clock going back refills nothing");
	ok(ratelimit_size(rl) == 1, "ratelimit: one source tracked");
	ratelimit_free(rl);
}

static void
test_sources(void)
{
	struct ratelimit *rl;

	rl = ratelimit_new(3, RATELIMIT_SLOTS);
	ok(burst(rl, a4, sizeof(a4), 5, 0) == 3 &&
	    burst(rl, b4, sizeof(b4), 5, 0) == 3 &&
	    burst(rl, a6, sizeof(a6), 5, 0) == 3,
	    "ratelimit: sources are independent");
	ok(burst(rl, a4, 3, 5, 0) == 3, "ratelimit: key length matters");
	ok(burst(rl, "", 0, 5, 0) == 3 && burst(rl, "", 0, 5, 0) == 0,
	    "ratelimit: an empty key is a source too");
	ok(ratelimit_size(rl) == 5, "ratelimit: five sources tracked");
	ratelimit_free(rl);
}

static void
test_eviction(void)
{
	struct ratelimit *rl;
	uint32_t i;
	int all = 1;

	rl = ratelimit_new(1, 100);
	for (i = 0; i < 100000; i++)
		all &= ratelimit_allow(rl, &i, sizeof(i), i);
	ok(all, "ratelimit: 100000 new sources each allowed once");
	ok(ratelimit_size(rl) <= 128, "ratelimit: table stays bounded (%zu)",
	    ratelimit_size(rl));
	ok(burst(rl, a4, sizeof(a4), 3, 200000) == 1 &&
	    burst(rl, a4, sizeof(a4), 3, 200000) == 0,
	    "ratelimit: a full table still limits");
	ratelimit_free(rl);
}

static void
test_args(void)
{
	struct ratelimit *rl;

	errno = 0;
	ok(ratelimit_new(0, 16) == NULL && errno == EINVAL,
	    "ratelimit: rate 0 rejected");
	ok(ratelimit_new(RATELIMIT_RATE_MAX + 1, 16) == NULL,
	    "ratelimit: rate over the maximum rejected");
	rl = ratelimit_new(RATELIMIT_RATE_MAX, 1);
	ok(rl != NULL && burst(rl, a4, sizeof(a4), 10, INT64_MAX / 2) == 10,
	    "ratelimit: largest rate, tiny table, late clock");
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int
main(void)
{
	test_bucket();
	test_sources();
	test_eviction();
	test_args();
	return tap_done();
}
