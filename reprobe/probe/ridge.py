"""Closed-form (ridge) fits for decoders that are linear in their weights.

A decoder that supports the closed form turns a batch of stage outputs ``z`` and targets ``y``
into matched rows: a design matrix ``A`` (rows × D) and targets ``Y`` (rows × K). For a vector
decoder a row is an input; for a convolutional decoder it is one patch position of one input
(the unfolded k×k patch and the target pixels it predicts). The probe accumulates ``[A, 1]ᵀ[A, 1]``
and ``[A, 1]ᵀY`` in one pass (float32 GEMMs on the probe's device) and solves once, in float64.

The ridge strength is relative to the mean diagonal of the Gram matrix — the mean power of one
feature — so it means the same for vector and feature-map stages and for activations of any scale:
directions of the features that carry less than about ``ridge`` times the average power count as
lost.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch


#: A convolutional decoder's statistics use about this many rows (patch positions) per feature.
#: Measured on VGG16 at 64² on crops of real photographs (benchmarks/conv_rows.py): held-out one-step
#: R² with 1 row per feature is within 0.002 of the fit with 2 (0.5 rows: within 0.005; 0.25: 0.017).
ROWS_PER_FEATURE = 1
#: …and at least this many rows, so that small decoders see many inputs.
MIN_ROWS = 4_096
#: …spread over at least this many inputs (positions of one image are strongly correlated).
MIN_INPUTS = 256


#: A vector decoder (one row per input) is fitted on ``ridge_samples`` inputs, or on this many rows
#: per feature if that is fewer (at least MIN_INPUTS): a 10-feature class-head decoder is as exact
#: after 256 inputs as after 2048, while decoders of 256+ features keep all ``ridge_samples``.
VECTOR_ROWS_PER_FEATURE = 8


def target_rows(n_features: int, rows_per_input: int, ridge_samples: Optional[int]) -> Optional[int]:
    """Rows a decoder's statistics should gather; None for all the inputs read.

    Feature-map decoders, which see many rows per input, stop at ``max(MIN_ROWS, ROWS_PER_FEATURE·D)``;
    vector decoders at ``min(ridge_samples, max(MIN_INPUTS, VECTOR_ROWS_PER_FEATURE·D))``.
    """
    if rows_per_input > 1:
        return max(MIN_ROWS, math.ceil(ROWS_PER_FEATURE * n_features))
    if ridge_samples is None:
        return None
    return min(ridge_samples, max(MIN_INPUTS, VECTOR_ROWS_PER_FEATURE * n_features))


def positions_per_input(rows: int, rows_per_input: int, inputs: int) -> int:
    """Patch positions to sample from each input so that ``inputs`` inputs give ``rows`` rows."""
    return max(1, min(rows_per_input, math.ceil(rows / max(1, inputs))))


class RidgeStatistics:
    """Running ``[A, 1]ᵀ[A, 1]`` and ``[A, 1]ᵀY`` for one decoder (float32 on A's device), or for a
    stack of decoders at once (a leading dimension on ``features`` and ``targets``: one per net)."""

    def __init__(self) -> None:
        self.gram: Optional[torch.Tensor] = None
        self.cross: Optional[torch.Tensor] = None
        self.rows = 0

    def add(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """Accumulate matched rows: ``features`` (… × rows × D), ``targets`` (… × rows × K)."""
        rows = features.shape[-2]
        if rows == 0:
            return
        ones = torch.ones(*features.shape[:-1], 1, device=features.device, dtype=features.dtype)
        a = torch.cat([features, ones], -1)
        at = a.transpose(-2, -1)
        g, c = at @ a, at @ targets.to(a.dtype)
        if self.gram is None:
            self.gram, self.cross = g, c
        else:
            self.gram += g
            self.cross += c
        self.rows += rows


#: Ridge strengths from here on bound the Gram matrix's condition number well enough for a float32
#: solve: on VGG16 (D = 4608 features, ridge 0.1) it gives the float64 decoders' R² to 4 decimals in
#: a third less time. Smaller ridges solve in float64.
FLOAT32_SOLVE_MIN_RIDGE = 1e-2


def ridge_solution(gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Solve ``(G + λ)·S = C``; returns (weight (K × D), bias (K,)).

    Args:
        gram: ``AᵀA`` with A = [features, 1], shape (D+1, D+1).
        cross: ``AᵀY``, shape (D+1, K).
        ridge: strength relative to the mean diagonal of G (the bias is not penalised).

    Returns:
        A finite solution even for a singular Gram matrix (constant maps, dead units): the ridge
        makes it positive definite, and a minimum-norm least-squares solve covers ``ridge = 0``.
        NaN only where the statistics overflowed float32 (see :func:`_min_norm_solution`).
        The solve runs in float32 for ``ridge >= FLOAT32_SOLVE_MIN_RIDGE``, else in float64.
    """
    dtype = torch.float32 if ridge >= FLOAT32_SOLVE_MIN_RIDGE else torch.float64
    g = gram.to(dtype, copy=True)
    c = cross.to(dtype)
    d = g.shape[0]
    scale = float(torch.diagonal(g)[:-1].mean().clamp_min(1e-12)) if d > 1 else 1.0
    diag = torch.diagonal(g)
    diag[:-1] += ridge * scale
    diag[-1] += 1e-9 * max(scale, 1.0)
    factor, info = torch.linalg.cholesky_ex(g)
    sol = torch.cholesky_solve(c, factor) if int(info) == 0 else None
    if sol is None or not bool(torch.isfinite(sol).all()):
        # Numerically singular even with the ridge: the minimum-norm solution is still defined.
        sol = _min_norm_solution(g, c)
    return sol[:-1].T, sol[-1]


def _min_norm_solution(g: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The minimum-norm solution of ``g·S = c`` in float64, from the eigendecomposition, or from the
    SVD where that fails to converge (a Gram spanning many orders of magnitude: activations that
    grow by σ_w² per layer). NaN where the statistics themselves overflowed float32 (activations
    beyond ~1e19): the probe then reports that stage's metrics as null, as for non-finite activations."""
    if not bool(torch.isfinite(g).all() and torch.isfinite(c).all()):
        return torch.full_like(c, float("nan"))
    g64, c64 = g.double().cpu(), c.double().cpu()
    try:
        inverse = torch.linalg.pinv(g64, hermitian=True)
    except RuntimeError:  # torch.linalg.LinAlgError: eigh did not converge
        inverse = torch.linalg.pinv(g64 / g64.abs().max().clamp_min(1e-300)) / g64.abs().max().clamp_min(1e-300)
    return (inverse @ c64).to(g.device)


def ridge_solutions(gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`ridge_solution` for a stack of problems at once: one batched Cholesky factorisation.

    Args:
        gram: ``AᵀA`` per problem, shape (B, D+1, D+1).
        cross: ``AᵀY`` per problem, shape (B, D+1, K).
        ridge: strength relative to each problem's own mean diagonal (as in :func:`ridge_solution`).

    Returns:
        (weights (B × K × D), biases (B × K)): the same numbers :func:`ridge_solution` gives each
        problem alone; a problem whose factorisation fails (or gives non-finite values) is solved
        alone by it, with its minimum-norm fallback.
    """
    dtype = torch.float32 if ridge >= FLOAT32_SOLVE_MIN_RIDGE else torch.float64
    g = gram.to(dtype, copy=True)
    c = cross.to(dtype)
    d = g.shape[-1]
    diag = torch.diagonal(g, dim1=-2, dim2=-1)
    if d > 1:  # as ridge_solution: the scale in double, each addend rounded once to the solve's dtype
        scale = diag[:, :-1].mean(-1).clamp_min(1e-12).double()
    else:
        scale = torch.ones(g.shape[0], dtype=torch.float64, device=g.device)
    diag[:, :-1] += (ridge * scale).to(dtype)[:, None]
    diag[:, -1] += (1e-9 * scale.clamp_min(1.0)).to(dtype)
    factor, info = torch.linalg.cholesky_ex(g)
    sol = torch.cholesky_solve(c, factor)
    bad = (info != 0) | ~torch.isfinite(sol).flatten(1).all(1)
    weights, biases = sol[:, :-1].transpose(1, 2), sol[:, -1]
    for b in bad.nonzero().flatten().tolist():
        weights[b], biases[b] = ridge_solution(gram[b], cross[b], ridge)
    return weights, biases
