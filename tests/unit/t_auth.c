#include <sys/socket.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "tap.h"

#define K(s)	(const unsigned char *)(s), strlen(s)

enum peer { PEER_OK, PEER_SILENT, PEER_CLOSE, PEER_TAIL };

static const struct {
	const char	*key;
	size_t		 keylen;
	const char	*data;
	const char	*mac;
} rfc4231[] = {
	{ "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b"
	  "\x0b\x0b\x0b\x0b", 20, "Hi There",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "Jefe", 4, "what do ya want for nothing?",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ NULL, 20, NULL,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ NULL, 25, NULL,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ NULL, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ NULL, 131, "This is a test using a larger than block-size key and "
	  "a larger than block-size data. The key needs to be hashed before "
	  "being used by the HMAC algorithm.",
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static void
test_hmac(void)
{
	static const int tc[] = { 1, 2, 3, 4, 6, 7 };
	unsigned char key[131], data[50], mac[AUTH_MACLEN];
	char hex[2 * AUTH_MACLEN + 1];
	size_t i, j, datalen;

	for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		/* Cases 3 and 4 are byte patterns, not strings. */
		memset(key, 0xaa, sizeof(key));
		for (j = 0; i == 3 && j < 25; j++)
			key[j] = j + 1;
		if (rfc4231[i].key != NULL)
			memcpy(key, rfc4231[i].key, rfc4231[i].keylen);
		memset(data, i == 2 ? 0xdd : 0xcd, sizeof(data));
		datalen = sizeof(data);
		if (rfc4231[i].data != NULL)
			datalen = strlen(rfc4231[i].data);
		auth_hmac(key, rfc4231[i].keylen, rfc4231[i].data != NULL ?
		    (const void *)rfc4231[i].data : data, datalen, mac);
		for (j = 0; j < AUTH_MACLEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", mac[j]);
		ok(strcmp(hex, rfc4231[i].mac) == 0,
		    "HMAC-SHA256 RFC 4231 test case %d", tc[i]);
	}
}

/* Move from's pending output into to, step bytes a call. */
static void
xfer(struct auth *from, struct auth *to, size_t step)
{
	const unsigned char *p;
	size_t n, k, used, off = 0;

	n = auth_output(from, &p);
	while (off < n && to->status == AUTH_MORE) {
		k = n - off < step ? n - off : step;
		auth_feed(to, p + off, k, &used);
		off += used;
	}
	auth_sent(from, n);
}

/* Run a client and a server against each other in memory. */
static int
pair(const char *ckey, const char *skey, size_t step, int tamper,
    enum auth_status *ss)
{
	struct auth c, s;

	auth_init(&c, AUTH_CLIENT, K(ckey));
	auth_init(&s, AUTH_SERVER, K(skey));
	xfer(&s, &c, step);
	xfer(&c, &s, step);
	if (tamper)
		s.out[7] ^= 0x20;
	xfer(&s, &c, step);
	*ss = s.status;
	return c.status;
}

static void
test_memory(void)
{
	enum auth_status ss;
	struct auth c;
	unsigned char buf[40];
	size_t used;
	int cs;

	cs = pair("secret", "secret", 1, 0, &ss);
	ok(cs == AUTH_OK && ss == AUTH_OK, "same key, byte by byte");
	cs = pair("secret", "secret", 1000, 0, &ss);
	ok(cs == AUTH_OK && ss == AUTH_OK, "same key, all at once");
	cs = pair("secret", "Secret", 7, 0, &ss);
	ok(cs == AUTH_MORE && ss == AUTH_FAIL, "different keys: server fails");
	cs = pair("secret", "secret", 1000, 1, &ss);
	ok(cs == AUTH_FAIL && ss == AUTH_OK, "tampered server proof fails");

	auth_init(&c, AUTH_CLIENT, K("secret"));
	memcpy(buf, "SKAUTH2\n", 8);
	ok(auth_feed(&c, buf, sizeof(buf), &used) == AUTH_FAIL, "bad magic");
	auth_init(&c, AUTH_CLIENT, K("secret"));
	ok(auth_feed(&c, "GET", 3, &used) == AUTH_FAIL,
	    "bad magic fails before the greeting is complete");
	ok(auth_want(&c) == 0, "nothing wanted after failure");
}

/* Everything after the handshake is left for the caller. */
static void
test_tail(void)
{
	struct auth c, s;
	const unsigned char *p;
	unsigned char wire[256];
	size_t n, used;

	auth_init(&c, AUTH_CLIENT, K("k"));
	auth_init(&s, AUTH_SERVER, K("k"));
	ok(auth_want(&c) == 40 && auth_want(&s) == 64, "auth_want sizes");
	xfer(&s, &c, 5);
	n = auth_output(&c, &p);
	memcpy(wire, p, n);
	memcpy(wire + n, "DATA", 4);
	auth_sent(&c, n);
	ok(auth_feed(&s, wire, n + 4, &used) == AUTH_OK && used == 64,
	    "server consumes exactly 64 bytes, data follows");
	n = auth_output(&s, &p);
	memcpy(wire, p, n);
	memcpy(wire + n, "MORE", 4);
	ok(auth_feed(&c, wire, n + 4, &used) == AUTH_OK && used == 32,
	    "client consumes exactly 32 bytes, data follows");
	ok(auth_feed(&c, "x", 1, &used) == AUTH_OK && used == 0,
	    "a finished handshake consumes nothing");
}

/* Fork a server on one end of a socket pair; return the other end. */
static int
fork_server(const char *key, enum peer how, pid_t *pid)
{
	struct auth a;
	const char *e;
	char buf[4];
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if ((*pid = fork()) != 0) {
		close(sv[1]);
		return sv[0];
	}
	close(sv[0]);
	if (how == PEER_SILENT && read(sv[1], buf, 1) == -1)
		_exit(1);
	if (how == PEER_SILENT || how == PEER_CLOSE)
		_exit(0);
	auth_init(&a, AUTH_SERVER, K(key));
	if (auth_run(sv[1], NULL, &a, 5000, &e) == -1)
		_exit(1);
	if (how == PEER_OK)
		_exit(write(sv[1], "after", 5) != 5);
	_exit(read(sv[1], buf, 4) != 4 || memcmp(buf, "tail", 4) != 0);
}

/* Run a client with auth_run() against a forked server. */
static const char *
run_client(const char *key, const char *skey, enum peer how, int ms,
    int *status)
{
	struct auth a;
	const char *e = NULL;
	char buf[8] = "";
	pid_t pid;
	int fd;

	fd = fork_server(skey, how, &pid);
	auth_init(&a, AUTH_CLIENT, K(key));
	if (auth_run(fd, NULL, &a, ms, &e) == 0)
		e = read(fd, buf, 5) == 5 && memcmp(buf, "after", 5) == 0 ?
		    "ok" : "data lost";
	close(fd);
	waitpid(pid, status, 0);
	return e;
}

static void
test_run(void)
{
	struct auth a;
	const unsigned char *p;
	unsigned char buf[68];
	const char *e;
	size_t n, used;
	pid_t pid;
	int fd, st;

	e = run_client("key", "key", PEER_OK, 5000, &st);
	ok(strcmp(e, "ok") == 0 && st == 0, "auth_run: ok, data kept: %s", e);
	e = run_client("key", "yek", PEER_OK, 5000, &st);
	ok(strcmp(e, "authentication failed") == 0 && WEXITSTATUS(st) == 1,
	    "auth_run: wrong key: %s", e);
	e = run_client("key", "key", PEER_SILENT, 100, &st);
	ok(strcmp(e, "authentication timed out") == 0, "auth_run: %s", e);
	e = run_client("key", "key", PEER_CLOSE, 5000, &st);
	ok(strcmp(e, "connection closed during authentication") == 0,
	    "auth_run: %s", e);

	fd = fork_server("key", PEER_TAIL, &pid);
	auth_init(&a, AUTH_CLIENT, K("key"));
	if (read(fd, buf, 40) == 40)
		auth_feed(&a, buf, 40, &used);
	n = auth_output(&a, &p);
	memcpy(buf, p, n);
	memcpy(buf + n, "tail", 4);
	ok(write(fd, buf, n + 4) == (ssize_t)n + 4,
	    "proof and data in one write");
	n = read(fd, buf, 32);
	ok(n == 32 && auth_feed(&a, buf, n, &used) == AUTH_OK,
	    "manual client ok");
	close(fd);
	waitpid(pid, &st, 0);
	ok(st == 0, "auth_run: server leaves data behind the handshake");
}

static const char *
load(const char *content, size_t len, size_t *keylen, unsigned char **key)
{
	char path[] = "/tmp/t_auth.XXXXXX";
	const char *e = NULL;
	int fd;

	fd = mkstemp(path);
	if (write(fd, content, len) != (ssize_t)len)
		e = "write failed";
	close(fd);
	*key = NULL;
	if (e == NULL && auth_key_load(path, key, keylen, &e) == 0)
		e = "loaded";
	unlink(path);
	return e;
}

static void
test_key_load(void)
{
	static char big[AUTH_KEYMAX + 1];
	unsigned char *key;
	const char *e;
	size_t len;

	e = load("abc\n\n", 5, &len, &key);
	ok(strcmp(e, "loaded") == 0 && len == 4 && memcmp(key, "abc\n", 4) ==
	    0, "key: one trailing newline stripped");
	auth_key_free(key, len);
	e = load("a\r\n", 3, &len, &key);
	ok(strcmp(e, "loaded") == 0 && len == 2, "key: CR kept");
	auth_key_free(key, len);
	e = load("", 0, &len, &key);
	ok(strcmp(e, "empty key") == 0, "key: empty file");
	e = load("\n", 1, &len, &key);
	ok(strcmp(e, "empty key") == 0, "key: a lone newline");
	memset(big, 'k', sizeof(big));
	big[AUTH_KEYMAX] = '\n';
	e = load(big, AUTH_KEYMAX + 1, &len, &key);
	ok(strcmp(e, "loaded") == 0 && len == AUTH_KEYMAX, "key: 4096 bytes");
	auth_key_free(key, len);
	big[AUTH_KEYMAX] = 'k';
	e = load(big, AUTH_KEYMAX + 1, &len, &key);
	ok(e != NULL && strstr(e, "longer") != NULL, "key: 4097 bytes: %s", e);
	e = NULL;
	ok(auth_key_load("/nonexistent/key", &key, &len, &e) == -1 &&
	    strcmp(e, "No such file or directory") == 0, "key: missing file");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_hmac();
	test_memory();
	test_tail();
	test_run();
	test_key_load();
	return tap_done();
}
