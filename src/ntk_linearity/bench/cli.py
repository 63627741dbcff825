"""Command line of ``python -m ntk_linearity.bench``: parent mode (plan, spawn, print) and child mode
(``--case NAME``: run one case, print its JSON result line)."""

from __future__ import annotations

import argparse
import fnmatch
import json
import tempfile

import ntk_linearity.bench as bench_package
from ntk_linearity.bench.cases import DEFAULT_BOTTLENECK_WIDTH, DEFAULT_HESSIAN_WIDTH, RESULT_MARKER, build_cases
from ntk_linearity.bench.report import format_results, print_header
from ntk_linearity.bench.runner import run_selected
from ntk_linearity.bench.timing import run_case


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ntk_linearity.bench", description=bench_package.__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="divide every width by 100 (smoke run)")
    parser.add_argument("--cases", nargs="+", default=["all"],
                        help="case names or shell patterns (comma or space separated); 'list' lists them")
    parser.add_argument("--reps", type=int, default=5, help="at most this many timed repetitions")
    parser.add_argument("--rep-budget", type=float, default=30.0,
                        help="stop repeating once repetitions took this many seconds (>= 1 rep)")
    parser.add_argument("--lanczos-steps", type=int, default=None,
                        help="Lanczos steps for the Hessian (default: hessian.DEFAULT_LANCZOS_STEPS)")
    parser.add_argument("--hessian-width", type=int, default=DEFAULT_HESSIAN_WIDTH,
                        help="m of the shallow net of the ||H|| cases (closed form vs Lanczos)")
    parser.add_argument("--bottleneck-width", type=int, default=DEFAULT_BOTTLENECK_WIDTH,
                        help="m_b of the (1000, m_b, 1000) net of the early-stopping ||H|| cases")
    parser.add_argument("--mem-fraction", type=float, default=0.7,
                        help="skip a case whose memory estimate exceeds this fraction of MemAvailable")
    parser.add_argument("--case-timeout", type=float, default=1800.0, help="seconds per child case")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # child mode: run one case, print JSON
    parser.add_argument("--kernel-dir", help=argparse.SUPPRESS)  # child mode: where to save K
    args = parser.parse_args(argv)

    if args.lanczos_steps is None:
        from ntk_linearity.numerics.hessian import DEFAULT_LANCZOS_STEPS

        args.lanczos_steps = DEFAULT_LANCZOS_STEPS
    cases = build_cases(args.quick, args.hessian_width, args.bottleneck_width)
    by_name = {c.name: c for c in cases}

    if args.case:  # child
        result = run_case(by_name[args.case], args.reps, args.rep_budget, args.lanczos_steps,
                          args.kernel_dir)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return

    patterns = [p for item in args.cases for p in item.split(",") if p]
    if patterns == ["list"]:
        for c in cases:
            print(f"{c.name:24s} {c.label}")
        return
    if "all" in patterns:
        selected = cases
    else:
        selected = [c for c in cases if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
        if not selected:
            parser.error(f"no case matches {patterns}; known: {', '.join(by_name)}")
        if selected[0].name != "baseline":
            selected = [by_name["baseline"], *selected]

    print_header(args)
    with tempfile.TemporaryDirectory(prefix="ntk_bench_") as kernel_dir:
        results = run_selected(selected, args, kernel_dir)
    print()
    print(format_results(selected, results))
