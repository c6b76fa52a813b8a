"""OTLP JSON lines files, as the OpenTelemetry Collector's file exporter writes them, read incrementally.

The byte offset of the last complete line is kept in the store, so a restart goes on where it
stopped; a last line still being written is left for the next pass, neither lost nor read twice.
A file that shrank or was replaced (another inode) is read again from its start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from collectors.ingest import SpanIngest
from collectors.otlp import PayloadError, decode_json
from concord import metrics
from concord.store.runs import naive_utc
from concord.store.schema import collector_offsets

log = logging.getLogger("concord.files")
READ_SIZE = 4 * 1024 * 1024


@dataclass
class FilePass:
    lines: int = 0
    spans: int = 0
    bad_lines: int = 0


def read_new_spans(path: Path, ingest: SpanIngest) -> FilePass:
    """Read what was appended to `path` since the last pass."""
    result = FilePass()
    key = str(path.resolve())
    try:
        status = path.stat()
    except FileNotFoundError:
        return result
    inode = f"{status.st_dev}:{status.st_ino}"
    offset = _saved_offset(ingest, key, inode, status.st_size)
    with path.open("rb") as handle:
        handle.seek(offset)
        pending = b""
        while True:
            block = handle.read(READ_SIZE)
            if not block:
                break
            pending += block
            complete, newline, pending = pending.rpartition(b"\n")
            if not newline:  # no complete line yet: keep reading (or leave it for the next pass)
                pending = complete + pending
                continue
            for line in complete.split(b"\n"):
                if line.strip():
                    _ingest_line(line, ingest, result, key)
            offset += len(complete) + 1
            _save_offset(ingest, key, inode, offset)
    return result


def _ingest_line(line: bytes, ingest: SpanIngest, result: FilePass, key: str) -> None:
    result.lines += 1
    try:
        decoded = decode_json(line)
    except PayloadError as exc:
        result.bad_lines += 1
        metrics.SPANS_REJECTED.labels("malformed_file_line").inc()
        log.warning("%s: skipped a line that is not OTLP JSON: %s", key, exc)
        return
    if decoded.spans:
        ingest.write(decoded.spans)
        metrics.SPANS_RECEIVED.labels("otlp_file").inc(len(decoded.spans))
        result.spans += len(decoded.spans)


def _saved_offset(ingest: SpanIngest, key: str, inode: str, size: int) -> int:
    with ingest.store.read() as connection:
        row = connection.execute(select(collector_offsets).where(collector_offsets.c.path == key)).first()
    if row is None or row.inode != inode or row.offset > size:
        return 0
    return int(row.offset)


def _save_offset(ingest: SpanIngest, key: str, inode: str, offset: int) -> None:
    now = naive_utc(ingest.clock.now())
    with ingest.store.begin() as connection:
        updated = connection.execute(collector_offsets.update().where(collector_offsets.c.path == key)
                                     .values(offset=offset, inode=inode, updated_at=now)).rowcount
        if not updated:
            connection.execute(collector_offsets.insert().values(path=key, offset=offset, inode=inode,
                                                                 updated_at=now))
