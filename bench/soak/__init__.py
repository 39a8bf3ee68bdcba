"""Soaking keep-cd's sender on a dev chain under load: `python -m bench.soak` (see __main__.py)."""
