#ifndef CMD_H
#define CMD_H

int	cmd_chat(int, char *[]);
int	cmd_tcp_connect(int, char *[]);
int	cmd_tcp_serve(int, char *[]);
int	cmd_timeserver(int, char *[]);
int	cmd_udp_listen(int, char *[]);
int	cmd_udp_send(int, char *[]);

/* After a bad option: a pointer for nc habits, the usage; exit 2. */
void	cmd_usage_error(const char *) __attribute__((noreturn));
/* Print the message, the usage and the hint to see --help; exit 2. */
void	cmd_usage_errx(const char *, const char *, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* Exit 2 if the argument count is wrong, saying what is missing. */
void	cmd_args(const char *, int, char *[], const char *, int);
/* Exit 2 if the argument is HOST:PORT in one. */
void	cmd_host_port(const char *, const char *, const char *);
/* Print help text to stdout and exit 0. */
void	cmd_help(const char *, const char *) __attribute__((noreturn));

#endif
