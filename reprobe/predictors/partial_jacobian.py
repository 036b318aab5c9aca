"""``partial_jacobian``: per-stage partial-Jacobian norms χ (Doshi, He, Gromov, NeurIPS 2023)."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..analysis.chi import LogChi, log_chi
from ._common import cut_stages, stage_names
from .registry import Batch, NotApplicable, PredictorScore, register_predictor

#: Random vectors per batch in the Hutchinson estimate of ‖J‖²_F.
VECTORS = 4


def stage_chis_and_shapes(model: nn.Module, x: torch.Tensor, stages: Optional[Sequence[str]] = None, *,
                          vectors: int = VECTORS, seed: int = 0,
                          ) -> Tuple[List[Optional[float]], List[Tuple[int, ...]]]:
    """χ between each pair of consecutive stages, on the inputs ``x``, and the stages' output shapes.

    ``χ^ℓ = E_x ‖∂h^{ℓ+1}/∂h^ℓ‖²_F / N_{ℓ+1}`` with ``h^ℓ`` the ℓ-th stage's output and ``N_{ℓ+1}``
    the number of entries of one input's ``h^{ℓ+1}`` (for equal widths this is the paper's
    ``1/N_ℓ``; per output unit it stays σ_w² E φ'² when widths change). ``‖J‖²_F`` is estimated
    Hutchinson-style, ``E_v ‖vᵀJ‖²`` with ``v ~ N(0, I)``, from ``vectors`` draws; the graph is cut
    at every stage (:meth:`~reprobe.probe.hooks.StageHooks.cut`), so one backward pass per draw
    gives every pair at once. A skip connection that jumps over a stage adds its path to the
    earlier pair.

    Args:
        model: the network (put it in the mode you want first).
        x: a batch of inputs.
        stages: stage module names (default: the probe's).
        vectors: random vectors per batch.
        seed: seed of the random vectors.

    Returns:
        (L − 1 values of χ, None for a pair whose later stage does not depend on the earlier one;
        the L stages' output shapes without the batch dimension), stages in the order they ran.
    """
    names = stage_names(model, stages)
    if len(names) < 2:
        raise NotApplicable(f"needs at least two stages, found {len(names)}")
    gen = torch.Generator().manual_seed(seed)
    with torch.enable_grad(), cut_stages(model, names) as cut:
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
        shapes = [_per_input_shape(cut.outputs[n], x.shape[0]) for n in order]
    return [s / vectors if ok else None for s, ok in zip(sums, connected)], shapes


def _per_input_shape(o: torch.Tensor, batch: int) -> Tuple[int, ...]:
    return tuple(o.shape[1:]) if o.dim() > 0 and o.shape[0] == batch else tuple(o.shape)


def stage_chis(model: nn.Module, x: torch.Tensor, stages: Optional[Sequence[str]] = None, *,
               vectors: int = VECTORS, seed: int = 0) -> List[Optional[float]]:
    """χ between each pair of consecutive stages (:func:`stage_chis_and_shapes` without the shapes)."""
    return stage_chis_and_shapes(model, x, stages, vectors=vectors, seed=seed)[0]


def measure_log_chi(model: nn.Module, x: torch.Tensor, stages: Optional[Sequence[str]] = None, *,
                    vectors: int = VECTORS, seed: int = 0) -> Tuple[List[Optional[float]], LogChi]:
    """χ of every stage pair and the mean ``ln χ`` the predictor scores, under its mode policy.

    Puts ``model`` in eval mode and turns its parameters' ``requires_grad`` off (the caller restores
    them; :func:`reprobe.predictors.score` does), measures χ per consecutive stage pair
    (:func:`stage_chis_and_shapes`) and averages ``ln χ`` over the hidden pairs of equal shape after
    the transient (:func:`reprobe.analysis.chi.log_chi`, which the χ = 1 search and a sweep's χ = 1
    line use too).

    Returns:
        (χ of every pair, :class:`reprobe.analysis.chi.LogChi`).
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    chis, shapes = stage_chis_and_shapes(model, x, stages, vectors=vectors, seed=seed)
    return chis, log_chi(chis, shapes)


@register_predictor("partial_jacobian", direction="higher", needs=("inputs",))
def partial_jacobian(model: nn.Module, batch: Batch, stages: Optional[Sequence[str]] = None, *,
                     vectors: int = VECTORS, seed: int = 0) -> PredictorScore:
    """Closeness to criticality by partial Jacobians: ``-|mean ln χ|`` over the hidden stage pairs.

    Doshi, He, Gromov, "Critical initialization of wide and deep neural networks using partial
    Jacobians: general theory and applications", NeurIPS 2023 (reference code:
    ablghtianyi/PartialJac). ``χ^ℓ = (1/N) E‖∂h^{ℓ+1}/∂h^ℓ‖²_F`` (:func:`stage_chis`); χ = 1 marks
    criticality for any architecture, and the partial Jacobian between distant layers goes like
    ``χ^{Δℓ}``, so ``1/|ln χ|`` is a depth scale like mean field's ξ_c. For a wide tanh MLP at its
    fixed point χ equals the mean-field χ₁. Stages are reprobe's (the probe's stage hooks).

    Which pairs count — the same definition as the χ = 1 search and a sweep's χ = 1 line
    (:mod:`reprobe.analysis.chi`):

    * kept: **hidden-to-hidden pairs of equal shape, after the transient**;
    * left out: the first :data:`~reprobe.analysis.chi.TRANSIENT_PAIRS` of those (at most a
      quarter; the signal has not yet reached its fixed point, and χ runs 3–16 % high there);
    * left out: the pair into a classifier head (a bare Linear: χ = σ_w², not χ₁) and every pair
      that changes shape (a global average pool: χ ≈ σ_w²/HW; a pooling or strided downsample; a
      width change). χ compounds as ``χ^{Δℓ}`` only along a repeated map; a shape change is a
      one-off factor, not a rate, and its χ depends on whether ‖J‖²_F is divided by the units out
      or in. With such pairs in, one of them decided the mean: a critical tanh MLP (width 300,
      depth 30, σ_w² = 1.76) read a depth scale of 47 instead of ≈ 100, and the plain ``cnn``
      ranked σ_w² = 3.0 above 1.76 (``ln χ`` ≈ −6 through its pool).

    A net without such a pair (two stages only; every stage a different shape, as the ``shrinking``
    MLP) gets no score, with the reason.

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
        ``score = -|mean ln χ|`` over the kept pairs (higher = closer to critical = more trainable);
        ``per_stage`` the χ of **every** consecutive stage pair (those left out too, so a record can
        be re-read); ``depth_scale = 1/|mean ln χ|`` in stages (None when the mean is exactly 0:
        critical). ``reason`` gives the mean with its standard error over the pairs and what was
        left out; where ``|mean|`` is within two standard errors of 0 the net is critical within
        the estimate, and the depth scale is only known to exceed ``1/(|mean| + 2·stderr)`` (said
        in ``reason``; at width 300 the pairs scatter by ±0.02–0.03 in ``ln χ``, so depth scales above
        ≈ 100 are not resolved).
    """
    chis, lc = measure_log_chi(model, batch.x, stages, vectors=vectors, seed=seed)
    reason = lc.describe()
    if lc.mean is None:
        return PredictorScore(score=None, per_stage=chis,
                              reason=reason + "; name consecutive stages of equal shape (stages=…) to score it")
    if lc.mean == 0.0:
        return PredictorScore(score=0.0, per_stage=chis, depth_scale=None,
                              reason=reason + "; mean ln χ = 0: depth scale infinite (critical)")
    if lc.stderr is not None and abs(lc.mean) < 2 * lc.stderr:
        reason += (f"; χ = 1 within two standard errors: the depth scale is only known to exceed "
                   f"{1.0 / (abs(lc.mean) + 2 * lc.stderr):.3g} stages")
    return PredictorScore(score=-abs(lc.mean), per_stage=chis, depth_scale=lc.depth_scale, reason=reason)
