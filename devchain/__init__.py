"""Development chains beside anvil (offline_stack/anvil.py): geth in developer mode (geth.py).

May import ``gobuild`` (the pinned geth) and ``offline_stack.anvil``; used by tests, benchmarks and
``pulumi_cli`` only."""
