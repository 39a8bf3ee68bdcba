"""A stack under the real Pulumi CLI with a file backend and the passphrase secrets provider:
the ``local`` stack of ``make local``, and the throwaway stacks of the tests and benchmarks.

A ``StackWorkspace`` keeps everything in directories of its own, never in the repository:

* ``state_dir``: the file backend (``PULUMI_BACKEND_URL=file://…``);
* ``secrets_dir``: 0600 files made once: the passphrase of the passphrase secrets provider, a
  deployer key (funded on the local chain) and the operators' mnemonic;
* ``stack_dir``: the Automation API's workspace (``pulumi.automation.LocalWorkspace``) of the
  stack: a ``Pulumi.yaml`` whose ``main`` is the project directory, and ``Pulumi.<stack>.yaml``, the
  stack's config as the CLI uses it: the committed ``Pulumi.<stack>.yaml`` (the embedded default,
  kept pristine) or the test's config, plus the encryption salt and the ``secure:`` values that
  ``pulumi config set --secret`` wrote.  A command run as typed (``StackWorkspace.run``,
  ``scripts/pulumi-local``) gets that file through ``--config-file``.

Creating, selecting, updating, previewing, importing into and exporting a stack go through the
Automation API (``auto.Stack`` on that workspace, the engine's CLI as ``auto.PulumiCommand``).

For ``make local`` they are ``build/pulumi-state``, ``build/local-secrets`` and ``build/local-stack``.
The chain: if something answers JSON-RPC at the stack's ``rpcUrl`` it must be on the stack's chain
id; if nothing listens there, anvil is started on exactly that port; anything else is an error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

import yaml
from pulumi import automation as auto

from bench import PROJECT_ROOT
from bench.gobuild.build import cache_root

from .engine import Engine, EngineError, locate_engine

if TYPE_CHECKING:
    from bench.chains.anvil import Anvil
    from bench.chains.geth import Geth

ROOT = PROJECT_ROOT
PROJECT = "keep-cd"
BUILD = os.path.join(ROOT, "build")
# Secret config the program needs, and the file each is kept in.
SECRET_FILES = {"deployerPrivateKey": "deployer.key", "operatorMnemonic": "operators.mnemonic"}
PASSPHRASE = "passphrase"
# Commands that take --config-file (all of them also take --stack).
_CONFIG_FILE_COMMANDS = {"up", "preview", "refresh", "destroy", "import", "config", "watch"}
_STACK_COMMANDS = _CONFIG_FILE_COMMANDS | {"stack", "state", "cancel"}


class LocalStackError(Exception):
    """What stops a local stack before anything is sent; one line saying what to do."""


def _secret_file(directory: str, name: str, make) -> str:
    """The content of <directory>/<name>, made once by ``make()`` with mode 0600."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    with open(path) as f:
        return f.read().strip()


def new_deployer_key() -> str:
    from eth_account import Account

    return Account.create().key.hex()


def new_mnemonic() -> str:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account.create_with_mnemonic()[1]


def committed_config(stack: str) -> dict:
    path = os.path.join(ROOT, f"Pulumi.{stack}.yaml")
    with open(path) as f:
        return (yaml.safe_load(f) or {}).get("config") or {}


def _config_value(config: dict, key: str):
    for k in (f"{PROJECT}:{key}", key):
        if k in config:
            return config[k]
    return None


@dataclass(frozen=True)
class LocalChain:
    rpc_url: str
    chain_id: int
    port: int


def local_chain_settings(config: dict, source: str) -> LocalChain:
    """A local stack's rpcUrl and chainId, validated before anything starts (the rpcUrl says
    exactly where a chain listens or would be started: settings.local_rpc_endpoint)."""
    from chain.errors import ConfigError
    from settings import local_rpc_endpoint

    rpc_url = _config_value(config, "rpcUrl")
    chain_id = _config_value(config, "chainId")
    try:
        _host, port = local_rpc_endpoint(rpc_url)
    except ConfigError as e:
        raise LocalStackError(f"{source}: {e}") from None
    try:
        chain_id_int = int(str(chain_id))
    except ValueError:
        raise LocalStackError(f"{source}: config keep-cd:chainId is {chain_id!r}, expected an integer such as 31337") from None
    return LocalChain(rpc_url.strip(), chain_id_int, port)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could not listen on ``host``:``port`` now ("" is every interface)."""
    with socket.socket() as s:
        # As a server binds (Go's net.Listen, anvil): connections a stopped node left in TIME_WAIT
        # do not hold the port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class LocalChainSpec(TypedDict):
    chain_id: int
    port: int
    dir: str


# The local chains `make local` can start (CHAIN=anvil|geth): the chain id each runs, and where
# its stack keeps its state under build/ (a stack is bound to its chain).  Both make a block every
# second: keep-client sees a stake leave its initialization period only when a later block comes.
LOCAL_CHAINS: dict[str, LocalChainSpec] = {
    "anvil": {"chain_id": 31337, "port": 8545, "dir": BUILD},
    "geth": {"chain_id": 1337, "port": 8546, "dir": os.path.join(BUILD, "geth")},
}
BLOCK_SECONDS = 1


def _start_chain(kind: str, chain: LocalChain, log_dir: str) -> int:
    started: Geth | Anvil
    if kind == "geth":
        from bench.chains.geth import start_geth

        started = start_geth(
            chain.port,
            datadir=os.path.join(log_dir, "chain"),
            period=BLOCK_SECONDS,
            log_path=os.path.join(log_dir, "geth.log"),
            detach=True,
        )
    else:
        from bench.chains.anvil import start_anvil

        started = start_anvil(
            chain.port, chain_id=chain.chain_id, block_time=BLOCK_SECONDS, log_path=os.path.join(log_dir, "anvil.log"), detach=True
        )
    if started.process is None:  # start_geth/start_anvil return only a node they started themselves
        raise LocalStackError(f"{kind} at {chain.rpc_url}: started, but without a process whose pid could be kept")
    pid = started.process.pid
    with open(os.path.join(log_dir, f"{kind}.pid"), "w") as f:
        f.write(str(pid))
    print(f"started {kind} at {chain.rpc_url} (pid {pid}; `make stop-chain` stops it)", file=sys.stderr)
    return pid


def ensure_local_chain(chain: LocalChain, log_dir: str = BUILD, kind: str = "anvil") -> int | None:
    """Make sure the stack's chain answers at its rpcUrl; returns the pid of a chain started here
    (anvil, or geth --dev).

    Never starts a chain on another port, and never claims to have started one that was there."""
    from bench.chains.anvil import rpc

    try:
        found = int(rpc(chain.rpc_url, "eth_chainId", [], timeout=2.0), 16)
    except Exception:
        found = None
    if found is not None:
        if found != chain.chain_id:
            raise LocalStackError(
                f"{chain.rpc_url} answers with chain id {found}, but the stack's keep-cd:chainId is {chain.chain_id}: stop that node or change the stack's config"
            )
        return None
    if port_in_use(chain.port):
        raise LocalStackError(
            f"{chain.rpc_url}: port {chain.port} is held by a process that does not answer JSON-RPC; free it or change keep-cd:rpcUrl"
        )
    os.makedirs(log_dir, exist_ok=True)
    return _start_chain(kind, chain, log_dir)


def fund_local_account(chain: LocalChain, key: str, kind: str = "anvil", wei: int = 10**22) -> None:
    """Top an account up on a local chain: anvil's cheat code, or on geth a transfer from its dev
    account (geth has no cheat codes)."""
    from eth_account import Account

    from bench.chains.anvil import rpc

    address = Account.from_key(key).address
    if int(rpc(chain.rpc_url, "eth_getBalance", [address, "latest"]), 16) >= wei // 10:
        return
    if kind == "geth":
        from bench.chains.geth import fund

        fund(chain.rpc_url, {address: wei})
    else:
        rpc(chain.rpc_url, "anvil_setBalance", [address, hex(wei)])


def first_error(output: str) -> str:
    """The first error line of a pulumi command's output that says more than that it failed."""
    generic: tuple[str, ...] = ("error: preview failed", "error: update failed", "error: refresh failed", "error: destroy failed")
    # The engine's own note that it stopped after a resource failed: the resource's error says why.
    generic += ("error: resource monitor has terminated, shutting down",)
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("error:")]
    specific = [line for line in lines if line.lower() not in generic]
    return (specific or lines or [""])[0][:500]


def backend_url(state_dir: str) -> str:
    """The file backend at ``state_dir``, writing no metadata sidecars.  By default the blob library
    under Pulumi's file backend (gocloud fileblob) writes each state file atomically (a temporary
    file renamed) but its ``.attrs`` sidecar in place: a `pulumi up` killed between the two leaves
    an empty sidecar, and every later command fails with "failed to load checkpoint: EOF" (seen
    in tests/test_engine_kill.py).  ``metadata=skip`` writes none; Pulumi reads nothing from them."""
    return "file://" + os.path.abspath(state_dir) + "?metadata=skip"


def pulumi_command(engine: Engine) -> auto.PulumiCommand:
    """The Automation API's handle on the engine's CLI.  PulumiCommand runs ``<root>/bin/pulumi``:
    an ordinary install is laid out so (``~/.pulumi/bin``); the built engine's directory is reached
    through a ``bin`` link in the cache.  The version was checked when the engine was located."""
    bin_dir = os.path.dirname(engine.pulumi)
    if os.path.basename(bin_dir) == "bin":
        root = os.path.dirname(bin_dir)
    else:
        root = os.path.join(cache_root(), "pulumi-command", os.path.basename(bin_dir))
        link = os.path.join(root, "bin")
        if os.path.realpath(link) != os.path.realpath(bin_dir):
            os.makedirs(root, exist_ok=True)
            tmp = f"{link}.{os.getpid()}.tmp"
            os.symlink(bin_dir, tmp)
            os.replace(tmp, link)
    return auto.PulumiCommand(root=root, skip_version_check=True)


def command_failure(e: auto.CommandError, what: str) -> LocalStackError:
    """An Automation API command's failure (its message is the command's code, stdout and stderr)
    as one line: the exit code and the first specific error."""
    text = str(e)
    code = re.search(r"code: (-?\d+)", text)
    detail = first_error(text)
    return LocalStackError(f"{what}: exit {code.group(1) if code else '?'}" + (f": {detail}" if detail else ""))


@dataclass
class StackWorkspace:
    """One stack of this project under the real CLI, with its backend, secrets and config file."""

    engine: Engine
    stack: str
    state_dir: str
    secrets_dir: str
    stack_dir: str
    config: dict  # the stack's plain config (keep-cd:… keys), as a Pulumi.<stack>.yaml holds it
    config_source: str = ""  # where config came from, for error messages
    project_dir: str = ROOT
    extra_env: dict = field(default_factory=dict)
    chain_kind: str = "anvil"  # what ensure_local_chain starts and how accounts are funded
    _selected: tuple | None = field(default=None, init=False, repr=False, compare=False)  # (its environment, the stack)

    @property
    def config_file(self) -> str:
        return os.path.join(self.stack_dir, f"Pulumi.{self.stack}.yaml")

    @property
    def passphrase_file(self) -> str:
        return os.path.join(self.secrets_dir, PASSPHRASE)

    def secret(self, name: str, make) -> str:
        return _secret_file(self.secrets_dir, name, make)

    def env(self) -> dict:
        """The environment of every pulumi command here (no passphrase in it: a file)."""
        os.makedirs(self.state_dir, exist_ok=True)
        env = self.engine.env(PULUMI_BACKEND_URL=backend_url(self.state_dir))
        if os.path.exists(self.passphrase_file):  # made by init(); without it pulumi says it needs one
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = self.passphrase_file
        for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "KEEP_CD_DEPLOYER_KEY", "KEEP_CD_OPERATOR_MNEMONIC"):
            env.pop(name, None)  # the stack's own secrets only, never the caller's
        env.update(self.extra_env)
        return env

    def args(self, args: Sequence[str]) -> list:
        """``args`` with ``--stack`` and ``--config-file`` added where the command takes them."""
        args = list(args)
        if not args:
            return args
        command = args[0]
        extra = []
        if command in _STACK_COMMANDS and "--stack" not in args and "-s" not in args and args[1:2] not in (["init"], ["ls"]):
            extra += ["--stack", self.stack]
        if command in _CONFIG_FILE_COMMANDS and "--config-file" not in args:
            extra += ["--config-file", self.config_file]
        return args + extra

    def renders_yaml(self) -> bool:
        return bool(_config_value(self.config, "renderYamlToDirectory"))

    def command_env(self, args: Sequence[str]) -> dict:
        env = self.env()
        if list(args[:1]) == ["refresh"] and self.renders_yaml():
            # Rendered YAML has no cluster to read: the Kubernetes provider then keeps each object's
            # recorded state (it would fail the refresh otherwise), while the chain resources read
            # the chain.  Only for refresh: its Check would skip new inputs too.
            env["PULUMI_K8S_SKIP_UPDATE_UNREACHABLE"] = "true"
        return env

    def automation_env(self) -> dict:
        """``env()`` for the Automation API, which lays what it is given over this process's
        environment: what ``env()`` leaves out is set empty here (the program reads an empty key as
        none), and a caller's PULUMI_CONFIG_PASSPHRASE, which pulumi would prefer to the stack's
        passphrase file, is replaced by that file's passphrase."""
        env = self.env()
        for name in ("PULUMI_ACCESS_TOKEN", "KEEP_CD_DEPLOYER_KEY", "KEEP_CD_OPERATOR_MNEMONIC"):
            env[name] = ""
        if "PULUMI_CONFIG_PASSPHRASE" in os.environ and os.path.exists(self.passphrase_file):
            env["PULUMI_CONFIG_PASSPHRASE"] = self.secret(PASSPHRASE, lambda: "")
        return env

    def workspace(self) -> auto.LocalWorkspace:
        """The Automation API's workspace of this stack: stack_dir, which holds the project file
        pointing at the program (``write_project_file``) and the stack's config file."""
        return auto.LocalWorkspace(
            work_dir=self.stack_dir,
            pulumi_home=self.engine.pulumi_home,
            env_vars=self.automation_env(),
            pulumi_command=pulumi_command(self.engine),
            secrets_provider="passphrase",
        )

    def automation_stack(self) -> auto.Stack:
        """The stack, selected once for an environment (every later command names it with
        ``--stack``); selected again when the environment changed (``extra_env``: another
        kubeconfig, say), since a workspace keeps the environment it was made with."""
        env = self.automation_env()
        if self._selected is None or self._selected[0] != env:
            try:
                self._selected = (env, auto.Stack.select(self.stack, self.workspace()))
            except auto.CommandError as e:
                raise command_failure(e, f"pulumi stack select {self.stack}") from None
        return self._selected[1]

    def write_project_file(self) -> None:
        """stack_dir/Pulumi.yaml: the project's, with ``main`` at the project directory (where the
        program runs from, its relative paths included) and the virtualenv there too."""
        with open(os.path.join(self.project_dir, "Pulumi.yaml")) as f:
            project = yaml.safe_load(f)
        project["main"] = os.path.abspath(self.project_dir)
        runtime = project.get("runtime")
        options = runtime.get("options") if isinstance(runtime, dict) else None
        if options and options.get("virtualenv"):
            options["virtualenv"] = os.path.join(os.path.abspath(self.project_dir), options["virtualenv"])
        os.makedirs(self.stack_dir, exist_ok=True)
        with open(os.path.join(self.stack_dir, "Pulumi.yaml"), "w") as f:
            f.write(f"# Generated by keep-cd (bench/engine/local_stack.py) from {os.path.join(self.project_dir, 'Pulumi.yaml')}.\n")
            yaml.safe_dump(project, f, sort_keys=False)

    def run(
        self,
        args: Sequence[str],
        *,
        capture: bool = False,
        input_text: str | None = None,
        check: bool = True,
        timeout: float | None = None,
        extra_env: dict | None = None,
    ):
        """``pulumi <args>`` on this stack, from the project directory (``extra_env`` added to its
        environment).  For what the Automation API does not model: any command as typed
        (``scripts/pulumi-local``, and tests that hold the CLI's own output and exit code to
        account), ``preview --json`` (the document import and the change report read), and a
        secret set through stdin (the Automation API's set_config puts the value on the command
        line, where ``ps`` shows it)."""
        proc = subprocess.run(
            [self.engine.pulumi, *self.args(args)],
            cwd=self.project_dir,
            env={**self.command_env(args), **(extra_env or {})},
            text=True,
            input=input_text,
            capture_output=capture,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            detail = first_error((proc.stdout or "") + "\n" + (proc.stderr or "")) if capture else ""
            raise LocalStackError(f"pulumi {' '.join(args[:2])} ({self.stack}): exit {proc.returncode}" + (f": {detail}" if detail else ""))
        return proc

    def exists(self) -> bool:
        if not os.path.exists(os.path.join(self.stack_dir, "Pulumi.yaml")):
            self.write_project_file()
        try:
            stacks = self.workspace().list_stacks()
        except auto.CommandError as e:
            raise command_failure(e, "pulumi stack ls") from None
        return any(summary.name.split("/")[-1] == self.stack for summary in stacks)

    def write_config_file(self) -> dict:
        """The CLI's config file: ``config`` plus what the CLI keeps there (salt, secure values)."""
        current: dict = {}
        if os.path.exists(self.config_file):
            with open(self.config_file) as f:
                current = yaml.safe_load(f) or {}
        merged: dict = {"config": dict(self.config)}
        for key, value in (current.get("config") or {}).items():
            if isinstance(value, dict) and set(value) == {"secure"}:
                merged["config"][key] = value
        if current.get("encryptionsalt"):
            merged["encryptionsalt"] = current["encryptionsalt"]
        self.write_project_file()
        tmp = self.config_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(
                f"# Generated by keep-cd (bench/engine/local_stack.py) from {self.config_source or 'the stack config'}; secure values by `pulumi config set --secret`.\n"
            )
            yaml.safe_dump(merged, f, sort_keys=True)
        os.replace(tmp, self.config_file)
        return merged

    def init(self) -> None:
        """Create the stack with the passphrase secrets provider.  Creating it writes the salt
        into the stack's config file in the workspace (stack_dir), never into the project's own
        Pulumi.<stack>.yaml."""
        self.secret(PASSPHRASE, lambda: secrets.token_hex(32))
        self.write_project_file()
        if os.path.exists(self.config_file):
            with open(self.config_file) as f:
                if "encryptionsalt" not in (yaml.safe_load(f) or {}):
                    os.remove(self.config_file)
        try:
            auto.Stack.create(self.stack, self.workspace())
        except auto.CommandError as e:
            raise command_failure(e, f"pulumi stack init {self.stack}") from None

    def set_secrets(self, values: dict) -> list:
        """``pulumi config set --secret`` each value the config file does not hold already (through
        stdin, never a command line); returns the keys set."""
        shown = json.loads(self.run(["config", "--show-secrets", "--json"], capture=True).stdout or "{}")
        changed = []
        for key, value in values.items():
            if (shown.get(f"{PROJECT}:{key}") or {}).get("value") == value:
                continue
            self.run(["config", "set", "--secret", key], capture=True, input_text=value)
            changed.append(key)
        return changed

    def chain(self) -> LocalChain:
        return local_chain_settings(self.config, self.config_source or f"stack {self.stack}")

    def check_ready(self, create: bool) -> bool:
        """Whether the stack exists; refuses, before anything runs, a stack that does not exist
        (unless ``create``) and one whose passphrase file is gone (its secrets cannot be read)."""
        exists = self.exists()
        if not exists and not create:
            raise LocalStackError(f"stack {self.stack} does not exist in {self.state_dir} yet (run `make local` to create it)")
        if exists and not os.path.exists(self.passphrase_file):
            raise LocalStackError(
                f"{self.passphrase_file}: missing, and stack {self.stack}'s secrets are encrypted with it "
                f"(restore the file, or start the stack over: `make clean`)"
            )
        return exists

    def prepare(self, *, start_chain: bool = True, fund: bool = True, create: bool = True) -> LocalChain:
        """What a command on this stack needs: chain (started if absent), secrets, stack, config."""
        from .engine import check_plugins

        check_plugins(self.engine, self.project_dir)
        chain = self.chain()
        exists = self.check_ready(create)
        if start_chain:
            ensure_local_chain(chain, log_dir=os.path.dirname(os.path.abspath(self.state_dir)), kind=self.chain_kind)
        key = self.secret(SECRET_FILES["deployerPrivateKey"], new_deployer_key)
        if fund:
            fund_local_account(chain, key, self.chain_kind)
        if not exists:
            self.init()
        self.write_config_file()
        self.set_secrets({"deployerPrivateKey": key, "operatorMnemonic": self.secret(SECRET_FILES["operatorMnemonic"], new_mnemonic)})
        return chain

    def import_contracts(self, source_args: Sequence[str]) -> str:
        """``pulumi import`` of a contract set another tool deployed, sending nothing
        (contracts_step/import_source.py: ``--truffle [NETWORK]`` or ``--hardhat-deploy DIR``)."""
        preview = self.run(["preview", "--json"], capture=True, check=False, extra_env={"KEEP_CD_IMPORT_PREVIEW": "1"})
        if preview.returncode != 0:
            raise LocalStackError(
                f"pulumi preview ({self.stack}) for the import: {first_error(preview.stdout + preview.stderr) or 'failed'}"
            )
        preview_path = os.path.join(self.stack_dir, "import-preview.json")
        with open(preview_path, "w") as f:
            f.write(preview.stdout)
        key = self.secret(SECRET_FILES["deployerPrivateKey"], new_deployer_key)
        try:
            made = subprocess.run(
                [sys.executable, "-m", "contracts_step.import_source", preview_path, *source_args, "--project-dir", self.project_dir],
                cwd=self.project_dir,
                capture_output=True,
                text=True,
                env={**os.environ, "KEEP_CD_DEPLOYER_KEY": key},
            )
        finally:
            os.remove(preview_path)
        if made.returncode != 0:
            raise LocalStackError(
                made.stderr.strip().splitlines()[-1].removeprefix("error: ") if made.stderr.strip() else "import file: failed"
            )
        doc = json.loads(made.stdout)
        try:
            imported = self.automation_stack().import_resources(
                resources=doc["resources"], name_table=doc.get("nameTable"), protect=False, generate_code=False
            )
        except auto.CommandError as e:
            raise command_failure(e, f"pulumi import ({self.stack})") from None
        return imported.stdout

    def outputs(self, show_secrets: bool = False) -> dict:
        """The stack's outputs; a secret one as ``[secret]`` unless ``show_secrets``."""
        try:
            outputs = self.automation_stack().outputs()
        except auto.CommandError as e:
            raise command_failure(e, f"pulumi stack output ({self.stack})") from None
        return {name: value.value if show_secrets or not value.secret else "[secret]" for name, value in outputs.items()}

    def export(self) -> dict:
        """The stack's state (``pulumi stack export --show-secrets``): secrets in plain, in memory."""
        try:
            return dict(self.automation_stack().export_stack().deployment or {})
        except auto.CommandError as e:
            raise command_failure(e, f"pulumi stack export ({self.stack})") from None


def applied_to_cluster(ws: StackWorkspace, kubeconfig: str, **changes) -> StackWorkspace:
    """``ws`` applying its fleet to the cluster of ``kubeconfig`` instead of rendering YAML: no
    ``renderYamlToDirectory``, so the program's default Kubernetes provider reads ``KUBECONFIG``;
    ``changes`` replace other fields (another stack name and directories)."""
    config = {k: v for k, v in ws.config.items() if k != f"{PROJECT}:renderYamlToDirectory"}
    return dataclasses.replace(ws, config=config, extra_env={**ws.extra_env, "KUBECONFIG": kubeconfig}, **changes)


def fleet_on_chain_port(config: dict) -> dict:
    """The local fleet's chain endpoints on keep-cd:rpcUrl's port: the clients' websocket and
    JSON-RPC are served where the deployer's JSON-RPC is (anvil and geth as started here serve both
    on one port), under the fleet's own host name."""
    from urllib.parse import urlsplit

    fleet = _config_value(config, "fleet")
    rpc_url = _config_value(config, "rpcUrl")
    if not isinstance(fleet, dict) or not isinstance(fleet.get("ethereum"), dict) or not isinstance(rpc_url, str):
        return config
    port = urlsplit(rpc_url.strip()).port
    ethereum = {}
    for key, value in fleet["ethereum"].items():
        parts = urlsplit(value) if isinstance(value, str) else None
        ethereum[key] = parts._replace(netloc=f"{parts.hostname}:{port}").geturl() if parts and parts.hostname and port else value
    return {**config, f"{PROJECT}:fleet": {**fleet, "ethereum": ethereum}}


def local_workspace(engine: Engine, chain: str = "anvil", kubeconfig: str | None = None) -> StackWorkspace:
    """The ``local`` stack of ``make local``: everything under build/ (build/geth/ on geth, whose
    chain id and port differ: the committed config names anvil's).  With ``kubeconfig`` (`make
    local CLUSTER=kwok`, bench/cluster/): the stack ``local-cluster``, which applies the fleet to that
    cluster instead of rendering YAML; a stack of its own (state, deployer key, operators), so the
    rendered stack's objects never move providers."""
    if chain not in LOCAL_CHAINS:
        raise LocalStackError(f"CHAIN={chain}: not a local chain (expected one of {', '.join(LOCAL_CHAINS)})")
    spec = LOCAL_CHAINS[chain]
    config = committed_config("local")
    if chain != "anvil":
        config.update({"keep-cd:chainId": str(spec["chain_id"]), "keep-cd:rpcUrl": f"http://127.0.0.1:{spec['port']}"})
        config["keep-cd:renderYamlToDirectory"] = os.path.join(spec["dir"], "manifests")
    config = fleet_on_chain_port(config)
    ws = StackWorkspace(
        engine=engine,
        stack="local",
        state_dir=os.path.join(spec["dir"], "pulumi-state"),
        secrets_dir=os.path.join(spec["dir"], "local-secrets"),
        stack_dir=os.path.join(spec["dir"], "local-stack"),
        config=config,
        config_source="Pulumi.local.yaml" + ("" if chain == "anvil" else f" (on {chain}: chainId {spec['chain_id']}, port {spec['port']})"),
        chain_kind=chain,
    )
    if kubeconfig:
        return applied_to_cluster(
            ws,
            kubeconfig,
            stack="local-cluster",
            secrets_dir=os.path.join(spec["dir"], "local-cluster-secrets"),
            stack_dir=os.path.join(spec["dir"], "local-cluster-stack"),
            config_source=ws.config_source + ", applied to the cluster of " + kubeconfig,
        )
    return ws


# How a state export marks a secret value: this key, with this value.
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def plaintext_secrets(value):
    """A `stack export --show-secrets` value with each secret in place (its plaintext is JSON)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG[0]) == SECRET_SIG[1]:
            return plaintext_secrets(json.loads(value["plaintext"]))
        return {k: plaintext_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plaintext_secrets(v) for v in value]
    return value


def restore_manifests(ws: StackWorkspace) -> list:
    """Make the rendered directory hold exactly the stack's current objects; returns the files
    rewritten or removed.

    The Kubernetes provider renders a file only when its object changes, so a file deleted or
    edited by hand stays so through every `pulumi up` that changes nothing.  Re-rendered here from
    the stack's state (its recorded inputs, secrets decrypted in memory) with the writer the
    offline runner uses, which tests/test_engine_offline_agreement.py holds byte for byte to the
    provider's own files; written with the provider's modes (0700 directory, 0600 files)."""
    from bench.offline.manifests import MANIFEST_DIR, kubernetes_object, manifest_name, manifest_text

    render_dir = _config_value(ws.config, "renderYamlToDirectory")
    if not render_dir:
        return []
    target = os.path.join(ws.project_dir, render_dir, MANIFEST_DIR)
    wanted = {}
    for res in ws.export().get("resources") or []:
        if res["type"].startswith("kubernetes:") and not res.get("delete"):
            obj = kubernetes_object(plaintext_secrets(res.get("inputs") or {}))
            wanted[manifest_name(obj)] = manifest_text(obj)
    os.makedirs(target, mode=0o700, exist_ok=True)
    changed = []
    for name in sorted(set(os.listdir(target)) - set(wanted)):
        if name.endswith(".yaml"):
            os.remove(os.path.join(target, name))
            changed.append(name)
    for name, text in sorted(wanted.items()):
        path = os.path.join(target, name)
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        changed.append(name)
    return changed


def up(chain: str = "anvil", kubeconfig: str | None = None) -> int:
    """`make local`: a real `pulumi up` on the local stack (on the cluster of ``kubeconfig`` if
    given), then its outputs."""
    try:
        engine = locate_engine()
        print(f"pulumi {engine.version} ({engine.source}: {engine.pulumi})", file=sys.stderr)
        ws = local_workspace(engine, chain, kubeconfig)
        ws.prepare()
        try:
            ws.automation_stack().up(on_output=print, color="never")
        except auto.CommandError as e:
            raise command_failure(e, f"pulumi up ({ws.stack})") from None
        restored = restore_manifests(ws)
        if restored:
            print(f"manifests: {len(restored)} file(s) deleted or edited by hand re-rendered from the stack's state", file=sys.stderr)
        print(json.dumps(ws.outputs(), indent=2, sort_keys=True))
    except (EngineError, LocalStackError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
