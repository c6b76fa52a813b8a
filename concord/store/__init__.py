"""Concord's own database: runs, violations and their history, watermarks."""

from concord.store.db import Store, open_store

__all__ = ["Store", "open_store"]
