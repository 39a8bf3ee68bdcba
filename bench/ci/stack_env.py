"""Print, as shell `export` lines, what a CI job needs to know about a stack before Pulumi runs:
where its GCP project, cluster, registry and chain Service are.

Read from the stack file's `access` section through settings/, so CI and the program agree
and a bad value fails here with the same one-line error.  Usage (CI sources the output):

    .venv/bin/python -m bench.ci.stack_env keep-dev > build/ci/keep-dev.env
"""

from __future__ import annotations

import shlex
import sys
from urllib.parse import urlparse

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT


def stack_env(stack: str, project_dir: str = ROOT) -> dict:
    import pulumi

    from bench.offline.runner import load_stack_config
    from settings import load_access, load_contracts

    config, _ = load_stack_config(project_dir, stack)
    pulumi.runtime.set_all_config(config, [])
    cfg = pulumi.Config("keep-cd")
    contracts = load_contracts(cfg)
    access = load_access(cfg, pulumi.Config("gcp"), stack=stack)
    if access is None:
        raise ValueError(f"stack {stack}: config keep-cd:access is not enabled, so CI has no GCP environment for it")
    url = urlparse(contracts.rpc_url)
    env = {
        "KEEP_CD_STACK": stack,
        "ACCESS_MODE": access.mode,
        "GCP_PROJECT": access.project,
        "GCP_REGION": access.region,
        "GKE_CLUSTER": access.cluster,
        "GKE_LOCATION": access.cluster_location,
        "REGISTRY_HOST": f"{access.registry_location}-docker.pkg.dev",
        "IMAGE_REGISTRY": f"{access.registry_location}-docker.pkg.dev/{access.project}/{access.registry_repository}",
        "DEPLOYER_RPC_URL": contracts.rpc_url,
        "DEPLOYER_RPC_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
    }
    if access.chain_service is not None:
        env.update(
            CHAIN_NAMESPACE=access.chain_service.namespace,
            CHAIN_SERVICE=access.chain_service.name,
            CHAIN_PORT=str(access.chain_service.port),
        )
    if access.bastion is not None:
        env.update(
            BASTION_ZONE=access.bastion.zone,
            JUMP_HOST_NAME=f"{access.name_prefix}-jump",
            UTILITY_HOST_NAME=f"{access.name_prefix}-utility",
        )
    return env


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: stack_env.py <stack>", file=sys.stderr)
        return 2
    try:
        env = stack_env(argv[0])
    except Exception as e:  # one line for the CI log, like the program's own errors
        print(f"error: {e}", file=sys.stderr)
        return 1
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
