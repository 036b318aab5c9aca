import math

import pytest
import torch

import reprobe.metrics as rm
from reprobe.core.errors import ReprobeError


def test_relative_entropy_paper_example():
    v = torch.tensor([[8.0, 5, 12, 12, 15]])
    f = torch.tensor([[72.0, 69, 76, 76, 79]])
    assert rm.get_metric("relative_entropy")(v, f) == pytest.approx(0.046, abs=0.001)


def test_relative_entropy_by_hand_and_properties():
    p = torch.tensor([[1.0, 3.0]])
    q = torch.tensor([[1.0, 1.0]])
    pp, qq = torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])
    expected = float((pp * (pp / qq).log()).sum())
    assert rm.relative_entropy(p, q) == pytest.approx(expected, rel=1e-6)
    x = torch.rand(10, 784)
    assert rm.relative_entropy(x, x) == pytest.approx(0.0, abs=1e-12)
    zeros = torch.zeros(4, 784)
    zeros[:, 0] = 1.0
    value = rm.relative_entropy(zeros, torch.rand(4, 784))
    assert math.isfinite(value) and value > 0
    # negative vectors are shifted by their minimum (reference code): a shift-invariant comparison
    assert rm.relative_entropy(torch.tensor([[-1.0, 1.0]]), torch.tensor([[0.0, 2.0]])) == pytest.approx(0.0, abs=1e-6)


def test_relative_entropy_is_batch_mean():
    a = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    assert rm.relative_entropy(a, b) == pytest.approx(rm.relative_entropy(a[:1], b[:1]) / 2, rel=1e-6)


def test_differential_entropy_by_hand():
    # Two reconstructions of 2 pixels: unit-sum rows (0.25, 0.75) and (0.75, 0.25).
    r = torch.tensor([[1.0, 3.0], [3.0, 1.0]])
    var = 0.25 ** 2  # population variance of (0.25, 0.75) per pixel
    expected = 0.5 * math.log(2 * math.pi * math.e * var)
    assert rm.differential_entropy(r, r) == pytest.approx(expected, rel=1e-6)


def test_differential_entropy_falls_when_reconstructions_collapse():
    x = torch.rand(100, 784)
    diverse = rm.differential_entropy(x, x)
    collapsed = rm.differential_entropy(x, x[:1].repeat(100, 1))
    assert collapsed < diverse - 8
    # all-identical reconstructions sit at the float32-resolution floor, finite, about -21 nats
    assert -23 < collapsed < -19


def test_mse_by_hand():
    assert rm.mse(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])) == pytest.approx(2.5)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        rm.mse(torch.zeros(3, 4), torch.zeros(2, 4))


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ReprobeError) as e:
        rm.get_metric("relative_entrpy")
    msg = str(e.value)
    assert "relative_entropy" in msg and "differential_entropy" in msg and "\n" not in msg


def test_register_custom_metric():
    @rm.register_metric("test_l1", higher_is_more_information=False)
    def l1(original, reconstruction):
        """Mean absolute error."""
        return (original - reconstruction).abs().mean().item()

    assert "test_l1" in rm.list_metrics()
    assert rm.get_metric("test_l1")(torch.ones(2, 3), torch.zeros(2, 3)) == pytest.approx(1.0)
    assert rm.METRICS.help("test_l1") == "Mean absolute error."
    assert rm.get is rm.get_metric and rm.available is rm.list_metrics  # the earlier names still work
