"""Benchmark peers, each installed into a virtual environment of its own (never a Concord dependency).

The scripts in this package run under the peer's interpreter, so they import nothing from Concord.
"""
