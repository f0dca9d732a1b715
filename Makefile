# Thin wrapper over CMake. The real build lives in CMakeLists.txt.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-asan test-tsan bench fuzz fuzz-build clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@./scripts/run

# Everything: unit + integration + corpus replay (ctest), the unit and integration tests again under
# ASan+UBSan and again under ThreadSanitizer, then every fuzz target for FUZZ_SECONDS.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE bench
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory fuzz

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DSN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -L 'unit|integration'

# Any data race or lock-order inversion fails the test (TSan's exit code 66), also in the
# settled processes the integration tests start.
test-tsan: deps
	@CC=clang cmake -S . -B $(TSAN_BUILD) -DSN_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@cd $(TSAN_BUILD) && TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' \
		ctest --output-on-failure -j $(JOBS) -L 'unit|integration'

bench: build
	@./scripts/bench $(BUILD)

fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DSN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@./scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
