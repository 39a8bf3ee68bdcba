"""`make local` (bench.engine.local_stack.up): a real `pulumi up` of the local stack, on anvil and on
geth, starting the chain where the stack's rpcUrl says; a second run changes nothing and sends
nothing, and leaves the rendered manifests as the stack's state has them even when they were
deleted or edited by hand in between.  Everything it keeps goes to a temporary build directory and a free port here."""

from __future__ import annotations

import os
import signal
import stat

import pytest
from eth_account import Account

from bench.chains.anvil import free_port, rpc
from bench.engine import local_stack

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("chain", ["anvil", "geth"])
def test_make_local_twice_second_changes_and_sends_nothing(chain, tmp_path, monkeypatch, capfd):
    port = free_port()
    spec = {**local_stack.LOCAL_CHAINS[chain], "dir": str(tmp_path / chain), "port": port}
    monkeypatch.setitem(local_stack.LOCAL_CHAINS, chain, spec)
    committed = local_stack.committed_config("local")
    monkeypatch.setattr(
        local_stack,
        "committed_config",
        lambda _stack: {
            **committed,
            "keep-cd:rpcUrl": f"http://127.0.0.1:{port}",
            "keep-cd:renderYamlToDirectory": str(tmp_path / "manifests"),
        },
    )
    try:
        assert local_stack.up(chain=chain) == 0
        first = capfd.readouterr()
        assert f"started {chain} at http://127.0.0.1:{port}" in first.err
        manifests = tmp_path / "manifests" if chain == "anvil" else tmp_path / chain / "manifests"
        assert '"addressBook"' in first.out and len(os.listdir(manifests / "1-manifest")) == 17
        key = open(os.path.join(spec["dir"], "local-secrets", "deployer.key")).read().strip()
        deployer = Account.from_key(key).address
        url = f"http://127.0.0.1:{port}"
        sent = int(rpc(url, "eth_getTransactionCount", [deployer, "latest"]), 16)
        assert sent == 26 + 6 + 3 * 3
        # What the engine keeps of its secrets here is readable by the owner only.
        for name in ("deployer.key", "operators.mnemonic", "passphrase"):
            assert stat.S_IMODE(os.stat(os.path.join(spec["dir"], "local-secrets", name)).st_mode) == 0o600, name
        assert stat.S_IMODE(os.stat(os.path.join(spec["dir"], "local-secrets")).st_mode) == 0o700
        # The provider's own files; then one deleted, one edited by hand, one left over.
        rendered = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in (manifests / "1-manifest").iterdir()}
        secret_file = next(n for n in rendered if n.startswith("v1-secret-"))
        (manifests / "1-manifest" / secret_file).unlink()
        edited = next(n for n in rendered if n.startswith("apps_v1-deployment-"))
        (manifests / "1-manifest" / edited).write_text("edited by hand\n")
        (manifests / "1-manifest" / "v1-configmap-keep-local-gone.yaml").write_text("kind: ConfigMap\n")
        assert local_stack.up(chain=chain) == 0
        second = capfd.readouterr()
        assert "manifests: 3 file(s) deleted or edited by hand re-rendered from the stack's state" in second.err
        assert {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in (manifests / "1-manifest").iterdir()} == rendered
        assert "started" not in second.err  # the chain was there: used, not claimed
        assert "unchanged" in second.out and "created" not in second.out and "updated" not in second.out
        assert int(rpc(url, "eth_getTransactionCount", [deployer, "latest"]), 16) == sent
        # The committed stack file is the embedded default, untouched by the CLI's salt and secrets.
        assert "encryptionsalt" not in open(os.path.join(local_stack.ROOT, "Pulumi.local.yaml")).read()
    finally:
        pid_file = os.path.join(spec["dir"], f"{chain}.pid")
        if os.path.exists(pid_file):
            os.kill(int(open(pid_file).read()), signal.SIGTERM)
