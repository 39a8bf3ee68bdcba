"""Build a target of ``bench.gobuild.targets`` once, into a cache outside the work tree.

The cache directory of a build is named by the target, its version and a key over everything that
goes into it (the wrapper module's files, the target's flags, the Go version), so a fresh clone on
the same machine reuses it and any change to a pin builds anew.  A build goes to a temporary
directory first and is renamed into place when complete: a killed build leaves nothing that looks
built.  A lock per cache entry keeps two processes from building the same thing at once.

Standard library only: ``make`` runs it before any virtualenv exists.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from .targets import TARGETS, Target

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(HERE, "modules")
HEARTBEAT_SECONDS = 30


class BuildError(Exception):
    """A Go build failed or Go is missing; the message says which target and what to do."""


def cache_root() -> str:
    """``$KEEP_CD_CACHE``, else ``$XDG_CACHE_HOME/keep-cd``, else ``~/.cache/keep-cd``."""
    if os.environ.get("KEEP_CD_CACHE"):
        return os.path.abspath(os.environ["KEEP_CD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keep-cd")


def _go(*args: str, capture: bool = True, cwd: str | None = None, env: dict | None = None) -> str:
    if shutil.which("go") is None:
        raise BuildError("go: not found on PATH (expected Go 1.26 or newer: https://go.dev/doc/install)")
    run_env = dict(os.environ)
    # Never fetch another toolchain, never write our go.mod: the pins are what gets built.
    run_env.update({"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"})
    run_env.update(env or {})
    proc = subprocess.run(["go", *args], cwd=cwd, env=run_env, capture_output=capture, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines() if capture else []
        raise BuildError(f"go {' '.join(args[:2])}: exit {proc.returncode}" + (f": {detail[-1]}" if detail else ""))
    return proc.stdout if capture else ""


def go_version() -> str:
    return _go("env", "GOVERSION").strip()


def module_source(target: Target) -> str:
    return os.path.join(MODULES, target.name)


def build_key(target: Target) -> str:
    """A hash of what decides the binaries: the wrapper module's files, the target, Go's version."""
    h = hashlib.sha256()
    src = module_source(target)
    for dirpath, dirnames, filenames in sorted(os.walk(src)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.path.relpath(path, src).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read() + b"\0")
    spec = [target.name, target.version, list(target.binaries), target.ldflags, target.tags, target.cgo]
    spec += [(m.module, m.version, m.path, m.name) for m in target.module_files]
    h.update(json.dumps(spec).encode())
    h.update(go_version().encode())
    return h.hexdigest()[:12]


def target_dir(target: Target, key: str | None = None) -> str:
    return os.path.join(cache_root(), "bin", f"{target.name}-{target.version}-{key or build_key(target)}")


def built_dir(target: Target) -> str | None:
    """The directory holding the target's binary if it is built, else None."""
    d = target_dir(target)
    return d if os.path.isfile(os.path.join(d, "build-info.json")) else None


def module_dir(module: str, version: str) -> str:
    """The module's directory in the module cache (downloaded if need be)."""
    info = json.loads(_go("mod", "download", "-json", f"{module}@{version}"))
    if info.get("Error"):
        raise BuildError(f"{module}@{version}: {info['Error']}")
    return info["Dir"]


def _say(message: str) -> None:
    print(f"[bench.gobuild] {message}", file=sys.stderr, flush=True)


def _with_heartbeat(label: str, fn):
    """Run fn, printing that label is still running every HEARTBEAT_SECONDS (cold builds are long)."""
    done = threading.Event()
    start = time.monotonic()

    def beat():
        while not done.wait(HEARTBEAT_SECONDS):
            _say(f"{label}: still running ({time.monotonic() - start:.0f} s)")

    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        return fn()
    finally:
        done.set()
        t.join()


def build(target: Target) -> str:
    """The target's binaries directory, building it first if it is not in the cache."""
    key = build_key(target)
    final = target_dir(target, key)
    if os.path.isfile(os.path.join(final, "build-info.json")):
        return final
    os.makedirs(os.path.dirname(final), exist_ok=True)
    with open(final + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now
        if os.path.isfile(os.path.join(final, "build-info.json")):
            return final
        return _build_locked(target, key, final)


def _build_locked(target: Target, key: str, final: str) -> str:
    label = f"{target.name} {target.version}"
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix=f".{target.name}-", dir=os.path.dirname(final))
    try:
        src = os.path.join(work, "src")
        shutil.copytree(module_source(target), src)
        out = os.path.join(work, "out")
        os.makedirs(out)
        _say(f"{label}: downloading modules (go mod download)")
        _with_heartbeat(f"{label}: download", lambda: _go("mod", "download", cwd=src))
        if target.generate:
            target.generate(src, module_dir)
        for mf in target.module_files:
            dest = os.path.join(out, mf.name)
            shutil.copyfile(os.path.join(module_dir(mf.module, mf.version), mf.path), dest)
            os.chmod(dest, 0o755)
        for package, binary in target.binaries:
            _say(f"{label}: building {binary} (a cold build takes minutes on 2 cores; the Go build cache makes the next one fast)")
            args = ["build", "-trimpath", "-o", os.path.join(out, binary)]
            if target.tags:
                args += ["-tags", target.tags]
            if target.ldflags:
                args += ["-ldflags", target.ldflags]
            args.append(package)
            _with_heartbeat(
                f"{label}: build {binary}", functools.partial(_go, *args, cwd=src, env={"CGO_ENABLED": "1" if target.cgo else "0"})
            )
        seconds = round(time.monotonic() - started, 1)
        info = {"target": target.name, "version": target.version, "key": key, "go": go_version(), "seconds": seconds}
        with open(os.path.join(out, "build-info.json"), "w") as f:
            json.dump(info, f, indent=1)
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(out, final)
        _say(f"{label}: built in {seconds} s -> {final}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_all(names: list) -> dict:
    """{name: binaries directory} for the named targets, building what is missing."""
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise BuildError(f"unknown bench.gobuild target(s) {', '.join(unknown)} (expected one of {', '.join(sorted(TARGETS))})")
    return {n: build(TARGETS[n]) for n in names}
