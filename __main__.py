"""keep-cd: contracts, operators and keep-clients of one environment, as one Pulumi program.

Wiring only: settings come from stack config (stack_settings), each part is a resource or
component of its own, and every dependency between them is an Output, so the engine orders
chain before cluster by itself.
"""

import pulumi

from contracts_step.provider import ContractsMigration, ContractsMigrationArgs
from stack_settings import load_settings

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
            address_book=contracts.address_book,
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
