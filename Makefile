# wsconnector: the commands the README gives. Each part of the project has its fragment in mk/.
#   make demo    the chat server (Rust) on 127.0.0.1:8080 (PORT=9000 picks another port)
#   make demo-quotes   the quote feed (Rust) on 127.0.0.1:8081 (PORT=... likewise)
#   make demo-cluster   two chat servers (8080, 8081; PORT=9000 picks 9000, 9001) sharing rooms
#                through a redis-server
#   make test    every check and every test; installs what it needs by itself
#   make dist    the release artifacts in dist/: Python wheel and sdist, C archive, npm package
#   make bench   the benchmarks (about 10 minutes; BENCH_QUICK=1 for a short run)
#   make soak    the long variants of the reliability tests (full-size churn)
#   make fuzz    the fuzz targets, FUZZ_SECONDS each (default 60); installs cargo-fuzz
#   make import-graph   the core's modules with what each imports, lowest first (no cycle:
#                the test tests/import_graph.rs, part of make test-rust, fails on one)

.PHONY: demo demo-quotes demo-cluster test lint test-rust test-node test-browser chromium redis-server soak \
	fuzz import-graph
.DEFAULT_GOAL := test

CARGO ?= cargo

# The example says where it listens and what to type. Its port is checked first, before the
# build: a taken one stops make with one line that says so (make's own "*** ...  Stop.", status 2).
# Should another program take the port between the check and the start, the example says so in
# its one line and exits with status 1, and make adds its "Error 1" line.
free_port = $(if $(shell python3 mk/port_taken.py $(1) 127.0.0.1 $(2) $(3)),\
	$(error $(shell python3 mk/port_taken.py $(1) 127.0.0.1 $(2) $(3))))

demo:
	$(call free_port,chat,$(or $(PORT),8080))
	@$(CARGO) build --quiet --release --example chat
	@target/release/examples/chat 127.0.0.1:$(or $(PORT),8080)

demo-quotes:
	$(call free_port,quotes,$(or $(PORT),8081))
	@$(CARGO) build --quiet --release --example quotes
	@target/release/examples/quotes 127.0.0.1:$(or $(PORT),8081)

# The chat on two ports (PORT and the next), nodes of one cluster through a redis-server of the
# demo's own (on 127.0.0.1:DEMO_REDIS_PORT, in a temporary directory, no persistence). Ctrl-C
# stops all three. Each port is checked first, as for demo.
DEMO_REDIS_PORT ?= 6399
CLUSTER_PORT_A = $(or $(PORT),8080)
CLUSTER_PORT_B = $(shell echo $$(($(CLUSTER_PORT_A) + 1)))
demo-cluster: redis-server
	$(call free_port,chat,$(CLUSTER_PORT_A),"PORT=9000 picks 9000 and 9001")
	$(call free_port,chat,$(CLUSTER_PORT_B),"PORT=9000 picks 9000 and 9001")
	$(call free_port,redis-server,$(DEMO_REDIS_PORT),"DEMO_REDIS_PORT=6400 picks another port")
	$(CARGO) build --release --example chat
	@dir=$$(mktemp -d); url=redis://127.0.0.1:$(DEMO_REDIS_PORT)/0; \
	redis-server --port $(DEMO_REDIS_PORT) --bind 127.0.0.1 --save '' --appendonly no \
		--dir $$dir > $$dir/redis.log 2>&1 & redis=$$!; \
	trap 'kill $$a $$b $$redis 2>/dev/null; wait; rm -rf $$dir' EXIT INT TERM; \
	until grep -q 'Ready to accept' $$dir/redis.log 2>/dev/null; do \
		kill -0 $$redis 2>/dev/null || { cat $$dir/redis.log; exit 1; }; sleep 0.1; done; \
	echo "redis-server on $$url"; \
	target/release/examples/chat 127.0.0.1:$(CLUSTER_PORT_A) $$url & a=$$!; \
	target/release/examples/chat 127.0.0.1:$(CLUSTER_PORT_B) $$url & b=$$!; \
	wait $$a $$b

test: lint test-rust test-c test-abi test-python test-node test-browser test-node-binding test-go \
	test-dist

# Clippy on the core as Rust users build it, and with the C API (`capi`); and the C API stays a
# layer: neither the core without it nor the Python extension depends on cbindgen.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features capi -- -D warnings
	@# The bench harness runs only under make bench: compile it here, so a bad merge shows.
	python3 -m py_compile benches/run.py benches/runner/*.py benches/python/*.py
	@for package in wsconnector wsconnector-python; do \
		if $(CARGO) tree -e features -p $$package | grep -q cbindgen; then \
			echo "$$package depends on cbindgen: the C API must stay behind the capi feature"; exit 1; \
		fi; \
	done

# The core's tests with the C API's own (its unit tests, the header's version check); the
# cluster's tests start redis-servers of their own.
test-rust: redis-server
	$(CARGO) test --features capi
	$(CARGO) test --features mimalloc-purge --test purge

import-graph:
	@$(CARGO) test --quiet --test import_graph the_core_imports_only_downward -- --nocapture \
		| grep -- ' -> '

# Interoperability with Node's ws (an independent implementation), both ways.
test-node: tests/node/node_modules/.package-lock.json
	$(CARGO) test --test node_interop -- --ignored

tests/node/node_modules/.package-lock.json: tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund

# A real browser (Debian's Chromium, driven by playwright-core) as the peer.
test-browser: chromium tests/node/node_modules/.package-lock.json
	$(CARGO) test --test browser -- --ignored

# Debian's Chromium, installed with apt-get only when the machine has none.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's redis-server (the cluster's backplane in the tests, the demo and the benchmark),
# installed with apt-get only when the machine has none.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

soak:
	WSC_SOAK=1 $(CARGO) test --release --test churn -- --nocapture

# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	for target in frames c_api_inputs; do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$target -- -max_total_time=$(FUZZ_SECONDS) \
			-rss_limit_mb=4096 || exit 1; \
	done

include mk/c.mk
include mk/python.mk
include mk/bench.mk
include mk/abi.mk
include mk/bindings.mk
include mk/dist.mk
