"""What every step that talks to an Ethereum node shares: keep-cd's errors (and, as the refactor lands, the transaction sender, fee policy and dynamic-provider base).

Imports nothing from keep-cd's other packages: contracts_step, operators, components and the InitContainer import from here.
"""
