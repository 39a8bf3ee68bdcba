"""Pinned Go programs built from the Go module proxy into a cache outside the work tree (see targets.py)."""
