# A thin wrapper over CMake. `make demo` and `make check` are the README's Quick start.
BUILD_DIR ?= build
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?= -DFLEET_WERROR=ON

.PHONY: all deps build check fuzz demo bench format lint clean

all: build

deps:
	@deploy/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

check: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

# libFuzzer on fleet-helper's request parser, FUZZ_SECONDS long, from the seeds in tests/fuzz
# (copied: libFuzzer adds what it finds to its corpus directory).
FUZZ_SECONDS ?= 30
fuzz:
	@deploy/install-deps --fuzz
	@cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DFLEET_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target request_fuzz
	@rm -rf build-fuzz/corpus && cp -r tests/fuzz/request_seeds build-fuzz/corpus
	build-fuzz/bin/request_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus

demo: build
	@examples/demo $(BUILD_DIR)/bin

bench: build
	@deploy/install-deps --bench
	@bench/run $(BUILD_DIR)

format:
	@deploy/install-deps --lint
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

lint: build
	@deploy/install-deps --lint
	clang-tidy -p $(BUILD_DIR) --quiet $$(git ls-files '*.cpp')

clean:
	rm -rf $(BUILD_DIR) build-fuzz
