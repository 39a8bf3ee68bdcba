"""One container of a rendered pod, run on this machine at the paths its manifest names.

A pod sees its volumes at their ``mountPath`` (``/mnt/keep-client``, ``/etc/keep-client/…``),
its image's files (``/app``, ``/opt/venv``, ``keep-client`` on PATH) and its own ``/etc/hosts``.
bubblewrap gives each container a mount namespace built that way: a root of its own (read-only,
as the pod's ``readOnlyRootFilesystem``), the host's ``/usr`` and ``/etc`` read-only, each volume
bound from a directory standing for it, and the user id of the pod's ``securityContext``.  So the
keep-client reads the rendered TOML, whose ``KeyFile`` and ``DataDir`` are pod paths, unchanged.
The network is the host's: clients reach each other and the chain on 127.0.0.1, and the names
peers dial resolve there through the hosts file the runner writes.

Secrets (the keyfile password) reach the process through its environment, never its command line.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from bench import PROJECT_ROOT

from .pods import FleetInputError

ROOT = PROJECT_ROOT
INIT_DOCKERFILE = os.path.join(ROOT, "initcontainer", "Dockerfile")
# Where the client image keeps its binary in this sandbox (on the image's PATH).
CLIENT_BIN_DIR = "/opt/keep-client/bin"


class SandboxError(Exception):
    """This machine cannot run a container the way the manifests ask; one line saying what to do."""


@dataclass(frozen=True)
class ImageLayout:
    """What an image puts in a container's filesystem and environment."""

    binds: tuple  # (host path, image path), read-only
    env: dict  # the image's ENV
    workdir: str = "/"
    notes: tuple = field(default=())


def bwrap_binary() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxError("bwrap: not found on PATH (the fleet runner needs bubblewrap: `apt-get install bubblewrap`)")
    return found


def _dockerfile_instructions(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((word.upper(), rest.strip()))
    if not stages:
        raise FleetInputError(f"{path}: no FROM (expected a Dockerfile)")
    return stages[-1]


def _env_pairs(args: str) -> dict:
    pairs = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        if sep:
            pairs[key] = value
    return pairs


def init_image_layout(stage_dir: str, venv: str, dockerfile: str = INIT_DOCKERFILE) -> ImageLayout:
    """The InitContainer image as its Dockerfile's final stage lays it out: each ``COPY`` of this
    repository's files staged under ``stage_dir``; the build stage's venv (``COPY --from``) is
    the project's own venv, which holds every pinned package the image has."""
    if os.path.isdir(stage_dir):
        shutil.rmtree(stage_dir)
    os.makedirs(stage_dir)
    env: dict = {}
    workdir = "/"
    binds: list[tuple[str, str]] = []
    for instruction, args in _dockerfile_instructions(dockerfile):
        if instruction == "ENV":
            for key, value in _env_pairs(args).items():
                env[key] = value.replace("$PATH", "/usr/local/bin:/usr/bin:/bin")
        elif instruction == "WORKDIR":
            workdir = args
        elif instruction == "COPY":
            words = args.split()
            if words[0].startswith("--from="):
                source, dest = words[1:3]
                if source != dest or not dest.endswith("venv"):
                    raise FleetInputError(f"{dockerfile}: COPY {args}: not a venv copied from the build stage (the runner knows no other)")
                binds.append((venv, dest))
                continue
            *sources, dest = words
            for source in sources:
                matches = sorted(glob.glob(os.path.join(ROOT, source)))
                if not matches:
                    raise FleetInputError(f"{dockerfile}: COPY {source}: no such file in {ROOT}")
                for match in matches:
                    target = os.path.join(dest, os.path.basename(match)) if dest.endswith("/") else dest
                    staged = os.path.join(stage_dir, target.lstrip("/"))
                    os.makedirs(os.path.dirname(staged), exist_ok=True)
                    shutil.copyfile(match, staged)
    for top in sorted(os.listdir(stage_dir)):
        binds.append((os.path.join(stage_dir, top), "/" + top))
    return ImageLayout(binds=tuple(binds), env=env, workdir=workdir)


def client_image_layout(binary: str) -> ImageLayout:
    """The keep-client image: the client binary on PATH."""
    return ImageLayout(
        binds=((binary, f"{CLIENT_BIN_DIR}/keep-client"),),
        env={"PATH": f"{CLIENT_BIN_DIR}:/usr/local/bin:/usr/bin:/bin"},
    )


def python_home(venv: str) -> str | None:
    """The base installation a venv's python runs from (its pyvenv.cfg ``home``'s prefix)."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as f:
            for line in f:
                key, _, value = line.partition("=")
                if key.strip() == "home":
                    return os.path.dirname(value.strip())
    except OSError:
        return None
    return None


def _root_binds(hosts_file: str) -> list[str]:
    """The container's root: the host's /usr and /etc (read-only, /etc/hosts our own), its
    top-level links into /usr, /proc and /dev."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + top
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--tmpfs", "/etc"]
    for entry in sorted(os.listdir("/etc")):
        path = os.path.join("/etc", entry)
        if entry == "hosts":
            continue
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", hosts_file, "/etc/hosts", "--proc", "/proc", "--dev", "/dev"]
    return args


@dataclass(frozen=True)
class Mount:
    host: str
    path: str  # inside the container
    read_only: bool


def bwrap_command(
    command: list[str],
    *,
    layout: ImageLayout,
    mounts: list[Mount],
    workdir: str | None,
    hosts_file: str,
    run_as: tuple[int, int] | None,
    extra_ro: tuple = (),
) -> list[str]:
    """The bwrap command line that runs ``command`` as the container would."""
    args = [bwrap_binary(), *_root_binds(hosts_file)]
    for path in extra_ro:
        args += ["--ro-bind", path, path]
    for host, path in layout.binds:
        args += ["--ro-bind", host, path]
    for mount in mounts:
        args += ["--ro-bind" if mount.read_only else "--bind", mount.host, mount.path]
    if run_as is not None:
        args += ["--unshare-user", "--uid", str(run_as[0]), "--gid", str(run_as[1])]
    # The container's process dies with its sandbox: stopping the sandbox never orphans a client.
    args += ["--die-with-parent", "--remount-ro", "/", "--chdir", workdir or layout.workdir, "--", *command]
    return args


def run_to_completion(args: list[str], env: dict, log_path: str, timeout: float) -> int:
    """An init container: its exit code, its output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        try:
            return subprocess.run(args, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            return -1


def start_detached(args: list[str], env: dict, log_path: str) -> subprocess.Popen:
    """The client container: a session of its own (stopped by its process group), output to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
