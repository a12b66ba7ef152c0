# fuzz/fuzz.mk: libFuzzer targets, built with clang (make -f fuzz/fuzz.mk).
# The top-level Makefile's `fuzz` and `check` targets call it; see fuzz/README.
#   all     build $(FO)/fuzz-<target> (ASan + UBSan + libFuzzer)
#   run     fuzz each target for FUZZ_TIME seconds, corpus in $(FO)/corpus/<target>
#   cov     source coverage of lib/ over fuzz/corpus (llvm-cov, clang's profile runtime)
FUZZ_CC ?= clang-14
LLVM_PROFDATA ?= llvm-profdata-14
LLVM_COV ?= llvm-cov-14
FUZZ_TIME ?= 60
FO ?= build-fuzz
PKG_CONFIG ?= pkg-config

TARGETS := $(patsubst fuzz/%.c,%,$(sort $(wildcard fuzz/fuzz-*.c)))
LIB_SRC := $(sort $(wildcard lib/*.c))
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpcap json-c zlib libbpf 2>/dev/null)
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs libpcap json-c zlib libbpf 2>/dev/null || echo -lpcap -ljson-c -lz -lbpf -lelf)
# <linux/iommufd.h> when it has the fault queue, else lib/uapi (as the Makefile).
HASH := \#
HAVE_LINUX_IOMMUFD := $(shell printf '$(HASH)include <linux/iommufd.h>\n$(HASH)ifndef IOMMU_FAULT_QUEUE_ALLOC\n$(HASH)error\n$(HASH)endif\n' | \
	$(FUZZ_CC) -E -x c - >/dev/null 2>&1 && echo 1)
UAPI_FALLBACK := $(if $(HAVE_LINUX_IOMMUFD),,-Ilib/uapi)
# The top-level Makefile's warnings; clang also wants the format attribute
# on lib/out.c's printf wrappers, which gcc does not ask for.
BASE_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wno-missing-field-initializers -Wno-format-nonliteral \
	$(UAPI_FALLBACK) -Ilib -I$(FO)/bpf $(DEPS_CFLAGS) -fno-omit-frame-pointer
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all

# Instrumented build: ASan + UBSan everywhere, libFuzzer's coverage on lib/ and the targets.
FUZZ_CFLAGS := $(BASE_CFLAGS) $(SAN) -fsanitize=fuzzer-no-link
# Coverage build: no sanitizers, clang's source-based coverage.
COV_CFLAGS := $(BASE_CFLAGS) -fprofile-instr-generate -fcoverage-mapping

ifneq ($(V),1)
Q = @
endif

# The sources each target is meant to cover (the TOTAL line of `cov`).
COV_CAPTURE := lib/capture.c lib/record.c lib/print.c lib/out.c lib/fmt.c lib/check.c
COV_RECORD := lib/record.c lib/print.c lib/out.c lib/fmt.c
COV_QUEUE := lib/queue.c lib/check.c

.PHONY: all run cov
.SECONDARY:
all: $(TARGETS:%=$(FO)/%)

LIB_HDR := $(wildcard lib/*.h lib/uapi/linux/*.h)
# lib/tap-bpf.c includes the BPF tap's skeletons: the top-level Makefile makes them.
BPF_SKEL := $(FO)/bpf/tap_core.skel.h $(FO)/bpf/tap_nobtf.skel.h
$(BPF_SKEL): lib/bpf/tap.bpf.c lib/bpf/tap-bpf.h
	$(Q)$(MAKE) --no-print-directory -f Makefile O=$(FO) $(BPF_SKEL)
$(FO)/lib/tap-bpf.o $(FO)/cov/lib/tap-bpf.o: $(BPF_SKEL)

$(FO)/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
# fuzz-record.c includes fuzz-capture.c
$(FO)/fuzz-record $(FO)/cov/fuzz-record: fuzz/fuzz-capture.c
$(FO)/fuzz-%: fuzz/fuzz-%.c $(LIB_SRC:%.c=$(FO)/%.o)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_SRC:%.c=$(FO)/%.o) $(DEPS_LIBS) -lm

$(FO)/cov/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(COV_CFLAGS) -c -o $@ $<
$(FO)/cov/fuzz-%: fuzz/fuzz-%.c $(LIB_SRC:%.c=$(FO)/cov/%.o)
	$(Q)$(FUZZ_CC) $(COV_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_SRC:%.c=$(FO)/cov/%.o) $(DEPS_LIBS) -lm

# Each target fuzzes for FUZZ_TIME seconds from a copy of its seed corpus
# plus its regressions; new inputs collect in $(FO)/corpus/<target>, and a
# crash leaves $(FO)/crash-* (turn it into fuzz/regress/<target>/: fuzz/README).
run: all
	$(Q)set -e; for t in $(TARGETS); do \
		mkdir -p $(FO)/corpus/$$t; \
		cp -n fuzz/corpus/$$t/* fuzz/regress/$$t/* $(FO)/corpus/$$t/ 2>/dev/null || :; \
		echo "== $$t: $(FUZZ_TIME) s"; \
		rc=0; ./$(FO)/$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(FO)/ $$(test -f fuzz/$$t.dict && echo -dict=fuzz/$$t.dict) \
			$(FO)/corpus/$$t >$(FO)/$$t.log 2>&1 || rc=$$?; \
		grep -E '^(#[0-9]+[[:space:]]*(INITED|DONE)|stat::|SUMMARY|==[0-9]+==ERROR|fuzz-)' $(FO)/$$t.log || :; \
		test $$rc = 0 || { echo "$$t failed (exit $$rc): $(FO)/$$t.log"; exit 1; }; \
	done

# Line/region coverage of lib/ when every input of the corpora (the seeds,
# the regressions and what `run` found) is executed once.
cov: $(TARGETS:%=$(FO)/cov/%)
	$(Q)set -e; rm -f $(FO)/cov/*.profraw; for t in $(TARGETS); do \
		dirs=$$(for d in fuzz/corpus/$$t fuzz/regress/$$t $(FO)/corpus/$$t; do test -d $$d && echo $$d; done); \
		LLVM_PROFILE_FILE=$(FO)/cov/$$t.profraw ./$(FO)/cov/$$t -runs=0 $$dirs >/dev/null 2>&1; \
	done; \
	$(LLVM_PROFDATA) merge -o $(FO)/cov/all.profdata $(FO)/cov/*.profraw; \
	for t in $(TARGETS); do \
		echo "== $$t"; \
		$(LLVM_PROFDATA) merge -o $(FO)/cov/$$t.profdata $(FO)/cov/$$t.profraw; \
		$(LLVM_COV) report $(FO)/cov/$$t -instr-profile=$(FO)/cov/$$t.profdata \
			$$(case $$t in fuzz-capture) echo $(COV_CAPTURE);; fuzz-record) echo $(COV_RECORD);; \
			   *) echo $(COV_QUEUE);; esac) | \
			grep -v '^---'; \
	done
