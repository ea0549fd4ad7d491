#ifndef CHATUI_H
#define CHATUI_H

/*
 * Be a member of the chat room on the connected socket fd (through the
 * TLS session t, which it frees, if not NULL) as nick (NULL: none sent): on a terminal, a line editor that shows incoming lines
 * above the line being typed; otherwise a plain line filter.  Return the
 * exit status: 0 when the room closes, 1 when the connection is lost or
 * on a failure (reported on stderr).
 */
struct tls;

int	chatui_run(int, struct tls *, const char *, int, int);

#endif
