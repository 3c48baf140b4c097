# The targets behind the README's two commands, `./dev demo` and `./dev test` (which install make
# itself first). Each installs what is missing, configures, builds and runs.
JOBS ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all deps demo test build release format format-check bench clean

all: release

deps:
	@scripts/install-deps.sh

build/release/build.ninja build/release/Makefile: | deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DVD_SANITIZE=OFF

release: deps build/release/Makefile
	cmake --build build/release -j $(JOBS) --target videodrop

demo: release
	./build/release/videodrop demo

build/test/Makefile: | deps
	cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DVD_SANITIZE=ON

test: deps build/test/Makefile
	cmake --build build/test -j $(JOBS)
	cd build/test && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: deps build/release/Makefile
	scripts/install-deps.sh --bench
	cmake --build build/release -j $(JOBS)
	bench/run.sh build/release

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.cc')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.cc')

clean:
	rm -rf build
