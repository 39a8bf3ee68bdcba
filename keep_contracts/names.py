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
