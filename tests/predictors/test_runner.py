"""The runner: unknown names, state restored after every predictor (also when the model raises)."""

import json
import math

import pytest
import torch
import torch.nn as nn

from reprobe.core.errors import ReprobeError
from reprobe.models import build_model
from reprobe.predictors import PREDICTORS, PredictorScore, get_predictor, list_predictors, register_predictor, score

#: Every predictor module in the package folder (the contract tests cover each registered predictor).
BUILT_IN = list_predictors()
CHEAP = [n for n in BUILT_IN if n != "reconstruction"]


def test_built_ins_all_read_higher_is_more_trainable():
    assert "reconstruction" in BUILT_IN and "params" in BUILT_IN
    assert all(get_predictor(n).direction == "higher" for n in BUILT_IN)


def test_unknown_predictor_is_a_one_line_error_listing_valid_names():
    with pytest.raises(ReprobeError) as e:
        score(nn.Linear(2, 2), torch.zeros(1, 2), ["params", "synflo"])
    msg = str(e.value)
    assert "\n" not in msg and "unknown predictor 'synflo'" in msg and "did you mean 'synflow'" in msg
    assert all(n in msg for n in BUILT_IN)
    with pytest.raises(ReprobeError):
        get_predictor("nope")


def _state(model):
    return ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()],
            [p.detach().clone() for p in model.parameters()],
            [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in model.modules()],
            [p.grad for p in model.parameters()])


def _assert_same(before, after):
    modes, flags, values, hooks, grads = before
    modes2, flags2, values2, hooks2, grads2 = after
    assert modes == modes2 and flags == flags2 and hooks == hooks2
    assert all(torch.equal(a, b) for a, b in zip(values, values2))
    assert all(g is None for g in grads2)


@pytest.mark.parametrize("training", [True, False])
def test_every_predictor_gives_the_model_back_as_it_was(training):
    m = build_model("mlp", (1, 28, 28), 10, depth=4, width=32, sigma_w2=1.5, sigma_b2=0.05, seed=0)
    m.train(training)
    m[1].weight.requires_grad_(False)  # a mixed set of flags
    m[3].eval() if training else m[3].train()  # a module whose mode differs from its parent's
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    before = _state(m)
    res = score(m, (x, y), CHEAP, restore_values=False)  # values must be untouched without the snapshot
    _assert_same(before, _state(m))
    for r in res.values():
        assert isinstance(r, PredictorScore) and r.seconds >= 0
        json.dumps(r.to_dict(), allow_nan=False)
        assert r.applicable and r.score is not None and math.isfinite(r.score), r


class Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 3)
        self.armed = True

    def forward(self, x):
        h = self.act(self.fc1(x))
        if self.armed:
            raise RuntimeError("boom mid-forward")
        return self.fc2(h)


def test_state_restored_when_the_model_raises_mid_forward():
    m = Boom().eval()
    before = _state(m)
    for name in CHEAP:
        if name in ("params", "mean_field"):
            continue
        with pytest.raises(RuntimeError, match="boom"):
            score(m, (torch.rand(4, 4), torch.randint(0, 3, (4,))), name)
        _assert_same(before, _state(m))
    m.armed = False
    assert score(m, (torch.rand(4, 4), torch.randint(0, 3, (4,))), "grad_norm")["grad_norm"].applicable


def test_values_restored_when_a_predictor_changes_weights_and_raises():
    m = nn.Sequential(nn.Linear(3, 3))
    w = m[0].weight.detach().clone()

    @register_predictor("_vandal", needs=("weights",))
    def vandal(model, batch):
        """Scribbles on the weights and a hook, then fails."""
        with torch.no_grad():
            model[0].weight.mul_(-7)
        model[0].register_forward_hook(lambda *a: None)
        model.train()
        raise ValueError("vandal")

    try:
        m.eval()
        with pytest.raises(ValueError):
            score(m, None, "_vandal")
        assert torch.equal(m[0].weight, w) and not m.training and not m[0]._forward_hooks
    finally:
        PREDICTORS.unregister("_vandal")


def test_to_dict_has_no_nan_or_inf():
    r = PredictorScore("x", score=-math.inf, per_stage=[1.0, math.nan], depth_scale=math.inf)
    d = r.to_dict()
    assert d["score"] is None and d["per_stage"] == [1.0, None] and d["depth_scale"] is None
    json.dumps(d, allow_nan=False)


def test_a_dataloader_gives_one_batch():
    ds = torch.utils.data.TensorDataset(torch.rand(40, 1, 28, 28), torch.randint(0, 10, (40,)))
    loader = torch.utils.data.DataLoader(ds, batch_size=8)
    m = build_model("mlp", (1, 28, 28), 10, depth=3, width=16, seed=0)
    res = score(m, loader, ["grad_norm", "naswot"])
    assert all(r.applicable for r in res.values())
    assert score(m, ds, ["grad_norm"])["grad_norm"].applicable
