"""The names of the Keep contracts keep-cd hands to others, as the contracts step's address book
(and the keep plan) names them."""

# What keep-client's configuration needs, in the order its [ethereum.ContractAddresses] lists them.
CLIENT_CONTRACTS = ("KeepRandomBeaconOperator", "TokenStaking", "KeepRandomBeaconService")

# What staking an operator calls, by role: the token staked, the staking contract, and the operator
# contract the stake is authorized for.
STAKING_CONTRACT_NAMES = {"token": "KeepToken", "staking": "TokenStaking", "operator_contract": "KeepRandomBeaconOperator"}

# The [ethereum.ContractAddresses] keys a keep-client config may give the staking contract under,
# the one keep-cd writes first (the InitContainer reads configs it did not write too).
STAKING_CONFIG_KEYS = (STAKING_CONTRACT_NAMES["staking"], "Staking", "StakingProxy")

# The keep-client release that runs on these contracts: the random-beacon v1 Go client, whose Go
# bindings match everything it calls in keep-core 1.8.0.  The fleet's default image tag is
# ``v<CLIENT_RELEASE>``, and the fleet runner builds and checks this release (bench/gobuild/targets.py);
# the revision is the release's commit, which the client prints with its version.
CLIENT_RELEASE = "1.3.1"
CLIENT_REVISION = "86922936b"
