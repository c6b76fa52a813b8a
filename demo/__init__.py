"""The demo shop: three service databases, a seeded simulator with injected faults, traces, ground truth."""
