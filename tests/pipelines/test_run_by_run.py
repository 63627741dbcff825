"""``RunByRunRunner`` (the default of ``kedro run``): Kedro's sequential runner, one run at a time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner

from ntk_linearity import cli as project_cli
from ntk_linearity.execution.runners import RunByRunRunner

pytestmark = pytest.mark.filterwarnings("ignore:One or more dataset names contain")

EXECUTED: list[str] = []


def _step(name: str):
    def step(value: int) -> int:
        EXECUTED.append(name)
        return value + 1

    return step


def _sweep(runs=("a", "b", "c"), steps=3) -> Pipeline:
    """``data`` -> per run ``sweep.<run>`` (namespace ``sweeps.sweep.g.<run>``): a chain of ``steps`` nodes ->
    ``total`` of every run."""
    nodes = [node(_step("data"), "seed", "data", name="make_data")]
    for run in runs:
        previous = "data"
        for k in range(steps):
            output = f"sweep.g.{run}.step{k}"
            nodes.append(node(_step(f"{run}{k}"), previous, output, name=f"step{k}", namespace=f"sweeps.sweep.g.{run}"))
            previous = output
    nodes.append(node(lambda *values: EXECUTED.append("total") or sum(values),
                      [f"sweep.g.{run}.step{steps - 1}" for run in runs], "total", name="total"))
    return Pipeline(nodes)


def _run(runner) -> tuple[list[str], int]:
    EXECUTED.clear()
    catalog = DataCatalog()
    catalog["seed"] = 0
    runner.run(_sweep(), catalog)
    return list(EXECUTED), catalog.load("total")


def test_runs_are_finished_one_at_a_time_with_kedros_results():
    order, total = _run(RunByRunRunner())
    assert order == ["data", "a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2", "total"]
    kedro_order, kedro_total = _run(SequentialRunner())
    assert kedro_order[1:4] == ["a0", "b0", "c0"]  # Kedro: layer by layer
    assert sorted(kedro_order) == sorted(order) and kedro_total == total == 3 * 4


def test_kedro_run_defaults_to_the_run_by_run_runner(monkeypatch):
    seen = {}
    monkeypatch.setattr(project_cli.kedro_run, "callback", lambda **options: seen.update(options))
    command = project_cli.cli.commands["run"]
    assert CliRunner().invoke(command, []).exit_code == 0
    assert seen["runner"] == project_cli.DEFAULT_RUNNER == "ntk_linearity.execution.runners.RunByRunRunner"
    assert CliRunner().invoke(command, ["--runner", "SequentialRunner", "--env", "paper"]).exit_code == 0
    assert seen["runner"] == "SequentialRunner" and seen["env"] == "paper"
