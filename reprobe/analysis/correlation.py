"""A correlation-length estimate ξ̂ from the shape of a per-stage curve.

Information that decays with depth makes a per-stage metric approach its saturation value
exponentially: ``D(ℓ) ≈ D∞ − A·e^(−ℓ/ξ)``. :func:`fit_saturation` fits that form by variable
projection — for each ξ on a fine logarithmic grid, D∞ and A follow from linear least squares,
so the only search is one-dimensional and cannot land in a local minimum; the best grid point is
then refined between its neighbours, so that ξ̂ is continuous in the curve — and reads the
uncertainty off the profile of the residual (the ξ range whose residual is within one noise unit
of the best). It stays defined when nothing saturates within the L stages: ξ̂ is then a lower
bound — the smallest ξ the curve is still consistent with, but never more than the stages fitted,
since a curve over L stages cannot vouch for longer lengths.

Pure functions over plain sequences (no torch), so any curve — a run's, a sweep point's, a
synthetic one — can be fitted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Dict, Mapping, NamedTuple, Optional, Sequence

import numpy as np
from scipy.optimize import minimize_scalar

#: ξ grid: from a tenth of a stage to this many times the number of stages fitted.
MAX_XI_PER_STAGE = 200.0
GRID_POINTS = 600
#: A curve whose range is below this share of its scale carries no decay to fit.
FLAT_RELATIVE_RANGE = 1e-6


@dataclass(frozen=True)
class SaturationFit:
    """ξ̂ and what it rests on.

    Attributes:
        xi: stages per e-fold of the approach to saturation (a lower bound if ``lower_bound``);
            None when the curve cannot tell (see ``reason``).
        xi_err: one-sigma uncertainty of ``xi`` (half the profile interval); None for bounds.
        lower_bound: the curve has not saturated within its stages; ``xi`` is the smallest
            correlation length it is consistent with.
        asymptote: fitted D∞ (None for bounds).
        amplitude: fitted A, the distance from saturation at the first fitted stage.
        stages: the stage indices (1-based) that entered the fit.
        reason: why the fit is a bound or undefined, in words ("" for a plain estimate).
    """

    xi: Optional[float]
    xi_err: Optional[float]
    lower_bound: bool
    asymptote: Optional[float]
    amplitude: Optional[float]
    stages: tuple
    reason: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = list(self.stages)
        return d


def _profile(l: np.ndarray, y: np.ndarray, xis: np.ndarray) -> tuple:
    """Residual sum of squares and (D∞, A) of the best ``D∞ − A·e^(−ℓ/ξ)`` for each ξ."""
    rss = np.empty(len(xis))
    coef = np.empty((len(xis), 2))
    for i, xi in enumerate(xis):
        basis = np.stack([np.ones_like(l), -np.exp(-(l - l[0]) / xi)], 1)
        c, *_ = np.linalg.lstsq(basis, y, rcond=None)
        rss[i] = float(np.sum((basis @ c - y) ** 2))
        coef[i] = c
    return rss, coef


def fit_saturation(values: Sequence[Optional[float]], exclude_last: bool = False,
                   asymptote: Optional[float] = None) -> SaturationFit:
    """Fit ``D(ℓ) = D∞ − A·e^(−ℓ/ξ)`` to a per-stage curve (stage 1 first).

    Args:
        values: the metric per stage; None/NaN stages are left out.
        exclude_last: leave the last stage out (a classifier head of another width, whose value
            jumps, must not decide ξ̂).
        asymptote: D∞ when it is known (the probe's saturation level: the metric of the inputs
            against their mean). Fixed, it lets the fit read ξ̂ from how far the curve has come
            towards it, so ξ̂ no longer depends on the probed depth and short curves separate; None:
            D∞ is fitted too, and ξ̂ cannot exceed the stages fitted.

    Returns:
        A :class:`SaturationFit`; never raises on short, flat or NaN curves (``xi`` is None and
        ``reason`` says why).
    """
    y_all = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    if exclude_last and len(y_all):
        y_all = y_all[:-1]
    stages = np.arange(1, len(y_all) + 1, dtype=float)
    ok = np.isfinite(y_all)
    l, y = stages[ok], y_all[ok]
    used = tuple(int(s) for s in l)
    if len(y) < 4:
        return SaturationFit(None, None, False, None, None, used, f"only {len(y)} finite stage(s); at least 4 are needed")
    scale = max(float(np.max(np.abs(y))), 1e-30)
    if asymptote is not None and np.isfinite(asymptote):
        return _fit_fixed(l, y, float(asymptote), used, scale)
    if float(np.ptp(y)) <= FLAT_RELATIVE_RANGE * scale:
        return SaturationFit(None, None, False, None, None, used,
                             "the curve is flat: no stage changes it, so it shows no decay to measure")
    span = float(l[-1] - l[0]) + 1.0
    rss_of = lambda xs: _profile(l, y, xs)[0]  # noqa: E731
    scan = _scan(rss_of, span, len(y) - 3, scale)  # 3 parameters: ξ, D∞, A
    if scan.at_edge or scan.xis[scan.best] > span:
        # The curve's shape alone may allow only very long ξ (a straight or accelerating curve), but a
        # fit over `span` stages cannot vouch for lengths beyond them: claim no more than the span.
        bound = min(scan.lo, span)
        return SaturationFit(bound, None, True, None, None, used,
                             f"no saturation within {len(y)} stages: the curve is consistent with any ξ ≥ {bound:.3g}")
    xi = _refine(rss_of, scan)
    coef = _profile(l, y, np.array([xi]))[1]
    return SaturationFit(xi, scan.error(xi), False, float(coef[0, 0]), float(coef[0, 1]), used)


class _Scan(NamedTuple):
    """A residual profile over a logarithmic ξ grid, its best point and its one-noise-unit interval."""

    xis: np.ndarray
    rss: np.ndarray
    best: int
    lo: float
    hi: float
    at_edge: bool  # the interval reaches the grid's longest ξ

    def error(self, xi: float) -> float:
        """Half the interval, but never finer than the grid: at least one grid step either side."""
        return max((self.hi - self.lo) / 2, xi * (float(self.xis[1] / self.xis[0]) - 1))


def _scan(rss_of: Callable[[np.ndarray], np.ndarray], span: float, dof: int, scale: float) -> _Scan:
    """Profile ``rss_of`` over ξ from a tenth of a stage to :data:`MAX_XI_PER_STAGE` spans; one noise unit
    is the best fit's residual variance (``dof`` degrees of freedom), at least float precision."""
    xis = np.geomspace(0.1, MAX_XI_PER_STAGE * span, GRID_POINTS)
    rss = rss_of(xis)
    best = int(np.argmin(rss))
    noise = max(rss[best] / max(dof, 1), (1e-6 * scale) ** 2)
    inside = np.nonzero(rss <= rss[best] + noise)[0]
    return _Scan(xis, rss, best, float(xis[inside.min()]), float(xis[inside.max()]), bool(inside.max() >= len(xis) - 1))


def _fixed_profile(l: np.ndarray, gap: np.ndarray, xis: np.ndarray) -> tuple:
    """Residual sum of squares and amplitude A of the best ``A·e^(−(ℓ−ℓ₁)/ξ)`` to the gap D∞ − D(ℓ), per ξ."""
    basis = np.exp(-(l[None, :] - l[0]) / xis[:, None])
    amp = (basis @ gap) / np.sum(basis * basis, axis=1)
    rss = np.sum((gap[None, :] - amp[:, None] * basis) ** 2, axis=1)
    return rss, amp


def _fit_fixed(l: np.ndarray, y: np.ndarray, d_inf: float, used: tuple, scale: float) -> SaturationFit:
    """ξ̂ with D∞ fixed: a one-parameter profile over ξ (A by least squares), refined between grid points.

    A curve that has come no measurable way towards D∞ gives a lower bound, the shortest ξ its noise
    allows; a curve that starts at or beyond D∞ (nothing to lose, or reconstructions worse than the
    mean from stage 1 on) says so and has no ξ̂."""
    gap = d_inf - y
    if gap[0] <= FLAT_RELATIVE_RANGE * scale:
        return SaturationFit(None, None, False, d_inf, None, used,
                             f"stage 1 is already at the saturation level ({y[0]:.3g} vs {d_inf:.3g}): "
                             "the first stage loses the input, so the curve shows no decay to measure")
    rss_of = lambda xs: _fixed_profile(l, gap, xs)[0]  # noqa: E731
    scan = _scan(rss_of, float(l[-1] - l[0]) + 1.0, len(y) - 2, scale)  # 2 parameters: ξ, A
    if scan.at_edge:
        amp = float(_fixed_profile(l, gap, scan.xis[scan.best:scan.best + 1])[1][0])
        return SaturationFit(scan.lo, None, True, d_inf, amp, used,
                             f"no decay towards the saturation level {d_inf:.3g} within {len(y)} stages: "
                             f"the curve is consistent with any ξ ≥ {scan.lo:.3g}")
    xi = _refine(rss_of, scan)
    amp = float(_fixed_profile(l, gap, np.array([xi]))[1][0])
    return SaturationFit(xi, scan.error(xi), False, d_inf, amp, used)


def _refine(rss_of: Callable[[np.ndarray], np.ndarray], scan: _Scan) -> float:
    """The residual's minimum between the grid neighbours of the best point (bounded 1-D search in log ξ),
    so that ξ̂ varies smoothly with the curve instead of in grid steps; never worse than the grid point."""
    xis, best = scan.xis, scan.best
    lo, hi = np.log(xis[max(best - 1, 0)]), np.log(xis[min(best + 1, len(xis) - 1)])
    res = minimize_scalar(lambda t: rss_of(np.exp([t]))[0], bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-6})
    xi = float(np.exp(res.x))
    return xi if rss_of(np.array([xi]))[0] <= rss_of(xis[best:best + 1])[0] else float(xis[best])


def fitted_curve(fit: SaturationFit, stages: Sequence[float]) -> Optional[np.ndarray]:
    """The fitted ``D∞ − A·e^(−ℓ/ξ)`` at ``stages``, for plotting (None for bounds and undefined fits)."""
    if fit.xi is None or fit.lower_bound or fit.asymptote is None:
        return None
    l = np.asarray(stages, dtype=float)
    return fit.asymptote - fit.amplitude * np.exp(-(l - fit.stages[0]) / fit.xi)


def ends_in_head(stage_shapes: Sequence[Sequence[int]]) -> bool:
    """Is the last stage a classifier head: a vector of another size than the stage before it?"""
    if len(stage_shapes) < 2:
        return False
    last, before = tuple(stage_shapes[-1]), tuple(stage_shapes[-2])
    return len(last) == 1 and last != before


def correlation_lengths(metrics: Mapping[str, Sequence[Optional[float]]],
                        stage_shapes: Sequence[Sequence[int]] = (),
                        saturation: Optional[Mapping[str, Optional[float]]] = None) -> Dict[str, SaturationFit]:
    """ξ̂ of every metric (metric → :class:`SaturationFit`).

    Args:
        metrics: metric name → per-stage values (a probe result's ``metrics``).
        stage_shapes: the stages' output shapes; a classifier head at the end (see
            :func:`ends_in_head`) is left out of the fit, since its value jumps and would decide ξ̂.
        saturation: metric name → the curve's known saturation level (a result's ``saturation``);
            a metric without one has its asymptote fitted.
    """
    head = ends_in_head(stage_shapes)
    levels = saturation or {}
    return {m: fit_saturation(values, exclude_last=head, asymptote=levels.get(m)) for m, values in metrics.items()}


def describe(fit: SaturationFit) -> str:
    """``ξ̂ = 6.9 ± 0.2``, ``ξ̂ ≥ 49 (no saturation within 49 stages)`` or ``ξ̂ undefined (reason)``."""
    if fit.xi is None:
        return f"ξ̂ undefined ({fit.reason})"
    if fit.lower_bound:
        return f"ξ̂ ≥ {fit.xi:.3g} (no saturation within {len(fit.stages)} stages)"
    return f"ξ̂ = {fit.xi:.3g} ± {fit.xi_err:.2g}"
