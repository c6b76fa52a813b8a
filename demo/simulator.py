"""A seeded simulation of a shop: create → pay → gateway callback → deduct stock → ship, with
cancellations, refunds with restock, a gateway statement, real OpenTelemetry spans, and faults.

The same seed gives the same shop, the same faults and the same trace ids. Faults sit on orders
older than every grace period, except the eventual-consistency scenarios, which are placed
around the first check on purpose.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from opentelemetry.trace import Span, SpanKind

from demo import faults as F
from demo.faults import Fault
from demo.timeline import Timeline
from demo.tracing import ShopTracer, trace_id_hex

FIRST_CHECK = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECOND_CHECK = FIRST_CHECK + timedelta(minutes=15)
REPAIR_AT = FIRST_CHECK + timedelta(minutes=5)
HISTORY = timedelta(days=3)
SKUS = [f"SKU-{n:04d}" for n in range(1, 301)]


class ShopSimulator:
    def __init__(self, seed: int, orders: int) -> None:
        if orders < 200:
            raise ValueError("the demo needs at least 200 orders to place every fault class")
        self.seed = seed
        self.order_count = orders
        self.rng = random.Random(seed)
        self.timeline = Timeline()
        self.tracer = ShopTracer(seed)
        self.faults: list[Fault] = []
        self.scenarios: dict[str, int] = {}
        self._ids = {"payment": 0, "history": 0, "ledger": 0, "refund": 0}
        self._commit_floor: datetime | None = None

    # -- planning ------------------------------------------------------------------------------------------------
    def run(self) -> ShopSimulator:
        start = FIRST_CHECK - HISTORY
        span = (FIRST_CHECK + timedelta(minutes=10)) - start
        created = {oid: _second(start + span * (oid - 0.5) / self.order_count)
                   for oid in range(1, self.order_count + 1)}
        plans = self._plan_faults(created, start)
        scenarios = self._plan_scenarios(created, plans)
        for oid, t0 in created.items():
            scenario = scenarios.get(oid, "")
            self._order(oid, scenario_time(scenario, t0), plans.get(oid, set()), scenario)
        return self

    def _plan_faults(self, created: dict[int, datetime], start: datetime) -> dict[int, set[str]]:
        eligible = [oid for oid, t0 in created.items()
                    if start + timedelta(hours=1) < t0 < FIRST_CHECK - timedelta(hours=4)]
        self.rng.shuffle(eligible)
        per_class = max(4, self.order_count // 400)
        doubles = max(2, self.order_count // 2000)
        plans: dict[int, set[str]] = {}
        for pair in ((F.NEVER_DEDUCTED, F.AMOUNT_MISMATCH), (F.DOUBLE_DEDUCT, F.ILLEGAL_TRANSITION)):
            for _ in range(doubles):
                plans[eligible.pop()] = set(pair)
        for kind in F.FAULT_CLASSES:
            for _ in range(per_class):
                plans[eligible.pop()] = {kind}
        return plans

    def _plan_scenarios(self, created: dict[int, datetime], plans: dict[int, set[str]]) -> dict[int, str]:
        """Orders placed around the first check to show the grace period and the overlap at work."""
        recent = [oid for oid, t0 in created.items() if FIRST_CHECK - timedelta(hours=2) < t0 < FIRST_CHECK
                  and oid not in plans]
        chosen = self.rng.sample(recent, 3)
        names = ("late_commit", "repaired_within_grace", "young_fault")
        self.scenarios = dict(zip(names, chosen, strict=True))
        plans[self.scenarios["late_commit"]] = {F.NEVER_DEDUCTED}
        plans[self.scenarios["young_fault"]] = {F.NEVER_DEDUCTED}
        return {oid: name for name, oid in self.scenarios.items()}

    # -- one order's life ----------------------------------------------------------------------------------------
    def _order(self, oid: int, t0: datetime, faults: set[str], scenario: str) -> None:
        rng = self.rng
        self._commit_floor = FIRST_CHECK + timedelta(minutes=2) if scenario == "late_commit" else None
        lines = [(n, rng.choice(SKUS), rng.randint(1, 3), Decimal(rng.randint(500, 20000)) / 100)
                 for n in range(1, rng.randint(1, 4) + 1)]
        total = sum((Decimal(q) * p for _, _, q, p in lines), Decimal("0.00")).quantize(Decimal("0.01"))
        root = self.tracer.span("order-service", "checkout", t0, t0 + _ms(120), attributes={"order.id": oid},
                                kind=SpanKind.SERVER)
        self._write(t0, "orders", "insert", id=oid, customer_email=f"customer{oid}@example.com",
                    customer_phone=f"+86 138{oid:08d}", status="PENDING", total=total, currency="CNY",
                    created_at=t0, paid_at=None, shipped_at=None, cancelled_at=None, refunded_at=None,
                    updated_at=t0, trace_id=trace_id_hex(root))
        for line_no, sku, quantity, price in lines:
            self._write(t0, "order_items", "insert", order_id=oid, line_no=line_no, sku=sku, quantity=quantity,
                        unit_price=price)
        self._status(oid, t0, None, "PENDING")
        outcome = self._outcome(faults)
        record = {kind: Fault(kind, oid, step="", scenario=scenario,
                              visible_from_phase=2 if scenario in ("late_commit", "young_fault") else 1)
                  for kind in faults}
        self.faults.extend(record.values())
        if outcome == "cancel":
            self._cancel(oid, t0, lines, root, record)
            return
        self._pay(oid, t0, lines, total, outcome, root, record, scenario)

    def _outcome(self, faults: set[str]) -> str:
        if F.LOST_CALLBACK in faults:
            return "lost"
        if F.CANCELLED_DEDUCTED in faults:
            return "cancel"
        if F.REFUND_NO_RESTOCK in faults:
            return "refund"
        if faults:
            return "ship"
        draw = self.rng.random()
        return "cancel" if draw < 0.08 else "refund" if draw < 0.12 else "ship"

    def _cancel(self, oid: int, t0: datetime, lines: list, root: Span, record: dict[str, Fault]) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            at = t0 + _s(rng.uniform(10, 120))
            pid = self._next("payment")
            self._write(at, "payments", "insert", id=pid, order_id=oid, amount=Decimal("0.00"), currency="CNY",
                        status="FAILED", gateway_txn_id=f"ch_{self.seed}_{pid:08d}", created_at=at, succeeded_at=None,
                        updated_at=at)
            self.tracer.span("payment-service", "payment.create", at, at + _ms(300), root,
                             {"order.id": oid, "payment.id": pid, "payment.status": "FAILED"})
        cancelled = t0 + _s(rng.uniform(15 * 60, 40 * 60))
        self._write(cancelled, "orders", "update", id=oid, status="CANCELLED", cancelled_at=cancelled,
                    updated_at=cancelled)
        self._status(oid, cancelled, "PENDING", "CANCELLED")
        self.tracer.span("order-service", "order.cancel", cancelled, cancelled + _ms(40), root, {"order.id": oid})
        fault = record.get(F.CANCELLED_DEDUCTED)
        if fault is not None:
            reserved = t0 + _s(rng.uniform(1, 5))
            rows = self._ledger(oid, lines, "DEDUCT", reserved)
            self.tracer.span("inventory-service", "inventory.deduct", reserved, reserved + _ms(60), root,
                             {"order.id": oid}, error="StockLeak: stock reserved for an order that was cancelled")
            fault.step, fault.expect = "inventory.deduct", [("cancelled_order_not_deducted", (oid,))]
            self._repair(fault, lambda: [self._write(REPAIR_AT, "stock_ledger", "delete", id=r) for r in rows])

    def _pay(self, oid: int, t0: datetime, lines: list, total: Decimal, outcome: str, root: Span,
             record: dict[str, Fault], scenario: str) -> None:
        rng = self.rng
        requested = t0 + _s(rng.uniform(5, 90))
        if scenario in ("late_commit",):
            requested = FIRST_CHECK - timedelta(minutes=7, seconds=30)
        if scenario in ("repaired_within_grace", "young_fault"):
            requested = FIRST_CHECK - timedelta(minutes=2, seconds=30)
        pid = self._next("payment")
        txn = f"ch_{self.seed}_{pid:08d}"
        amount = total
        mismatch = record.get(F.AMOUNT_MISMATCH)
        if mismatch is not None:
            short = (total * Decimal("0.9")).quantize(Decimal("0.01"))
            amount = short if rng.random() < 0.5 else total + Decimal("1.00")
            mismatch.step, mismatch.expect = "payment.create", [("payment_amount_equals_order_total", (oid,))]
            self._repair(mismatch, lambda: self._write(REPAIR_AT, "payments", "update", id=pid, amount=total,
                                                       updated_at=REPAIR_AT))
        self._write(requested, "payments", "insert", id=pid, order_id=oid, amount=amount, currency="CNY",
                    status="PENDING", gateway_txn_id=txn, created_at=requested, succeeded_at=None, updated_at=requested)
        create = self.tracer.span("payment-service", "payment.create", requested, requested + _ms(250), root,
                                  {"order.id": oid, "payment.id": pid, "payment.amount": float(amount)},
                                  error=f"AmountMismatch: charging {amount} for an order total of {total}"
                                  if mismatch else None)
        charged = requested + _s(rng.uniform(1, 4))
        self._write(charged, "gateway_charges", "insert", txn_id=txn, merchant_ref=oid, type="CHARGE", amount=amount,
                    currency="CNY", settled_at=charged)
        self.tracer.span("payment-service", "gateway.charge", charged - _ms(900), charged, create,
                         {"payment.id": pid, "gateway.txn_id": txn}, kind=SpanKind.CLIENT)
        if outcome == "lost":
            self._lost_callback(oid, pid, txn, lines, record[F.LOST_CALLBACK])
            return
        paid = charged + _s(rng.uniform(1, 30))
        self._write(paid, "payments", "update", id=pid, status="SUCCEEDED", succeeded_at=paid, updated_at=paid)
        self._write(paid, "orders", "update", id=oid, status="PAID", paid_at=paid, updated_at=paid)
        self._status(oid, paid, "PENDING", "PAID")
        callback = self.tracer.span("payment-service", "payment.callback", paid - _ms(80), paid, root,
                                    {"order.id": oid, "payment.id": pid, "gateway.txn_id": txn}, kind=SpanKind.SERVER)
        marked = self.tracer.span("order-service", "order.mark_paid", paid - _ms(30), paid, callback, {"order.id": oid})
        if F.ILLEGAL_TRANSITION in record:
            self._stale_callback(oid, paid, callback, record[F.ILLEGAL_TRANSITION])
        if F.PHANTOM_CHARGE in record:
            self._phantom_charge(oid, charged, amount, create, record[F.PHANTOM_CHARGE])
        lag = timedelta(minutes=3, seconds=30) if scenario == "repaired_within_grace" else _s(rng.uniform(1, 90))
        deducted = paid + lag
        self._deduct(oid, lines, deducted, marked, record)
        if outcome == "refund":
            self._refund(oid, pid, lines, amount, deducted, root, record.get(F.REFUND_NO_RESTOCK))
        else:
            shipped = deducted + _s(rng.uniform(3600, 20 * 3600))
            self._write(shipped, "orders", "update", id=oid, status="SHIPPED", shipped_at=shipped, updated_at=shipped)
            self._status(oid, shipped, "PAID", "SHIPPED")
            self.tracer.span("order-service", "order.ship", shipped, shipped + _ms(50), root, {"order.id": oid})

    def _lost_callback(self, oid: int, pid: int, txn: str, lines: list, fault: Fault) -> None:
        fault.step = "payment.callback"
        fault.expect = [("statement_matches_payments", (txn,)), ("payment_pending_too_long", (pid,))]

        def repair() -> None:
            self._write(REPAIR_AT, "payments", "update", id=pid, status="SUCCEEDED", succeeded_at=REPAIR_AT,
                        updated_at=REPAIR_AT)
            self._write(REPAIR_AT, "orders", "update", id=oid, status="PAID", paid_at=REPAIR_AT, updated_at=REPAIR_AT)
            self._status(oid, REPAIR_AT, "PENDING", "PAID")
            self._ledger(oid, lines, "DEDUCT", REPAIR_AT + timedelta(seconds=10))

        self._repair(fault, repair)

    def _stale_callback(self, oid: int, paid: datetime, callback: Span, fault: Fault) -> None:
        reset, again = paid + timedelta(seconds=3), paid + timedelta(seconds=6)
        self._write(reset, "orders", "update", id=oid, status="PENDING", updated_at=reset)
        self._status(oid, reset, "PAID", "PENDING")
        self._write(again, "orders", "update", id=oid, status="PAID", updated_at=again)
        self._status(oid, again, "PENDING", "PAID")
        self.tracer.span("order-service", "order.mark_pending", reset - _ms(20), reset, callback, {"order.id": oid},
                         error="StaleCallback: a replayed callback set a paid order back to PENDING")
        fault.step, fault.expect = "order.mark_pending", [("order_status_transitions", (oid,))]

    def _phantom_charge(self, oid: int, charged: datetime, amount: Decimal, create: Span, fault: Fault) -> None:
        at = charged + timedelta(seconds=40)
        txn = f"ch_{self.seed}_dup_{oid:08d}"
        self._write(at, "gateway_charges", "insert", txn_id=txn, merchant_ref=oid, type="CHARGE", amount=amount,
                    currency="CNY", settled_at=at)
        self.tracer.span("payment-service", "gateway.charge", at - _ms(900), at, create,
                         {"order.id": oid, "gateway.txn_id": txn}, kind=SpanKind.CLIENT,
                         error="DuplicateCharge: the gateway charged a retried request that has no local payment")
        fault.step, fault.expect = "gateway.charge", [("statement_matches_payments", (txn,))]

    def _deduct(self, oid: int, lines: list, at: datetime, parent: Span, record: dict[str, Fault]) -> None:
        never = record.get(F.NEVER_DEDUCTED)
        if never is not None:
            self.tracer.span("inventory-service", "inventory.deduct", at, at + _ms(5000), parent, {"order.id": oid},
                             error="ConnectionResetError: the deduct message was lost between order and inventory")
            never.step, never.expect = "inventory.deduct", [("paid_implies_stock_deducted", (oid,))]
            self._repair(never, lambda: self._ledger(oid, lines, "DEDUCT", REPAIR_AT))
            return
        twice = record.get(F.DOUBLE_DEDUCT)
        self._ledger(oid, lines, "DEDUCT", at)
        self.tracer.span("inventory-service", "inventory.deduct", at, at + _ms(3000), parent, {"order.id": oid},
                         error="TimeoutError: deduct timed out after it was applied; the caller retried"
                         if twice else None)
        if twice is not None:
            retry = at + _s(self.rng.uniform(3, 10))
            duplicates = self._ledger(oid, lines, "DEDUCT", retry)
            self.tracer.span("inventory-service", "inventory.deduct", retry, retry + _ms(40), parent,
                             {"order.id": oid, "retry": True})
            twice.step = "inventory.deduct"
            twice.expect = [("one_deduction_per_order_line", (oid, n)) for n, *_ in lines]
            twice.expect.append(("deducted_quantity_matches_ordered", (oid,)))
            self._repair(twice, lambda: [self._write(REPAIR_AT, "stock_ledger", "delete", id=r) for r in duplicates])

    def _refund(self, oid: int, pid: int, lines: list, amount: Decimal, deducted: datetime, root: Span,
                fault: Fault | None) -> None:
        rng = self.rng
        refunded = deducted + _s(rng.uniform(1800, 7200) if fault else rng.uniform(1800, 30 * 3600))
        rid = self._next("refund")
        self._write(refunded, "refunds", "insert", id=rid, payment_id=pid, order_id=oid, amount=amount,
                    created_at=refunded)
        self._write(refunded, "payments", "update", id=pid, status="REFUNDED", updated_at=refunded)
        self._write(refunded, "orders", "update", id=oid, status="REFUNDED", refunded_at=refunded, updated_at=refunded)
        self._status(oid, refunded, "PAID", "REFUNDED")
        refund = self.tracer.span("payment-service", "payment.refund", refunded, refunded + _ms(400), root,
                                  {"order.id": oid, "payment.id": pid})
        restocked = refunded + _s(rng.uniform(1, 60))
        if fault is None:
            self._ledger(oid, lines, "RESTOCK", restocked)
            self.tracer.span("inventory-service", "inventory.restock", restocked, restocked + _ms(50), refund,
                             {"order.id": oid})
            return
        self.tracer.span("inventory-service", "inventory.restock", restocked, restocked + _ms(5000), refund,
                         {"order.id": oid}, error="KeyError: no restock handler for the refund event")
        fault.step, fault.expect = "inventory.restock", [("refund_implies_restock", (oid,))]
        self._repair(fault, lambda: self._ledger(oid, lines, "RESTOCK", REPAIR_AT))

    # -- writes ----------------------------------------------------------------------------------------------------
    def _repair(self, fault: Fault, action: Any) -> None:
        """About a third of repairable faults are fixed by hand between the two checks."""
        if fault.kind in F.REPAIRABLE and fault.visible_from_phase == 1 and self.rng.random() < 1 / 3:
            fault.repaired = True
            floor, self._commit_floor = self._commit_floor, None
            action()
            self._commit_floor = floor

    def _ledger(self, oid: int, lines: list, op: str, at: datetime) -> list[int]:
        ids = []
        for line_no, sku, quantity, _price in lines:
            lid = self._next("ledger")
            self._write(at, "stock_ledger", "insert", id=lid, order_id=oid, line_no=line_no, sku=sku, op=op,
                        quantity=quantity, created_at=at)
            ids.append(lid)
        return ids

    def _status(self, oid: int, at: datetime, before: str | None, after: str) -> None:
        self._write(at, "order_status_history", "insert", id=self._next("history"), order_id=oid,
                    from_status=before, to_status=after, changed_at=at)

    def _write(self, at: datetime, table: str, change: str, /, **row: Any) -> None:
        committed = max(at, self._commit_floor) if self._commit_floor else at
        self.timeline.add(committed, table, change, row)

    def _next(self, name: str) -> int:
        self._ids[name] += 1
        return self._ids[name]


def scenario_time(scenario: str, t0: datetime) -> datetime:
    """Creation times of the scenario orders, relative to the first check."""
    if scenario == "late_commit":
        return FIRST_CHECK - timedelta(minutes=9)
    if scenario in ("repaired_within_grace", "young_fault"):
        return FIRST_CHECK - timedelta(minutes=4)
    return t0


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def _ms(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
