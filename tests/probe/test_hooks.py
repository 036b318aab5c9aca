"""Direct tests of StageHooks: clones, removal on every exit path, shared modules, tuple outputs."""

import pytest
import torch
import torch.nn as nn

from reprobe.core.errors import ReprobeError
from reprobe.probe.hooks import StageHooks


def _no_hooks(*modules):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in modules)


class _Shared(nn.Module):
    """Runs the same linear layer twice in one forward."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(torch.tanh(self.lin(x)))


class _TupleOut(nn.Module):
    def forward(self, x):
        return x * 2, x * 3


class _Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        self.lin(x)
        raise RuntimeError("boom")


def test_capture_is_a_clone_unchanged_by_a_later_inplace_op():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(inplace=True))
    hooks = StageHooks({"lin": lin}).attach()
    x = torch.randn(8, 4)
    try:
        with hooks.recording():
            y = model(x)
    finally:
        hooks.remove()
    expected = lin(x).detach()
    assert (expected < 0).any()  # the in-place ReLU really had something to change
    torch.testing.assert_close(hooks.outputs["lin"], expected)
    assert (y >= 0).all()
    assert not hooks.outputs["lin"].requires_grad
    assert hooks.order == ["lin"]


def test_no_recording_outside_the_block():
    lin = nn.Linear(2, 2)
    hooks = StageHooks({"lin": lin}).attach()
    lin(torch.randn(1, 2))
    assert not hooks.outputs
    hooks.remove()


def test_remove_clears_every_hook_and_is_idempotent():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    hooks = StageHooks({"a": a, "b": b}).attach()
    assert hooks.attached and not _no_hooks(a) and not _no_hooks(b)
    hooks.attach()  # attaching twice does not double the hooks
    assert len(a._forward_hooks) == 1
    hooks.remove()
    hooks.remove()
    assert not hooks.attached
    assert _no_hooks(a, b)


def test_hooks_removed_when_the_forward_raises():
    model = _Boom()
    hooks = StageHooks({"lin": model.lin}).attach()
    with pytest.raises(RuntimeError, match="boom"):
        try:
            with hooks.recording():
                model(torch.randn(2, 3))
        finally:
            hooks.remove()
    assert not model.lin._forward_hooks
    assert _no_hooks(model.lin)
    assert not hooks._recording


def test_hooks_removed_when_a_hook_raises_for_a_shared_module():
    model = _Shared()
    hooks = StageHooks({"lin": model.lin}).attach()
    with pytest.raises(ReprobeError, match=r"'lin'.*ran 2 times.*multi_call"):
        try:
            with hooks.recording():
                model(torch.randn(2, 3))
        finally:
            hooks.remove()
    assert not model.lin._forward_hooks
    assert _no_hooks(model.lin)


@pytest.mark.parametrize("mode", ["first", "last"])
def test_multi_call_first_and_last(mode):
    model = _Shared()
    x = torch.randn(5, 3)
    first = model.lin(x).detach()
    last = model.lin(torch.tanh(first)).detach()
    hooks = StageHooks({"lin": model.lin}, multi_call=mode).attach()
    try:
        with hooks.recording():
            model(x)
    finally:
        hooks.remove()
    torch.testing.assert_close(hooks.outputs["lin"], first if mode == "first" else last)
    assert hooks.calls["lin"] == 2
    assert hooks.order == ["lin"]
    assert _no_hooks(model.lin)


def test_bad_multi_call_mode():
    with pytest.raises(ReprobeError, match="multi_call"):
        StageHooks({"lin": nn.Linear(1, 1)}, multi_call="all")


def test_tuple_output_needs_a_selector():
    mod = _TupleOut()
    hooks = StageHooks({"pair": mod}).attach()
    with pytest.raises(ReprobeError, match=r"tuple of 2.*output_selector"):
        try:
            with hooks.recording():
                mod(torch.ones(2))
        finally:
            hooks.remove()
    assert _no_hooks(mod)


@pytest.mark.parametrize("selector,factor", [(1, 3.0), (lambda out: out[0], 2.0)])
def test_tuple_output_with_a_selector(selector, factor):
    mod = _TupleOut()
    x = torch.arange(4.0)
    hooks = StageHooks({"pair": mod}, selectors={"pair": selector}).attach()
    try:
        with hooks.recording():
            mod(x)
    finally:
        hooks.remove()
    torch.testing.assert_close(hooks.outputs["pair"], x * factor)


def test_recording_resets_buffers_and_capture_input():
    lin = nn.Linear(3, 3)
    hooks = StageHooks({"lin": lin}).attach()
    x = torch.randn(2, 3)
    with hooks.recording(capture_input=True):
        lin(x)
    torch.testing.assert_close(hooks.first_input, x)
    with hooks.recording():
        pass
    assert not hooks.outputs and hooks.first_input is None and not hooks.calls
    hooks.remove()
    assert _no_hooks(lin)


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_cascade_probe_close_and_exit_remove_the_hooks():
    from reprobe import CascadeProbe

    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    probe = CascadeProbe(model, ["0", "2"], progress=False)
    assert _hook_count(model) > 0
    probe.close()
    probe.close()
    assert _hook_count(model) == 0
    with CascadeProbe(model, ["0", "2"], progress=False) as probe:
        probe.dry_run(torch.randn(3, 4))
        assert _hook_count(model) > 0
    assert _hook_count(model) == 0


def test_cascade_probe_exit_removes_the_hooks_when_the_forward_raises():
    from reprobe import CascadeProbe

    model = _Boom()
    with pytest.raises(ReprobeError, match="boom"):
        with CascadeProbe(model, ["lin"], progress=False) as probe:
            probe.dry_run(torch.randn(2, 3))
    assert not model.lin._forward_hooks
    assert _hook_count(model) == 0
