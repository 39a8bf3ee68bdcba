"""The change report CI attaches to a pull request, read from the real engine's `pulumi preview
--json` on a deployed stack: it names what would change and why, agrees with the engine's own
steps, and sends nothing."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from web3 import Web3

from bench.ci.change_report import PreviewFileError, change_report, read_preview
from bench.engine.scratch_stack import set_config
from engine_stack import deployed_local_stack

CLIENTS = {"keep-bootstrap-0", "keep-standard-0", "keep-standard-1"}


class Deployed:
    """The local stack's config on a fresh anvil, brought up once by the real engine."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.chain, self.ws = deployed_local_stack(str(workdir))
        self.committed = copy.deepcopy(dict(self.ws.config))
        self.deployer = self.ws.outputs()["deployer"]

    def preview(self, **config) -> tuple:
        """(report lines, the engine's changed steps {name: op}) of a preview with ``config``;
        the stack's config is put back afterwards."""
        set_config(self.ws, **config)
        try:
            proc = self.ws.run(["preview", "--json"], capture=True)
        finally:
            self.ws.config.clear()
            self.ws.config.update(copy.deepcopy(self.committed))
            self.ws.write_config_file()
        path = self.workdir / "preview.json"
        path.write_text(proc.stdout)
        steps = {
            s["urn"].rsplit("::", 2)[-2].rsplit(":", 1)[-1] + "::" + s["urn"].rsplit("::", 1)[-1]: s["op"]
            for s in json.loads(proc.stdout)["steps"]
        }
        return change_report(read_preview(str(path)), stack="local", source=str(path)), {n: op for n, op in steps.items() if op != "same"}

    def fleet(self, **changes) -> dict:
        fleet = copy.deepcopy(self.committed["keep-cd:fleet"])
        fleet.update(changes)
        return fleet

    def sent(self) -> int:
        return Web3(Web3.HTTPProvider(self.chain.url)).eth.get_transaction_count(self.deployer)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    d = Deployed(tmp_path_factory.mktemp("change-report"))
    yield d
    d.chain.stop()


@pytest.mark.engine
def test_nothing_changed_reads_as_nothing(deployed):
    before = deployed.sent()
    report, steps = deployed.preview()
    assert steps == {} and report[1].startswith("nothing changed"), report
    assert deployed.sent() == before


@pytest.mark.engine
def test_a_new_image_tag_rolls_exactly_what_the_engine_rolls(deployed):
    fleet = deployed.fleet()
    fleet["image"] = {**fleet["image"], "tag": "v1.8.1"}
    report, steps = deployed.preview(fleet=fleet)
    rolled = {name.split("::")[1] for name in steps if name.startswith("Deployment::")}
    rolls = {line.split()[1].rstrip(":") for line in report if line.strip().startswith("roll")}
    assert rolled == rolls == CLIENTS
    assert all("image of keep-client:" in line and ":v1.8.1" in line for line in report if line.strip().startswith("roll"))


@pytest.mark.engine
def test_a_constructor_argument_redeploys_and_rolls_every_client(deployed):
    before = deployed.sent()
    report, steps = deployed.preview(planParams={"initializationPeriod": 1, "dkgContributionMargin": 2})
    text = "\n".join(report)
    assert "deploy   contract KeepRandomBeaconService: constructor args changed" in text
    assert "reuse    contract KeepToken" in text
    for name in CLIENTS:
        line = next(candidate for candidate in report if candidate.startswith(f"  roll     {name}:"))
        assert "contract addresses changed" in line
    assert steps.get("ContractsMigration::contracts") == "update"
    assert deployed.sent() == before, "the report must send nothing"


@pytest.mark.engine
def test_an_added_client_is_created_and_rolls_nobody(deployed):
    fleet = deployed.fleet()
    fleet["clients"] = [
        *fleet["clients"],
        {"name": "keep-standard-2", "role": "standard", "port": 3922, "metricsPort": 9604, "diagnosticsPort": 9704},
    ]
    report, steps = deployed.preview(fleet=fleet)
    assert steps.get("Deployment::keep-standard-2") == "create"
    text = "\n".join(report)
    assert "create   keep-standard-2: new" in text
    assert not any(line.strip().startswith("roll") for line in report), text
    assert "update   operator-stakes (OperatorStakes)" in text


@pytest.mark.engine
def test_the_command_prints_the_report(deployed):
    deployed.preview()  # leaves the last preview's JSON in the work directory
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ci.change_report", "--preview-json", str(deployed.workdir / "preview.json"), "--stack", "local"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].startswith("nothing changed")


@pytest.mark.parametrize("content", ["{not json", '{"version": 3}', '{"steps": {}}', ""])
def test_unreadable_preview_is_named_in_one_line(tmp_path, content):
    path = tmp_path / "preview.json"
    path.write_text(content)
    with pytest.raises(PreviewFileError) as e:
        read_preview(str(path))
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"preview {path}: not the output of `pulumi preview --json`")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ci.change_report", "--preview-json", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: preview {path}:") and "Traceback" not in proc.stderr
