"""The program interrupted by the engine prints no traceback (``__main__.quiet_when_interrupted``).

When a step fails, the engine stops the deployment and sends the program SIGINT; the SDK's RPCs
still in flight end in a KeyboardInterrupt (chained on the SDK's "resource monitor has
terminated"), which Python printed as a page of frames under the stack's diagnostics, after the
engine's one line for the failed step: `tests/test_engine_refusals.py` met it under the real
`pulumi up` when the program was still registering as the migration's check failed."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

INTERRUPTED = """
import runpy, sys
program = runpy.run_path(sys.argv[1], run_name="keep_cd_program")  # its functions, without running it
if sys.argv[2] == "quiet":
    program["quiet_when_interrupted"]()
try:
    raise RuntimeError("Resource monitor has terminated, shutting down")
except RuntimeError:
    raise {kind}
"""


def _run(kind: str, quiet: bool, statement: bool = False) -> subprocess.CompletedProcess:
    """``raise kind`` after the program's hook (``quiet``), or ``kind`` as statements of its own."""
    script = INTERRUPTED.format(kind=kind) if not statement else INTERRUPTED.split("try:")[0] + kind + "\n"
    return subprocess.run(
        [sys.executable, "-c", script, os.path.join(ROOT, "__main__.py"), "quiet" if quiet else "as-is"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_an_interrupt_from_the_engine_prints_nothing():
    run = _run("KeyboardInterrupt", quiet=True)
    assert run.returncode != 0 and run.stderr == "", run.stderr
    # Without it, the page of frames the engine showed:
    assert "Traceback" in _run("KeyboardInterrupt", quiet=False).stderr


def test_an_interrupt_while_the_interpreter_shuts_down_prints_nothing():
    """Where Python cannot raise it (the SDK's thread pool joined at exit): "Exception ignored in"."""
    raised_in_del = "type('Joining', (), {'__del__': lambda self: (_ for _ in ()).throw(KeyboardInterrupt())})()\nraise SystemExit(1)"
    assert "Exception ignored" in _run(raised_in_del, quiet=False, statement=True).stderr
    run = _run(raised_in_del, quiet=True, statement=True)
    assert run.returncode == 1 and run.stderr == "", run.stderr


def test_a_bug_keeps_its_traceback():
    run = _run("ZeroDivisionError('a bug of ours')", quiet=True)
    assert run.returncode == 1 and "Traceback" in run.stderr and "ZeroDivisionError: a bug of ours" in run.stderr
