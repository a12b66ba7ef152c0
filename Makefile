# iopftool: GNU make.  `make help` lists the targets.
prefix ?= /usr/local
bindir ?= $(prefix)/bin
mandir ?= $(prefix)/share/man
DESTDIR ?=

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

DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpcap json-c 2>/dev/null)
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs libpcap json-c 2>/dev/null || echo -lpcap -ljson-c)
# <linux/iommufd.h> is used when it has the fault queue (Linux >= 6.11 headers).
HASH := \#
HAVE_LINUX_IOMMUFD := $(shell printf '$(HASH)include <linux/iommufd.h>\n$(HASH)ifndef IOMMU_FAULT_QUEUE_ALLOC\n$(HASH)error\n$(HASH)endif\n' | \
	$(CC) $(UAPI_CFLAGS) -E -x c - >/dev/null 2>&1 && echo 1)
ALL_CFLAGS = -std=gnu11 $(WARNINGS) $(CFLAGS) $(UAPI_CFLAGS) -Ilib $(DEPS_CFLAGS) -MMD -MP \
	$(if $(HAVE_LINUX_IOMMUFD),-DIOPF_HAVE_LINUX_IOMMUFD)

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
IOPFTOOL := $(O)/iopftool

.PHONY: all deps run check check-unit check-shell check-kernel check-san bench \
	install uninstall clean help
.DEFAULT_GOAL := all

all: $(IOPFTOOL) $(UNIT_BIN) $(HELPER_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBIOPF): $(LIB_OBJ)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(IOPFTOOL): $(TOOL_OBJ) $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(LIBIOPF) $(DEPS_LIBS) -lm

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBIOPF) $(DEPS_LIBS) -lm

$(O)/tests/helpers/%: $(O)/tests/helpers/%.o $(LIBIOPF)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBIOPF) $(DEPS_LIBS) -lm

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(UNIT_BIN:=.d) $(HELPER_BIN:=.d)

deps:
	@scripts/deps.sh build

run: deps
	@$(MAKE) --no-print-directory all
	$(IOPFTOOL) replay captures/demo.pcap --target sim --verbose

# The whole suite: unit tests, shell tests, the sanitizer build, the kernel VM tier.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@scripts/deps.sh check
	@$(TEST_ENV) tests/run.sh all

TEST_ENV = IOPFTOOL=$(abspath $(IOPFTOOL)) UNIT_DIR=$(abspath $(O)/tests/unit) \
	HELPERS=$(abspath $(O)/tests/helpers) SAN_DIR=$(abspath build-san)

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
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5
	install -m 755 $(IOPFTOOL) $(DESTDIR)$(bindir)/iopftool
	install -m 644 man/*.8 $(DESTDIR)$(mandir)/man8/
	install -m 644 man/*.5 $(DESTDIR)$(mandir)/man5/

uninstall:
	rm -f $(DESTDIR)$(bindir)/iopftool $(addprefix $(DESTDIR)$(mandir)/man8/,$(notdir $(wildcard man/*.8))) \
	      $(addprefix $(DESTDIR)$(mandir)/man5/,$(notdir $(wildcard man/*.5)))

clean:
	rm -rf build build-san

help:
	@echo 'targets:'
	@echo '  all           build iopftool and the unit tests (default)'
	@echo '  run           replay captures/demo.pcap against the userspace queue'
	@echo '  check         the whole test suite (unit, shell, sanitizers, kernel VM)'
	@echo '  check-unit    unit tests only; check-shell: CLI tests; check-san: sanitizer build'
	@echo '  check-kernel  the kernel tier: builds/caches a 6.12 test kernel, boots qemu'
	@echo '  bench         throughput benchmark, as ratios against an in-script baseline'
	@echo '  install, uninstall, clean'
	@echo 'variables: V=1 (full commands) DEVELOPER=1 (-Werror) SANITIZE=address,undefined'
	@echo '           O=DIR (build dir) prefix=/usr/local DESTDIR='
