"""The Keep random beacon contracts (keep-core 1.8.0) as a migration plan.

Follows keep-core's own ``solidity/migrations/2_deploy_contracts.js`` and ``3_initialize.js`` for a
local/dev network, minus the OldTokenStaking/StakingPortBacker pair those scripts add for local
networks only to test a staking port.  Library links are not written here: the loader finds them
in the artifacts (``networks.1.links``).  Parameters come from stack config:

    initializationPeriod   TokenStaking's stake initialization period, in blocks (1 on dev chains)
    dkgContributionMargin  KeepRandomBeaconServiceImplV1.initialize's margin, in percent
"""

from .plan import DEPLOYER, Call, Deploy, MigrationPlan, calldata, config, ref

DEFAULT_PARAMS = {"initializationPeriod": 1, "dkgContributionMargin": 1}


def keep_plan() -> MigrationPlan:
    return MigrationPlan(
        name="keep",
        description="Keep random beacon, keep-core 1.8.0 Truffle artifacts",
        deploys=[
            Deploy("ModUtils"),
            Deploy("AltBn128"),
            Deploy("BLS"),
            Deploy("KeepToken"),
            Deploy("TokenGrant", args=[ref("KeepToken")]),
            Deploy("KeepRegistry"),
            # Its ownership moves to TokenStaking once; a new TokenStaking needs a new escrow.
            Deploy("TokenStakingEscrow", args=[ref("KeepToken"), ref("TokenGrant")], renew_with=["TokenStaking"]),
            Deploy("MinimumStakeSchedule"),
            Deploy("GrantStaking"),
            Deploy("Locks"),
            Deploy("TopUps"),
            Deploy(
                "TokenStaking",
                args=[
                    ref("KeepToken"),
                    ref("TokenGrant"),
                    ref("TokenStakingEscrow"),
                    ref("KeepRegistry"),
                    config("initializationPeriod"),
                ],
            ),
            Deploy("PermissiveStakingPolicy"),
            Deploy("GuaranteedMinimumStakingPolicy", args=[ref("TokenStaking")]),
            Deploy("ManagedGrantFactory", args=[ref("KeepToken"), ref("TokenGrant")]),
            Deploy("GasPriceOracle"),
            Deploy("GroupSelection"),
            Deploy("Groups"),
            Deploy("DKGResultVerification"),
            Deploy("DelayFactor"),
            Deploy("Reimbursements"),
            Deploy("KeepRandomBeaconServiceImplV1"),
            Deploy(
                "KeepRandomBeaconService",
                args=[
                    ref("KeepRandomBeaconServiceImplV1"),
                    calldata(
                        "KeepRandomBeaconServiceImplV1",
                        "initialize",
                        config("dkgContributionMargin"),
                        ref("KeepRegistry"),
                    ),
                ],
            ),
            Deploy(
                "KeepRandomBeaconOperator",
                args=[
                    ref("KeepRandomBeaconService"),
                    ref("TokenStaking"),
                    ref("KeepRegistry"),
                    ref("GasPriceOracle"),
                ],
            ),
            Deploy("KeepRandomBeaconOperatorStatistics", args=[ref("KeepRandomBeaconOperator")]),
            Deploy(
                "BeaconRewards",
                args=[ref("KeepToken"), ref("KeepRandomBeaconOperator"), ref("TokenStaking")],
            ),
        ],
        calls=[
            Call(
                "TokenStakingEscrow.transferOwnership",
                "TokenStakingEscrow",
                "transferOwnership",
                [ref("TokenStaking")],
                done_when={"function": "owner", "args": [], "equals": ref("TokenStaking")},
            ),
            # TokenGrant keeps its authorized staking contracts private: no view tells; the
            # recorded call (target + calldata) and the crash-adoption scan keep it single.
            Call("TokenGrant.authorizeStakingContract", "TokenGrant", "authorizeStakingContract", [ref("TokenStaking")]),
            Call(
                "KeepRegistry.approveOperatorContract",
                "KeepRegistry",
                "approveOperatorContract",
                [ref("KeepRandomBeaconOperator")],
                done_when={"function": "isApprovedOperatorContract", "args": [ref("KeepRandomBeaconOperator")], "equals": True},
            ),
            # The service proxy's admin is whoever deployed it: the deployer.
            Call(
                "KeepRegistry.setOperatorContractUpgrader",
                "KeepRegistry",
                "setOperatorContractUpgrader",
                [ref("KeepRandomBeaconService"), DEPLOYER],
                done_when={
                    "function": "operatorContractUpgraderFor",
                    "args": [ref("KeepRandomBeaconService")],
                    "equals": DEPLOYER,
                },
            ),
            # The proxy answers with its implementation's ABI.
            Call(
                "KeepRandomBeaconService.addOperatorContract",
                "KeepRandomBeaconService",
                "addOperatorContract",
                [ref("KeepRandomBeaconOperator")],
                abi="KeepRandomBeaconServiceImplV1",
            ),
            Call("GasPriceOracle.addConsumerContract", "GasPriceOracle", "addConsumerContract", [ref("KeepRandomBeaconOperator")]),
        ],
    )
