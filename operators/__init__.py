"""The keep-clients' operator accounts: keys derived from the operators' mnemonic and their V3
keystores (``keys``, ``accounts.OperatorAccounts``), and their funding, staking and authorization
on chain, read first so a second run sends nothing (``staking``, ``provider.OperatorStakes``).

May import ``chain`` and ``keep_contracts``; nothing else of keep-cd.
"""
