"""`python -m mlplatform.observability.dashboards [--check] [--output DIR]`: (re)generate the dashboards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlplatform.observability.dashboards import differences, write
from mlplatform.observability.paths import DASHBOARDS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlplatform.observability.dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="Fail if regeneration would change anything.")
    parser.add_argument("--output", type=Path, default=DASHBOARDS_DIR, help="Dashboards folder of the chart.")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.output)
        for problem in problems:
            print(f"{args.output}/{problem}", file=sys.stderr)
        if problems:
            print("Run `python -m mlplatform.observability.dashboards` and commit the result.", file=sys.stderr)
            return 1
        print(f"dashboards in {args.output} are up to date")
        return 0
    changed = write(args.output)
    print(f"wrote {', '.join(changed)}" if changed else f"dashboards in {args.output} are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
