"""``python3 -m bench.gobuild [--dir] TARGET...``: build pinned Go programs into keep-cd's cache.

Prints each target's binaries directory (one line per target); builds only what is not cached.
``--list`` prints the targets with their versions and whether they are built.
"""

from __future__ import annotations

import argparse
import sys

from .build import BuildError, build_all, built_dir
from .targets import TARGETS


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.gobuild", description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help=f"any of: {', '.join(sorted(TARGETS))}")
    ap.add_argument("--list", action="store_true", help="list targets, versions and cache state")
    args = ap.parse_args(argv)
    if args.list or not args.targets:
        for name, t in sorted(TARGETS.items()):
            print(f"{name}\t{t.version}\t{built_dir(t) or 'not built'}")
        return 0
    try:
        dirs = build_all(args.targets)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name in args.targets:
        print(dirs[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
