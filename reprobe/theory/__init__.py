"""Mean-field reference theory of signal propagation in wide random networks.

This module implements the infinite-width ("mean-field") theory of *deep information
propagation* (Poole et al. 2016, "Exponential expressivity in deep neural networks through
transient chaos"; Schoenholz et al. 2017, "Deep information propagation").  It gives the
reference numbers that reconstruction-entropy probes are compared against.

Setting: a fully connected net ``h^l = W^l φ(h^{l-1}) + b^l`` with weights
``W_ij ~ N(0, σ_w²/N)`` and biases ``b_i ~ N(0, σ_b²)``, in the limit of infinite width.

* **Length map.**  The pre-activation variance obeys ``q ← σ_w² E[φ(√q z)²] + σ_b²`` with
  ``z ~ N(0, 1)``; it converges to a fixed point ``q*`` (:func:`q_star`).
* **χ₁.**  ``χ₁ = σ_w² E[φ'(√q* z)²]`` (:func:`chi1`) is the slope of the correlation map at
  ``c = 1``.  ``χ₁ < 1``: *ordered* phase, all inputs become perfectly correlated (``c* = 1``);
  ``χ₁ > 1``: *chaotic* phase, correlations settle at ``c* < 1`` (:func:`c_star`);
  ``χ₁ = 1``: the *edge of chaos* (:func:`critical_sigma_w2`, :func:`critical_line`).
* **Correlation map.**  ``c ← (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*`` with ``u₁ = √q* z₁`` and
  ``u₂ = √q* (c z₁ + √(1−c²) z₂)``.  Its slope at the fixed point is
  ``χ_c = σ_w² E[φ'(u₁)φ'(u₂)]`` (:func:`chi_c`).
* **Correlation depth.**  Correlations approach ``c*`` like ``exp(−l/ξ_c)`` with
  ``ξ_c = −1/ln χ_c`` (:func:`xi_c`).  In the ordered phase ``χ_c = χ₁``; in the chaotic phase it
  is the slope at ``c* < 1`` (*not* χ₁).  ``ξ_c`` diverges at the edge of chaos.
* **Trainable depth.**  Schoenholz et al. found that random nets train roughly while the depth
  ``L ≲ 6 ξ_c`` (:func:`trainable_depth`).

Numerics.  One-dimensional Gaussian expectations use probabilists' Gauss–Hermite quadrature
(:data:`QUAD_POINTS` = 128 nodes by default, never fewer than :data:`MIN_QUAD_POINTS`);
two-dimensional ones use the product rule on the same nodes with
``z₂ = c·z₁ + √(1−c²)·z₃``.  Fixed points are bracketed on a grid and refined by bisection,
so the solvers never depend on where an iteration starts.

Activations are named (:data:`ACTIVATIONS`: ``"tanh"``, ``"relu"``, ``"erf"``, ``"linear"``,
``"sigmoid"``, ``"gelu"``, ``"silu"``, ``"softplus"``, ``"sin"``) with analytic derivatives, or
any numpy-vectorised callable ``φ(x)``; for callables ``φ'`` is a central finite difference
(see :func:`get_activation`).  ReLU and linear (positively homogeneous) activations are solved in
closed form, because their length map has no finite, non-zero fixed point when ``σ_b² = 0``.

Example::

    >>> from reprobe.theory import critical_sigma_w2, mean_field
    >>> round(critical_sigma_w2("tanh", 0.05), 3)
    1.761
    >>> mean_field("tanh", 1.5, 0.05).phase
    'ordered'
"""

from .activations import ACTIVATIONS, Activation, ActivationLike, get_activation
from .numerics import CRITICAL_TOL, MIN_QUAD_POINTS, QUAD_POINTS, gauss_hermite, gaussian_expectation, gaussian_expectation_2d
from .propagation import (MeanFieldPoint, c_star, chi1, chi_c, critical_line, critical_sigma_w2, mean_field, q_star,
                          trainable_depth, xi_c)

__all__ = [
    "ACTIVATIONS",
    "QUAD_POINTS",
    "MIN_QUAD_POINTS",
    "CRITICAL_TOL",
    "Activation",
    "ActivationLike",
    "MeanFieldPoint",
    "get_activation",
    "gauss_hermite",
    "gaussian_expectation",
    "gaussian_expectation_2d",
    "q_star",
    "chi1",
    "c_star",
    "chi_c",
    "xi_c",
    "trainable_depth",
    "critical_sigma_w2",
    "critical_line",
    "mean_field",
]
