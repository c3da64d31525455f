# The Python package: a local virtual environment, the extension built with maturin, pytest.
.PHONY: test-python
test-python:
	@echo "test-python: no Python package yet"
