# sockkit: one binary for TCP, UDP, chat and time services.

PROG=		sockkit
VERSION=	0.1.0
PREFIX?=	/usr/local
BINDIR?=	$(PREFIX)/bin
MANDIR?=	$(PREFIX)/share/man

PKGS=		libbsd-overlay libssl libcrypto libedit
PKG_CFLAGS:=	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS:=	$(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC?=		cc
CFLAGS?=	-O2 -g
CFLAGS+=	-std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
		-DVERSION='"$(VERSION)"' $(PKG_CFLAGS)
LDLIBS+=	$(PKG_LIBS)

# "make asan check" builds an AddressSanitizer + UBSan binary in its own
# directory and runs the whole suite on it.
ifneq ($(filter asan,$(MAKECMDGOALS)),)
B=		build/asan
CFLAGS+=	-O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
LDFLAGS+=	-fsanitize=address,undefined
else
B=		build/default
endif

SRCS:=		$(sort $(wildcard src/*.c))
OBJS:=		$(SRCS:src/%.c=$(B)/%.o)
LIBOBJS:=	$(filter-out $(B)/main.o $(B)/cmd_%.o,$(OBJS))
UNITS:=		$(sort $(wildcard tests/unit/t_*.c))
UNITBINS:=	$(UNITS:tests/unit/%.c=$(B)/unit/%)

.PHONY: all asan check test unit deps bench install uninstall clean lint fuzz

all: $(PROG)

$(PROG): $(B)/$(PROG)
	ln -f $(B)/$(PROG) $(PROG) 2>/dev/null || cp -f $(B)/$(PROG) $(PROG)

$(B)/$(PROG): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(B)/%.o: src/%.c $(wildcard src/*.h) Makefile
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/unit/%: tests/unit/%.c tests/unit/tap.h $(LIBOBJS)
	@mkdir -p $(B)/unit
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

asan: $(B)/$(PROG)

unit: $(UNITBINS)

# The one command a new machine needs: install what is missing (as root),
# build, run every test.
check:
	sh tests/deps.sh
	$(MAKE) $(filter asan,$(MAKECMDGOALS)) test

test: $(B)/$(PROG) $(UNITBINS)
	SK=$(CURDIR)/$(B)/$(PROG) UNITDIR=$(CURDIR)/$(B)/unit sh tests/run.sh

lint:
	mandoc -Tlint -W warning man/$(PROG).1

bench: $(PROG)
	sh bench/run.sh

install: $(PROG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PROG) $(DESTDIR)$(BINDIR)/$(PROG)
	install -m 644 man/$(PROG).1 $(DESTDIR)$(MANDIR)/man1/$(PROG).1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/$(PROG) $(DESTDIR)$(MANDIR)/man1/$(PROG).1

clean:
	rm -rf build $(PROG)

fuzz:
	FUZZ_SECONDS=600 sh tests/fuzz.sh
