"""``jacob_cov``: the correlation of input Jacobians across a batch (Mellor et al. 2020, v1 of NASWOT)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .registry import Batch, NotApplicable, PredictorScore, register_predictor

#: k in the reference's ``-Σ log(λ + k) + 1/(λ + k)``.
K = 1e-5


def jacob_cov_score(jacobians: torch.Tensor, k: float = K) -> float:
    """``-Σ_i [log(λ_i + k) + 1/(λ_i + k)]``, λ the eigenvalues of the rows' correlation matrix.

    Args:
        jacobians: ``(batch, ...)``, one input Jacobian per row.
        k: the regulariser (1e-5 in the reference).

    Returns:
        the score (NaN when a row is constant, so its correlations are undefined).
    """
    j = jacobians.reshape(jacobians.shape[0], -1).double()
    corr = torch.corrcoef(j)
    if not bool(torch.isfinite(corr).all()):
        return math.nan
    lam = torch.linalg.eigvalsh(corr).clamp_min(0.0)
    return float(-(torch.log(lam + k) + 1.0 / (lam + k)).sum())


@register_predictor("jacob_cov", direction="higher", needs=("inputs",))
def jacob_cov(model: nn.Module, batch: Batch) -> PredictorScore:
    """Jacobian covariance: how differently the net's output responds to each input of a batch.

    Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training", arXiv
    2006.04647 v1 (2020); reference code: SamsungLabs/zero-cost-nas
    ``foresight/pruners/measures/jacob_cov.py`` and BayesWatch/nas-without-training (v1): the
    Jacobian of ``Σ output`` with respect to each input, ``corrs = corrcoef(J)``, score
    ``-Σ log(λ + k) + 1/(λ + k)`` with ``k = 1e-5``.

    Mode policy: train mode, set here (BatchNorm uses the batch's statistics, dropout is active); the
    runner restores the model's own mode afterwards. The reference code sets no mode: it scores the net
    in whichever mode it is in, which in its scripts is a freshly built net, so train mode. A fresh net
    is therefore scored as there; a net handed over in eval mode is scored here in train mode, where the
    reference would keep eval mode. Gradients with respect to the input only (``torch.autograd.grad``;
    parameters' ``.grad`` untouched).

    Args:
        model: the network (float inputs).
        batch: one batch of inputs.

    Returns:
        ``score`` (higher = less correlated Jacobians = more trainable); None when a Jacobian is
        constant (e.g. all zero) and the correlation undefined.
    """
    if not batch.x.is_floating_point():
        raise NotApplicable("needs float inputs (Jacobians with respect to token ids do not exist)")
    if batch.x.shape[0] < 2:
        raise NotApplicable("needs a batch of at least two inputs")
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    x = batch.x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = model(x)
        if not isinstance(y, torch.Tensor):
            raise NotApplicable(f"the model returned a {type(y).__name__}, not a tensor")
        (jac,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y))
    value = jacob_cov_score(jac)
    if math.isnan(value):
        return PredictorScore(score=None, reason="a Jacobian is constant across its entries: correlations undefined")
    return PredictorScore(score=value)
