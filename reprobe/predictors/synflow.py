"""``synflow``: synaptic flow at initialisation (Tanaka et al. 2020), computed without overflow."""

from __future__ import annotations

import copy
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ._common import cut_stages, prunable_layers, stage_names
from .registry import Batch, NotApplicable, PredictorScore, register_predictor


def log10_synflow(model: nn.Module, input_shape: Sequence[int], stages: Optional[Sequence[str]] = None,
                  ) -> Tuple[Optional[float], str]:
    """log10 of the synflow score of ``model`` (a copy is made; ``model`` is not changed).

    The copy runs in float64 with every parameter and buffer replaced by its absolute value, on one
    all-ones input; ``R = Σ output`` and the score is ``Σ θ ⊙ ∂R/∂θ`` over the weights of the
    Linear/Conv layers. To stay inside float64 for deep nets (where the value spans hundreds of
    decades, in either direction), the backward pass runs stage by stage: the graph is cut at every
    stage output, the gradient arriving at each cut is divided by its largest entry, and the log10
    of the divisors is carried along; each layer's contribution is then summed in log space.

    Returns:
        (log10 of the score, "") or (None, reason).
    """
    net = copy.deepcopy(model).double().eval()
    for m in net.modules():  # hooks copied from the user's model (a probe's) must not run
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
        m._backward_hooks.clear()
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.abs_()
    for p in net.parameters():
        p.requires_grad_(False)
    weights = [m.weight for _, m in prunable_layers(net)]
    if not weights:
        return None, "the model has no Linear or Conv layers"
    for w in weights:
        w.requires_grad_(True)
    try:
        names = stage_names(net, stages)
    except NotApplicable:
        names = []
    x = torch.ones((1, *input_shape), dtype=torch.float64, device=weights[0].device)
    with torch.enable_grad(), cut_stages(net, names) as cut:
        out = net(x)
        if not isinstance(out, torch.Tensor):
            return None, f"the model returned a {type(out).__name__}, not a tensor"
        segments = [cut.outputs[n] for n in cut.order] + [out]
        leaves = [None] + [cut.leaves[n] for n in cut.order]
        if not all(bool(torch.isfinite(o).all()) for o in segments):
            return None, "the forward pass on |θ| overflows float64"
        terms: List[Tuple[float, float]] = []  # (value, log10 of its scale)
        g, log_scale = torch.ones_like(out), 0.0
        for o, leaf in zip(reversed(segments), reversed(leaves)):
            targets = ([leaf] if leaf is not None else []) + weights
            grads = torch.autograd.grad(o, targets, grad_outputs=g, allow_unused=True)
            if leaf is not None:
                grads_w, g_in = grads[1:], grads[0]
            else:
                grads_w, g_in = grads, None
            for w, gw in zip(weights, grads_w):
                if gw is not None:
                    terms.append((float((w.detach() * gw).sum()), log_scale))
            if leaf is None or g_in is None:
                break
            top = float(g_in.abs().max())
            if top == 0.0 or not math.isfinite(top):
                break  # nothing (representable) flows further back
            g, log_scale = g_in / top, log_scale + math.log10(top)
    logs = [(math.copysign(1.0, v), math.log10(abs(v)) + s) for v, s in terms if v != 0.0]
    if not logs:
        return -math.inf, "synflow is 0 (no gradient reaches any weight)"
    top = max(l for _, l in logs)
    total = sum(sign * 10.0 ** (l - top) for sign, l in logs)
    if total <= 0:
        return None, "synflow is not positive (a non-monotone activation)"
    return top + math.log10(total), ""


@register_predictor("synflow", direction="higher", needs=("inputs",))
def synflow(model: nn.Module, batch: Batch, stages: Optional[Sequence[str]] = None) -> PredictorScore:
    """log10 of SynFlow: ``Σ θ ⊙ ∂R/∂θ`` with ``R = Σ f_|θ|(1)`` (all-ones input, |θ| weights).

    Tanaka, Kunin, Yamins, Ganguli, "Pruning neural networks without any data by iteratively
    conserving synaptic flow", NeurIPS 2020; as a NAS proxy in Abdelfattah et al., ICLR 2021
    (reference code: SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/synflow.py``: float64,
    absolute values of all parameters, one all-ones input, sum over the Linear/Conv weights).

    **The score is log10 of the synflow value, always**, so that nets can be compared: the raw value
    spans hundreds of decades (1e32–1e61 on NAS-Bench-201; ≈ 1e250 for a deep bias-free ReLU net).
    It is computed in float64 on a copy of the model with a stage-by-stage rescaled backward pass
    (:func:`log10_synflow`), so a gradient that is tiny or huge but not zero neither overflows nor
    underflows. Only the input *shape* of the batch is used.

    **Saturating activations give exact zeros, not small numbers.** With |θ| and the all-ones input
    every pre-activation of a tanh net is positive and large, ≈ σ_w·√(2·N_in/π) (≈ 22·σ_w behind a
    784-pixel input), so tanh returns exactly 1.0 in float64 and its derivative 1 − tanh² is exactly
    0; rescaling cannot recover that. No gradient passes a saturated layer, and the score reduces to
    the class layer's term, ``Σ |W_head|`` (its inputs are all 1). Measured on reprobe's tanh MLPs
    (widths 64–512, depths 30–100, σ_w² 1–4, σ_b² 0.05): log10 synflow equals log10 Σ|W_head| to
    within 1e-4, exactly where every hidden layer saturates (width 300, depth 30, σ_w² ≥ 3). On such
    nets synflow measures the class layer's weight scale (∝ σ_w): it rises with σ_w² and does not
    see the edge of chaos.

    Mode policy: eval mode on a float64 copy (BatchNorm uses its running statistics, which at
    initialisation are the identity; the reference removes BatchNorm and sets no mode). The model
    itself is not touched.

    Args:
        model: the network.
        batch: a batch whose input shape the all-ones input copies.
        stages: where to cut the graph for rescaling (default: the probe's stages).

    Returns:
        ``score`` = log10(synflow) (higher = more trainable, by the proxy's convention); ``-inf``
        when it is 0.
    """
    if not batch.x.is_floating_point():
        raise NotApplicable("synflow needs float inputs (an all-ones input has no meaning for token ids)")
    value, reason = log10_synflow(model, tuple(batch.x.shape[1:]), stages)
    return PredictorScore(score=value, reason=reason or "log10 of synflow")
