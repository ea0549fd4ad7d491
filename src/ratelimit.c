/*
 * A token bucket per source address in a fixed open-addressing table.
 * A source is looked for in a short probe window from its hash slot;
 * when it is not there it takes an empty slot of the window or evicts the
 * window's least recently seen source. Lookups are thus O(1) even for
 * adversarial keys, and memory is fixed when the limiter is made. An
 * evicted source comes back with a full bucket, as an idle one would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "util.h"

#define RL_PROBE	8		/* slots searched per lookup */
#define RL_KEYMAX	16		/* key bytes kept: an IPv6 address */
#define RL_SLOTS_MAX	(1U << 24)
#define RL_TOKEN	1000		/* a request, in thousandths */
#define RL_REFILL_MS	1000		/* an idle second fills any bucket */

struct rl_slot {
	uint64_t	 hash;
	int64_t		 last;		/* ms of the last request */
	int64_t		 tokens;	/* in thousandths of a request */
	size_t		 keylen;
	unsigned char	 key[RL_KEYMAX];
	int		 used;
};

struct ratelimit {
	struct rl_slot	*slots;
	size_t		 mask;
	size_t		 used;
	int64_t		 rate;		/* thousandths per ms = per second */
	uint64_t	 seed;
};

/*
 * Make a limiter allowing rate requests per second per source, tracking at
 * most nslots sources (rounded up to a power of two); NULL and errno set
 * on failure.
 */
struct ratelimit *
ratelimit_new(unsigned int rate, size_t nslots)
{
	struct ratelimit *rl;
	size_t n;

	if (rate == 0 || rate > RATELIMIT_RATE_MAX || nslots > RL_SLOTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (n = RL_PROBE; n < nslots; n <<= 1)
		;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if ((rl->slots = calloc(n, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return NULL;
	}
	rl->mask = n - 1;
	rl->rate = rate;
	arc4random_buf(&rl->seed, sizeof(rl->seed));
	return rl;
}

/* Free a limiter; NULL is allowed. */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

/*
 * FNV-1a from a random basis, then a multiply-xorshift finish so that the
 * low bits used as the index depend on every key byte. The probe window
 * bounds the cost of collisions, so this need not resist attack.
 */
static uint64_t
rl_hash(uint64_t seed, const unsigned char *p, size_t len)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;

	while (len-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int
rl_match(const struct rl_slot *s, uint64_t h, const void *key, size_t keylen)
{
	return s->keylen == keylen && s->hash == h &&
	    memcmp(s->key, key, MINIMUM(keylen, RL_KEYMAX)) == 0;
}

/* Find the slot of key, or claim one for it with a full bucket. */
static struct rl_slot *
rl_slot(struct ratelimit *rl, const void *key, size_t keylen, int64_t now)
{
	struct rl_slot *s, *victim = NULL;
	uint64_t h;
	size_t i;

	h = rl_hash(rl->seed, key, keylen);
	for (i = 0; i < RL_PROBE; i++) {
		s = &rl->slots[(h + i) & rl->mask];
		/* Slots are never emptied, so the key is not further on. */
		if (!s->used) {
			victim = s;
			rl->used++;
			break;
		}
		if (rl_match(s, h, key, keylen))
			return s;
		if (victim == NULL || s->last < victim->last)
			victim = s;
	}
	victim->used = 1;
	victim->hash = h;
	victim->keylen = keylen;
	memcpy(victim->key, key, MINIMUM(keylen, RL_KEYMAX));
	victim->tokens = rl->rate * RL_TOKEN;
	victim->last = now;
	return victim;
}

/* Return 1 if the source key may be answered at now_ms, 0 to drop it. */
int
ratelimit_allow(struct ratelimit *rl, const void *key, size_t keylen,
    int64_t now_ms)
{
	struct rl_slot *s;
	int64_t elapsed;

	s = rl_slot(rl, key, keylen, now_ms);
	if ((elapsed = now_ms - s->last) > 0) {
		elapsed = MINIMUM(elapsed, RL_REFILL_MS);
		s->tokens = MINIMUM(s->tokens + elapsed * rl->rate,
		    rl->rate * RL_TOKEN);
		s->last = now_ms;
	}
	if (s->tokens < RL_TOKEN)
		return 0;
	s->tokens -= RL_TOKEN;
	return 1;
}

/* Return how many sources the limiter currently tracks. */
size_t
ratelimit_size(const struct ratelimit *rl)
{
	return rl->used;
}
