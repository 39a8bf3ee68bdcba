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
