"""Benchmarks: `make bench` prints figures and writes docs/benchmarks.md. Never part of `make test`."""
