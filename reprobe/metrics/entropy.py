"""Built-in metrics: reconstruction relative entropy, differential entropy and MSE (SCIENCE.md §4)."""

from __future__ import annotations

import math

import torch

from .registry import register_metric

#: Added to every entry before L1 normalisation so that zeros stay finite in ln(p/q).
PROB_EPS = 1e-10
#: Per-pixel variances below float32 resolution of a unit-sum image, (eps₃₂/D)², count as zero
#: spread: when all reconstructions agree, S reports this finite floor (≈ −21 for 784 pixels, the
#: level the paper reports deep in the ordered phase) instead of −∞ or float noise.
FLOAT32_EPS = float(torch.finfo(torch.float32).eps)


def to_probability(x: torch.Tensor, eps: float = PROB_EPS) -> torch.Tensor:
    """Turn each row of ``x`` (N, D) into a probability vector by L1 normalisation.

    As in the paper's reference code, a row with negative entries is first shifted by its minimum,
    and ``eps`` is added so that zeros stay finite. Computed in float64.
    """
    x = x.detach().to(torch.float64).reshape(x.shape[0], -1)
    row_min = x.min(dim=1, keepdim=True).values
    x = torch.where(row_min < 0, x - row_min, x) + eps
    return x / x.sum(dim=1, keepdim=True)


@register_metric("relative_entropy", higher_is_more_information=False)
def relative_entropy(original: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """Batch-mean KL divergence D(p‖q) = Σ p ln(p/q), p = input, q = reconstruction (L1-normalised)."""
    _check_pair(original, reconstruction)
    p = to_probability(original)
    q = to_probability(reconstruction)
    return (p * (p.log() - q.log())).sum(dim=1).mean().item()


@register_metric("differential_entropy", higher_is_more_information=True)
def differential_entropy(original: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """Mean over pixels of ½ln(2πe σ²), σ² the pixel's variance over the unit-sum reconstructions.

    Falls steeply (towards about −20) when all inputs reconstruct to the same image. The original
    inputs are not used (paper eq. 1.3–1.4); they are accepted for a uniform metric signature.
    """
    _check_pair(original, reconstruction)
    if reconstruction.shape[0] < 2:
        raise ValueError("differential_entropy needs at least 2 samples (a variance over the sample set)")
    q = to_probability(reconstruction)
    floor = (FLOAT32_EPS / q.shape[1]) ** 2
    var = q.var(dim=0, unbiased=False).clamp_min(floor)
    return (0.5 * torch.log(2 * math.pi * math.e * var)).mean().item()


@register_metric("mse", higher_is_more_information=False)
def mse(original: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """Mean squared error between inputs and reconstructions, in input units."""
    _check_pair(original, reconstruction)
    o = original.detach().to(torch.float64).reshape(original.shape[0], -1)
    r = reconstruction.detach().to(torch.float64).reshape(reconstruction.shape[0], -1)
    return ((o - r) ** 2).mean().item()


def _check_pair(original: torch.Tensor, reconstruction: torch.Tensor) -> None:
    if original.shape[0] != reconstruction.shape[0] or original[0].numel() != reconstruction[0].numel():
        raise ValueError(
            f"original {tuple(original.shape)} and reconstruction {tuple(reconstruction.shape)} "
            "must hold the same number of samples of the same size"
        )
