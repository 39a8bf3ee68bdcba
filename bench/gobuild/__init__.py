"""Pinned Go programs built from the Go module proxy into a cache outside the work tree (see targets.py).

Standard library only: every other package may import it, it imports none."""
