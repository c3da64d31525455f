# The Python package: a local virtual environment, the extension built with maturin, pytest.
#   make test-python   sets up .venv at the repository root (once; again when the tool list
#                      changes), builds and installs the extension into it, runs pytest
#   make lint-python   clippy on the extension crate
#   make python-wheel  builds an abi3 wheel (CPython 3.9+) into target/wheels/
.PHONY: test-python lint-python python-wheel

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Records that the tools of python/requirements-test.txt are installed in the venv.
VENV_TOOLS := $(VENV)/.wsconnector-tools

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

$(VENV_TOOLS): python/requirements-test.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
	touch $@

# A debug build without debug info: it compiles in half the time of a release build, and the
# tests wait on sockets, not on the CPU.
test-python: lint-python $(VENV_TOOLS)
	CARGO_PROFILE_DEV_DEBUG=0 VIRTUAL_ENV=$(abspath $(VENV)) \
		$(VENV)/bin/maturin develop --manifest-path python/Cargo.toml
	cd python && ../$(VENV_PYTHON) -m pytest

# The extension crate is not a default workspace member, so the root lint does not cover it.
lint-python:
	$(CARGO) clippy -p wsconnector-python --all-targets -- -D warnings

python-wheel: $(VENV_TOOLS)
	$(VENV)/bin/maturin build --release --manifest-path python/Cargo.toml
