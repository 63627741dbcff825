"""The benchmark suite runs (docs/benchmarks.md): every case and floor reference at tiny sizes, the
asv wrappers exist for each, and the table reads a run. Nothing here times anything."""

from __future__ import annotations

import pytest

from ntk_linearity.bench import suite, table
from ntk_linearity.bench.cases import cases, floor_keys, params_of
from ntk_linearity.bench.floors import human, reference_program

TINY = cases(tiny=True)
# One case of each program (the others differ in the network only; they compile for seconds each)
QUICK = {"ntk_shallow_1e5_structured", "ntk_shallow_1e5_jacobian", "kernel_snapshot", "hessian_closed_form",
         "ball_bisection", "gd_step"}


@pytest.mark.parametrize("case", [pytest.param(case, marks=() if case.name in QUICK else pytest.mark.slow)
                                  for case in TINY], ids=lambda case: case.name)
def test_every_case_runs_at_tiny_size(case):
    case.build()()  # builds (compiles) and runs; the kedro case runs `kedro run` on small grids here


@pytest.mark.parametrize("key", floor_keys(TINY))
def test_every_floor_reference_runs(key):
    reference_program(key)()


def test_the_full_list_matches_the_tiny_one_and_the_suite():
    full = cases()
    assert [c.name for c in full] == [c.name for c in cases(tiny=True)]
    for case in full:
        benchmark = getattr(suite, case.name)
        assert hasattr(benchmark, "time_case") and benchmark.version == case.version
        assert hasattr(benchmark, "peakmem_case") == case.memory
        assert case.floor.amount > 0
    for key in floor_keys(full):
        assert hasattr(getattr(suite, suite.floor_class_name(key)), "time_floor")


def test_parameter_counts_match_the_models():
    from ntk_linearity.bench.programs import network

    for case in cases(tiny=True):
        if case.name.startswith("ntk_"):
            arch = case.args[0]
            assert params_of(arch) == network(arch).n_params, case.name


def test_the_table_states_time_floor_and_ratio():
    case = cases()[0]
    key = f"suite.{suite.floor_class_name(case.floor.reference)}.time_floor"
    row = table._row(case, {f"suite.{case.name}.time_case": 0.3, key: 0.1})
    assert row[0] == case.name and row[1] == "300.0 ms" and row[5] == f"{0.3 / (0.1 * case.floor.times):.2f}"
    assert table._row(case, {})[1] == "not run"
    assert table._row(case, {f"suite.{case.name}.time_case": float("nan")})[1] == "failed"
    lines = table.machine_limits({key: 0.1})
    assert "GFLOP/s" in lines[0]
    assert human(4.0e9, "flop") == "4 GFLOP" and human(8.8e7, "B") == "88 MB"
