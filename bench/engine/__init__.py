"""The real Pulumi CLI as keep-cd drives it: the engine (built or on PATH), the local stack,
scratch stacks for tests and benchmarks, the fidelity script.

The top of the tooling: may import ``bench.gobuild``, ``bench.chains``, ``bench.offline``, ``settings``,
``contracts_step`` and ``chain``; the program itself never imports it."""
