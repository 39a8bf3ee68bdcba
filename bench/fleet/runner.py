"""Start, observe and stop the rendered fleet on this machine (``make local FLEET=run``).

``start_fleet`` refuses, before starting anything, what cannot run as rendered: no manifests or
manifests that are not the stack's current state, a port already held, a keep-client binary of
another release than the pinned one, no bubblewrap.  Then, per client and bootstrap clients first,
it does what a kubelet does with the pod: each init container to completion (retried while it says
"not yet", as a pod's would be), then keep-client, ready once its libp2p port accepts (the
rendered readiness probe).  A client that exits is reported with the last line of its log, and
every client started so far is stopped.  Everything lives under one directory (``build/fleet``):
a directory per client standing for each of its volumes, its logs, and the pids to stop.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import PROJECT_ROOT
from bench.chains.geth import HOST_ALIASES
from bench.engine.local_stack import port_in_use

from .pods import FleetInputError, Pod, RenderedFleet, read_fleet, volume_sources
from .sandbox import (
    ImageLayout,
    Mount,
    bwrap_command,
    client_image_layout,
    init_image_layout,
    python_home,
    run_to_completion,
    start_detached,
)

ROOT = PROJECT_ROOT
VENV = os.path.join(ROOT, ".venv")
# An init container's exit 2 is bad input (prepare_client, operator_check): a new rollout must fix
# it, so it is not retried; anything else is, as the kubelet restarts a failing init container.
INIT_BAD_INPUT = 2
INIT_TIMEOUT = 120.0
READY_TIMEOUT = 60.0
STOP_GRACE = 10.0
PORT_GRACE = 30.0


class FleetError(Exception):
    """The fleet did not start or did not come up; one line naming the client and why."""


@dataclass
class ClientRun:
    pod: Pod
    directory: str
    pid: int | None = None
    log: str = ""
    process: subprocess.Popen | None = None


@dataclass
class FleetRun:
    directory: str
    clients: list = field(default_factory=list)  # of ClientRun, in start order
    hosts: tuple = ()
    images: Images | None = None
    hosts_file: str = ""
    last_started: float = 0.0  # time.monotonic() when the last client was started


# -- the binary ------------------------------------------------------------------------------------


def client_version(binary: str) -> str:
    """``v1.3.1`` out of ``keep-client --version``."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise FleetError(f"keep-client at {binary}: cannot run ({e.strerror})") from None
    m = re.search(r"version (v\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
    if out.returncode != 0 or not m:
        raise FleetError(f"keep-client at {binary}: `--version` printed no version (exit {out.returncode})")
    return m.group(1)


def locate_client(release: str) -> str:
    """The keep-client binary to run: ``$KEEP_CLIENT_BINARY`` (an install of one's own) or the
    pinned build (``make keep-client``); refused unless it reports the pinned release."""
    binary = os.environ.get("KEEP_CLIENT_BINARY")
    if not binary:
        from bench.gobuild.build import built_dir
        from bench.gobuild.targets import TARGETS

        directory = built_dir(TARGETS["keep-client"])
        if directory is None:
            raise FleetError("keep-client: not built (run `make keep-client`, or set KEEP_CLIENT_BINARY to an install of v" + release + ")")
        binary = os.path.join(directory, "keep-client")
    version = client_version(binary)
    if version != "v" + release:
        raise FleetError(f"keep-client at {binary} is {version}, expected v{release} (the pinned release; `make keep-client` builds it)")
    return binary


# -- what must hold before anything starts ----------------------------------------------------------


def check_current(fleet: RenderedFleet, deployed: dict[str, dict]) -> None:
    """The rendered Deployments are the stack's: same clients, and each pod template's
    ``checksum/config``, image and contracts annotations equal to the stack's last update."""
    rendered = {p.name: p.annotations for p in fleet.pods}
    where = os.path.join(fleet.directory, "1-manifest")
    for name in sorted(set(deployed) - set(rendered)):
        raise FleetInputError(
            f"{where}: stale: no manifest for the stack's Deployment {name} (run `make local` to render the current state)"
        )
    for name in sorted(set(rendered) - set(deployed)):
        raise FleetInputError(f"{where}: stale: Deployment {name} is not in the stack (run `make local` to render the current state)")
    for name, pod_annotations in rendered.items():
        for key in ("checksum/config", "keep-cd/image", "keep-cd/contracts-hash"):
            if pod_annotations.get(key) != deployed[name].get(key):
                raise FleetInputError(
                    f"{where}: stale: Deployment {name}'s {key} differs from the stack's last update (run `make local` to render the current state)"
                )


def port_held(port: int) -> bool:
    # Every interface: the client's HTTP servers listen on all of them.
    return port_in_use(port, host="")


def check_ports_free(fleet: RenderedFleet, grace: float = 0.0) -> None:
    """Every port the clients declare is free; ``grace``: seconds to wait for sockets a stopped
    client left behind (libp2p also dials from its listening port) before calling one held."""
    deadline = time.monotonic() + grace
    held = [(pod, port) for pod in fleet.pods for port in pod.container.get("ports") or [] if port_held(int(port["containerPort"]))]
    while held and time.monotonic() < deadline:
        time.sleep(0.5)
        held = [(pod, port) for pod, port in held if port_held(int(port["containerPort"]))]
    for pod, port in held:
        number = int(port["containerPort"])
        raise FleetInputError(
            f"port {number} ({pod.name} {port.get('name')}): already held by another process (free it, or give the client another port in the stack config)"
        )


def loopback_names(fleet: RenderedFleet) -> tuple:
    """What the runner maps to 127.0.0.1: the Services' DNS names and the local-cluster names of
    this machine, the one rewrite between the manifests and this machine."""
    return (*fleet.service_hosts, *HOST_ALIASES)


def write_hosts_file(path: str, names: tuple) -> None:
    with open(path, "w") as f:
        f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        for name in names:
            f.write(f"127.0.0.1\t{name}\n")


# -- one pod ----------------------------------------------------------------------------------------


def _private_dir(path: str) -> str:
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def materialize_volumes(pod: Pod, directory: str) -> dict[str, str]:
    """A host directory for each pod volume: the claim and emptyDirs as directories (the claim
    kept across runs, as a PersistentVolumeClaim is), ConfigMap and Secret volumes as their files."""
    paths = {}
    for name, volume in volume_sources(pod).items():
        path = os.path.join(directory, "volumes", name)
        if "emptyDir" in volume or "configMap" in volume or "secret" in volume:
            if os.path.isdir(path):
                shutil.rmtree(path)
        _private_dir(path)
        if "configMap" in volume:
            source = volume["configMap"]
            for item in source.get("items") or [{"key": k, "path": k} for k in pod.config_maps.get(source["name"], {})]:
                _write(os.path.join(path, item["path"]), pod.config_map_text(source["name"], item["key"]), source.get("defaultMode", 0o644))
        elif "secret" in volume:
            source = volume["secret"]
            keys = pod.secrets.get(source["secretName"], {})
            for item in source.get("items") or [{"key": k, "path": k} for k in keys]:
                value = pod.secret_value({"name": source["secretName"], "key": item["key"]})
                _write(os.path.join(path, item["path"]), value, source.get("defaultMode", 0o644))
        elif not ("persistentVolumeClaim" in volume or "emptyDir" in volume):
            raise FleetInputError(f"Deployment {pod.namespace}/{pod.name}: volume {name} is of a kind the runner does not know")
        paths[name] = path
    return paths


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def container_env(pod: Pod, container: dict, layout: ImageLayout) -> dict:
    """The image's environment, then the container's own (values, and Secret/ConfigMap keys)."""
    env = dict(layout.env)
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in (var.get("valueFrom") or {}):
            env[var["name"]] = pod.secret_value(var["valueFrom"]["secretKeyRef"])
        elif "configMapKeyRef" in (var.get("valueFrom") or {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = pod.config_map_text(ref["name"], ref["key"])
        else:
            raise FleetInputError(
                f"Deployment {pod.namespace}/{pod.name}: env {var.get('name')} comes from a source the runner does not know"
            )
    return env


def container_mounts(pod: Pod, container: dict, volumes: dict[str, str]) -> list[Mount]:
    return [Mount(volumes[m["name"]], m["mountPath"], bool(m.get("readOnly"))) for m in container.get("volumeMounts") or []]


def run_as(pod: Pod, container: dict) -> tuple[int, int] | None:
    """The uid and gid the pod's security context asks for (the container's own wins)."""
    merged = {**(pod.spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
    if "runAsUser" not in merged:
        return None
    return int(merged["runAsUser"]), int(merged.get("runAsGroup", merged["runAsUser"]))


def container_command(container: dict) -> list[str]:
    return [*(container.get("command") or []), *(container.get("args") or [])]


def last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1][:400] if lines else "(empty log)"


@dataclass(frozen=True)
class Images:
    init: ImageLayout
    client: ImageLayout
    extra_ro: tuple  # host paths the images' programs need at their own paths (the venv's python)


def sandboxed(
    pod: Pod,
    container: dict,
    layout: ImageLayout,
    volumes: dict[str, str],
    hosts_file: str,
    extra_ro: tuple,
    command: list[str] | None = None,
) -> list[str]:
    """The command line that runs one of the pod's containers (its own command unless ``command``)."""
    return bwrap_command(
        command or container_command(container),
        layout=layout,
        mounts=container_mounts(pod, container, volumes),
        workdir=container.get("workingDir"),
        hosts_file=hosts_file,
        run_as=run_as(pod, container),
        extra_ro=extra_ro,
    )


def run_init_containers(pod: Pod, run: ClientRun, volumes: dict[str, str], images: Images, hosts_file: str, timeout: float) -> None:
    for container in pod.init_containers:
        log = os.path.join(run.directory, f"{container['name']}.log")
        deadline = time.monotonic() + timeout
        delay = 1.0
        while True:
            args = sandboxed(pod, container, images.init, volumes, hosts_file, images.extra_ro)
            code = run_to_completion(args, container_env(pod, container, images.init), log, timeout=max(1.0, deadline - time.monotonic()))
            if code == 0:
                break
            if code == INIT_BAD_INPUT or time.monotonic() + delay > deadline:
                raise FleetError(f"{pod.name}: init container {container['name']} exited {code}: {last_line(log)}")
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def readiness_port(pod: Pod) -> int:
    probe = (pod.container.get("readinessProbe") or {}).get("tcpSocket") or {}
    port = probe.get("port", "libp2p")
    return int(port) if str(port).isdigit() else pod.container_port(str(port))


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_client(pod: Pod, run: ClientRun, volumes: dict[str, str], images: Images, hosts_file: str) -> subprocess.Popen:
    container = pod.container
    args = sandboxed(pod, container, images.client, volumes, hosts_file, images.extra_ro)
    run.log = os.path.join(run.directory, "keep-client.log")
    proc = start_detached(args, container_env(pod, container, images.client), run.log)
    run.pid, run.process = proc.pid, proc
    with open(os.path.join(run.directory, "keep-client.pid"), "w") as f:
        f.write(str(proc.pid))
    return proc


def wait_ready(pod: Pod, run: ClientRun, proc: subprocess.Popen, timeout: float) -> None:
    port = readiness_port(pod)
    deadline = time.monotonic() + timeout
    while not accepts(port):
        if proc.poll() is not None:
            raise FleetError(f"{pod.name}: keep-client exited {proc.returncode}: {last_line(run.log)}")
        if time.monotonic() > deadline:
            raise FleetError(f"{pod.name}: keep-client not ready after {timeout:.0f} s (port {port} not accepting): {last_line(run.log)}")
        time.sleep(0.2)


# -- the fleet --------------------------------------------------------------------------------------


def stop_pids(directory: str) -> list[str]:
    """Stop every client a run under ``directory`` started (by process group), and forget them."""
    stopped = []
    pid_files = sorted(_pid_files(directory))
    groups = []
    for path in pid_files:
        try:
            pid = int(open(path).read().strip())
        except (OSError, ValueError):
            os.remove(path)
            continue
        if _is_ours(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
                groups.append(pid)
            except ProcessLookupError:
                pass
        stopped.append(os.path.basename(os.path.dirname(path)))
    deadline = time.monotonic() + STOP_GRACE
    for pid in groups:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for path in pid_files:
        if os.path.exists(path):
            os.remove(path)
    return stopped


def _pid_files(directory: str) -> list[str]:
    if not os.path.isdir(directory):
        return []
    return [
        os.path.join(directory, d, "keep-client.pid")
        for d in os.listdir(directory)
        if os.path.exists(os.path.join(directory, d, "keep-client.pid"))
    ]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _is_ours(pid: int) -> bool:
    """The pid still names a sandbox this runner started (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"bwrap" in f.read().split(b"\0")[0]
    except OSError:
        return False


def images_for(directory: str, binary: str) -> Images:
    home = python_home(VENV)
    extra = tuple(p for p in (home,) if p and not p.startswith("/usr"))
    return Images(
        init=init_image_layout(os.path.join(directory, "images", "init"), VENV),
        client=client_image_layout(binary),
        extra_ro=extra,
    )


def start_fleet(
    manifests: str,
    directory: str,
    *,
    deployed: dict[str, dict] | None,
    release: str,
    only: Callable[[Pod], bool] | None = None,
    skip_init: bool = False,
    init_timeout: float = INIT_TIMEOUT,
    ready_timeout: float | None = READY_TIMEOUT,
    say: Callable[[str], None] = print,
) -> FleetRun:
    """Start the rendered fleet under ``directory`` (a previous run there is stopped first).

    ``deployed``: the stack's Deployment annotations (None skips the staleness check, for a test
    that starts a client from manifests on purpose out of order); ``only``: the clients to start;
    ``skip_init``: start keep-client without its init containers (to see the client's own checks);
    ``ready_timeout`` None: do not wait for readiness (a client expected to refuse to start)."""
    from .sandbox import bwrap_binary

    bwrap_binary()
    binary = locate_client(release)
    fleet = read_fleet(manifests)
    if deployed is not None:
        check_current(fleet, deployed)
    stopped = stop_pids(directory)
    pods = [p for p in fleet.pods if only is None or only(p)]
    check_ports_free(RenderedFleet(fleet.directory, tuple(pods), fleet.service_hosts), grace=PORT_GRACE if stopped else 0.0)
    _private_dir(directory)
    names = loopback_names(fleet)
    hosts_file = os.path.join(directory, "hosts")
    write_hosts_file(hosts_file, names)
    say(f"fleet: {len(pods)} clients from {manifests}; mapped to 127.0.0.1: {', '.join(names)}")
    images = images_for(directory, binary)
    run = FleetRun(directory=directory, hosts=names, images=images, hosts_file=hosts_file)
    try:
        for role in ("bootstrap", "standard"):
            started = []
            for pod in (p for p in pods if p.role == role):
                client = ClientRun(pod, _private_dir(os.path.join(directory, pod.name)))
                run.clients.append(client)
                volumes = materialize_volumes(pod, client.directory)
                if not skip_init:
                    run_init_containers(pod, client, volumes, images, hosts_file, init_timeout)
                started.append((pod, client, start_client(pod, client, volumes, images, hosts_file)))
                run.last_started = time.monotonic()
                say(f"fleet: started {pod.name} ({role}, pid {client.pid}, log {client.log})")
            for pod, client, proc in started:
                if ready_timeout is not None:
                    wait_ready(pod, client, proc, ready_timeout)
    except BaseException:
        stop_pids(directory)
        raise
    with open(os.path.join(directory, "fleet.json"), "w") as f:
        json.dump({"manifests": manifests, "clients": [c.pod.name for c in run.clients], "hosts": list(names)}, f, indent=1)
    return run


def client_command(fleet: FleetRun, client: str, args: list[str], log_name: str, timeout: float) -> tuple[int, str]:
    """``keep-client <args>`` in a running client's container, as ``kubectl exec`` would run it:
    the same image, mounts, environment and user (e.g. ``relay genesis``, ``relay request``).
    Its exit code and the path of its log."""
    found = next((c for c in fleet.clients if c.pod.name == client), None)
    if found is None or fleet.images is None:
        raise FleetError(f"{client}: not a client of this run")
    pod, container = found.pod, found.pod.container
    volumes = {name: os.path.join(found.directory, "volumes", name) for name in volume_sources(pod)}
    command = [container_command(container)[0], *[a for a in container_command(container)[1:] if a != "start"], *args]
    argv = sandboxed(pod, container, fleet.images.client, volumes, fleet.hosts_file, fleet.images.extra_ro, command)
    log = os.path.join(found.directory, log_name)
    return run_to_completion(argv, container_env(pod, container, fleet.images.client), log, timeout), log


def wait_exit(run: ClientRun, timeout: float) -> int | None:
    """The exit code of a client that stops by itself within ``timeout`` (None: still running)."""
    if run.process is None:
        return None
    try:
        return run.process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def http_json(url: str, timeout: float = 2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def http_text(url: str, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None
