"""Readers of the business data: table batches and windows over sources (traces come later)."""
