"""Benchmarks: run as modules (python -m tests.bench.<name>), never collected by pytest."""
