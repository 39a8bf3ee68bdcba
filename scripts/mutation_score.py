"""The mutation score of a `make mutation` run: what mutmut left in mutants/, for the mutants the
Makefile selected (the same globs), per module and in all; the survivors are written to
mutants/survivors.txt (``mutmut show <name>`` shows each).

Score = mutants a test killed (or timed out on) / every selected mutant.  A mutant with no test
reaching it counts as survived.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import pathlib
import sys

from mutmut.stats import status_by_exit_code

DETECTED = {"killed", "timeout", "caught by type check"}


def main(patterns: list) -> int:
    counts: dict = collections.defaultdict(collections.Counter)
    survivors = []
    for meta in sorted(pathlib.Path("mutants").rglob("*.py.meta")):
        if meta.parts[1] == "tests":
            continue
        module = ".".join(meta.relative_to("mutants").with_suffix("").with_suffix("").parts)
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
                continue
            status = status_by_exit_code[code]
            counts[module][status] += 1
            if status not in DETECTED:
                survivors.append(f"{status}\t{name}")
    total: collections.Counter[str] = collections.Counter()
    print(f"{'module':32} {'mutants':>8} {'killed':>7} {'survived':>9} {'score':>6}")
    for module, c in sorted(counts.items()):
        total.update(c)
        n, k = sum(c.values()), sum(c[s] for s in DETECTED)
        print(f"{module:32} {n:8} {k:7} {n - k:9} {100 * k / n:5.1f}%")
    n, k = sum(total.values()), sum(total[s] for s in DETECTED)
    if not n:
        print("no mutants found: run `make mutation` first", file=sys.stderr)
        return 1
    print(f"{'all':32} {n:8} {k:7} {n - k:9} {100 * k / n:5.1f}%   ({', '.join(f'{s}: {v}' for s, v in sorted(total.items()))})")
    pathlib.Path("mutants/survivors.txt").write_text("".join(line + "\n" for line in survivors))
    if total["not checked"]:
        print(f"{total['not checked']} mutants were not checked: the run did not finish", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
