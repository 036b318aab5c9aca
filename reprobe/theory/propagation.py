"""Signal propagation in wide random nets: the length and correlation maps, their fixed points q* and
c*, the slopes χ₁ and χ_c, the correlation depth ξ_c and the edge of chaos (see :mod:`reprobe.theory`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Dict, Iterable, Tuple, Union

import numpy as np

from ..core.errors import ReprobeError
from .activations import Activation, ActivationLike, get_activation
from .numerics import CRITICAL_TOL, QUAD_POINTS, gauss_hermite, gaussian_expectation_2d

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
