# Switchboard: the two set-up commands are `make demo` and `make test`.
SWIFT_BIN ?= /opt/swift/usr/bin
export PATH := $(SWIFT_BIN):$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZ_SECONDS ?= 60

.PHONY: deps build release test demo fuzz bench clean

## deps: install liblz4-dev (and pkg-config) only when they are missing
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists liblz4; then \
		echo "installing liblz4-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblz4-dev pkg-config; \
	fi

## build: debug build of every target
build: deps
	swift build

## release: optimised build (what loadgen measures)
release: deps
	swift build -c release

## test: build and run every test (unit and real-socket)
test: deps
	swift build --build-tests
	swift test --skip-build

## demo: the whole system in one process (routerd dev arrives with issue #4)
demo: build
	@echo "routerd dev is not built yet (issue #4: gateway and routerd)."
	@echo "What runs today: the wire transport, the router core and their benchmarks:"
	@echo "  swift run -c release loadgen codec     # frame encode/decode"
	@echo "  swift run -c release loadgen wire      # round trips over loopback"
	@echo "  swift run -c release loadgen routing   # assignment decisions"
	@echo "  swift run -c release loadgen log       # durable appends"

## fuzz: libFuzzer + AddressSanitizer on the frame and message decoders, FUZZ_SECONDS each
fuzz: deps
	Fuzz/run.sh $(FUZZ_SECONDS)

## bench: every benchmark scenario, JSON reports under artifacts/
bench: release
	mkdir -p artifacts
	.build/release/loadgen codec --report artifacts/codec.json
	.build/release/loadgen wire --report artifacts/wire.json
	.build/release/loadgen routing --report artifacts/routing.json
	.build/release/loadgen log --report artifacts/log.json

clean:
	rm -rf .build fuzz-out artifacts
