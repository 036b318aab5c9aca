"""Ground-truth protocol v2: best of several rates, divergence flagged, training accuracy judged."""

import math

import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from reprobe.core.errors import ReprobeError
from reprobe.data import DatasetBundle
from reprobe.experiments.ground_truth import (
    DIVERGENCE_FACTOR, V2_RATES, V2_STEPS, TrainingProtocol, _Run, protocol_of, train_best_of_rates, train_settings,
)
from reprobe.models.mlp import mlp


def _blobs(n=400, d=8, classes=4, seed=0, scale=1.0):
    """Separable Gaussian blobs: a linear model fits them, given a usable step size."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g) * 3
    y = torch.randint(0, classes, (n,), generator=g)
    x = (centres[y] + torch.randn(n, d, generator=g)) * scale
    k = n * 3 // 4
    return DatasetBundle("blobs", TensorDataset(x[:k], y[:k]), TensorDataset(x[k:], y[k:]), (d,), classes)


def _linear(d=8, classes=4):
    torch.manual_seed(0)
    return nn.Linear(d, classes)


def test_best_of_rates_keeps_the_best_rate_and_records_every_rate():
    bundle = _blobs()
    # No early stop: every rate runs its budget, and the best is the one with the highest training accuracy.
    proto = TrainingProtocol(rates=(1e-6, 0.1), steps=60, stop_at_target=False)
    rec = train_best_of_rates(_linear, bundle, proto)
    by_rate = {r["lr"]: r for r in rec["rates"]}
    assert set(by_rate) == {1e-6, 0.1}
    assert by_rate[0.1]["train_accuracy"] > by_rate[1e-6]["train_accuracy"] + 0.3
    assert rec["best_lr"] == 0.1 and rec["accuracy"] == by_rate[0.1]["train_accuracy"]
    assert all({"lr", "steps", "diverged", "train_loss", "train_accuracy", "test_accuracy"} <= set(r) for r in rec["rates"])
    assert rec["split"] == "train" and rec["target"] == pytest.approx(0.625)  # halfway from chance (4 classes) to 1


def test_search_stops_at_the_first_rate_that_reaches_the_target():
    rec = train_best_of_rates(_linear, _blobs(), TrainingProtocol(rates=(0.05, 0.1, 0.3), steps=300))
    assert [r["lr"] for r in rec["rates"]] == [0.05]  # smallest first; it trains, so no larger rate is tried
    assert rec["accuracy"] >= rec["target"] and rec["rates"][0]["steps"] < 300  # stopped early too


def test_a_non_finite_loss_diverges_and_larger_rates_are_skipped():
    bundle = _blobs(scale=1e4)  # huge inputs: a large step sends the logits to overflow
    rec = train_best_of_rates(_linear, bundle, TrainingProtocol(rates=(1e3, 1e5, 1e7), steps=50, stop_at_target=False))
    assert rec["rates"][0]["diverged"] is True
    assert len(rec["rates"]) == 1  # the larger rates were not tried


def test_a_loss_that_grows_by_orders_of_magnitude_is_diverged_even_when_finite():
    run = _Run()
    run.record(2.3)
    run.record(2.3 * DIVERGENCE_FACTOR * 0.5)
    assert not run.diverged
    run.record(6.2e11)  # the v1 grid recorded this as diverged: false
    assert run.diverged and math.isfinite(6.2e11)
    nan_run = _Run()
    nan_run.record(float("nan"))
    assert nan_run.diverged


def test_single_rate_is_protocol_v1_and_v2_is_the_default():
    v2 = train_settings()
    assert v2["protocol"] == "v2" and tuple(v2["rates"]) == V2_RATES and v2["steps"] == V2_STEPS
    assert v2["split"] == "train"
    lo, hi = min(V2_RATES), max(V2_RATES)
    assert len(V2_RATES) >= 4 and hi / lo >= 100  # at least four rates over two decades
    v1 = train_settings(lr=0.05, epochs=5)
    assert v1["protocol"] == "v1" and v1["rates"] == [0.05] and v1["split"] == "test" and v1["epochs"] == 5
    # Stored settings give back the protocol, also those of the single-rate grids made before v2.
    assert protocol_of(v2)[0] == TrainingProtocol(target=None)
    old = {"lr": 0.05, "epochs": 5, "steps": None, "batch_size": 64, "momentum": 0.0, "optimizer": "sgd",
           "train_samples": None, "device": "cpu"}
    proto, device = protocol_of(old)
    assert proto.rates == (0.05,) and proto.epochs == 5 and proto.split == "test" and device == "cpu"


@pytest.mark.parametrize("bad", [{"lr": [0.1, -1.0]}, {"steps": 0}, {"optimizer": "lbfgs"}, {"acc_threshold": 2.0}])
def test_bad_protocol_options_fail_naming_the_parameter(bad):
    with pytest.raises(ReprobeError) as e:
        train_settings(**bad)
    assert any(name in str(e.value) for name in ("lr", "steps", "optimizer", "acc_threshold"))


@pytest.mark.slow
def test_v2_trains_a_critical_deep_tanh_mlp_and_fails_an_ordered_one():
    """The budget's point, at a size a test affords (benchmarks/trainability.py: depth 100, width 300)."""
    from reprobe.data.builtin import digits

    bundle = digits(None)
    proto = TrainingProtocol(steps=300)

    def net(sw):
        return lambda: mlp(depth=40, width=32, sigma_w2=sw, sigma_b2=0.05, in_features=64, seed=0)

    critical = train_best_of_rates(net(1.76), bundle, proto)
    ordered = train_best_of_rates(net(1.0), bundle, proto)  # 6ξ_c ≈ 22 < 40
    assert critical["accuracy"] >= critical["target"]
    assert ordered["accuracy"] < ordered["target"] and len(ordered["rates"]) == len(V2_RATES)
