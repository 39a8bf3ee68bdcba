"""Benchmarks: `python -m bench <name> --json`; each measures keep-cd and its baseline in one run.

May import any keep-cd package; nothing imports it."""
