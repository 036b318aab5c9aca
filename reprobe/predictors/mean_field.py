"""``mean_field``: 6ξ_c from mean-field theory, for the nets the theory covers."""

from __future__ import annotations

import math

import torch.nn as nn

from .. import theory
from ..core.errors import ReprobeError
from .registry import Batch, NotApplicable, PredictorScore, register_predictor


def mean_field_parameters(model: nn.Module):
    """(activation, σ_w², σ_b²) of a net mean-field theory covers, else ``NotApplicable`` with the reason.

    Covered: reprobe's random MLPs (``reprobe.models.mlp.MLP``) and plain CNNs
    (``reprobe.models.cnn.PlainCNN``; Xiao et al. 2018: with fan-in C_in·k² a tanh CNN's critical line
    is the MLP's), whose activation the theory knows. Residual nets, and nets that do not say how
    they were initialised, are not.
    """
    from ..models.cnn import PlainCNN
    from ..models.mlp import MLP

    if not isinstance(model, (MLP, PlainCNN)):
        raise NotApplicable(
            f"mean-field theory here covers reprobe's plain MLPs and CNNs drawn with σ_w²/σ_b² "
            f"(models 'mlp', 'cnn'); {type(model).__name__} is not one of them")
    act = getattr(model, "activation", None)
    if act not in theory.ACTIVATIONS:
        raise NotApplicable(f"mean-field theory does not know the activation {act!r}")
    return act, float(model.sigma_w2), float(model.sigma_b2)


@register_predictor("mean_field", direction="higher", needs=("weights",))
def mean_field(model: nn.Module, batch: Batch, factor: float = 6.0) -> PredictorScore:
    """Mean field's trainable depth ``6 ξ_c`` (Schoenholz et al. 2017), where the theory applies.

    Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, "Deep Information Propagation", ICLR 2017: random
    nets train roughly while ``L ≲ 6 ξ_c``; ξ_c from :func:`reprobe.theory.xi_c` (infinite width).
    Read from the net's σ_w², σ_b² and activation, not from its weights; any other net is
    "not applicable", never a number.

    Mode policy: no forward pass; the mode is irrelevant.

    Args:
        model: a reprobe ``mlp`` or ``cnn``.
        batch: unused.
        factor: the 6 in 6ξ_c.

    Returns:
        ``score`` = factor·ξ_c in layers (higher = trainable deeper; ``inf`` at the edge of chaos,
        None in JSON), ``depth_scale`` = ξ_c.
    """
    act, sw, sb = mean_field_parameters(model)
    try:
        xi = theory.xi_c(act, sw, sb)
    except ReprobeError as e:
        raise NotApplicable(str(e)) from None
    reason = "" if math.isfinite(xi) else "exactly critical: ξ_c is infinite"
    return PredictorScore(score=factor * xi, depth_scale=xi, reason=reason)
