#ifndef TIMESERVE_H
#define TIMESERVE_H

#include "timeproto.h"

/* Requests/s per source for UDP replies that outgrow their requests. */
#define TIMESERVE_RATE_DEFAULT	20

struct timeserve_opts {
	enum timeproto	 proto;
	int		 tcp;		/* stream sockets, not datagrams */
	int		 utc;
	int		 stratum;
	unsigned int	 rate;		/* requests/s per source, 0: no limit */
	int		 verbose;
	long		 idle_ms;	/* TCP idle timeout, -1: none */
};

/* Serve the time on the n bound sockets fds until killed; return -1. */
int	timeserve_run(const int *, int, const struct timeserve_opts *);

#endif
