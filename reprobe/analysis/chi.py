"""The partial Jacobian's mean ``ln χ``: which stage pairs count, and the depth scale it gives.

One definition, shared by everything that reads χ (Doshi, He & Gromov, NeurIPS 2023): the
``partial_jacobian`` predictor's score and depth scale (:mod:`reprobe.predictors.partial_jacobian`),
the χ = 1 search (:func:`reprobe.experiments.critical.chi_evaluator` with
:mod:`reprobe.analysis.chi_crossing`) and a sweep's χ = 1 line (:mod:`reprobe.analysis.critical_lines`).

χ^ℓ is measured for every pair of consecutive stages (ℓ → ℓ+1); the mean ``ln χ`` is taken over
the **hidden pairs of equal shape after the transient** only (:func:`chi_pairs`):

* **Pairs that change shape are left out** — the pair into a classifier head, a global average
  pool, a strided or pooling downsample, a change of width. χ compounds as ``χ^{Δℓ}`` only along a
  repeated map; a pair that changes shape is a one-off O(1) factor, not a rate per stage, and its
  value depends on the normalisation (per output unit, as measured, or per input unit, as in the
  paper's ``1/N_ℓ``: they differ by ``N_{ℓ+1}/N_ℓ``), which is unambiguous only for equal shapes.
  Such a pair can dominate the mean: the class layer of a tanh MLP has χ = σ_w² (no activation);
  through a global average pool (reprobe's ``cnn``) χ ≈ σ_w²/HW, ``ln χ`` ≈ −6 on 28×28 inputs,
  which with it in ranked σ_w² = 3.0 above the critical 1.76. The cost: a width change inside an
  MLP (reprobe's ``wide`` MLPs end ``width → 400``) loses one pair whose χ would have been fine,
  and a net whose stages all differ in shape (the ``shrinking`` MLP) has no χ at all.
* **The pair into a classifier head is left out** also when its shape does not tell it apart
  (``head=True``; with shapes, :func:`reprobe.analysis.correlation.ends_in_head` decides).
* **The transient is left out**: the first :data:`TRANSIENT_PAIRS` of the remaining pairs (at most
  a quarter of them). There the signal's variance has not yet reached its fixed point q* (the
  input's own scale sets it), so χ is measured away from mean field's χ₁.

The depth scale is ``1/|mean ln χ|`` in stages (:func:`log_chi_depth_scale`): stages per e-fold of
a small perturbation's decay (χ < 1) or growth (χ > 1), mean field's ξ_c on the ordered side. It is
None where the mean is exactly 0. ``ln χ`` of single pairs scatters (finite width: ±0.02–0.03 at width
300), so near χ = 1 the mean is known only to about its standard error (:class:`LogChi`); a depth
scale far above ``1/stderr`` says "critical within the estimate", not a number of stages.

Pure functions over χ values and stage shapes: no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..core.io import is_finite_number
from .correlation import ends_in_head

#: Leading pairs left out of the mean ``ln χ`` (at most a quarter of the kept pairs): there the
#: signal's variance has not yet reached its fixed point q*. Measured on critical tanh MLPs (width
#: 512, MNIST): χ ≈ 1.16, 1.07, 1.03 at the first three pairs, then 1.00 ± 0.03; with them in, the
#: χ = 1 crossing lands 3–5 % low.
TRANSIENT_PAIRS = 4


@dataclass(frozen=True)
class ChiPairs:
    """Which stage pairs the mean ``ln χ`` reads (:func:`chi_pairs`).

    Attributes:
        kept: indices into the per-pair χ list.
        transient: leading pairs left out as the transient.
        head: 1 when the pair into a classifier head was left out, else 0.
        reshaped: other pairs left out because the two stages differ in shape.
        reason: why the shapes could not be used ("" when they could or none were given).
    """

    kept: List[int]
    transient: int = 0
    head: int = 0
    reshaped: int = 0
    reason: str = ""


def chi_pairs(n_pairs: int, stage_shapes: Optional[Sequence[Sequence[int]]] = None, *, head: bool = False,
              transient: int = TRANSIENT_PAIRS) -> ChiPairs:
    """The stage pairs whose χ enters the mean ``ln χ``: hidden pairs of equal shape after the transient.

    Args:
        n_pairs: pairs measured (pair k runs from stage k to stage k + 1).
        stage_shapes: each stage's output shape without the batch dimension, ``n_pairs + 1`` of them.
            None or empty: unknown, so no pair is left out for its shape (only ``head`` and the
            transient apply). Of another length: nothing is kept (``reason`` says why).
        head: the last stage is a classifier head (also found from ``stage_shapes``).
        transient: leading pairs left out, capped at a quarter of the pairs kept so far.

    Returns:
        A :class:`ChiPairs`.
    """
    n_pairs = max(0, int(n_pairs))
    shapes = [tuple(s) for s in stage_shapes] if stage_shapes else None
    if shapes is not None and len(shapes) != n_pairs + 1:
        return ChiPairs([], reason=f"{len(shapes)} stage shapes for {n_pairs} stage pairs "
                                   "(need one more shape than pairs)")
    pairs = list(range(n_pairs))
    n_head = 0
    if pairs and n_pairs > 1 and (head or (shapes is not None and ends_in_head(shapes))):
        pairs, n_head = pairs[:-1], 1
    reshaped = 0
    if shapes is not None:
        same = [k for k in pairs if shapes[k] == shapes[k + 1]]
        reshaped, pairs = len(pairs) - len(same), same
    cut = min(max(0, int(transient)), len(pairs) // 4)
    return ChiPairs(pairs[cut:], transient=cut, head=n_head, reshaped=reshaped)


@dataclass(frozen=True)
class LogChi:
    """The mean ``ln χ`` of a net (:func:`log_chi`).

    Attributes:
        mean: the mean ``ln χ`` over the kept pairs with a finite χ > 0 (None: there is none).
        stderr: its standard error from the pairs' spread (None with fewer than two pairs).
        pairs: pairs averaged.
        of: pairs measured.
        left_out: what was left out and why, in words ("" when nothing was).
    """

    mean: Optional[float]
    stderr: Optional[float]
    pairs: int
    of: int
    left_out: str = ""

    @property
    def depth_scale(self) -> Optional[float]:
        """``1/|mean ln χ|`` in stages (:func:`log_chi_depth_scale`)."""
        return log_chi_depth_scale(self.mean)

    def describe(self) -> str:
        """``mean ln χ = -0.0095 ± 0.0068 over 23 of 29 stage pairs (left out: …)``."""
        if self.mean is None:
            return f"no stage pair to average ln χ over ({self.left_out or 'none measured'})"
        err = "" if self.stderr is None else f" ± {self.stderr:.2g}"
        text = f"mean ln χ = {self.mean:.3g}{err} over {self.pairs} of {self.of} stage pairs"
        return text + (f" (left out: {self.left_out})" if self.left_out else "")


def log_chi(per_stage: Optional[Sequence[Optional[float]]], stage_shapes: Optional[Sequence[Sequence[int]]] = None,
            *, head: bool = False, transient: int = TRANSIENT_PAIRS) -> LogChi:
    """Mean ``ln χ`` over a net's hidden pairs of equal shape after the transient (:func:`chi_pairs`).

    Args:
        per_stage: χ per consecutive stage pair (the partial Jacobian's ``per_stage``).
        stage_shapes, head, transient: see :func:`chi_pairs`.

    Returns:
        A :class:`LogChi`; pairs without a finite χ > 0 are left out too.
    """
    vals = list(per_stage or [])
    sel = chi_pairs(len(vals), stage_shapes, head=head, transient=transient)
    logs = [math.log(vals[k]) for k in sel.kept if is_finite_number(vals[k]) and vals[k] > 0]
    parts = [sel.reason] if sel.reason else []
    for n, what in ((sel.transient, "transient"), (sel.head, "into the head"), (sel.reshaped, "changing shape"),
                    (len(sel.kept) - len(logs), "without a finite χ > 0")):
        if n:
            parts.append(f"{n} {what}")
    if not logs:
        return LogChi(None, None, 0, len(vals), ", ".join(parts))
    mean = sum(logs) / len(logs)
    stderr = None
    if len(logs) > 1:
        stderr = math.sqrt(sum((v - mean) ** 2 for v in logs) / (len(logs) - 1) / len(logs))
    return LogChi(mean, stderr, len(logs), len(vals), ", ".join(parts))


def mean_log_chi(per_stage: Optional[Sequence[Optional[float]]], stage_shapes: Optional[Sequence[Sequence[int]]] = None,
                 *, head: bool = False, transient: int = TRANSIENT_PAIRS) -> Optional[float]:
    """:func:`log_chi`'s mean alone (None when no pair qualifies)."""
    return log_chi(per_stage, stage_shapes, head=head, transient=transient).mean


def log_chi_depth_scale(mean_log_chi: Optional[float]) -> Optional[float]:
    """ξ_χ = 1/|ln χ|: stages per e-fold of a small perturbation's decay (χ < 1) or growth (χ > 1).

    Mean field's ξ_c on the ordered side (Schoenholz et al. 2017: ξ_c⁻¹ = −ln χ₁). None where it
    diverges (``ln χ`` = 0, the edge of chaos) or ``ln χ`` is unknown.
    """
    if mean_log_chi is None or not math.isfinite(mean_log_chi) or mean_log_chi == 0:
        return None
    return 1.0 / abs(mean_log_chi)
