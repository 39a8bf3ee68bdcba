"""`python -m bench <name> [args]`: runs bench/<name>.py's main(argv); its last printed line is JSON."""

import importlib
import pkgutil
import sys

import bench


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    if not argv or argv[0] not in names:
        print(f"usage: python -m bench <{'|'.join(names)}> [--json] ...", file=sys.stderr)
        return 2
    return importlib.import_module(f"bench.{argv[0]}").main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
