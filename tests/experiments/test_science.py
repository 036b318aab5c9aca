"""Scientific checks of the probe on real data (bundled MNIST). Marked slow; they run in CI."""

import pytest

from reprobe.experiments.run import run_named

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


def test_verdicts_differ_as_theory_says_and_depth_tracks_mean_field(ridge_results):
    from reprobe import predict_trainability
    from reprobe.theory import trainable_depth

    ordered, critical = (predict_trainability(ridge_results[s]) for s in (1.0, 1.76))
    assert ordered.verdict == "untrainable", ordered.reason  # depth 40 > 6ξ_c ≈ 21.8
    assert critical.verdict in ("trainable", "marginal") and critical.verdict != ordered.verdict, critical.reason
    # Near the edge ξ̂ approaches the probe's floor, so the critical net's predicted depth is far deeper.
    assert critical.max_trainable_depth > 1.5 * ordered.max_trainable_depth
    six_xi = trainable_depth("tanh", 1.0, 0.05)
    assert six_xi / 1.5 <= ordered.max_trainable_depth <= six_xi * 1.5, (ordered.max_trainable_depth, six_xi)
    assert ridge_results[1.0].prediction == ordered.to_dict()  # runs record what predict_trainability says


def test_ridge_decoders_reconstruct_the_first_stage_well(ridge_results):
    # a sharp probe: stage 1 keeps almost everything (the paper's 1-epoch Adam reaches ≈ 1.0 here)
    assert ridge_results[1.76].metrics["relative_entropy"][0] < 0.3


def test_paper_adam_decoders_see_the_same_phase_difference(mnist):
    res = {}
    for s in (1.0, 1.76):
        res[s], _, _ = run_named("mlp", bundle=mnist, model_options=dict(NET, sigma_w2=s), fit="adam", progress=False)
    assert res[1.0].final("differential_entropy") < res[1.76].final("differential_entropy") - 3.0
    assert res[1.0].cutoff("relative_entropy") < res[1.76].cutoff("relative_entropy")


@pytest.fixture(scope="module")
def cnn_results(mnist):
    # For tanh CNNs the mean-field critical line is the MLP's (Xiao et al. 2018): 1.76 at σ_b² = 0.05.
    return {s: run_named("cnn", bundle=mnist, model_options=dict(depth=40, sigma_w2=s, sigma_b2=0.05),
                         progress=False)[0] for s in (1.0, 1.76)}


def test_ordered_cnn_loses_information_faster_than_critical(cnn_results):
    from reprobe.theory import trainable_depth

    ordered, critical = cnn_results[1.0], cnn_results[1.76]
    assert ordered.final("differential_entropy") < critical.final("differential_entropy") - 3.0
    assert ordered.cutoff("relative_entropy") < critical.cutoff("relative_entropy") - 10
    assert abs(ordered.cutoff("relative_entropy") - trainable_depth("tanh", 1.0, 0.05)) <= 8  # 6 ξ_c ≈ 21.8


def test_cnn_decoders_are_exact_and_information_only_falls(cnn_results):
    for res in cnn_results.values():
        rel = res.metrics["relative_entropy"]
        assert rel[0] <= 0.15  # stage 1 keeps almost everything (Adam decoders: 6.7)
        assert all(b >= a - 0.02 for a, b in zip(rel, rel[1:])), rel  # never regains information beyond noise
        assert res.fit["gradient_stages"] == 0
