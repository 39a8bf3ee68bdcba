"""The workbench: everything that is not the Pulumi program, one subpackage each.

- ``gobuild``: the pinned Go programs (Pulumi CLI and hosts, geth, the cluster, keep-client), built once.
- ``engine``: the real Pulumi CLI driven for the local stack, scratch stacks and import.
- ``chains``: the development chains, anvil and geth.
- ``cluster``: a real Kubernetes API server with kwok nodes.
- ``fleet``: the rendered fleet's keep-clients run as processes on this machine.
- ``offline``: the program under the SDK's mocks with its dynamic resources executed for real.
- ``ci``: what CircleCI runs besides the program (a stack's CI environment, the change report).
- ``benchmarks``: ``python -m bench <name> --json``.

The program never imports any of it.
"""

import os

# The repository: the program's Pulumi.yaml, the stack files, build/ and node_modules/ live here.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def requirement_pin(package: str) -> str:
    """The version requirements.txt pins for a Python package (``pulumi``, ``pulumi-kubernetes``):
    the one home of the SDK versions the engine and CI's Pulumi CLI and plugins follow."""
    import re

    path = os.path.join(PROJECT_ROOT, "requirements.txt")
    with open(path) as f:
        for line in f:
            m = re.match(rf"^{re.escape(package)}==([0-9][^\s#]*)", line.strip())
            if m:
                return m.group(1)
    raise ValueError(f"{path}: no pin for {package} (expected a line `{package}==<version>`)")
