"""Parent side: run every selected case in its own child process (or skip it, saying why)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ntk_linearity.bench.cases import GB, RESULT_MARKER, Case, default_memory_budget, estimate_bytes


def mem_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])  # .../src, so the child imports this package
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def spawn_case(name: str, args: argparse.Namespace, kernel_dir: str) -> dict:
    cmd = [sys.executable, "-m", "ntk_linearity.bench", "--case", name,
           "--reps", str(args.reps), "--rep-budget", str(args.rep_budget),
           "--lanczos-steps", str(args.lanczos_steps), "--kernel-dir", kernel_dir,
           "--hessian-width", str(args.hessian_width), "--bottleneck-width", str(args.bottleneck_width)]
    if args.quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(),
                              timeout=args.case_timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "status": f"timeout after {args.case_timeout:.0f} s"}
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER):])
            result["status"] = "ok"
            result["child_wall_s"] = wall
            return result
    tail = (proc.stderr.strip().splitlines() or ["<no stderr>"])[-1]
    why = "killed, likely out of memory" if proc.returncode in (-9, 137) else f"rc={proc.returncode}"
    return {"name": name, "status": f"failed ({why}): {tail[:160]}"}


def _kernel_agreement(results: dict[str, dict], kernel_dir: str) -> None:
    """Add ``K_max_rel_diff = max|K_s - K_j| / max|K_j|`` to every jacobian result with a
    structured partner (both kernels were saved by the children)."""
    import numpy as np

    for name, r in results.items():
        if not name.endswith("_jacobian") or r.get("status") != "ok":
            continue
        s_path = Path(kernel_dir) / name.replace("_jacobian", "_structured.npy")
        j_path = Path(kernel_dir) / f"{name}.npy"
        if s_path.exists() and j_path.exists():
            Ks, Kj = np.load(s_path), np.load(j_path)
            r["K_max_rel_diff"] = float(np.max(np.abs(Ks - Kj)) / max(np.max(np.abs(Kj)), 1e-30))


def run_selected(selected: list[Case], args: argparse.Namespace, kernel_dir: str) -> dict[str, dict]:
    """Run every selected case in its own child (or skip it, saying why); return the results."""
    budget = default_memory_budget()
    results: dict[str, dict] = {}
    for case in selected:
        est, how = estimate_bytes(case, budget, args.lanczos_steps)
        avail = mem_available_bytes()
        if case.skip_reason:
            res = {"name": case.name, "status": "skipped", "note": case.skip_reason}
        elif avail is not None and est > args.mem_fraction * avail:
            res = {"name": case.name, "status": "skipped",
                   "note": f"estimated {est / GB:.1f} GB > {args.mem_fraction:.0%} of "
                           f"{avail / GB:.1f} GB available ({how})"}
        else:
            print(f"  running {case.name:24s} (estimate {est / GB:6.2f} GB) ...", end=" ", flush=True)
            res = spawn_case(case.name, args, kernel_dir)
            print(res["status"] if res["status"] != "ok" else
                  f"{res.get('median_s', 0.0):.3f} s median, child wall {res['child_wall_s']:.0f} s",
                  flush=True)
            notes = [how] if how else []
            if case.kind == "hessian" and res["status"] == "ok":
                tol = "" if case.method != "lanczos" else " tol=" + ("default" if case.tol is None else f"{case.tol:g}")
                notes.insert(0, f"|H|={res['norm']:.4g} resid={res['residual']:.2g} "
                                f"steps={res['steps_taken']}{tol} lam=[{res['lambda_min']:.3g}, {res['lambda_max']:.3g}]")
            if res["status"] != "ok":
                notes.insert(0, res["status"])
            res["note"] = "; ".join(notes)
        res["estimate_bytes"] = est
        results[case.name] = res
    _kernel_agreement(results, kernel_dir)
    return results
