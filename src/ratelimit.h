#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_SLOTS		4096	/* default number of sources kept */
#define RATELIMIT_RATE_MAX	1000000	/* largest N for --rate-limit N */

struct ratelimit;

/*
 * Make a limiter allowing rate requests per second per source, tracking at
 * most nslots sources (rounded up to a power of two); NULL and errno set
 * on failure.
 */
struct ratelimit	*ratelimit_new(unsigned int, size_t);
/* Free a limiter; NULL is allowed. */
void			 ratelimit_free(struct ratelimit *);
/* Return 1 if the source key may be answered at now_ms, 0 to drop it. */
int			 ratelimit_allow(struct ratelimit *, const void *,
			    size_t, int64_t);
/* Return how many sources the limiter currently tracks. */
size_t			 ratelimit_size(const struct ratelimit *);

#endif
