# campaign - one non-recursive Makefile (STYLE.md, Formatting and build).
#
#   make              ./campaign (optimised) and build/rel/libcampaign.a
#   make test         sanitizer build (address, undefined), unit tests,
#                     Mustache conformance and end-to-end tests; ends with
#                     one line "N passed, N failed, N skipped"
#   make install      PREFIX=/usr/local DESTDIR= : binary and campaign(1)
#   make format       clang-format every source file
#   make check-format fail if any file is not formatted
#
# engine/ and db/ compile into one static library that the command, the
# unit tests and the benchmarks link.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := sqlite3 libpcre2-8 jansson libssl libcrypto libsodium uuid inih \
           libmicrohttpd libidn2

# GLib's and GMime's headers are not clean under our warnings: -isystem
SYS_PKGS := gmime-3.0 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)) \
              $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(SYS_PKGS)))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) $(SYS_PKGS)) -lcsv -lunistring \
              -lpthread -lm -lresolv

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wimplicit-fallthrough
ifdef CI
WARN    += -Werror
endif
DEFS    := -D_GNU_SOURCE
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
OPT     ?= -O2 -g
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

LIB_SRC := $(wildcard engine/*.c) $(wildcard db/*.c)
CMD_SRC := $(wildcard cmd/*.c)
UNIT_SRC:= $(wildcard tests/unit/test_*.c)
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))

.PHONY: all test unit e2e install format check-format clean bench fuzz
all: campaign

# ---- one build flavour per directory: rel (optimised), asan (tests) ----
define flavour
$(1)_CFLAGS := $(WARN) $(DEFS) $(PKG_CFLAGS) $(2) -MMD -MP -Idb -Iengine
$(1)_OBJ    := $$(patsubst %.c,build/$(1)/%.o,$(LIB_SRC)) build/$(1)/gen/migrations.o \
              build/$(1)/gen/rules.o
$(1)_CMDOBJ := $$(patsubst %.c,build/$(1)/%.o,$(CMD_SRC))

build/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$($(1)_CFLAGS) -c $$< -o $$@

build/$(1)/gen/migrations.o: build/gen/migrations.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$($(1)_CFLAGS) -Wno-overlength-strings -c $$< -o $$@

build/$(1)/gen/rules.o: build/gen/rules.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$($(1)_CFLAGS) -Wno-overlength-strings -c $$< -o $$@

build/$(1)/libcampaign.a: $$($(1)_OBJ)
	rm -f $$@
	ar rcs $$@ $$^

build/$(1)/campaign: $$($(1)_CMDOBJ) build/$(1)/libcampaign.a
	$$(CC) $(2) -o $$@ $$($(1)_CMDOBJ) build/$(1)/libcampaign.a $$(PKG_LIBS)

build/$(1)/tests/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) build/$(1)/libcampaign.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$($(1)_CFLAGS) -Wno-missing-prototypes -Wno-pedantic -Wno-unused-result -o $$@ $$< \
	    build/$(1)/libcampaign.a $$(PKG_LIBS)

-include $$($(1)_OBJ:.o=.d) $$($(1)_CMDOBJ:.o=.d)
endef

$(eval $(call flavour,rel,$(OPT) $(HARDEN)))
$(eval $(call flavour,asan,-O1 -g $(SAN)))
# ThreadSanitizer, for the code that runs on several threads (bounces
# parse on every core: tests/e2e/bounces_threads.bats)
$(eval $(call flavour,tsan,-O1 -g -fsanitize=thread))

build/gen/migrations.c: $(MIGRATIONS) scripts/embed-sql
	@mkdir -p $(dir $@)
	sh scripts/embed-sql $@ $(MIGRATIONS)

build/gen/rules.c: engine/classify.rules scripts/embed-text
	@mkdir -p $(dir $@)
	sh scripts/embed-text $@ rules_shipped_text engine/classify.rules

# copy then rename: a running ./campaign is never overwritten in place
campaign: build/rel/campaign
	cp $< $@.tmp && mv -f $@.tmp $@

UNIT_REL  := $(patsubst tests/unit/%.c,build/rel/tests/unit/%,$(UNIT_SRC))
UNIT_ASAN := $(patsubst tests/unit/%.c,build/asan/tests/unit/%,$(UNIT_SRC))

# The tests run against the sanitizer build; ASAN_OPTIONS make any leak or
# error fatal.
test: build/asan/campaign $(UNIT_ASAN) campaign build/tsan/campaign
	CAMPAIGN_BIN=$(CURDIR)/build/asan/campaign \
	CAMPAIGN_TSAN_BIN=$(CURDIR)/build/tsan/campaign \
	UNIT_DIR=$(CURDIR)/build/asan/tests/unit \
	sh tests/run

# Benchmark drivers written in C (scripts/bench/*.c) link the optimised
# library; the scripts in scripts/bench/ build what they need with
# `make bench`.
BENCH_SRC := $(wildcard scripts/bench/*.c)
BENCH_BIN := $(patsubst scripts/bench/%.c,build/rel/bench/%,$(BENCH_SRC))
build/rel/bench/%: scripts/bench/%.c build/rel/libcampaign.a
	@mkdir -p $(dir $@)
	$(CC) $(rel_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    build/rel/libcampaign.a $(PKG_LIBS)
bench: campaign $(BENCH_BIN)

# Fuzzing (tests/fuzz/, libFuzzer): its own target, never a dependency of
# all or test.  The harnesses need clang's coverage instrumentation, so
# engine/ and db/ are compiled again with clang into build/fuzz/ (the rel
# and asan flavours stay gcc's); `make fuzz` then runs each harness for
# FUZZ_SECONDS on a seed corpus made at run time (tests/fuzz/run) and
# fails on a finding, whose input lands in tests/fuzz/crashes/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
# clang, unlike gcc, warns of a va_list passed on as a format
# (engine/log.c, engine/serve.c): -Wno-format-nonliteral, so that CI's
# -Werror does not stop this flavour.
fuzz_CFLAGS  := $(WARN) -Wno-format-nonliteral $(DEFS) $(PKG_CFLAGS) -O1 -g \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -Idb -Iengine
FUZZ_OBJ     := $(patsubst %.c,build/fuzz/%.o,$(LIB_SRC)) \
                build/fuzz/gen/migrations.o build/fuzz/gen/rules.o
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

build/fuzz/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(fuzz_CFLAGS) -c $< -o $@
build/fuzz/db/%.o: db/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(fuzz_CFLAGS) -c $< -o $@
build/fuzz/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(fuzz_CFLAGS) -Wno-overlength-strings -c $< -o $@
build/fuzz/libcampaign.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libcampaign.a
	$(FUZZ_CC) $(fuzz_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    build/fuzz/libcampaign.a $(PKG_LIBS)
-include $(FUZZ_OBJ:.o=.d)

fuzz: $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run $(FUZZ_BIN)

install: campaign
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 campaign $(DESTDIR)$(PREFIX)/bin/campaign
	install -m 0644 cmd/campaign.1 $(DESTDIR)$(PREFIX)/share/man/man1/campaign.1

FMT_SRC = $(wildcard cmd/*.[ch] engine/*.[ch] db/*.[ch] tests/unit/*.[ch])
format:
	clang-format -i $(FMT_SRC)
check-format:
	clang-format --dry-run --Werror $(FMT_SRC)

clean:
	rm -rf build campaign
