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

# Sanitizers. Both builds use clang, whose ASan/UBSan/libFuzzer runtimes
# (libclang-rt-*-dev) link statically; -fno-sanitize-recover makes any
# undefined behaviour fatal instead of a line on stderr.
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# libFuzzer harnesses (tests/fuzz/fuzz_*.c, see tests/fuzz/README.md): each
# is linked with every pure module, built again with coverage and sanitizers.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst user/%.c,$(OUTPUT)/fuzz/%.o,$(PURE_SRCS))
FUZZ_CFLAGS := $(SAN_FLAGS) -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE
FUZZ_SECONDS ?= 30
# CI's share: about 30 s a harness, two at a time (2 min for eight).
CI_FUZZ_SECONDS ?= 30
# The whole tool under ASan and UBSan, in its own object directory.
ASAN_OUT  := build-asan
ASAN_OBJS := $(patsubst user/%.c,$(ASAN_OUT)/%.o,$(USER_SRCS))
ASAN_CFLAGS := $(SAN_FLAGS) -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Keep the BPF objects: they are worth inspecting with bpftool and llvm-objdump.
.SECONDARY: $(BPF_OBJS) $(SKELS) $(FUZZ_OBJS)
.PHONY: all deps clean test unit integration demo vmlinux matrix python314 cpython313 \
	fuzz fuzz-ci fuzz-seeds asan asan-test asan-test-full

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

$(OUTPUT)/fuzz $(ASAN_OUT):
	$(Q)mkdir -p $@

# -fsanitize=fuzzer-no-link: coverage for libFuzzer, without its main().
$(OUTPUT)/fuzz/%.o: user/%.c $(wildcard user/*.h) $(wildcard bpf/*.h) | $(OUTPUT)/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(INCLUDES) -c $< -o $@

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJS)
	$(call msg,FUZZER,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(INCLUDES) -Itests/fuzz $< $(FUZZ_OBJS) $(LDLIBS) -o $@

fuzz: $(FUZZ_BINS)

# Each harness for FUZZ_SECONDS from its committed seeds, two at a time.
fuzz-ci: $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh $(FUZZ_BINS)

# Regenerates tests/fuzz/corpus/ from the interpreters on this machine.
fuzz-seeds:
	$(Q)./scripts/fuzz-seeds.sh

$(ASAN_OUT)/%.o: user/%.c $(wildcard user/*.h) $(wildcard bpf/*.h) $(SKELS) | $(ASAN_OUT)
	$(call msg,CC-ASAN,$@)
	$(Q)$(CLANG) $(ASAN_CFLAGS) $(INCLUDES) -c $< -o $@

$(ASAN_OUT)/pyleakbpf: $(ASAN_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CLANG) $(ASAN_CFLAGS) $^ $(LDLIBS) -o $@

asan: $(ASAN_OUT)/pyleakbpf

# The `sanitize` subset of the integration tests (every error case, a leak
# and a control per kind of interpreter) against the sanitizer build; conftest
# turns any sanitizer report into a failure.
asan-test: $(ASAN_OUT)/pyleakbpf
	$(Q)PYLEAKBPF_BIN=$(CURDIR)/$(ASAN_OUT)/pyleakbpf $(PYTEST) -v -rs -m sanitize tests/integration

# Every integration test under the sanitizers: slow, run before resolving.
asan-test-full: $(ASAN_OUT)/pyleakbpf
	$(Q)PYLEAKBPF_BIN=$(CURDIR)/$(ASAN_OUT)/pyleakbpf $(PYTEST) -v -rs tests/integration

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
	$(Q)$(MAKE) --no-print-directory fuzz-ci FUZZ_SECONDS=$(CI_FUZZ_SECONDS)
	$(Q)$(MAKE) --no-print-directory asan-test

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/demo.sh

vmlinux:
	$(Q)./scripts/gen-vmlinux.sh

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) $(ASAN_OUT) pyleakbpf
