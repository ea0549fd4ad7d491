#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "addr.h"
#include "frame.h"

struct hexdump;
struct tls_ctx;

struct serve_opts {
	int		 keep;		/* -k: serve until killed */
	int		 echo;
	int		 tag;
	int		 verbose;
	enum frame_mode	 frame;
	size_t		 max_frame;
	char		**exec_argv;	/* -e, split on spaces */
	const char	*sh_cmd;	/* -c */
	long		 max_conns;
	struct acl	 acl;
	long		 idle_ms;	/* -1: none */
	size_t		 maxq;		/* per-client out-queue bound */
	size_t		 max_memory;	/* all clients' queues and decoders */
	const unsigned char *key;	/* --auth-key, or NULL */
	size_t		 keylen;
	int		 no_shutdown;	/* one connection: for the pump */
	int		 keep_sending;
	int		 send_only;
	int		 recv_only;
	struct hexdump	*hexdump;	/* --hexdump, or NULL */
	int		 crlf;		/* -C: stdin's line ends as CRLF */
	int		 log_json;	/* --log json */
	struct tls_ctx	*tls;		/* --tls, or NULL */
};

int	server_run(int *, int, const struct serve_opts *, const char **);

#endif
