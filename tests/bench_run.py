"""Running a workbench module as a user would (`python -m bench <name> ... --json`) and reading
the one JSON object it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def last_json(*args: str, timeout: float = 300) -> dict:
    """``python -m <args>`` in the repository; it must exit 0; its last line, as JSON."""
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
