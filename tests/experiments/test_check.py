"""reprobe.check: one call, held-out inputs, the same answer as the reconstruction predictor, nothing disturbed."""

import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import reprobe
from reprobe.core.errors import ReprobeError
from reprobe.models import build_model
from reprobe.predictors import score
from reprobe.probe.held_out import split_inputs

#: (depth, σ_w², width) of a net the verdict calls trainable and one it calls untrainable (digits, 8×8).
TRAINABLE = (8, 1.76, 32)
UNTRAINABLE = (50, 1.0, 16)
FAST = {"samples": 32, "fit_samples": 300}


def _mlp(bundle, depth, sigma_w2, width):
    return build_model("mlp", bundle.input_shape, bundle.num_classes, depth=depth, width=width, sigma_w2=sigma_w2,
                       sigma_b2=0.05, seed=0)


@pytest.mark.parametrize("net,verdict", [(TRAINABLE, "trainable"), (UNTRAINABLE, "untrainable")])
def test_check_score_and_the_reconstruction_predictor_agree(digits, net, verdict):
    bundle, x, y = digits
    model = _mlp(bundle, *net)
    found = reprobe.check(model, x, **FAST)
    assert found.verdict == verdict, str(found)
    assert found.trainable is (verdict == "trainable")
    assert (found.score >= 1) is found.trainable
    pred = score(model, (x, y), ["reconstruction"], options={"reconstruction": FAST})["reconstruction"]
    assert pred.score == pytest.approx(found.score, rel=1e-9)
    assert pred.reason.startswith(f"{verdict} at depth {net[0]}")
    assert (pred.score >= 1) is found.trainable
    assert found.result.predictors["reconstruction"]["score"] == pytest.approx(found.score)
    assert found.result.prediction["verdict"] == verdict
    assert found.xi == found.prediction.xi and found.max_trainable_depth == found.prediction.max_trainable_depth
    assert str(found).startswith(f"{verdict} at depth {net[0]}: ") and found.reason in str(found)


def test_the_split_never_measures_an_input_the_fit_saw():
    x = torch.arange(400, dtype=torch.float32).reshape(100, 4)  # every row unique
    fit, held, info, notes = split_inputs(x, samples=30, fit_samples=50, seed=1)
    rows = lambda t: {tuple(r.tolist()) for r in t}  # noqa: E731
    assert len(held) == 30 and len(fit) == 50 and not rows(fit) & rows(held) and notes == []
    assert info["held_out"] == 30 and info["fit_inputs"] == 50
    again = split_inputs(x, samples=30, fit_samples=50, seed=1)
    assert torch.equal(again[1], held)  # seeded
    ds_fit, ds_held, _, _ = split_inputs(TensorDataset(x), samples=30, fit_samples=50, seed=1)
    assert not set(ds_fit.indices) & set(ds_held.indices)
    loader = DataLoader(TensorDataset(x, torch.zeros(100)), batch_size=16)
    l_fit, l_held, info, _ = split_inputs(loader, samples=10, fit_samples=20, seed=0)
    assert info["inputs"] == 30 and not rows(l_fit) & rows(l_held)  # read only as far as needed


def test_a_bundle_keeps_its_own_splits(digits):
    bundle, _, _ = digits
    fit, held, info, _ = split_inputs(bundle, samples=32, fit_samples=200, seed=0)
    assert held is bundle.test and len(fit) == 200 and info["held_out"] == 32 and info["name"] == "digits"


def test_small_data_is_cut_with_a_warning_and_tiny_data_is_an_error():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 8), nn.Tanh())
    found = reprobe.check(model, torch.randn(40, 4), samples=100)
    assert found.held_out == 20 and found.fit_inputs == 20
    assert any("samples=100 asked for" in w for w in found.result.warnings)
    with pytest.raises(ReprobeError, match="at least 4 inputs"):
        reprobe.check(model, torch.randn(3, 4))
    with pytest.raises(ReprobeError, match="samples must be a whole number"):
        reprobe.check(model, torch.randn(40, 4), samples=1)
    with pytest.raises(ReprobeError, match="batch_input"):
        reprobe.check(model, DataLoader([{"x": torch.randn(4)}] * 8, batch_size=4))
    found = reprobe.check(model, DataLoader([{"x": torch.randn(4)}] * 8, batch_size=4), batch_input=lambda b: b["x"])
    assert found.held_out == 4


class _Counting(nn.Module):
    """A module whose forward changes a buffer (as a running statistic would)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 8)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return torch.tanh(self.lin(x))


def test_the_model_and_every_random_state_come_back_as_they_were():
    model = nn.Sequential(_Counting(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
    model.train()
    model[1].eval()
    model[3].weight.requires_grad_(False)
    model[5].weight.grad = torch.ones_like(model[5].weight)
    handle = model[1].register_forward_hook(lambda *a: None)
    loader = DataLoader(TensorDataset(torch.randn(200, 4)), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(3))
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    values = [p.detach().clone() for p in model.parameters()]
    hooks = [len(m._forward_hooks) for m in model.modules()]
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(), loader.generator.get_state())
    found = reprobe.check(model, loader, samples=20, fit_samples=60)
    assert found.verdict in reprobe.analysis.VERDICTS
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(torch.equal(a, p) for a, p in zip(values, model.parameters()))
    assert [len(m._forward_hooks) for m in model.modules()] == hooks
    assert torch.equal(model[5].weight.grad, torch.ones_like(model[5].weight))
    assert model[0].calls.item() == 0  # the probe ran the model; its buffer was put back
    assert torch.equal(torch.get_rng_state(), states[0]) and np.array_equal(np.random.get_state()[1], states[1])
    assert random.getstate() == states[2] and torch.equal(loader.generator.get_state(), states[3])
    handle.remove()


def test_without_the_restore_the_probe_would_move_the_global_rng():
    """The control for the test above: the probe itself does reseed torch (so restoring is needed)."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 8), nn.Tanh())
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with reprobe.CascadeProbe(model, progress=False, samples=8) as probe:
        probe.fit(torch.randn(40, 4)).evaluate(torch.randn(8, 4))
    assert not torch.equal(torch.get_rng_state(), before)


def test_save_and_figure(tmp_path, digits):
    bundle, x, _ = digits
    found = reprobe.check(_mlp(bundle, *TRAINABLE), x, **FAST)
    folder = found.save(tmp_path / "c")
    import json

    obj = json.loads((folder / "result.json").read_text())
    assert obj["prediction"]["verdict"] == found.verdict and obj["data"]["held_out"] == 32
    assert (folder / "entropy.png").stat().st_size > 1000
    fig = found.figure()
    assert found.verdict in fig._suptitle.get_text() and len(fig.axes) == len(found.result.metrics)
    import matplotlib.pyplot as plt

    plt.close(fig)
