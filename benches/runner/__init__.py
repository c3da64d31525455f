"""The benchmark runner's parts: the servers measured, the loads, running one measurement,
and writing the results. Standard library only; `benches/run.py` is the entry point."""
