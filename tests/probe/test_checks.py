"""Misuse of the Python API ends in one ReprobeError that names the argument and the real cause;
what the probe leaves out of its inputs is said once in ``result.warnings``."""

import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from reprobe import CascadeProbe
from reprobe.core.errors import ReprobeError
from reprobe.probe.checks import ignored_batch_parts, model_failure

X = torch.rand(48, 1, 4, 4)


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 4))


def _conv():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 4, 3, padding=1))


def _probe(model=None, stages=(nn.Linear,), **kw):
    kw.setdefault("samples", 16)
    return CascadeProbe(model if model is not None else _mlp(), list(stages), progress=False, **kw)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _error(fn) -> str:
    with pytest.raises(ReprobeError) as e:
        fn()
    return str(e.value)


@pytest.mark.parametrize("model,x,names,not_named", [
    (lambda: _mlp().half(), X, ("float16", "float32 inputs", "model.float()"), "shape the model expects"),
    (_mlp, (X * 255).to(torch.uint8), ("uint8", "x.float() / 255"), "shape the model expects"),
    (_mlp, X.double(), ("float64 inputs", "x.float()"), "shape the model expects"),
    (lambda: _mlp().double(), X.double(), ("float64", "model.float()"), "shape the model expects"),
    (lambda: _mlp().half(), X.half(), ("float16", "model.float()"), "Half and Float"),
    (_mlp, torch.rand(48, 1, 5, 5), ("shape 8×1×5×5", "shape the model expects"), "dtype"),
])
def test_dtype_and_shape_mismatches_are_told_apart(model, x, names, not_named):
    msg = _error(lambda: _probe(model()).fit(x))
    assert all(n in msg for n in names) and not_named not in msg, msg


def test_labels_first_are_called_labels():
    data = TensorDataset(torch.randint(0, 4, (48,)), X)
    assert "look like labels" in _error(lambda: _probe().fit(data))


@pytest.mark.parametrize("step,argument", [
    (lambda p: p.fit(X).evaluate(torch.rand(20, 1, 6, 6)), "test has inputs of shape 1×6×6"),
    (lambda p: p.fit([torch.rand(8, 1, 4, 4), torch.rand(8, 1, 6, 6)]), "train has inputs of shape 1×6×6"),
    (lambda p: p.fit(X).reconstruct(torch.rand(3, 1, 6, 6)), "x has inputs of shape 1×6×6"),
])
def test_inputs_of_another_shape_than_the_fit_name_the_argument(step, argument):
    # A conv net takes any image size, so without the check the decoders would fail deep inside.
    msg = _error(lambda: step(_probe(_conv(), (nn.Conv2d,), batch_size=8)))
    assert msg.startswith(argument) and "fitted on inputs of shape 1×4×4" in msg, msg


@pytest.mark.parametrize("z,needle", [
    (torch.rand(3, 7), "z has shape 3×7, but stage 2"),
    (torch.rand(12), "z has shape 12, but stage 2"),
    (torch.ones(3, 12, dtype=torch.long), "z has dtype torch.int64"),
    ([0.0] * 12, "z must be a tensor"),
])
def test_cascade_names_z(z, needle):
    probe = _probe().fit(X)
    assert probe.cascade(torch.rand(3, 12), 2).shape == (3, 1, 4, 4)  # the right width goes through
    assert _error(lambda: probe.cascade(z, 2)).startswith(needle)


def test_meta_tensors_are_named():
    assert _error(lambda: _probe(_mlp().to("meta")).fit(X)).startswith("model (Sequential) has parameters on the meta")
    assert _error(lambda: _probe().fit(X.to("meta"))).startswith("train is a meta tensor")
    probe = _probe().fit(X)
    assert _error(lambda: probe.evaluate(X.to("meta"))).startswith("test is a meta tensor")
    assert _error(lambda: probe.cascade(torch.rand(2, 12, device="meta"), 2)).startswith("z is a meta tensor")


def test_device_mismatch_is_told_from_shape():
    err = RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
    msg = str(model_failure(_mlp(), X, err))
    assert "on one device" in msg and "device" in msg and "shape the model expects" not in msg


def test_what_the_probe_ignores_in_a_batch_is_noted_once():
    labels = torch.randint(0, 4, (48,))
    assert ignored_batch_parts((X, labels)) is None  # (x, y) with labels: as documented
    result = _probe().fit(TensorDataset(X, X, labels)).evaluate(TensorDataset(X, X, labels))
    notes = [w for w in result.warnings if w.startswith("batches are tuples of 3")]
    assert len(notes) == 1 and "ignores the rest (float32 48×1×4×4, int64 48)" in notes[0], result.warnings
    result = _probe().fit(TensorDataset(X, labels)).evaluate(X)
    assert not any(w.startswith("batches are tuples") for w in result.warnings)


def test_a_shrunk_decoder_kernel_lands_in_result_warnings():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 200, 3, padding=1), nn.Tanh(), nn.Conv2d(200, 4, 3, padding=1))
    result = _probe(model, (nn.Conv2d,), decoder_kernel=5, samples=8).fit(X[:16]).evaluate(X[:16])
    assert any("decoder_kernel 5" in w and "it uses 3×3" in w for w in result.warnings), result.warnings


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h, _ = self.lstm(x.flatten(1, 2))
        h, _ = self.gru(h)
        return self.head(h[:, -1])


def test_recurrent_stages_read_their_output_sequence():
    model = _Recurrent().train()
    result = CascadeProbe(model, ["lstm", "gru"], progress=False, samples=16).fit(X).evaluate(X)
    assert [s["shape"] for s in result.stage_dicts()] == [[4, 8], [4, 8]]
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_training_batches_of_two_shapes_name_train_before_they_are_joined():
    # Closed-form vector decoders join small batches into big ones; the shapes are checked first.
    batches = [torch.rand(8, 1, 4, 4), torch.rand(8, 1, 5, 5)]
    model = nn.Sequential(nn.Flatten(), nn.LazyLinear(6), nn.Tanh(), nn.Linear(6, 6))
    model(batches[0])
    msg = _error(lambda: _probe(model, batch_size=8).fit(batches))
    assert msg.startswith("train has inputs of shape 1×5×5"), msg
