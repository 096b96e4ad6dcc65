"""Tests of deploy: see tests/README.md."""
