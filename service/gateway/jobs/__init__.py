"""Asynchronous OCR jobs on huey: persistent records and queue (SQLite here, Redis when shared), the
worker threads that run them inside the gateway, and recovery after a restart. Imported by the
gateway only."""
