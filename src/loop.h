#ifndef LOOP_H
#define LOOP_H

#include <sys/socket.h>

#include <stdint.h>

#define LOOP_READ	0x1
#define LOOP_WRITE	0x2

struct loop;
struct loop_timer;

typedef void	loop_fn(struct loop *, int, int, void *);
typedef void	loop_timer_fn(struct loop *, void *);
typedef void	loop_accept_fn(struct loop *, int, struct sockaddr *,
		    socklen_t, void *);

struct loop	*loop_new(void);
void		 loop_free(struct loop *);
int		 loop_add(struct loop *, int, int, loop_fn *, void *);
int		 loop_mask(struct loop *, int, int);
void		 loop_del(struct loop *, int);
struct loop_timer *loop_timer(struct loop *, long, loop_timer_fn *, void *);
void		 loop_timer_cancel(struct loop *, struct loop_timer *);
void		 loop_defer(struct loop *, loop_timer_fn *, void *);
int		 loop_listen(struct loop *, int, loop_accept_fn *, void *);
int		 loop_run(struct loop *);
void		 loop_stop(struct loop *);
int64_t		 loop_now(struct loop *);

#endif
