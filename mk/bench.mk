# Benchmarks: figures and ratios, never pass/fail (benches/README.md).
#   make bench                 every server under every load, 3 interleaved repeats (about
#                              10 minutes); writes benches/results/results.{md,json} and the
#                              README's performance section
#   BENCH_QUICK=1 make bench   one short repeat (1-2 minutes); writes benches/results/quick.*
# It builds what it needs: the bench crate in release, the C server against the release
# library, a venv in target/bench/venv with picows, uvloop and the Python package (maturin).
# A server that cannot be built here is skipped with a note in the tables; the run goes on.
.PHONY: bench bench-rust bench-c bench-python

BENCH_OUT := target/bench
BENCH_VENV := $(BENCH_OUT)/venv
BENCH_PICOWS := picows==2.3.1 uvloop==0.23.0 websockets==17.4
BENCH_MATURIN := maturin>=1.9.4,<2
PYTHON3 ?= python3

bench: bench-rust bench-c bench-python redis-server
	$(PYTHON3) benches/run.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick)

bench-rust:
	$(CARGO) build --release -p wsconnector-bench

# The C server links the release shared library; the library's soname (libwsconnector.so.N)
# gets its link beside it, and an rpath lets the server find it in place.
bench-c:
	@mkdir -p $(BENCH_OUT)
	@rm -f $(BENCH_OUT)/c-server
	@if [ ! -f include/wsconnector.h ]; then \
		echo "bench: no C API on this branch (include/wsconnector.h); the C row is skipped"; \
	elif { $(C_LIB_BUILD) --release -- $(C_LIB_LINK) && \
		soname=$$(readelf -d target/release/libwsconnector.so | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p') && \
		{ [ -z "$$soname" ] || ln -sf libwsconnector.so target/release/$$soname; } && \
		$(CC) -std=c11 -O2 -Wall -Wextra -Iinclude benches/c/echo_fanout_server.c \
			-o $(BENCH_OUT)/c-server -Ltarget/release -lwsconnector -lpthread \
			-Wl,-rpath,$(CURDIR)/target/release; \
	} > $(BENCH_OUT)/c-server.log 2>&1; then \
		echo "bench: C server built"; \
	else \
		echo "bench: the C server did not build (see $(BENCH_OUT)/c-server.log); its row is skipped"; \
	fi

# picows and uvloop for the Python comparison row; the Python package, when it is on this
# branch, built in release into the same venv (a stale one is removed when it is not).
bench-python:
	@mkdir -p $(BENCH_OUT)
	@{ [ -x $(BENCH_VENV)/bin/python ] || $(PYTHON3) -m venv $(BENCH_VENV); } && \
		$(BENCH_VENV)/bin/python -m pip install -q $(BENCH_PICOWS) "$(BENCH_MATURIN)" \
		> $(BENCH_OUT)/python-deps.log 2>&1 || \
		echo "bench: cannot install picows/uvloop/maturin (see $(BENCH_OUT)/python-deps.log); the Python rows are skipped"
	@if [ ! -f python/pyproject.toml ]; then \
		echo "bench: no Python package on this branch (python/pyproject.toml); its row is skipped"; \
		[ ! -x $(BENCH_VENV)/bin/python ] || $(BENCH_VENV)/bin/python -m pip uninstall -q -y wsconnector >/dev/null 2>&1 || true; \
	elif VIRTUAL_ENV=$(CURDIR)/$(BENCH_VENV) PATH=$(CURDIR)/$(BENCH_VENV)/bin:$$PATH \
		maturin develop --release -m python/Cargo.toml > $(BENCH_OUT)/python-package.log 2>&1; then \
		echo "bench: Python package built"; \
	else \
		$(BENCH_VENV)/bin/python -m pip uninstall -q -y wsconnector >/dev/null 2>&1; \
		echo "bench: the Python package did not build (see $(BENCH_OUT)/python-package.log); its row is skipped"; \
	fi
