"""Pure-JAX numerics of the paper: models, tangent kernels, Hessian norms, GD, power-law fits.

Nothing in this package imports Kedro, pandas or matplotlib.
"""

from ntk_linearity.numerics.conv import CNN, POOLINGS, ResNet, cnn, resnet
from ntk_linearity.numerics.data import synthetic_dataset, synthetic_images
from ntk_linearity.numerics.hessian import SpectralNorm, hessian_spectral_norm
from ntk_linearity.numerics.kernels import (
    NoiseFloor,
    delta_k_noise_floor,
    empirical_ntk,
    kernel_difference,
    ntk_diagonal,
    relative_kernel_change,
)
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, MLP, mlp
from ntk_linearity.numerics.scaling import PowerLawFit, fit_power_law
from ntk_linearity.numerics.training import (
    DivergenceError,
    TrainingResult,
    gradient_descent,
    kernel_top_eigenvalue,
    lazy_targets,
    snapshot_schedule,
)

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "HEADS",
    "MLP",
    "POOLINGS",
    "ResNet",
    "DivergenceError",
    "NoiseFloor",
    "cnn",
    "delta_k_noise_floor",
    "PowerLawFit",
    "SpectralNorm",
    "TrainingResult",
    "empirical_ntk",
    "fit_power_law",
    "gradient_descent",
    "hessian_spectral_norm",
    "kernel_top_eigenvalue",
    "kernel_difference",
    "lazy_targets",
    "mlp",
    "ntk_diagonal",
    "relative_kernel_change",
    "resnet",
    "snapshot_schedule",
    "synthetic_dataset",
    "synthetic_images",
]
