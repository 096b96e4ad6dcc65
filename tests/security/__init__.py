"""Tests of security: see tests/README.md."""
