"""Scientific checks of the probe on real data (bundled MNIST). Marked slow; they run in CI."""

import pytest

from reprobe.runner import run_named

pytestmark = pytest.mark.slow

NET = dict(depth=40, width=256, sigma_b2=0.05, activation="tanh")


@pytest.fixture(scope="module")
def ridge_results(mnist):
    out = {}
    for s in (1.0, 1.76):
        out[s], _, _ = run_named("mlp", bundle=mnist, model_options=dict(NET, sigma_w2=s), progress=False)
    return out


def test_ordered_net_loses_information_early(ridge_results):
    ordered, critical = ridge_results[1.0], ridge_results[1.76]
    # ends with clearly lower differential entropy: reconstructions collapse to one image
    assert ordered.final("differential_entropy") < critical.final("differential_entropy") - 3.0
    # and its threshold cutoff is smaller: information stops travelling before the end
    for metric in ("relative_entropy", "differential_entropy"):
        assert ordered.cutoff(metric) < critical.cutoff(metric), metric
    assert ordered.cutoff("relative_entropy") <= 30
    assert critical.cutoff("relative_entropy") >= 38


def test_ordered_cutoff_tracks_mean_field_depth(ridge_results):
    from reprobe.theory import trainable_depth

    six_xi = trainable_depth("tanh", 1.0, 0.05)  # 6 ξ_c ≈ 21.8
    assert abs(ridge_results[1.0].cutoff("relative_entropy") - six_xi) <= 8


def test_ridge_decoders_reconstruct_the_first_stage_well(ridge_results):
    # a sharp probe: stage 1 keeps almost everything (the paper's 1-epoch Adam reaches ≈ 1.0 here)
    assert ridge_results[1.76].metrics["relative_entropy"][0] < 0.3


def test_paper_adam_decoders_see_the_same_phase_difference(mnist):
    res = {}
    for s in (1.0, 1.76):
        res[s], _, _ = run_named("mlp", bundle=mnist, model_options=dict(NET, sigma_w2=s), fit="adam", progress=False)
    assert res[1.0].final("differential_entropy") < res[1.76].final("differential_entropy") - 3.0
    assert res[1.0].cutoff("relative_entropy") < res[1.76].cutoff("relative_entropy")
