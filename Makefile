# Parley build. Plain make, libraries found through pkg-config.
# Quick start: `make run` (deps, build, demo data, serve) and `make test` (every test).

CC      ?= cc
PKGS    := libuv libwebsockets openssl libsrtp2 jansson sqlite3 libpq hiredis
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
OPT     ?= -O2 -g
# SAN: sanitizer flags, e.g. make test-asan sets -fsanitize=address,undefined.
SAN     ?=
CFLAGS  := $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE $(WARN) -I. \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
B       ?= build

LIB_SRCS := $(filter-out core/main.c,$(wildcard core/*.c signalling/*.c media/*.c storage/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
SUP_SRCS := $(wildcard tests/support/*.c)
SUP_OBJS := $(SUP_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/core/test_*.c tests/signalling/test_*.c tests/media/test_*.c tests/storage/test_*.c)
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
# Fault tests (crash consistency, disk full, ...): bounded, loopback only, in make test, but not
# repeated on PostgreSQL or under the sanitizers (their time is the point).
FAULT_SRCS := $(wildcard tests/fault/test_*.c)
FAULT_BINS := $(FAULT_SRCS:%.c=$(B)/%)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
INTEG_BINS := $(INTEG_SRCS:%.c=$(B)/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(B)/%)
# Fuzz targets (fuzz/fuzz_*.c, libFuzzer's entry point): make test replays their corpora and
# saved crashes through fuzz/replay.c; make fuzz runs them under libFuzzer (scripts/fuzz.sh).
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:%.c=$(B)/%)

DATA_DIR ?= var

.PHONY: all deps deps-browser deps-bench deps-fuzz deps-valgrind web web-tests run run-cluster \
        test test-asan test-valgrind unit integration browser fuzz bench-messaging bench-media \
        bench-cluster clean format
all: $(B)/parley $(UNIT_BINS) $(INTEG_BINS) $(FAULT_BINS) $(BENCH_BINS) $(FUZZ_BINS)

deps:
	@bash scripts/deps.sh

deps-browser:
	@bash scripts/deps.sh --browser

deps-bench:
	@bash scripts/deps.sh --bench

# The web app's pinned npm packages and the NHS.UK assets it serves (scripts/web.sh).
web: deps
	@bash scripts/web.sh

web-tests: deps-browser
	@bash scripts/web.sh --tests

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libparley.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/parley: $(B)/core/main.o $(B)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(SUP_OBJS) $(B)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/bench/%: $(B)/bench/%.o $(SUP_OBJS) $(B)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/fuzz/fuzz_%: $(B)/fuzz/fuzz_%.o $(B)/fuzz/replay.o $(SUP_OBJS) $(B)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: web
	@$(MAKE) --no-print-directory $(B)/parley
	./$(B)/parley demo --data-dir $(DATA_DIR)
	./$(B)/parley serve --data-dir $(DATA_DIR)

# Three nodes on one PostgreSQL and one Redis, all on loopback (scripts/cluster.sh).
run-cluster: web deps-browser
	@$(MAKE) --no-print-directory $(B)/parley
	bash scripts/cluster.sh $(B)

# Each test binary is its own process, then the store and integration tests once more on
# PostgreSQL (PG_BINS), then the browser scenarios (tests/browser, real Chromium); tests/run.sh
# prints the one closing tally line. scripts/with-testdb.sh runs a private PostgreSQL and Redis
# on loopback for the run.
PG_BINS := $(filter-out %/test_cluster,$(filter $(B)/tests/storage/test_store_% $(B)/tests/integration/%,$(UNIT_BINS) $(INTEG_BINS)))
test: web-tests
	@$(MAKE) --no-print-directory all
	@PARLEY_BIN=$(CURDIR)/$(B)/parley BROWSER_TESTS=1 PG_TESTS="$(PG_BINS)" \
	    FUZZ_TESTS="$(FUZZ_BINS)" \
	    bash scripts/with-testdb.sh bash tests/run.sh $(UNIT_BINS) $(INTEG_BINS) $(FAULT_BINS)

# The whole suite under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer.
# The cluster test and the PostgreSQL driver run too (scripts/with-testdb.sh); the second pass of
# the store and integration tests on PostgreSQL is make test's.
test-asan: deps-browser
	@$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	@rm -rf build-asan/reports && mkdir -p build-asan/reports
	@ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/build-asan/reports/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	    FUZZ_TESTS="$(FUZZ_SRCS:%.c=build-asan/%)" \
	    PARLEY_BIN=$(CURDIR)/build-asan/parley bash scripts/with-testdb.sh bash tests/run.sh \
	    $(UNIT_SRCS:%.c=build-asan/%) $(INTEG_SRCS:%.c=build-asan/%)
	@# Servers run as children with their output in a log file: their reports land here too.
	@if ls build-asan/reports/* >/dev/null 2>&1; then cat build-asan/reports/*; \
	    echo "sanitizer reports found"; exit 1; fi

# Under valgrind's memcheck, once: the C test peers (they live in test_call_peers's own process,
# against a native server) and the messaging integration tests with the server itself under
# valgrind (scripts/valgrind-parley.sh). Any report (an empty log is a clean one) fails it.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
            --errors-for-leak-kinds=definite --num-callers=30 --suppressions=tests/valgrind.supp
VG_TESTS := test_messaging test_sessions
test-valgrind: deps-valgrind
	@$(MAKE) --no-print-directory $(B)/parley $(B)/tests/integration/test_call_peers \
	    $(VG_TESTS:%=$(B)/tests/integration/%)
	@rm -rf $(B)/valgrind && mkdir -p $(B)/valgrind
	PARLEY_BIN=$(CURDIR)/$(B)/parley $(VALGRIND) --log-file=$(B)/valgrind/peers.%p.log \
	    $(B)/tests/integration/test_call_peers
	@for t in $(VG_TESTS); do \
	    VALGRIND_DIR=$(CURDIR)/$(B)/valgrind PARLEY_REAL_BIN=$(CURDIR)/$(B)/parley \
	    PARLEY_BIN=$(CURDIR)/scripts/valgrind-parley.sh \
	    $(VALGRIND) --log-file=$(B)/valgrind/$$t.%p.log $(B)/tests/integration/$$t || exit 1; done
	@if find $(B)/valgrind -name '*.log' -size +0 | grep -q .; then \
	    find $(B)/valgrind -name '*.log' -size +0 -exec cat {} +; echo "valgrind reports found"; \
	    exit 1; fi
	@echo "valgrind: clean ($$(ls $(B)/valgrind | wc -l) processes)"

deps-valgrind:
	@bash scripts/deps.sh --valgrind

unit: deps
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@bash tests/run.sh $(UNIT_BINS)

integration: deps-browser
	@$(MAKE) --no-print-directory $(B)/parley $(INTEG_BINS)
	@PARLEY_BIN=$(CURDIR)/$(B)/parley bash scripts/with-testdb.sh bash tests/run.sh $(INTEG_BINS)

# Only the browser scenarios (screenshots land in tests/browser/screenshots/).
browser: web-tests
	@$(MAKE) --no-print-directory $(B)/parley
	@PARLEY_BIN=$(CURDIR)/$(B)/parley BROWSER_TESTS=1 bash tests/run.sh

# Every fuzz target under libFuzzer with ASan and UBSan for FUZZ_SECONDS each (clang):
# make fuzz FUZZ_SECONDS=600 [FUZZ_TARGETS="fuzz_stun fuzz_rtp"]. New crashes land in
# fuzz/crashes/<target>/, which make test then replays for ever.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_SRCS:fuzz/%.c=%)
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang OPT="-O1 -g" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libparley.a \
	    $(SUP_SRCS:%.c=build-fuzz/%.o)
	@bash scripts/fuzz.sh "$(FUZZ_SECONDS)" $(FUZZ_TARGETS)

deps-fuzz:
	@bash scripts/deps.sh --fuzz

bench-messaging: deps
	@$(MAKE) --no-print-directory $(B)/parley $(B)/bench/bench_messaging
	PARLEY_BIN=$(CURDIR)/$(B)/parley ./$(B)/bench/bench_messaging $(BENCH_ARGS)

# Three nodes on one PostgreSQL and one Redis, every measured delivery crossing nodes
# (docs/BENCHMARKS.md). with-testdb.sh starts private servers on loopback and stops them after.
bench-cluster: deps-browser
	@$(MAKE) --no-print-directory $(B)/parley $(B)/bench/bench_cluster
	PARLEY_BIN=$(CURDIR)/$(B)/parley bash scripts/with-testdb.sh ./$(B)/bench/bench_cluster \
	    $(BENCH_ARGS)

# Media forwarding, Parley against Janus's VideoRoom in the same run (docs/BENCHMARKS.md). Runs
# as root to get its own network namespace; otherwise it measures Parley only.
bench-media: deps-bench
	@$(MAKE) --no-print-directory $(B)/parley $(B)/bench/bench_media
	PARLEY_BIN=$(CURDIR)/$(B)/parley ./$(B)/bench/bench_media $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
