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
/* Print help text to stdout and exit 0. */
void	cmd_help(const char *, const char *) __attribute__((noreturn));

#endif
