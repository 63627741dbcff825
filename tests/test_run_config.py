"""Tests for ``ntk_linearity.experiment.config``, ``hooks`` and ``settings``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader

from ntk_linearity.experiment import config as run_config
from ntk_linearity.hooks import ProjectHooks


@pytest.fixture(autouse=True)
def _clear_active_loader():
    run_config.set_active_config_loader(None)
    yield
    run_config.set_active_config_loader(None)


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    for env, widths in {"base": "[10, 20]", "paper": "[10, 20, 30]"}.items():
        (conf / env).mkdir(parents=True)
        (conf / env / "parameters.yml").write_text(f"grid:\n  widths: {widths}\n")
    (conf / "local").mkdir()
    return conf


def _loader(conf: Path, env: str | None, cls=OmegaConfigLoader, **kwargs):
    return cls(
        conf_source=str(conf), env=env, base_env="base", default_run_env="local", **kwargs
    )


def test_recorded_loader_wins_even_though_it_is_an_empty_userdict(conf_dir: Path):
    loader = _loader(conf_dir, "paper")
    assert not loader  # a config loader is falsy: `loader or fallback` would be wrong
    run_config.set_active_config_loader(loader)
    assert run_config.active_parameters() == {"grid": {"widths": [10, 20, 30]}}


def test_recording_loader_records_itself(conf_dir: Path):
    loader = _loader(conf_dir, "paper", cls=run_config.RecordingConfigLoader)
    assert run_config.active_config_loader() is loader
    assert run_config.active_parameters()["grid"]["widths"] == [10, 20, 30]


def test_runtime_params_are_merged(conf_dir: Path):
    run_config.set_active_config_loader(
        _loader(conf_dir, None, runtime_params={"grid": {"widths": [5]}})
    )
    assert run_config.active_parameters() == {"grid": {"widths": [5]}}


def test_hook_records_context_config_loader(conf_dir: Path):
    loader = _loader(conf_dir, "paper")
    ProjectHooks().after_context_created(SimpleNamespace(config_loader=loader, project_path=conf_dir.parent))
    assert run_config.active_config_loader() is loader


@pytest.mark.parametrize(
    ("kedro_env", "expected"), [(None, [10, 20]), ("paper", [10, 20, 30])]
)
def test_fallback_reads_kedro_env(monkeypatch, conf_dir: Path, kedro_env, expected):
    monkeypatch.setattr(run_config, "project_root", lambda: conf_dir.parent)
    if kedro_env is None:
        monkeypatch.delenv("KEDRO_ENV", raising=False)
    else:
        monkeypatch.setenv("KEDRO_ENV", kedro_env)
    assert run_config.active_parameters()["grid"]["widths"] == expected


def test_no_parameters_gives_empty_dict(tmp_path: Path):
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "local").mkdir()
    run_config.set_active_config_loader(_loader(tmp_path / "conf", None))
    assert run_config.active_parameters() == {}


def test_project_root_holds_conf():
    assert (run_config.project_root() / "pyproject.toml").is_file()


def test_settings_are_valid_for_kedro():
    from kedro.framework.project import configure_project, settings

    configure_project("ntk_linearity")
    assert issubclass(settings.CONFIG_LOADER_CLASS, OmegaConfigLoader)
    assert settings.CONFIG_LOADER_ARGS["base_env"] == "base"
    assert settings.CONFIG_LOADER_ARGS["default_run_env"] == "local"
    assert any(isinstance(hook, ProjectHooks) for hook in settings.HOOKS)


def test_a_missing_environment_or_conf_folder_is_named(tmp_path):
    from ntk_linearity.experiment.config import ConfigurationError, check_configuration

    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "paper").mkdir()
    check_configuration(tmp_path / "conf", "paper")
    check_configuration(tmp_path / "conf", "local")  # the default run environment may be absent
    with pytest.raises(ConfigurationError, match=r"environment 'papr' does not exist: .*\(environments: base, paper\)"):
        check_configuration(tmp_path / "conf", "papr")
    with pytest.raises(ConfigurationError, match="no configuration: .*elsewhere/base does not exist"):
        check_configuration(tmp_path / "elsewhere", None)


def test_the_active_project_root_holds_the_recorded_conf_folder(conf_dir: Path):
    assert run_config.active_project_root() is None
    run_config.set_active_config_loader(_loader(conf_dir, "paper"))
    assert run_config.active_project_root() == conf_dir.parent


def test_a_relative_conf_folder_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(run_config.ConfigurationError, match=f"no configuration: {tmp_path}/conf/base does not exist"):
        run_config.check_configuration("conf", None)
