#ifndef PUMP_H
#define PUMP_H

#include <stdint.h>

struct pump_opts {
	long		 idle_ms;	/* -w: no traffic either way; -1 none */
	int		 no_shutdown;	/* keep the write side open at stdin EOF */
	int		 keep_sending;	/* after peer EOF, send stdin to its end */
	int		 send_only;
	int		 recv_only;
	int		 progress;	/* -P */
	const char	*peer;		/* for messages: "HOST port PORT" */
};

struct pump_stats {
	uint64_t	 sent, rcvd;
	int64_t		 start_ms, end_ms;
};

int	pump_run(int, int, int, const struct pump_opts *, struct pump_stats *,
	    const char **);
void	pump_report(const struct pump_stats *);
int	pump_session(int, const struct pump_opts *, int);

#endif
