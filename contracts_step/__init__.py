"""The contracts step: artifacts (``artifacts``, ``import_source``), the migration plan as data
(``plan``, ``plans``, ``keep_plan``), the migration itself (``migrate``: what changed by content
key, deployed in pipelined batches, adopted after a kill) and the dynamic resources that run it and
publish the addresses (``provider.ContractsMigration``, ``addresses.ContractAddresses``).

May import ``chain`` (and ``keep_contracts``); nothing else of keep-cd.
"""
