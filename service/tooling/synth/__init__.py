"""Synthetic data: labelled receipts and multi-column pages."""
