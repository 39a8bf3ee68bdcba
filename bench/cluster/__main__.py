"""``python -m bench.cluster start|stop|status|up-local [--dir DIR] [--cluster KIND] [--chain CHAIN]``: a detached
cluster for `make local CLUSTER=kwok` (default DIR build/devcluster).

  start     start one unless one runs under DIR; print its admin kubeconfig's path
  stop      stop the processes the cluster under DIR recorded (by pid)
  status    print the kubeconfig's path and the server's version, or say it is not running
  up-local  `make local CLUSTER=<KIND> [CHAIN=…]`: start one if none runs, then `pulumi up` the
            local stack onto it (stack `local-cluster`, bench.engine.local_stack) instead of
            rendering YAML
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import PROJECT_ROOT

from .cluster import ClusterError, DevCluster, locate_binaries, running_state, stop_detached

ROOT = PROJECT_ROOT
DEFAULT_DIR = os.path.join(ROOT, "build", "devcluster")
# What `make local CLUSTER=…` accepts: the one kind of cluster built here.
CLUSTER_KINDS = ("kwok",)


def ensure_running(directory: str = DEFAULT_DIR) -> str:
    """The admin kubeconfig of the cluster under ``directory``, started (detached) if none runs."""
    state = running_state(directory)
    if state is not None:
        return state["kubeconfig"]
    stop_detached(directory)  # what is left of a cluster that lost a process
    cluster = DevCluster(directory, locate_binaries(build_missing=True))
    cluster.start()
    print(f"started a cluster at {cluster.server} under {directory} (`make stop-cluster` stops it)", file=sys.stderr)
    return cluster.admin_kubeconfig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("start", "stop", "status", "up-local"))
    ap.add_argument("--dir", default=DEFAULT_DIR)
    ap.add_argument("--cluster", default="kwok")
    ap.add_argument("--chain", default="anvil", help="the local chain (bench.engine.local_stack.LOCAL_CHAINS)")
    args = ap.parse_args(argv)
    directory = os.path.abspath(args.dir)
    if args.cluster not in CLUSTER_KINDS:
        print(
            f"error: CLUSTER={args.cluster!r} is not a cluster kind (expected {' or '.join(CLUSTER_KINDS)}, or leave it unset to render YAML)",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "up-local":
            from bench.engine.local_stack import LOCAL_CHAINS, up

            if args.chain not in LOCAL_CHAINS:  # before a cluster is started for nothing
                print(f"error: CHAIN={args.chain}: not a local chain (expected one of {', '.join(LOCAL_CHAINS)})", file=sys.stderr)
                return 2
            return up(chain=args.chain, kubeconfig=ensure_running(directory))
        if args.command == "start":
            print(ensure_running(directory))
        elif args.command == "stop":
            stopped = stop_detached(directory)
            print(f"stopped {', '.join(stopped)}" if stopped else f"no cluster running under {directory}", file=sys.stderr)
        else:
            state = running_state(directory)
            if state is None:
                print(f"no cluster running under {directory}", file=sys.stderr)
                return 1
            from .api import KubeApi

            print(f"{state['kubeconfig']}\t{KubeApi.from_kubeconfig(state['kubeconfig']).version()['gitVersion']}")
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
