"""Tests of faults: see tests/README.md."""
