# SPDX-License-Identifier: MIT
# pyleakbpf build. `make` builds ./pyleakbpf; `make deps` installs what the
# build and tests need from Debian packages; `make test` and `make demo` are
# the two commands a fresh machine needs (see README.md).

OUTPUT  := build
CLANG   ?= clang
CC      ?= cc
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
# usdt.bpf.h pulls in <linux/errno.h>, which needs the multiarch asm/ headers.
BPF_SYS_INCLUDES := -idirafter /usr/include/$(shell uname -m)-linux-gnu

CFLAGS  ?= -g -O2
CFLAGS  += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE
INCLUDES := -I$(OUTPUT) -Iuser -Ibpf
LDLIBS  := -lbpf -lelf -lz -lm -lcapstone -lpthread

# The tests use Debian's pytest and jsonschema, so Debian's python3 runs them
# whatever python3 comes first on PATH (pyenv shims, say).
PYTEST  ?= /usr/bin/python3 -m pytest -p no:cacheprovider

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# Modules with no BPF dependency: also linked into the unit tests.
PURE_SRCS := user/trend.c user/linetable.c user/elfsym.c user/guards.c user/sampler.c user/pyoffsets.c \
             user/liveness.c user/procfs.c user/escape.c user/symbolize.c
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
PURE_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(PURE_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/%,$(UNIT_SRCS))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Keep the BPF objects: they are worth inspecting with bpftool and llvm-objdump.
.SECONDARY: $(BPF_OBJS)
.PHONY: all deps clean test unit integration demo vmlinux matrix python314 cpython313

all: pyleakbpf

deps:
	$(Q)./scripts/install-deps.sh

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(dir $(VMLINUX)) -Ibpf $(BPF_SYS_INCLUDES) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) $(wildcard bpf/*.h) $(SKELS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

pyleakbpf: $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(PURE_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit $< $(PURE_OBJS) $(LDLIBS) -o $@

unit: $(UNIT_BINS)
	$(Q)./tests/run-unit.sh $(UNIT_BINS)

integration: pyleakbpf
	$(Q)$(PYTEST) -v -rs tests/integration

# The interpreter matrix beyond this machine's own Pythons, cached under
# /var/cache/pyleakbpf: Debian trixie's python3.13 in a chroot (~70 s once),
# stripped copies of pyenv's shared libpython 3.9/3.10/3.12/3.13, two 3.13 built
# from trixie's source package (~12 min once): a static unstripped one, and a
# free-threaded one the tests must see refused. `make python314` adds Debian
# sid's python3.14 in a chroot; the tests use it whenever it is there.
matrix:
	$(Q)./scripts/make-chroot.sh trixie python3.13
	$(Q)./scripts/strip-copy.sh
	$(Q)./scripts/build-cpython313.sh

python314:
	$(Q)./scripts/make-chroot.sh sid python3.14

cpython313:
	$(Q)./scripts/build-cpython313.sh

test: deps matrix
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)./tests/run-unit.sh $(UNIT_BINS)
	$(Q)$(PYTEST) -v -rs tests/integration

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/demo.sh

vmlinux:
	$(Q)./scripts/gen-vmlinux.sh

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) pyleakbpf
