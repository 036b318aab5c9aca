"""Fitting the decoders from one pass of the frozen network: closed form where possible, else gradient.

:func:`plan_fit` decides, per decoder, between the exact ridge solution (every built-in decoder
supports it) and gradient training, applies the memory budget of the closed-form statistics and
chooses how many rows (patch positions) each feature-map decoder samples per input.
:class:`DecoderFitter` then consumes the stage activations of each batch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from .ridge import MIN_INPUTS, RidgeStatistics, positions_per_input, target_rows

#: Closed-form statistics need a (D+1)² Gram matrix; beyond this many features a gradient fit is used.
MAX_CLOSED_FORM_FEATURES = 8192
#: Memory all closed-form statistics may take together (Gram and cross matrices, float32).
MAX_CLOSED_FORM_BYTES = 4 * 2**30


def closed_form_bytes(decoder: nn.Module) -> int:
    """Bytes of a decoder's float32 statistics: Gram (D+1)² plus cross (D+1)·K."""
    d = decoder.n_features + 1
    return 4 * d * (d + decoder.n_targets)


@dataclass
class FitPlan:
    """How each decoder is fitted.

    Attributes:
        closed: per decoder, True for the closed form.
        over_budget: indices moved to gradient training because their statistics would not fit
            :data:`MAX_CLOSED_FORM_BYTES` (or had more than :data:`MAX_CLOSED_FORM_FEATURES`).
        positions: per decoder, rows sampled per input (None: every row).
        row_targets: per decoder, rows after which its statistics are complete (None: all inputs).
        input_limit: inputs to read (None: all of them).
    """

    closed: List[bool]
    over_budget: List[int]
    positions: List[Optional[int]]
    row_targets: List[Optional[int]]
    input_limit: Optional[int]

    @property
    def gradient(self) -> List[int]:
        return [i for i, c in enumerate(self.closed) if not c]


def _choose_closed_form(decoders: Sequence[nn.Module], fit: str) -> (List[bool], List[int]):
    """Closed form for every decoder that supports it, then move the biggest to gradient training
    until the statistics fit the memory budget (a wide, deep MLP would otherwise need tens of GB)."""
    closed = [fit == "ridge" and getattr(d, "supports_closed_form", False) for d in decoders]
    over = [i for i, c in enumerate(closed) if c and decoders[i].n_features > MAX_CLOSED_FORM_FEATURES]
    for i in over:
        closed[i] = False
    total = sum(closed_form_bytes(decoders[i]) for i, c in enumerate(closed) if c)
    for i in sorted((i for i, c in enumerate(closed) if c), key=lambda i: -closed_form_bytes(decoders[i])):
        if total <= MAX_CLOSED_FORM_BYTES:
            break
        closed[i] = False
        total -= closed_form_bytes(decoders[i])
        over.append(i)
    return closed, sorted(over)


def plan_fit(decoders: Sequence[nn.Module], fit: str, ridge_samples: Optional[int], max_fit_samples: Optional[int],
             dataset_len: Optional[int]) -> FitPlan:
    """Plan the fit of ``decoders`` (see :class:`FitPlan`).

    Feature-map decoders gather ``target_rows`` rows each, sampled evenly over the inputs read;
    reading stops once every closed-form decoder has its rows (and at least ``MIN_INPUTS``
    inputs), at ``ridge_samples`` inputs, or at the end of the data.
    """
    closed, over = _choose_closed_form(decoders, fit)
    targets = [target_rows(d.n_features, d.rows_per_input, ridge_samples) if c else None
               for d, c in zip(decoders, closed)]
    limit = max_fit_samples
    if all(closed):
        wanted = [None if t is None else max(min(MIN_INPUTS, t), math.ceil(t / d.rows_per_input))
                  for d, t in zip(decoders, targets)]
        needed = None if any(w is None for w in wanted) else max(wanted, default=0)
        for cap in (ridge_samples, needed):
            if cap is not None:
                limit = cap if limit is None else min(limit, cap)
    expected = min(v for v in (limit, dataset_len) if v is not None) if (limit or dataset_len) else MIN_INPUTS
    positions = [None if t is None else positions_per_input(t, d.rows_per_input, expected)
                 for d, t in zip(decoders, targets)]
    return FitPlan(closed, over, positions, targets, limit)


def finite_rows(z: torch.Tensor) -> torch.Tensor:
    """Per input: are all its values finite? (A row sum is finite unless a value is not, or it
    overflows; only then are the values themselves checked.)"""
    ok = torch.isfinite(z.reshape(z.shape[0], -1).sum(1))
    if bool(ok.all()):
        return ok
    return torch.isfinite(z.reshape(z.shape[0], -1)).all(1)


@dataclass
class DecoderFitter:
    """Consumes ``[z⁰, …, z^L]`` batch by batch: accumulates statistics, takes gradient steps.

    Args:
        decoders: c¹ … c^L.
        stage_shapes: output shape of each stage (no batch dim).
        plan: from :func:`plan_fit`.
        optimizer: ``adam`` or ``sgd`` (for the gradient-trained decoders), with ``lr``.
        ridge_samples: rows cap for vector decoders (inputs); None for all.
        seed: seed of the position sampling.
    """

    decoders: nn.ModuleList
    stage_shapes: List[tuple]
    plan: FitPlan
    optimizer: str = "adam"
    lr: float = 1e-3
    ridge_samples: Optional[int] = None
    seed: int = 0
    stats: Dict[int, RidgeStatistics] = field(default_factory=dict)

    def __post_init__(self) -> None:
        depth = len(self.decoders)
        self.skipped = [0] * depth
        self.losses = [math.nan] * depth
        self._running = [0.0] * depth
        self._counts = [0] * depth
        self.stat_inputs = [0] * depth
        self._generator = torch.Generator().manual_seed(self.seed)
        params = [p for i in self.plan.gradient for p in self.decoders[i].parameters()]
        opt = torch.optim.SGD if self.optimizer == "sgd" else torch.optim.Adam
        self._opt = opt(params, lr=self.lr) if params else None

    def step(self, zs: List[torch.Tensor], epoch: int) -> None:
        """Use one batch of stage activations (rows with NaN/inf are left out of each decoder's fit)."""
        finite = [finite_rows(z) for z in zs]
        loss_total = None
        for l in range(1, len(zs)):
            inp, tgt = zs[l], zs[l - 1]
            ok = finite[l] & finite[l - 1]
            if epoch == 0:
                self.skipped[l - 1] += int((~ok).sum())
            if not bool(ok.all()):
                inp, tgt = inp[ok], tgt[ok]
            if inp.shape[0] == 0:
                continue
            if self.plan.closed[l - 1]:
                if epoch == 0:
                    self._accumulate(l - 1, inp, tgt)
                continue
            loss = torch.mean((self.decoders[l - 1](inp) - tgt) ** 2)
            self._running[l - 1] += float(loss.detach()) * inp.shape[0]
            self._counts[l - 1] += inp.shape[0]
            loss_total = loss if loss_total is None else loss_total + loss
        if loss_total is not None and self._opt is not None:
            self._opt.zero_grad(set_to_none=True)
            loss_total.backward()
            self._opt.step()

    def _accumulate(self, i: int, inp: torch.Tensor, tgt: torch.Tensor) -> None:
        st = self.stats.setdefault(i, RidgeStatistics())
        target = self.plan.row_targets[i]
        if target is not None and st.rows >= target:
            return
        if target is not None and self.decoders[i].rows_per_input <= 1:  # vector decoders: the first `target` inputs
            inp, tgt = inp[:target - st.rows], tgt[:target - st.rows]
        self.stat_inputs[i] += inp.shape[0]
        st.add(*self.decoders[i].design(inp, tgt, self.plan.positions[i], self._generator))

    def statistics_complete(self) -> bool:
        """Every decoder is closed-form and has the rows it asked for (reading more changes nothing)."""
        if self.plan.gradient:
            return False
        return all(t is not None and i in self.stats and self.stats[i].rows >= t
                   for i, t in enumerate(self.plan.row_targets))

    def end_epoch(self) -> None:
        for i in self.plan.gradient:
            if self._counts[i]:
                self.losses[i] = self._running[i] / self._counts[i]
            self._running[i], self._counts[i] = 0.0, 0

    def solve(self, ridge: float) -> None:
        """Set every closed-form decoder to its ridge solution; freeze all decoders."""
        for i, st in self.stats.items():
            self.decoders[i].fit_closed_form(st.gram, st.cross, ridge)
        for d in self.decoders:
            d.requires_grad_(False)

    def info(self, stage_names: Sequence[str], inputs_read: int) -> dict:
        """The ``fit`` record of a result."""
        return {
            "fit_samples": inputs_read,
            "closed_form_samples": max(self.stat_inputs),
            "closed_form_rows": {stage_names[i]: st.rows for i, st in sorted(self.stats.items())},
            "closed_form_over_memory_budget": [stage_names[i] for i in self.plan.over_budget],
            "closed_form_stages": int(sum(self.plan.closed)),
            "gradient_stages": len(self.plan.gradient),
            "skipped_nonfinite": {stage_names[i]: n for i, n in enumerate(self.skipped) if n},
            "train_loss": [None if not math.isfinite(v) else v for v in self.losses],
        }


def warn_over_budget(stage_names: Sequence[str], over: Sequence[int], decoders: Sequence[nn.Module], fit_with: str) -> Optional[str]:
    """One message naming the stages whose statistics would not fit, and the fallback; also warned."""
    if not over:
        return None
    parts = [f"{stage_names[i]} ({closed_form_bytes(decoders[i]) / 2**30:.1f} GiB)" for i in over]
    msg = (f"closed-form statistics would not fit in memory for stage(s) {', '.join(parts)}; "
           f"their decoders are trained with {fit_with} instead (less exact)")
    warnings.warn(msg, stacklevel=3)
    return msg
