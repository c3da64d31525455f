# The Python package: a local virtual environment, the extension built with maturin, pytest.
#   make test-python   sets up .venv at the repository root (once; again when the tool list
#                      changes), builds and installs the extension into it, builds the Rust and
#                      C examples (tests/test_examples.py runs every language's), runs pytest,
#                      then test-python-oldest
#   make test-python-oldest  the tests that depend on the Python version (logging, the README's
#                      Python snippets, the Python examples) on the oldest supported one, 3.9
#   make lint-python   clippy on the extension crate
#   make python-wheel  builds an abi3 wheel (CPython 3.9+) into target/wheels/
.PHONY: test-python test-python-oldest lint-python python-wheel

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
test-python: lint-python $(VENV_TOOLS) examples-c go-toolchain redis-server
	$(CARGO) build --examples
	CARGO_PROFILE_DEV_DEBUG=0 VIRTUAL_ENV=$(abspath $(VENV)) \
		$(VENV)/bin/maturin develop --manifest-path python/Cargo.toml
	cd python && WSC_REQUIRE_EXAMPLES=1 ../$(VENV_PYTHON) -m pytest
	$(MAKE) --no-print-directory test-python-oldest

# The oldest Python the package supports (requires-python in python/pyproject.toml): pyenv's
# 3.9, or python3.9 on PATH. The extension is abi3, so the build above (in python/python/wsconnector,
# where maturin develop put it) loads there as it is; this venv only gets the test tools.
PYTHON_OLDEST ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.9*/bin/python3.9) \
	$(shell command -v python3.9))
VENV_OLDEST := .venv-py39
test-python-oldest:
	@test -n "$(PYTHON_OLDEST)" || { echo "test-python-oldest: no Python 3.9 found: install one \
		(e.g. pyenv install 3.9) or set PYTHON_OLDEST=/path/to/python3.9"; exit 1; }
	@test -x $(VENV_OLDEST)/bin/python || $(PYTHON_OLDEST) -m venv $(VENV_OLDEST)
	@test -f $(VENV_OLDEST)/.tools || { $(VENV_OLDEST)/bin/python -m pip install --quiet \
		--disable-pip-version-check pytest pytest-timeout websockets && touch $(VENV_OLDEST)/.tools; }
	cd python && PYTHONPATH=$(CURDIR)/python/python ../$(VENV_OLDEST)/bin/python -m pytest -p no:cacheprovider \
		tests/test_logging.py tests/test_readme.py "tests/test_examples.py::test_chat[python]" \
		"tests/test_examples.py::test_quotes[python]"

# The extension crate is not a default workspace member, so the root lint does not cover it.
lint-python:
	$(CARGO) clippy -p wsconnector-python --all-targets -- -D warnings

python-wheel: $(VENV_TOOLS)
	$(VENV)/bin/maturin build --release --manifest-path python/Cargo.toml
