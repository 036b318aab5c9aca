"""The shared pieces the probe, the batched probe and the predictors run on: model state
(frozen/restored), the one hook class in its cut mode, the one activation table, the one cascade."""

import pytest
import torch
import torch.nn as nn

from reprobe.core.activations import ACTIVATION_TYPES, ACTIVATIONS, MLP_ACTIVATIONS
from reprobe.core.errors import ReprobeError
from reprobe.probe import CascadeProbe
from reprobe.probe.cascade import cascade, cascade_all
from reprobe.probe.hooks import StageHooks
from reprobe.probe.state import frozen, restored


def _mixed_model():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 2))
    net.train()
    net[1].eval()  # a submodule in another mode than its parent
    net[3].weight.requires_grad_(False)
    return net


def _state(net):
    return [m.training for m in net.modules()], [p.requires_grad for p in net.parameters()]


def test_frozen_freezes_inside_and_gives_every_module_its_own_mode_back():
    net = _mixed_model()
    before = _state(net)
    with frozen(net, torch.device("cpu")):
        assert not any(m.training for m in net.modules())
        assert not any(p.requires_grad for p in net.parameters())
    assert _state(net) == before
    with pytest.raises(RuntimeError), frozen(net, torch.device("cpu")):
        raise RuntimeError("the model raised")
    assert _state(net) == before


def test_restored_removes_hooks_and_puts_values_back():
    net = _mixed_model()
    weight = net[0].weight.detach().clone()
    with restored(net):
        net[0].register_forward_hook(lambda *a: None)
        with torch.no_grad():
            net[0].weight.add_(1.0)
        net.eval()
    assert not net[0]._forward_hooks
    assert torch.equal(net[0].weight, weight)
    assert _state(net) == _state(_mixed_model())


def test_a_probe_gives_a_mixed_mode_model_back_as_it_was():
    net = _mixed_model()
    before = _state(net)
    with CascadeProbe(net, stages=["0", "3"], samples=8, progress=False, device="cpu") as p:
        p.fit(torch.randn(32, 3)).evaluate(torch.randn(8, 3))
    assert _state(net) == before


def test_cut_mode_keeps_outputs_on_the_graph_and_continues_from_leaves():
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2))
    with torch.enable_grad(), StageHooks.cut(net, ["0", "2"]) as cut:
        net(torch.randn(5, 3))
    assert cut.order == ["0", "2"] and not net[0]._forward_hooks
    assert cut.outputs["0"].grad_fn is not None and cut.leaves["0"].is_leaf
    # the second stage's output depends on the first stage's leaf, not on the first layer's weights
    g_leaf, g_w = torch.autograd.grad(cut.outputs["2"].sum(), [cut.leaves["0"], net[0].weight], allow_unused=True)
    assert g_leaf is not None and g_w is None


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(self.lin(x))


class _Refused(Exception):
    pass


def test_cut_mode_refuses_a_shared_stage_with_the_callers_exception():
    model = _Shared()
    with pytest.raises(_Refused, match="runs more than once"), torch.enable_grad(), \
            StageHooks.cut(model, ["lin"], error=_Refused):
        model(torch.randn(2, 3))
    assert not model.lin._forward_hooks
    with pytest.raises(ReprobeError, match="mode must be one of record, cut"):
        StageHooks({"lin": model.lin}, mode="trace")


def test_one_activation_table_serves_adapters_mlps_and_naswot():
    from reprobe.adapters import ACTIVATION_TYPES as adapter_types
    from reprobe.models.mlp import ACTIVATION_MODULES, activation_module
    from reprobe.predictors import naswot

    assert adapter_types is ACTIVATION_TYPES and naswot.ACTIVATION_TYPES is ACTIVATION_TYPES
    assert list(ACTIVATION_MODULES) == list(MLP_ACTIVATIONS)
    assert all(type(activation_module(n)) is ACTIVATIONS[n] for n in MLP_ACTIVATIONS)
    assert nn.Identity not in ACTIVATION_TYPES and nn.Tanh in ACTIVATION_TYPES


def test_cascade_all_over_a_callable_matches_each_cascade_alone():
    torch.manual_seed(0)
    decoders = [nn.Linear(4, 3), nn.Linear(5, 4), nn.Linear(6, 5)]
    decode = lambda l, h: decoders[l - 1](h)  # noqa: E731
    zs = [torch.randn(7, d) for d in (3, 4, 5, 6)]
    seen = []
    with torch.no_grad():
        out = cascade_all(decode, zs, budget=7 * 6, first_step=lambda l, h: seen.append(l))  # one source per chunk
        for l in range(1, 4):
            torch.testing.assert_close(out[l], cascade(decode, zs[l], l))
        # K = 2 nets stacked on dimension 0: each net's cascades are its own
        stacked = [torch.stack([z, 2 * z]) for z in zs]
        both = cascade_all(decode, stacked, dim=1)
    assert sorted(seen) == [1, 2, 3] and torch.equal(out[0], zs[0])
    for k in range(2):
        for l in range(4):
            torch.testing.assert_close(both[k, l], cascade(decode, stacked[l][k], l))
