"""Tests of the redaction package: tables per label, properties, the JSONL CLI."""
