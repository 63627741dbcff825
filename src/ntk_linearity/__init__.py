"""ntk-linearity: measuring the transition to linearity of wide networks (Liu, Zhu, Belkin 2020).

The numerics are importable without Kedro::

    from ntk_linearity import mlp, empirical_ntk, hessian_spectral_norm, gradient_descent
"""

from ntk_linearity.numerics import *  # noqa: F401,F403
from ntk_linearity.numerics import __all__

__version__ = "0.1.0"
