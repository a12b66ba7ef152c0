# iopftool: GNU make.  `make help` lists the targets.
prefix ?= /usr/local
bindir ?= $(prefix)/bin
libdir ?= $(prefix)/lib
includedir ?= $(prefix)/include
mandir ?= $(prefix)/share/man
pkgconfigdir ?= $(libdir)/pkgconfig
docdir ?= $(prefix)/share/doc/iopftool
DESTDIR ?=
# The Wireshark Lua plugin and the bash completion go where those programs
# look, whatever prefix is: the directories tshark -G folders and
# bash-completion's pkg-config file name (probed once, at install time).
wiresharkluadir ?= $(eval wiresharkluadir := $(or \
	$(shell tshark -G folders 2>/dev/null | sed -n 's/^Global Lua Plugins:[[:space:]]*//p'), \
	$(patsubst %/,%,$(dir $(shell $(PKG_CONFIG) --variable=plugindir wireshark 2>/dev/null))), \
	/usr/lib/$(shell $(CC) -dumpmachine)/wireshark/plugins))$(wiresharkluadir)
bashcompdir ?= $(eval bashcompdir := $(or \
	$(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null), \
	/usr/share/bash-completion/completions))$(bashcompdir)

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wno-missing-field-initializers
ifeq ($(DEVELOPER),1)
WARNINGS += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Build products go to $(O) (default: build/, or build-san/ with SANITIZE).
O ?= $(if $(SANITIZE),build-san,build)

DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpcap json-c zlib libbpf 2>/dev/null)
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs libpcap json-c zlib libbpf 2>/dev/null || echo -lpcap -ljson-c -lz -lbpf -lelf)
# The library itself needs no json-c (its JSON is its own emitter, lib/out.c): the tool and the tests do.
LIB_LIBS = $(shell $(PKG_CONFIG) --libs libpcap zlib libbpf 2>/dev/null || echo -lpcap -lz -lbpf -lelf)
# <linux/iommufd.h> is used when it has the fault queue (Linux >= 6.11 headers).
HASH := \#
HAVE_LINUX_IOMMUFD := $(shell printf '$(HASH)include <linux/iommufd.h>\n$(HASH)ifndef IOMMU_FAULT_QUEUE_ALLOC\n$(HASH)error\n$(HASH)endif\n' | \
	$(CC) $(UAPI_CFLAGS) -E -x c - >/dev/null 2>&1 && echo 1)
# Otherwise lib/uapi/linux/iommufd.h stands in for it (and is installed for iopf.pc).
UAPI_FALLBACK := $(if $(HAVE_LINUX_IOMMUFD),,-Ilib/uapi)
ALL_CFLAGS = -std=gnu11 $(WARNINGS) $(CFLAGS) $(UAPI_CFLAGS) $(UAPI_FALLBACK) -Ilib $(DEPS_CFLAGS) -MMD -MP

# The BPF tap's programs (lib/bpf/tap.bpf.c): built twice by clang -target bpf,
# with CO-RE (kernels with BTF) and without (known layouts), and embedded
# in libiopf by `bpftool gen skeleton` (lib/tap-bpf.c includes the headers).
BPF_CLANG ?= clang
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
BPF_ARCH := $(patsubst x86_64,x86,$(patsubst aarch64,arm64,$(patsubst ppc64le,powerpc,$(shell uname -m))))
BPF_CFLAGS = -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Ilib/bpf \
	-I/usr/include/$(shell $(CC) -dumpmachine) -Wall -Wno-unused-function

ifneq ($(V),1)
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

LIB_SRC := $(sort $(wildcard lib/*.c))
TOOL_SRC := $(sort $(wildcard tool/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)
HELPER_BIN := $(HELPER_SRC:%.c=$(O)/%)
LIBIOPF := $(O)/libiopf.a
# libiopf.so.SOMAJOR: the soname changes when the ABI breaks.
SOMAJOR := 0
IOPF_VERSION := $(shell sed -n 's/^\#define IOPF_VERSION "\(.*\)"/\1/p' lib/iopf.h)
LIBIOPF_SO := $(O)/libiopf.so.$(IOPF_VERSION)
IOPFTOOL := $(O)/iopftool

.PHONY: all deps run check check-unit check-shell check-kernel check-san bench \
	fuzz fuzz-cov check-fuzz check-valgrind install uninstall clean help
.DEFAULT_GOAL := all

all: $(IOPFTOOL) $(LIBIOPF_SO) $(UNIT_BIN) $(HELPER_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/bpf/tap-core.bpf.o: lib/bpf/tap.bpf.c lib/bpf/tap-bpf.h
	@mkdir -p $(dir $@)
	$(call quiet,BPF,$@)$(BPF_CLANG) $(BPF_CFLAGS) -DTAP_CORE=1 -c -o $@ $<

$(O)/bpf/tap-nobtf.bpf.o: lib/bpf/tap.bpf.c lib/bpf/tap-bpf.h
	@mkdir -p $(dir $@)
	$(call quiet,BPF,$@)$(BPF_CLANG) $(BPF_CFLAGS) -DTAP_CORE=0 -c -o $@ $<

$(O)/bpf/tap_%.skel.h: $(O)/bpf/tap-%.bpf.o
	$(call quiet,SKEL,$@)$(BPFTOOL) gen skeleton $< name tap_$* >$@.tmp && mv $@.tmp $@

$(O)/lib/tap-bpf.o: $(O)/bpf/tap_core.skel.h $(O)/bpf/tap_nobtf.skel.h
$(O)/lib/tap-bpf.o: ALL_CFLAGS += -I$(O)/bpf

# One set of library objects serves both the archive and the shared library.
$(LIB_OBJ): ALL_CFLAGS += -fPIC -fno-semantic-interposition

$(LIBIOPF): $(LIB_OBJ)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

# Export exactly the functions lib/iopf.h declares; the rest stays internal.
$(O)/libiopf.map: lib/iopf.h
	$(call quiet,GEN,$@){ echo '{ global:'; \
	  sed -n 's/^[^#/ *].*[^a-z0-9_]\(iopf_[a-z0-9_]*\)(.*/\1;/p' $< | sort -u; \
	  echo 'local: *; };'; } >$@

$(LIBIOPF_SO): $(LIB_OBJ) $(O)/libiopf.map
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -shared -Wl,-soname,libiopf.so.$(SOMAJOR) -Wl,-Bsymbolic-functions \
		-Wl,--version-script=$(O)/libiopf.map -o $@ $(LIB_OBJ) $(LIB_LIBS) -lm

# iopf.pc is made at install time: it names prefix, libdir and includedir.
IOPF_PC_SED = sed -e 's|@prefix@|$(prefix)|; s|@libdir@|$(libdir)|' \
		-e 's|@includedir@|$(includedir)|; s|@version@|$(IOPF_VERSION)|' \
		-e 's|@uapi_cflags@|$(if $(HAVE_LINUX_IOMMUFD),,-I$${includedir}/iopf/uapi)|' lib/iopf.pc.in

$(IOPFTOOL): $(TOOL_OBJ) $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(LIBIOPF) $(DEPS_LIBS) -lm

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBIOPF) $(DEPS_LIBS) -lm

$(O)/tests/helpers/%: $(O)/tests/helpers/%.o $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBIOPF) $(DEPS_LIBS) -lm

# The test programs' objects are kept, so a second `make` has nothing to do.
.SECONDARY: $(UNIT_BIN:=.o) $(HELPER_BIN:=.o)

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(UNIT_BIN:=.d) $(HELPER_BIN:=.d)

deps:
	@scripts/deps.sh build

run: deps
	@$(MAKE) --no-print-directory all
	$(IOPFTOOL) replay captures/demo.pcap --target sim --verbose

# The whole suite: unit tests, shell tests, the sanitizer build, a fuzz
# smoke run, the kernel VM tier.
check: deps
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(FUZZ_MAKE) all
	@$(TEST_ENV) tests/run.sh all

TEST_ENV = IOPFTOOL=$(abspath $(IOPFTOOL)) UNIT_DIR=$(abspath $(O)/tests/unit) \
	HELPERS=$(abspath $(O)/tests/helpers) SAN_DIR=$(abspath build-san) \
	FUZZ_DIR=$(abspath build-fuzz)

# libFuzzer targets (fuzz/, built by fuzz/fuzz.mk with clang into build-fuzz/).
FUZZ_MAKE = $(MAKE) --no-print-directory -f fuzz/fuzz.mk FO=build-fuzz
fuzz: deps
	@scripts/deps.sh fuzz
	@$(FUZZ_MAKE) run

fuzz-cov: deps
	@scripts/deps.sh fuzz
	@$(FUZZ_MAKE) cov

check-fuzz: deps
	@scripts/deps.sh fuzz
	@$(FUZZ_MAKE) all
	@$(TEST_ENV) tests/run.sh fuzz

# The unit and shell tests with iopftool under valgrind's memcheck.
check-valgrind: deps
	@scripts/deps.sh valgrind
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) tests/run.sh valgrind

check-unit check-shell: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) tests/run.sh $(patsubst check-%,%,$@)

check-san: deps
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(TEST_ENV) tests/run.sh san

check-kernel: deps
	@scripts/deps.sh kernel
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) tests/run.sh kernel

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@IOPFTOOL=$(abspath $(IOPFTOOL)) tests/bench.sh

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(libdir) $(DESTDIR)$(includedir) $(DESTDIR)$(pkgconfigdir)
	install -m 755 $(IOPFTOOL) $(DESTDIR)$(bindir)/iopftool
	install -m 644 man/*.8 $(DESTDIR)$(mandir)/man8/
	install -m 644 man/*.5 $(DESTDIR)$(mandir)/man5/
	install -m 755 $(LIBIOPF_SO) $(DESTDIR)$(libdir)/
	ln -sf $(notdir $(LIBIOPF_SO)) $(DESTDIR)$(libdir)/libiopf.so.$(SOMAJOR)
	ln -sf libiopf.so.$(SOMAJOR) $(DESTDIR)$(libdir)/libiopf.so
	install -m 644 $(LIBIOPF) $(DESTDIR)$(libdir)/
	install -m 644 lib/iopf.h $(DESTDIR)$(includedir)/
	$(IOPF_PC_SED) >$(DESTDIR)$(pkgconfigdir)/iopf.pc
	$(if $(HAVE_LINUX_IOMMUFD),,install -d $(DESTDIR)$(includedir)/iopf/uapi/linux && \
		install -m 644 lib/uapi/linux/iommufd.h $(DESTDIR)$(includedir)/iopf/uapi/linux/)
	install -d $(DESTDIR)$(wiresharkluadir) $(DESTDIR)$(bashcompdir)
	install -m 644 wireshark/iopf.lua $(DESTDIR)$(wiresharkluadir)/iopf.lua
	install -m 644 completion/iopftool $(DESTDIR)$(bashcompdir)/iopftool
	# The example systemd unit (not enabled: iopftool-record(8) "Service"), naming this bindir.
	install -d $(DESTDIR)$(docdir)/examples
	sed 's|/usr/local/bin/iopftool|$(bindir)/iopftool|' examples/iopftool-tap.service \
		>$(DESTDIR)$(docdir)/examples/iopftool-tap.service
	install -m 644 examples/iopftool-alerts.yml examples/prometheus-scrape.yml \
		$(DESTDIR)$(docdir)/examples/

uninstall:
	rm -f $(DESTDIR)$(bindir)/iopftool $(addprefix $(DESTDIR)$(mandir)/man8/,$(notdir $(wildcard man/*.8))) \
	      $(addprefix $(DESTDIR)$(mandir)/man5/,$(notdir $(wildcard man/*.5))) \
	      $(DESTDIR)$(libdir)/libiopf.so* $(DESTDIR)$(libdir)/libiopf.a \
	      $(DESTDIR)$(includedir)/iopf.h $(DESTDIR)$(pkgconfigdir)/iopf.pc \
	      $(DESTDIR)$(includedir)/iopf/uapi/linux/iommufd.h
	rm -f $(DESTDIR)$(wiresharkluadir)/iopf.lua $(DESTDIR)$(bashcompdir)/iopftool
	rm -f $(addprefix $(DESTDIR)$(docdir)/examples/,iopftool-tap.service iopftool-alerts.yml \
		prometheus-scrape.yml)
	-rmdir -p $(DESTDIR)$(docdir)/examples 2>/dev/null
	-rmdir -p $(DESTDIR)$(includedir)/iopf/uapi/linux 2>/dev/null

# O=DIR cleans that build directory only; plain `make clean` both default ones.
clean:
	rm -rf $(if $(filter command line environment,$(origin O)),$(O),build build-san build-fuzz)

help:
	@echo 'targets:'
	@echo '  all           build iopftool and the unit tests (default)'
	@echo '  run           replay captures/demo.pcap against the userspace queue'
	@echo '  check         the whole test suite (unit, shell, sanitizers, fuzz smoke, kernel VM)'
	@echo '  check-unit    unit tests only; check-shell: CLI tests; check-san: sanitizer build'
	@echo '  check-kernel  the kernel tier: builds/caches the 6.12 and newest backports test kernels,'
	@echo '                boots each in qemu (KERNEL=6.12|7.3|all)'
	@echo '  bench         throughput benchmark, as ratios against an in-script baseline'
	@echo '  fuzz          run each libFuzzer target FUZZ_TIME seconds (default 60); fuzz-cov: coverage'
	@echo '  check-fuzz    the fuzz targets over their corpora, then 10 s each (FUZZ_SMOKE_TIME)'
	@echo '  check-valgrind  unit and shell tests with iopftool under valgrind memcheck'
	@echo '  install, uninstall, clean'
	@echo 'variables: V=1 (full commands) DEVELOPER=1 (-Werror) SANITIZE=address,undefined'
	@echo '           O=DIR (build dir) prefix=/usr/local DESTDIR='
