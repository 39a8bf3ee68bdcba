"""keep-cd: contracts, operators and keep-clients of one environment, as one Pulumi program.

Wiring only: settings come from stack config (settings/), each part is a resource or
component of its own, and every dependency between them is an Output, so the engine orders
chain before cluster by itself.
"""

import gc

import pulumi

from chain.errors import KeepCdError
from contracts_step.provider import ContractsMigration, ContractsMigrationArgs
from settings import load_settings

# Each resource allocates thousands of short-lived SDK objects; at Python's default gen-0
# threshold (700) collections took about a third of a 100-client preview (docs/fleet.md).
gc.set_threshold(50_000, 20, 20)

try:
    settings = load_settings()
except KeepCdError as e:
    # A setting at fault is one line naming its key, not a traceback of the program (the engine
    # prints a RunError's message alone).  The offline runner re-raises the cause.
    raise pulumi.RunError(str(e)) from e

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

# What the operators and the fleet read of the address book, as a resource that stays known in a
# preview unless one of these contracts will move (contracts_step/addresses.py): a post-deploy call
# or a contract nobody here uses then rolls no client.
consumed_names = set()
if settings.operators:
    from operators.provider import STAKING_CONTRACT_NAMES

    consumed_names |= set(STAKING_CONTRACT_NAMES.values())
if settings.fleet:
    consumed_names |= set(settings.fleet.spec.contracts.values())
consumed = contracts.consumed_addresses("contract-addresses", consumed_names) if consumed_names else None

# CI's way into the environment's GCP project and cluster (off in `local`): docs/access.md.
if settings.access is not None:
    from components.push_deploy_access import PushDeployAccess, PushDeployAccessArgs

    access = PushDeployAccess("push-deploy-access", PushDeployAccessArgs.from_settings(settings.access))
    pulumi.export("ciAccess", access.summary())
    if access.deployer_key is not None:
        # Only as secrets: `pulumi stack output --show-secrets ciDeployerKey` for the CircleCI context.
        pulumi.export("ciDeployerKey", access.deployer_key)
        pulumi.export("ciPreviewerKey", access.previewer_key)

if settings.operators:
    from operators.accounts import OperatorAccounts, OperatorAccountsArgs
    from operators.provider import OperatorStakes, OperatorStakesArgs

    ops = settings.operators
    operator_accounts = OperatorAccounts(
        "operators",
        OperatorAccountsArgs(
            mnemonic=ops.mnemonic,
            clients=list(ops.clients),
            keystore=ops.keystore,
            explicit_keys=ops.explicit_keys,
            faucet=ops.provisioning == "cluster",
        ),
    )
    operator_stakes = OperatorStakes(
        "operator-stakes",
        OperatorStakesArgs(
            rpc_url=settings.contracts.rpc_url,
            chain_id=settings.contracts.chain_id,
            address_book=consumed.addresses,
            operators=operator_accounts.addresses,
            eth_threshold=ops.eth_threshold,
            eth_target=ops.eth_target,
            stake_amount=ops.stake_amount,
            beneficiary=ops.beneficiary,
            provisioning=ops.provisioning,
            faucet=operator_accounts.faucet.address if operator_accounts.faucet else None,
            on_remove=ops.on_remove,
        ),
    )
    pulumi.export("operators", operator_accounts.addresses)
    pulumi.export("operatorStakes", operator_stakes.status)

if settings.fleet:
    from components.keep_client import OperatorInit
    from components.keep_network import KeepNetwork, KeepNetworkArgs, book_address
    from operators.provider import STAKING_CONTRACT_NAMES

    # Each client runs as its operator account (mnemonic-derived keys; settings require operators
    # with a fleet), staked by operator-stakes (deploy) or by its own pod from the namespace's
    # faucet (cluster); either way its Deployment waits for operator-stakes.
    fleet_operators = {"identities": operator_accounts.identities, "start_after": [operator_stakes]}
    if ops.provisioning == "cluster":
        fleet_operators["faucet_key"] = operator_accounts.faucet.private_key
        fleet_operators["operator_init"] = OperatorInit(
            provisioning="cluster",
            token_address=consumed.addresses.apply(
                lambda book: book_address(book, STAKING_CONTRACT_NAMES["token"], "provisioning: cluster")
            ),
            eth_threshold=ops.eth_threshold,
            eth_target=ops.eth_target,
            stake_amount=ops.stake_amount,
            beneficiary={"operator": None, "owner": contracts.deployer}.get(ops.beneficiary, ops.beneficiary),
        )
    fleet_opts = None
    if settings.render_yaml_to:
        import pulumi_kubernetes as k8s

        # No cluster (local with the CLI): the provider writes each object as YAML instead.
        renderer = k8s.Provider("render-yaml", render_yaml_to_directory=settings.render_yaml_to)
        fleet_opts = pulumi.ResourceOptions(providers={"kubernetes": renderer})
    network = KeepNetwork(
        "keep-network",
        KeepNetworkArgs(
            fleet=settings.fleet.spec,
            address_book=consumed.addresses,
            **fleet_operators,
        ),
        opts=fleet_opts,
    )
    pulumi.export("fleet", network.summary)
    pulumi.export("bootstrapPeers", network.bootstrap_peers)
