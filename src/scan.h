#ifndef SCAN_H
#define SCAN_H

struct sockopts;

int	scan_ports(const char *, const char *, const struct sockopts *);

#endif
