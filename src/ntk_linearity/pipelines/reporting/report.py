"""The rendered report: ``notebooks/report.ipynb`` executed with papermill, converted to one HTML file.

The ``render_report`` node writes the persisted reporting tables to a temporary folder, executes the
papermill template on them (the notebook only displays the plan of
:mod:`ntk_linearity.pipelines.reporting.plan`: sections, sentences, tables, figures redrawn by
:mod:`ntk_linearity.pipelines.reporting.figures`; it never trains) and returns a self-contained HTML
page: figures embedded as base64 palette PNGs (:mod:`.display`), code hidden, no script and nothing
loaded from outside.

Nothing from the data, the configuration or the environment becomes markup: the notebook escapes
every such value it writes into Markdown (:mod:`.markdown`), Markdown is rendered with raw HTML shown
as text (:func:`markdown_to_html`), and the page is sanitised and checked (:mod:`.sanitise`).

The notebook's kernel is always ipykernel on the interpreter running the pipeline
(:class:`CurrentInterpreterKernelManager`): no Jupyter kernel needs to be registered, and a kernel
named ``python3`` registered elsewhere (another virtualenv, ``~/.local/share/jupyter``) cannot
hijack the run.

Provenance (:mod:`.provenance`) and the statements the prose makes (:mod:`.statements`) live in their
own modules.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from ntk_linearity.pipelines.reporting.outline import INPUT_FILES
from ntk_linearity.pipelines.reporting.provenance import run_metadata
from ntk_linearity.experiment.config import active_project_root, project_root
from ntk_linearity.experiment.parameters import Experiment, validate_parameters

if TYPE_CHECKING:
    import nbformat

# papermill, nbconvert and nbformat are imported where they are used: importing them takes about a
# second, which every `kedro` command would pay when the pipelines are registered.

logger = logging.getLogger(__name__)

TEMPLATE = Path("notebooks") / "report.ipynb"
KERNEL_NAME = "python3"
EXPERIMENT_FILE = "experiment.pickle"
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
# The node
# ---------------------------------------------------------------------------------------------


def find_template() -> Path:
    """``notebooks/report.ipynb`` of the active run's project (wherever it was started from), else of
    the working directory, else of the source tree."""
    roots = [root for root in (active_project_root(), Path.cwd(), project_root()) if root is not None]
    for root in roots:
        candidate = root / TEMPLATE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"The report template {TEMPLATE} was found in none of {', '.join(map(str, dict.fromkeys(roots)))}."
    )


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
{#- No scripts (require.js, MathJax, mermaid and widgets come from CDNs): the report opens offline.
    The notebook writes no LaTeX, widgets or JavaScript outputs. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block data_javascript -%}{%- endblock data_javascript -%}
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


def markdown_to_html(source: str) -> str:
    """Markdown rendered as nbconvert renders it (tables, headings with anchors), except that raw HTML
    is shown as text and links to harmful URLs (``javascript:``, ``vbscript:``, ``file:``, ``data:``
    other than images) point nowhere."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath  # noqa: PLC0415

    return MarkdownWithMath(renderer=IPythonRenderer(escape=True, allow_harmful_protocols=False)).render(source)


def notebook_to_html(notebook: nbformat.NotebookNode, title: str = REPORT_TITLE) -> str:
    """One self-contained HTML page: outputs only, images inline, no script, nothing external.

    Code cells without output (imports, the parameters) disappear; warnings printed on stderr
    are logged here instead of shown in the report. Markdown is rendered by :func:`markdown_to_html`
    and the page is sanitised by :func:`.sanitise.sanitise_report`, which raises
    :class:`.sanitise.UnsafeReportError` rather than return a page with live markup.
    """
    import jinja2  # noqa: PLC0415
    import nbformat  # noqa: PLC0415
    from nbconvert import HTMLExporter  # noqa: PLC0415

    from ntk_linearity.pipelines.reporting.sanitise import sanitise_report  # noqa: PLC0415 (bleach)

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
        filters={"markdown2html": markdown_to_html},
    )
    page, _ = exporter.from_notebook_node(notebook)
    return sanitise_report(page)


def report_parameters(experiment) -> dict[str, Any]:
    """What the notebook is told about the run: the validated parameters as JSON, every group and
    each sweep as written, from which the notebook validates the same :class:`Experiment` again
    (:func:`~ntk_linearity.experiment.parameters.validate_parameters`) for
    :func:`~ntk_linearity.pipelines.reporting.plan.report_plan`. ``round_trip`` leaves out the computed
    settings (the digits' provenance), which are derived again on validation."""
    return experiment.parameters.model_dump(mode="json", round_trip=True)


def report_html(tables: dict[str, pd.DataFrame], table1: str, experiment: Experiment | dict[str, Any],
                metadata: dict[str, Any]) -> str:
    """The HTML page of ``notebooks/report.ipynb`` executed on ``tables`` (``runs``,
    ``table1_scaling``, ``scaling``, ``curves``, ``ball``) and the Table 1 Markdown, for ``experiment``
    (the validated :class:`Experiment`, or its parameters as :func:`report_parameters` gives them, then
    validated here) and ``metadata``. The notebook receives a folder of input files, the experiment
    pickled there (:data:`EXPERIMENT_FILE`, read by :func:`load_experiment`) and JSON-serialisable values."""
    if not isinstance(experiment, Experiment):
        experiment = validate_parameters(experiment)
    with tempfile.TemporaryDirectory(prefix="ntk_report_") as folder:
        inputs_dir = Path(folder)
        for name, table in tables.items():
            table.to_csv(inputs_dir / INPUT_FILES[name], index=False)
        (inputs_dir / INPUT_FILES["table1"]).write_text(table1, encoding="utf-8")
        (inputs_dir / EXPERIMENT_FILE).write_bytes(pickle.dumps(experiment))
        executed = execute_report_notebook(
            inputs_dir,
            {"inputs_dir": str(inputs_dir), "params": _json_safe(report_parameters(experiment)),
             "metadata": _json_safe(metadata)},
            inputs_dir / "report.ipynb",
        )
        return notebook_to_html(executed)


def load_experiment(inputs_dir: str | Path) -> Experiment:
    """The :class:`Experiment` :func:`report_html` wrote for the notebook (a file of its own temporary
    folder, written by this process)."""
    return pickle.loads((Path(inputs_dir) / EXPERIMENT_FILE).read_bytes())  # noqa: S301


def render_report(runs: pd.DataFrame, table1_scaling: pd.DataFrame, scaling: pd.DataFrame,
                  curves: pd.DataFrame, table1: str, ball: pd.DataFrame, *, experiment, **figures: bytes) -> str:
    """Execute ``notebooks/report.ipynb`` on the persisted reporting tables; return the HTML page.

    ``figures`` are the saved reporting figures (PNG bytes): the node reads them so that the report
    comes after them and kedro-viz draws them inside reporting; the notebook redraws each figure from
    the tables (palette PNGs, :mod:`.display`).

    The notebook is told the run's validated parameters (:func:`report_parameters`) and its
    metadata (environment, git commit, package versions, JAX devices).
    """
    tables = {"runs": runs, "table1_scaling": table1_scaling, "scaling": scaling, "curves": curves,
              "ball": ball}
    return report_html(tables, table1, experiment, run_metadata())
