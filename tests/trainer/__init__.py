"""Tests of trainer: see tests/README.md."""
