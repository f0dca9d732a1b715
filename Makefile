# Thin wrapper over CMake. The real build lives in CMakeLists.txt.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-asan bench fuzz fuzz-build clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@./scripts/run

# Everything: unit + integration + corpus replay (ctest), the unit and integration tests again under
# ASan+UBSan, then every fuzz target for FUZZ_SECONDS.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE bench
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DSN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -L 'unit|integration'

bench: build
	@./scripts/bench $(BUILD)

fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DSN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@./scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
