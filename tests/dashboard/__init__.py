"""Tests of dashboard: see tests/README.md."""
