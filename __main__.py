"""keep-cd: contracts, operators and keep-clients of one environment, as one Pulumi program.

Wiring only: settings come from stack config (settings/), each part is a resource or
component of its own, built by the function named for it below, and every dependency between
them is an Output, so the engine orders chain before cluster by itself.
"""

from __future__ import annotations

import gc
from typing import Any

import pulumi

from chain.errors import KeepCdError
from contracts_step.addresses import ContractAddresses
from contracts_step.provider import ContractsMigration, ContractsMigrationArgs
from keep_contracts.names import STAKING_CONTRACT_NAMES
from settings import AccessSettings, FleetSettings, OperatorsSettings, Settings, load_settings

# Each resource allocates thousands of short-lived SDK objects; at Python's default gen-0
# threshold (700) collections took about a third of a 100-client preview (docs/fleet.md).
gc.set_threshold(50_000, 20, 20)


def contracts_migration(settings: Settings) -> ContractsMigration:
    contracts = ContractsMigration(
        "contracts",
        ContractsMigrationArgs(
            plan=settings.contracts.plan,
            artifacts_dir=settings.contracts.artifacts_dir,
            rpc_url=settings.contracts.rpc_url,
            chain_id=settings.contracts.chain_id,
            params=settings.contracts.plan_params,
        ),
    )
    pulumi.export("addressBook", contracts.address_book)
    pulumi.export("deployer", contracts.deployer)
    return contracts


def consumed_addresses(settings: Settings, contracts: ContractsMigration) -> ContractAddresses | None:
    """What the operators and the fleet read of the address book, as a resource that stays known in
    a preview unless one of these contracts will move (contracts_step/addresses.py): a post-deploy
    call or a contract nobody here uses then rolls no client."""
    names: set[str] = set()
    if settings.operators:
        names |= set(STAKING_CONTRACT_NAMES.values())
    if settings.fleet:
        names |= set(settings.fleet.spec.contracts.values())
    return contracts.consumed_addresses("contract-addresses", names) if names else None


def push_deploy_access(access_settings: AccessSettings) -> None:
    """CI's way into the environment's GCP project and cluster (off in `local`): docs/access.md."""
    from components.push_deploy_access import PushDeployAccess, PushDeployAccessArgs

    access = PushDeployAccess("push-deploy-access", PushDeployAccessArgs.from_settings(access_settings))
    pulumi.export("ciAccess", access.summary())
    if access.deployer_key is not None:
        # Only as secrets: `pulumi stack output --show-secrets ciDeployerKey` for the CircleCI context.
        pulumi.export("ciDeployerKey", access.deployer_key)
        pulumi.export("ciPreviewerKey", access.previewer_key)


def operator_accounts_and_stakes(settings: Settings, ops: OperatorsSettings, consumed: ContractAddresses) -> tuple[Any, Any]:
    from operators.accounts import OperatorAccounts, OperatorAccountsArgs
    from operators.provider import OperatorStakes, OperatorStakesArgs

    accounts = OperatorAccounts(
        "operators",
        OperatorAccountsArgs(
            mnemonic=ops.mnemonic,
            clients=list(ops.clients),
            keystore=ops.keystore,
            explicit_keys=ops.explicit_keys,
            faucet=ops.provisioning == "cluster",
        ),
    )
    stakes = OperatorStakes(
        "operator-stakes",
        OperatorStakesArgs(
            rpc_url=settings.contracts.rpc_url,
            chain_id=settings.contracts.chain_id,
            address_book=consumed.addresses,
            operators=accounts.addresses,
            eth_threshold=ops.eth_threshold,
            eth_target=ops.eth_target,
            stake_amount=ops.stake_amount,
            beneficiary=ops.beneficiary,
            provisioning=ops.provisioning,
            faucet=accounts.faucet.address if accounts.faucet else None,
            on_remove=ops.on_remove,
        ),
    )
    pulumi.export("operators", accounts.addresses)
    pulumi.export("operatorStakes", stakes.status)
    return accounts, stakes


def fleet_operators(
    ops: OperatorsSettings, accounts: Any, stakes: Any, consumed: ContractAddresses, deployer: pulumi.Output
) -> dict[str, Any]:
    """How the fleet's clients get their operators: each runs as its operator account
    (mnemonic-derived keys; settings require operators with a fleet), staked by operator-stakes
    (deploy) or by its own pod from the namespace's faucet (cluster); either way its Deployment
    waits for operator-stakes."""
    from components.keep_client import OperatorInit
    from components.keep_network import book_address

    wiring: dict[str, Any] = {"identities": accounts.identities, "start_after": [stakes]}
    if ops.provisioning == "cluster":
        wiring["faucet_key"] = accounts.faucet.private_key
        wiring["operator_init"] = OperatorInit(
            provisioning="cluster",
            token_address=consumed.addresses.apply(
                lambda book: book_address(book, STAKING_CONTRACT_NAMES["token"], "provisioning: cluster")
            ),
            eth_threshold=ops.eth_threshold,
            eth_target=ops.eth_target,
            stake_amount=ops.stake_amount,
            beneficiary={"operator": None, "owner": deployer}.get(ops.beneficiary, ops.beneficiary),
        )
    return wiring


def keep_network(settings: Settings, fleet: FleetSettings, consumed: ContractAddresses, operators_wiring: dict[str, Any]) -> None:
    from components.keep_network import KeepNetwork, KeepNetworkArgs

    fleet_opts = None
    if settings.render_yaml_to:
        import pulumi_kubernetes as k8s

        # No cluster (local with the CLI): the provider writes each object as YAML instead.
        renderer = k8s.Provider("render-yaml", render_yaml_to_directory=settings.render_yaml_to)
        fleet_opts = pulumi.ResourceOptions(providers={"kubernetes": renderer})
    network = KeepNetwork(
        "keep-network",
        KeepNetworkArgs(fleet=fleet.spec, address_book=consumed.addresses, **operators_wiring),
        opts=fleet_opts,
    )
    pulumi.export("fleet", network.summary)
    pulumi.export("bootstrapPeers", network.bootstrap_peers)


def program() -> None:
    settings = load_settings()
    contracts = contracts_migration(settings)
    consumed = consumed_addresses(settings, contracts)
    if settings.access is not None:
        push_deploy_access(settings.access)
    if settings.operators and consumed is not None:
        accounts, stakes = operator_accounts_and_stakes(settings, settings.operators, consumed)
        if settings.fleet:
            wiring = fleet_operators(settings.operators, accounts, stakes, consumed, contracts.deployer)
            keep_network(settings, settings.fleet, consumed, wiring)


# The exit code by which Pulumi's language hosts know the program has shown its error to the user.
ERROR_SHOWN_EXIT_CODE = 32


def quiet_when_interrupted() -> None:
    """No traceback when the engine interrupts the program.  When a step fails (a bad rpcUrl, say)
    the engine stops the deployment and sends the program SIGINT; the SDK's RPCs still in flight
    then end in a KeyboardInterrupt that Python would print as a page of frames under the stack's
    diagnostics, after the one line the engine printed for the step.  Any other exception keeps
    its traceback."""
    import sys

    shown = sys.excepthook
    if getattr(shown, "keep_cd_quiet_when_interrupted", False):
        return  # once per process (the offline runner runs the program many times in one)

    def hook(kind, value, tb):
        if not issubclass(kind, KeyboardInterrupt):
            shown(kind, value, tb)

    # The interrupt can also land in the interpreter's shutdown (joining the SDK's thread pool),
    # where Python reports it as "Exception ignored in: <module 'threading'>" with its frames.
    shown_unraisable = sys.unraisablehook

    def unraisable(info):
        if not isinstance(info.exc_value, KeyboardInterrupt):
            shown_unraisable(info)

    hook.keep_cd_quiet_when_interrupted = True  # type: ignore[attr-defined]
    sys.excepthook = hook
    sys.unraisablehook = unraisable


def main() -> None:
    """The program, with keep-cd's own refusals as the engine's one `error:` line.

    Everything keep-cd refuses while the program is built (a setting, an artifacts directory, a
    plan parameter the plan cannot encode) is a KeepCdError whose message is one line naming the
    key or file: it is logged as the engine's error, and the exit code tells the language host it
    was shown, so the engine adds no line of its own (a RunError would get "program exited with
    non-zero exit code: 1" after it).  Any other exception is a bug of ours and keeps its
    traceback.  The offline runner re-raises the cause.
    """
    quiet_when_interrupted()
    try:
        program()
    except KeepCdError as e:
        pulumi.log.error(str(e))
        raise SystemExit(ERROR_SHOWN_EXIT_CODE) from e


if __name__ == "__main__":  # as the language host runs it (runpy, run_name "__main__")
    main()
