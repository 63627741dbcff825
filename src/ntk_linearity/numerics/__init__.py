"""Pure-JAX numerics of the paper: models, tangent kernels, Hessian norms, GD, power-law fits.

Nothing in this package imports Kedro, pandas or matplotlib.
"""

from ntk_linearity.numerics.ball import (
    PointMeasure,
    ball_measures,
    closed_form_hessian_norms,
    kernel_change_bound,
    path_measures,
    unit_directions,
)
from ntk_linearity.numerics.conv import CNN, POOLINGS, cnn
from ntk_linearity.numerics.data import synthetic_dataset, synthetic_images
from ntk_linearity.numerics.hessian import SpectralNorm, hessian_method, hessian_spectral_norm
from ntk_linearity.numerics.kernels import (
    KernelReference,
    KernelSpectrum,
    NoiseFloor,
    delta_k_noise_floor,
    empirical_ntk,
    gradient_change_norms,
    kernel_difference,
    kernel_reference,
    kernel_spectrum,
    ntk_diagonal,
    relative_kernel_change,
)
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, MLP, SIMPLEX_HEADS, mlp
from ntk_linearity.numerics.resnet import ResNet, resnet
from ntk_linearity.numerics.scaling import PowerLawFit, fit_power_law
from ntk_linearity.numerics.training import (
    DivergenceError,
    GradientDescentSettings,
    TrainingResult,
    gradient_descent,
    kernel_top_eigenvalue,
    loss_decay_rate,
    lazy_targets,
    snapshot_schedule,
)

__all__ = [
    "ACTIVATIONS",
    "PointMeasure",
    "ball_measures",
    "closed_form_hessian_norms",
    "gradient_change_norms",
    "kernel_change_bound",
    "path_measures",
    "unit_directions",
    "CNN",
    "HEADS",
    "MLP",
    "POOLINGS",
    "ResNet",
    "SIMPLEX_HEADS",
    "DivergenceError",
    "GradientDescentSettings",
    "KernelReference",
    "KernelSpectrum",
    "NoiseFloor",
    "cnn",
    "delta_k_noise_floor",
    "PowerLawFit",
    "SpectralNorm",
    "TrainingResult",
    "empirical_ntk",
    "fit_power_law",
    "gradient_descent",
    "hessian_method",
    "hessian_spectral_norm",
    "kernel_top_eigenvalue",
    "kernel_difference",
    "kernel_reference",
    "kernel_spectrum",
    "loss_decay_rate",
    "lazy_targets",
    "mlp",
    "ntk_diagonal",
    "relative_kernel_change",
    "resnet",
    "snapshot_schedule",
    "synthetic_dataset",
    "synthetic_images",
]
