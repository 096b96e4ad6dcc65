"""Tests of bench: see tests/README.md."""
