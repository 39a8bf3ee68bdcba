"""keep-cd: contracts, operators and keep-clients of one environment, as one Pulumi program.

Wiring only: settings come from stack config (stack_settings), each part is a resource or
component of its own, and every dependency between them is an Output, so the engine orders
chain before cluster by itself.
"""

import gc

import pulumi

from contracts_step.provider import ContractsMigration, ContractsMigrationArgs
from stack_settings import load_settings

# Each resource allocates thousands of short-lived SDK objects; at Python's default gen-0
# threshold (700) collections took about a third of a 100-client preview (docs/fleet.md).
gc.set_threshold(50_000, 20, 20)

settings = load_settings()

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

# CI's way into the environment's GCP project and cluster (off in `local`): docs/access.md.
if settings.access is not None:
    from components.push_deploy_access import PushDeployAccess, PushDeployAccessArgs

    access = PushDeployAccess("push-deploy-access", PushDeployAccessArgs.from_settings(settings.access))
    pulumi.export("ciAccess", access.summary())
    if access.deployer_key is not None:
        # Only as secrets: `pulumi stack output --show-secrets ciDeployerKey` for the CircleCI context.
        pulumi.export("ciDeployerKey", access.deployer_key)
        pulumi.export("ciPreviewerKey", access.previewer_key)

if settings.fleet:
    from components.keep_network import KeepNetwork, KeepNetworkArgs
    from components.seeded_client_keys import seeded_identities  # TEMPORARY: the operators step replaces it

    fleet = settings.fleet
    fleet_opts = None
    if settings.render_yaml_to:
        import pulumi_kubernetes as k8s

        # No cluster (local with the CLI): the provider writes each object as YAML instead.
        renderer = k8s.Provider("render-yaml", render_yaml_to_directory=settings.render_yaml_to)
        fleet_opts = pulumi.ResourceOptions(providers={"kubernetes": renderer})
    network = KeepNetwork(
        "keep-network",
        KeepNetworkArgs(
            fleet=fleet.spec,
            address_book=contracts.address_book,
            identities=seeded_identities(fleet.key_seed, [c.name for c in fleet.spec.clients], fleet.kdf_iterations),
        ),
        opts=fleet_opts,
    )
    pulumi.export("fleet", network.summary)
    pulumi.export("bootstrapPeers", network.bootstrap_peers)
