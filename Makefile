# SPDX-License-Identifier: GPL-2.0
#
# esptcp: ESP-in-TCP (RFC 9329) for kernels built without CONFIG_INET_ESPINTCP.
#
#   make               build esptcp.ko against KDIR and the esptcp tool
#   make install       install both (modules_install + depmod, /usr/local/sbin)
#   make check         run the test suite in QEMU (KERNEL=stock|trixie|trixie-backports|
#                      stock-6.12|debug|reference; TIER=full runs all of it anywhere)
#   make demo          boot a VM and show esptcp at work between namespaces
#   make bench         throughput benchmark in QEMU (KERNEL=stock|reference|...)
#   make style         checkpatch --strict and sparse (6.1, trixie 6.12) over the module
#   make dkms-check    build the module with Debian's dkms against the stock headers
#   make fuzz          the IKE parser under libFuzzer + ASan/UBSan (FUZZ_TIME seconds)
#   make fuzz-kernel   the module under the stream fuzzer on the debug kernel
#                      (FUZZ_BYTES, default 1 GiB; KERNEL=debug by default)
#   make soak          a tunnel under rekeys, path changes and resets for
#                      SOAK_MINUTES (default 30) on the debug kernel

KDIR	?= /lib/modules/$(shell uname -r)/build
KERNEL	?= stock
PREFIX	?= /usr/local
export ESPTCP_CACHE ?= /var/cache/esptcp

Q	:= selftests/qemu

.PHONY: all module userspace install modules_install clean deps check demo bench \
	style dkms-check fuzz fuzz-kernel soak

all: module userspace

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userspace:
	$(MAKE) -C userspace

install: modules_install
	$(MAKE) -C userspace install PREFIX=$(PREFIX)

modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)

deps:
	@scripts/deps.sh

check: deps
	@$(Q)/run.sh check $(KERNEL)

demo: deps
	@$(Q)/run.sh demo $(KERNEL)

bench: deps
	@$(Q)/run.sh bench $(KERNEL)

style: deps
	@scripts/style.sh

dkms-check: deps
	@ESPTCP_WITH_DKMS=1 scripts/deps.sh
	@scripts/dkms-check.sh

# the long runs default to the debug kernel; KERNEL=... on the command line wins
LONG_KERNEL := $(if $(filter command line environment,$(origin KERNEL)),$(KERNEL),debug)

fuzz-kernel: deps
	@$(Q)/run.sh fuzz-kernel $(LONG_KERNEL)

soak: deps
	@$(Q)/run.sh soak $(LONG_KERNEL)

fuzz: deps
	@$(MAKE) -C userspace fuzz FUZZ_TIME=$(or $(FUZZ_TIME),60)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	$(MAKE) -C userspace clean
	rm -rf build
