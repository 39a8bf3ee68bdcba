"""The benchmarks, `python -m bench <name> --json`: each measures keep-cd and its baseline in one
run and prints one JSON object as its last line."""
