# Kerno build. `make` builds build/kerno; `make test` runs every test; `make bench` measures.
# SAN=1 builds the userspace with AddressSanitizer and UndefinedBehaviorSanitizer into build-san/.

ARCH ?= x86
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
SAN ?= 0

ifeq ($(SAN),1)
OUT := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
OUT := build
SAN_FLAGS :=
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
INCLUDES := -Ikern -Iskel -Iuser -I$(OUT)
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -Werror=implicit-function-declaration -D_GNU_SOURCE -DKERNO_VERSION='"$(VERSION)"' $(INCLUDES) $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
LDLIBS := -lbpf -lelf -lz -ljansson -lm -lwslay -lyaml -lcapstone

# BoringSSL (android-libboringssl-dev): its own include and library
# directories, found again at run time through the rpath. It exports
# OpenSSL's symbol names: nothing linked against OpenSSL may join the binary.
BORINGSSL_INC := /usr/include/android
BORINGSSL_LIB := /usr/lib/x86_64-linux-gnu/android
CFLAGS += -isystem $(BORINGSSL_INC)
LDLIBS += -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lssl -lcrypto -lnghttp2 -pthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ikern -Wall \
	      -Werror=implicit-function-declaration \
	      -Wno-unused-function -mcpu=v3

BPF_SRCS := $(wildcard kern/*.bpf.c)
BPF_OBJS := $(patsubst kern/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst kern/%.bpf.c,skel/%.skel.h,$(BPF_SRCS))
KERN_HDRS := $(wildcard kern/*.h)

# The userspace files that include skeletons (the loaders).
SKEL_USERS := user/capture.c user/floor.c user/errors.c user/tls_probe.c
USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
USER_HDRS := $(wildcard user/*.h)

UNIT_SRCS := $(wildcard selftests/unit/test_*.c)
UNIT_BINS := $(patsubst selftests/unit/%.c,$(OUT)/unit/%,$(UNIT_SRCS))
# Test drivers of the S3 uploader's modules (selftests/s3/), run by its host tests.
S3_TOOLS := $(patsubst selftests/s3/%.c,$(OUT)/%,$(wildcard selftests/s3/*.c))

.PHONY: all test unit-test host-test vmtest bench bench-s3 bench-spans format lint clean verifier-report s3-tools
.DELETE_ON_ERROR:

all: $(OUT)/kerno $(S3_TOOLS)

$(OUT)/%.bpf.o: kern/%.bpf.c $(KERN_HDRS) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

skel/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUT)/user/%.o: user/%.c $(USER_HDRS) $(KERN_HDRS) | $(OUT)/user
	$(CC) $(CFLAGS) -c $< -o $@

# Only the loaders include skeletons.
$(patsubst user/%.c,$(OUT)/user/%.o,$(SKEL_USERS)): $(SKELS)

$(OUT)/libkerno.a: $(USER_OBJS)
	$(AR) rcs $@ $^

$(OUT)/kerno: user/main.c $(OUT)/libkerno.a $(USER_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $< $(OUT)/libkerno.a -o $@ $(LDFLAGS) $(LDLIBS)

$(OUT)/unit/%: selftests/unit/%.c $(OUT)/libkerno.a | $(OUT)/unit
	$(CC) $(CFLAGS) $< $(OUT)/libkerno.a -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

# Go executables in miniature for test_tls_elf (selftests/unit/fixtures/go_tls.S).
GO_FIXTURES := $(addprefix $(OUT)/fixtures/,go_tls go_tls_116 go_tls_odd go_tls_noret)
$(OUT)/fixtures/go_tls: FIXTURE_DEFS :=
$(OUT)/fixtures/go_tls_116: FIXTURE_DEFS := -DGO_MINOR=16
$(OUT)/fixtures/go_tls_odd: FIXTURE_DEFS := -DODD_CHECK
$(OUT)/fixtures/go_tls_noret: FIXTURE_DEFS := -DNO_RET

$(GO_FIXTURES): selftests/unit/fixtures/go_tls.S
	@mkdir -p $(@D)
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none $(FIXTURE_DEFS) $< -o $@

$(OUT)/unit/test_tls_elf: $(GO_FIXTURES)

s3-tools: $(S3_TOOLS)

$(OUT)/%_tool: selftests/s3/%_tool.c $(OUT)/libkerno.a $(USER_HDRS) | $(OUT)
	$(CC) $(CFLAGS) $< $(OUT)/libkerno.a -o $@ $(LDFLAGS) $(LDLIBS)

$(OUT) $(OUT)/user $(OUT)/unit:
	mkdir -p $@

# The whole suite: unit tests and host tests against the sanitizer build.
test:
	selftests/run_all.sh

unit-test: $(UNIT_BINS)
	selftests/run_unit.sh $(OUT)/unit

host-test: $(OUT)/kerno
	selftests/host/runner.py --kerno $(OUT)/kerno

# The BPF host tests inside Debian kernels under QEMU (selftests/vmtest.sh);
# VMTEST_ARGS passes e.g. -t NAME or --kernels SUITE.
vmtest: $(OUT)/kerno
	selftests/vmtest.sh --kerno $(OUT)/kerno $(VMTEST_ARGS)

# Per program and hook flavour: instructions the verifier processed on this kernel.
verifier-report: build/kerno
	build/kerno verifier-report

bench: build/kerno build/pingpong build/s3put_tool
	selftests/bench/bench.sh
	selftests/bench/bench_s3.sh

# What spans cost the data path (BPF ns per request, spans off/on/with payloads).
bench-spans: build/kerno
	/usr/bin/python3 selftests/bench/bench_spans.py

# The upload row alone.
bench-s3: build/s3put_tool
	selftests/bench/bench_s3.sh

build/pingpong: selftests/bench/pingpong.c | build
	$(CC) -O2 -Wall -o $@ $<

format:
	clang-format -i $$(git ls-files 'kern/*.c' 'kern/*.h' 'user/*.c' 'user/*.h' 'selftests/*.c')

LINT_CFLAGS = $(filter-out $(SAN_FLAGS),$(CFLAGS))

# Each tool and each file is its own target so that lint uses both cores;
# -Otarget keeps every file's findings together.
TIDY_FILES := $(filter-out $(SKEL_USERS),$(wildcard user/*.c))
LINT_RUNS := lint-cppcheck $(patsubst user/%.c,lint-tidy-%,$(TIDY_FILES) $(SKEL_USERS))

lint: $(SKELS)
	$(MAKE) --no-print-directory -j2 -Otarget $(LINT_RUNS)

# cppcheck is not given skel/: the skeletons embed the BPF objects as huge
# string literals, which it would spend minutes on.
lint-cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --suppress=missingInclude --inline-suppr \
		-D__x86_64__ -Ikern -Iuser user/

$(patsubst user/%.c,lint-tidy-%,$(TIDY_FILES)): lint-tidy-%:
	clang-tidy --quiet user/$*.c -- $(LINT_CFLAGS)

# bpftool's skeleton frees its object through bpf_object__destroy_skeleton(),
# which the analyzer cannot follow: its leak check is off for the loaders.
$(patsubst user/%.c,lint-tidy-%,$(SKEL_USERS)): lint-tidy-%:
	clang-tidy --quiet --checks=-clang-analyzer-unix.Malloc user/$*.c -- $(LINT_CFLAGS)

.PHONY: $(LINT_RUNS)

clean:
	rm -rf build build-san skel/*.skel.h

# ---- HTTP/1.x parser in userspace: unit test and fuzzing (selftests/shim/) ----
# kern/http1.bpf.h is compiled unchanged against selftests/shim/bpf_shim.h.
# Its load64()/load32() are deliberate unaligned word loads (fine in BPF and
# on x86-64): UBSan's alignment check is off for it, everything else stays on.
# It reads char arrays through __u64 lvalues, as the kernel (built with
# -fno-strict-aliasing) does.
SHIM_CFLAGS := -Iselftests/shim -fno-strict-aliasing -fno-sanitize=alignment
SHIM_SRCS := selftests/shim/bpf_shim.c
SHIM_DEPS := $(SHIM_SRCS) selftests/shim/bpf_shim.h $(KERN_HDRS)

# Overrides the test_% pattern rule: this test needs the shim and names.c, not libkerno.a.
# SHIM_CFLAGS come last: LDFLAGS' -fsanitize=undefined would turn alignment back on.
$(OUT)/unit/test_http1_parser: selftests/unit/test_http1_parser.c $(SHIM_DEPS) user/names.c | $(OUT)/unit
	$(CC) $(CFLAGS) $< $(SHIM_SRCS) user/names.c -o $@ $(LDFLAGS) $(SHIM_CFLAGS) -lcmocka

FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_CORPUS := selftests/fuzz/corpus/http1
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	      -Wno-missing-field-initializers -Ikern $(SHIM_CFLAGS)

.PHONY: fuzz fuzz-smoke

$(FUZZ_DIR)/fuzz_http1: selftests/fuzz/fuzz_http1.c $(SHIM_DEPS)
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(FUZZ_FLAGS) $< $(SHIM_SRCS) -o $@

# New inputs go to build/fuzz/corpus/http1; the seeds in selftests/ are only read.
fuzz: $(FUZZ_DIR)/fuzz_http1
	@mkdir -p $(FUZZ_DIR)/corpus/http1
	$(FUZZ_DIR)/fuzz_http1 -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/corpus/http1 $(FUZZ_CORPUS)

# Every fuzzer of the project for a few seconds (the HTTP/1.x parser 10, the
# rest 5 each), two at a time: one per core. A regression check inside the
# suite's 30 minutes; `make fuzz` and each fuzz-* target run for as long as asked.
SMOKE_5 := fuzz-ws fuzz-s3 fuzz-logs fuzz-kubewatch fuzz-otlpmerge fuzz-span-redact \
	    fuzz-tls-elf fuzz-h2
SMOKE_RUNS := smoke-fuzz $(addprefix smoke-,$(SMOKE_5))

fuzz-smoke:
	$(MAKE) --no-print-directory -j2 -Otarget $(SMOKE_RUNS)

smoke-fuzz:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

$(addprefix smoke-,$(SMOKE_5)): smoke-%:
	$(MAKE) --no-print-directory $* FUZZ_SECONDS=5

.PHONY: $(SMOKE_RUNS)
# ---- end of the HTTP/1.x parser block ----

# ---- WebSocket uplink: what the server sends, before and after the handshake ----
# Built from the sources (not libkerno.a) so the sanitizers and coverage see them.
WS_FUZZ_TARGETS := ws_frame ws_handshake
WS_FUZZ_SRCS := user/ws_conn.c user/ws_deflate.c user/ws_handshake.c user/http_head.c \
		user/ws_client.c user/tls.c user/resolve.c
WS_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
		 -Wno-missing-field-initializers -Iuser -isystem $(BORINGSSL_INC)
WS_FUZZ_LIBS := -lwslay -lz -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lssl -lcrypto -pthread

.PHONY: fuzz-ws

$(FUZZ_DIR)/fuzz_%: selftests/fuzz/fuzz_%.c $(WS_FUZZ_SRCS) $(USER_HDRS)
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(WS_FUZZ_FLAGS) $< $(WS_FUZZ_SRCS) -o $@ $(WS_FUZZ_LIBS)

# Each target for FUZZ_SECONDS; new inputs go to build/fuzz/corpus/<name>.
fuzz-ws: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(WS_FUZZ_TARGETS))
	@set -e; for t in $(WS_FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
			$(FUZZ_DIR)/corpus/$$t selftests/fuzz/corpus/$$t; \
	done
# ---- end of the WebSocket block ----


# ---- Parsers of the S3 client's untrusted input: HTTP/1.1 responses, XML replies ----
S3_FUZZERS := http1_resp xml_lite
S3_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Iuser

.PHONY: fuzz-s3

$(patsubst %,$(FUZZ_DIR)/fuzz_%,$(S3_FUZZERS)): $(FUZZ_DIR)/fuzz_%: selftests/fuzz/fuzz_%.c user/%.c user/%.h \
		user/strbuf.c user/strbuf.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(S3_FUZZ_FLAGS) $< user/$*.c user/strbuf.c -o $@

# New inputs go to build/fuzz/corpus/<name>; the seeds in selftests/ are only read.
fuzz-s3: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(S3_FUZZERS))
	@for f in $(S3_FUZZERS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$f && \
		$(FUZZ_DIR)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$f- \
			$(FUZZ_DIR)/corpus/$$f selftests/fuzz/corpus/$$f || exit 1; \
	done
# ---- end of the S3 parsers block ----

# ---- Span payload redaction (user/span_redact.c) ----
.PHONY: fuzz-span-redact

$(FUZZ_DIR)/fuzz_span_redact: selftests/fuzz/fuzz_span_redact.c user/span_redact.c \
		user/span_redact.h user/strbuf.c user/strbuf.h kern/proto.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(S3_FUZZ_FLAGS) $< user/span_redact.c user/strbuf.c -o $@

# New inputs go to build/fuzz/corpus/span_redact; the seeds in selftests/ are only read.
fuzz-span-redact: $(FUZZ_DIR)/fuzz_span_redact
	@mkdir -p $(FUZZ_DIR)/corpus/span_redact
	$(FUZZ_DIR)/fuzz_span_redact -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/span_redact- \
		$(FUZZ_DIR)/corpus/span_redact selftests/fuzz/corpus/span_redact
# ---- end of the span redaction block ----

# ---- Log parsers: libFuzzer targets (selftests/fuzz/fuzz_log_*.c) ----
# Each is built from the parser sources alone; seeds in selftests/fuzz/corpus/log_<name>/.
LOG_FUZZERS := cri docker logfmt multiline
LOG_FUZZ_SRCS := user/log_time.c user/log_json.c user/log_parse.c user/log_parse_cri.c \
		 user/log_parse_docker.c user/log_parse_fields.c user/log_parse_clf.c \
		 user/log_frame.c user/log_multiline.c
LOG_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		  -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		  -Wno-missing-field-initializers -D_GNU_SOURCE -Iuser

.PHONY: fuzz-logs

$(FUZZ_DIR)/fuzz_log_%: selftests/fuzz/fuzz_log_%.c $(LOG_FUZZ_SRCS) $(USER_HDRS)
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(LOG_FUZZ_FLAGS) $< $(LOG_FUZZ_SRCS) -o $@

# New inputs go to build/fuzz/corpus/log_<name>; the seeds in selftests/ are only read.
fuzz-logs: $(patsubst %,$(FUZZ_DIR)/fuzz_log_%,$(LOG_FUZZERS))
	@set -e; for f in $(LOG_FUZZERS); do \
		mkdir -p $(FUZZ_DIR)/corpus/log_$$f; \
		echo "== fuzz_log_$$f for $(FUZZ_SECONDS)s"; \
		$(FUZZ_DIR)/fuzz_log_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/log_$$f- \
			$(FUZZ_DIR)/corpus/log_$$f selftests/fuzz/corpus/log_$$f; \
	done
# ---- end of the log parsers block ----


# ---- Kubernetes watch streams: chunked framing, events, objects (user/kube*.c) ----
.PHONY: fuzz-kubewatch
KUBE_FUZZ_SRCS := user/kubewatch.c user/kubecache.c user/k8sevents.c user/durable.c
KUBE_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
		   -Wno-unused-parameter -Wno-missing-field-initializers -Iuser

$(FUZZ_DIR)/fuzz_kubewatch: selftests/fuzz/fuzz_kubewatch.c $(KUBE_FUZZ_SRCS) user/kubewatch.h \
			    user/kubecache.h user/k8sevents.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(KUBE_FUZZ_FLAGS) $< $(KUBE_FUZZ_SRCS) -o $@ -ljansson

fuzz-kubewatch: $(FUZZ_DIR)/fuzz_kubewatch
	@mkdir -p $(FUZZ_DIR)/corpus/kubewatch
	$(FUZZ_DIR)/fuzz_kubewatch -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/corpus/kubewatch selftests/fuzz/corpus/kubewatch

# ---- Nanobe's merging of OTLP/JSON bodies from the network (user/metricagg.c, svcmap.c) ----
.PHONY: fuzz-otlpmerge
MERGE_FUZZ_SRCS := user/metricagg.c user/svcmap.c

$(FUZZ_DIR)/fuzz_otlpmerge: selftests/fuzz/fuzz_otlpmerge.c $(MERGE_FUZZ_SRCS) user/metricagg.h \
			    user/svcmap.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(KUBE_FUZZ_FLAGS) $< $(MERGE_FUZZ_SRCS) -o $@ -ljansson -lm

fuzz-otlpmerge: $(FUZZ_DIR)/fuzz_otlpmerge
	@mkdir -p $(FUZZ_DIR)/corpus/otlpmerge
	$(FUZZ_DIR)/fuzz_otlpmerge -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/corpus/otlpmerge selftests/fuzz/corpus/otlpmerge

# ---- TLS capture: the ELF files of every process, looked at for TLS libraries (user/tls_elf.c) ----
.PHONY: fuzz-tls-elf

$(FUZZ_DIR)/fuzz_tls_elf: selftests/fuzz/fuzz_tls_elf.c user/tls_elf.c user/tls_elf.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(KUBE_FUZZ_FLAGS) $< user/tls_elf.c -o $@ -lelf -lcapstone

fuzz-tls-elf: $(FUZZ_DIR)/fuzz_tls_elf
	@mkdir -p $(FUZZ_DIR)/corpus/tls_elf
	$(FUZZ_DIR)/fuzz_tls_elf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/tls_elf- \
		$(FUZZ_DIR)/corpus/tls_elf selftests/fuzz/corpus/tls_elf

# ---- HTTP/2 header blocks and stream events in userspace (user/h2streams.c, user/h2hpack.c) ----
.PHONY: fuzz-h2

$(FUZZ_DIR)/fuzz_h2streams: selftests/fuzz/fuzz_h2streams.c user/h2streams.c user/h2hpack.c \
			    user/h2spans.c user/ringbuf.c user/h2streams.h user/h2hpack.h \
			    user/h2spans.h user/ringbuf.h kern/proto.h
	@mkdir -p $(FUZZ_DIR)
	$(CLANG) $(KUBE_FUZZ_FLAGS) -Ikern $< user/h2streams.c user/h2hpack.c user/h2spans.c \
		user/ringbuf.c -o $@ -lnghttp2 -lbpf -pthread

fuzz-h2: $(FUZZ_DIR)/fuzz_h2streams
	@mkdir -p $(FUZZ_DIR)/corpus/h2streams
	$(FUZZ_DIR)/fuzz_h2streams -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/h2streams- \
		$(FUZZ_DIR)/corpus/h2streams selftests/fuzz/corpus/h2streams
