"""``python -m bench.fleet run|stop|status [--chain anvil|geth]``: the local stack's rendered fleet as
keep-client processes on this machine (`make local FLEET=run`, `make stop-fleet`).

  run     start every client of the rendered manifests (bootstrap first), wait until all are
          connected, print what their /diagnostics and /metrics say (JSON); exit 1 if not all are
  stop    stop the clients a run started (both chains' unless --chain)
  status  print what the running clients' endpoints say
"""

from __future__ import annotations

import argparse
import sys

from .pods import FleetInputError
from .runner import FleetError
from .sandbox import SandboxError


def main(argv=None) -> int:
    from bench.engine.local_stack import LOCAL_CHAINS

    ap = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("run", "stop", "status"))
    ap.add_argument("--chain", choices=sorted(LOCAL_CHAINS), default=None, help="the local chain (default anvil; stop: both)")
    args = ap.parse_args(argv)
    from . import local

    try:
        if args.command == "stop":
            return local.main_stop(args.chain)
        if args.command == "status":
            return local.main_status(args.chain or "anvil")
        return local.main_run(args.chain or "anvil")
    except (FleetError, FleetInputError, SandboxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
