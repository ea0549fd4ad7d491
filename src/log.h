#ifndef LOG_H
#define LOG_H

#include <stdint.h>

/*
 * --log json: a server's connection events, one JSON object a line on
 * stderr:
 *
 *   {"time":"2026-11-30T15:04:05.123Z","event":"open","peer":"127.0.0.1:5000"}
 *   {"time":...,"event":"close","peer":...,"sent":5,"received":12,
 *    "duration_ms":40,"reason":"closed"}
 *
 * event is "open", "close" or "refused" (and "join", "leave" in the chat
 * room, with "nick"); reason is "closed" for an orderly end, else what
 * went wrong; "status" is an --exec program's exit status.
 */
struct log_event {
	const char	*event;
	const char	*peer;
	const char	*nick;		/* chat: or NULL */
	const char	*reason;	/* or NULL */
	int		 counts;	/* sent, received, duration_ms follow */
	uint64_t	 sent, rcvd;
	int64_t		 ms;
	int		 status;	/* --exec: exit status; -1 none */
};

void	log_json(const struct log_event *);

#endif
