"""The fault classes the demo injects, and the ground truth each one writes: which rules must fail, on
which keys, and which step (span name) the fault broke."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from concord.keys import encode_key

LOST_CALLBACK = "lost_payment_callback"
NEVER_DEDUCTED = "paid_but_never_deducted"
DOUBLE_DEDUCT = "stock_deducted_twice"
AMOUNT_MISMATCH = "payment_amount_differs_from_total"
REFUND_NO_RESTOCK = "refund_without_restock"
ILLEGAL_TRANSITION = "illegal_status_transition"
PHANTOM_CHARGE = "statement_entry_without_payment"
CANCELLED_DEDUCTED = "cancelled_order_deducted"

FAULT_CLASSES = (LOST_CALLBACK, NEVER_DEDUCTED, DOUBLE_DEDUCT, AMOUNT_MISMATCH, REFUND_NO_RESTOCK,
                 ILLEGAL_TRANSITION, PHANTOM_CHARGE, CANCELLED_DEDUCTED)
REPAIRABLE = {LOST_CALLBACK, NEVER_DEDUCTED, DOUBLE_DEDUCT, AMOUNT_MISMATCH, REFUND_NO_RESTOCK, CANCELLED_DEDUCTED}


@dataclass
class Fault:
    """One injected fault; `expect` lists (rule, key values) that must fail because of it."""

    kind: str
    order_id: int
    step: str
    expect: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    visible_from_phase: int = 1  # 2 when the fault is committed late or still inside its grace period
    repaired: bool = False
    scenario: str = ""

    def expected_at(self, phase: int) -> list[tuple[str, str]]:
        if phase < self.visible_from_phase or (self.repaired and phase >= 2):
            return []
        return [(rule, encode_key(key)) for rule, key in self.expect]

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.kind, "order_id": self.order_id, "step": self.step,
                "expect": [{"rule": rule, "key": encode_key(key)} for rule, key in self.expect],
                "visible_from_phase": self.visible_from_phase, "repaired_in_phase_2": self.repaired,
                "scenario": self.scenario}


def expected_set(faults: list[Fault], phase: int) -> set[tuple[str, str]]:
    return {pair for fault in faults for pair in fault.expected_at(phase)}
