#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "opts.h"
#include "util.h"

static const struct command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*summary;
} commands[] = {
	{ "chat",	cmd_chat,	"host or join a chat room of lines" },
	{ "tcp-connect", cmd_tcp_connect, "connect to a TCP server and pump "
	    "stdin/stdout" },
	{ "tcp-serve",	cmd_tcp_serve,	"accept a TCP connection and pump "
	    "stdin/stdout" },
	{ "timeserver",	cmd_timeserver,	"serve the current time over "
	    "UDP or TCP" },
	{ "udp-listen",	cmd_udp_listen,	"receive datagrams to stdout, answer the latest sender" },
	{ "udp-send",	cmd_udp_send,	"send datagrams, print the replies" },
	{ NULL,		NULL,		NULL }
};

static char progname[64];

static void
usage(FILE *fp)
{
	const struct command *c;

	fprintf(fp, "usage: sockkit [-h | --help | -V | --version]\n"
	    "       sockkit help [COMMAND]\n"
	    "       sockkit COMMAND [OPTIONS] ARGS...\n\ncommands:\n");
	for (c = commands; c->name != NULL; c++)
		fprintf(fp, "  %-13s %s\n", c->name, c->summary);
	fprintf(fp, "\n'sockkit COMMAND --help' shows a command's options; "
	    "man sockkit(1) says more.\n");
}

static const struct command *
lookup(const char *name)
{
	const struct command *c;

	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Make sure descriptors 0-2 exist, so no socket becomes stdin or stdout. */
static void
std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

static int
run(const struct command *c, int argc, char *argv[])
{
	snprintf(progname, sizeof(progname), "sockkit: %s", c->name);
	setprogname(progname);
	/* getopt(3) prefixes its messages with argv[0]. */
	argv[0] = progname;
	sig_setup();
	return c->fn(argc, argv);
}

int
main(int argc, char *argv[])
{
	const struct command *c;
	char *hargv[] = { NULL, "--help", NULL };

	std_fds();
	setprogname("sockkit");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("sockkit %s\n", VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc > 3)
			errx(2, "help: too many arguments; usage: sockkit "
			    "help [COMMAND]");
		if ((c = lookup(argv[2])) == NULL)
			errx(2, "help: unknown command '%s'; try 'sockkit "
			    "--help'", argv[2]);
		hargv[0] = argv[2];
		return run(c, 2, hargv);
	}
	if ((c = lookup(argv[1])) == NULL) {
		warnx("unknown command '%s'", argv[1]);
		fprintf(stderr, "Try 'sockkit --help' for the list of "
		    "commands.\n");
		return 2;
	}
	return run(c, argc - 1, argv + 1);
}

/* Options that nc users type out of habit, and where to go instead. */
static const struct habit {
	const char	*cmd;
	int		 opt;
	const char	*hint;
} habits[] = {
	{ "tcp-connect", 'l', "-l: to listen, use tcp-serve: "
	    "sockkit tcp-serve [OPTIONS] [ADDRESS] PORT" },
	{ "tcp-connect", 'u', "-u: for UDP, use udp-send: "
	    "sockkit udp-send [OPTIONS] HOST PORT" },
	{ "tcp-serve",	'l', "-l: tcp-serve listens already; leave it out" },
	{ "tcp-serve",	'u', "-u: for UDP, use udp-listen: "
	    "sockkit udp-listen [OPTIONS] [ADDRESS] PORT" },
	{ "udp-send",	'l', "-l: to listen, use udp-listen: "
	    "sockkit udp-listen [OPTIONS] [ADDRESS] PORT" },
};

/*
 * After getopt(3) has named a bad option: point an nc habit to the
 * command meant, print the usage and a hint to stderr, and exit 2.
 */
void
cmd_usage_error(const char *synopsis)
{
	const char *cmd = getprogname();
	size_t i;

	if (strncmp(cmd, "sockkit: ", 9) == 0)
		cmd += 9;
	for (i = 0; i < NELEM(habits); i++)
		if (optopt == habits[i].opt && strcmp(cmd, habits[i].cmd) == 0)
			warnx("%s", habits[i].hint);
	opts_usage(synopsis);
}

/* Print a command's help to stdout and exit 0. */
void
cmd_help(const char *synopsis, const char *text)
{
	printf("usage: %s\n\n%s", synopsis, text);
	exit(0);
}
