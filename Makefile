# A thin wrapper over CMake. `make demo` and `make check` are the README's Quick start.
BUILD_DIR ?= build
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?= -DFLEET_WERROR=ON

.PHONY: all deps build check check-distros e2e fuzz package demo bench format lint clean

all: build

deps:
	@dev/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

check: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE e2e

# The real agent CLIs against the loopback API stub (tests/e2e): installs the pinned CLIs into
# E2E_CACHE once (the npm registry, ~950 MB), then runs the e2e suite. Not part of make check;
# CI runs it when the cache is there. The cache is per machine, outside any clone.
E2E_CACHE ?= /var/cache/fleet-dispatch/e2e
e2e: build
	@dev/install-deps --e2e
	@tests/e2e/install-clis $(abspath $(E2E_CACHE))
	FLEET_E2E_CACHE=$(abspath $(E2E_CACHE)) ctest --test-dir $(BUILD_DIR) -L e2e --output-on-failure

# libFuzzer on the guard programs' request parsers (fleet-helper's argv, fleet-diag's
# request string) and on each agent CLI's outcome parser (what an agent prints), FUZZ_SECONDS
# each, from the seeds in tests/fuzz (copied: libFuzzer adds what it finds to its corpus).
FUZZ_SECONDS ?= 30
OUTCOME_AGENTS = claude codex gemini grok aider
FUZZ_TARGETS = request_fuzz:request_seeds diag_request_fuzz:diag_seeds \
	$(foreach agent,$(OUTCOME_AGENTS),outcome_fuzz_$(agent):outcome_seeds_$(agent))
fuzz:
	@dev/install-deps --fuzz
	@cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DFLEET_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target $(foreach pair,$(FUZZ_TARGETS),$(firstword $(subst :, ,$(pair))))
	@for pair in $(FUZZ_TARGETS); do \
	    target=$${pair%%:*}; seeds=$${pair#*:}; \
	    rm -rf build-fuzz/$$seeds && cp -r tests/fuzz/$$seeds build-fuzz/$$seeds && \
	    echo "fuzz: $$target for $(FUZZ_SECONDS) s" && \
	    if ! build-fuzz/bin/$$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build-fuzz/$$seeds >build-fuzz/$$target.log 2>&1; then \
	        tail -n 40 build-fuzz/$$target.log; exit 1; \
	    fi; \
	    tail -n 5 build-fuzz/$$target.log; \
	done

# The fleet's other releases and CPUs (docs/packaging.md, "Releases and CPUs"): make check in a
# Debian 13 chroot, an arm64 cross build with a smoke test under qemu. Chroots cached under
# /var/cache/fleet-dispatch/distros; not part of make check (Debian's registry, ~20 min the
# first time); CI runs it.
check-distros:
	@dev/check-distros

# The Debian package, into build/package/ (docs/packaging.md).
package: build
	@rm -f $(BUILD_DIR)/package/*.deb # one package per build: its version names the commit
	@cd $(BUILD_DIR) && cpack -G DEB

demo: build
	@examples/demo $(BUILD_DIR)/bin

bench: build
	@dev/install-deps --bench
	@bench/run $(BUILD_DIR)

format:
	@dev/install-deps --lint
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

# clang-tidy on the C++; dev/lint on the rest: shellcheck on every shell script, yamllint and
# ansible-lint on deploy/.
lint: build
	@dev/install-deps --lint
	dev/lint
	clang-tidy -p $(BUILD_DIR) --quiet $$(git ls-files '*.cpp')

clean:
	rm -rf $(BUILD_DIR) build-fuzz
