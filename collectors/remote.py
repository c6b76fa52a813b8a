"""Pulling traces from Jaeger and Tempo: a trace by id, and trace ids by a business attribute.

Jaeger: `/api/traces/{id}` (v1 JSON) or `/api/v3/traces/{id}` (OTLP JSON in `{"result": …}`); its
search is api/v3 only (`query.attributes` as a JSON map, with a service name and a start-time
window: the v1 tag search is gone from current Jaeger). Tempo: `/api/traces/{id}` (`batches`) or
`/api/v2/traces/{id}` (base64 ids, enum names); search with TraceQL on `/api/search`, whose trace
ids lose their leading zeros.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from collectors.jaeger_v1 import decode_jaeger_v1
from collectors.otlp import Decoded, decode_json
from concord.config import TraceBackendConfig


class TraceBackendError(Exception):
    """The backend could not be reached or answered something unusable."""


class TraceBackend:
    def __init__(self, config: TraceBackendConfig) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self.api = config.api or ("v3" if config.kind == "jaeger" else "v2")

    @property
    def name(self) -> str:
        return f"{self.config.kind}:{self.base}"

    def link(self, trace_id: str) -> str | None:
        template = self.config.link_template
        return template.format(trace_id=trace_id, url=self.base) if template else None

    def fetch(self, trace_id: str) -> Decoded:
        """The trace's spans, or an empty result when the backend does not know it."""
        if self.config.kind == "jaeger":
            if self.api == "v1":
                document = self._get(f"/api/traces/{trace_id}")
                return decode_jaeger_v1(document) if document else Decoded([])
            return decode_json(self._get(f"/api/v3/traces/{trace_id}") or {})
        path = f"/api/v2/traces/{trace_id}" if self.api == "v2" else f"/api/traces/{trace_id}"
        return decode_json(self._get(path) or {})

    def search(self, attribute: str, value: Any, service: str | None, start: datetime, end: datetime) -> list[str]:
        """Trace ids whose spans carry attribute=value, started within [start, end]."""
        if self.config.kind == "jaeger":
            if not service:
                raise TraceBackendError("Jaeger's search needs a service name: set the rule's trace.service")
            document = self._get("/api/v3/traces", {
                "query.service_name": service,
                "query.attributes": json.dumps({attribute: str(value)}),
                "query.start_time_min": _rfc3339(start), "query.start_time_max": _rfc3339(end),
                "query.search_depth": "20",
            })
            return sorted({span.trace_id for span in decode_json(document or {}).spans})
        name, text = attribute.replace('"', ""), str(value).replace('"', '\\"')
        query = f'{{ span."{name}" = "{text}" }}'
        document = self._get("/api/search", {"q": query, "start": str(int(start.timestamp())),
                                              "end": str(int(end.timestamp())), "limit": "20"})
        return parse_tempo_search(document or {})

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout.total_seconds()) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise TraceBackendError(f"{self.config.kind} answered {exc.code} for {path}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TraceBackendError(f"{self.config.kind} at {self.base} is unreachable: {exc}") from None
        except ValueError as exc:
            raise TraceBackendError(f"{self.config.kind} answered something that is not JSON: {exc}") from None


def parse_tempo_search(document: dict[str, Any]) -> list[str]:
    """Tempo's search drops leading zeros of trace ids: pad them back to 32 hex digits."""
    ids = []
    for trace in document.get("traces") or []:
        value = str(trace.get("traceID") or "").strip().lower()
        if value and len(value) <= 32:
            ids.append(value.rjust(32, "0"))
    return ids


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
