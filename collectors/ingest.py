"""Where collected spans go: masked, then written to the store with the key index, in one short transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence

from collectors.otlp import SpanRecord
from concord import metrics
from concord.clock import Clock
from concord.config import TracesConfig
from concord.masking import MASK
from concord.store.db import Store
from concord.store.spans import purge_before, store_spans


class SpanIngest:
    def __init__(self, store: Store, config: TracesConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.masked = {name.lower() for name in config.mask_attributes}

    def write(self, records: Sequence[SpanRecord]) -> None:
        """Commit the spans or raise: callers answer success only after this returns."""
        if self.masked:
            for span in records:
                span.attributes = {k: (MASK if k.lower() in self.masked else v) for k, v in span.attributes.items()}
        started = time.perf_counter()
        with self.store.begin() as connection:
            store_spans(connection, records, self.clock.now(), self.config.index_attributes)
        metrics.STORE_WRITE_SECONDS.labels("spans").observe(time.perf_counter() - started)

    def purge(self) -> int:
        with self.store.begin() as connection:
            return purge_before(connection, self.clock.now() - self.config.retention)
