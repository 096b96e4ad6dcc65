"""Tests of core: see tests/README.md."""
