"""The ABI entries of keep-core 1.x that keep-cd calls: one home for the program (keep_contracts/staking.py,
for operators/staking.py) and the InitContainer (operator_check.py, provision_operator.py), which
ships without the artifacts (it reads contract addresses from the client's config; the ABI is the
same for every contract set).

Each entry is copied verbatim from the keep-core 1.8.0 Truffle artifacts (build/keep-core/artifacts);
tests/test_keep_abi.py fails if one differs from its artifact's entry.
"""

from .names import STAKING_CONTRACT_NAMES

TOKEN_STAKING = [
    {
        "constant": True,
        "inputs": [{"internalType": "address", "name": "_operator", "type": "address"}],
        "name": "getDelegationInfo",
        "outputs": [
            {"internalType": "uint256", "name": "amount", "type": "uint256"},
            {"internalType": "uint256", "name": "createdAt", "type": "uint256"},
            {"internalType": "uint256", "name": "undelegatedAt", "type": "uint256"},
        ],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [{"internalType": "address", "name": "_operator", "type": "address"}],
        "name": "ownerOf",
        "outputs": [{"internalType": "address", "name": "", "type": "address"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [{"internalType": "address", "name": "_operator", "type": "address"}],
        "name": "authorizerOf",
        "outputs": [{"internalType": "address", "name": "", "type": "address"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [
            {"internalType": "address", "name": "_operator", "type": "address"},
            {"internalType": "address", "name": "_operatorContract", "type": "address"},
        ],
        "name": "isAuthorizedForOperator",
        "outputs": [{"internalType": "bool", "name": "", "type": "bool"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [
            {"internalType": "address", "name": "staker", "type": "address"},
            {"internalType": "address", "name": "operatorContract", "type": "address"},
        ],
        "name": "hasMinimumStake",
        "outputs": [{"internalType": "bool", "name": "", "type": "bool"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [{"internalType": "address", "name": "_operatorContract", "type": "address"}],
        "name": "isApprovedOperatorContract",
        "outputs": [{"internalType": "bool", "name": "", "type": "bool"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [],
        "name": "initializationPeriod",
        "outputs": [{"internalType": "uint256", "name": "", "type": "uint256"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": True,
        "inputs": [],
        "name": "minimumStake",
        "outputs": [{"internalType": "uint256", "name": "", "type": "uint256"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": False,
        "inputs": [
            {"internalType": "address", "name": "_operator", "type": "address"},
            {"internalType": "address", "name": "_operatorContract", "type": "address"},
        ],
        "name": "authorizeOperatorContract",
        "outputs": [],
        "payable": False,
        "stateMutability": "nonpayable",
        "type": "function",
    },
    {
        "constant": False,
        "inputs": [{"internalType": "address", "name": "_operator", "type": "address"}],
        "name": "undelegate",
        "outputs": [],
        "payable": False,
        "stateMutability": "nonpayable",
        "type": "function",
    },
    {
        "constant": False,
        "inputs": [{"internalType": "address", "name": "_operator", "type": "address"}],
        "name": "cancelStake",
        "outputs": [],
        "payable": False,
        "stateMutability": "nonpayable",
        "type": "function",
    },
]

KEEP_TOKEN = [
    {
        "constant": True,
        "inputs": [{"internalType": "address", "name": "account", "type": "address"}],
        "name": "balanceOf",
        "outputs": [{"internalType": "uint256", "name": "", "type": "uint256"}],
        "payable": False,
        "stateMutability": "view",
        "type": "function",
    },
    {
        "constant": False,
        "inputs": [
            {"internalType": "address", "name": "_spender", "type": "address"},
            {"internalType": "uint256", "name": "_value", "type": "uint256"},
            {"internalType": "bytes", "name": "_extraData", "type": "bytes"},
        ],
        "name": "approveAndCall",
        "outputs": [{"internalType": "bool", "name": "success", "type": "bool"}],
        "payable": False,
        "stateMutability": "nonpayable",
        "type": "function",
    },
    {
        "constant": False,
        "inputs": [
            {"internalType": "address", "name": "recipient", "type": "address"},
            {"internalType": "uint256", "name": "amount", "type": "uint256"},
        ],
        "name": "transfer",
        "outputs": [{"internalType": "bool", "name": "", "type": "bool"}],
        "payable": False,
        "stateMutability": "nonpayable",
        "type": "function",
    },
]

ABIS = {STAKING_CONTRACT_NAMES["staking"]: TOKEN_STAKING, STAKING_CONTRACT_NAMES["token"]: KEEP_TOKEN}


def abi_entry(contract: str, name: str) -> dict:
    """The function ``name`` of ``contract`` (one entry per name here: no overloads are called)."""
    (entry,) = [e for e in ABIS[contract] if e["name"] == name]
    return entry
