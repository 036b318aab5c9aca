"""How ξ̂ maps to the deepest trainable depth, and how to choose that map on trained grids.

One family of maps covers the forms worth comparing::

    max_trainable_depth = c · (n_ref / n)^p · ξ_net^b,    1/ξ_net = 1/ξ̂ − 1/ξ_floor(n),
    ξ_floor(n) = F · (n / n_ref)^q

* **linear** (b = 1, no floor): the first releases' ``c·ξ̂`` with c scaled by the hidden width n;
* **power** (b free, no floor): depth grows faster than ξ̂ where ξ̂ saturates near criticality;
* **floor** (b = 1, F and q free): the probe's own decay (its ridge floor) taken out, so ξ_net and
  the predicted depth diverge at the edge of chaos, as mean field's 6ξ_c does.

A form is chosen by its agreement with training *out of sample* (:func:`leave_one_out`), not in
sample: every form fits its own grid. Pure functions over fits and trained cells (no torch).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .correlation import SaturationFit

#: The hidden width at which the width factors are 1.
REFERENCE_WIDTH = 300
FORMS = ("linear", "power", "floor")
#: q: how the probe's floor grows with an MLP's width, measured without training. At the edge of chaos
#: the net itself loses nothing, so the largest ξ̂ over σ_w² is the floor: on the probed grids it is 6.2,
#: 10.2, 14.4 and 19.9 stages at widths 64, 128, 300 and 512, a power law n^0.54 (14.9 at width 300).
FLOOR_WIDTH_EXPONENT = 0.54
LineKey = Tuple


@dataclass(frozen=True)
class Calibration:
    """The constants of the map from ξ̂ to the deepest trainable depth (see the module docstring).

    Attributes:
        depth_per_xi: c.
        width_exponent: p (0: c does not depend on the width; conv nets are never scaled).
        power: b.
        floor_xi: F, ξ_floor at the reference width (None: no floor).
        floor_width_exponent: q.
        source: what the constants were fitted on: grids, protocol, budget.
        width_range: the hidden widths the width laws were measured on; a narrower or wider net is
            treated as the nearest of them (the laws are not extrapolated).
    """

    depth_per_xi: float
    width_exponent: float = 0.0
    power: float = 1.0
    floor_xi: Optional[float] = None
    floor_width_exponent: float = 0.0
    source: str = ""
    width_range: Tuple[int, int] = (64, 512)

    def _clamped(self, width: int) -> float:
        return float(min(max(width, self.width_range[0]), self.width_range[1]))

    def floor_at(self, width: Optional[int]) -> Optional[float]:
        """ξ_floor for a net of hidden ``width`` (None: no floor)."""
        if self.floor_xi is None:
            return None
        if width is None or width <= 0:
            return self.floor_xi
        return self.floor_xi * (self._clamped(width) / REFERENCE_WIDTH) ** self.floor_width_exponent

    def factor_at(self, width: Optional[int]) -> float:
        """c at hidden ``width``: ``c · (n_ref / n)^p`` (c itself for conv nets or unknown widths)."""
        if width is None or width <= 0 or self.width_exponent == 0:
            return self.depth_per_xi
        return self.depth_per_xi * (REFERENCE_WIDTH / self._clamped(width)) ** self.width_exponent

    def net_xi(self, xi: float, width: Optional[int]) -> float:
        """ξ̂ with the floor taken out; ``inf`` at or beyond the floor."""
        floor = self.floor_at(width)
        if floor is None:
            return xi
        rate = 1.0 / xi - 1.0 / floor
        return math.inf if rate <= 0 else 1.0 / rate

    def depth_of(self, xi: float, width: Optional[int]) -> float:
        """The predicted deepest trainable depth for ξ̂ = ``xi`` (``inf`` beyond the floor)."""
        xi_net = self.net_xi(xi, width)
        return math.inf if math.isinf(xi_net) else self.factor_at(width) * xi_net ** self.power

    def to_dict(self) -> dict:
        return asdict(self)


def predicted_depth(fit: SaturationFit, depth: int, calibration: Calibration,
                    width: Optional[int] = None) -> Tuple[Optional[float], bool]:
    """(max_trainable_depth, is it a lower bound) for one fit; None for undefined fits. A bound on
    ξ̂, or a ξ̂ beyond the floor, predicts at least the probed depth."""
    if fit.xi is None:
        return None, False
    d = calibration.depth_of(fit.xi, width)
    if math.isinf(d):
        floor_free = Calibration(**{**asdict(calibration), "floor_xi": None})
        return max(floor_free.depth_of(fit.xi, width), float(depth)), True
    if fit.lower_bound:
        return max(d, float(depth)), True
    return d, False


@dataclass
class Grid:
    """One trained grid, ready to score maps on: each line's fit, probed depth and width, and the cells.

    Attributes:
        name: the grid's name (a folder).
        fits: line → (ξ̂ fit, probed depth).
        widths: line → hidden width (None: not an MLP).
        cells: (line, trained depth, trainable?) per trained net.
        limits: line → a depth limit that holds whatever the map (the growth limit of
            :mod:`~reprobe.analysis.growth`); lines without one are not limited.
    """

    name: str
    fits: Dict[LineKey, Tuple[SaturationFit, int]]
    widths: Dict[LineKey, Optional[int]]
    cells: List[Tuple[LineKey, int, bool]] = field(default_factory=list)
    limits: Dict[LineKey, Optional[float]] = field(default_factory=dict)

    def limited(self, key: LineKey, depth: Optional[float]) -> Optional[float]:
        """``depth`` capped by the line's limit."""
        limit = self.limits.get(key)
        return depth if depth is None or limit is None else min(depth, limit)


def make_grid(name: str, fits: Mapping[LineKey, Tuple[SaturationFit, int]], widths: Mapping[LineKey, Optional[int]],
              trained: Iterable[Tuple[LineKey, int, float]], acc_threshold: float,
              limits: Optional[Mapping[LineKey, Optional[float]]] = None) -> Grid:
    """A :class:`Grid` from fits and (line, depth, accuracy) triples; cells of unprobed lines are left out."""
    cells = [(k, int(d), float(a) >= acc_threshold) for k, d, a in trained if k in fits and a is not None]
    return Grid(name, dict(fits), dict(widths), cells, dict(limits or {}))


def agreement(calibration: Calibration, grids: Sequence[Grid],
              keep: Optional[callable] = None) -> Tuple[int, int]:
    """(cells where "depth ≤ prediction" matches training, cells scored); ``keep(grid, line)`` filters lines."""
    agree = total = 0
    for g in grids:
        pred = {k: g.limited(k, predicted_depth(fit, depth, calibration, g.widths.get(k))[0])
                for k, (fit, depth) in g.fits.items()}
        for k, d, ok in g.cells:
            if pred.get(k) is None or (keep is not None and not keep(g, k)):
                continue
            agree += int((d <= pred[k]) == ok)
            total += 1
    return agree, total


def candidates(form: str, width_exponent: Optional[float] = None) -> List[Calibration]:
    """The constants a form is searched over (``width_exponent``: p held fixed at that value)."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; valid: {', '.join(FORMS)}")
    if width_exponent is not None:
        widths = [float(width_exponent)]
    else:
        widths = [0.0, 0.15, 0.3, 0.45] if form == "floor" else [0.0, 0.15, 0.3, 0.45, 0.6]
    if form == "linear":
        return [Calibration(float(c), p) for c, p in itertools.product(np.arange(1.0, 16.01, 0.25), widths)]
    if form == "power":
        return [Calibration(float(c), p, float(b)) for c, p, b in
                itertools.product(np.geomspace(0.05, 20, 48), widths, np.arange(1.0, 3.01, 0.125))]
    return [Calibration(float(c), p, 1.0, float(f), q) for c, p, f, q in
            itertools.product(np.arange(1.0, 12.01, 0.25), widths, np.arange(8.0, 60.1, 0.5), [FLOOR_WIDTH_EXPONENT])]


def _depth_table(cands: Sequence[Calibration], grid: Grid) -> Tuple[List[LineKey], np.ndarray]:
    """Predicted depth of every line under every candidate (rows: candidates; NaN: undecidable), as
    :func:`predicted_depth` gives it, computed for all candidates at once."""
    keys = [k for k, (fit, _) in grid.fits.items() if fit.xi is not None]
    xi = np.array([grid.fits[k][0].xi for k in keys], dtype=float)[None, :]
    probed = np.array([grid.fits[k][1] for k in keys], dtype=float)[None, :]
    bound = np.array([grid.fits[k][0].lower_bound for k in keys])[None, :]
    width = np.array([grid.widths.get(k) or np.nan for k in keys], dtype=float)[None, :]
    lo, hi = cands[0].width_range if cands else (64, 512)
    width = np.where(np.isfinite(width), np.clip(width, lo, hi), width)
    col = lambda name: np.array([getattr(c, name) for c in cands], dtype=float)[:, None]  # noqa: E731
    c, p, b, q = col("depth_per_xi"), col("width_exponent"), col("power"), col("floor_width_exponent")
    floor = np.array([np.inf if x.floor_xi is None else x.floor_xi for x in cands], dtype=float)[:, None]
    has_width = np.isfinite(width)
    factor = np.where(has_width & (p != 0), c * (REFERENCE_WIDTH / np.where(has_width, width, 1.0)) ** p, c)
    floor = np.where(has_width, floor * (np.where(has_width, width, REFERENCE_WIDTH) / REFERENCE_WIDTH) ** q, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 1.0 / xi - 1.0 / floor
        beyond = rate <= 0
        depth = factor * np.where(beyond, xi, 1.0 / rate) ** b
    depth = np.where(beyond | bound, np.maximum(depth, probed), depth)
    limit = np.array([np.inf if grid.limits.get(k) is None else grid.limits[k] for k in keys], dtype=float)[None, :]
    return keys, np.minimum(depth, limit)


def _agreement_table(cands: Sequence[Calibration], grids: Sequence[Grid], keep: Optional[callable]) -> Tuple[np.ndarray, int]:
    """Cells that agree per candidate, and the number of cells scored."""
    agree, total = np.zeros(len(cands)), 0
    for g in grids:
        keys, depth = _depth_table(cands, g)
        col = {k: i for i, k in enumerate(keys)}
        cells = [(col[k], d, ok) for k, d, ok in g.cells if k in col and (keep is None or keep(g, k))]
        if not cells:
            continue
        idx = np.array([i for i, _, _ in cells])
        d = np.array([d for _, d, _ in cells], dtype=float)[None, :]
        ok = np.array([ok for _, _, ok in cells])[None, :]
        agree += np.sum((d <= depth[:, idx]) == ok, axis=1)
        total += len(cells)
    return agree, total


def fit_form(form: str, grids: Sequence[Grid], keep: Optional[callable] = None,
             width_exponent: Optional[float] = None) -> Tuple[Calibration, int, int]:
    """The form's constants with the best agreement on ``grids`` (ties: the simplest, then c nearest 6);
    ``width_exponent`` holds p fixed (a width law chosen on other evidence, e.g. mean field's ordered phase).

    Returns:
        (calibration, cells that agree, cells scored).
    """
    cands = candidates(form, width_exponent)
    agree, total = _agreement_table(cands, grids, keep)
    key = [(a, -abs(x.width_exponent), -abs(x.power - 1), -abs(x.depth_per_xi - 6.0)) for a, x in zip(agree, cands)]
    best = max(range(len(cands)), key=key.__getitem__)
    return cands[best], int(agree[best]), total


def leave_one_out(form: str, grids: Sequence[Grid], by: str = "sigma_w2",
                  width_exponent: Optional[float] = None) -> Tuple[int, int]:
    """Agreement of a form on held-out data, fitted on the rest.

    Args:
        by: ``sigma_w2`` (hold out one σ_w² value across all grids at a time) or ``grid`` (hold out
            one whole grid: a width, a family).
        width_exponent: hold p fixed (see :func:`fit_form`).

    Returns:
        (held-out cells that agree, held-out cells).
    """
    if by == "grid":
        folds = [(lambda g, k, name=g.name: g.name != name, lambda g, k, name=g.name: g.name == name) for g in grids]
    elif by == "sigma_w2":
        values = sorted({k[0] for g in grids for k in g.fits})
        folds = [(lambda g, k, v=v: k[0] != v, lambda g, k, v=v: k[0] == v) for v in values]
    else:
        raise ValueError(f"unknown fold {by!r}; valid: sigma_w2, grid")
    agree = total = 0
    for train_on, held in folds:
        cal, _, _ = fit_form(form, grids, train_on, width_exponent)
        a, n = agreement(cal, grids, held)
        agree, total = agree + a, total + n
    return agree, total
