"""The report names the commit and environment of the Kedro session's project, wherever the process
runs and wherever the package is installed (an Airflow task: a non-editable install, another folder)."""

from __future__ import annotations

import subprocess

from kedro.config import OmegaConfigLoader

from ntk_linearity.experiment import config
from ntk_linearity.pipelines.reporting import provenance


def _git(folder, *args) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_commit_and_environment_come_from_the_session_project(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "tiny").mkdir()
    elsewhere.mkdir()
    _git(project, "init", "-q")
    (project / "conf" / "base" / "parameters.yml").write_text("x: 1\n")
    _git(project, "add", "-A")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny project")
    monkeypatch.chdir(elsewhere)  # not a repository: the working directory must not decide
    monkeypatch.setattr(provenance, "project_root", lambda: elsewhere)  # as for a non-editable install
    config.set_active_config_loader(OmegaConfigLoader(conf_source=str(project / "conf"), env="tiny",
                                                      base_env="base", default_run_env="tiny"))
    try:
        metadata = provenance.run_metadata()
    finally:
        config.set_active_config_loader(None)
    assert metadata["git"]["commit"] == _git(project, "rev-parse", "HEAD")
    assert metadata["conf_env"] == "tiny"
