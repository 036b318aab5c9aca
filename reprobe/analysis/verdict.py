"""One rule for the verdict: ``trainable`` only where the probe's own numbers bear it out.

:func:`~reprobe.analysis.prediction.predict` turns ξ̂ into a verdict at depth L; :func:`apply_checks`
then holds that verdict against what the probe measured (:class:`Evidence`), one check of
:data:`CHECKS` after the other. ``trainable`` needs every check to pass; a failed check caps the
verdict, and its condition is named first in the reason:

======================  ==========================================================================  =============
check                   what ``trainable`` needs                                                    failing gives
======================  ==========================================================================  =============
``curve_finite``        the deciding curve is finite up to the last body stage (no overflow)         undecidable
``decoders_determined`` every decoder was fitted on at least :data:`MIN_ROWS_PER_FEATURE` rows per   undecidable
                        feature (else the ridge, not the data, sets what it reconstructs)
``decoders_learned``    stage 1 is reconstructed: R² ≥ :data:`MIN_STAGE1_R2` (a fit that did not     undecidable
                        learn, or a stage read in the wrong layout, cannot read its own first stage)
``first_stage_readable`` stage 1's reconstruction R² (from the MSE curve) is at least                 undecidable
                        :data:`~reprobe.analysis.first_stage.FIRST_STAGE_MIN_R2`, unless stage 1 is
                        a bottleneck (fewer values than the input)
``curve_decays``        the deciding curve loses information with depth: a positive amplitude, and  undecidable
                        the last body stage no better than stage 1 (a rising curve is not decay)
``cutoff_agrees``       ℓ* and ξ̂ tell one story: the cutoff does not find the input lost (the curve  marginal
                        flat at its saturation level) at a stage ℓ* < L
``metrics_agree``       the other decay metric gives the same verdict                                marginal
``last_stage_distinct`` the last body stage's reconstructions still tell inputs apart (their spread  marginal
                        across inputs at least :data:`COLLAPSE_SPREAD` of stage 1's)
======================  ==========================================================================  =============

Gates that other parts of the probe need (a stage-1 gate for channel-last layouts, …) are checks of
this list too: this is the one place where a verdict is capped. An ``undecidable`` cap drops ξ̂ and the
predicted depth from the prediction, so no number is shown that the verdict no longer stands on.

The words match the numbers (:func:`measured_words`): "how much is left" is what the last body stage
keeps by the deciding metric (1 − D/D∞, with D∞ its saturation level) and its R², and a first stage
that drops most of the input at once is called a bottleneck, not decay.

Pure functions over plain values (no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .correlation import SaturationFit, ends_in_head
from .first_stage import first_stage_gate

__all__ = ["Evidence", "Failure", "CHECKS", "apply_checks", "measured_words", "kept_share", "stage1_r2",
           "MIN_ROWS_PER_FEATURE", "MIN_STAGE1_R2", "COLLAPSE_SPREAD", "BOTTLENECK_KEPT", "RISE_TOLERANCE",
           "COLLAPSED", "LOST_KEPT", "cutoff_words"]

#: Fewer fit rows per feature than this leave a decoder underdetermined beyond what the ridge makes up
#: for (on VGG16, 0.5 rows per feature gives the R² of 2 rows to within 0.005); the probe warns at the
#: same share (:data:`reprobe.probe.evaluation.MIN_ROWS_PER_FEATURE`).
MIN_ROWS_PER_FEATURE = 0.5
#: Stage 1 reconstructed with R² below this is not read: decoders that learned nothing (Adam at lr
#: 1e-300 gives R² −2.5 on MNIST) or fitted on 2 inputs (−0.8), a stage read in the wrong layout (Swin's
#: channel-last maps: −0.28). A narrow but sound first stage stays above it (a 32-wide tanh MLP on
#: MNIST: 0.49).
MIN_STAGE1_R2 = 0.1
#: Reconstructions whose spread across inputs (geometric mean of per-pixel variances) fell below
#: this share of stage 1's are "nearly the same image": e^(2ΔS) from the differential entropy.
COLLAPSE_SPREAD = 1e-2
#: A first stage that keeps less than this share of the input drops most of it at once: a bottleneck.
BOTTLENECK_KEPT = 0.5
#: A deciding curve whose last body stage is better than stage 1 by more than this share of its
#: saturation level rises: the reconstructions improve with depth.
RISE_TOLERANCE = 0.02
#: A curve flat at less than this share kept is at its saturation level: the input is lost there.
LOST_KEPT = 0.05
#: The name of the check whose failure means the last stage's reconstructions collapsed (ranking).
COLLAPSED = "last_stage_distinct"


@dataclass(frozen=True)
class Evidence:
    """What the probe measured, that a verdict is held against.

    Attributes:
        metric: the curve that decided (a loss metric: relative entropy or MSE).
        metrics: metric → per-stage values, stage 1 first (None: not finite).
        stage_shapes: each stage's output shape (a classifier head at the end is left out).
        saturation: metric → the level its curve reaches once every input reconstructs alike.
        cutoffs: metric → ℓ* (None: undecidable).
        fits: metric → its ξ̂ fit.
        others: another decay metric → (its own verdict, its predicted depth).
        least_determined: (stage, rows, features) of the decoder with the fewest fit rows per
            feature (None: not recorded).
        decoder_mse: per-stage one-step decoder MSE (stage 1's is its reconstruction error).
        stage_names: the stages' module names (they name stage 1 when it cannot be read).
        input_shape: one input's shape (a first stage with fewer values is a bottleneck).
    """

    metric: str
    metrics: Mapping[str, Sequence[Optional[float]]]
    stage_shapes: Sequence[Sequence[int]] = ()
    saturation: Mapping[str, Optional[float]] = field(default_factory=dict)
    cutoffs: Mapping[str, Optional[int]] = field(default_factory=dict)
    fits: Mapping[str, SaturationFit] = field(default_factory=dict)
    others: Mapping[str, Tuple[str, Optional[float]]] = field(default_factory=dict)
    least_determined: Optional[Tuple[str, int, int]] = None
    decoder_mse: Sequence[Optional[float]] = ()
    stage_names: Sequence[str] = ()
    input_shape: Sequence[int] = ()

    @property
    def head(self) -> bool:
        return ends_in_head(self.stage_shapes)

    def body(self, metric: str) -> List[Optional[float]]:
        """The metric's values without a classifier head ([] where not measured)."""
        values = list(self.metrics.get(metric) or [])
        return values[:-1] if self.head and len(values) > 1 else values

    def level(self, metric: str) -> Optional[float]:
        return _finite(self.saturation.get(metric))


@dataclass(frozen=True)
class Failure:
    """A failed check: its name, the best verdict it allows, and the condition in words."""

    check: str
    cap: str
    text: str


def _finite(v) -> Optional[float]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def kept_share(value: Optional[float], level: Optional[float]) -> Optional[float]:
    """Share of the input a reconstruction keeps by a loss metric: ``1 − D/D∞``, within [0, 1]."""
    v, lv = _finite(value), _finite(level)
    if v is None or lv is None or lv <= 0:
        return None
    return min(max(1.0 - v / lv, 0.0), 1.0)


def stage1_r2(ev: Evidence) -> Optional[Tuple[float, str]]:
    """Stage 1's reconstruction quality and what it is: (R², "R²") from the MSE against the inputs'
    variance, else (kept share, "kept share by <metric>"); None when neither was measured."""
    var = ev.level("mse")
    mse = (ev.metrics.get("mse") or [None])[0]
    if mse is None and ev.decoder_mse:
        mse = ev.decoder_mse[0]
    if var and _finite(mse) is not None:
        return 1.0 - float(mse) / var, "R²"
    first = (ev.metrics.get(ev.metric) or [None])[0]
    level = ev.level(ev.metric)
    if _finite(first) is None or level is None or level <= 0:
        return None
    return 1.0 - float(first) / level, f"kept share by {ev.metric.replace('_', ' ')}"


# -- the checks, in the order their conditions are named -------------------------------------------
def curve_finite(pred, ev: Evidence) -> Optional[Failure]:
    body = ev.body(pred.metric)
    finite = [i for i, v in enumerate(body, 1) if _finite(v) is not None]
    if not body or (finite and finite[-1] == len(body)):
        return None
    start = finite[-1] + 1 if finite else 1
    return Failure("curve_finite", "undecidable", (
        f"{pred.metric} is not finite from stage {start} on (non-finite activations or reconstructions: "
        f"the signal overflows there), so the curve cannot say how far information reaches"))


def decoders_determined(pred, ev: Evidence) -> Optional[Failure]:
    if ev.least_determined is None:
        return None
    stage, rows, features = ev.least_determined
    if not features or rows >= MIN_ROWS_PER_FEATURE * features:
        return None
    return Failure("decoders_determined", "undecidable", (
        f"decoders underdetermined: stage {stage}'s decoder was fitted on {rows} rows for its {features} features "
        f"(at least {MIN_ROWS_PER_FEATURE:g} per feature are needed), so the ridge, not the data, sets what it "
        f"reconstructs; fit on more training inputs"))


def decoders_learned(pred, ev: Evidence) -> Optional[Failure]:
    got = stage1_r2(ev)
    if got is None or got[0] >= MIN_STAGE1_R2:
        return None
    value, what = got
    name = _stage_name(ev, 0)
    return Failure("decoders_learned", "undecidable", (
        f"stage 1 ({name}) is not reconstructed ({what} {value:.2f}, below the floor {MIN_STAGE1_R2:g}): the "
        f"probe cannot read its own first stage; likely causes: decoders that did not learn (learning rate, "
        f"epochs, too few training inputs) or a stage read in the wrong layout (channel-last maps)"))


def first_stage_readable(pred, ev: Evidence) -> Optional[Failure]:
    """The stage-1 gate of :mod:`~reprobe.analysis.first_stage` (R² from the MSE curve, bottlenecks exempt)."""
    reason = first_stage_gate(ev.metrics, ev.saturation, ev.stage_shapes, ev.stage_names, ev.input_shape)
    return None if reason is None else Failure("first_stage_readable", "undecidable", reason)


def _stage_name(ev: Evidence, i: int) -> str:
    shapes = list(ev.stage_shapes)
    return "x".join(map(str, shapes[i])) + " features" if i < len(shapes) else "its output"


def curve_decays(pred, ev: Evidence) -> Optional[Failure]:
    if pred.metric not in ("relative_entropy", "mse"):
        return None  # only loss metrics rise as information is lost
    fit = ev.fits.get(pred.metric)
    body = [v for v in ev.body(pred.metric) if _finite(v) is not None]
    name = pred.metric.replace("_", " ")
    if fit is not None and fit.amplitude is not None and fit.amplitude < 0:
        return Failure("curve_decays", "undecidable", (
            f"{name} does not decay: its fit has a negative amplitude ({fit.amplitude:.3g}), so the reconstructions "
            f"improve with depth and ξ̂ measures no loss"))
    scale = ev.level(pred.metric) or (abs(body[0]) if body else 0.0)
    if len(body) >= 2 and body[-1] < body[0] - RISE_TOLERANCE * scale:
        return Failure("curve_decays", "undecidable", (
            f"{name} does not decay: the reconstructions improve with depth ({body[0]:.3g} at stage 1, "
            f"{body[-1]:.3g} at stage {len(body)}), so ξ̂ measures no loss"))
    return None


def cutoff_agrees(pred, ev: Evidence) -> Optional[Failure]:
    cut = ev.cutoffs.get(pred.metric)
    body = ev.body(pred.metric)
    if pred.verdict != "trainable" or not _is_stage(cut) or cut >= len(body):
        return None
    kept = kept_share(body[cut - 1], ev.level(pred.metric))
    if kept is None or kept >= LOST_KEPT:
        return None  # flat short of saturation: no further loss, which ξ̂ does not contradict
    return Failure("cutoff_agrees", "marginal", (
        f"ℓ* and ξ̂ disagree: the cutoff finds the input lost by stage {cut} of {len(body)} "
        f"({pred.metric.replace('_', ' ')} keeps ≈ {kept:.0%} of it from there on), while ξ̂ predicts deeper "
        f"nets to train"))


def _is_stage(cut) -> bool:
    return isinstance(cut, int) and not isinstance(cut, bool) and cut >= 1


def cutoff_words(metric: str, cut: Optional[int], depth: int, values: Sequence[Optional[float]],
                 level: Optional[float], failed: Sequence[str] = ()) -> str:
    """The ℓ* sentence of one metric, in words that agree with the verdict's: "information is lost"
    only where the curve is flat at its saturation level, and never "reaches the last stage" beside
    reconstructions that collapse there (``failed`` holds :data:`COLLAPSED`)."""
    if not _is_stage(cut):
        return "undecidable (non-finite values)"
    if cut >= depth:
        if COLLAPSED in failed:
            return "the cutoff finds no saturation, yet the last stage's reconstructions collapse (see the verdict)"
        return "information reaches the last stage"
    vals = list(values)
    kept = kept_share(vals[cut - 1] if cut - 1 < len(vals) else None, level)
    if kept is None:
        return f"flat from stage {cut} on"
    if kept < LOST_KEPT:
        return f"saturates at stage {cut}: information is lost before the end"
    return f"flat from stage {cut} on, keeping ≈ {kept:.0%} of the input: no further loss"


def metrics_agree(pred, ev: Evidence) -> Optional[Failure]:
    for other, (verdict, depth) in ev.others.items():
        if verdict in (pred.verdict, "undecidable") or "trainable" not in (pred.verdict, verdict):
            continue
        nets = "" if depth is None else f" (nets up to ≈ {depth:.0f} stages)"
        return Failure("metrics_agree", "marginal", (
            f"metrics disagree: {pred.metric.replace('_', ' ')} says {pred.verdict}, "
            f"{other.replace('_', ' ')} says {verdict}{nets}"))
    return None


def spread_ratio(differential_entropy: Sequence[Optional[float]], head: bool) -> Optional[float]:
    """Spread of the last (non-head) stage's reconstructions across inputs, relative to stage 1's.

    ``e^(2(S_L − S_1))``: the differential entropy is the mean over pixels of ½ln(2πe σ²), so the
    difference is the log of the geometric-mean variance ratio. None if either value is missing.
    """
    values = list(differential_entropy)[: -1 if head else None]
    if len(values) < 2 or _finite(values[0]) is None or _finite(values[-1]) is None:
        return None
    return math.exp(min(2.0 * (values[-1] - values[0]), 0.0))


def last_stage_distinct(pred, ev: Evidence) -> Optional[Failure]:
    if "differential_entropy" not in ev.metrics:
        return None
    spread = spread_ratio(ev.metrics["differential_entropy"], ev.head)
    if spread is None or spread >= COLLAPSE_SPREAD:
        return None
    stage = len(ev.body("differential_entropy"))
    return Failure(COLLAPSED, "marginal", (
        f"reconstructions collapse: every reconstruction from stage {stage} is nearly the same image (its spread "
        f"across inputs is {spread:.1e} of stage 1's), so the input is not told apart there"))


#: Checks without which the curves are not read at all: when one fails, the reason names it alone.
PRECONDITIONS = ("curve_finite", "decoders_determined", "decoders_learned", "first_stage_readable")
#: The checks a ``trainable`` verdict must pass, in the order their failures are named.
CHECKS: Tuple[Callable[..., Optional[Failure]], ...] = (
    curve_finite, decoders_determined, decoders_learned, first_stage_readable, curve_decays, cutoff_agrees,
    metrics_agree, last_stage_distinct)

def _capped(verdict: str, cap: str) -> str:
    """``verdict`` held to at most ``cap``; a disagreement (cap ``marginal``) also lifts ``untrainable``
    to ``marginal``, since one metric says trainable."""
    if verdict == "undecidable" or cap == "undecidable":
        return "undecidable"
    return "marginal" if cap == "marginal" and verdict in ("trainable", "untrainable") else verdict


def apply_checks(pred, ev: Evidence, checks: Optional[Sequence[Callable[..., Optional[Failure]]]] = None):
    """``pred`` held against ``ev``: the verdict every check allows (``checks``, default :data:`CHECKS`),
    the failed conditions named first in the reason, and what the last stage keeps in words.
    Returns a new prediction."""
    failures = [f for f in (check(pred, ev) for check in (CHECKS if checks is None else checks)) if f is not None]
    verdict = pred.verdict
    for f in failures:
        if f.cap == "marginal" and f.check == COLLAPSED and verdict == "untrainable":
            continue  # a collapse only weakens a verdict that was better
        verdict = _capped(verdict, f.cap)
    unread = [f for f in failures if f.check in PRECONDITIONS]
    if unread:  # the curves were not read: what they show (and ξ̂'s own reason) follows from that
        reason = "; ".join(f.text for f in unread)
    else:
        words = measured_words(ev) if pred.verdict != "undecidable" else ""
        reason = "; ".join([f.text for f in failures] + [pred.reason + (f"; {words}" if words else "")])
    out = replace(pred, verdict=verdict, reason=reason, failed=tuple(f.check for f in failures))
    if verdict == "undecidable" and pred.verdict != "undecidable":
        out = replace(out, xi=None, xi_err=None, xi_is_bound=False, xi_net=None, max_trainable_depth=None,
                      depth_is_bound=False)
    return out


def measured_words(ev: Evidence) -> str:
    """What the last body stage keeps of the input, by the deciding metric (and R²), and whether a
    first stage that drops most of it at once is a bottleneck rather than decay ("" without a level)."""
    level = ev.level(ev.metric)
    body = ev.body(ev.metric)
    if level is None or len(body) < 2:
        return ""
    first, last = kept_share(body[0], level), kept_share(body[-1], level)
    if first is None or last is None:
        return ""
    n = len(body)
    r2 = _r2(ev, n)
    name = ev.metric.replace("_", " ")
    r2_text = "" if r2 is None or ev.metric == "mse" else f", R² {r2:.2f}"
    text = (f"measured: stage {n} keeps ≈ {last:.0%} of the input ({name} {body[-1]:.3g} of the "
            f"{level:.3g} at which nothing is left{r2_text})")
    if first < BOTTLENECK_KEPT:
        through = last / first if first > 0 else 0.0
        text += (f"; stage 1 already drops {1 - first:.0%} of the input at once: a bottleneck at its {_stage_name(ev, 0)}, "
                 f"not decay with depth; of what stage 1 keeps, ≈ {min(through, 1.0):.0%} reaches stage {n}")
    return text


def _r2(ev: Evidence, n: int) -> Optional[float]:
    """R² of stage ``n``'s reconstructions: 1 − MSE / the inputs' variance (None unmeasured)."""
    mse, var = ev.body("mse"), ev.level("mse")
    if len(mse) != n or _finite(mse[-1]) is None or not var:
        return None
    return 1.0 - float(mse[-1]) / var


def failed_checks(prediction: Mapping) -> Tuple[str, ...]:
    """The failed checks recorded in a prediction dict (``()`` for one made before the checks)."""
    got = prediction.get("failed") if isinstance(prediction, Mapping) else None
    return tuple(got) if isinstance(got, (list, tuple)) else ()
