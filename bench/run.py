"""`make bench`: every benchmark, its figures against their targets, and the raw numbers
in bench/results/. `--quick` finishes in a few minutes; the full run takes longer and
measures longer.

    .venv/bin/python -m bench.run [--quick] [--only serving,stampede,refresh]
"""

from __future__ import annotations

import argparse
import shutil
import sys

from bench import harness

BENCHMARKS = ("serving", "stampede", "refresh")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("The serving benchmark needs wrk: apt-get install wrk (make bench installs it).", file=sys.stderr)
        return 2
    chosen = [name for name in args.only.split(",") if name]
    env = harness.bench_env()
    harness.prepare_database(env)
    harness.setup_django(env)
    table: list[tuple[str, str, str, bool]] = []
    for name in chosen:
        module = __import__(f"bench.{name}", fromlist=["run", "verdicts"])
        results = module.run(env, quick=args.quick)
        results["machine"] = harness.machine()
        path = harness.write_result(name, results)
        print(f"[{name}] raw results: {path.relative_to(harness.ROOT)}", flush=True)
        table.extend(module.verdicts(results))
    width = max(len(row[0]) for row in table)
    print(f"\n{'figure'.ljust(width)}  {'value':>10}  {'target':>10}  result")
    for figure, value, target, met in table:
        verdict = "" if target.startswith("(") else "pass" if met else "short"  # floors and context
        print(f"{figure.ljust(width)}  {value:>10}  {target:>10}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
