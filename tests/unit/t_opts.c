#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "opts.h"
#include "tap.h"

static const struct {
	const char	*s;
	long		 ms;	/* -1: rejected */
	const char	*why;	/* the *errstr when rejected */
} cases[] = {
	{ "0",			0,		NULL },
	{ "0ms",		0,		NULL },
	{ "0.0h",		0,		NULL },
	{ "10",			10000,		NULL },
	{ "250ms",		250,		NULL },
	{ "1.5s",		1500,		NULL },
	{ "0.5m",		30000,		NULL },
	{ "2h",			7200000,	NULL },
	{ "1.5ms",		2,		NULL },
	{ "0.4ms",		0,		NULL },
	{ "0.0042m",		252,		NULL },
	{ "1.0000000000001s",	1000,		NULL },
	{ "576h",		2073600000,	NULL },
	{ "34560m",		2073600000,	NULL },
	{ "2073600",		2073600000,	NULL },
	{ "2073600000ms",	2073600000,	NULL },
	{ "2073600000.4ms",	2073600000,	NULL },
	{ "2073600000.5ms",	-1,		"too large" },
	{ "2073600001ms",	-1,		"too large" },
	{ "2073601s",		-1,		"too large" },
	{ "34561m",		-1,		"too large" },
	{ "577h",		-1,		"too large" },
	{ "4294968s",		-1,		"too large" },
	{ "2147483648ms",	-1,		"too large" },
	{ "99999999999999h",	-1,		"too large" },
	{ "18446744073709551617s", -1,		"too large" },
	{ "",			-1,		"invalid duration" },
	{ "-1",			-1,		"invalid duration" },
	{ "+1",			-1,		"invalid duration" },
	{ " 1",			-1,		"invalid duration" },
	{ ".5",			-1,		"invalid duration" },
	{ "1.",			-1,		"invalid duration" },
	{ "1e3",		-1,		"invalid duration" },
	{ "0x10",		-1,		"invalid duration" },
	{ "1 s",		-1,		"invalid duration" },
	{ "1sec",		-1,		"invalid duration" },
	{ "1.5.2",		-1,		"invalid duration" },
	{ "99999999999999x",	-1,		"invalid duration" },
};

int
main(void)
{
	const char *errstr;
	size_t i;
	long ms;

	ok(OPTS_DURATION_MAX <= INT_MAX, "duration: the maximum fits an int");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errstr = "unset";
		ms = opts_duration(cases[i].s, &errstr);
		if (cases[i].ms >= 0)
			ok(ms == cases[i].ms && errstr == NULL,
			    "duration: \"%s\" is %ld ms (got %ld)", cases[i].s,
			    cases[i].ms, ms);
		else
			ok(ms == -1 && errstr != NULL &&
			    strncmp(errstr, cases[i].why,
			    strlen(cases[i].why)) == 0,
			    "duration: \"%s\" is rejected: %s (got %ld, %s)",
			    cases[i].s, cases[i].why, ms,
			    errstr != NULL ? errstr : "no error");
	}
	return tap_done();
}
