"""From a per-stage curve to a verdict: predicted deepest trainable net and what it means at depth L.

The chain of reasoning, each step measured (``benchmarks/trainability.py`` re-makes the table):

1. **ξ̂.** Input information decays like ``e^(−ℓ/ξ)``; :func:`~reprobe.analysis.correlation.fit_saturation`
   measures ξ̂ from the curve's approach to its saturation level, which the probe measures (the
   metric of the inputs against their mean) and the fit keeps fixed, so ξ̂ barely depends on the
   probed depth and short nets separate (the classifier head is left out). The default curve is the
   relative entropy; the MSE cross-checks it.
2. **The probe's own floor.** The ridge makes every decoder drop directions carrying less than
   ``ridge`` of the mean power, so even a lossless net shows a decay of its own, ``ξ_floor`` stages
   per e-fold; rates add, ``1/ξ̂ = 1/ξ_net + 1/ξ_floor``. At the edge of chaos the net loses
   nothing, so the largest ξ̂ over σ_w² is the floor; it grows with an MLP's width as ``n^0.54``
   (:data:`~reprobe.analysis.calibration.FLOOR_WIDTH_EXPONENT`, measured on probes alone).
3. **Depth.** ``max_trainable_depth = c · ξ_net`` (:data:`CALIBRATION`, one of the maps of
   :mod:`~reprobe.analysis.calibration`), like mean field's ``L ≲ 6 ξ_c``, and like it diverging at
   the edge of chaos. c and ξ_floor at width 300 were fitted on ground truth of protocol v2
   (:mod:`reprobe.experiments.ground_truth`: the best of four SGD rates, judged on training
   accuracy), where critical nets train at depth 100; the map was chosen over a linear and a power
   law in ξ̂ by leave-one-out agreement (``benchmarks/trainability.py --forms`` prints the figures).
4. **Verdict at the probed depth L.** ``trainable`` when L is below the predicted depth by more than
   the margin (the larger of :data:`MARGIN` and ξ̂'s relative error), ``untrainable`` when above by
   more, ``marginal`` in between; ``undecidable`` when the curve cannot be fitted, with the reason.
5. **The consistency rule.** The verdict is then held against the probe's own numbers
   (:mod:`~reprobe.analysis.verdict`, the one place where a verdict is capped): decoders that are
   determined and learned, a curve that decays, ℓ* and ξ̂ that agree, metrics that agree, a last
   stage whose reconstructions still tell inputs apart. A failed check makes it ``undecidable`` or
   ``marginal`` and is named first in the reason.

Limits: the constants were fitted on tanh MLPs under one training budget (:attr:`Calibration.source`
names it, and every prediction carries it). Conv nets have no width law and use ξ_floor at width
300. Other families and budgets deserve their own grid (``reprobe train-grid`` + ``reprobe validate``).

Pure functions over plain sequences (no torch): a run, a sweep point or a synthetic curve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Optional, Sequence, Tuple

from ..core.errors import ReprobeError, param
from ..metrics import DEFAULT_METRIC
from .calibration import REFERENCE_WIDTH, Calibration
from .calibration import predicted_depth as calibrated_depth
from .correlation import SaturationFit, correlation_lengths, ends_in_head
from .growth import growth_depth, growth_rate
from .verdict import COLLAPSE_SPREAD, Evidence, apply_checks, spread_ratio  # noqa: F401 (re-exported)

VERDICTS = ("trainable", "marginal", "untrainable", "undecidable")
#: The decided verdicts, best first: a gate at level ``marginal`` fails ``marginal`` and ``untrainable``.
VERDICT_ORDER = ("trainable", "marginal", "untrainable")
#: Levels a gate can fail at (``none``: never), for :func:`fails_gate`.
GATE_LEVELS = ("none", "marginal", "untrainable")
# DEFAULT_METRIC (imported above): the curve whose ξ̂ decides, chosen by agreement with trained nets
# (see the module docstring).
#: The decay metrics that cross-check each other (differential entropy measures spread, not loss).
DECAY_METRICS = ("relative_entropy", "mse")
#: How ξ̂ maps to the deepest trainable depth (:mod:`~reprobe.analysis.calibration`), fitted on the
#: trained grids of ``benchmarks/trainability.py``; the constants below are its parts, for callers of
#: the first releases.
CALIBRATION = Calibration(depth_per_xi=3.25, width_exponent=0.3, power=1.0, floor_xi=20.0,
                          floor_width_exponent=0.54,
                          source="ground truth v2 (tanh MLPs on MNIST, widths 64 and 128, σ_w² 1.0-4.0, depths "
                                 "10-100; best of 4 SGD rates, 1000 steps; trainable = training accuracy ≥ 0.55)")
#: The map for plain ReLU MLPs, whose probe floor is their rectification's loss, not the ridge's: at and
#: above σ_w² = 2 the net loses nothing more and ξ̂ stays at ≈ 5 stages (width 128). Fitted on one width:
#: no width law.
RELU_MLP_CALIBRATION = Calibration(depth_per_xi=4.0, width_exponent=0.0, power=1.0, floor_xi=5.5,
                                   floor_width_exponent=0.0,
                                   source="ground truth v2 (ReLU MLPs on MNIST, width 128, σ_w² 1.0-4.0, depths "
                                          "10-100; best of 4 SGD rates, 1000 steps; trainable = training accuracy ≥ 0.55)")
DEPTH_PER_XI = CALIBRATION.depth_per_xi
WIDTH_EXPONENT = CALIBRATION.width_exponent
FLOOR_XI: Optional[float] = CALIBRATION.floor_xi
#: A fit over fewer e-folds than this (stages / ξ̂) says so in its reason: on a depth-20 MLP of width 128
#: ξ̂ was 7.1 at σ_w² = 1.0 and 6.7 at 1.76, where depth 100 tells them apart (6.6 vs 15).
MIN_EFOLDS = 4.0
#: L within this share of the predicted depth is ``marginal``.
MARGIN = 0.25


@dataclass(frozen=True)
class Prediction:
    """A trainability prediction and the evidence it rests on (``result.json``'s ``prediction``).

    Attributes:
        metric: the curve ξ̂ was measured on.
        xi: ξ̂ in stages per e-fold (a lower bound if ``xi_is_bound``); None when undecidable.
        xi_err: one-sigma error of ξ̂ (None for bounds).
        xi_is_bound: nothing saturated within the probed stages.
        xi_net: ξ̂ with the probe's floor taken out (``inf``: no decay beyond the floor).
        max_trainable_depth: predicted deepest trainable net, in stages; a lower bound if
            ``depth_is_bound``; None when undecidable.
        depth_is_bound: ``max_trainable_depth`` is "at least".
        depth: L, the probed net's depth in stages.
        verdict: one of :data:`VERDICTS` for depth L.
        reason: the evidence in words.
        depth_per_xi: the c used (at this net's width: :func:`depth_per_xi_at`).
        floor_xi: the ξ_floor used (None: no floor correction).
        width: the hidden width c was scaled for (None: not an MLP, c unscaled).
        power: b in ``c · ξ_net^b``.
        calibration: what the map from ξ̂ to depth was fitted on (grids, training protocol, budget):
            what "trainable" means here.
        margin: the relative band around the predicted depth that counts as ``marginal`` (ξ̂'s
            relative error widens it where larger; :func:`effective_margin`).
        growth_rate: per-stage growth of the activations' ln mean square (None: not measured).
        growth_depth: the deepest net that growth allows (:mod:`~reprobe.analysis.growth`; None: no limit).
        failed: the checks of :data:`~reprobe.analysis.verdict.CHECKS` the verdict failed, first named
            first in ``reason`` (``last_stage_distinct``: the last stage's reconstructions collapsed).
    """

    metric: str
    xi: Optional[float]
    xi_err: Optional[float]
    xi_is_bound: bool
    xi_net: Optional[float]
    max_trainable_depth: Optional[float]
    depth_is_bound: bool
    depth: int
    verdict: str
    reason: str
    depth_per_xi: float = DEPTH_PER_XI
    floor_xi: Optional[float] = FLOOR_XI
    width: Optional[int] = None
    power: float = 1.0
    calibration: str = CALIBRATION.source
    margin: float = MARGIN
    growth_rate: Optional[float] = None
    growth_depth: Optional[float] = None
    failed: Tuple[str, ...] = ()

    def __str__(self) -> str:
        return describe_prediction(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["failed"] = list(self.failed)
        for k in ("xi_net", "max_trainable_depth"):
            if d[k] is not None and not math.isfinite(d[k]):
                d[k] = None  # JSON has no infinity; depth_is_bound says "at least"
        return d


def hidden_width(stage_shapes: Sequence[Sequence[int]]) -> Optional[int]:
    """The median width of the hidden stages when all of them are vectors (an MLP), else None.

    The classifier head (see :func:`~reprobe.analysis.correlation.ends_in_head`) is left out.
    """
    shapes = [tuple(s) for s in stage_shapes]
    body = shapes[:-1] if ends_in_head(shapes) else shapes
    if not body or any(len(s) != 1 for s in body):
        return None
    widths = sorted(s[0] for s in body)
    return int(widths[len(widths) // 2])


def depth_per_xi_at(width: Optional[int], depth_per_xi: float = DEPTH_PER_XI,
                    width_exponent: float = WIDTH_EXPONENT) -> float:
    """c for a net of hidden ``width``: ``depth_per_xi · (REFERENCE_WIDTH / width) ** width_exponent``
    (``depth_per_xi`` itself when the width is unknown or the net is convolutional)."""
    return Calibration(depth_per_xi, width_exponent).factor_at(width)


def net_xi(xi: float, floor_xi: Optional[float]) -> float:
    """ξ with the probe's floor taken out: ``1 / (1/ξ − 1/ξ_floor)``; ``inf`` at or beyond the floor."""
    return Calibration(1.0, floor_xi=floor_xi).net_xi(xi, None)


def _verdict_for(depth: int, max_depth: float, bound: bool, rel_err: float, margin: float) -> str:
    if bound and max_depth >= depth:
        return "trainable"
    m = max(margin, rel_err)
    if depth <= max_depth * (1 - m):
        return "trainable"
    if depth > max_depth * (1 + m):
        return "untrainable"
    return "marginal"


def _from_fit(metric: str, fit: SaturationFit, depth: int, cal: Calibration, width: Optional[int],
              margin: float) -> Prediction:
    """The prediction of one curve's fit, before cross-checks."""
    base = dict(metric=metric, depth=depth, depth_per_xi=cal.factor_at(width), floor_xi=cal.floor_at(width),
                width=width, power=cal.power, calibration=cal.source, margin=margin)
    if fit.xi is None:
        return Prediction(xi=None, xi_err=None, xi_is_bound=False, xi_net=None, max_trainable_depth=None,
                          depth_is_bound=False, verdict="undecidable", reason=f"{metric}: {fit.reason}", **base)
    xi_net = cal.net_xi(fit.xi, width)
    max_depth, bound = calibrated_depth(fit, depth, cal, width)
    rel_err = cal.power * (fit.xi_err / fit.xi) if fit.xi_err else 0.0
    verdict = _verdict_for(depth, max_depth, bound, rel_err, margin)
    return Prediction(xi=fit.xi, xi_err=fit.xi_err, xi_is_bound=fit.lower_bound, xi_net=xi_net,
                      max_trainable_depth=max_depth, depth_is_bound=bound, verdict=verdict,
                      reason=_evidence(metric, fit, xi_net, max_depth, bound, depth), **base)


def _evidence(metric: str, fit: SaturationFit, xi_net: float, max_depth: float, bound: bool, depth: int) -> str:
    name = metric.replace("_", " ")
    if fit.lower_bound:
        return (f"{name} has not saturated within {len(fit.stages)} stages (ξ̂ ≥ {fit.xi:.3g}): information "
                f"still reaches stage {depth}; nets of at least {max_depth:.0f} stages are predicted trainable")
    if math.isinf(xi_net):
        return (f"{name} decays no faster than the decoders' own floor (ξ̂ = {fit.xi:.3g} stages per e-fold): "
                f"no loss the probe can resolve; nets of at least {max_depth:.0f} stages are predicted trainable")
    text = (f"input information falls to 1/e every {xi_net:.3g} stages ({name}, ξ̂ = {fit.xi:.3g}); nets up to "
            f"≈ {max_depth:.0f} stages are predicted trainable")
    span = len(fit.stages) / fit.xi
    if span < MIN_EFOLDS:
        text += (f" (rough: the curve spans only {span:.1f} e-folds; on short nets the decoders' own early loss "
                 f"looks like decay, so probe a deeper net of this family to firm ξ̂ up)")
    return text


_DEFAULT = object()


def with_overrides(cal: Calibration, depth_per_xi: Optional[float] = None, floor_xi: Any = _DEFAULT,
                   width_exponent: Optional[float] = None, power: Optional[float] = None) -> Calibration:
    """``cal`` with single constants replaced; ``depth_per_xi`` given alone means the linear map, no floor."""
    fields = asdict(cal)
    if depth_per_xi is not None:
        fields.update(depth_per_xi=float(depth_per_xi), power=1.0, floor_xi=None, floor_width_exponent=0.0,
                      source=f"c = {depth_per_xi:g} given")
    if floor_xi is not _DEFAULT:
        fields["floor_xi"] = floor_xi
    if width_exponent is not None:
        fields["width_exponent"] = float(width_exponent)
    if power is not None:
        fields["power"] = float(power)
    return Calibration(**fields)


def predict(metrics: Mapping[str, Sequence[Optional[float]]], stage_shapes: Sequence[Sequence[int]] = (),
            depth: Optional[int] = None, *, metric: str = DEFAULT_METRIC, margin: float = MARGIN,
            saturation: Optional[Mapping[str, Optional[float]]] = None, calibration: Optional[Calibration] = None,
            depth_per_xi: Optional[float] = None, floor_xi: Any = _DEFAULT, width_exponent: Optional[float] = None,
            power: Optional[float] = None, stage_scale: Sequence[Optional[float]] = (),
            activations: Sequence[str] = (), cutoffs: Optional[Mapping[str, Optional[int]]] = None,
            least_determined: Optional[Tuple[str, int, int]] = None,
            decoder_mse: Optional[Sequence[Optional[float]]] = None, stage_names: Sequence[str] = (),
            input_shape: Sequence[int] = ()) -> Prediction:
    """Predict the deepest trainable net and give a verdict for the probed depth, held against the
    probe's own numbers (:func:`~reprobe.analysis.verdict.apply_checks`).

    Args:
        metrics: metric name → per-stage values, stage 1 first (a result's ``metrics``).
        stage_shapes: the stages' output shapes (a classifier head at the end is left out of ξ̂).
        depth: L, the probed depth in stages (default: the number of stages).
        metric: the curve whose ξ̂ decides (must be in ``metrics``).
        margin: relative band around the predicted depth that counts as ``marginal``.
        calibration: the map from ξ̂ to depth (default :data:`CALIBRATION`).
        depth_per_xi, floor_xi, width_exponent, power: override one constant of ``calibration``
            (c at :data:`REFERENCE_WIDTH`; ξ_floor, None for none; how c scales with an MLP's hidden
            width; b). Given ``depth_per_xi`` alone, the map is the linear ``c · ξ̂`` without a floor.
        saturation: metric → the level its curve saturates at (a result's ``saturation``); ξ̂ is then
            fitted with that asymptote fixed. None, or a metric without a level: the asymptote is fitted.
        stage_scale: the activations' mean square per stage (a result's ``stage_scale``): a signal that
            grows limits the depth too (:mod:`~reprobe.analysis.growth`). Empty: not checked.
        activations: the net's activation kinds (a result's ``model["activations"]``): a plain ReLU MLP
            uses :data:`RELU_MLP_CALIBRATION` unless ``calibration`` is given.
        cutoffs: metric → ℓ* (a result's ``cutoffs``): ℓ* and ξ̂ must tell one story.
        least_determined: (stage, rows, features) of the decoder with the fewest fit rows per feature
            (a result's ``fit["least_determined"]``): an underdetermined decoder makes it undecidable.
        decoder_mse: per-stage one-step decoder MSE (stage 1's R² where the MSE was not measured).
        stage_names: the stages' module names (they name stage 1 when it cannot be reconstructed).
        input_shape: the shape of one input; a first stage with fewer values is a bottleneck, whose low
            R² is the net's loss and does not make the verdict ``undecidable``.

    Returns:
        A :class:`Prediction`. Never raises on NaN, short or constant curves: they are
        ``undecidable`` with the reason.
    """
    values = metrics.get(metric)
    depth = int(depth if depth is not None else len(values or ()))
    width = hidden_width(stage_shapes)
    cal = with_overrides(calibration or calibration_for(activations, width), depth_per_xi, floor_xi,
                         width_exponent, power)
    if values is None:
        return Prediction(metric, None, None, False, None, None, False, depth, "undecidable",
                          f"{metric} was not measured (measured: {', '.join(metrics) or 'nothing'})",
                          cal.factor_at(width), cal.floor_at(width), width, cal.power, cal.source, margin)
    fits = correlation_lengths({m: v for m, v in metrics.items() if m in DECAY_METRICS or m == metric}, stage_shapes,
                               saturation)
    rate = growth_rate(stage_scale, ends_in_head(stage_shapes))
    pred = _limit_by_growth(_from_fit(metric, fits[metric], depth, cal, width, margin), rate)
    others = {m: _limit_by_growth(_from_fit(m, f, depth, cal, width, margin), rate) for m, f in fits.items()
              if m != metric and m in DECAY_METRICS}
    evidence = Evidence(metric, metrics, list(stage_shapes), dict(saturation or {}), dict(cutoffs or {}), fits,
                        {m: (p.verdict, p.max_trainable_depth) for m, p in others.items()},
                        least_determined, list(decoder_mse or ()), list(stage_names), tuple(input_shape))
    return apply_checks(pred, evidence)


def calibration_for(activations: Sequence[str], width: Optional[int]) -> Calibration:
    """The shipped map for a net: :data:`RELU_MLP_CALIBRATION` for an MLP (``width`` known) whose only
    activation is ReLU, :data:`CALIBRATION` otherwise."""
    return RELU_MLP_CALIBRATION if width is not None and set(activations) == {"relu"} else CALIBRATION


def _limit_by_growth(pred: Prediction, rate: Optional[float]) -> Prediction:
    """A growing signal caps the predicted depth (:mod:`~reprobe.analysis.growth`); it never raises it
    and never makes the verdict better."""
    limit = growth_depth(rate)
    pred = replace(pred, growth_rate=rate, growth_depth=limit)
    if limit is None or pred.max_trainable_depth is None or limit >= pred.max_trainable_depth:
        return pred
    verdict = _verdict_for(pred.depth, limit, False, 0.0, pred.margin)
    if VERDICT_ORDER.index(verdict) < VERDICT_ORDER.index(pred.verdict):
        verdict = pred.verdict
    return replace(pred, max_trainable_depth=limit, depth_is_bound=False, verdict=verdict, reason=(
        f"the activations' mean square grows e^{rate:.2f} per stage (e^{rate * pred.depth:.0f} over {pred.depth} "
        f"stages): the signal keeps its information but its gradients grow with it, so plain SGD trains such "
        f"nets only up to ≈ {limit:.0f} stages (from reconstruction alone: {pred.reason})"))


def describe_prediction(pred: Prediction) -> str:
    """One line: ``verdict at depth L: reason``."""
    return f"{pred.verdict} at depth {pred.depth}: {pred.reason}"


def predict_trainability(result, **options) -> Prediction:
    """:func:`predict` for a probe result (anything with ``metrics``, ``stage_dicts()`` and ``depth``).

    ``options`` go to :func:`predict` (``metric``, ``depth_per_xi``, ``floor_xi``, ``margin``,
    ``width_exponent``)::

        result = CascadeProbe(model).fit(train_loader).evaluate(test_loader)
        print(predict_trainability(result))
    """
    options.setdefault("saturation", getattr(result, "saturation", None))
    options.setdefault("stage_scale", getattr(result, "stage_scale", None) or ())
    options.setdefault("activations", (getattr(result, "model", None) or {}).get("activations") or ())
    options.setdefault("cutoffs", getattr(result, "cutoffs", None))
    options.setdefault("least_determined", least_determined_of(getattr(result, "fit", None)))
    options.setdefault("decoder_mse", getattr(result, "decoder_mse", None))
    options.setdefault("stage_names", [s["name"] for s in result.stage_dicts()])
    options.setdefault("input_shape", tuple(getattr(result, "input_shape", None) or ()))
    return predict(result.metrics, [s["shape"] for s in result.stage_dicts()], result.depth, **options)


def least_determined_of(fit: Optional[Mapping[str, Any]]) -> Optional[Tuple[str, int, int]]:
    """(stage, rows, features) from a result's ``fit`` record (None where it was not recorded)."""
    d = (fit or {}).get("least_determined") if isinstance(fit, Mapping) else None
    if not isinstance(d, Mapping):
        return None
    try:
        return str(d["stage"]), int(d["rows"]), int(d["features"])
    except (KeyError, TypeError, ValueError):
        return None


def effective_margin(pred: Prediction) -> float:
    """The band the verdict used: the larger of ``pred.margin`` and the predicted depth's relative
    error, ``power`` times ξ̂'s (depth ∝ ξ̂^power)."""
    rel_err = pred.power * (pred.xi_err / pred.xi) if (pred.xi_err and pred.xi) else 0.0
    return max(pred.margin, rel_err)


#: :func:`trainability_score` at and above this: ``trainable``; from :data:`MARGINAL_SCORE` up to it:
#: ``marginal``; below: ``untrainable``.
TRAINABLE_SCORE = 1.0
MARGINAL_SCORE = 0.5


def trainability_score(pred: Prediction) -> Optional[float]:
    """One number that says what the verdict says: ≥ 1 exactly when ``trainable``, in [0.5, 1) when
    ``marginal``, below 0.5 when ``untrainable``, None when ``undecidable``; higher = more trainable.

    With ``d = L / max_trainable_depth`` (the probed depth against the predicted one) and ``m`` the
    verdict's margin (:func:`effective_margin`): ``trainable`` is ``d ≤ 1 − m`` and scores
    ``(1 − m) / d``; ``untrainable`` is ``d > 1 + m`` and scores ``½ (1 + m) / d``; ``marginal``
    in between runs linearly in d from 1 down to ½. The three pieces meet, so the score is
    continuous and falls as L grows. A verdict that a cross-check made ``marginal`` (the metrics
    disagree, or the last stage's reconstructions all look alike) stays in [0.5, 1) but keeps its
    order in d. A ``trainable`` lower bound ("at least") scores at least 1.

    Args:
        pred: a :class:`Prediction`.

    Returns:
        The score, or None without a predicted depth.
    """
    if pred.verdict == "undecidable" or pred.max_trainable_depth is None or pred.depth <= 0:
        return None
    m = effective_margin(pred)
    d = pred.depth / pred.max_trainable_depth if pred.max_trainable_depth > 0 else math.inf
    low, high = 1.0 + m, max(1.0 - m, 0.0)
    if pred.verdict == "trainable":
        return max(high / d, TRAINABLE_SCORE)
    if pred.verdict == "untrainable":
        return min(MARGINAL_SCORE * low / d, math.nextafter(MARGINAL_SCORE, 0.0))
    return _marginal_score(d, low, high)


def _marginal_score(d: float, low: float, high: float) -> float:
    """The score of a ``marginal`` verdict at ``d`` = L / predicted depth, in [0.5, 1)."""
    below_one = math.nextafter(TRAINABLE_SCORE, 0.0)
    if d <= high:  # a cross-check turned a trainable verdict marginal: [0.75, 1)
        return min(1.0 - 0.25 * d / high, below_one)
    if d > low:  # the metrics disagree on an untrainable one: (0.5, 0.75)
        return MARGINAL_SCORE + 0.25 * low / d
    return min(MARGINAL_SCORE + MARGINAL_SCORE * (low - d) / (low - high), below_one)


def check_gate_level(level: str, name: str = "level") -> str:
    """``level`` if it is one of :data:`GATE_LEVELS`, else a :class:`ReprobeError` naming parameter ``name``."""
    if level not in GATE_LEVELS:
        raise ReprobeError(f"{param(name)} must be one of {', '.join(GATE_LEVELS)}, got {level!r}")
    return level


def fails_gate(verdict: str, level: str) -> bool:
    """Whether ``verdict`` is at or below ``level`` in trainable > marginal > untrainable.

    ``level`` ``none`` never fails; ``undecidable`` is not ordered and never fails here (callers
    decide what an undecidable probe means to them: the CLI exits with its own code).

    Args:
        verdict: one of :data:`VERDICTS`.
        level: one of :data:`GATE_LEVELS`.

    Returns:
        True when the verdict fails the gate.

    Raises:
        ReprobeError: an unknown level or verdict.
    """
    check_gate_level(level)
    if verdict not in VERDICTS:
        raise ReprobeError(f"unknown verdict {verdict!r}; verdicts are {', '.join(VERDICTS)}")
    if level == "none" or verdict == "undecidable":
        return False
    return VERDICT_ORDER.index(verdict) >= VERDICT_ORDER.index(level)


def recheck_prediction(result) -> Tuple[Prediction, Optional[str]]:
    """The prediction re-derived from a saved result's own numbers, and a note when the stored one
    says otherwise (None when they agree or nothing was stored): a stored verdict is never shown
    beside numbers that no longer support it.

    Args:
        result: anything :func:`predict_trainability` takes (a loaded ``ProbeResult``).

    Returns:
        (prediction, note).
    """
    pred = predict_trainability(result)
    stored = getattr(result, "prediction", None)
    if not isinstance(stored, Mapping) or stored.get("verdict") in (None, pred.verdict):
        return pred, None
    return pred, (f"the stored verdict {stored.get('verdict')!r} does not follow from the stored numbers; "
                  f"shown: {pred.verdict!r}, re-derived from them")
