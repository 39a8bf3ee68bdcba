"""Development chains beside anvil (bench/chains/anvil.py): geth in developer mode (geth.py).

May import ``bench.gobuild`` (the pinned geth) and ``bench.chains.anvil``; used by tests, benchmarks and
``bench.engine`` only."""
