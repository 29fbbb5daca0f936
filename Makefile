# bevis - see README.md. `make run` and `make check` do everything on a fresh
# Debian 12 machine, including installing what is missing (as root).

VERSION   = 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0
PYTHON   ?= /usr/bin/python3
PGBIN    ?= $(shell pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
FUZZ_SECONDS ?= 15

BUILD := build
ifeq ($(SANITIZE),1)
BUILD := build-san
endif

CC       ?= cc
# Warnings are errors in CI (CI=true), and in any build that sets WERROR=1.
WERROR   ?= $(if $(CI),1,0)
WARN      = -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wshadow -Wpointer-arith $(if $(filter 1,$(WERROR)),-Werror)
OPT       = -O2 -g
ifeq ($(SANITIZE),1)
OPT       = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
endif

PKGS      = libzmq libevent libpq json-c libsodium inih libcrypto
# Evaluated once, on first use: after `deps` has had its chance to install.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)) \
             $$(shell pkg-config --exists libsystemd && echo -DHAVE_SYSTEMD))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)) \
             $$(shell pkg-config --exists libsystemd && pkg-config --libs libsystemd))$(PKG_LIBS)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DBEVIS_VERSION='"$(VERSION)"' $(OPT) $(WARN) \
             $(PKG_CFLAGS) $(CFLAGS)
# Each folder sees only the headers it may use: common/ its own, daemon/ and
# cli/ common's and their own. A wrong #include is a compile error.
INC_common = -Icommon
INC_daemon = -Icommon -Idaemon
INC_cli    = -Icommon -Icli -I$(BUILD)
INC_tests  = -Icommon -Idaemon
# libcsv has no pkg-config file.
LDLIBS_ALL = $(PKG_LIBS) -lcsv -lpthread -lm $(LDLIBS)

COMMON_SRC = common/log.c common/xmalloc.c common/buf.c common/config.c \
             common/proto.c common/utf8.c common/split.c common/sha256.c \
             common/ledger.c common/merkle.c common/checkpoint.c common/keyfile.c \
             common/curvekey.c common/event.c common/clock.c common/hex.c \
             common/pgcopy.c common/numarg.c common/zmsg.c common/report.c \
             common/tzrule.c common/pnr.c
COMMON_SRC += common/config_source.c
# The daemon's rooms, in the order of the data flow (docs/ARCHITECTURE.md).
DAEMON_LIB = daemon/receive.c daemon/request.c daemon/parse.c daemon/parse_json.c \
             daemon/parse_text.c daemon/parse_cef.c daemon/parse_syslog.c \
             daemon/jsonmap.c daemon/parse_jsonmap.c daemon/pull.c \
             daemon/ingest.c daemon/db.c daemon/store.c \
             daemon/reply.c daemon/writer.c daemon/treehead.c daemon/ledger_listen.c \
             daemon/spool.c \
             daemon/spool_format.c daemon/auth.c daemon/metrics.c \
             daemon/dbconn.c daemon/keycache.c \
             daemon/parse_csv.c daemon/parse_report_json.c daemon/report_entries.c \
             daemon/report_store.c \
             daemon/whoami.c daemon/status.c \
             daemon/rules.c daemon/quality.c
DAEMON_SRC = daemon/bevisd.c $(DAEMON_LIB)
CLI_SRC    = cli/bevis.c cli/cli.c cli/cmd_migrate.c cli/cmd_send.c \
             cli/cmd_events.c cli/cmd_redact.c cli/cmd_keys.c cli/cmd_ledger.c \
             cli/cmd_verify.c cli/verify_incidents.c cli/cmd_supplier.c cli/cmd_export.c cli/bundle.c \
             cli/copystream.c cli/ledgerdb.c cli/output.c cli/files.c \
             cli/cmd_incident.c cli/cmd_show.c cli/cmd_deadlines.c \
             cli/custody.c cli/cmd_evidence.c cli/bundle_incident.c \
             cli/cmd_stats.c cli/cmd_review.c
CLI_SRC    += cli/cmd_report.c cli/similar.c
CLI_SRC    += cli/cmd_rule.c cli/verify_rules.c
CLI_SRC    += cli/cmd_quality.c cli/cmd_reconcile.c
MIGRATIONS = $(sort $(wildcard sql/[0-9]*.sql))

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    = $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/migrations.o
UNIT_TESTS = torture_json torture_config torture_split torture_merkle torture_parse \
             torture_numarg torture_checkpoint torture_spool torture_pgcopy \
             torture_ledger torture_output torture_zmsg torture_keys torture_report \
             torture_parse_cef torture_parse_syslog torture_pnr \
             torture_parse_jsonmap torture_quality
UNIT_BINS  = $(UNIT_TESTS:%=$(BUILD)/tests/%)
FUZZERS    = fuzz_json fuzz_split fuzz_spool fuzz_ledger fuzz_report fuzz_cef fuzz_syslog \
             fuzz_pnr fuzz_content_type fuzz_jsonmap
FUZZ_BINS  = $(FUZZERS:%=$(BUILD)/fuzz/%)

.PHONY: all deps run stop-db start-db check unit fuzz integration bench bench-parse install clean
.DEFAULT_GOAL := all

all: $(BUILD)/bevisd $(BUILD)/bevis

# ---- dependencies ---------------------------------------------------------
DEBS = build-essential pkg-config libzmq3-dev libevent-dev libpq-dev \
       libjson-c-dev libcmocka-dev libsodium-dev libinih-dev libssl-dev \
       libsystemd-dev libcsv-dev \
       postgresql postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl \
       clang libclang-rt-14-dev python3-zmq valgrind \
       rsyslog rsyslog-czmq

deps: $(BUILD)/.deps-ok

$(BUILD)/.deps-ok: Makefile
	@mkdir -p $(BUILD)
	@if pkg-config --exists $(PKGS) cmocka 2>/dev/null && [ -f /usr/include/csv.h ] && \
	    [ -x "$(PGBIN)/initdb" ] && command -v clang >/dev/null && \
	    command -v valgrind >/dev/null && command -v pg_prove >/dev/null && \
	    dpkg -s rsyslog-czmq >/dev/null 2>&1 && \
	    [ -f "$$($(PGBIN)/pg_config --sharedir 2>/dev/null || echo /usr/share/postgresql/15)/extension/pgtap.control" ] && \
	    $(PYTHON) -c 'import zmq' 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing Debian packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(DEBS) >/dev/null || exit 1; \
	else \
	    echo "deps: missing packages; as root run:"; \
	    echo "  apt-get install -y $(DEBS)"; exit 1; \
	fi
	@touch $@

# ---- build ----------------------------------------------------------------
$(BUILD)/%.o: %.c $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_$(firstword $(subst /, ,$*))) -MMD -MP -c -o $@ $<

$(BUILD)/migrations.c: cli/gen_migrations.sh $(MIGRATIONS)
	@mkdir -p $(BUILD)
	sh cli/gen_migrations.sh $(MIGRATIONS) > $@

$(BUILD)/migrations.o: $(BUILD)/migrations.c $(BUILD)/.deps-ok
	$(CC) $(ALL_CFLAGS) $(INC_cli) -c -o $@ $<

$(BUILD)/bevisd: $(DAEMON_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/bevis: $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(DAEMON_LIB:%.c=$(BUILD)/%.o) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_tests) -o $@ $^ $(LDLIBS_ALL) -lcmocka $(LDFLAGS)

# The renderer is the CLI's, tested on its own.
$(BUILD)/tests/torture_output: $(BUILD)/cli/output.o
$(BUILD)/tests/torture_output: INC_tests = -Icommon -Icli

# libFuzzer harnesses are built with clang from the sources, always with
# ASan and UBSan, apart from the normal build.
# The pure daemon parts the harnesses exercise.
FUZZ_DAEMON_SRC = daemon/parse.c daemon/parse_json.c daemon/spool_format.c \
                  daemon/parse_csv.c daemon/parse_report_json.c daemon/report_entries.c \
                  daemon/parse_text.c daemon/parse_cef.c daemon/parse_syslog.c \
                  daemon/jsonmap.c daemon/parse_jsonmap.c
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -Icommon -Idaemon $(PKG_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(COMMON_SRC) $(DAEMON_LIB) $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(COMMON_SRC) $(FUZZ_DAEMON_SRC) $(PKG_LIBS) -lcsv -lm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- run ------------------------------------------------------------------
# A local PostgreSQL cluster under ./var/, migrated, with supplier `demo`,
# and bevisd in the foreground.
run: all
	@sh tests/pgctl.sh start var/pg 5433 dev
	@sh tests/devsetup.sh $(BUILD) var 5433
	@echo "bevisd: in another terminal:  . var/env.sh && bevis send docs/examples/events.ndjson"
	exec $(BUILD)/bevisd -f -c var/bevisd.conf

# Stop and start the `make run` cluster, to watch bevisd spool and replay.
stop-db:
	@sh tests/pgctl.sh stop var/pg 5433 && echo "postgresql: stopped (var/pg)"
start-db:
	@sh tests/pgctl.sh start var/pg 5433 dev

# ---- tests ----------------------------------------------------------------
check: all $(UNIT_BINS) $(FUZZ_BINS)
	@$(MAKE) --no-print-directory unit fuzz integration

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do $$t; done

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZERS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$f; \
	    echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
	    $(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus-$$f tests/fuzz/seeds \
	        2>$(BUILD)/fuzz/$$f.log || { tail -50 $(BUILD)/fuzz/$$f.log; exit 1; }; \
	    grep -E 'stat::number_of_executed_units' $(BUILD)/fuzz/$$f.log; \
	done

integration: all
	BUILD=$(BUILD) PYTHON=$(PYTHON) PGBIN=$(PGBIN) SANITIZE=$(SANITIZE) \
	    $(PYTHON) tests/integration/run.py

# Single-core lines/s of each parser, then end to end against psql \copy.
$(BUILD)/tests/bench_parse: tests/bench/bench_parse.c $(DAEMON_LIB:%.c=$(BUILD)/%.o) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_tests) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

bench-parse: $(BUILD)/tests/bench_parse $(BUILD)/bench_report
	$(BUILD)/tests/bench_parse $(BENCH_PARSE_SECONDS)
	$(BUILD)/bench_report

bench: all bench-parse
	BUILD=$(BUILD) PGBIN=$(PGBIN) $(PYTHON) tests/bench/bench.py --cef $(BENCH_ARGS)
	BUILD=$(BUILD) PGBIN=$(PGBIN) $(PYTHON) tests/bench/bench_quality.py $(BENCH_QUALITY_ARGS)

# The report parser alone, on one core (tests/bench/bench_report.c).
$(BUILD)/bench_report: tests/bench/bench_report.c $(DAEMON_LIB:%.c=$(BUILD)/%.o) $(COMMON_OBJ)
	$(CC) $(ALL_CFLAGS) $(INC_tests) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

# ---- install --------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/share/bevis/sql $(DESTDIR)/etc/bevis \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/bevis $(DESTDIR)$(PREFIX)/bin/bevis
	install -m 0755 $(BUILD)/bevisd $(DESTDIR)$(PREFIX)/sbin/bevisd
	install -m 0644 $(MIGRATIONS) $(DESTDIR)$(PREFIX)/share/bevis/sql/
	install -m 0640 conf/bevisd.conf $(DESTDIR)/etc/bevis/bevisd.conf.example
	install -m 0644 conf/json_maps.conf $(DESTDIR)/etc/bevis/json_maps.conf.example
	install -m 0644 conf/rsyslog-bevis.conf $(DESTDIR)$(PREFIX)/share/bevis/
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' systemd/bevisd.service > \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/bevisd.service
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/bevis-deadlines.service > \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/bevis-deadlines.service
	install -m 0644 systemd/bevis-deadlines.timer \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/bevis-deadlines.timer

clean:
	rm -rf build build-san
