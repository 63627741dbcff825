"""The transition-to-linearity verdict: its three values and their reasons, defined once.

Every writer of a verdict (``table1.md``, ``table1_scaling.csv``, the report's statements and so the
kedro-viz previews of those files) reads a :class:`Verdict` made here. Its reason is plain ASCII like
``table1.md`` (``Delta K``, ``||H||``; the report shows them in its own notation):

- *Yes*: the slope intervals decide for the transition: both the Delta K and the curvature (``||H||``,
  or the scale-free ``||H|| / K(x, x)``) intervals lie wholly below :data:`DECAY_SLOPE`;
- *No*: one of them lies wholly above it (or, for a bottleneck, Delta K at its narrowest point
  exceeds the threshold);
- *cannot tell*: otherwise, with the reason: a quantity without a fit, a fit without an interval
  (too few points or seeds), an interval that straddles :data:`DECAY_SLOPE`, no usable run. A grid
  too small to decide a claim never reads as a refutation.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

DECAY_SLOPE = -0.25  # midpoint of the paper's alternatives -1/2 (linear output) and 0


class Transition(str, Enum):
    """The three values of a verdict; each compares equal to its text (``Transition.YES == "Yes"``), the
    spelling of the paper's own Table 1 column."""

    YES = "Yes"
    NO = "No"
    CANNOT_TELL = "cannot tell"

    def __str__(self) -> str:
        return self.value


class Verdict(NamedTuple):
    """A verdict and the reason it rests on, from the data (unpacks as ``transition, reason``)."""

    transition: Transition
    reason: str

    @property
    def text(self) -> str:
        """The verdict as a table cell: ``"Yes"``, ``"No"``, or ``"cannot tell: <reason>"`` (a grid that
        cannot decide says why, right where the verdict is read)."""
        if self.transition is Transition.CANNOT_TELL:
            return f"{self.transition}: {self.reason}"
        return str(self.transition)


class Slope(NamedTuple):
    """One fitted slope as a verdict reads it: the quantity's name, the interval and what the fit had."""

    name: str
    low: float
    high: float
    n_points: int
    n_seeds: int
    axis: str


def _finite(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and math.isfinite(value)


def _interval(slope: Slope) -> str:
    return f"[{slope.low:+.2f}, {slope.high:+.2f}]"


def side(slope: Slope) -> str:
    """Where the slope's interval lies against :data:`DECAY_SLOPE`: ``"below"``, ``"above"``,
    ``"straddles"`` (it contains the threshold, its ends included) or ``"none"`` (no interval)."""
    if not (_finite(slope.low) and _finite(slope.high)):
        return "none"
    if slope.high < DECAY_SLOPE:
        return "below"
    return "above" if slope.low > DECAY_SLOPE else "straddles"


def _undecided(name: str, slope: Slope | None) -> str:
    """Why one slope decides nothing: no fit, no interval, or an interval across the threshold."""
    if slope is None:
        return f"no fit of {name}"
    if side(slope) == "none":
        seeds = f"{slope.n_seeds} seed{'' if slope.n_seeds == 1 else 's'}"
        return f"no interval for {name} ({slope.n_points} {slope.axis} values, {seeds})"
    return f"{name} interval {_interval(slope)} straddles {DECAY_SLOPE}"


def slopes_verdict(slopes: dict[str, Slope | None]) -> Verdict:
    """The verdict of the rules ``"slopes"`` and ``"ratio"`` from the named slopes (Delta K and the
    curvature): *No* when an interval lies wholly above :data:`DECAY_SLOPE` = -1/4 (the midpoint of the
    paper's hypotheses -1/2, linear output, Eq. 5, 10, and 0, non-linear output, Eq. 14), *Yes* when every
    interval lies wholly below it (all provably decay at least like m^(-1/4)), *cannot tell* otherwise."""
    sides = {name: "none" if slope is None else side(slope) for name, slope in slopes.items()}
    above = [name for name, where in sides.items() if where == "above"]
    if above:
        return Verdict(Transition.NO, _intervals(slopes, above, "above"))
    if all(where == "below" for where in sides.values()):
        return Verdict(Transition.YES, _intervals(slopes, list(slopes), "below"))
    return Verdict(Transition.CANNOT_TELL, "; ".join(
        _undecided(name, slopes[name]) for name, where in sides.items() if where != "below"))


def _intervals(slopes: dict[str, Slope | None], names: list[str], where: str) -> str:
    """``"Delta K interval [-1.30, -0.90] and ||H|| interval [-0.55, -0.35] lie wholly below -0.25"``."""
    listed = " and ".join(f"{name} interval {_interval(slopes[name])}" for name in names)
    return f"{listed} {'lies' if len(names) == 1 else 'lie'} wholly {where} {DECAY_SLOPE}"


def narrowest_verdict(median_delta_k: float, threshold: float, axis: str, narrowest: float) -> Verdict:
    """The rule ``"narrowest"`` (a bottleneck): *No* when Delta K at the narrowest point of ``axis``
    (median over seeds) exceeds ``threshold``, *Yes* otherwise."""
    where = f"median Delta K {median_delta_k:.2f} at {axis} = {narrowest:g}"
    if median_delta_k > threshold:
        return Verdict(Transition.NO, f"{where} above the threshold {threshold}")
    return Verdict(Transition.YES, f"{where} at or below the threshold {threshold}")


NO_USABLE_RUNS = Verdict(Transition.CANNOT_TELL, "no usable runs: every run diverged or has no positive Delta K")
