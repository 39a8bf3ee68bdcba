"""The engine tests' side of bench.engine.scratch_stack: the engine (never a fallback), and a kill of
a whole process tree."""

from __future__ import annotations

import os

from bench.engine.engine import Engine, locate_engine
from bench.engine.scratch_stack import new_stack, preview_steps, set_config, short, up_steps  # noqa: F401 (the tests' imports)


def engine_or_fail() -> Engine:
    """The engine `make engine` built (never a fallback: a missing engine fails the test run)."""
    return locate_engine()


def kill_tree(root_pid: int) -> list:
    """SIGKILL a process and every process it started (by parent, or by session for daemonized
    plugins): what a killed CI machine does to `pulumi up`, its plugins and their Python."""
    import signal

    def table() -> list:
        rows = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                rows.append((int(entry), int(fields[1]), int(fields[3])))  # pid, ppid, session
            except (OSError, IndexError):
                continue
        return rows

    doomed = {root_pid}
    rows = table()
    grew = True
    while grew:
        grew = False
        for pid, ppid, sid in rows:
            if pid not in doomed and (ppid in doomed or sid == root_pid):
                doomed.add(pid)
                grew = True
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(doomed)


def deployed_local_stack(workdir: str):
    """(anvil with 1-second blocks, the local stack's config on it brought up once by the real
    engine): what a test of a deployed stack starts from.  The caller stops the chain."""
    from bench.chains.anvil import start_anvil

    chain = start_anvil(block_time=1)
    ws = new_stack(engine_or_fail(), workdir, chain.url)
    ws.prepare(start_chain=False)
    up_steps(ws)
    return chain, ws
