"""Find the edge of chaos where the partial Jacobian's χ crosses 1, by bisection in σ_w².

The partial Jacobian χ (Doshi, He & Gromov, NeurIPS 2023; :mod:`reprobe.predictors.partial_jacobian`)
is the mean squared gain of one stage's Jacobian. It rises with σ_w² (for a tanh MLP
χ = σ_w² E[φ'(h)²], mean field's χ₁), so ``ln χ`` has one upward zero: the critical σ_w². Each
evaluation builds one net and takes one backward pass (no decoders are fitted), so the search is
cheap and, unlike the ξ̂ peak (flat and biased towards chaos), precise.

Bisection halves the bracket per evaluation: ``2 + ⌈log₂((hi − lo)/tol)⌉`` evaluations, 8 for
``[1, 4]`` at ``tol = 0.05``. The answer is ``ln χ`` interpolated linearly between the final bracket's
ends, which is closer than its midpoint.

Pure search logic: ``log_chi`` (σ_w² → mean ``ln χ``) comes from the caller
(:func:`reprobe.experiments.critical.chi_evaluator`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..core.errors import ReprobeError, param
from .chi import log_chi_depth_scale
from .critical import check_bracket


def chi_depth_scale(chi: float) -> Optional[float]:
    """ξ_χ = 1/|ln χ|: stages per e-fold of a small perturbation's decay (χ < 1) or growth (χ > 1).

    Mean field's ξ_c on the ordered side (Schoenholz et al. 2017: ξ_c⁻¹ = −ln χ₁). It diverges at the
    edge of chaos (None there) and, unlike the reconstruction ξ̂, is capped neither by the probed
    depth nor by a decoder's noise floor. The same as the predictor's depth scale
    (:func:`reprobe.analysis.chi.log_chi_depth_scale` of ``ln χ``).
    """
    if not (chi > 0) or not math.isfinite(chi):
        return None
    return log_chi_depth_scale(math.log(chi))


@dataclass
class ChiCrossing:
    """The result of :func:`find_chi_crossing`.

    Attributes:
        sigma_w2: the σ_w² where χ = 1 (interpolated in ``ln χ`` inside ``bracket``).
        bracket: the final (lo, hi), with χ < 1 at lo and χ > 1 at hi.
        probes: nets evaluated.
        evaluated: every evaluation in order: ``{"sigma_w2", "chi", "xi_chi"}`` (``xi_chi``:
            :func:`chi_depth_scale`, None where it diverges).
        time: seconds.
    """

    sigma_w2: float
    bracket: Tuple[float, float]
    probes: int
    evaluated: List[Dict[str, Any]] = field(default_factory=list)
    time: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["bracket"] = list(self.bracket)
        d["rank_by"] = "chi"
        return d


def find_chi_crossing(log_chi: Callable[[float], Optional[float]], lo: float = 1.0, hi: float = 4.0,
                      tol: float = 0.05, *, max_probes: int = 40,
                      on_probe: Optional[Callable[[float, float], None]] = None) -> ChiCrossing:
    """Bisect ``[lo, hi]`` for the σ_w² where ``ln χ`` crosses 0 upwards.

    Args:
        log_chi: σ_w² → mean ``ln χ`` over the net's hidden stage pairs (None: not measurable), as
            :func:`reprobe.analysis.chi.mean_log_chi` defines it.
        lo, hi: the bracket; χ must be below 1 at ``lo`` and above 1 at ``hi``.
        tol: stop when the bracket is narrower than this.
        max_probes: hard limit on evaluations.
        on_probe: called with (σ_w², χ) after each evaluation.

    Returns:
        A :class:`ChiCrossing`.

    Raises:
        ReprobeError: a bad bracket, χ not measurable, or χ on one side of 1 at both ends (the message
            gives χ there and says which way to move the bracket).
    """
    check_bracket(lo, hi, tol)
    t0 = time.perf_counter()
    evaluated: List[Dict[str, Any]] = []

    def f(sw: float) -> float:
        if len(evaluated) >= max_probes:
            raise ReprobeError(f"the χ = 1 search used {max_probes} probes without converging; raise {param('tol')}")
        y = log_chi(sw)
        if y is None or not math.isfinite(y):
            raise ReprobeError(f"the partial Jacobian χ is not measurable at σ_w² = {sw:g} (no finite stage pair)")
        chi = math.exp(y)
        evaluated.append({"sigma_w2": sw, "chi": chi, "xi_chi": log_chi_depth_scale(y)})
        if on_probe:
            on_probe(sw, chi)
        return y

    a, b = float(lo), float(hi)
    fa, fb = f(a), f(b)
    if fa > 0 and fb > 0:
        raise ReprobeError(f"χ > 1 at both ends (χ = {math.exp(fa):.3g} at σ_w² = {a:g}): the edge of chaos lies "
                           f"below the bracket; lower its start")
    if fa < 0 and fb < 0:
        raise ReprobeError(f"χ < 1 at both ends (χ = {math.exp(fb):.3g} at σ_w² = {b:g}): the edge of chaos lies "
                           f"above the bracket; raise its end")
    while b - a > tol and fa != 0 and fb != 0:
        m = 0.5 * (a + b)
        fm = f(m)
        if fm < 0:
            a, fa = m, fm
        else:
            b, fb = m, fm
    x = a if fa == 0 else b if fb == 0 else a + (b - a) * (-fa) / (fb - fa)
    return ChiCrossing(sigma_w2=x, bracket=(a, b), probes=len(evaluated), evaluated=evaluated,
                       time=time.perf_counter() - t0)
