"""The consistency rule: ``trainable`` only where the probe's own numbers bear it out (issues 23.5, 24.1).

The curves of the seen cases are the ones ``reprobe run --depth 6 --width 32`` measured (with
``--fit adam --lr 1e-300``, with ``--data digits --test-fraction 0.999``), copied here so that the
rule is tested on them without re-probing.
"""

import numpy as np
import pytest

from reprobe.analysis.prediction import predict
from reprobe.analysis.verdict import (
    BOTTLENECK_KEPT, CHECKS, COLLAPSED, MIN_ROWS_PER_FEATURE, MIN_STAGE1_R2, PRECONDITIONS, cutoff_words, kept_share,
)

SHAPES = [[32], [32], [32], [32], [400], [10]]
LEVELS = {"relative_entropy": 0.9982, "differential_entropy": None, "mse": 0.067}
#: reprobe run --depth 6 --width 32 (ridge 0.1, 2048 fit inputs)
DEPTH6 = {"relative_entropy": [0.634, 0.7353, 0.8049, 0.8446, 0.8492, 0.9186],
          "differential_entropy": [-10.0057, -10.1852, -10.3232, -10.449, -10.4595, -10.7178],
          "mse": [0.0338, 0.0426, 0.0485, 0.0524, 0.0527, 0.0585]}
#: … --fit adam --lr 1e-300: the decoders learned nothing
ADAM = {"relative_entropy": [1.8831, 1.8832, 1.8765, 1.8784, 1.8786, 1.8783],
        "differential_entropy": [-7.7356, -8.347, -9.0617, -9.5699, -10.0674, -10.6086],
        "mse": [0.2337, 0.2335, 0.2322, 0.2325, 0.2328, 0.2325]}
#: … --data digits --test-fraction 0.999: decoders fitted on 2 inputs
DIGITS = {"relative_entropy": [1.4596, 1.4658, 1.469, 1.4807, 1.4621, 1.484],
          "differential_entropy": [-9.0243, -8.9179, -8.8342, -8.8282, -8.8904, -8.8098],
          "mse": [0.1291, 0.1308, 0.1355, 0.1342, 0.1339, 0.1349]}


def _run(metrics, **kw):
    kw.setdefault("saturation", LEVELS)
    return predict(metrics, SHAPES, 6, **kw)


def _decay(xi, depth, d_inf=1.0, amp=1.0):
    return list(d_inf - amp * np.exp(-np.arange(1, depth + 1) / xi))


def test_the_depth6_net_is_called_a_bottleneck_with_what_its_last_stage_keeps():
    p = _run(DEPTH6)
    assert p.verdict == "trainable" and p.failed == ()
    kept = kept_share(DEPTH6["relative_entropy"][4], LEVELS["relative_entropy"])  # stage 5, the head left out
    assert f"stage 5 keeps ≈ {kept:.0%} of the input" in p.reason
    r2 = 1 - DEPTH6["mse"][4] / LEVELS["mse"]
    assert f"R² {r2:.2f}" in p.reason
    first = kept_share(DEPTH6["relative_entropy"][0], LEVELS["relative_entropy"])
    assert first < BOTTLENECK_KEPT and "a bottleneck" in p.reason and "not decay" in p.reason
    assert "e^-" not in p.reason  # no extrapolated share that reads as if the net could not train


def test_a_first_stage_that_keeps_most_is_not_called_a_bottleneck():
    re = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]
    p = predict({"relative_entropy": re}, [[64]] * 8, 8, saturation={"relative_entropy": 1.0})
    assert "bottleneck" not in p.reason and "stage 8 keeps ≈ 55% of the input" in p.reason


def test_decoders_that_learned_nothing_make_it_undecidable_and_say_so_first():
    p = _run(ADAM)
    assert p.verdict == "undecidable"
    assert p.failed[0] == "decoders_learned" and p.reason.startswith("stage 1 (32 features) is not reconstructed")
    assert f"below the floor {MIN_STAGE1_R2:g}" in p.reason
    assert p.max_trainable_depth is None and p.xi is None  # nothing shown the verdict no longer stands on


def test_decoders_fitted_on_two_inputs_are_underdetermined():
    p = _run(DIGITS, least_determined=("10", 2, 400))
    assert p.verdict == "undecidable" and p.failed[0] == "decoders_determined"
    assert p.reason.startswith("decoders underdetermined: stage 10's decoder was fitted on 2 rows for its 400 features")
    # the same numbers with enough rows only fail the stage-1 floor
    assert _run(DIGITS, least_determined=("10", 2048, 400)).failed[0] == "decoders_learned"


def test_enough_rows_per_feature_pass():
    rows = int(MIN_ROWS_PER_FEATURE * 400)
    assert "decoders_determined" not in _run(DEPTH6, least_determined=("10", rows, 400)).failed
    assert _run(DEPTH6, least_determined=("10", rows - 1, 400)).verdict == "undecidable"


def test_a_rising_curve_is_undecidable():
    falling = [0.229, 0.222, 0.214, 0.205, 0.197, 0.190, 0.186, 0.181]  # reconstructions improve with depth
    p = predict({"relative_entropy": falling}, [[64]] * 8, 8, saturation={"relative_entropy": 1.0})
    assert p.verdict == "undecidable" and p.failed == ("curve_decays",)
    assert p.reason.startswith("relative entropy does not decay")


def test_a_cutoff_that_finds_the_input_lost_keeps_the_verdict_from_trainable():
    # the input is gone (the curve at its saturation level) from stage 4 of 10; ξ̂ alone says trainable
    lost = [0.5, 0.9, 0.97] + [0.985] * 7
    alone = predict({"relative_entropy": lost}, [[64]] * 10, 10, saturation={"relative_entropy": 1.0},
                    depth_per_xi=20.0, floor_xi=None)
    assert alone.verdict == "trainable"
    p = predict({"relative_entropy": lost}, [[64]] * 10, 10, saturation={"relative_entropy": 1.0},
                depth_per_xi=20.0, floor_xi=None, cutoffs={"relative_entropy": 4})
    assert p.verdict == "marginal" and p.failed == ("cutoff_agrees",) and p.reason.startswith("ℓ* and ξ̂ disagree")


def test_a_curve_flat_short_of_saturation_is_not_called_lost():
    flat = [0.2, 0.3] + [0.33] * 8  # a third of the input lost in 3 stages, then nothing
    p = predict({"relative_entropy": flat}, [[64]] * 10, 10, saturation={"relative_entropy": 1.0},
                cutoffs={"relative_entropy": 3})
    assert p.verdict == "trainable" and "cutoff_agrees" not in p.failed
    words = cutoff_words("relative_entropy", 3, 10, flat, 1.0)
    assert words == "flat from stage 3 on, keeping ≈ 67% of the input: no further loss"
    assert "lost" in cutoff_words("relative_entropy", 3, 10, [0.5, 0.9, 0.99] + [0.99] * 7, 1.0)
    assert "collapse" in cutoff_words("relative_entropy", 10, 10, flat, 1.0, failed=(COLLAPSED,))
    assert "reaches the last stage" in cutoff_words("relative_entropy", 10, 10, flat, 1.0)


def test_trainable_needs_the_other_metric_to_agree():
    metrics = {"relative_entropy": _decay(20.0, 40), "mse": _decay(7.5, 40, d_inf=0.07, amp=0.06)}
    alone = predict({"relative_entropy": metrics["relative_entropy"]}, depth=40, depth_per_xi=6.0, floor_xi=None)
    assert alone.verdict == "trainable"
    p = predict(metrics, depth=40, depth_per_xi=6.0, floor_xi=None)
    other = predict({"mse": metrics["mse"]}, depth=40, metric="mse", depth_per_xi=6.0, floor_xi=None)
    assert other.verdict == "marginal"
    assert p.verdict == "marginal" and p.failed == ("metrics_agree",)
    assert p.reason.startswith("metrics disagree: relative entropy says trainable, mse says marginal")


def test_a_collapse_is_named_first_and_recorded():
    s = list(-3.0 - 5.0 * (1 - np.exp(-np.arange(1, 41) / 20.0)))
    p = predict({"relative_entropy": _decay(20.0, 40), "differential_entropy": s}, depth=40, depth_per_xi=6.0,
                floor_xi=None)
    assert p.verdict == "marginal" and p.failed == (COLLAPSED,)
    assert p.reason.startswith("reconstructions collapse") and p.to_dict()["failed"] == [COLLAPSED]


def test_the_rule_is_one_list_with_the_preconditions_first():
    names = [c.__name__ for c in CHECKS]
    assert names[:len(PRECONDITIONS)] == list(PRECONDITIONS)
    assert COLLAPSED in names and "metrics_agree" in names and "curve_decays" in names


def test_a_new_check_caps_the_verdict(monkeypatch):
    from reprobe.analysis import verdict

    gate = lambda pred, ev: verdict.Failure("layout", "undecidable", "stage 1 is channel-last")  # noqa: E731
    monkeypatch.setattr(verdict, "CHECKS", verdict.CHECKS + (gate,))
    p = _run(DEPTH6)
    assert p.verdict == "undecidable" and p.reason.startswith("stage 1 is channel-last")


@pytest.mark.parametrize("value,level,kept", [(0.25, 1.0, 0.75), (1.2, 1.0, 0.0), (None, 1.0, None), (0.5, None, None)])
def test_kept_share(value, level, kept):
    assert kept_share(value, level) == (pytest.approx(kept) if kept is not None else None)
