"""``partial_jacobian``: per-stage partial-Jacobian norms χ (Doshi, He, Gromov, NeurIPS 2023)."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from ._common import StageCut, stage_names
from .registry import Batch, NotApplicable, PredictorScore, register_predictor

#: Random vectors per batch in the Hutchinson estimate of ‖J‖²_F.
VECTORS = 4


def stage_chis(model: nn.Module, x: torch.Tensor, stages: Optional[Sequence[str]] = None, *,
               vectors: int = VECTORS, seed: int = 0) -> List[Optional[float]]:
    """χ between each pair of consecutive stages, on the inputs ``x``.

    ``χ^ℓ = E_x ‖∂h^{ℓ+1}/∂h^ℓ‖²_F / N_{ℓ+1}`` with ``h^ℓ`` the ℓ-th stage's output and ``N_{ℓ+1}``
    the number of entries of one input's ``h^{ℓ+1}`` (for equal widths this is the paper's
    ``1/N_ℓ``; per output unit it stays σ_w² E φ'² when widths change). ``‖J‖²_F`` is estimated
    Hutchinson-style, ``E_v ‖vᵀJ‖²`` with ``v ~ N(0, I)``, from ``vectors`` draws; the graph is cut
    at every stage (:class:`~reprobe.predictors._common.StageCut`), so one backward pass per draw
    gives every pair at once. A skip connection that jumps over a stage adds its path to the
    earlier pair.

    Args:
        model: the network (put it in the mode you want first).
        x: a batch of inputs.
        stages: stage module names (default: the probe's).
        vectors: random vectors per batch.
        seed: seed of the random vectors.

    Returns:
        L − 1 values (None for a pair whose later stage does not depend on the earlier one).
    """
    names = stage_names(model, stages)
    if len(names) < 2:
        raise NotApplicable(f"needs at least two stages, found {len(names)}")
    gen = torch.Generator().manual_seed(seed)
    with torch.enable_grad(), StageCut(model, names) as cut:
        model(x)
        order = list(cut.order)
        if len(order) < 2:
            raise NotApplicable(f"only {len(order)} stage(s) ran in the forward pass")
        outs = [cut.outputs[n] for n in order[1:]]
        leaves = [cut.leaves[n] for n in order[:-1]]
        sums = [0.0] * len(leaves)
        connected = [True] * len(leaves)
        for r in range(vectors):
            vs = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to(o.device) for o in outs]
            total = sum((v * o).sum() for v, o in zip(vs, outs))
            grads = torch.autograd.grad(total, leaves, retain_graph=r < vectors - 1, allow_unused=True)
            for k, (g, o) in enumerate(zip(grads, outs)):
                if g is None:
                    connected[k] = False
                    continue
                per_input = o[0].numel() if o.dim() > 0 and o.shape[0] == x.shape[0] else o.numel()
                sums[k] += float(g.double().pow(2).sum()) / (x.shape[0] * per_input)
    return [s / vectors if ok else None for s, ok in zip(sums, connected)]


@register_predictor("partial_jacobian", direction="higher", needs=("inputs",))
def partial_jacobian(model: nn.Module, batch: Batch, stages: Optional[Sequence[str]] = None, *,
                     vectors: int = VECTORS, seed: int = 0) -> PredictorScore:
    """Closeness to criticality by partial Jacobians: ``-|mean ln χ|``, χ per consecutive stage pair.

    Doshi, He, Gromov, "Critical initialization of wide and deep neural networks using partial
    Jacobians: general theory and applications", NeurIPS 2023 (reference code:
    ablghtianyi/PartialJac). ``χ^ℓ = (1/N) E‖∂h^{ℓ+1}/∂h^ℓ‖²_F`` (:func:`stage_chis`); χ = 1 marks
    criticality for any architecture, and the partial Jacobian between distant layers goes like
    ``χ^{Δℓ}``, so ``1/|ln χ|`` is a depth scale like mean field's ξ_c. For a wide tanh MLP at its
    fixed point χ equals the mean-field χ₁. Stages are reprobe's (the probe's stage hooks).

    Mode policy: eval mode (BatchNorm with running statistics, so inputs do not interact; no
    dropout); gradients with respect to stage outputs only (parameters' ``requires_grad`` is turned
    off for the pass and restored by the runner).

    Args:
        model: the network.
        batch: one batch of inputs (χ is averaged over it).
        stages: stage module names (default: the probe's stages).
        vectors: Hutchinson vectors per batch.
        seed: seed of the vectors.

    Returns:
        ``score = -|mean_ℓ ln χ^ℓ|`` (higher = closer to critical = more trainable), ``per_stage`` the
        χ values, ``depth_scale = 1/|mean ln χ|`` in stages (None when exactly critical).
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    chis = stage_chis(model, batch.x, stages, vectors=vectors, seed=seed)
    logs = [math.log(c) for c in chis if c is not None and c > 0]
    if not logs:
        return PredictorScore(score=None, per_stage=chis, reason="no stage pair has χ > 0")
    mean = sum(logs) / len(logs)
    reason = "" if len(logs) == len(chis) else f"{len(chis) - len(logs)} stage pair(s) without a χ > 0 left out"
    if mean == 0.0:
        return PredictorScore(score=0.0, per_stage=chis, depth_scale=None,
                              reason=(reason + "; " if reason else "") + "mean ln χ = 0: depth scale infinite (critical)")
    return PredictorScore(score=-abs(mean), per_stage=chis, depth_scale=1.0 / abs(mean), reason=reason)
