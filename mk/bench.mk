# Benchmarks: figures and ratios, never pass/fail.
.PHONY: bench
bench:
	@echo "bench: no benchmarks yet"
