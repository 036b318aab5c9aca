"""Cascades: stage-ℓ activations decoded down to input space, C^ℓ = c¹ ∘ … ∘ c^ℓ.

Everything here works over a ``decode(ℓ, h)`` callable (c^ℓ of stage-ℓ values ``h``, ℓ 1-based),
so :class:`~reprobe.probe.probe.CascadeProbe` (one net, one ``nn.Module`` per decoder) and
:class:`~reprobe.probe.batched.BatchedMLPProbe` (K nets, stacked weights) share one cascade.

The activations of a batch come as ``[z⁰, z¹, …, z^L]`` with the samples on dimension ``dim``: 0 for
one net, 1 for K nets stacked on a leading dimension (then z⁰ too has that leading dimension, e.g.
as an ``expand``-ed view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from tqdm.auto import tqdm

from .inputs import all_finite
from .scale import StageScale

#: c^ℓ of stage-ℓ values: ``decode(ℓ, h)`` with ℓ 1-based.
Decode = Callable[[int, torch.Tensor], torch.Tensor]
#: Called with (ℓ, c^ℓ(z^ℓ)) for every source stage: the first step of its cascade.
FirstStep = Callable[[int, torch.Tensor], None]

#: Values (floats) one chunk of cascade sources may hold.
CASCADE_BUDGET = 32_000_000
#: Evaluation keeps about this many activation values (floats) in memory at a time.
EVAL_BUDGET = 128_000_000


def cascade(decode: Decode, z: torch.Tensor, stage: int) -> torch.Tensor:
    """C^ℓ(z): stage-ℓ values decoded by c^ℓ, then c^{ℓ-1}, … down to input space."""
    h = z
    for k in range(stage, 0, -1):
        h = decode(k, h)
    return h


def _per_sample(z: torch.Tensor, dim: int) -> int:
    return math.prod(z.shape[dim + 1:])


def cascade_all(decode: Decode, zs: Sequence[torch.Tensor], *, dim: int = 0, budget: int = CASCADE_BUDGET,
                bar: Optional[tqdm] = None, first_step: Optional[FirstStep] = None) -> torch.Tensor:
    """All L cascades at once: at each level, the sources already down there share one decoder call.

    Args:
        decode: c^ℓ as ``decode(ℓ, h)``.
        zs: ``[z⁰, …, z^L]`` for one batch, samples on dimension ``dim``.
        dim: the samples' dimension (0: one net; 1: K stacked nets).
        budget: activation values one chunk of sources may hold (per net).
        bar: a tqdm bar, advanced by one per source stage reconstructed.
        first_step: called with ``(ℓ, c^ℓ(z^ℓ))`` — the cascade's first step, so that the one-step
            decoder error costs no extra decoder call.

    Returns:
        float32 reconstructions with a new stage dimension (size L + 1, index 0 = z⁰) in front of
        the samples: ``(L + 1, N, …)`` for ``dim=0``, ``(K, L + 1, N, …)`` for ``dim=1``.
    """
    L, n = len(zs) - 1, zs[0].shape[dim]
    z0 = zs[0]
    out = torch.empty((*z0.shape[:dim], L + 1, *z0.shape[dim:]), dtype=torch.float32, device=z0.device)
    out.select(dim, 0).copy_(z0)
    biggest = max(_per_sample(z, dim) for z in zs)
    chunk = max(1, budget // max(1, n * biggest))
    for start in range(L, 0, -chunk):
        sources = list(range(start, max(0, start - chunk), -1))  # descending ℓ
        low = sources[-1]
        # First step of every source (its decoder's own output), then down to the level of the
        # shallowest source in the chunk, where all of them share each remaining decoder call.
        current = {}
        for l in sources:
            h = decode(l, zs[l])
            if first_step is not None:
                first_step(l, h)
            for k in range(l - 1, low - 1, -1):
                h = decode(k, h)
            current[l] = h
        h = cascade(decode, torch.cat([current.pop(l) for l in sources], dim=dim), low - 1)
        for j, l in enumerate(sources):
            out.select(dim, l).copy_(h.narrow(dim, j * n, n))
        if bar is not None:
            bar.update(len(sources))
    return out


def eval_chunk(n: int, shapes: Sequence[Tuple[int, ...]], batch_size: int, budget: int = EVAL_BUDGET) -> int:
    """Samples per evaluation chunk, so that one chunk's activations (``shapes``: z⁰ … z^L of one
    sample) fit ``budget`` values."""
    per_sample = sum(math.prod(s or (1,)) for s in shapes)
    return max(1, min(n, max(batch_size, 128) if per_sample * 128 <= budget else budget // max(1, 2 * per_sample)))


@dataclass
class Reconstructions:
    """Every stage's reconstruction of the evaluation inputs, with what evaluation reports beside it.

    Attributes:
        recon: ``(L + 1, N, …)`` (one net) or ``(K, L + 1, N, …)`` (K nets), float32 on the CPU;
            stage 0 holds the inputs themselves.
        nonfinite: per net, per stage, the non-finite activation values.
        sq_err: per net, per stage, the one-step decoder's squared error ‖c^ℓ(z^ℓ) − z^{ℓ-1}‖².
        counts: per stage, the values of z^{ℓ-1} that error is summed over (per net).
        stage_scale: per net, per stage, the mean square of the finite activations z^ℓ
            (:class:`~reprobe.probe.scale.StageScale`; None where none is finite).
    """

    recon: torch.Tensor
    nonfinite: List[List[int]]
    sq_err: List[List[float]]
    counts: List[int]
    stage_scale: List[List[Optional[float]]] = field(default_factory=list)


def _count_nonfinite(z: torch.Tensor, nets: Optional[int]) -> List[int]:
    """Non-finite values of ``z``, per net."""
    if all_finite(z):
        return [0] * (nets or 1)
    bad = ~torch.isfinite(z)
    return [int(bad.sum())] if nets is None else [int(v) for v in bad.flatten(1).sum(1).tolist()]


def reconstruct_all(decode: Decode, forward: Callable[[torch.Tensor], List[torch.Tensor]], x: torch.Tensor, *,
                    shapes: Sequence[Tuple[int, ...]], batch_size: int, budget: int = EVAL_BUDGET,
                    nets: Optional[int] = None, progress: bool = False, desc: str = "") -> Reconstructions:
    """Reconstruct ``x`` from every stage, streaming the samples in chunks (:func:`eval_chunk`): only
    the input-space reconstructions are kept, never every stage's activations for all samples at
    once (VGG16 at 224² would need many GB).

    Args:
        decode: c^ℓ as ``decode(ℓ, h)``.
        forward: ``[z⁰, …, z^L]`` of a chunk of inputs (samples on dimension 0, or 1 for ``nets``).
        x: the inputs.
        shapes, batch_size, budget: one sample's z⁰ … z^L shapes, and the chunking of :func:`eval_chunk`.
        nets: None for one net; K for K nets stacked on a leading dimension.
        progress, desc: show a progress bar (one step per stage per chunk) with this description.
    """
    n = int(x.shape[0])
    chunk = eval_chunk(n, shapes, batch_size, budget)
    # The cascades cost O(L²) decoder calls: for deep conv nets this is the long part.
    bar = tqdm(total=(len(shapes) - 1) * math.ceil(n / chunk), unit="stage", disable=not progress, leave=False,
               desc=desc)
    with bar:
        return _reconstruct_chunks(decode, forward, x, chunk, nets, bar)


@torch.no_grad()
def _reconstruct_chunks(decode: Decode, forward: Callable[[torch.Tensor], List[torch.Tensor]], x: torch.Tensor,
                        chunk: int, nets: Optional[int], bar: tqdm) -> Reconstructions:
    n, k = int(x.shape[0]), nets or 1
    dim = 0 if nets is None else 1
    recon: Optional[torch.Tensor] = None
    nonfinite: List[List[int]] = []
    sq_err: List[List[float]] = []
    counts: List[int] = []
    for i in range(0, n, chunk):
        zs = forward(x[i:i + chunk])
        if recon is None:
            depth = len(zs) - 1
            nonfinite, sq_err, counts = [[0] * depth for _ in range(k)], [[0.0] * depth for _ in range(k)], [0] * depth
            scales = [StageScale(depth) for _ in range(k)]

        def add_error(l: int, h: torch.Tensor) -> None:
            err = (h.double() - zs[l - 1].double()) ** 2
            per_net = [float(err.sum())] if nets is None else err.sum(dim=tuple(range(1, err.dim()))).tolist()
            for net, e in enumerate(per_net):
                sq_err[net][l - 1] += e

        part = cascade_all(decode, zs, dim=dim, bar=bar, first_step=add_error)
        if recon is None:
            recon = torch.empty((*part.shape[:dim + 1], n, *part.shape[dim + 2:]), dtype=torch.float32)
        recon.narrow(dim + 1, i, part.shape[dim + 1]).copy_(part.cpu())
        del part
        for l in range(1, len(zs)):
            for net, bad in enumerate(_count_nonfinite(zs[l], nets)):
                nonfinite[net][l - 1] += bad
            counts[l - 1] += zs[l - 1].numel() // k
            for net, scale in enumerate(scales):
                scale.add(l - 1, zs[l] if nets is None else zs[l][net])
        del zs
    assert recon is not None
    return Reconstructions(recon, nonfinite, sq_err, counts, [scale.values() for scale in scales])
