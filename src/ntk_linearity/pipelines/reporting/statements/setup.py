"""The report's Setup and its metadata: where the results come from, the image data of the
convolutional sweeps, and the run metadata with the summed wall times."""

from __future__ import annotations

import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import code, escape
from ntk_linearity.pipelines.reporting.statements.formatting import num


def provenance_statement(metadata: dict, runs: pd.DataFrame) -> str:
    """Where the results come from: rendering time, Kedro environment, git revision, runs per sweep."""
    git = metadata.get("git") or {}
    commit = git.get("commit")
    revision = (f"commit {code(str(commit)[:10])}" + (" (uncommitted changes)" if git.get("dirty") else "")
                if commit else escape(git.get("note") or "no git revision"))
    per_sweep = runs.groupby("sweep", sort=False).size()
    networks = f"{len(runs)} trained networks"
    if len(per_sweep):
        networks += " (" + ", ".join(f"{n} in {code(name)}" for name, n in per_sweep.items()) + ")"
    n_diverged = int(runs["diverged"].astype(bool).sum())
    if n_diverged:
        networks += f", {n_diverged} of which diverged"
    return (f"Rendered {escape(metadata.get('generated_at', 'n/a'))} from the results of the Kedro environment "
            f"{code(metadata.get('conf_env', 'n/a'))}, {revision}: {networks}.")


CONV_FAMILIES = ("cnn", "resnet")


def image_data_statement(images: dict, sweeps: dict) -> str:
    """The Setup's bullet on the image data of the convolutional sweeps (``""`` when no sweep trains a
    convolutional network), from the ``images`` parameter group."""
    if not any(sweep["family"] in CONV_FAMILIES for sweep in sweeps.values()):
        return ""
    e = {key: escape(value) for key, value in images.items()}
    return (f"- **Images** (the convolutional sweeps; synthetic, seed {e['seed']}): n = {e['n_samples']} smooth "
            f"random images of {e['height']} × {e['width']} pixels and {e['channels']} channel(s): white noise "
            f"low-pass filtered by a Gaussian of width s = {e['smoothness']} pixels (neighbouring pixels "
            "correlate like exp(−δ²/4s²)), each image rescaled to mean square 1. Regression targets "
            "y = A sin(ω⟨U, x⟩/√(HWC)) for a fixed smooth random template U, an odd function of the image, "
            f"with A = {e['target_amplitude']} and ω = {e['target_frequency']}; soft labels "
            f"softmax(T⟨U_c, x⟩/√(HWC)) over {e['n_classes']} smooth templates U_c with "
            f"T = {e['class_temperature']}. The networks read them through k × k convolutions (stride 1, zero "
            "padding, no biases, each pre-activation divided by √(k² C_in)); their width is the number of "
            "channels C.\n")


def metadata_table(metadata: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """Section 4: the run metadata and the summed wall times, as plain text (``item``, ``value``)."""
    git = metadata.get("git") or {}
    commit = git.get("commit")
    jax_info = metadata.get("jax") or {}
    wall = pd.to_numeric(runs["wall_seconds"], errors="coerce")
    hessian_wall = pd.to_numeric(runs["hessian_wall_seconds"], errors="coerce")
    by_sweep = wall.groupby(runs["sweep"]).sum()
    per_sweep = f" ({', '.join(f'{s}: {num(v)} s' for s, v in by_sweep.items())})" if len(by_sweep) else ""
    items = [
        ("rendered", metadata.get("generated_at", "n/a")),
        ("Kedro environment", metadata.get("conf_env", "n/a")),
        ("git", f"{commit}" + (" with uncommitted changes" if git.get("dirty") else "") if commit
         else git.get("note") or "n/a"),
        ("Python", f"{metadata.get('python', 'n/a')} on {metadata.get('platform', 'n/a')}"),
        ("packages", ", ".join(f"{k} {v}" for k, v in (metadata.get("packages") or {}).items())),
        ("JAX devices (process that rendered this report)",
         f"{', '.join(map(str, jax_info.get('devices', [])))} (backend {jax_info.get('backend', 'n/a')})"),
        ("training wall time", f"{num(wall.sum())} s summed over {int(wall.notna().sum())} runs{per_sweep}"),
        ("Hessian analysis wall time",
         f"{num(hessian_wall.sum())} s summed over {int(hessian_wall.notna().sum())} runs"),
    ]
    return pd.DataFrame(items, columns=["item", "value"])
