"""Concord's shared kernel: config models, the store, the clock and the CLI."""

__version__ = "0.1.0"
