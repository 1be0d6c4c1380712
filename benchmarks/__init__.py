"""Benchmarks: load generators and comparison harnesses (run with ``python -m``)."""
