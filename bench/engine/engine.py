"""The Pulumi engine keep-cd runs: which ``pulumi`` binary, which plugins, and the environment.

A ``pulumi`` already on PATH is used when it is at least the pinned Python SDK's version and has
its Python language host beside it (an ordinary install); otherwise the one bench.gobuild built from the
Go module proxy (``make engine``).  The Kubernetes provider is installed, from bench.gobuild's build, into
a Pulumi home of keep-cd's own, at the version the ``pulumi-kubernetes`` SDK asks for.  Nothing is
ever downloaded at run time: automatic plugin acquisition and the update check are off, so a
missing or wrong plugin is an error naming what to run, never a silent fetch.

Standard library only (``make engine`` runs before any virtualenv exists).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from bench import PROJECT_ROOT, requirement_pin
from bench.gobuild.build import BuildError, build, built_dir, cache_root
from bench.gobuild.targets import KUBERNETES_PROVIDER_VERSION, PULUMI_VERSION, TARGETS

ROOT = PROJECT_ROOT


class EngineError(Exception):
    """The engine is missing, of the wrong version, or failed; the message says what to run."""


def _version_tuple(text: str) -> tuple:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else ()


def pinned_sdk_version(package: str) -> str:
    """The version requirements.txt pins for a Python package (``pulumi``, ``pulumi-kubernetes``)."""
    try:
        return requirement_pin(package)
    except ValueError as e:
        raise EngineError(str(e)) from None


@dataclass(frozen=True)
class Engine:
    pulumi: str  # the pulumi binary
    version: str  # what `pulumi version` prints
    source: str  # "PATH" or "built"
    path_dirs: tuple  # prepended to PATH: the language host and the dynamic-provider plugin are found there
    pulumi_home: str

    def env(self, base: dict | None = None, **extra: str) -> dict:
        """The environment for every pulumi command: nothing downloaded, no update check, our home."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join([*self.path_dirs, env.get("PATH", "")])
        env.update(
            {
                "PULUMI_HOME": self.pulumi_home,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                # Not ours to show: the CLI's survey prompts and colours in logs and tests.
                "PULUMI_SKIP_CONFIRMATIONS": "true",
            }
        )
        env.update(extra)
        return env


def _pulumi_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=60, env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        )
    except OSError as e:
        raise EngineError(f"{binary}: cannot run ({e}); run `make engine`") from e
    if out.returncode != 0:
        raise EngineError(f"{binary} version: exit {out.returncode}: {out.stderr.strip()[:200]}; run `make engine`")
    return out.stdout.strip()


def _path_pulumi() -> str | None:
    """An ordinary install on PATH that is new enough for the pinned SDK and has its Python host."""
    found = shutil.which("pulumi")
    if not found:
        return None
    found = os.path.realpath(found)
    if not os.path.exists(os.path.join(os.path.dirname(found), "pulumi-language-python")):
        return None
    if _version_tuple(_pulumi_version(found)) < _version_tuple(pinned_sdk_version("pulumi")):
        return None
    return found


def _ordinary_install(binary: str) -> Engine:
    """A Pulumi CLI installed the ordinary way (what users and CI have): its own PULUMI_HOME, where
    `pulumi plugin install` put the Kubernetes provider; nothing is built or copied into it."""
    home = os.environ.get("PULUMI_HOME") or os.path.join(os.path.expanduser("~"), ".pulumi")
    if not os.path.exists(os.path.join(kubernetes_plugin_dir(home), "pulumi-resource-kubernetes")):
        raise EngineError(
            f"{binary}: the Kubernetes provider v{KUBERNETES_PROVIDER_VERSION} is not installed in {home} "
            f"(run `pulumi plugin install resource kubernetes v{KUBERNETES_PROVIDER_VERSION}`)"
        )
    return Engine(binary, _pulumi_version(binary), "PATH", (os.path.dirname(binary),), home)


def pulumi_home() -> str:
    return os.path.join(cache_root(), "pulumi-home")


def kubernetes_plugin_dir(home: str) -> str:
    return os.path.join(home, "plugins", f"resource-kubernetes-v{KUBERNETES_PROVIDER_VERSION}")


def _install_kubernetes_plugin(home: str, build_missing: bool) -> None:
    """The provider binary where the CLI looks for kubernetes v<version> in PULUMI_HOME."""
    dest = kubernetes_plugin_dir(home)
    target = TARGETS["pulumi-resource-kubernetes"]
    src = build(target) if build_missing else built_dir(target)
    if src is None:
        raise EngineError(f"Kubernetes provider {KUBERNETES_PROVIDER_VERSION}: not built (run `make engine`)")
    # build-info.json names the build: a rebuilt provider (another wrapper or Go) replaces the installed one.
    if _same_file(os.path.join(src, "build-info.json"), os.path.join(dest, "build-info.json")):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name in ("pulumi-resource-kubernetes", "build-info.json"):
        shutil.copy2(os.path.join(src, name), os.path.join(tmp, name))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def _same_file(a: str, b: str) -> bool:
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def installed_plugin_specs(project_dir: str) -> list:
    """The resource plugins the project's virtualenv's Pulumi packages ask for ({name, version}),
    from their pulumi-plugin.json: what the engine will load at exactly those versions."""
    import glob
    import json

    specs = []
    for path in sorted(glob.glob(os.path.join(project_dir, ".venv", "lib", "python*", "site-packages", "*", "pulumi-plugin.json"))):
        with open(path) as f:
            spec = json.load(f)
        if spec.get("resource"):
            specs.append({"name": spec.get("name"), "version": spec.get("version"), "path": path})
    return specs


def check_plugins(engine: Engine, project_dir: str) -> None:
    """Refuse, before anything runs, a Pulumi package whose provider the engine does not have at
    the version it will ask for (today: Kubernetes, the one provider keep-cd builds)."""
    for spec in installed_plugin_specs(project_dir):
        if spec["name"] != "kubernetes":
            continue
        have = os.path.join(engine.pulumi_home, "plugins", f"resource-kubernetes-v{spec['version']}", "pulumi-resource-kubernetes")
        if not os.path.exists(have):
            raise EngineError(
                f"{os.path.relpath(spec['path'], project_dir)}: pulumi-kubernetes {spec['version']} needs the Kubernetes provider "
                f"v{spec['version']}, but the engine has v{KUBERNETES_PROVIDER_VERSION} (pin pulumi-kubernetes=={KUBERNETES_PROVIDER_VERSION} "
                "in requirements.txt and run `make setup`, or build that provider in bench/gobuild/targets.py)"
            )


def locate_engine(build_missing: bool = False) -> Engine:
    """The engine to run; with ``build_missing`` (``make engine``) builds what is not cached.

    Raises EngineError naming what to run when something is missing and may not be built here.
    """
    sdk_k8s = pinned_sdk_version("pulumi-kubernetes")
    if sdk_k8s != KUBERNETES_PROVIDER_VERSION:
        raise EngineError(
            f"requirements.txt pins pulumi-kubernetes=={sdk_k8s} but bench.gobuild builds the provider "
            f"{KUBERNETES_PROVIDER_VERSION} (bench/gobuild/targets.py): pin both to one version"
        )
    on_path = _path_pulumi()
    if on_path:
        return _ordinary_install(on_path)
    home = pulumi_home()
    try:
        _install_kubernetes_plugin(home, build_missing)
        target = TARGETS["pulumi"]
        bin_dir = build(target) if build_missing else built_dir(target)
        if bin_dir is None:
            raise EngineError(f"pulumi {target.version}: not built and no suitable `pulumi` on PATH (run `make engine`)")
    except BuildError as e:
        raise EngineError(f"building the engine: {e}") from e
    binary = os.path.join(bin_dir, "pulumi")
    version = _pulumi_version(binary)
    if _version_tuple(version) != _version_tuple(PULUMI_VERSION):
        raise EngineError(f"{binary} reports {version}, expected v{PULUMI_VERSION}; run `make engine`")
    return Engine(binary, version, "built", (bin_dir,), home)
