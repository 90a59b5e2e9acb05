"""`python -m bench <suite> [options]`; `python -m bench --help` lists the suites."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.suites import SUITES


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    listing = "\n".join(
        f"  {s.name:<17} {s.summary}" + (f"  [waiting: {s.waiting_for}]" if s.waiting_for else "")
        for s in SUITES
    )
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks against real PostgreSQL and uvicorn on this machine.",
        epilog=f"suites:\n{listing}\n\n`python -m bench <suite> --help` shows a suite's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="suite", metavar="<suite>", required=True)
    for suite in SUITES:
        sub = commands.add_parser(suite.name, help=suite.summary, description=suite.summary)
        sub.add_argument("--json", type=Path, help="also write the figures to this JSON file")
        sub.add_argument(
            "--pg-admin-dsn",
            default="postgresql://postgres@127.0.0.1:5432/postgres",
            help="where to create (and drop) the run's own database",
        )
        sub.add_argument("--keep-db", action="store_true", help="do not drop the database after")
        if suite.waiting_for is None and suite.name in argv:  # import only the chosen suite
            suite.load().add_arguments(sub)
        sub.set_defaults(chosen=suite)
    args = parser.parse_args(argv)
    suite = args.chosen
    if suite.waiting_for is not None:
        print(f"{suite.name}: not runnable yet: {suite.waiting_for}", file=sys.stderr)
        return 2
    figures = suite.load().run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
