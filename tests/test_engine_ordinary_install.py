"""A Pulumi CLI installed the ordinary way (on PATH, with its own PULUMI_HOME), as users and CI
have it, is the engine keep-cd runs: nothing is built, and the Kubernetes plugin must be where
`pulumi plugin install` puts it, else one line says that command."""

from __future__ import annotations

import os
import shutil

import pytest

from bench.engine.engine import EngineError, kubernetes_plugin_dir, locate_engine
from bench.gobuild.targets import KUBERNETES_PROVIDER_VERSION

pytestmark = pytest.mark.engine


@pytest.fixture
def ordinary_install(tmp_path, monkeypatch):
    """~/.pulumi/bin of an ordinary install: the built CLI and its hosts copied there, on PATH."""
    built = locate_engine()
    home = tmp_path / "home" / ".pulumi"
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True)
    for name in os.listdir(built.path_dirs[0]):
        if name.startswith("pulumi"):
            shutil.copy2(os.path.join(built.path_dirs[0], name), bin_dir / name)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PULUMI_HOME", raising=False)
    return built, home


def test_without_the_kubernetes_plugin_one_line_names_the_install_command(ordinary_install):
    _, home = ordinary_install
    with pytest.raises(EngineError) as e:
        locate_engine()
    text = str(e.value)
    assert "\n" not in text and str(home) in text
    assert text.endswith(f"(run `pulumi plugin install resource kubernetes v{KUBERNETES_PROVIDER_VERSION}`)")


def test_with_the_plugin_installed_the_ordinary_install_runs(ordinary_install):
    built, home = ordinary_install
    plugin = kubernetes_plugin_dir(str(home))
    os.makedirs(plugin)
    shutil.copy2(os.path.join(kubernetes_plugin_dir(built.pulumi_home), "pulumi-resource-kubernetes"), plugin)
    engine = locate_engine()
    assert engine.source == "PATH" and engine.pulumi == str(home / "bin" / "pulumi") and engine.pulumi_home == str(home)
    assert engine.env()["PULUMI_HOME"] == str(home)
