"""Numerics of the mean-field theory: Gauss–Hermite quadrature of Gaussian expectations, and the
tolerances the solvers use."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Tuple

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ..core.errors import ReprobeError

#: Default number of Gauss–Hermite nodes (per dimension).
QUAD_POINTS: int = 128
#: Smallest number of Gauss–Hermite nodes accepted.
MIN_QUAD_POINTS: int = 100
#: ``|χ₁ − 1| ≤ CRITICAL_TOL`` counts as exactly critical (``ξ_c = inf``).
CRITICAL_TOL: float = 1e-12

ArrayFn = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------
# Gaussian quadrature
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def gauss_hermite(n: int = QUAD_POINTS) -> Tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes and weights normalised to the standard normal.

    Args:
        n: number of nodes (at least :data:`MIN_QUAD_POINTS`).

    Returns:
        ``(nodes, weights)``: arrays of length ``n`` with ``Σ w f(x) ≈ E[f(z)]``, ``z ~ N(0, 1)``
        (the weights sum to 1).  The arrays are read-only and cached.
    """
    n = int(n)
    if n < MIN_QUAD_POINTS:
        raise ReprobeError(f"quad_points must be at least {MIN_QUAD_POINTS}, got {n}")
    x, w = hermegauss(n)
    w = w / math.sqrt(2.0 * math.pi)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], quad_points: int = QUAD_POINTS) -> float:
    """``E[f(z)]`` for ``z ~ N(0, 1)`` by Gauss–Hermite quadrature.

    Args:
        f: a vectorised function of the standard normal variable.
        quad_points: number of quadrature nodes.

    Returns:
        The expectation as a float.
    """
    x, w = gauss_hermite(quad_points)
    return float(np.dot(w, f(x)))


def gaussian_expectation_2d(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray], c: float, quad_points: int = QUAD_POINTS
) -> float:
    """``E[f(z₁, z₂)]`` for standard normals with correlation ``c`` (product Gauss–Hermite rule).

    Args:
        f: a vectorised function of two arrays of the same shape.
        c: the correlation, in ``[-1, 1]``.
        quad_points: number of nodes per dimension.

    Returns:
        The expectation, computed with ``z₂ = c·z₁ + √(1−c²)·z₃`` on the product grid.
    """
    x, w = gauss_hermite(quad_points)
    c = float(np.clip(c, -1.0, 1.0))
    z1 = x[:, None]
    z2 = c * z1 + math.sqrt(max(0.0, 1.0 - c * c)) * x[None, :]
    return float(w @ f(np.broadcast_to(z1, z2.shape), z2) @ w)
