"""The versions of the tools CI installs, each read from its one home, as shell exports:

- the Pulumi CLI and its Kubernetes plugin follow the SDKs requirements.txt pins (``pulumi``,
  ``pulumi-kubernetes``): the CLI at the Python SDK's version, the plugin at the Kubernetes SDK's;
- Go is the toolchain the Go builds are made with (bench/gobuild/targets.py);
- Python and the Google Cloud CLI are pinned here (nothing else uses them).

``python3 -m bench.ci.versions`` (the standard library only: it runs before any install).
"""

from __future__ import annotations

import sys

from bench import requirement_pin
from bench.gobuild.targets import GO_VERSION

PYTHON_VERSION = "3.11"
GCLOUD_VERSION = "502.0.0"


def tool_versions() -> dict:
    return {
        "PULUMI_VERSION": requirement_pin("pulumi"),
        "PULUMI_KUBERNETES_VERSION": requirement_pin("pulumi-kubernetes"),
        "GO_VERSION": GO_VERSION,
        "PYTHON_VERSION": PYTHON_VERSION,
        "GCLOUD_VERSION": GCLOUD_VERSION,
    }


def main() -> int:
    for name, version in tool_versions().items():
        print(f"export {name}={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
