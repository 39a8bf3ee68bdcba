"""A real Kubernetes cluster on this machine for the tests, the benchmark and `make local
CLUSTER=kwok`: the control plane built from Go modules (bench.gobuild), kwok for nodes and pods
(bench/cluster/cluster.py; docs/cluster.md).

May import ``bench.gobuild``, ``bench.offline`` and ``bench.engine``; used by tests, benchmarks and ``make local``."""
