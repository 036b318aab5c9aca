import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from reprobe import CascadeProbe, ProbeResult, ReprobeError, StageInfo
from reprobe.models import mlp


def hook_count(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def data(n=256, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g)
    return x, torch.randint(0, 3, (n,), generator=g)


class Residual(nn.Module):
    """Not a Sequential: residual add, control flow, a submodule list."""

    def __init__(self, d=16):
        super().__init__()
        self.inp = nn.Linear(d, 32)
        self.blocks = nn.ModuleList([nn.Linear(32, 32) for _ in range(3)])
        self.act = nn.Tanh()
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        for i, b in enumerate(self.blocks):
            h = h + torch.tanh(b(h)) if i % 2 == 0 else torch.tanh(b(h))
        return self.head(h)


def test_custom_model_by_names_end_to_end(tmp_path):
    x, y = data()
    model = Residual()
    names = ["inp", "blocks.0", "blocks.1", "blocks.2", "head"]
    with CascadeProbe(model, names, samples=50, progress=False) as probe:
        result = probe.fit(TensorDataset(x, y)).evaluate(x[:50])
        assert [s.name for s in probe.stages] == names
        assert [s.shape for s in probe.stages] == [(32,), (32,), (32,), (32,), (3,)]
    assert hook_count(model) == 0
    assert result.depth == 5
    for m, vals in result.metrics.items():
        assert len(vals) == 5 and all(v is not None and math.isfinite(v) for v in vals)
    assert set(result.cutoffs) == {"relative_entropy", "differential_entropy", "mse"}
    assert all(1 <= c <= 5 for c in result.cutoffs.values())
    result.save(tmp_path)
    obj = json.loads((tmp_path / "result.json").read_text())
    assert [s["name"] for s in obj["stages"]] == names
    assert obj["stages"][0]["type"] == "Linear" and obj["stages"][0]["shape"] == [32]
    assert list(obj["metrics"]) == ["relative_entropy", "differential_entropy", "mse"]
    assert isinstance(obj["cutoffs"]["mse"], int)
    for f in ["entropy.png", "reconstructions.png", "reconstructions.npy"]:
        assert (tmp_path / f).stat().st_size > 0
    loaded = ProbeResult.load(tmp_path)
    assert loaded.metrics == obj["metrics"] and loaded.cutoffs == obj["cutoffs"]
    assert loaded.reconstructions.shape == (6, 8, 16)
    assert loaded.stages == result.stages and all(isinstance(s, StageInfo) for s in loaded.stages)  # typed both times
    assert loaded.stages[4].shape == (3,) and loaded.stages[4].decoder == result.stages[4].decoder is not None


def test_stages_by_type_and_automatic():
    model = Residual()
    p = CascadeProbe(model, nn.Linear, progress=False)
    assert [s.name for s in p.stages] == ["inp", "blocks.0", "blocks.1", "blocks.2", "head"]
    p.close()
    net = mlp(depth=4, width=20, in_features=16, num_classes=3)
    with CascadeProbe(net, progress=False) as p:
        assert p.adapter == "mlp"
        assert [s.type for s in p.stages] == ["Tanh", "Tanh", "Tanh", "Linear"]
        p.dry_run(torch.rand(2, 16))
        assert [s.shape for s in p.stages] == [(20,), (20,), (400,), (3,)]


def test_unknown_stage_name_suggests_close_match():
    with pytest.raises(ReprobeError, match="blocks.1"):
        CascadeProbe(Residual(), ["inp", "block.1"])


def test_model_without_findable_stages_says_how_to_name_them():
    class NoParams(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(ReprobeError, match="stages=\\["):
        CascadeProbe(NoParams())


def test_stage_that_never_runs_is_a_clear_error():
    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.unused = nn.Linear(16, 8), nn.Linear(8, 8)

        def forward(self, x):
            return self.a(x)

    model = Skips()
    with pytest.raises(ReprobeError, match="unused"):
        CascadeProbe(model, ["a", "unused"]).dry_run(torch.rand(2, 16))
    assert hook_count(model) == 0


def test_hooks_removed_and_state_restored_when_model_raises():
    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(16, 8), nn.Linear(8, 4)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 2:
                raise RuntimeError("boom")
            return self.b(torch.relu(self.a(x)))

    model = Flaky()
    model.train()
    model.a.weight.requires_grad_(False)
    x, _ = data(512)
    probe = CascadeProbe(model, ["a", "b"], progress=False, batch_size=64, fit="adam")
    assert hook_count(model) == 2
    with pytest.raises(RuntimeError, match="boom"):
        probe.fit(x)
    assert hook_count(model) == 0
    assert model.training is True
    assert model.a.weight.requires_grad is False and model.a.bias.requires_grad is True
    assert model.b.weight.requires_grad is True


def test_state_restored_after_normal_use_and_with_block():
    model = mlp(depth=3, width=8, in_features=16, num_classes=3)
    model.train()
    x, _ = data(128)
    with CascadeProbe(model, progress=False, samples=20) as probe:
        probe.fit(x).evaluate(x)
        assert hook_count(model) == 3  # still attached inside the block
        assert model.training is True
        assert all(p.requires_grad for p in model.parameters())
    assert hook_count(model) == 0
    # the model is untouched: same outputs as a fresh forward
    before = model(x[:4])
    assert torch.equal(before, model(x[:4]))


def test_captured_activations_survive_inplace_ops():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(inplace=True), nn.Linear(32, 4))
    x, _ = data(8)
    with CascadeProbe(model, ["0"], progress=False) as probe:
        z = probe.activations(x)[1]
    expected = model[0](x)
    assert (expected < 0).any()  # the ReLU would have zeroed these in place
    assert torch.allclose(z, expected)


def test_shared_module_called_twice_is_an_error_or_handled():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.act, self.b = nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4)

        def forward(self, x):
            return self.b(self.act(self.a(self.act(x))))

    x, _ = data(64)
    model = Shared()
    with pytest.raises(ReprobeError, match="'act'.*2 times"):
        CascadeProbe(model, ["act", "b"]).dry_run(x[:4])
    assert hook_count(model) == 0
    with CascadeProbe(model, ["act", "b"], multi_call="last", progress=False) as probe:
        z = probe.activations(x[:4])[1]
    assert torch.allclose(z, torch.tanh(model.a(torch.tanh(x[:4]))))


def test_tuple_outputs_need_a_selector():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(16, 8)

        def forward(self, x):
            h = self.lin(x)
            return h, h * 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair, self.head = Pair(), nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.pair(x)[1])

    x, _ = data(64)
    with pytest.raises(ReprobeError, match="output_selector"):
        CascadeProbe(Net(), ["pair", "head"]).dry_run(x[:2])
    with CascadeProbe(Net(), ["pair", "head"], output_selector={"pair": 1}, progress=False) as probe:
        z = probe.activations(x[:2])[1]
        assert torch.allclose(z, 2 * probe.model.pair.lin(x[:2]))


@pytest.mark.parametrize("fit", ["ridge", "adam", "sgd"])
def test_fit_methods_and_loader_kinds(fit):
    x, y = data(300)
    net = mlp(depth=3, width=16, in_features=16, num_classes=3, sigma_w2=1.5)
    with CascadeProbe(net, fit=fit, samples=40, progress=False) as probe:
        r1 = probe.fit(DataLoader(TensorDataset(x, y), batch_size=32)).evaluate(DataLoader(TensorDataset(x), batch_size=16))
        closed = probe.fit_info["closed_form_stages"]
    assert closed == (3 if fit == "ridge" else 0)
    assert r1.samples == 40
    assert all(v is not None for v in r1.metrics["mse"])


def test_ridge_decoders_invert_an_invertible_linear_net():
    torch.manual_seed(0)
    d = 12
    q, _ = torch.linalg.qr(torch.randn(d, d))
    lin = nn.Linear(d, d)
    with torch.no_grad():
        lin.weight.copy_(q)
        lin.bias.zero_()
    model = nn.Sequential(lin)
    x = torch.rand(400, d)
    with CascadeProbe(model, ["0"], ridge=1e-6, decoder_activation="identity", progress=False, samples=50) as p:
        r = p.fit(x).evaluate(x[:50])
    assert r.metrics["mse"][0] < 1e-6


def test_cascade_reconstruct_and_decoder_roundtrip(tmp_path):
    x, _ = data(200)
    net = mlp(depth=4, width=16, in_features=16, num_classes=3)
    with CascadeProbe(net, progress=False, samples=20) as p:
        p.fit(x)
        rec = p.reconstruct(x[:5])
        assert rec.shape == (5, 5, 16) and torch.equal(rec[0], x[:5])
        onehot = torch.eye(3)
        assert p.cascade(onehot, 4).shape == (3, 16)
        assert torch.allclose(p.cascade(p.activations(x[:5])[2], p.stages[1].name), rec[2], atol=1e-6)
        p.save_decoders(tmp_path / "d.pt")
    with CascadeProbe(net, progress=False) as q:
        q.load_decoders(tmp_path / "d.pt")
        assert torch.allclose(q.reconstruct(x[:5]), rec)
    with pytest.raises(ReprobeError, match="no stage named"):
        p2 = CascadeProbe(net, progress=False)
        p2.stage_index("nope")


def test_nan_weights_are_reported_not_a_crash(tmp_path):
    net = mlp(depth=5, width=16, in_features=16, num_classes=3)
    with torch.no_grad():
        net[5].weight[0, 0] = float("nan")  # third Linear
    x, _ = data(200)
    with CascadeProbe(net, progress=False, samples=30) as p:
        r = p.fit(x).evaluate(x)
    assert r.nonfinite, "non-finite stages must be recorded"
    assert r.metrics["mse"][0] is not None and r.metrics["mse"][-1] is None
    assert r.cutoffs["mse"] is None
    assert any("non-finite" in w for w in r.warnings)
    r.save(tmp_path)
    obj = json.loads((tmp_path / "result.json").read_text())  # strict JSON: no NaN tokens
    assert obj["metrics"]["mse"][-1] is None


def test_bad_options_and_inputs():
    net = mlp(depth=2, width=8, in_features=16, num_classes=3)
    with pytest.raises(ReprobeError, match="unknown probe option"):
        CascadeProbe(net, lrr=0.1)
    with pytest.raises(ReprobeError, match="samples"):
        CascadeProbe(net, samples=1)
    with pytest.raises(ReprobeError, match="fit must be"):
        CascadeProbe(net, fit="lbfgs")
    with pytest.raises(ReprobeError, match="metric"):
        CascadeProbe(net, metrics=("nope",))
    with pytest.raises(ReprobeError, match="CUDA is not available"):
        if torch.cuda.is_available():
            raise ReprobeError("CUDA is not available (skipped: a GPU is present)")
        CascadeProbe(net, device="cuda")
    with pytest.raises(ReprobeError, match="empty"):
        CascadeProbe(net, progress=False).fit(torch.zeros(0, 16))
    with pytest.raises(ReprobeError, match="fit"):
        CascadeProbe(net, progress=False).evaluate(torch.rand(4, 16))
    with pytest.raises(ReprobeError, match="nn.Module"):
        CascadeProbe(lambda x: x)


def test_probe_is_deterministic():
    x, _ = data(300)
    runs = []
    for _ in range(2):
        net = mlp(depth=3, width=16, in_features=16, num_classes=3, seed=1)
        with CascadeProbe(net, fit="adam", progress=False, samples=30, seed=3) as p:
            runs.append(p.fit(x).evaluate(x).metrics["relative_entropy"])
    assert runs[0] == runs[1]


def test_closed_form_memory_budget_switches_biggest_decoders_to_gradient(monkeypatch):
    import reprobe.probe.fitting as fitting

    net = mlp(depth=4, width=64, in_features=16, num_classes=3)
    x, _ = data(200)
    # stats of a 64-wide decoder: 4·65·129 bytes; allow about two of the four decoders
    monkeypatch.setattr(fitting, "MAX_CLOSED_FORM_BYTES", 2 * 4 * 65 * 129 + 10)
    with CascadeProbe(net, progress=False, samples=20) as p, pytest.warns(UserWarning, match="would not fit in memory"):
        r = p.fit(x).evaluate(x)
        info = p.fit_info
    assert info["gradient_stages"] >= 1 and info["closed_form_stages"] + info["gradient_stages"] == 4
    assert info["closed_form_over_memory_budget"]
    stage = info["closed_form_over_memory_budget"][0]
    # the warning names the stage and the fallback, at fit time and in the result
    assert any(stage in w and "Adam" in w and "memory" in w for w in r.warnings)
    assert all(v is not None for v in r.metrics["mse"])


def test_stage_info_round_trips_through_a_dict():
    s = StageInfo(3, "features.4", "Conv2d", (16, 8, 8), 16, 4.0, "subpixel-conv")
    d = s.to_dict()
    assert d["shape"] == [16, 8, 8] and StageInfo.from_dict(d) == s
    assert StageInfo.from_dict({**d, "shape": None, "added_later": 1}) == StageInfo(3, "features.4", "Conv2d", None, 16, 4.0, "subpixel-conv")
    r = ProbeResult(stages=[d], input_shape=(3, 32, 32), metrics={}, cutoffs={})
    assert r.stages == [s] and r.stage_dicts() == [d]
