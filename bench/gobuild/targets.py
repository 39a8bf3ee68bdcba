"""The Go programs keep-cd builds from the Go module proxy, each pinned: the one table of them.

Each target is a small wrapper module of ours under ``bench/gobuild/modules/<name>/`` (its go.mod and
go.sum pin every module; a dependency's own ``replace`` directives do not apply to us, which is
why we wrap instead of ``go install pkg@version``), the package to build, the version it reports
and the files it needs beside it.  ``bench.gobuild.build`` turns a target into binaries in a cache
outside the work tree, keyed by everything that goes into the build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from keep_contracts.names import CLIENT_RELEASE, CLIENT_REVISION

# The Go toolchain the builds were made with here, and the one CI installs (bench/ci/versions.py);
# every build's cache key includes the Go that actually ran.
GO_VERSION = "1.26.8"
PULUMI_VERSION = "3.274.1"
# pulumi-kubernetes v4.25.0 is commit f47bc2d6f199; the provider module has no tags of its own.
KUBERNETES_PROVIDER_VERSION = "4.25.0"
KUBERNETES_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
KUBERNETES_PROVIDER_PSEUDO_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"
PULUMI_SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
GETH_VERSION = "1.17.10"
# The test cluster (bench/cluster/): a control plane of one release, etcd and kwok.
KUBERNETES_VERSION = "1.36.3"
ETCD_VERSION = "3.6.16"
KWOK_VERSION = "0.8.0"
KWOK_MODULE = "sigs.k8s.io/kwok"
# The keep-client release is the program's (keep_contracts/names.py, standard library only, so it
# imports before any virtualenv exists): v1.3.1 is also the one v1 release the module proxy serves.
KEEP_CLIENT_VERSION = CLIENT_RELEASE
# kwok's Stages (what its simulated nodes and pods go through), as kwokctl configures them: a node
# becomes Ready and heartbeats (else the node controller taints it and evicts the pods), a pod is
# Running and Ready as soon as it is scheduled, and goes away when deleted.
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat/node-heartbeat.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)

# What the API server reports as its version (/version; without it "v0.0.0-master").
_KUBERNETES_VERSION_FLAGS = " ".join(
    f"-X {pkg}.{var}={value}"
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    for var, value in (
        ("gitVersion", "v" + KUBERNETES_VERSION),
        ("gitMajor", KUBERNETES_VERSION.split(".")[0]),
        ("gitMinor", KUBERNETES_VERSION.split(".")[1]),
        ("gitTreeState", "clean"),
    )
)

_PULUMI_VERSION_FLAG = "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v" + PULUMI_VERSION


@dataclass(frozen=True)
class ModuleFile:
    """A file shipped inside a Go module that must sit beside the built binaries."""

    module: str
    version: str
    path: str  # inside the module
    name: str  # beside the binaries


@dataclass(frozen=True)
class Target:
    name: str
    version: str
    # (package as `go build` names it from within the wrapper module, binary name), built into one
    # directory: programs that expect each other beside them (the CLI and its Python host).
    binaries: tuple
    ldflags: str = ""
    tags: str = ""
    cgo: bool = False
    module_files: tuple = ()
    # Writes generated files into the build directory (a copy of the wrapper module) before the
    # build: e.g. files a package embeds that its module does not ship.
    generate: Callable[[str, Callable[[str, str], str]], None] | None = None
    notes: tuple = field(default_factory=tuple)


def _kubernetes_embeds(build_dir: str, module_dir: Callable[[str, str], str]) -> None:
    """The provider's main package embeds schema-embed.json and terraform-mapping-embed.json, which
    its release build generates from the committed schema.json and terraform-mapping.json (with
    the release version set in the schema); the module does not ship them, so we make them here."""
    source = os.path.join(module_dir(KUBERNETES_PROVIDER_MODULE, KUBERNETES_PROVIDER_PSEUDO_VERSION), "cmd", "pulumi-resource-kubernetes")
    with open(os.path.join(source, "schema.json")) as f:
        schema = json.load(f)
    schema["version"] = KUBERNETES_PROVIDER_VERSION
    with open(os.path.join(build_dir, "schema-embed.json"), "w") as f:
        json.dump(schema, f, separators=(",", ":"))
    with open(os.path.join(source, "terraform-mapping.json")) as f:
        mapping = json.load(f)
    with open(os.path.join(build_dir, "terraform-mapping-embed.json"), "w") as f:
        json.dump(mapping, f, separators=(",", ":"))


TARGETS = {
    t.name: t
    for t in (
        Target(
            name="pulumi",
            version=PULUMI_VERSION,
            # The CLI finds its Python language host and the dynamic-provider plugin beside itself
            # (bundled plugins), so all of them share one directory and one wrapper module.
            binaries=(
                ("github.com/pulumi/pulumi/pkg/v3/cmd/pulumi", "pulumi"),
                ("./pulumi-language-python", "pulumi-language-python"),
            ),
            ldflags=_PULUMI_VERSION_FLAG,
            tags="osusergo,grpcnotrace",
            # The program runner and the dynamic providers' plugin are scripts in the SDK module.
            module_files=(
                ModuleFile(
                    PULUMI_SDK_MODULE, "v" + PULUMI_VERSION, "python/cmd/pulumi-language-python-exec", "pulumi-language-python-exec"
                ),
                ModuleFile(
                    PULUMI_SDK_MODULE, "v" + PULUMI_VERSION, "python/dist/pulumi-resource-pulumi-python", "pulumi-resource-pulumi-python"
                ),
            ),
        ),
        Target(
            name="pulumi-resource-kubernetes",
            version=KUBERNETES_PROVIDER_VERSION,
            binaries=((".", "pulumi-resource-kubernetes"),),
            ldflags="-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=" + KUBERNETES_PROVIDER_VERSION,
            generate=_kubernetes_embeds,
        ),
        Target(
            # A second real chain for the tests and benchmarks (bench/chains/geth.py): `geth --dev`.
            # Pure Go (CGO_ENABLED=0): secp256k1 and KZG fall back to their Go implementations,
            # which is all a dev chain needs, and no C toolchain is required.
            name="geth",
            version=GETH_VERSION,
            binaries=(("github.com/ethereum/go-ethereum/cmd/geth", "geth"),),
        ),
        Target(
            # The test cluster's control plane (bench/cluster/): one wrapper module, one release; the
            # three share most of their packages, so building them together costs little more
            # than the API server alone.  kube-scheduler puts kwok's pods on kwok's nodes.
            name="kubernetes",
            version=KUBERNETES_VERSION,
            binaries=(
                ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"),
                ("k8s.io/kubernetes/cmd/kube-controller-manager", "kube-controller-manager"),
                ("k8s.io/kubernetes/cmd/kube-scheduler", "kube-scheduler"),
            ),
            ldflags=_KUBERNETES_VERSION_FLAGS,
        ),
        Target(
            # The API server's store; the release's own main is etcdmain.Main (bench/gobuild/modules/etcd/main.go).
            name="etcd",
            version=ETCD_VERSION,
            binaries=((".", "etcd"),),
        ),
        Target(
            # Simulated nodes and pods: pods scheduled on its nodes run and become Ready at once.
            name="kwok",
            version=KWOK_VERSION,
            binaries=((KWOK_MODULE + "/cmd/kwok", "kwok"),),
            module_files=tuple(
                ModuleFile(KWOK_MODULE, "v" + KWOK_VERSION, path, "stage-" + os.path.basename(path)) for path in KWOK_STAGES
            ),
        ),
        Target(
            # The service keep-cd delivers, run on this machine by the fleet runner (bench/fleet/) on
            # the manifests `make local` rendered.  cgo: keep-core's go-ethereum needs its C
            # secp256k1.  A replace directive in the wrapper's go.mod (modules/keep-client).
            name="keep-client",
            version=KEEP_CLIENT_VERSION,
            binaries=(("github.com/keep-network/keep-core", "keep-client"),),
            ldflags=f"-X main.version=v{KEEP_CLIENT_VERSION} -X main.revision={CLIENT_REVISION}",
            cgo=True,
        ),
    )
}
