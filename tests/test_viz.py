"""kedro-viz on a project copy (docs/operations.md, "Lineage in kedro-viz"): every pipeline, layers from
catalog metadata, namespaced sweeps as collapsible groups, previews of tables and figures, the tiny grid
with ``--env tiny``.

``kedro viz run`` is started as a subprocess in its own process group and always stopped by that
group's id; ``kedro viz build`` writes the static site.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "pipelines"))
from kedro_project_utils import TINY, make_project  # noqa: E402

from ntk_linearity.datasets.atomic_csv_dataset import digest_path  # noqa: E402
from ntk_linearity.experiment.config import default_config_loader  # noqa: E402
from ntk_linearity.experiment.parameters import validate_parameters  # noqa: E402

SWEEPS = tuple(TINY["sweeps"])  # the sweeps of the `tiny` environment (every sweep of conf/base)
PIPELINES = {"data_generation", *SWEEPS, "reporting", "__default__"}
# The collapsed view: data generation, its three data sets, one box holding every sweep, one results
# bundle per sweep, reporting and its report, whatever the number of runs: 1 element per sweep and 7
# others, within the 25 elements a 1600 x 1000 screen shows legibly (.ci/viz_screenshots.py).
TOP_LEVEL = len(SWEEPS) + 7
MAX_TOP_LEVEL = 25
# Expanding the sweeps' box draws one box per sweep in its place; expanding a sweep then adds its
# groups and their summaries, its merge and gather nodes and its summaries (2 per group + 3) in place
# of its box. Reporting draws 2 elements per sweep (its summaries, its results), the sweeps' box (the
# gathering nodes) and 2 of its own.
MAX_GROUPS = 5  # conf/base's most: lr_sweep's five step sizes
MAX_EXPANDED = TOP_LEVEL - 1 + len(SWEEPS) - 1 + 2 * MAX_GROUPS + 3
MAX_REPORTING = 2 * len(SWEEPS) + 3
LAYERS = ["raw", "models", "model_output", "reporting"]
STARTUP_TIMEOUT_S = 120
VERSION = "2026-01-01T00.00.00.000Z"


def kedro_env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "JAX_PLATFORMS": "cpu"}


def free_port() -> int:
    """A free port below 49152: kedro-viz refuses ports above the registered range, and an ephemeral
    port from ``bind(0)`` often is (Linux hands out 32768-60999)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-45000")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def write_digest(table: Path) -> None:
    """The SHA-256 beside a table, as ``AtomicCSVDataset`` writes it after the table."""
    digest_path(table).write_text(hashlib.sha256(table.read_bytes()).hexdigest() + "\n")


def add_reporting_outputs(project: Path) -> None:
    """One version of a table, a figure and the report, and a sweep's runs table (the preview of its
    results bundle), as a run would leave them (for previews)."""
    reporting = project / "data" / "08_reporting"
    runs = reporting / "runs.csv" / VERSION / "runs.csv"
    runs.parent.mkdir(parents=True)
    runs.write_text("namespace,width,delta_k\nwidth_sweep.linear_m8_s0,8,0.07\nwidth_sweep.linear_m32_s0,32,0.01\n")
    write_digest(runs)  # a table is read only with its digest beside it
    figure = reporting / "fig1_delta_k_vs_width.png" / VERSION / "fig1_delta_k_vs_width.png"
    figure.parent.mkdir(parents=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([8, 32], [0.07, 0.01])
    fig.savefig(figure)
    plt.close(fig)
    sweep_runs = project / "data" / "07_model_output" / "width_sweep" / "runs.csv"  # the bundle's preview
    sweep_runs.parent.mkdir(parents=True, exist_ok=True)
    sweep_runs.write_text(runs.read_text())
    write_digest(sweep_runs)
    report = reporting / "report.html" / VERSION / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<!DOCTYPE html><html><body><h1>report</h1></body></html>")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("viz"))
    add_reporting_outputs(project)
    return project


@pytest.fixture(scope="module")
def viz(project):
    """Base URL of ``kedro viz run --env tiny`` on a free port, once ``/api/main`` answers."""
    port = free_port()
    log = (project / "viz.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1",
         "--port", str(port), "--env", "tiny"],
        cwd=project, env=kedro_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"kedro viz run exited with {process.returncode}:\n"
                            + (project / "viz.log").read_text()[-3000:])
            try:
                get_json(f"{base}/api/main")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                if time.monotonic() > deadline:
                    pytest.fail(f"kedro viz run did not answer within {STARTUP_TIMEOUT_S} s:\n"
                                + (project / "viz.log").read_text()[-3000:])
                time.sleep(1)
        yield base
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # the server and the workers it spawned
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        log.close()


def _children(main: dict, group: str) -> dict[str, str]:
    """The children of a modular pipeline as {id: type} (``task``, ``data``, ``modularPipeline``...)."""
    return {c["id"]: c["type"] for c in main["modular_pipelines"][group]["children"]}


def test_viz_lists_pipelines_layers_and_namespaced_runs_of_the_env(viz):
    main = get_json(f"{viz}/api/main")
    assert {p["id"] for p in main["pipelines"]} == PIPELINES
    assert main["layers"] == LAYERS

    tasks = {n["full_name"]: n for n in main["nodes"] if n["type"] == "task"}
    # A node's "name" is its own name; "full_name" carries the namespace sweeps.<sweep>.<group>.<run>.
    train = tasks["sweeps.width_sweep.linear.linear_m8_s0.train_network"]
    assert train["name"] == "train_network"
    assert train["modular_pipelines"] == ["sweeps.width_sweep.linear.linear_m8_s0"]
    assert set(train["pipelines"]) == {"width_sweep", "__default__"}
    assert "sweeps.bottleneck_sweep.all.mb2_m16_s0.analyse_hessian" in tasks
    assert {"reporting.collect_runs", "reporting.render_table1", "reporting.render_report"} <= set(tasks)
    assert "reporting" in tasks["reporting.render_report"]["pipelines"]
    # --env tiny: the tiny grid (widths 8, 32), not conf/base's.
    assert not any(name.startswith("sweeps.width_sweep.linear.linear_m1000_") for name in tasks)

    data = {n["name"]: n for n in main["nodes"] if n["type"] == "data"}
    assert data["synthetic_data"]["layer"] == "raw"
    assert data["width_sweep.linear.linear_m8_s0.final_params"]["layer"] == "models"
    assert data["width_sweep.linear.linear_m8_s0.training_metrics"]["layer"] == "model_output"
    assert data["width_sweep.linear.summaries"]["layer"] == "model_output"
    assert data["width_sweep.results"]["layer"] == "model_output"
    assert data["report_html"]["layer"] == "reporting"


def test_collapsed_lineage_fits_one_screen_whatever_the_number_of_runs(viz):
    """The default view, every group collapsed: data generation -> the sweeps' box -> one results
    bundle per sweep -> reporting -> the report. No per-run dataset, table or figure at the top level."""
    main = get_json(f"{viz}/api/main")
    names = {n["id"]: n["name"] for n in main["nodes"]}
    top = _children(main, "__root__")
    assert len(top) == TOP_LEVEL <= MAX_TOP_LEVEL, "; ".join(sorted(names.get(i, i) for i in top))
    groups = {i for i, kind in top.items() if kind == "modularPipeline"}
    assert groups == {"data_generation", "sweeps", "reporting"}
    top_data = {names[i] for i, kind in top.items() if kind == "data"}
    assert not any(name.count(".") >= 2 for name in top_data), top_data  # no <sweep>.<run>.<dataset>
    assert top_data == {"synthetic_data", "synthetic_images", "digits", "report_html",
                        *(f"{s}.results" for s in SWEEPS)}

    # Expanding the sweeps' box shows one box per sweep, and nothing else.
    sweeps = _children(main, "sweeps")
    assert sweeps == {f"sweeps.{s}": "modularPipeline" for s in SWEEPS}
    # Expanding a sweep shows its groups (one per curve), each group's summaries, and its own nodes.
    sweep = _children(main, "sweeps.width_sweep")
    groups = {i for i, kind in sweep.items() if kind == "modularPipeline"}
    assert groups == {"sweeps.width_sweep.linear", "sweeps.width_sweep.swish", "sweeps.width_sweep.softmax"}
    assert {names[i] for i, kind in sweep.items() if kind == "task"} == {"merge_summaries", "gather_results"}
    assert {names[i] for i, kind in sweep.items() if kind == "data"} == {
        *(f"{group.removeprefix('sweeps.')}.summaries" for group in groups), "width_sweep.summaries"}
    assert len(top) - 1 + len(sweeps) - 1 + len(sweep) <= MAX_EXPANDED

    # Expanding a group shows its runs (2 widths x 2 seeds) as boxes, each with its one output, its summary.
    group = _children(main, "sweeps.width_sweep.linear")
    runs = {i for i, kind in group.items() if kind == "modularPipeline"}
    assert len(runs) == 2 * 2 and "sweeps.width_sweep.linear.linear_m8_s0" in runs
    assert {names[i] for i, kind in group.items() if kind == "task"} == {"collect_summaries"}
    assert len(group) == 2 * len(runs) + 1

    # Expanding a run shows its chain init -> training -> Hessian analysis with its datasets.
    run = _children(main, "sweeps.width_sweep.linear.linear_m8_s0")
    assert {names[i] for i, kind in run.items() if kind == "task"} == {
        "initialise_parameters", "train_network", "analyse_hessian", "summarise_run"}
    assert {names[i] for i, kind in run.items() if kind == "data"} >= {
        "width_sweep.linear.linear_m8_s0.initial_params", "width_sweep.linear.linear_m8_s0.final_params"}


def test_every_registered_pipeline_fits_one_screen(viz):
    """Each registered pipeline, collapsed: a sweep's is its data, the sweeps' box and its results;
    reporting reads one dataset per sweep, the sweep's summaries (never a run's summary)."""
    for sweep in SWEEPS:
        registered = get_json(f"{viz}/api/pipelines/{sweep}")
        names = {n["id"]: n["name"] for n in registered["nodes"]}
        top = {names[i] for i in _children(registered, "__root__")}
        assert len(top) == 3 and {"sweeps", f"{sweep}.results"} <= top, top
    reporting = get_json(f"{viz}/api/pipelines/reporting")
    names = {n["id"]: n["name"] for n in reporting["nodes"]}
    top = _children(reporting, "__root__")
    assert len(top) <= MAX_REPORTING
    assert {names[i] for i, kind in top.items() if kind == "data"} == {
        "report_html", *(f"{s}.summaries" for s in SWEEPS), *(f"{s}.results" for s in SWEEPS)}


def test_conf_base_sweeps_have_few_enough_groups_to_expand_on_one_screen():
    """The bound of an expanded sweep holds for conf/base: no sweep has more than MAX_GROUPS groups."""
    experiment = validate_parameters(default_config_loader()["parameters"])
    assert max(len(sweep.groups) for sweep in experiment.sweeps) == MAX_GROUPS


@pytest.mark.parametrize(("dataset", "preview_type"), [
    ("runs_table", "TablePreview"),
    ("width_sweep.results", "TablePreview"),  # the sweep's runs
    ("fig1_delta_k_vs_width", "ImagePreview"),
    ("report_html", "TablePreview"),  # plain cells: kedro-viz re-reads HTML previews as Markdown
])
def test_viz_previews_tables_figures_and_the_report(viz, dataset, preview_type):
    main = get_json(f"{viz}/api/main")
    node_id = next(n["id"] for n in main["nodes"] if n["type"] == "data" and n["name"] == dataset)
    details = get_json(f"{viz}/api/nodes/{node_id}")
    assert details["preview_type"] == preview_type
    assert details["preview"]
    if dataset == "width_sweep.results":
        assert "width_sweep.linear_m8_s0" in json.dumps(details["preview"])


def test_viz_build_writes_a_static_site(project):
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
        cwd=project, env={**kedro_env(), "KEDRO_ENV": "tiny"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    build = project / "build"
    assert (build / "index.html").is_file()
    main = json.loads((build / "api" / "main").read_text())
    assert "sweeps.width_sweep.linear.linear_m8_s0.train_network" in {n.get("full_name") for n in main["nodes"]}
