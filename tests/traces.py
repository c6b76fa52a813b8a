"""Spans made by the real OpenTelemetry SDK, for the trace tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace import ReadableSpan

from demo.tracing import ShopTracer, trace_id_hex

START = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)


def order_spans(orders: int, seed: int = 1, fail_order: int | None = None) -> list[ReadableSpan]:
    """Per order: a checkout root, a payment, and a deduction (failing for `fail_order`)."""
    tracer = ShopTracer(seed)
    rng = random.Random(seed)
    for order_id in range(1, orders + 1):
        at = START + timedelta(seconds=order_id)
        root = tracer.span("order-service", "checkout", at, at + timedelta(milliseconds=50),
                           attributes={"order.id": order_id, "customer.email": f"c{order_id}@example.com"})
        tracer.span("payment-service", "payment.create", at, at + timedelta(milliseconds=20), root,
                    {"order.id": order_id, "payment.id": 1000 + order_id})
        tracer.span("inventory-service", "inventory.deduct", at + timedelta(seconds=rng.randint(1, 5)),
                    at + timedelta(seconds=6), root, {"order.id": order_id},
                    error="ConnectionResetError: lost" if order_id == fail_order else None)
    return tracer.exporter.spans


def trace_of(spans: list[ReadableSpan], order_id: int) -> str:
    return next(trace_id_hex(s) for s in spans if s.attributes.get("order.id") == order_id)
