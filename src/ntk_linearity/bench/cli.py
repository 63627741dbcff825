"""``python -m ntk_linearity.bench``: the table of stored results, and the comparison of two commits."""

from __future__ import annotations

import argparse
import sys

from .compare import DEFAULT_FACTOR, compare
from .table import commit_hash, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ntk_linearity.bench",
                                     description="Benchmarks (asv): docs/benchmarks.md")
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser("table", help="every case of a commit's stored results: time, floor, ratio")
    table.add_argument("--commit", default="HEAD")
    table.add_argument("--machine", default=None, help="asv machine name (default: this host's)")
    pair = commands.add_parser("compare", help="compare two commits (recording either if needed); "
                                               "exit 1 on a slowdown beyond --factor")
    pair.add_argument("rev_a")
    pair.add_argument("rev_b")
    pair.add_argument("--factor", type=float, default=DEFAULT_FACTOR)
    pair.add_argument("--machine", default=None)
    pair.add_argument("--bench", action="append", default=[], help="asv --bench regex (repeatable)")
    pair.add_argument("--no-stats", action="store_true",
                      help="the factor alone decides (not also the spread of the samples)")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(report(commit_hash(args.commit), args.machine))
        return 0
    return compare(args.rev_a, args.rev_b, args.factor, args.machine,
                   [item for regex in args.bench for item in ("--bench", regex)], use_stats=not args.no_stats)


if __name__ == "__main__":
    sys.exit(main())
