"""A real Kubernetes cluster on this machine for the tests, the benchmark and `make local
CLUSTER=kwok`: the control plane built from Go modules (gobuild), kwok for nodes and pods
(devcluster/cluster.py; docs/cluster.md).

May import ``gobuild``, ``offline_stack`` and ``pulumi_cli``; used by tests, benchmarks and ``make local``."""
