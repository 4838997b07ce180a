# Parikshan — one non-recursive Makefile.  make -j2 check is the everyday loop.
#   MODE=release (default for `all`), debug, asan (used by `check`).  V=1 shows commands.
MODE ?= release
CC ?= gcc
BUILD := build/$(MODE)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_release := -O2 -g
CFLAGS_debug := -O0 -g -DPK_DEBUG
CFLAGS_asan := -O1 -g -DPK_DEBUG -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_asan := -fsanitize=address,undefined
CRIU_CFLAGS := $(shell pkg-config --cflags criu 2>/dev/null)
CRIU_LIBS := $(shell pkg-config --libs criu 2>/dev/null || echo -lcriu)
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS_$(MODE)) -Isrc -I$(BUILD)/gen -Iinclude \
	$(CRIU_CFLAGS) $(PQ_CFLAGS) -MMD -MP
LDFLAGS := $(LDFLAGS_$(MODE))

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Two archives, each with the system libraries its own objects need, so that a program links
# only what it uses: the core (loop, buffers, framers, divergence, capture, proxy) needs no
# CRIU and no TLS library; the clone archive (containers, CRIU, the agent) does.  The CLI's
# files other than main (parikshan.c) make a third archive, so that a unit test or a fuzz
# target can link one of them (the status reader) without the rest.
CORE_SRC := $(foreach m,common proto diverge capture proxy window,$(wildcard src/$(m)/*.c))
CLONE_SRC := $(foreach m,container clone debug,$(wildcard src/$(m)/*.c))
PROBE_SRC := $(wildcard src/probe/*.c)
TRACE_SRC := $(wildcard src/trace/*.c)
CLI_MAIN := src/cli/parikshan.c
CLI_SRC := $(filter-out $(CLI_MAIN),$(wildcard src/cli/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CLONE_OBJ := $(CLONE_SRC:%.c=$(BUILD)/%.o)
PROBE_OBJ := $(PROBE_SRC:%.c=$(BUILD)/%.o)
TRACE_OBJ := $(TRACE_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_MAIN_OBJ := $(CLI_MAIN:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libpk-core.a
CLONE_LIB := $(BUILD)/libpk-clone.a
PROBE_LIB := $(BUILD)/libpk-probe.a
TRACE_LIB := $(BUILD)/libpk-trace.a
CLI_LIB := $(BUILD)/libpk-cli.a
CORE_LDLIBS := -lpcap -lcjson -lxxhash -lm -lpthread
CLONE_LDLIBS := $(CRIU_LIBS) -lgnutls -lcjson -lnetfilter_queue -lmnl
PROBE_LDLIBS := -ldw -lelf -lcapstone -lprotobuf-c
TRACE_LDLIBS := -lsqlite3 -lpq -lcjson
TOOL_LDLIBS := -lxxhash

# Unit tests link the core archive; test_container_*, test_clone_* and test_debug_* also link
# the clone archive, test_probe_* the probe archive, test_status, test_stateful and
# test_up_watch the CLI one.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_CLONE_BIN := $(filter $(BUILD)/tests/test_container_% $(BUILD)/tests/test_clone_% \
	$(BUILD)/tests/test_debug_%,$(UNIT_BIN))
UNIT_PROBE_BIN := $(filter $(BUILD)/tests/test_probe_%,$(UNIT_BIN))
UNIT_TRACE_BIN := $(filter $(BUILD)/tests/test_trace_%,$(UNIT_BIN))
UNIT_CLI_BIN := $(BUILD)/tests/test_status $(BUILD)/tests/test_stateful $(BUILD)/tests/test_up_watch
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_SRC := $(filter-out tests/tools/iprobe-% tests/tools/static-% tests/tools/trace-%,$(TOOL_SRC))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
# tests/tools/trace-*.c: programs run under libparikshan_trace.so, no sanitizers (they stand for
# users' programs; ASan wants to be first in the library list); tests/tools/static-*.c:
# statically linked programs, when libc.a is installed
TRACE_TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/trace-*.c))
STATIC_TOOL_BIN := $(if $(wildcard /usr/lib/x86_64-linux-gnu/libc.a /usr/lib/libc.a),\
	$(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/static-*.c)))

# iProbe's runtime, libiprobe.so, is code that runs inside a target process: it is built the
# same way in every mode (no sanitizers: it is loaded into programs that are not built with
# them), position independent, exporting only what its version script names.  The probe
# targets of the tests (tests/tools/iprobe-*.c) are built with -finstrument-functions or
# -fpatchable-function-entry, without sanitizers either: they stand for users' programs.
IPROBE_SRC := $(wildcard src/probe/lib/*.c)
IPROBE_OBJ := $(IPROBE_SRC:%.c=$(BUILD)/iprobe/%.o)
IPROBE_SO := $(BUILD)/libiprobe.so
IPROBE_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -fvisibility=hidden \
	-fno-stack-protector -Isrc -Iinclude -MMD -MP
IPROBE_TARGET_SRC := $(wildcard tests/tools/iprobe-*.c)
IPROBE_TARGET_BIN := $(IPROBE_TARGET_SRC:tests/tools/%.c=$(BUILD)/tools/%)
IPROBE_TARGET_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -pthread -Iinclude
# iprobe-spin again, with patchable function entries instead (entry probes only)
IPROBE_TARGET_BIN += $(BUILD)/tools/iprobe-spin-entry

# libinvivo.so: the helper library in-vivo tests link (pk_invivo_log), built like libiprobe;
# the example tests (tests/invivo/*.c) become $(BUILD)/invivo/*.so, finding it beside them
# through their run path.
INVIVO_SRC := $(wildcard src/probe/invivo/*.c)
INVIVO_OBJ := $(INVIVO_SRC:%.c=$(BUILD)/iprobe/%.o)
INVIVO_SO := $(BUILD)/libinvivo.so
INVIVO_TEST_SRC := $(wildcard tests/invivo/*.c)
INVIVO_TEST_SO := $(INVIVO_TEST_SRC:tests/invivo/%.c=$(BUILD)/invivo/%.so)

# libparikshan_trace.so, the request-path tracing library preloaded into traced processes
# (`parikshan trace run`): built like libiprobe (no sanitizers, its own object dir, only the
# wrapped calls exported by its version script).  Loaded into live processes by `trace attach`
# too: -Bsymbolic-functions so that its own calls and the addresses of its wrappers are its
# own, whoever comes first in the global scope.
TRACELIB_SRC := $(wildcard src/trace/lib/*.c)
TRACELIB_OBJ := $(TRACELIB_SRC:%.c=$(BUILD)/tracelib/%.o)
TRACELIB_SO := $(BUILD)/libparikshan_trace.so

BIN := $(BUILD)/parikshan

# Generated code: protoc-c turns src/probe/perfetto_trace.proto (Perfetto's trace messages) into
# C in <build>/gen/probe/, included as "probe/perfetto_trace.pb-c.h" and compiled into the probe
# archive.  Every object of the probe module, and the unit tests of it, compile after the
# generation (an order-only prerequisite; -MMD records the real dependency after that).
PROTO := src/probe/perfetto_trace.proto
PB_NAME := probe/perfetto_trace.pb-c
PB_OBJ := $(BUILD)/gen/$(PB_NAME).o
PROBE_GEN_USERS := $(PROBE_OBJ) $(UNIT_PROBE_BIN:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.o)

.PHONY: all check tests demo deps bench redis-iprobe fuzz format format-check clean install uninstall
# keep the object files of unit tests and tools (intermediate in a pattern chain) between builds
.SECONDARY:
all: $(BIN) $(IPROBE_SO) $(INVIVO_SO) $(TRACELIB_SO)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# one pattern rule with two targets: one run of protoc-c makes both (build/fuzz/gen too)
build/%/gen/$(PB_NAME).c build/%/gen/$(PB_NAME).h: $(PROTO)
	@mkdir -p build/$*/gen
	@$(if $(Q),echo "  GEN build/$*/gen/$(PB_NAME).c")
	$(Q)protoc-c --proto_path=src --c_out=build/$*/gen $(PROTO)

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(PROBE_GEN_USERS): | $(BUILD)/gen/$(PB_NAME).h

$(CORE_LIB): $(CORE_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(CLONE_LIB): $(CLONE_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(PROBE_LIB): $(PROBE_OBJ) $(PB_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(TRACE_LIB): $(TRACE_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(CLI_MAIN_OBJ) $(CLI_LIB) $(TRACE_LIB) $(PROBE_LIB) $(CLONE_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_MAIN_OBJ) $(CLI_LIB) $(TRACE_LIB) $(PROBE_LIB) $(CLONE_LIB) \
		$(CORE_LIB) $(TRACE_LDLIBS) $(PROBE_LDLIBS) $(CLONE_LDLIBS) $(CORE_LDLIBS)

$(BUILD)/iprobe/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(IPROBE_CFLAGS) -c -o $@ $<

$(IPROBE_SO): $(IPROBE_OBJ) src/probe/lib/iprobe.map
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) -shared -o $@ $(IPROBE_OBJ) -Wl,--version-script=src/probe/lib/iprobe.map \
		-Wl,-z,now -Wl,-z,defs -pthread

$(BUILD)/tracelib/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(IPROBE_CFLAGS) -c -o $@ $<

$(TRACELIB_SO): $(TRACELIB_OBJ) src/trace/lib/trace.map
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) -shared -o $@ $(TRACELIB_OBJ) -Wl,--version-script=src/trace/lib/trace.map \
		-Wl,-z,now -Wl,-z,defs -pthread -ldl \
		-Wl,-Bsymbolic-functions

$(INVIVO_SO): $(INVIVO_OBJ)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) -shared -o $@ $(INVIVO_OBJ) -Wl,-z,now -Wl,-z,defs

$(BUILD)/invivo/%.so: tests/invivo/%.c $(INVIVO_SO)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(IPROBE_TARGET_CFLAGS) -fPIC -shared -fvisibility=hidden -o $@ $< \
		-L$(BUILD) -linvivo -Wl,-rpath,'$$ORIGIN/..' -Wl,-z,defs

$(BUILD)/tools/iprobe-%: tests/tools/iprobe-%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(IPROBE_TARGET_CFLAGS) -finstrument-functions -o $@ $<

$(BUILD)/tools/trace-%: tests/tools/trace-%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $<

$(BUILD)/tools/static-%: tests/tools/static-%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -static -o $@ $<

$(BUILD)/tools/iprobe-spin-entry: tests/tools/iprobe-spin.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $@")
	$(Q)$(CC) $(IPROBE_TARGET_CFLAGS) -fpatchable-function-entry=5 -o $@ $<

UNIT_LIBS = $(CORE_LIB) $(CORE_LDLIBS)
$(UNIT_CLONE_BIN): $(CLONE_LIB)
$(UNIT_CLONE_BIN): UNIT_LIBS = $(CLONE_LIB) $(CORE_LIB) $(CLONE_LDLIBS) $(CORE_LDLIBS)
$(UNIT_PROBE_BIN): $(PROBE_LIB)
$(UNIT_PROBE_BIN): UNIT_LIBS = $(PROBE_LIB) $(CORE_LIB) $(PROBE_LDLIBS) $(CORE_LDLIBS)
$(UNIT_TRACE_BIN): $(TRACE_LIB)
$(UNIT_TRACE_BIN): UNIT_LIBS = $(TRACE_LIB) $(CORE_LIB) $(TRACE_LDLIBS) $(CORE_LDLIBS)
# trace attach loads the library with the probe module's injector
$(BUILD)/tests/test_trace_attach: $(PROBE_LIB)
$(BUILD)/tests/test_trace_attach: UNIT_LIBS = $(TRACE_LIB) $(PROBE_LIB) $(CORE_LIB) \
	$(TRACE_LDLIBS) $(PROBE_LDLIBS) $(CORE_LDLIBS)
$(BUILD)/tests/test_trace_cli: $(CLI_LIB)
$(BUILD)/tests/test_trace_cli: UNIT_LIBS = $(CLI_LIB) $(TRACE_LIB) $(CORE_LIB) $(TRACE_LDLIBS) \
	$(CORE_LDLIBS)
$(UNIT_CLI_BIN): $(CLI_LIB)
$(UNIT_CLI_BIN): UNIT_LIBS = $(CLI_LIB) $(CORE_LIB) $(CORE_LDLIBS)
$(BUILD)/tests/test_debug_args: $(CLI_LIB)
$(BUILD)/tests/test_debug_args: UNIT_LIBS = $(CLI_LIB) $(CORE_LIB) $(CORE_LDLIBS)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(UNIT_LIBS)

# the analyzer's bench hook: N synthetic records through pk_trace_analyze
$(BUILD)/tools/pk-trace-bench: $(BUILD)/tests/tools/pk-trace-bench.o $(TRACE_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TRACE_LIB) $(CORE_LIB) $(TRACE_LDLIBS) $(CORE_LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TOOL_LDLIBS)

tests: $(BIN) $(IPROBE_SO) $(INVIVO_SO) $(TRACELIB_SO) $(INVIVO_TEST_SO) $(UNIT_BIN) $(TOOL_BIN) $(TRACE_TOOL_BIN) $(STATIC_TOOL_BIN) \
	$(IPROBE_TARGET_BIN)

# Fuzzing: every tests/fuzz/fuzz_<target>.c is a libFuzzer target over bytes that arrive from
# the network or from a file; tests/fuzz/corpus/<target>/ is its corpus.
# test_fuzz_corpus runs every corpus input through its target, built like the other tests (gcc,
# and ASan+UBSan in MODE=asan), so `check` covers what fuzzing found.  There each target's entry
# point is renamed pk_fuzz_<target> so that all of them link into one program.
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/tests/fuzz/fuzz_%.o: CFLAGS += -DLLVMFuzzerTestOneInput=pk_$(notdir $(basename $@))
$(BUILD)/tests/test_fuzz_corpus: $(FUZZ_ALL:%=$(BUILD)/tests/fuzz/fuzz_%.o) $(CLI_LIB) $(TRACE_LIB) \
	$(PROBE_LIB) $(CLONE_LIB)
$(BUILD)/tests/test_fuzz_corpus: UNIT_LIBS = $(CLI_LIB) $(TRACE_LIB) $(PROBE_LIB) $(CLONE_LIB) \
	$(CORE_LIB) $(TRACE_LDLIBS) $(PROBE_LDLIBS) $(CLONE_LDLIBS) $(CORE_LDLIBS)

# fuzz: libFuzzer (clang) on each of FUZZ_TARGETS (default: all) for FUZZ_SECONDS; the inputs
# that reach code the corpus does not are merged into tests/fuzz/corpus/<target> (-merge=1 on
# edges only, without hit counters, keeps it small: a fuzzing run finds the counter variants
# again in seconds).  The library is built again with clang into build/fuzz/ (instrumented, not
# linked with libFuzzer's main).  Crashes land in build/fuzz/<target>-crash-*.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CC ?= clang-14
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DPK_DEBUG $(WARN) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	-Isrc -Ibuild/fuzz/gen -Iinclude $(CRIU_CFLAGS) $(PQ_CFLAGS) -MMD -MP
FUZZ_LIB := build/fuzz/libparikshan.a
FUZZ_LIB_OBJ := $(CORE_SRC:%.c=build/fuzz/%.o) $(CLONE_SRC:%.c=build/fuzz/%.o) \
	$(PROBE_SRC:%.c=build/fuzz/%.o) build/fuzz/gen/$(PB_NAME).o $(CLI_SRC:%.c=build/fuzz/%.o) \
	$(TRACE_SRC:%.c=build/fuzz/%.o)
build/fuzz/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/gen/%.o: build/fuzz/gen/%.c
	@$(if $(Q),echo "  CC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(PROBE_SRC:%.c=build/fuzz/%.o): | build/fuzz/gen/$(PB_NAME).h

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(TRACE_LDLIBS) \
		$(PROBE_LDLIBS) $(CLONE_LDLIBS) $(CORE_LDLIBS)

# One target at a time (each runs for FUZZ_SECONDS): new inputs go to a scratch dir first, then
# only those that add edges are merged into the corpus.
FUZZ_RUN_FLAGS := -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		rm -rf build/fuzz/new-$$t && mkdir -p build/fuzz/new-$$t; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_RUN_FLAGS) \
			-artifact_prefix=build/fuzz/$$t- build/fuzz/new-$$t tests/fuzz/corpus/$$t; \
		build/fuzz/fuzz_$$t -merge=1 -use_counters=0 tests/fuzz/corpus/$$t build/fuzz/new-$$t; \
		rm -rf build/fuzz/new-$$t; \
	done

deps:
	@bash scripts/deps.sh

# check: install what is missing, build with ASan+UBSan, run every unit and integration test.
check: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory MODE=asan tests
	$(Q)$(MAKE) --no-print-directory MODE=release all
	$(Q)PK_BUILD=build/asan tests/run

demo: deps
	$(Q)$(MAKE) --no-print-directory MODE=release all
	$(Q)bash scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory MODE=release all
	$(Q)bash bench/dup.sh

# redis-iprobe: Debian's redis-server built with -finstrument-functions and cold-patched, in
# build/redis-iprobe/ (cached: a second run does nothing).  test_probe_redis builds it too.
redis-iprobe: deps
	$(Q)$(MAKE) --no-print-directory MODE=release all
	$(Q)bash scripts/redis-iprobe.sh build/release/parikshan

# install: the binary, libiprobe.so and libparikshan_trace.so (in lib/parikshan/, where `probe`
# and `trace run` look beside ../lib/parikshan), its man page and its bash completion under
# $(DESTDIR)$(PREFIX).  The man page and the completion are generated from the binary's own
# --help text (its command table and each command's usage) by scripts/mkdoc.py: one source, no
# second copy.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/parikshan
MAN1DIR = $(PREFIX)/share/man/man1
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
MAN := $(BUILD)/parikshan.1
COMPLETION := $(BUILD)/parikshan.bash

$(MAN): $(BIN) scripts/mkdoc.py
	@$(if $(Q),echo "  GEN $@")
	$(Q)python3 scripts/mkdoc.py man $(BIN) >$@.tmp && mv $@.tmp $@

$(COMPLETION): $(BIN) scripts/mkdoc.py
	@$(if $(Q),echo "  GEN $@")
	$(Q)python3 scripts/mkdoc.py completion $(BIN) >$@.tmp && mv $@.tmp $@

install: $(BIN) $(IPROBE_SO) $(INVIVO_SO) $(TRACELIB_SO) $(MAN) $(COMPLETION)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/parikshan
	install -m 0644 $(IPROBE_SO) $(DESTDIR)$(LIBDIR)/libiprobe.so
	install -m 0644 $(INVIVO_SO) $(DESTDIR)$(LIBDIR)/libinvivo.so
	install -m 0644 $(TRACELIB_SO) $(DESTDIR)$(LIBDIR)/libparikshan_trace.so
	install -m 0644 $(MAN) $(DESTDIR)$(MAN1DIR)/parikshan.1
	install -m 0644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/parikshan

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/parikshan $(DESTDIR)$(LIBDIR)/libiprobe.so \
		$(DESTDIR)$(LIBDIR)/libinvivo.so $(DESTDIR)$(LIBDIR)/libparikshan_trace.so \
		$(DESTDIR)$(MAN1DIR)/parikshan.1 $(DESTDIR)$(BASHCOMPDIR)/parikshan
	rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null || true

FORMAT_FILES := $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo 'format-check: ok'

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(CLONE_OBJ:.o=.d) $(PROBE_OBJ:.o=.d) $(TRACE_OBJ:.o=.d) $(PB_OBJ:.o=.d) $(IPROBE_OBJ:.o=.d) $(INVIVO_OBJ:.o=.d) $(TRACELIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CLI_MAIN_OBJ:.o=.d) $(UNIT_BIN:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
	$(TOOL_BIN:$(BUILD)/tools/%=$(BUILD)/tests/tools/%.d) $(FUZZ_ALL:%=$(BUILD)/tests/fuzz/fuzz_%.d) \
	$(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_ALL:%=build/fuzz/fuzz_%.d)
