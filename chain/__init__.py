"""What every step that talks to an Ethereum node shares: keep-cd's errors (``errors``), the fee
policy (``fees``), the node with its chain-id and syncing guard, read without web3 (``node``),
transaction requests and the per-account lock (``tx_request``), the transaction sender
(``transactions``: pipelined nonces, JSON-RPC batches) and the dynamic-provider base of keep-cd's
chain steps (``provider``).

The bottom layer: imports nothing from keep-cd's other packages; contracts_step, operators,
components and the InitContainer import from here.  Only ``provider`` imports pulumi: the
InitContainer image copies the others (initcontainer/Dockerfile), so they import nothing beyond what
that image pins (web3 and its closure; ``fees`` no package at all).
"""
