"""The configuration of the active Kedro run, for code that runs outside nodes.

``pipeline_registry.register_pipelines()`` takes no arguments, but the sweep
grids it builds namespaced pipelines from live in the parameters of the run
environment (``conf/base`` by default, ``conf/paper`` with ``--env paper``).
This module holds the config loader of the active run so the registry can read
them with :func:`active_parameters`.

The loader is recorded twice over:

* by :class:`RecordingConfigLoader` (``settings.CONFIG_LOADER_CLASS``) whenever
  a ``KedroSession`` builds its config loader, which covers ``kedro viz run``
  (it disables project hooks unless given ``--include-hooks``);
* by ``ProjectHooks.after_context_created``.

If neither has happened (plain ``import`` in a notebook or a test), a loader
for ``<project root>/conf`` is built with the environment named by
``KEDRO_ENV`` (default ``local``, i.e. ``base`` overlaid by ``local``).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import click
import yaml
from kedro.config import AbstractConfigLoader, MissingConfigException, OmegaConfigLoader

BASE_ENV = "base"
DEFAULT_RUN_ENV = "local"
ENV_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a folder name: no separator, not "." or ".."
CONFIG_SUFFIXES = (".yml", ".yaml", ".json")

_lock = threading.Lock()
_active_loader: AbstractConfigLoader | None = None


def set_active_config_loader(loader: AbstractConfigLoader | None) -> None:
    """Record ``loader`` as the config loader of the active run (``None`` clears it)."""
    global _active_loader  # noqa: PLW0603
    with _lock:
        _active_loader = loader


def active_config_loader() -> AbstractConfigLoader | None:
    """The recorded config loader, or ``None`` if none was recorded."""
    with _lock:
        return _active_loader


def project_root() -> Path:
    """The project root: the folder holding ``conf/``.

    Found from this file's location (``<root>/src/ntk_linearity/experiment/config.py``);
    falls back to the working directory when the package is installed
    non-editable and so lives away from ``conf/``.
    """
    root = Path(__file__).resolve().parents[3]
    if (root / "conf").is_dir():
        return root
    return Path.cwd()


def active_project_root() -> Path | None:
    """The project of the active run: the folder holding its configuration folder, or ``None``.

    A ``KedroSession`` created with ``project_path`` (an Airflow task of ``conf/base/airflow_dag.j2``)
    runs from any working directory; this is where its ``conf/`` is, whatever the working directory.
    """
    loader = active_config_loader()
    if loader is None:
        return None
    return Path(loader.conf_source).resolve().parent


def default_config_loader(env: str | None = None) -> OmegaConfigLoader:
    """An ``OmegaConfigLoader`` for ``<project root>/conf``.

    Args:
        env: Run environment; defaults to ``$KEDRO_ENV``, then ``"local"``.
    """
    return OmegaConfigLoader(
        conf_source=str(project_root() / "conf"),
        env=env or os.environ.get("KEDRO_ENV") or DEFAULT_RUN_ENV,
        base_env=BASE_ENV,
        default_run_env=DEFAULT_RUN_ENV,
        merge_strategy={"parameters": "soft"},
    )


class ConfigurationError(click.ClickException):
    """No configuration where the run looks for it; ``kedro`` prints the one-line message."""


def check_configuration(conf_source: str | Path, env: str | None) -> None:
    """Refuse a missing ``conf/`` folder or a missing environment, naming what is missing."""
    conf = Path(conf_source).absolute()  # a relative one is relative to the working directory: say which
    if env and (not ENV_NAME.match(env) or env in (".", "..")):
        known = sorted(p.name for p in conf.iterdir() if p.is_dir()) if conf.is_dir() else []
        raise ConfigurationError(f"the configuration environment {env!r} (--env or KEDRO_ENV) is not a name: an "
                                 f"environment is a folder directly under {conf} (environments: "
                                 f"{', '.join(known)})")
    if not (conf / BASE_ENV).is_dir():
        raise ConfigurationError(f"no configuration: {conf / BASE_ENV} does not exist (run Kedro from the "
                                 "project root; generate Airflow DAGs with `make airflow-dags`, which bakes "
                                 "in the project path)")
    if env and env != DEFAULT_RUN_ENV and not (conf / env).is_dir():
        known = sorted(p.name for p in conf.iterdir() if p.is_dir())
        raise ConfigurationError(f"the configuration environment {env!r} does not exist: no folder "
                                 f"{conf / env} (environments: {', '.join(known)})")


def active_parameters() -> dict[str, Any]:
    """The merged ``parameters`` of the active run environment.

    Uses the recorded loader (runtime ``--params`` included), else
    :func:`default_config_loader`. Raises :class:`ConfigurationError` when the configuration folder
    or the environment does not exist; returns ``{}`` when there are no parameters.
    """
    loader = active_config_loader()
    if loader is None:  # not `or`: a config loader is a (usually empty) UserDict
        loader = default_config_loader()
    check_configuration(loader.conf_source, getattr(loader, "env", None))
    try:
        params = loader["parameters"]
    except (KeyError, MissingConfigException):
        return {}
    except yaml.YAMLError as error:
        raise ConfigurationError(_syntax_error(error)) from error
    except TypeError as error:  # OmegaConf: "Cannot merge incompatible container types"
        raise ConfigurationError(_merge_error(loader, error)) from error
    except Exception as error:  # noqa: BLE001 - duplicate keys, interpolation: Kedro's message, on one line
        raise ConfigurationError(f"the parameters cannot be read: {' '.join(str(error).split())}") from error
    return dict(params or {})


def _syntax_error(error: yaml.YAMLError) -> str:
    """A YAML syntax error as ``<file>: line L, column C: <problem>`` (Kedro's message names the file)."""
    cause = error.__cause__ if isinstance(error.__cause__, yaml.MarkedYAMLError) else error
    found = re.search(r"file (.+), unable to read", str(error))
    where = found[1] if found else "a parameters file"
    mark = getattr(cause, "problem_mark", None)
    position = f": line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(cause, "problem", None) or " ".join(str(cause).split())
    return f"{where}{position}: {problem}: not valid YAML; fix the syntax of that file"


def _parameter_files(folder: Path) -> list[Path]:
    """The parameters files of one environment folder, as Kedro finds them (``parameters*``,
    ``parameters*/**``, ``**/parameters*``)."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix in CONFIG_SUFFIXES
                  and any(part.startswith("parameters") for part in path.relative_to(folder).parts))


def _conflict(base: Any, override: Any, path: str) -> str | None:
    """The first key under ``path`` that is a mapping on one side and a list on the other."""
    if isinstance(base, dict) and isinstance(override, dict):
        for key in override:
            found = _conflict(base.get(key), override[key], f"{path}.{key}".lstrip("."))
            if found:
                return found
        return None
    kinds = {type(value) for value in (base, override)}
    return path if kinds == {dict, list} else None


def _merge_error(loader: Any, error: Exception) -> str:
    """One line naming the key (and file) of the environment that cannot be merged into ``base``."""
    conf = Path(loader.conf_source)
    base: dict = {}
    for path in _parameter_files(conf / BASE_ENV):
        base |= yaml.safe_load(path.read_text()) or {}
    env = getattr(loader, "env", None) or DEFAULT_RUN_ENV
    for path in _parameter_files(conf / env) if env != BASE_ENV else []:
        key = _conflict(base, yaml.safe_load(path.read_text()) or {}, "")
        if key:
            kind = "a mapping" if isinstance(_at(base, key), dict) else "a list"
            return (f"{path}: {key} cannot be merged into conf/{BASE_ENV}, where it is {kind}: write it as "
                    f"{kind} (an environment overrides single keys of conf/{BASE_ENV})")
    return (f"the parameters cannot be merged ({error}): a key of --params or of conf/{env} is a list where "
            f"conf/{BASE_ENV} has a mapping, or the other way round")


def _at(tree: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


class RecordingConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` that records itself as the active loader when built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_active_config_loader(self)
