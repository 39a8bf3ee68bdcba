"""The fleet runner's refusals that need no chain: manifests missing or not the stack's, a
keep-client of another release, and reading the manifests the way the provider writes them."""

from __future__ import annotations

import os
import stat

import pytest

from bench.fleet.pods import FleetInputError, read_fleet
from bench.fleet.runner import FleetError, check_current, locate_client
from bench.fleet.sandbox import init_image_layout


def test_missing_manifests_are_refused_naming_the_directory(tmp_path):
    with pytest.raises(FleetInputError, match=rf"^{tmp_path}/1-manifest: no rendered manifests \(run `make local` first"):
        read_fleet(str(tmp_path))


def fake_client(tmp_path, version: str) -> str:
    path = tmp_path / "keep-client"
    path.write_text(f"#!/bin/sh\necho 'keep-client version {version} (revision 0)'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_client_of_another_release_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEP_CLIENT_BINARY", fake_client(tmp_path, "v1.3.0"))
    with pytest.raises(FleetError, match=r"keep-client at .* is v1.3.0, expected v1.3.1 \(the pinned release"):
        locate_client("1.3.1")
    monkeypatch.setenv("KEEP_CLIENT_BINARY", fake_client(tmp_path, "v1.3.1"))
    assert locate_client("1.3.1") == str(tmp_path / "keep-client")


@pytest.mark.client
def test_the_pinned_build_reports_the_pinned_release():
    """`make keep-client`'s binary says what keep_contracts/names.py pins (make test builds it)."""
    from keep_contracts.names import CLIENT_RELEASE

    os.environ.pop("KEEP_CLIENT_BINARY", None)
    assert locate_client(CLIENT_RELEASE).endswith("/keep-client")


class _Fleet:
    def __init__(self, directory, pods):
        self.directory, self.pods = directory, pods


class _Pod:
    def __init__(self, name, annotations):
        self.name, self.annotations = name, annotations


STATE = {"checksum/config": "a", "keep-cd/image": "keep:v1", "keep-cd/contracts-hash": "c"}


@pytest.mark.parametrize(
    "rendered, deployed, expected",
    [
        ({"b": STATE}, {"b": STATE, "s": STATE}, "stale: no manifest for the stack's Deployment s"),
        ({"b": STATE, "x": STATE}, {"b": STATE}, "stale: Deployment x is not in the stack"),
        ({"b": {**STATE, "keep-cd/image": "keep:v0"}}, {"b": STATE}, "stale: Deployment b's keep-cd/image differs"),
        ({"b": {**STATE, "keep-cd/contracts-hash": "old"}}, {"b": STATE}, "stale: Deployment b's keep-cd/contracts-hash differs"),
    ],
)
def test_manifests_that_are_not_the_stacks_last_update_are_refused(rendered, deployed, expected):
    fleet = _Fleet("/m", [_Pod(n, a) for n, a in rendered.items()])
    with pytest.raises(FleetInputError, match=expected):
        check_current(fleet, deployed)  # type: ignore[arg-type]
    check_current(_Fleet("/m", [_Pod(n, a) for n, a in deployed.items()]), deployed)  # type: ignore[arg-type]


def test_the_init_image_is_laid_out_as_its_dockerfile_says(tmp_path):
    layout = init_image_layout(str(tmp_path / "stage"), "/venv")
    assert ("/venv", "/opt/venv") in layout.binds and layout.workdir == "/app"
    assert layout.env["PATH"].startswith("/opt/venv/bin:")
    staged = tmp_path / "stage" / "app"
    assert (staged / "prepare_client.py").is_file() and (staged / "initcontainer" / "operator_check.py").is_file()
    assert (staged / "keep_contracts" / "names.py").is_file() and (staged / "chain" / "fees.py").is_file()
    assert (staged / "chain" / "transactions.py").is_file()  # the one transaction sender, in the image too
    assert not (staged / "chain" / "provider.py").exists()  # only what the Dockerfile copies
