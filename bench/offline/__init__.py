"""The program under ``pulumi.runtime`` mocks with keep-cd's dynamic resources executed for real
against a JSON state file (``runner``): the fast tests, the benchmarks and the change report
(``change_report``) use it; a test holds its manifests (``manifests``) to the real engine's.
``anvil`` starts the tests' chain.

May import ``contracts_step`` (and runs ``__main__.py``); nothing imports it but the tools above it
(``bench``, ``bench.chains``, ``bench.cluster``, ``bench.engine``, ``scripts``) and the tests.
"""
