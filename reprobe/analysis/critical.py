"""Find the σ_w² of deepest information propagation with O(log M) probes (golden-section search).

The score of a probe is a pair compared lexicographically, ``(primary, tie-break)``. The primary
(``rank_by``) is

* ``cutoff`` (default): ℓ* of ``metric``. The cutoff curve rises to L near the edge of chaos and
  stays there over a whole interval, so the tie-break decides inside it;
* ``xi``: the correlation length ξ̂ of ``metric`` — stages per e-fold of the approach to saturation
  (:mod:`reprobe.analysis.correlation`). It peaks near the edge of chaos and, unlike ℓ*, is not
  capped by L (a bound, where nothing saturates, counts as its value).

Measured (``benchmarks/critical_search.py``; tanh MLP width 256, depth 40, 11 probes each): by ℓ*
the search lands at σ_w² = 1.82 for σ_b² = 0.05 and 2.46 for 0.2 (mean field: 1.761, 2.285); a
golden-section search by ξ̂ landed at 1.53 and 2.34. ξ̂ is flat to 1 % over a band around the edge
(the ridge floor caps it), and a golden-section search led by its noise can settle on a local
maximum far from the peak while reporting a narrow bracket, so the ξ̂ search scans a grid first and
reports the band within ξ̂'s error of the peak (:func:`find_critical`); digits, tanh width 64,
depth 20, σ_b² = 0.05: flat over σ_w² 1.75–2.5 (best probe 2.00; mean field 1.761), 15 probes.
ℓ* with the tie-break is the default of this search for its smaller worst error.

Tie-breaks (all "more information is better"):

* ``mean-relative-entropy`` (default): minus the relative entropy averaged over all stages — the
  area under the information-loss curve, smooth in σ_w² and lowest where information travels
  furthest (width 256, depth 40, σ_b² = 0.05: minimum at σ_w² ≈ 1.8; mean field: 1.761);
* ``final-differential-entropy``: the last stage's differential entropy (higher = reconstructions
  still differ; flatter near its maximum, which sits a bit on the chaotic side, ≈ 2.0 there);
* ``mean-differential-entropy``: differential entropy averaged over stages.

A golden-section search over ``[lo, hi]`` shrinks the bracket by 0.618 per probe; it stops when the
bracket is narrower than ``tol`` and returns the best probed point. By ξ̂ the search scans first and
gives the result a ``band`` (:attr:`CriticalResult.band`, :meth:`CriticalResult.location`).

    res = find_critical(lambda sw: probe_record(sw), lo=1.0, hi=4.0, tol=0.05)
    res.sigma_w2, res.probes

Pure search logic: the records come from the caller (:func:`reprobe.experiments.critical.probe_evaluator`
probes a sweep point per σ_w²).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .correlation import correlation_lengths
from ..core.errors import ReprobeError, param
from ..core.io import nan_array
from ..metrics import DEFAULT_METRIC
from .records import SweepPoint, as_point

RANK_BY = ("xi", "cutoff")
TIE_BREAKS = ("mean-relative-entropy", "final-differential-entropy", "mean-differential-entropy")
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618…


Record = Union[Dict[str, Any], SweepPoint]


def record_xi(rec: Record, metric: str = DEFAULT_METRIC) -> float:
    """ξ̂ of ``metric`` in a probe record (its classifier head left out when the record has stage
    shapes); -1 when the curve cannot be fitted."""
    return record_xi_fit(rec, metric)[0]


def record_xi_fit(rec: Record, metric: str = "relative_entropy") -> Tuple[float, Optional[float]]:
    """(ξ̂, its one-sigma error) of ``metric`` in a probe record; (-1, None) when the curve cannot be
    fitted, and the error None where ξ̂ is a bound."""
    p = as_point(rec)
    values = p.metric(metric)
    if not values:
        return -1.0, None
    fit = correlation_lengths({metric: values}, p.stage_shapes or (), p.saturation)[metric]
    return (-1.0, None) if fit.xi is None else (float(fit.xi), fit.xi_err)


def score_record(rec: Record, metric: str = DEFAULT_METRIC, tie_break: str = "mean-relative-entropy",
                 rank_by: str = "cutoff") -> Tuple[float, float]:
    """(ξ̂ or ℓ*, tie-break value) — higher is deeper propagation. Undecidable counts as -1."""
    if tie_break not in TIE_BREAKS:
        raise ReprobeError(f"unknown tie-break {tie_break!r}; valid: {', '.join(TIE_BREAKS)}")
    if rank_by not in RANK_BY:
        raise ReprobeError(f"unknown rank_by {rank_by!r}; valid: {', '.join(RANK_BY)}")
    p = as_point(rec)
    if rank_by == "xi":
        ell = record_xi(p, metric)
    else:
        ell = p.cutoff(metric)
        ell = -1.0 if ell is None else float(ell)
    if tie_break == "mean-relative-entropy":
        v = nan_array(p.metric("relative_entropy"))
        t = -float(np.nanmean(v)) if np.isfinite(v).any() else -math.inf
    else:
        v = nan_array(p.metric("differential_entropy"))
        if not np.isfinite(v).any():
            t = -math.inf
        elif tie_break == "final-differential-entropy":
            t = float(v[-1]) if np.isfinite(v[-1]) else -math.inf
        else:
            t = float(np.nanmean(v))
    return (ell, t)


def describe_tie_break(tie_break: str, score: float) -> str:
    """The tie-break as people read it: the metric's own value and which way is better.

    Scores are "higher is better", so the relative-entropy score is minus the entropy; printed
    as is it would read as a negative KL divergence.
    """
    if not math.isfinite(score):
        return f"{tie_break.replace('-', ' ')} not finite"
    if tie_break == "mean-relative-entropy":
        return f"mean relative entropy {-score:.3g} (lower = more information kept)"
    return f"{tie_break.replace('-', ' ')} {score:.3g} (higher = more information kept)"


@dataclass
class CriticalResult:
    """The outcome of :func:`find_critical`."""

    sigma_w2: float
    score: Tuple[float, float]
    probes: int
    bracket: Tuple[float, float]
    evaluated: List[Dict[str, Any]] = field(default_factory=list)
    time: float = 0.0
    metric: str = DEFAULT_METRIC
    tie_break: str = "mean-relative-entropy"
    rank_by: str = "cutoff"
    band: Optional[Tuple[float, float]] = None
    tol: float = 0.05

    @property
    def flat(self) -> bool:
        """``rank_by="xi"``: ξ̂ is within its error of the peak over a band wider than the tolerance,
        so the search cannot place the peak more precisely than :attr:`band`."""
        return self.band is not None and self.band[1] - self.band[0] > self.tol

    def location(self) -> str:
        """Where the search places the peak, as precisely as it knows it (for people)."""
        if self.band is None:
            return f"bracket [{self.bracket[0]:.3f}, {self.bracket[1]:.3f}]"
        if self.flat:
            return (f"ξ̂ is flat: within its error of the peak over σ_w² ∈ [{self.band[0]:.3f}, {self.band[1]:.3f}], "
                    "so the peak lies somewhere there")
        return f"peak within [{self.band[0]:.3f}, {self.band[1]:.3f}]"

    @property
    def l_star(self) -> Optional[float]:
        """ℓ* of ``metric`` at the best probe."""
        return next((e["l_star"] for e in self.evaluated if e["sigma_w2"] == self.sigma_w2), None)

    def to_dict(self) -> dict:
        return {
            "sigma_w2": self.sigma_w2,
            "rank_by": self.rank_by,
            "score": self.score[0],
            "l_star": self.l_star,
            "tie_break_value": self.score[1] if math.isfinite(self.score[1]) else None,
            "probes": self.probes,
            "bracket": list(self.bracket),
            "band": None if self.band is None else list(self.band),
            "flat": self.flat,
            "metric": self.metric,
            "tie_break": self.tie_break,
            "time": self.time,
            "evaluated": self.evaluated,
        }


def check_bracket(lo: float, hi: float, tol: float) -> None:
    """A σ_w² search bracket ``lo < hi`` (both finite, ``lo > 0``) and a tolerance ``tol > 0``, or one clear error."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ReprobeError(f"the bracket needs lo < hi, got {lo}:{hi}; e.g. {param('bracket', '1.0:4.0', python='lo=1.0, hi=4.0')}")
    if lo <= 0:
        raise ReprobeError(f"sigma_w2 must be > 0; the bracket starts at {lo}")
    if not (tol > 0):
        raise ReprobeError(f"{param('tol')} must be > 0, got {tol}")


def find_critical(
    evaluate: Callable[[float], dict],
    lo: float = 1.0,
    hi: float = 4.0,
    tol: float = 0.05,
    *,
    metric: str = DEFAULT_METRIC,
    tie_break: str = "mean-relative-entropy",
    rank_by: str = "cutoff",
    max_probes: int = 60,
    on_probe: Optional[Callable[[float, dict, Tuple[float, float]], None]] = None,
) -> CriticalResult:
    """Search for the σ_w² maximising :func:`score_record` on ``[lo, hi]``.

    ``rank_by="cutoff"``: golden-section search. ``rank_by="xi"``: ξ̂ is flat and noisy near its peak,
    and a golden-section search led by noise settles on a local maximum far from it, so the search
    first scans :data:`XI_SCAN_POINTS` evenly spaced σ_w²; where one or two neighbouring grid points
    stand above the others by more than their errors it refines around them by golden section,
    otherwise (a flat top) it stops there. The result's ``band`` is the σ_w² range whose ξ̂ is within its error of the largest
    (:func:`reprobe.analysis.critical_lines.peak_band`): where the peak may lie.

    Args:
        evaluate: σ_w² → a probe record (dict with ``metrics`` and ``cutoffs``, e.g. a sweep point).
        lo, hi: the bracket; tol: stop when the bracket is narrower than this.
        metric: whose ξ̂ (or ℓ*) ranks first; tie_break, rank_by: see the module doc.
        max_probes: hard limit on the number of probes.
        on_probe: called after each new probe with (σ_w², record, score).

    Returns:
        :class:`CriticalResult` — the best probed σ_w², the number of probes, the final bracket
        (and for ξ̂ the band), and every evaluated point (σ_w², ℓ*, tie-break value, ξ̂ and its error).
    """
    check_bracket(lo, hi, tol)
    score_record({}, metric, tie_break, rank_by)  # validates the names
    t0 = time.perf_counter()
    cache: Dict[float, Tuple[float, float]] = {}
    evaluated: List[Dict[str, Any]] = []

    def f(sw: float) -> Tuple[float, float]:
        sw = round(sw, 4)
        if sw not in cache:
            if len(cache) >= max_probes:
                raise ReprobeError(f"critical search used {max_probes} probes without converging; raise {param('tol')}")
            rec = evaluate(sw)
            cache[sw] = _score_probe(sw, rec, metric, tie_break, rank_by, evaluated)
            if on_probe:
                on_probe(sw, rec, cache[sw])
        return cache[sw]

    band = None
    if rank_by == "xi":
        (a, b), band = _xi_search(f, float(lo), float(hi), tol, evaluated)
    else:
        a, b = _golden_section(f, float(lo), float(hi), tol)
    best = max(cache, key=lambda k: (cache[k], -abs(k - 0.5 * (a + b))))
    return CriticalResult(sigma_w2=best, score=cache[best], probes=len(cache), bracket=(round(a, 4), round(b, 4)),
                          evaluated=evaluated, time=time.perf_counter() - t0, metric=metric, tie_break=tie_break,
                          rank_by=rank_by, band=band, tol=tol)


def _score_probe(sw: float, rec: Record, metric: str, tie_break: str, rank_by: str,
                 evaluated: List[Dict[str, Any]]) -> Tuple[float, float]:
    """The score of one probe record; appends its line to ``evaluated``."""
    point = as_point(rec)
    cuts = point.cutoffs
    if metric not in cuts:
        raise ReprobeError(f"{param('score_metric', python='metric')} {metric!r} is not a probed metric; probed: "
                           f"{', '.join(sorted(cuts)) or 'none'}")
    s = score_record(point, metric, tie_break, rank_by)
    line = {"sigma_w2": sw, rank_by: s[0], "l_star": cuts[metric],
            "tie_break_value": s[1] if math.isfinite(s[1]) else None, "depth": point.depth}
    if rank_by == "xi":
        line["xi_err"] = record_xi_fit(point, metric)[1]
    evaluated.append(line)
    return s


def _golden_section(f: Callable[[float], Tuple[float, float]], a: float, b: float, tol: float) -> Tuple[float, float]:
    """Shrink ``[a, b]`` around the maximum of ``f`` by golden section until narrower than ``tol``."""
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc >= fd:  # the maximum is in [a, d]
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = f(c)
        else:  # in [c, b]
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = f(d)
    return a, b


#: σ_w² points the ξ̂ search scans evenly over the bracket before it refines (or finds the peak flat).
XI_SCAN_POINTS = 5


def _xi_search(f: Callable[[float], Tuple[float, float]], lo: float, hi: float, tol: float,
               evaluated: List[Dict[str, Any]]) -> Tuple[Tuple[float, float], Optional[Tuple[float, float]]]:
    """Scan, then refine where one point stands out: (final bracket, band of σ_w² within ξ̂'s error of the peak)."""
    grid = [round(float(v), 4) for v in np.linspace(lo, hi, XI_SCAN_POINTS)]
    for sw in grid:
        f(sw)
    band = _xi_band(evaluated)
    if band is None:
        return (lo, hi), None
    i, j = grid.index(band[0]), grid.index(band[1])
    if j - i > 1:  # flat over three grid points or more: refining would chase noise
        return band, band
    # The peak stands out at one grid point, or lies between two: refine between their neighbours.
    bracket = _golden_section(f, grid[max(i - 1, 0)], grid[min(j + 1, len(grid) - 1)], tol)
    return bracket, _xi_band(evaluated)


def _xi_band(evaluated: Sequence[Mapping[str, Any]]) -> Optional[Tuple[float, float]]:
    """The σ_w² range around the largest ξ̂ whose ξ̂ is within its error of it (ξ̂ of -1: no fit, left out)."""
    from .critical_lines import peak_band

    pts = [e for e in evaluated if e["xi"] >= 0]
    band = peak_band([e["sigma_w2"] for e in pts], [e["xi"] for e in pts], [e.get("xi_err") for e in pts])
    return None if band is None else (round(band[0], 4), round(band[1], 4))
