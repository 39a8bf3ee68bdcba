"""No secret in plain in a real stack's state: the local stack brought up on anvil by the real
engine, then `pulumi stack export` (what anyone with the state file reads) scanned for the
deployer's key, the operators' mnemonic, each operator's private key and each keystore password,
which `pulumi stack export --show-secrets` does hold (so the scan can fail).  The rendered
manifests' ConfigMaps hold no key material either."""

from __future__ import annotations

import base64
import glob
import json
import os

import pytest
import yaml
from eth_account import Account

from bench.engine.local_stack import plaintext_secrets
from engine_stack import deployed_local_stack
from hd_paths import operator_hd_path, operator_index


class Exported:
    """The local stack up once on a fresh anvil; its state exported with and without secrets."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.chain, self.ws = deployed_local_stack(str(workdir))
        self.plain = self.ws.run(["stack", "export"], capture=True).stdout
        self.shown = self.ws.run(["stack", "export", "--show-secrets"], capture=True).stdout
        self.config = json.loads(self.ws.run(["config", "--show-secrets", "--json"], capture=True).stdout)
        self.outputs = self.ws.outputs(show_secrets=True)
        (workdir / "export.json").write_text(self.plain)  # kept with a failing test's tmp_path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    e = Exported(tmp_path_factory.mktemp("secrets"))
    yield e
    e.chain.stop()


def forms(secret: str) -> set:
    """The ways a secret could be written out: as is, hex with and without 0x, base64 (a Secret's data)."""
    out = {secret, base64.b64encode(secret.encode()).decode()}
    bare = secret.removeprefix("0x")
    if all(c in "0123456789abcdefABCDEF" for c in bare) and len(bare) == 64:
        out |= {bare.lower(), "0x" + bare.lower(), bare.upper()}
    return out


def stack_secrets(e: Exported) -> dict:
    """what -> secret: the deployer's key and the mnemonic from the stack's config (read back with
    --show-secrets), each operator's key derived from the mnemonic as docs/operators.md says
    (tests/hd_paths.py, not operators.keys), and each keystore password from the Secrets' inputs
    in the --show-secrets export."""
    Account.enable_unaudited_hdwallet_features()
    deployer = e.config["keep-cd:deployerPrivateKey"]["value"]
    mnemonic = e.config["keep-cd:operatorMnemonic"]["value"]
    found = {"deployerPrivateKey": deployer, "operatorMnemonic": mnemonic}
    words = mnemonic.split()
    # Any four consecutive words: a mnemonic written out in part, or as a list, still leaks.
    for i in range(len(words) - 3):
        found[f"mnemonic words {i}-{i + 3}"] = " ".join(words[i : i + 4])
    found["mnemonic as a list"] = json.dumps(words[:4])[1:-1]
    operators = e.outputs["operators"]
    assert len(operators) == 3, operators
    for name, address in operators.items():
        account = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(name)))
        assert account.address == address, name  # the derivation is the program's
        found[f"operator key {name}"] = bytes(account.key).hex()
    state = plaintext_secrets(json.loads(e.shown))
    passwords = {}
    for r in state["deployment"]["resources"]:
        if r["type"] == "kubernetes:core/v1:Secret" and r["urn"].endswith("-eth-account"):
            # The Kubernetes provider keeps stringData as data (base64) in the object's inputs.
            data = r["inputs"].get("stringData") or {k: base64.b64decode(v).decode() for k, v in r["inputs"]["data"].items()}
            passwords[r["urn"].rsplit("::", 1)[1]] = data["eth_account_password"]
    assert len(passwords) == 3, sorted(passwords)
    found.update({f"keystore password {n}": p for n, p in passwords.items()})
    return found


@pytest.mark.engine
def test_stack_export_holds_no_secret_in_plain(exported):
    secrets = stack_secrets(exported)
    leaks = sorted(what for what, s in secrets.items() for form in forms(s) if form in exported.plain)
    assert leaks == []
    # The state does hold the stored ones, encrypted (so the scan looks where they are): the config's
    # secrets and the keystore passwords.  Operator keys are derived at run time and never stored.
    stored = {w: s for w, s in secrets.items() if not w.startswith(("operator key", "mnemonic as a list"))}
    assert {"deployerPrivateKey", "operatorMnemonic"} <= set(stored) and sum(w.startswith("keystore password") for w in stored) == 3
    missing = sorted(what for what, s in stored.items() if not any(form in exported.shown for form in forms(s)))
    assert missing == []
    assert json.loads(exported.plain)["deployment"]["secrets_providers"]["type"] == "passphrase"


@pytest.mark.engine
def test_rendered_config_maps_hold_no_key_material(exported):
    secrets = stack_secrets(exported)
    files = sorted(glob.glob(os.path.join(exported.workdir, "manifests", "**", "*.yaml"), recursive=True))
    objects = {path: yaml.safe_load(open(path)) for path in files}
    config_maps = [p for p, o in objects.items() if o["kind"] == "ConfigMap"]
    secret_files = [p for p, o in objects.items() if o["kind"] == "Secret"]
    assert len(config_maps) == 3 and len(secret_files) == 3
    for path in config_maps:
        text = open(path).read()
        assert "keep-client-config.toml" in text
        assert sorted(w for w, s in secrets.items() for form in forms(s) if form in text) == [], path
        assert "ciphertext" not in text and "eth_account_password" not in text, path
    # The Secrets' files do hold the passwords (base64), so the scan reads what can hold them.
    secret_text = "".join(open(p).read() for p in secret_files)
    assert all(any(form in secret_text for form in forms(s)) for w, s in secrets.items() if w.startswith("keystore password"))
