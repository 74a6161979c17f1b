# Switchboard: the two set-up commands are `make demo` and `make test`.
SWIFT_BIN ?= /opt/swift/usr/bin
export PATH := $(SWIFT_BIN):$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZ_SECONDS ?= 60

.PHONY: deps browser-deps build release test demo cluster fuzz bench bench-memory soak-raft clean

## deps: install liblz4-dev (and pkg-config) only when they are missing
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists liblz4; then \
		echo "installing liblz4-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblz4-dev pkg-config; \
	fi

## browser-deps: Debian's chromium and chromium-driver, and Selenium from PyPI, for the browser test
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q "selenium==4.51.0"

## build: debug build of every target
build: deps
	swift build

## release: optimised build (what loadgen measures)
release: deps
	swift build -c release

## test: build and run every test (unit, real-socket, end to end with Python's websockets, and
## the widget and console in headless Chromium; screenshots under artifacts/screenshots/)
test: deps browser-deps
	swift build --build-tests
	swift test --skip-build
	@python3 -c "import websockets" 2>/dev/null || python3 -m pip install -q "websockets==12.0"
	python3 Tests/e2e/chat_flow.py
	python3 Tests/e2e/browser_flow.py
	python3 Tests/e2e/cluster_flow.py

## demo: the whole system in one process: routerd dev with the demo site (prints the URLs)
demo: build
	.build/debug/routerd dev

## cluster: three routers, two gateways and nginx on loopback (deploy/run-local.sh; prints the URLs)
cluster: build
	deploy/run-local.sh

## fuzz: libFuzzer + AddressSanitizer on every parser that reads outside input (frames and
## messages, HTTP with chunked bodies, WebSocket, JSON and client commands, tokens, log
## recovery), FUZZ_SECONDS each, two at a time
## soak-raft: the Raft simulation at five times make test's size (14,000 seeded runs, a few minutes)
soak-raft: deps
	swift build --build-tests
	RAFT_SIM_RUNS=500 swift test --skip-build --filter RaftSimulationTests

fuzz: deps
	Fuzz/run.sh $(FUZZ_SECONDS)

## bench: every benchmark scenario, JSON reports under artifacts/ (the paced run's SLO is
## not met yet: its failure does not stop the rest)
bench: release
	mkdir -p artifacts
	.build/release/loadgen codec --report artifacts/codec.json
	.build/release/loadgen wire --report artifacts/wire.json
	.build/release/loadgen routing --report artifacts/routing.json
	.build/release/loadgen log --report artifacts/log.json
	.build/release/loadgen chat --conversations 1000 --report artifacts/chat-1000.json
	.build/release/loadgen chat --conversations 10000 --seconds 10 --warmup 2 --report artifacts/chat-10000.json
	-.build/release/loadgen chat --conversations 1000 --rate 20000 --slo "p99<3ms" --report artifacts/chat-paced-20000.json
	.build/release/loadgen idle --connections 15000 --report artifacts/idle-15000.json
	.build/release/loadgen burst --starts 5000 --over 10 --operators 50 --capacity 3 --handle-ms 1000 --report artifacts/burst.json

## bench-memory: ten minutes of chats that end and restart at 2,000 messages/s; the report's
## timeline has the server's memory and latency each second (docs/benchmarks.md)
bench-memory: release
	mkdir -p artifacts
	.build/release/loadgen chat --conversations 1000 --rate 2000 --messages-per-chat 20 --seconds 600 --warmup 5 \
		--report artifacts/chat-memory-600.json

clean:
	rm -rf .build fuzz-out artifacts
