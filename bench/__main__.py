"""Dispatch `python -m bench <name> [args]` to bench/benchmarks/<name>.py's main(argv)."""

import importlib
import pkgutil
import sys

from bench import benchmarks


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print(f"usage: python -m bench <{'|'.join(names)}> [--json] [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.benchmarks.{sys.argv[1]}")
    return module.main(sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
