"""The ``conf/<env>/dask.yml`` examples of docs/dask.md are what DaskRunner and dask-jobqueue accept.

Each YAML block of the page whose first line is ``# conf/<env>/dask.yml`` is written to a throw-away
``conf/<env>/dask.yml``, read back through the project's config loader settings (so the ``dask`` config
pattern is tested too) and turned into a cluster (SLURM: ``SLURMCluster(...).job_script()``, which needs
no SLURM) or into the cluster's arguments (no worker process is started).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml
from distributed import LocalCluster, Nanny
from kedro.config import OmegaConfigLoader

from ntk_linearity.execution.runners import load_dask_config, make_cluster
from ntk_linearity.execution.runners.dask_cluster import gpu_cluster_kwargs
from ntk_linearity.settings import CONFIG_LOADER_ARGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "dask.md"
BLOCK = re.compile(r"```yaml\n(# conf/(\w+)/dask\.yml\n.*?)```", re.DOTALL)


def documented_configs() -> dict[str, str]:
    """``{env: YAML text}`` of the page's dask.yml blocks."""
    return {env: text for text, env in BLOCK.findall(DOC.read_text())}


def load_documented(tmp_path: Path, env: str) -> dict:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / env).mkdir()
    (conf / env / "dask.yml").write_text(documented_configs()[env])
    return load_dask_config(OmegaConfigLoader(conf_source=str(conf), env=env, **CONFIG_LOADER_ARGS))


def test_docs_show_a_local_a_slurm_and_a_multi_gpu_config():
    configs = documented_configs()
    assert set(configs) == {"local", "slurm", "gpus"}
    for text in configs.values():
        assert isinstance(yaml.safe_load(text), dict)


def test_slurm_job_script_from_the_documented_config(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster  # noqa: PLC0415

    config = load_documented(tmp_path, "slurm")
    cluster = make_cluster(config)  # starts a scheduler here, submits no job (not scaled)
    try:
        assert isinstance(cluster, SLURMCluster)
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in ("#SBATCH -p gpu", "#SBATCH -A my_account", "#SBATCH -t 04:00:00",
                      "#SBATCH --gres=gpu:1", "#SBATCH --cpus-per-task=8"):
        assert directive in lines, script
    assert "export XLA_PYTHON_CLIENT_PREALLOCATE=false" in lines
    assert "cd /path/to/ntk-linearity" in lines
    worker = lines[-1]
    assert "distributed.cli.dask_worker" in worker and "--nthreads 1" in worker and "--nworkers" not in worker
    assert config["cluster"]["scale"] == {"jobs": 4}


def test_multi_gpu_config_starts_one_worker_per_gpu(tmp_path):
    config = load_documented(tmp_path, "gpus")
    kwargs = gpu_cluster_kwargs(config["local_cluster"])
    workers = kwargs["workers"]
    assert [spec["options"]["env"]["CUDA_VISIBLE_DEVICES"] for spec in workers.values()] == ["0", "1", "2", "3"]
    nanny_args = set(inspect.signature(Nanny).parameters)
    for spec in workers.values():
        assert spec["cls"] is Nanny
        assert spec["options"]["env"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert set(spec["options"]) <= nanny_args
    assert kwargs["scheduler"]["options"] == {"dashboard_address": ":8787"}


def test_local_config_keys_are_local_cluster_or_worker_arguments(tmp_path):
    local = load_documented(tmp_path, "local")["local_cluster"]
    accepted = set(inspect.signature(LocalCluster).parameters) | set(inspect.signature(Nanny).parameters)
    assert set(local) <= accepted
    assert local["threads_per_worker"] == 1 and local["processes"] is True
