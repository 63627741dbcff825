"""The report's building blocks and which sweeps each section covers, shared by :mod:`.plan` and the
sections it includes (:mod:`.linearity`).

A :class:`Section` holds blocks (:data:`Block`: Markdown in the report's notation, a :class:`Figure`, a
:class:`Table`); :func:`section` makes one. Which sweeps each section covers is chosen from the experiment
(a sweep's architectures, their roles and claims in the vocabulary, its axes, its data source), never by
testing names. :class:`Context` is what every section is made from: the validated experiment and the
persisted tables (:class:`ReportTables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union
from urllib.parse import quote

import pandas as pd

from ntk_linearity.experiment.groups import SYNTHETIC
from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, SweepSpec
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, FIG1_ARCHITECTURES
from ntk_linearity.pipelines.reporting.markdown import escape, markdown_table
from ntk_linearity.pipelines.reporting.notation import notation
from ntk_linearity.pipelines.reporting.tables import usable
from ntk_linearity.pipelines.schema import BALL_COLUMNS

INPUT_FILES = {"runs": "runs.csv", "table1_scaling": "table1_scaling.csv", "scaling": "scaling.csv",
               "curves": "training_curves.csv", "table1": "table1.md", "ball": "ball.csv"}


@dataclass(frozen=True)
class ReportTables:
    """The persisted tables the report reads (``table1`` is the Markdown of ``table1.md``)."""

    runs: pd.DataFrame
    table1_scaling: pd.DataFrame
    scaling: pd.DataFrame
    curves: pd.DataFrame
    table1: str
    ball: pd.DataFrame


def load_tables(folder: Path) -> ReportTables:
    """The tables :func:`~.report.report_html` wrote to ``folder`` (no ball table: an empty one)."""
    folder = Path(folder)
    ball = folder / INPUT_FILES["ball"]
    return ReportTables(
        runs=pd.read_csv(folder / INPUT_FILES["runs"]),
        table1_scaling=pd.read_csv(folder / INPUT_FILES["table1_scaling"]),
        scaling=pd.read_csv(folder / INPUT_FILES["scaling"]),
        curves=pd.read_csv(folder / INPUT_FILES["curves"]),
        table1=(folder / INPUT_FILES["table1"]).read_text(encoding="utf-8"),
        ball=pd.read_csv(ball) if ball.exists() else pd.DataFrame(columns=BALL_COLUMNS),
    )


@dataclass(frozen=True)
class Figure:
    """A figure the report shows: its name (the pipeline's output it redraws) and how to draw it."""

    name: str
    draw: Callable[[], object] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Table:
    """A table the report shows, its columns already labelled from the vocabulary."""

    name: str
    frame: pd.DataFrame = field(compare=False, repr=False)

    def markdown(self) -> str:
        return markdown_table(self.frame)


Block = Union[str, Figure, Table]  # Markdown (in the report's notation), a figure or a table


def anchor(text: str) -> str:
    """The ``id`` nbconvert gives a heading whose text is ``text`` (``nbconvert.filters.strings.
    _convert_header_id``: spaces as dashes, characters outside URL fragments percent-encoded)."""
    return quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


@dataclass(frozen=True)
class Section:
    """One heading of the report and what follows it."""

    number: str
    title: str
    level: int
    sweeps: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.number} {self.title}".strip()

    @property
    def heading(self) -> str:
        return f"{'#' * self.level} {escape(self.text)}"

    @property
    def anchor(self) -> str:
        return anchor(self.text)

    @property
    def sentences(self) -> tuple[str, ...]:
        return tuple(block for block in self.blocks if isinstance(block, str))

    @property
    def figures(self) -> tuple[str, ...]:
        return tuple(block.name for block in self.blocks if isinstance(block, Figure))

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(block.name for block in self.blocks if isinstance(block, Table))


@dataclass(frozen=True)
class ReportPlan:
    """The report: its title, the blocks before the contents, and its sections in order."""

    title: str
    preamble: tuple[str, ...]
    sections: tuple[Section, ...]

    def section(self, number: str) -> Section:
        return next(s for s in self.sections if s.number == number)

    def contents(self) -> str:
        """The table of contents: a nested Markdown list linking every section heading."""
        top = min((s.level for s in self.sections), default=2)
        return "**Contents**\n\n" + "\n".join(
            f"{'  ' * (s.level - top)}- [{escape(s.text)}](#{s.anchor})" for s in self.sections)


def section(number: str, title: str, level: int = 3, sweeps=(), blocks=()) -> Section:
    """A section whose Markdown blocks are put in the report's notation; empty blocks dropped."""
    kept = tuple(notation(b) if isinstance(b, str) else b for b in blocks if b is not None and b != "")
    return Section(number, title, level, tuple(sweeps), kept)


# ---------------------------------------------------------------------------------------------
# Which sweeps each section covers (the vocabulary's roles and claims, the sweeps' axes and sources)
# ---------------------------------------------------------------------------------------------


def fig1_sweeps(experiment: Experiment) -> tuple[SweepSpec, ...]:
    """The sweeps that train the one-hidden-layer networks of Fig. 1."""
    return tuple(s for s in experiment.sweeps if set(s.architectures) & set(FIG1_ARCHITECTURES))


def role_sweeps(experiment: Experiment, architectures) -> tuple[SweepSpec, ...]:
    return tuple(s for s in experiment.sweeps if set(s.architectures) & set(architectures))


def claim_sweeps(experiment: Experiment) -> tuple[SweepSpec, ...]:
    """The sweeps of an architecture about which the paper claims something outside Table 1 (Appendix H)."""
    return tuple(s for s in experiment.sweeps if any(ARCHITECTURES[a].claim is not None for a in s.architectures))


def axis_sweeps(experiment: Experiment, axis: str) -> tuple[SweepSpec, ...]:
    """The sweeps that vary ``axis``."""
    return tuple(s for s in experiment.sweeps if axis in dict(s.axes))


def real_data_sweeps(experiment: Experiment) -> tuple[SweepSpec, ...]:
    """The sweeps that train on a data source other than the synthetic one (scikit-learn's digits)."""
    return tuple(s for s in experiment.sweeps if s.source != SYNTHETIC)


def other_sweeps(experiment: Experiment) -> tuple[SweepSpec, ...]:
    """Every sweep without a section of its own (3.8, 3.9, 3.11, 3.12, 3.14.3)."""
    own = {s.name for s in (*claim_sweeps(experiment), *axis_sweeps(experiment, ETA_LAMBDA0),
                            *real_data_sweeps(experiment),
                            *axis_sweeps(experiment, "parameterization"), *axis_sweeps(experiment, "output_scale"))}
    return tuple(s for s in experiment.sweeps if s.name not in own)


def names(sweeps_: tuple[SweepSpec, ...]) -> tuple[str, ...]:
    return tuple(s.name for s in sweeps_)


# ---------------------------------------------------------------------------------------------
# What every section is made from
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """The validated experiment and the persisted tables every section is made from."""

    experiment: Experiment
    t: ReportTables

    @property
    def conf(self) -> float:
        return float(self.experiment.parameters.reporting.confidence)

    @property
    def threshold(self) -> float:
        return float(self.experiment.parameters.reporting.linearity_threshold)

    @property
    def curve_width(self) -> int:
        return int(self.experiment.parameters.reporting.time_curve_width)

    def drawable(self, architectures, column: str) -> bool:
        runs = self.t.runs
        return not usable(runs[runs["architecture"].isin(architectures)], column).empty

    def members(self, sweep: str) -> pd.DataFrame:
        return self.t.runs[self.t.runs["sweep"] == sweep]
