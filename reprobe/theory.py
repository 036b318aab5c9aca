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

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from .core.registry import Registry
from .core.errors import ReprobeError, unknown_name_message

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

#: Default number of Gauss–Hermite nodes (per dimension).
QUAD_POINTS: int = 128
#: Smallest number of Gauss–Hermite nodes accepted.
MIN_QUAD_POINTS: int = 100
#: ``|χ₁ − 1| ≤ CRITICAL_TOL`` counts as exactly critical (``ξ_c = inf``).
CRITICAL_TOL: float = 1e-12

ArrayFn = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Activation:
    """A nonlinearity φ together with its derivative φ'.

    Attributes:
        name: a short name (the registry name, or the callable's ``__name__``).
        fn: the vectorised function ``φ(x)`` on float64 numpy arrays.
        deriv: the vectorised derivative ``φ'(x)``.
        analytic: True when ``deriv`` is exact, False when it is a finite difference.
        homogeneous: for positively homogeneous activations (``φ(a x) = a φ(x)`` for ``a > 0``:
            ReLU, linear) the pair ``(E[φ(z)²], kernel, dkernel)`` used by the closed-form
            solution; ``None`` otherwise.
    """

    name: str
    fn: ArrayFn
    deriv: ArrayFn
    analytic: bool = True
    homogeneous: Optional[Tuple[float, Callable[[float], float], Callable[[float], float]]] = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)


#: Something that names or is an activation: a registry name, a callable φ, or an Activation.
ActivationLike = Union[str, Callable[[np.ndarray], np.ndarray], Activation]


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function (scipy if present, else torch, else :func:`math.erf`)."""
    try:
        from scipy.special import erf as _scipy_erf  # scipy comes with scikit-learn
    except ImportError:  # pragma: no cover - depends on the environment
        try:
            import torch

            return torch.special.erf(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()
        except ImportError:
            return np.vectorize(math.erf, otypes=[np.float64])(x)
    return _scipy_erf(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _relu_kernel(c: float) -> float:
    """``E[relu(z₁) relu(z₂)]`` for unit-variance Gaussians with correlation ``c``."""
    c = min(1.0, max(-1.0, c))
    return (math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - math.acos(c)) * c) / (2.0 * math.pi)


def _relu_dkernel(c: float) -> float:
    """``E[relu'(z₁) relu'(z₂)]`` for unit-variance Gaussians with correlation ``c``."""
    c = min(1.0, max(-1.0, c))
    return (math.pi - math.acos(c)) / (2.0 * math.pi)


ACTIVATION_REGISTRY: Registry[Activation] = Registry("activation")


def _register(act: Activation, help: str) -> None:
    ACTIVATION_REGISTRY.register(act.name, act, help=help)


_register(
    Activation("tanh", np.tanh, lambda x: 1.0 / np.cosh(x) ** 2),
    "hyperbolic tangent (critical sigma_w2 = 1 at sigma_b2 = 0)",
)
_register(
    Activation(
        "relu",
        lambda x: np.maximum(x, 0.0),
        lambda x: (np.asarray(x) > 0).astype(np.float64),
        homogeneous=(0.5, _relu_kernel, _relu_dkernel),
    ),
    "rectified linear unit, solved in closed form (chi1 = sigma_w2 / 2)",
)
_register(
    Activation(
        "linear",
        lambda x: np.asarray(x, dtype=np.float64),
        lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        homogeneous=(1.0, lambda c: c, lambda c: 1.0),
    ),
    "identity, solved in closed form (chi1 = sigma_w2)",
)
_register(
    Activation("erf", _erf, lambda x: (2.0 / math.sqrt(math.pi)) * np.exp(-np.square(x))),
    "error function",
)
_register(
    Activation("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "logistic sigmoid 1 / (1 + exp(-x))",
)
_register(
    Activation(
        "gelu",
        lambda x: 0.5 * x * (1.0 + _erf(x / _SQRT_2)),
        lambda x: 0.5 * (1.0 + _erf(x / _SQRT_2)) + x * _INV_SQRT_2PI * np.exp(-0.5 * np.square(x)),
    ),
    "Gaussian error linear unit x * Phi(x) (exact, not the tanh approximation)",
)
_register(
    Activation("silu", lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x)))),
    "sigmoid linear unit (swish) x * sigmoid(x)",
)
_register(
    Activation("softplus", lambda x: np.logaddexp(0.0, x), _sigmoid),
    "softplus ln(1 + exp(x))",
)
_register(Activation("sin", np.sin, np.cos), "sine")

#: Names accepted wherever an activation is expected.
ACTIVATIONS: Tuple[str, ...] = tuple(ACTIVATION_REGISTRY.names())


def _vectorise(fn: Callable) -> ArrayFn:
    """Wrap a user callable so that it maps a float64 array to a float64 array of the same shape.

    The callable is first called on the whole array; if that fails or returns the wrong shape
    it is applied element by element (slow, but correct for scalar-only functions).  Torch
    tensors are converted back to numpy.
    """

    def to_numpy(y, shape) -> np.ndarray:
        if hasattr(y, "detach"):  # a torch tensor
            y = y.detach().cpu().numpy()
        y = np.asarray(y, dtype=np.float64)
        if y.shape != shape:
            y = np.broadcast_to(y, shape).astype(np.float64) if y.size == 1 else None
        return y

    state: Dict[str, bool] = {"elementwise": False}

    def wrapped(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not state["elementwise"]:
            try:
                y = to_numpy(fn(x), x.shape)
            except Exception:
                y = None
            if y is not None:
                return y
            state["elementwise"] = True
        try:
            flat = np.array([float(fn(float(v))) for v in x.ravel()], dtype=np.float64)
        except Exception as e:
            raise ReprobeError(
                f"activation {getattr(fn, '__name__', fn)!r} could not be evaluated on floats ({e}); "
                "pass a numpy-vectorised callable phi(x)"
            ) from None
        return flat.reshape(x.shape)

    return wrapped


def _finite_difference(fn: ArrayFn, rel_step: float = 1e-5) -> ArrayFn:
    """Central difference ``(φ(x+h) − φ(x−h)) / 2h`` with ``h = rel_step · (1 + |x|)``."""

    def deriv(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        h = rel_step * (1.0 + np.abs(x))
        return (fn(x + h) - fn(x - h)) / (2.0 * h)

    return deriv


def get_activation(activation: ActivationLike, derivative: Optional[Callable] = None) -> Activation:
    """Resolve a name or a callable into an :class:`Activation`.

    Args:
        activation: a name from :data:`ACTIVATIONS` (case-insensitive), an :class:`Activation`,
            or a numpy-vectorised callable ``φ(x)`` (float64 array in, same-shaped array out;
            scalar-only callables and functions returning torch tensors also work, slower).
        derivative: optional exact derivative ``φ'(x)`` for a callable ``activation``.  Without
            it, ``φ'`` is the central finite difference ``(φ(x+h) − φ(x−h)) / 2h`` with
            ``h = 1e-5 · (1 + |x|)`` (error ~1e-10 for smooth φ; kinks such as ReLU's are
            smeared over a width h, which quadrature barely notices).

    Returns:
        The resolved :class:`Activation`.

    Raises:
        ReprobeError: for an unknown name or something that is neither a name nor a callable.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.strip().lower()
        aliases = {"identity": "linear", "none": "linear", "swish": "silu"}
        key = aliases.get(key, key)
        if key in ACTIVATION_REGISTRY:
            return ACTIVATION_REGISTRY.get(key)
        raise ReprobeError(unknown_name_message("activation", activation, ACTIVATIONS))
    if callable(activation):
        fn = _vectorise(activation)
        if derivative is not None:
            return Activation(_callable_name(activation), fn, _vectorise(derivative), analytic=True)
        return Activation(_callable_name(activation), fn, _finite_difference(fn), analytic=False)
    raise ReprobeError(
        f"activation must be a name ({', '.join(ACTIVATIONS)}) or a callable phi(x), got {type(activation).__name__}"
    )


def _callable_name(fn: Callable) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


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


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check(sigma_w2: float, sigma_b2: float) -> Tuple[float, float]:
    try:
        sw, sb = float(sigma_w2), float(sigma_b2)
    except (TypeError, ValueError):
        raise ReprobeError(f"sigma_w2 and sigma_b2 must be numbers, got {sigma_w2!r} and {sigma_b2!r}") from None
    if not math.isfinite(sw) or sw <= 0.0:
        raise ReprobeError(f"sigma_w2 must be a finite number > 0, got {sigma_w2!r}")
    if not math.isfinite(sb) or sb < 0.0:
        raise ReprobeError(f"sigma_b2 must be a finite number >= 0, got {sigma_b2!r}")
    return sw, sb


def _check_sigma_b2(sigma_b2: float) -> float:
    return _check(1.0, sigma_b2)[1]


# --------------------------------------------------------------------------------------------
# Length map and χ₁
# --------------------------------------------------------------------------------------------

_Q_GRID = np.concatenate([[0.0], np.logspace(-12, 12, 241)])


def _bisect(f: Callable[[float], float], lo: float, hi: float, *, f_lo_positive: bool, xtol: float, iters: int = 200) -> float:
    """Bisection for a sign change of ``f`` on ``[lo, hi]``; ``f(lo) > 0`` iff ``f_lo_positive``."""
    for _ in range(iters):
        if hi - lo <= xtol * max(1.0, abs(lo) + abs(hi)) * 0.5:
            break
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == f_lo_positive:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _q_star(act: Activation, sw: float, sb: float, n: int) -> float:
    if act.homogeneous is not None:
        a = act.homogeneous[0]  # E[φ(√q z)²] = a q
        slope = sw * a
        if slope < 1.0:
            return sb / (1.0 - slope)
        return math.inf
    x, w = gauss_hermite(n)

    def g_vec(qs: np.ndarray) -> np.ndarray:
        phi = act.fn(np.sqrt(qs)[:, None] * x[None, :])
        return sw * (np.square(phi) @ w) + sb - qs

    g = g_vec(_Q_GRID)
    if not np.all(np.isfinite(g)):
        bad = float(_Q_GRID[~np.isfinite(g)][0])
        raise ReprobeError(f"activation {act.name!r} gives non-finite E[phi(sqrt(q) z)^2] at q = {bad:g}")
    # The attracting fixed point of the increasing map q ← F(q) is where g = F(q) − q crosses
    # from positive to non-positive; take the first such crossing.
    positive = g > 0
    if not positive.any():
        return 0.0  # g(q) ≤ 0 everywhere: the variance collapses to q* = 0
    first_pos = int(np.argmax(positive))
    after = np.nonzero(~positive[first_pos:])[0]
    if after.size == 0:
        return math.inf  # F(q) > q up to q = 1e12: the length map diverges
    k = first_pos + int(after[0])
    if g[k] == 0.0:
        return float(_Q_GRID[k])
    return _bisect(lambda q: float(g_vec(np.array([q]))[0]), float(_Q_GRID[k - 1]), float(_Q_GRID[k]),
                   f_lo_positive=True, xtol=1e-15)


def _chi1(act: Activation, sw: float, q: float, n: int) -> float:
    if act.homogeneous is not None:
        return sw * act.homogeneous[2](1.0)
    if not math.isfinite(q):
        raise ReprobeError(_diverges(act, sw))
    x, w = gauss_hermite(n)
    return float(sw * np.dot(w, np.square(act.deriv(math.sqrt(q) * x))))


def _diverges(act: Activation, sw: float) -> str:
    return (
        f"the length map diverges for activation {act.name!r} at sigma_w2 = {sw:g} (q* = inf: activations "
        "grow without bound layer by layer), so there is no mean-field fixed point; use a smaller sigma_w2"
    )


@lru_cache(maxsize=4096)
def _point(act: Activation, sw: float, sb: float, n: int) -> Tuple[float, float, float, float, float, str]:
    """``(q*, χ₁, c*, χ_c, ξ_c, phase)`` for validated inputs (cached)."""
    q = _q_star(act, sw, sb, n)
    chi = _chi1(act, sw, q, n)
    if abs(chi - 1.0) <= CRITICAL_TOL:
        return q, chi, 1.0, chi, math.inf, "critical"
    if chi < 1.0:
        return q, chi, 1.0, chi, -1.0 / math.log(chi), "ordered"
    # Chaotic phase: c = 1 is unstable; find the attracting fixed point c* < 1.
    if not math.isfinite(q):
        raise ReprobeError(_diverges(act, sw))
    if act.homogeneous is not None:  # pragma: no cover - χ₁ > 1 implies q* = inf for these
        raise ReprobeError(_diverges(act, sw))
    if q <= 0.0:
        raise ReprobeError(
            f"activation {act.name!r} at sigma_w2 = {sw:g}, sigma_b2 = {sb:g} has chi1 = {chi:.6g} > 1 but q* = 0; "
            "the correlation map is undefined"
        )
    cs = _c_star_chaotic(act, sw, sb, q, n)
    slope = _corr_slope(act, sw, q, cs, n)
    xi = -1.0 / math.log(slope) if 0.0 < slope < 1.0 else math.inf
    return q, chi, cs, slope, xi, "chaotic"


# --------------------------------------------------------------------------------------------
# Correlation map
# --------------------------------------------------------------------------------------------


def _corr_map_vec(act: Activation, sw: float, sb: float, q: float, cs: np.ndarray, n: int) -> np.ndarray:
    """The correlation map ``(σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*`` at many correlations at once."""
    x, w = gauss_hermite(n)
    s = math.sqrt(q)
    cs = np.clip(np.asarray(cs, dtype=np.float64), -1.0, 1.0)
    phi1 = act.fn(s * x)  # (n,)
    wphi1 = w * phi1
    out = np.empty(cs.shape, dtype=np.float64)
    for i, c in enumerate(cs):
        u2 = s * (c * x[:, None] + math.sqrt(max(0.0, 1.0 - c * c)) * x[None, :])
        out[i] = wphi1 @ act.fn(u2) @ w
    return (sw * out + sb) / q


def _corr_slope(act: Activation, sw: float, q: float, c: float, n: int) -> float:
    """``σ_w² E[φ'(u₁)φ'(u₂)]`` at correlation ``c``: the slope of the correlation map."""
    s = math.sqrt(q)
    return sw * gaussian_expectation_2d(lambda z1, z2: act.deriv(s * z1) * act.deriv(s * z2), c, n)


_C_GRID = 1.0 - np.logspace(-10, math.log10(2.0), 160)  # from 1 − 1e-10 down to −1


def _c_star_chaotic(act: Activation, sw: float, sb: float, q: float, n: int) -> float:
    h = _corr_map_vec(act, sw, sb, q, _C_GRID, n) - _C_GRID
    # Walking down from c = 1, h < 0 on (c*, 1) and h ≥ 0 at the first grid point below c*.
    nonneg = np.nonzero(h >= 0)[0]
    if nonneg.size == 0:  # h(−1) ≥ 0 analytically; only roundoff can get here
        return -1.0
    k = int(nonneg[0])
    if k == 0:  # indistinguishable from critical at grid resolution
        return 1.0
    return _bisect(
        lambda c: float(_corr_map_vec(act, sw, sb, q, np.array([c]), n)[0] - c),
        float(_C_GRID[k]), float(_C_GRID[k - 1]), f_lo_positive=True, xtol=1e-14,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def q_star(activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS) -> float:
    """Fixed point ``q*`` of the length map ``q ← σ_w² E[φ(√q z)²] + σ_b²``.

    The fixed point is bracketed on a logarithmic grid of ``q`` in ``[1e-12, 1e12]`` (plus 0) and
    refined by bisection; the attracting fixed point (first downward crossing of ``F(q) − q``)
    is returned.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ (see :func:`get_activation`).
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes.

    Returns:
        ``q*`` as a float.  ``0.0`` when the variance collapses (e.g. tanh with ``σ_b² = 0`` and
        ``σ_w² ≤ 1``); ``math.inf`` when the length map diverges (``F(q) > q`` up to ``1e12``).
        ReLU is solved in closed form: ``q* = σ_b² / (1 − σ_w²/2)`` for ``σ_w² < 2`` (so
        ``q* = 0`` when ``σ_b² = 0``) and ``inf`` for ``σ_w² ≥ 2`` (at ``σ_w² = 2, σ_b² = 0``
        every q is conserved, and inf is reported too); likewise linear with ``σ_w² a = 1``.

    Raises:
        ReprobeError: on an unknown activation, ``sigma_w2 <= 0`` or ``sigma_b2 < 0``.
    """
    act = get_activation(activation)
    sw, sb = _check(sigma_w2, sigma_b2)
    gauss_hermite(quad_points)
    return _q_star(act, sw, sb, int(quad_points))


def chi1(activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS) -> float:
    """``χ₁ = σ_w² E[φ'(√q* z)²]``: the slope of the correlation map at ``c = 1``.

    ``χ₁ < 1`` is the ordered phase, ``χ₁ > 1`` the chaotic phase.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes.

    Returns:
        χ₁ as a float.  For ReLU ``χ₁ = σ_w²/2`` exactly, whatever ``q*`` is (ReLU' is scale
        free), so it is finite even where ``q*`` is 0 or inf; for linear ``χ₁ = σ_w²``.

    Raises:
        ReprobeError: on bad inputs, or when ``q* = inf`` for a non-homogeneous activation.
    """
    act = get_activation(activation)
    sw, sb = _check(sigma_w2, sigma_b2)
    gauss_hermite(quad_points)
    return _chi1(act, sw, _q_star(act, sw, sb, int(quad_points)), int(quad_points))


def mean_field(
    activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS
) -> "MeanFieldPoint":
    """All mean-field quantities at one point ``(σ_w², σ_b²)`` of the phase diagram.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes per dimension.

    Returns:
        A :class:`MeanFieldPoint` with ``q*``, ``χ₁``, ``c*``, ``χ_c``, ``ξ_c`` and the phase.

    Raises:
        ReprobeError: on bad inputs, or where the length map diverges (``q* = inf``, e.g. ReLU
            with ``σ_w² > 2``) so that the correlation map has no fixed point.
    """
    act = get_activation(activation)
    sw, sb = _check(sigma_w2, sigma_b2)
    gauss_hermite(quad_points)
    if act.homogeneous is not None and sw * act.homogeneous[0] > 1.0:
        raise ReprobeError(_diverges(act, sw))
    q, chi, cs, slope, xi, phase = _point(act, sw, sb, int(quad_points))
    return MeanFieldPoint(
        sigma_w2=sw, sigma_b2=sb, q_star=q, chi1=chi, c_star=cs, chi_c=slope, xi_c=xi, phase=phase,
        activation=act.name,
    )


def c_star(activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS) -> float:
    """Attracting fixed point ``c*`` of the correlation map.

    The map is ``c ← (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*`` with ``u₁ = √q* z₁`` and
    ``u₂ = √q* (c z₁ + √(1−c²) z₂)``.  ``c* = 1`` in the ordered and critical phases
    (``χ₁ ≤ 1``).  In the chaotic phase ``c = 1`` is repelling; ``c*`` is found by scanning the
    map from ``c = 1 − 1e-10`` down to ``c = −1`` (where ``map(c) − c`` changes sign) and
    bisecting to 1e-14.  ``c* > 0`` when ``σ_b² > 0``; ``c* = 0`` for odd φ with ``σ_b² = 0``.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes per dimension.

    Returns:
        ``c*`` in ``[-1, 1]``.

    Raises:
        ReprobeError: on bad inputs or where ``q* = inf``.
    """
    return mean_field(activation, sigma_w2, sigma_b2, quad_points=quad_points).c_star


def chi_c(activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS) -> float:
    """Slope ``χ_c = σ_w² E[φ'(u₁)φ'(u₂)]`` of the correlation map at its fixed point ``c*``.

    Equals χ₁ in the ordered phase (``c* = 1``); in the chaotic phase it is evaluated at
    ``c* < 1`` and is below 1 (``c*`` attracts).

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes per dimension.

    Returns:
        χ_c as a float.

    Raises:
        ReprobeError: on bad inputs or where ``q* = inf``.
    """
    return mean_field(activation, sigma_w2, sigma_b2, quad_points=quad_points).chi_c


def xi_c(activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, quad_points: int = QUAD_POINTS) -> float:
    """Correlation depth ``ξ_c``: correlations reach ``c*`` like ``exp(−l / ξ_c)``.

    Ordered phase: ``ξ_c = −1/ln χ₁``.  Chaotic phase: ``ξ_c = −1/ln χ_c`` with χ_c the slope at
    ``c* < 1`` (``−1/ln χ₁`` would be negative there, and wrong).  Exactly critical
    (``|χ₁ − 1| ≤ CRITICAL_TOL``): ``math.inf``.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        quad_points: Gauss–Hermite nodes per dimension.

    Returns:
        ξ_c in layers (``> 0``, possibly ``inf``).

    Raises:
        ReprobeError: on bad inputs or where ``q* = inf``.
    """
    return mean_field(activation, sigma_w2, sigma_b2, quad_points=quad_points).xi_c


def trainable_depth(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    factor: float = 6.0,
    *,
    quad_points: int = QUAD_POINTS,
) -> float:
    """Depth up to which random nets are expected to train: ``factor · ξ_c``.

    Schoenholz et al. (2017) found that nets train roughly while ``L ≲ 6 ξ_c``; the factor is an
    empirical constant and can be changed.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_w2: weight variance σ_w² (> 0).
        sigma_b2: bias variance σ_b² (≥ 0).
        factor: multiple of ξ_c (> 0; default 6).
        quad_points: Gauss–Hermite nodes per dimension.

    Returns:
        ``factor · ξ_c`` in layers (``inf`` at the edge of chaos).

    Raises:
        ReprobeError: on bad inputs, ``factor <= 0`` or where ``q* = inf``.
    """
    factor = float(factor)
    if not math.isfinite(factor) or factor <= 0:
        raise ReprobeError(f"factor must be a finite number > 0, got {factor!r}")
    return factor * xi_c(activation, sigma_w2, sigma_b2, quad_points=quad_points)


_SW_GRID = np.logspace(-2, 3, 101)


def critical_sigma_w2(
    activation: ActivationLike, sigma_b2: float = 0.0, *, tol: float = 1e-6, quad_points: int = QUAD_POINTS
) -> float:
    """The weight variance σ_w² at the edge of chaos (``χ₁ = 1``) for a given σ_b².

    ``χ₁ − 1`` is scanned on a logarithmic grid of σ_w² in ``[0.01, 1000]``; the first crossing
    from below 1 to at least 1 is refined by bisection to ``tol``.  ReLU and linear are exact:
    ``σ_w² = 2`` and ``1`` for every σ_b² (their χ₁ does not depend on q*).

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_b2: bias variance σ_b² (≥ 0).
        tol: absolute tolerance on σ_w².
        quad_points: Gauss–Hermite nodes.

    Returns:
        The critical σ_w².

    Raises:
        ReprobeError: on bad inputs, or when χ₁ does not cross 1 for σ_w² in ``[0.01, 1000]``.
    """
    act = get_activation(activation)
    sb = _check_sigma_b2(sigma_b2)
    n = int(quad_points)
    gauss_hermite(n)
    tol = float(tol)
    if not (tol > 0):
        raise ReprobeError(f"tol must be > 0, got {tol!r}")
    if act.homogeneous is not None:
        return 1.0 / act.homogeneous[2](1.0)

    def f(sw: float) -> float:
        q = _q_star(act, sw, sb, n)
        if not math.isfinite(q):
            return 1.0  # divergent variance counts as chaotic
        return _chi1(act, sw, q, n) - 1.0

    prev = None
    for sw in _SW_GRID:
        val = f(float(sw))
        if val >= 0.0:
            if prev is None:
                raise ReprobeError(
                    f"activation {act.name!r} is already chaotic (chi1 >= 1) at sigma_w2 = {_SW_GRID[0]:g}, "
                    f"sigma_b2 = {sb:g}; no critical point found"
                )
            if val == 0.0:
                return float(sw)
            lo, hi = prev, float(sw)
            while hi - lo > tol / 4:
                mid = 0.5 * (lo + hi)
                if f(mid) >= 0.0:
                    hi = mid
                else:
                    lo = mid
            return 0.5 * (lo + hi)
        prev = float(sw)
    raise ReprobeError(
        f"activation {act.name!r} stays ordered (chi1 < 1) for sigma_w2 up to {_SW_GRID[-1]:g} at sigma_b2 = {sb:g}; "
        "no critical point found"
    )


def critical_line(
    activation: ActivationLike, sigma_b2_values: Iterable[float], *, tol: float = 1e-6, quad_points: int = QUAD_POINTS
) -> np.ndarray:
    """The edge of chaos σ_w²(σ_b²) for several bias variances.

    Args:
        activation: a name from :data:`ACTIVATIONS` or a callable φ.
        sigma_b2_values: bias variances (each ≥ 0).
        tol: absolute tolerance on each σ_w².
        quad_points: Gauss–Hermite nodes.

    Returns:
        A float64 array of critical σ_w², one per σ_b² (same order).

    Raises:
        ReprobeError: as :func:`critical_sigma_w2`.
    """
    act = get_activation(activation)
    return np.array(
        [critical_sigma_w2(act, sb, tol=tol, quad_points=quad_points) for sb in sigma_b2_values], dtype=np.float64
    )


# --------------------------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanFieldPoint:
    """Mean-field quantities at one point of the phase diagram (see :func:`mean_field`).

    Attributes:
        sigma_w2: weight variance σ_w².
        sigma_b2: bias variance σ_b².
        q_star: fixed point of the length map.
        chi1: ``σ_w² E[φ'(√q* z)²]``; ``< 1`` ordered, ``> 1`` chaotic.
        c_star: fixed point of the correlation map (1 unless chaotic).
        chi_c: slope of the correlation map at ``c*``.
        xi_c: correlation depth ``−1/ln χ_c`` (``inf`` when critical).
        phase: ``"ordered"``, ``"chaotic"`` or ``"critical"``.
        activation: name of the activation.
    """

    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    c_star: float
    chi_c: float
    xi_c: float
    phase: str
    activation: str = ""

    def trainable_depth(self, factor: float = 6.0) -> float:
        """``factor · ξ_c``: the depth up to which nets are expected to train (default 6 ξ_c)."""
        return float(factor) * self.xi_c

    def to_dict(self) -> Dict[str, Union[float, str]]:
        """A JSON-safe dict of the fields.

        Returns:
            The fields as plain Python values.  Non-finite floats become strings: ``inf`` →
            ``"inf"`` (``-inf`` → ``"-inf"``, nan → ``"nan"``), which ``float()`` reads back;
            ``json.dumps`` of the result is therefore strict JSON.
        """
        out: Dict[str, Union[float, str]] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float) and not math.isfinite(v):
                v = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
            out[k] = v
        return out
