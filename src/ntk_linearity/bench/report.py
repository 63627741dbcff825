"""Printing: the environment header, the results table and the ratio lines."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from ntk_linearity.bench.cases import CONV_NETS, D_IN, GB, IMAGE_SHAPE, KERNEL_SIZE, MB, N_IMAGES, N_SAMPLES, Case
from ntk_linearity.bench.runner import mem_available_bytes


def _fmt(x, spec: str, none: str = "-") -> str:
    return none if x is None else format(x, spec)


def format_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            last = i == len(cells) - 1
            out.append(c.rjust(w) if i in right else (c if last else c.ljust(w)))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def print_header(args: argparse.Namespace) -> None:
    import jax

    try:
        import jaxlib

        jaxlib_version = jaxlib.__version__
    except Exception:  # noqa: BLE001
        jaxlib_version = "?"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    avail = mem_available_bytes()
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    except OSError:
        pass
    print("ntk_linearity benchmark: empirical_ntk structured vs jacobian, Hessian spectral norm")
    print(f"  devices     : {jax.devices()}")
    print(f"  jax         : {jax.__version__} (jaxlib {jaxlib_version}), python {platform.python_version()}")
    print(f"  cpu count   : {os.cpu_count()} (usable: {affinity})")
    print(f"  memory      : total {_fmt(total and total / GB, '.1f')} GB, "
          f"available {_fmt(avail and avail / GB, '.1f')} GB; skip a case above "
          f"{args.mem_fraction:.0%} of available")
    print(f"  inputs      : n = {N_SAMPLES}, d = {D_IN}, unit sphere, float32"
          + ("   [--quick: every width / 100]" if args.quick else ""))
    print(f"  conv inputs : n = {N_IMAGES} smooth images {IMAGE_SHAPE}, {KERNEL_SIZE}x{KERNEL_SIZE} SAME "
          "convolutions, global average pooling, float32"
          + ("   [--quick: channels / 16, at least 4]" if args.quick else ""))
    print(f"  timing      : first call (trace+compile+run), then median of up to {args.reps} calls "
          f"(<= {args.rep_budget:.0f} s of repetitions), block_until_ready")
    print("  memory      : ru_maxrss of a fresh child per case; delta = minus baseline child")
    print(flush=True)


TABLE_HEADER = ["case", "model", "p", "method", "est GB", "first s", "median s", "compile s",
                "excl.comp s", "reps", "peak RSS MB", "delta MB", "dev peak MB", "note"]
HESSIAN_CASES = ("hessian_shallow_closed", "hessian_shallow_lanczos", "hessian_bottleneck",
                 "hessian_bottleneck_subspace", "hessian_bneck_full", "hessian_bneck_early")
HESSIAN_PAIRS = (  # (label, slower case, faster case, what the ratio compares)
    ("hessian_shallow", "hessian_shallow_lanczos", "hessian_shallow_closed", "lanczos / closed_form"),
    ("hessian_bottleneck", "hessian_bottleneck", "hessian_bottleneck_subspace", "lanczos / subspace"),
    ("hessian_bneck", "hessian_bneck_full", "hessian_bneck_early", "full / early stop"),
)


def _ok_value(results: dict[str, dict], name: str, key: str):
    """``results[name][key]`` when that case ran successfully, else None."""
    r = results.get(name)
    return r[key] if r and r.get("status") == "ok" else None


def _method_label(case: Case) -> str:
    method = case.method or {"baseline": "-", "matmul": "jnp.matmul", "hessian": "lanczos"}[case.kind]
    if case.kind == "hessian" and case.method == "lanczos":
        method += "(all steps)" if case.tol == 0 else "(early stop)"
    return method


def _table_row(case: Case, r: dict, base_rss: int | None) -> list[str]:
    """One row of the results table (``r``: the case's result; ``base_rss``: the baseline's RSS)."""
    ok = r.get("status") == "ok"
    get = lambda key: r.get(key) if ok else None  # noqa: E731
    rss = get("maxrss_bytes")
    delta = rss - base_rss if rss is not None and base_rss is not None else None
    timed = case.kind != "baseline"
    return [
        case.name,
        case.label,
        str(case.n_params) if case.kind in ("ntk", "hessian") else "-",
        _method_label(case),
        f"{r['estimate_bytes'] / GB:.2f}" if timed else "-",
        _fmt(get("first_s") if timed else None, ".3f"),
        _fmt(get("median_s") if timed else None, ".4f"),
        _fmt(get("compile_s_per_call") if timed else None, ".4f"),
        _fmt(get("median_excl_compile_s") if timed else None, ".4f"),
        _fmt(get("reps") if timed else None, "d"),
        _fmt(rss and rss / MB, ".0f"),
        _fmt(delta and delta / MB, ".0f") if timed else "0",
        _fmt(get("device_peak_bytes") and r["device_peak_bytes"] / MB, ".0f"),
        r.get("note", ""),
    ]


def _kernel_ratio_lines(results: dict[str, dict]) -> list[str]:
    """``jacobian / structured`` (API and compute) and the kernels' agreement, per net that ran."""
    lines = []
    for net in ("shallow_1e4", "shallow_1e5", "shallow_1e6", "bottleneck", *CONV_NETS):
        sname, jname = f"{net}_structured", f"{net}_jacobian"
        if sname not in results and jname not in results:
            continue
        s, j = _ok_value(results, sname, "median_s"), _ok_value(results, jname, "median_s")
        if s is not None and j is not None:
            sc = _ok_value(results, sname, "median_excl_compile_s")
            jc = _ok_value(results, jname, "median_excl_compile_s")
            agree = results[jname].get("K_max_rel_diff")
            verdict = "" if net in CONV_NETS else (
                " (meets goal >= 10x)" if j / s >= 10 else " (MISSES goal >= 10x)")
            lines.append(
                f"  {net:12s} jacobian / structured  API {j / s:8.1f}x{verdict}   "
                f"compute {jc / max(sc, 1e-9):8.1f}x   max|K_s-K_j|/max|K| = {_fmt(agree, '.1e')}")
        else:
            missing = jname if j is None else sname
            r = results.get(missing, {})
            lines.append(f"  {net:12s} jacobian / structured  n/a ({missing}: "
                         f"{r.get('note') or r.get('status', 'not run')})")
    return lines


def _matmul_ratio_lines(results: dict[str, dict]) -> list[str]:
    """``structured / matmul`` at m = 1e6, when both ran."""
    s = _ok_value(results, "shallow_1e6_structured", "median_s")
    mm = _ok_value(results, "matmul_1e6", "median_s")
    if s is None or mm is None:
        return []
    sc = _ok_value(results, "shallow_1e6_structured", "median_excl_compile_s")
    mmc = _ok_value(results, "matmul_1e6", "median_excl_compile_s")
    verdict = "meets" if s / mm <= 4 else "MISSES"
    return [
        f"  {'shallow_1e6':12s} structured / matmul    API {s / mm:8.2f}x ({verdict} goal <= 4x)   "
        f"compute {sc / max(mmc, 1e-9):8.2f}x   (matmul {mm:.4f} s, structured {s:.4f} s)"]


def _hessian_lines(results: dict[str, dict]) -> list[str]:
    """One line per Hessian case: ||H||, residual, steps, spectrum bounds and time (or why not)."""
    lines = []
    for name in HESSIAN_CASES:
        r = results.get(name)
        if r and r.get("status") == "ok":
            lines.append(
                f"  {name:27s} |H| = {r['norm']:.6g}, residual = {r['residual']:.3g} "
                f"(rel {r['residual'] / max(r['norm'], 1e-30):.1e}), steps = {r['steps_taken']}, "
                f"lambda in [{r['lambda_min']:.4g}, {r['lambda_max']:.4g}], "
                f"{r['median_s']:.3f} s/call ({r['compile_s_per_call']:.2f} s of it compiling)")
        elif r:
            lines.append(f"  {name:27s} not measured: {r.get('note') or r.get('status')}")
    return lines


def _hessian_pair_lines(results: dict[str, dict]) -> list[str]:
    """The speed-up and the norm agreement of each pair in ``HESSIAN_PAIRS`` that both ran."""
    get = lambda name, key: _ok_value(results, name, key)  # noqa: E731
    lines = []
    for label, slow, fast, what in HESSIAN_PAIRS:
        a, b = get(slow, "median_s"), get(fast, "median_s")
        if a is None or b is None:
            continue
        ac, bc = get(slow, "median_excl_compile_s"), get(fast, "median_excl_compile_s")
        na, nb = get(slow, "norm"), get(fast, "norm")
        lines.append(
            f"  {label:15s} {what:22s} API {a / max(b, 1e-9):8.1f}x   compute {ac / max(bc, 1e-9):8.1f}x   "
            f"({a:.4f} s vs {b:.4f} s; steps {get(slow, 'steps_taken')} vs {get(fast, 'steps_taken')}; "
            f"| |H|_a - |H|_b | / |H|_b = {abs(na - nb) / max(abs(nb), 1e-30):.1e})")
    return lines


def format_results(selected: list[Case], results: dict[str, dict]) -> str:
    """The results table and the ratio lines, as printed by ``main``."""
    base_rss = results.get("baseline", {}).get("maxrss_bytes")
    rows = [_table_row(case, results[case.name], base_rss) for case in selected]
    lines = [
        format_table(TABLE_HEADER, rows, right=set(range(2, 13)) - {3}),
        "",
        "compile s = time per call spent tracing/lowering/compiling (jax.monitoring); "
        "excl.comp s = median s minus it.",
        "",
        "Ratios (same run):  API = median s,  compute = excl.comp s",
    ]
    lines += _kernel_ratio_lines(results)
    lines += _matmul_ratio_lines(results)
    lines += _hessian_lines(results)
    lines += _hessian_pair_lines(results)
    return "\n".join(lines)
