"""Development chains beside anvil (offline_stack/anvil.py): geth in developer mode (geth.py)."""
