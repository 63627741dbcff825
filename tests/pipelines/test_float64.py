"""``model.dtype: float64`` runs a whole sweep in double precision (in a child process, because the
switch to 64-bit JAX is process-wide)."""

from __future__ import annotations

import numpy as np
import pytest
import pandas as pd
from kedro_project_utils import MINI, N_SMALL_RUNS, kedro_cli, latest, make_project, write_env


@pytest.mark.slow
def test_float64_sweep_trains_and_stores_double_precision(tmp_path):
    project = make_project(tmp_path)
    write_env(project, "double", MINI | {"model": {"dtype": "float64"}})
    process = kedro_cli(project, "run", "--env", "double", "--to-nodes", "reporting.fit_scaling_exponents")
    assert process.wait(timeout=600) == 0, (project / "kedro.log").read_text()[-3000:]
    params = np.load(project / "data/06_models/width_sweep/linear_m16_s0/final_params.npz")
    assert params["layer_1"].dtype == np.float64
    runs = pd.read_csv(latest(project / "data/08_reporting/runs.csv"))
    assert len(runs) == 8 + N_SMALL_RUNS and np.all(np.isfinite(runs["delta_k"]))
    # float64 throughout: repeating Delta K in float64 reproduces it to double-precision round-off
    assert np.all(runs["delta_k_noise_floor"] <= 1e-12 * runs["delta_k"])
