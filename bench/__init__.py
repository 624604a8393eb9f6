"""Benchmarks of webchat (see bench/README.md)."""
