# A thin wrapper over CMake. `make demo` and `make check` are the README's Quick start.
BUILD_DIR ?= build
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?= -DFLEET_WERROR=ON

.PHONY: all deps build check demo bench format lint clean

all: build

deps:
	@deploy/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

check: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

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
	rm -rf $(BUILD_DIR)
