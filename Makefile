# tend: build, test, demo, bench, fuzz.  `make` builds ./tend; `make test`
# runs every test (unit tests under ASan/UBSan, shell tests on real hosts);
# `make fuzz` builds the libFuzzer targets of fuzz/ with clang and runs
# each for FUZZ_TIME seconds (default 60); see "Fuzzing" in README.md.

PREFIX ?= /usr/local
CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libgit2 libssh2 yaml-0.1 jansson libcrypto libcurl sqlite3 libmicrohttpd
VERSION = $(shell git describe --always --dirty 2>/dev/null || echo 0.1-dev)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2 \
	-Wno-format-nonliteral
# '=' not ':=': pkg-config runs only after `deps` has installed it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' \
	$(WARN) $(CFLAGS) $(PKG_CFLAGS)
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

SRCS = $(wildcard reconciler/*.c)
LIB_SRCS = $(filter-out reconciler/main.c,$(SRCS))
OBJS = $(SRCS:reconciler/%.c=build/%.o)
ASAN_OBJS = $(SRCS:reconciler/%.c=build/asan/%.o)
ASAN_LIB_OBJS = $(LIB_SRCS:reconciler/%.c=build/asan/%.o)
UNIT_SRCS = $(wildcard tests/unit/t-*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=build/asan/tests/%)

# libFuzzer targets: fuzz/NAME.c -> build/fuzz/NAME, with clang.
FUZZ_CC = clang
FUZZ_TIME ?= 60
FUZZ_TARGETS = manifest probe webhook
FUZZ_SAN = address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' \
	$(WARN) -g -O1 $(PKG_CFLAGS)
FUZZ_LIB_OBJS = $(LIB_SRCS:reconciler/%.c=build/fuzz/obj/%.o)
FUZZ_BINS = $(FUZZ_TARGETS:%=build/fuzz/%)

.PHONY: all deps test unit-test install clean demo bench fuzz

all: tend

# Packages are checked once, then again whenever the list changes.
build/.deps: scripts/install-deps
	@scripts/install-deps
	@mkdir -p build && touch $@

deps:
	@scripts/install-deps

tend: build/.deps $(OBJS)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $(OBJS) $(PKG_LIBS) -lpthread

build/%.o: reconciler/%.c reconciler/*.h build/.deps
	@mkdir -p build
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: reconciler/%.c reconciler/*.h build/.deps
	@mkdir -p build/asan
	@echo "  CC-SAN  $<"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/asan/tend: $(ASAN_OBJS)
	@echo "  LD-SAN  $@"
	@$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $(ASAN_OBJS) $(PKG_LIBS) -lpthread

build/asan/tests/%: tests/unit/%.c tests/unit/tap.h tests/unit/memtree.h $(ASAN_LIB_OBJS)
	@mkdir -p build/asan/tests
	@echo "  LD-SAN  $@"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) -Ireconciler -o $@ $< \
		$(ASAN_LIB_OBJS) $(PKG_LIBS) -lpthread

# Unit tests and shell tests in one prove run; the shell tests drive the
# sanitizer build of tend so a crash on bad input fails them too.
test: tend build/asan/tend $(UNIT_BINS)
	TEND=$(CURDIR)/build/asan/tend prove $(PROVE_FLAGS) $(UNIT_BINS) \
		tests/t[0-9]*.sh

unit-test: $(UNIT_BINS)
	prove $(PROVE_FLAGS) $(UNIT_BINS)

# Each target runs FUZZ_TIME seconds from its seeds (fuzz/corpus/NAME)
# and what earlier runs found (build/fuzz/corpus/NAME); see scripts/fuzz.
fuzz: $(FUZZ_BINS)
	@scripts/fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

build/.deps-fuzz: scripts/install-deps
	@scripts/install-deps fuzz
	@mkdir -p build && touch $@

build/fuzz/obj/%.o: reconciler/%.c reconciler/*.h build/.deps build/.deps-fuzz
	@mkdir -p build/fuzz/obj
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) \
		-c -o $@ $<

$(FUZZ_BINS): build/fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJS)
	@echo "  LD-FUZZ $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -Ireconciler \
		-o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS) -lpthread

demo: tend
	scripts/demo

# tend against Ansible on real hosts; see "Benchmark" in README.md.
# BENCH_QUICK=1 for a smoke run, BENCH_ONLY, BENCH_RUNS: see scripts/bench.
bench: tend
	scripts/bench

install: tend
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 tend $(DESTDIR)$(PREFIX)/bin/tend
	install -m 0644 doc/tend.1 $(DESTDIR)$(PREFIX)/share/man/man1/tend.1

clean:
	rm -rf build tend
