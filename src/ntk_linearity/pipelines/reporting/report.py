"""The rendered report: ``notebooks/report.ipynb`` executed with papermill, converted to one HTML file.

The ``render_report`` node writes the persisted reporting tables to a temporary folder, executes the
papermill template on them (the notebook only reads tables and redraws the figures with
:mod:`ntk_linearity.pipelines.reporting.figures`; it never trains) and returns a self-contained HTML
page: figures embedded as base64 PNGs, code hidden, no external scripts.

The notebook's kernel is always ipykernel on the interpreter running the pipeline
(:class:`CurrentInterpreterKernelManager`): no Jupyter kernel needs to be registered, and a kernel
named ``python3`` registered elsewhere (another virtualenv, ``~/.local/share/jupyter``) cannot
hijack the run.

The prose helpers (``slope_phrase``, ``medians``, ...) are used by the notebook so that every number
in the report's text is computed from the tables.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from ntk_linearity.run_config import DEFAULT_RUN_ENV, active_config_loader, project_root

if TYPE_CHECKING:
    import nbformat

# papermill, nbconvert and nbformat are imported where they are used: importing them takes about a
# second, which every `kedro` command would pay when the pipelines are registered.

logger = logging.getLogger(__name__)

TEMPLATE = Path("notebooks") / "report.ipynb"
KERNEL_NAME = "python3"
INPUT_FILES = {"runs": "runs.csv", "scaling": "table1_scaling.csv", "curves": "training_curves.csv",
               "table1": "table1.md"}
PACKAGES = ("jax", "jaxlib", "numpy", "pandas", "kedro", "kedro-datasets", "matplotlib", "papermill",
            "nbconvert")
REPORT_TITLE = "On the linearity of large non-linear models: reproduction report"

# ---------------------------------------------------------------------------------------------
# Kernel: ipykernel on this interpreter, whatever kernel specs are installed
# ---------------------------------------------------------------------------------------------


class CurrentInterpreterKernelSpecManager(KernelSpecManager):
    """Resolves every kernel name to ipykernel running on ``sys.executable``."""

    def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> KernelSpec:
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict  # noqa: PLC0415

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


class CurrentInterpreterKernelManager(AsyncKernelManager):
    """nbclient's default kernel manager, with :class:`CurrentInterpreterKernelSpecManager`.

    Where pyzmq supports CurveZMQ the kernel's sockets are encrypted (ipykernel declares support),
    which also keeps ipykernel from warning about plain-text TCP on every report.
    """

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return CurrentInterpreterKernelSpecManager(data_dir=self.data_dir)

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"


# ---------------------------------------------------------------------------------------------
# Dataset: versioned text, saved atomically
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------------------------


def find_template() -> Path:
    """``notebooks/report.ipynb`` of the working directory (a project run), else of the source tree."""
    for root in (Path.cwd(), project_root()):
        candidate = root / TEMPLATE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"The report template {TEMPLATE} was found neither in {Path.cwd()} nor in {project_root()}; "
        "run Kedro from the project root."
    )


def git_revision(root: Path) -> dict[str, Any]:
    """Commit and dirty flag of the source tree at ``root``, or why there is none."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
    except FileNotFoundError:
        return {"commit": None, "note": "git is not installed"}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "note": f"{root} is not a git repository (or has no commits)"}
    try:
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        dirty = None
    return {"commit": commit, "dirty": dirty, "note": ""}


def run_environment() -> str:
    """The Kedro configuration environment of the active run (``local`` when none was given)."""
    loader = active_config_loader()
    env = getattr(loader, "env", None) if loader is not None else None
    return env or os.environ.get("KEDRO_ENV") or DEFAULT_RUN_ENV


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def jax_devices() -> dict[str, Any]:
    import jax  # noqa: PLC0415 (already imported by the numerics in a pipeline run)

    return {"backend": jax.default_backend(), "devices": [str(device) for device in jax.devices()]}


def run_metadata() -> dict[str, Any]:
    """Everything the report says about the run, collected in the pipeline's process."""
    root = project_root()
    return {
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "conf_env": run_environment(),
        "git": git_revision(root),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "jax": jax_devices(),
    }


def _json_safe(value: Any) -> Any:
    """Parameters as plain JSON types (papermill writes them into the notebook as literals)."""
    return json.loads(json.dumps(value, default=str))


def execute_report_notebook(inputs_dir: Path, parameters: dict[str, Any], output: Path,
                            template: Path | None = None) -> nbformat.NotebookNode:
    """Run the papermill template in ``inputs_dir`` on the current interpreter's kernel."""
    import papermill  # noqa: PLC0415

    return papermill.execute_notebook(
        str(template or find_template()),
        str(output),
        parameters=parameters,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=CurrentInterpreterKernelManager,
        cwd=str(inputs_dir),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        start_timeout=300,
        execution_timeout=1800,
    )


_HTML_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{#- No external scripts: the report opens offline. The notebook writes no LaTeX or widgets. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{#- Figures carry their title as alternative text (IPython.display.Image(alt=...)). -#}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'figure') | escape_html }}">
</div>
{%- endblock data_png %}
{%- block extra_css -%}
<style type="text/css">
  main { max-width: 980px; margin: 0 auto; padding: 1.5em 1em 4em; }
  .jp-RenderedHTMLCommon { font-size: 15px; line-height: 1.55; }
  .jp-RenderedHTMLCommon table { margin: 0.8em 0; font-size: 13px; }
  .jp-RenderedImage img { max-width: 100%; height: auto; }
  .jp-OutputArea-prompt, .jp-InputPrompt { display: none; }
  .jp-OutputArea-output.jp-RenderedMarkdown { padding-left: var(--jp-code-padding); }
</style>
{%- endblock extra_css -%}
"""


def notebook_to_html(notebook: nbformat.NotebookNode, title: str = REPORT_TITLE) -> str:
    """One self-contained HTML page: outputs only, images inline, no external scripts.

    Code cells without output (imports, the parameters) disappear; warnings printed on stderr
    are logged here instead of shown in the report.
    """
    import jinja2  # noqa: PLC0415
    import nbformat  # noqa: PLC0415
    from nbconvert import HTMLExporter  # noqa: PLC0415

    notebook = nbformat.from_dict(notebook)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    logger.warning("report notebook: %s", output.get("text", "").strip())
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            if not cell.outputs:
                continue
        cells.append(cell)
    notebook.cells = cells
    notebook.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"ntk_report.html.j2": _HTML_TEMPLATE})],
        template_file="ntk_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def render_report(  # noqa: PLR0913
    runs: pd.DataFrame,
    scaling: pd.DataFrame,
    curves: pd.DataFrame,
    table1: str,
    data_params: dict,
    model_params: dict,
    sweeps: dict,
    training_params: dict,
    hessian_params: dict,
    reporting_params: dict,
) -> str:
    """Execute ``notebooks/report.ipynb`` on the persisted reporting tables; return the HTML page.

    The notebook receives only a folder of input files and JSON-serialisable parameters: the run's
    parameters and its metadata (environment, git commit, package versions, JAX devices).
    """
    params = _json_safe({"data": data_params, "model": model_params, "sweeps": sweeps,
                         "training": training_params, "hessian": hessian_params,
                         "reporting": reporting_params})
    with tempfile.TemporaryDirectory(prefix="ntk_report_") as folder:
        inputs_dir = Path(folder)
        runs.to_csv(inputs_dir / INPUT_FILES["runs"], index=False)
        scaling.to_csv(inputs_dir / INPUT_FILES["scaling"], index=False)
        curves.to_csv(inputs_dir / INPUT_FILES["curves"], index=False)
        (inputs_dir / INPUT_FILES["table1"]).write_text(table1, encoding="utf-8")
        executed = execute_report_notebook(
            inputs_dir,
            {"inputs_dir": str(inputs_dir), "params": params, "metadata": _json_safe(run_metadata())},
            inputs_dir / "report.ipynb",
        )
        return notebook_to_html(executed)


# ---------------------------------------------------------------------------------------------
# Prose helpers used by the notebook: every number in the text comes from the tables
# ---------------------------------------------------------------------------------------------

LABELS = {"linear_output": "linear output", "swish_output": "swish output",
          "softmax_output": "softmax output", "bottleneck": "bottleneck"}


def num(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (``"n/a"`` for NaN or None)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def signed(value: float) -> str:
    """A slope with two decimals and a real minus sign."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.2f}".replace("-", "\u2212")


def scaling_row(scaling: pd.DataFrame, architecture: str, quantity: str) -> pd.Series | None:
    rows = scaling[(scaling["architecture"] == architecture) & (scaling["quantity"] == quantity)]
    return None if rows.empty else rows.iloc[0]


def slope_phrase(scaling: pd.DataFrame, architecture: str, quantity: str, confidence: float,
                 theory: bool = True) -> str:
    """``"fitted slope −0.93, 95% CI [−0.97, −0.89] (theory −0.50)"``."""
    row = scaling_row(scaling, architecture, quantity)
    if row is None:
        return "no fitted slope (no usable runs)"
    text = (f"fitted slope {signed(row['slope'])}, {round(100 * confidence)}% CI "
            f"[{signed(row['slope_ci_low'])}, {signed(row['slope_ci_high'])}]")
    if theory and np.isfinite(row.get("theory_slope", np.nan)):
        text += f" (theory {signed(row['theory_slope'])})"
    return text


def slope_sign(scaling: pd.DataFrame, architecture: str, quantity: str) -> str:
    """``"falls"``, ``"grows"`` or ``"undetermined"``: where the slope's interval lies against 0."""
    row = scaling_row(scaling, architecture, quantity)
    if row is None or not np.isfinite(row["slope_ci_high"]):
        return "undetermined"
    if row["slope_ci_high"] < 0:
        return "falls"
    if row["slope_ci_low"] > 0:
        return "grows"
    return "undetermined"


def medians(runs: pd.DataFrame, architecture: str, column: str) -> pd.Series:
    """Median of ``column`` over seeds, indexed by the sweep axis (m, or m_b for the bottleneck);
    diverged runs are left out."""
    axis = "bottleneck_width" if architecture == "bottleneck" else "width"
    rows = runs[(runs["architecture"] == architecture) & ~runs["diverged"].astype(bool)]
    values = pd.to_numeric(rows[column], errors="coerce")
    return values.groupby(rows[axis].astype(int)).median().sort_index()


def final_curve_values(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    """Last and largest value of every one-hidden-layer run's ``curve`` at ``width``."""
    rows = curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["bottleneck_width"].isna()].sort_values("step")
    if rows.empty:
        return pd.DataFrame(columns=["architecture", "seed", "last_step", "final", "peak"])
    grouped = rows.groupby(["architecture", "seed"])
    return pd.DataFrame({"last_step": grouped["step"].last(), "final": grouped["value"].last(),
                         "peak": grouped["value"].max()}).reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    """A small DataFrame as a markdown table (no ``tabulate`` dependency)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def from_to(series: pd.Series, symbol: str = "m") -> str:
    """``"0.31 at m = 30 to 0.012 at m = 10000"`` for a series indexed by the sweep axis."""
    series = series.dropna()
    if series.empty:
        return "n/a (no usable runs)"
    if len(series) == 1:
        return f"{num(series.iloc[0])} at {symbol} = {series.index[0]}"
    return (f"{num(series.iloc[0])} at {symbol} = {series.index[0]} to "
            f"{num(series.iloc[-1])} at {symbol} = {series.index[-1]}")
