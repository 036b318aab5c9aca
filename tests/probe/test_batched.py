"""The batched-MLP path: K nets of one shape probed together give what one-at-a-time probing gives."""

import math

import pytest
import torch
import torch.nn as nn

from reprobe.core.errors import ReprobeError
from reprobe.experiments.run import probe_model, probe_models_batched
from reprobe.models import build_model
from reprobe.probe.batched import BatchedMLPProbe, NotBatchable
from reprobe.probe.ridge import ridge_solution, ridge_solutions

OPTIONS = {"train_samples": 256, "samples": 40, "seed": 0, "progress": False}
ROW = (0.5, 1.5, 2.5, 4.0)  # ordered, near-critical and chaotic nets: their curves differ


def nets(bundle, activation="tanh", depth=6, width=16, sigma_w2=ROW):
    return [build_model("mlp", bundle.input_shape, bundle.num_classes, depth=depth, width=width, sigma_w2=s,
                        sigma_b2=0.05, activation=activation, seed=3) for s in sigma_w2]


def assert_same_result(one, batched):
    """Cutoffs exactly, metrics and decoder MSE within float tolerance, everything else equal."""
    assert batched.cutoffs == one.cutoffs
    assert batched.cutoffs_by_detector == one.cutoffs_by_detector
    assert set(batched.metrics) == set(one.metrics)
    for m, values in one.metrics.items():
        assert len(batched.metrics[m]) == len(values)
        for a, b in zip(values, batched.metrics[m]):
            assert (a is None) == (b is None)
            assert a is None or b == pytest.approx(a, rel=1e-4, abs=1e-9), m
    assert batched.decoder_mse == pytest.approx(one.decoder_mse, rel=1e-4)
    assert len(one.stage_scale) == len(one.stages) and None not in one.stage_scale
    assert batched.stage_scale == pytest.approx(one.stage_scale, rel=1e-4)
    assert batched.stage_dicts() == one.stage_dicts()
    assert (batched.fit, batched.warnings, batched.config) == (one.fit, one.warnings, one.config)
    assert (batched.model, batched.data, batched.samples) == (one.model, one.data, one.samples)
    assert torch.allclose(batched.reconstructions, one.reconstructions, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_batched_row_matches_one_at_a_time(mnist, activation):
    """A σ_w² row (depth 6, width 16) probed together equals the nets probed one by one. ReLU nets
    give some decoders unbounded outputs and others [0, 1] (their own ranges): bounds are per net."""
    row = nets(mnist, activation)
    # width-16 decoders stop at 256 rows (within the 6th batch of 48), the 400-wide one reads all 1000
    options = {**OPTIONS, "train_samples": 1000, "batch_size": 48}
    one = [probe_model(n, mnist, **options)[0] for n in row]
    together = probe_models_batched(row, mnist, **options)
    assert one[0].fit["closed_form_rows"]["2"] == 256 and one[0].fit["fit_samples"] == 1000
    assert len(together) == len(row)
    for a, b in zip(one, together):
        assert_same_result(a, b)
        assert b.timings["batched"] == len(row) and b.timings["fit"] > 0 and b.timings["evaluate"] > 0
    # the nets really differ, so a result given to the wrong net would be caught
    finals = [r.metrics["differential_entropy"][-1] for r in one]
    assert len({round(v, 3) for v in finals}) == len(finals)


def test_ridge_solutions_equal_ridge_solution_one_by_one():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 200, 12, generator=g) * torch.linspace(0.01, 10, 12)
    a = torch.cat([a, torch.ones(5, 200, 1)], 2)
    grams, crosses = a.transpose(1, 2) @ a, a.transpose(1, 2) @ torch.randn(5, 200, 3, generator=g)
    grams[2] = 0.0  # singular even with the ridge: the minimum-norm fallback, alone
    crosses[2] = 0.0
    for ridge in (0.1, 1e-4, 0.0):
        w, b = ridge_solutions(grams, crosses, ridge)
        assert w.shape == (5, 3, 12) and b.shape == (5, 3)
        for k in range(5):
            w1, b1 = ridge_solution(grams[k], crosses[k], ridge)
            assert torch.allclose(w[k], w1.to(w.dtype), rtol=1e-5, atol=1e-6), (ridge, k)
            assert torch.allclose(b[k], b1.to(b.dtype), rtol=1e-5, atol=1e-6), (ridge, k)
        assert torch.isfinite(w).all() and torch.isfinite(b).all()


def hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_the_nets_are_left_as_they_were(mnist):
    row = nets(mnist, depth=4, width=8, sigma_w2=(1.0, 2.0, 3.0))
    row[0].train()
    row[1].eval()
    row[2][1].weight.requires_grad_(False)
    before = [({k: v.clone() for k, v in n.state_dict().items()}, n.training,
               [p.requires_grad for p in n.parameters()]) for n in row]
    probe_models_batched(row, mnist, **OPTIONS)
    with pytest.raises(NotBatchable):  # refused after the options were checked
        BatchedMLPProbe(row, fit="adam")
    for n, (state, training, flags) in zip(row, before):
        assert hooks(n) == 0
        assert n.training == training and [p.requires_grad for p in n.parameters()] == flags
        assert all(torch.equal(v, state[k]) for k, v in n.state_dict().items())
        assert all(p.device.type == "cpu" for p in n.parameters())


def test_models_it_cannot_take_are_refused_naming_the_parameter(mnist):
    row = nets(mnist, depth=4, width=8, sigma_w2=(1.0, 2.0))
    cnn = build_model("cnn", (1, 28, 28), 10, depth=2, channels=4)
    wider = nets(mnist, depth=4, width=12, sigma_w2=(1.0,))[0]
    cases = [([row[0], cnn], {}, "models must be reprobe MLPs"),
             ([row[0], wider], {}, "models must have one shape"),
             ([row[0], nn.Sequential(nn.Flatten(), nn.Linear(784, 10))], {}, "models must be reprobe MLPs"),
             ([], {}, "models is empty"),
             (row, {"fit": "adam"}, "fit='ridge'")]
    for models, options, message in cases:
        with pytest.raises(NotBatchable, match=message):
            BatchedMLPProbe(models, progress=False, **options)
    with pytest.raises(NotBatchable, match="stages"):
        probe_models_batched(row, mnist, stages=["2", "4"], **OPTIONS)
    assert issubclass(NotBatchable, ReprobeError)
    for n in row:
        assert hooks(n) == 0


def test_non_finite_training_activations_fall_back(mnist):
    """The one-at-a-time probe leaves non-finite rows out net by net; the batched path hands such nets back."""
    row = nets(mnist, depth=5, width=16, sigma_w2=(1.5, 1.5))
    with torch.no_grad():
        row[1][3].weight[0, 0] = math.nan
    one, _ = probe_model(row[1], mnist, **OPTIONS)
    assert one.fit["skipped_nonfinite"]  # what the batched path could not reproduce in one pass
    with pytest.raises(NotBatchable, match="not finite"):
        probe_models_batched(row, mnist, **OPTIONS)
    assert hooks(row[0]) == 0


def test_run_unit_batches_a_row_and_falls_back_for_the_rest(mnist):
    from reprobe.experiments.points import batchable, run_point, run_unit

    base = {"model": "mlp", "model_options": {"activation": "tanh", "shape": "wide"}, "data": "mnist-5k",
            "data_options": {}, "probe": dict(OPTIONS), "train": None, "sigma_b2": 0.05, "depth": 4, "seed": 0}
    row = [{**base, "sigma_w2": s, "width": 8} for s in (1.0, 2.5)]
    mixed = [{**base, "sigma_w2": 1.0, "width": 8}, {**base, "sigma_w2": 1.0, "width": 12}]
    assert batchable(row) and not batchable(row[:1])
    assert not batchable([{**t, "train": {"steps": 1}} for t in row])
    assert not batchable([{**t, "model": "cnn"} for t in row])
    for unit, batched in ((row, True), (mixed, False)):  # widths differ: one at a time
        got, want = run_unit(unit), [run_point(t) for t in unit]
        for g, w in zip(got, want):
            assert set(g) == set(w) and g["cutoffs"] == w["cutoffs"] and g["stage_shapes"] == w["stage_shapes"]
            assert g["warnings"] == w["warnings"] and g["settings"] == w["settings"]
            for m in w["metrics"]:
                assert g["metrics"][m] == pytest.approx(w["metrics"][m], rel=1e-4)
            assert g["prediction"]["verdict"] == w["prediction"]["verdict"]
            assert set(g["timings"]) - {"probe_batched"} == set(w["timings"])
            assert g["timings"].get("probe_batched") == (len(unit) if batched else None)
