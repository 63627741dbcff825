"""Lanczos on the layer subspace of an ``mlp`` of any depth: at one input the range of the model Hessian
lies in a subspace of dimension ``sum_l (fan_in + fan_out - 1)`` (far below p, see :func:`layer_subspace`),
where Lanczos (:mod:`ntk_linearity.numerics.lanczos`) runs exactly and its basis costs almost nothing."""

from __future__ import annotations

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.lanczos import extreme_eigenvalue, lanczos_tridiagonal
from ntk_linearity.numerics.models import MLP, cache_per_model


class LayerFrame(NamedTuple):
    """Where one dense layer ``z = c a W`` (``W``: fan_in x fan_out) meets the range of H at one input:
    ``reflector`` h (unit, fan_in) of the Householder map ``R = I - 2 h h^T`` with ``R e_1 = +-a/|a|``,
    and ``cotangent`` the unit ``g / |g|`` of ``g = df/dz`` (fan_out)."""

    reflector: jax.Array
    cotangent: jax.Array


def _unit_or_first_axis(v: jax.Array) -> jax.Array:
    """``v / |v|``, or ``e_1`` when ``v = 0`` (the layer's term of H then has no component along v, and
    any unit vector keeps the subspace a superset of the range)."""
    norm = jnp.linalg.norm(v)
    e1 = jnp.zeros_like(v).at[0].set(1.0)
    return jnp.where(norm > 0, v / jnp.where(norm > 0, norm, 1.0), e1)


def _frame(a: jax.Array, g: jax.Array) -> LayerFrame:
    a = _unit_or_first_axis(a)
    sign = jnp.where(a[0] >= 0, 1.0, -1.0).astype(a.dtype)
    h = a.at[0].add(sign)  # |h|^2 = 2 (1 + |a_0|) >= 2: R = I - 2 h h^T / |h|^2 maps e_1 to -sign a
    return LayerFrame(h / jnp.linalg.norm(h), _unit_or_first_axis(g))


def layer_subspace(model: MLP, params, x: jax.Array, output: int | jax.Array = 0) -> list[LayerFrame]:
    """The frames of every trainable layer of ``model`` at input ``x`` for output ``output``.

    At one input the gradient of f with respect to a dense layer is ``c a^T g`` (``a`` the layer's
    input, ``g = df/dz``), so a Hessian-vector product restricted to that layer is
    ``c (da^T g + a^T dg)``: it lies in ``R^fan_in (x) g + a (x) R^fan_out``, a subspace of dimension
    ``fan_in + fan_out - 1``. With ``R`` the Householder map of :class:`LayerFrame` an orthonormal basis
    of it is ``R [u^T; t g^T]`` (``u`` in R^fan_out, ``t`` in R^(fan_in - 1)), so the whole range of H
    is in a space of dimension ``sum_l (fan_in + fan_out - 1)``; H is zero on its complement and its
    eigenvalues there are those of H plus zeros (``||H||`` is unchanged).
    """
    factors = model.kernel_factors(params, x[None])  # trainable layers, input to output
    return [_frame(A[0], G[0, output]) for G, A, _ in factors]


def _expand(frame: LayerFrame, u: jax.Array, t: jax.Array) -> jax.Array:
    """``dW = R [u^T; t g^T]`` (fan_in x fan_out) from reduced coordinates."""
    h, g = frame
    top = jnp.concatenate([u[None, :], t[:, None] * g[None, :]], axis=0)
    return top - 2 * h[:, None] * (h[0] * u + jnp.dot(h[1:], t) * g)[None, :]


def _project(frame: LayerFrame, dW: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The reduced coordinates ``(u, t)`` of ``P P^T dW``: ``R dW = [u^T; T]``, ``t = T g``."""
    h, g = frame
    hW = h @ dW
    return dW[0] - 2 * h[0] * hW, dW[1:] @ g - 2 * h[1:] * jnp.dot(hW, g)


def subspace_dimension(model: MLP) -> int:
    """``sum_l (fan_in + fan_out - 1)`` over the trainable layers: the size of the Lanczos vectors."""
    trainable = set(model.trainable_layers)
    return sum(fan_in + fan_out - 1 for name, fan_in, fan_out in zip(model.layer_names, model.fan_ins, model.fan_outs)
               if name in trainable)


def subspace_hessian_vector_product(model: MLP, params, x: jax.Array, output: int | jax.Array = 0):
    """``r -> P^T H P r`` with P the orthonormal basis of :func:`layer_subspace` (its eigenvalues are
    those of H, padded with zeros), on flat reduced vectors of length :func:`subspace_dimension`."""
    frames = layer_subspace(model, params, x, output)
    names = model.trainable_layers
    sizes = [(frame.cotangent.shape[0], frame.reflector.shape[0] - 1) for frame in frames]
    cuts = list(itertools.accumulate(n for pair in sizes for n in pair))[:-1]

    def f(p):
        return jnp.reshape(model.apply(p, x[None]), (-1,))[output]

    grad_f = jax.grad(f)

    def hvp(r):
        pieces = jnp.split(r, cuts)
        tangent = {name: jnp.zeros_like(W) for name, W in params.items()}
        for i, (name, frame) in enumerate(zip(names, frames)):
            tangent[name] = _expand(frame, pieces[2 * i], pieces[2 * i + 1]).astype(params[name].dtype)
        Hv = jax.jvp(grad_f, (params,), (tangent,))[1]
        return jnp.concatenate([part for name, frame in zip(names, frames) for part in _project(frame, Hv[name])])

    return hvp


@cache_per_model(maxsize=32)
def subspace_lanczos_norm_fn(apply: Callable, steps: int, tol: float) -> Callable:
    """Jitted ``(params, x, output, v0) -> SpectralNorm`` on the layer subspace, compiled once per model."""
    model = apply.__self__

    @sized_jit
    def one_output(params, x, output, v0):
        hvp = subspace_hessian_vector_product(model, params, x, output)
        return extreme_eigenvalue(*lanczos_tridiagonal(hvp, v0, steps, tol))

    return one_output
