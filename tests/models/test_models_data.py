import math

import pytest
import torch
import torch.nn as nn

from reprobe.data import load_dataset
from reprobe.core.errors import ReprobeError
from reprobe.models import build_model, layer_widths, mlp


def test_mlp_initialisation_variances():
    net = mlp(depth=4, width=500, sigma_w2=2.5, sigma_b2=0.3, in_features=400, num_classes=10, seed=0)
    lin = [m for m in net if isinstance(m, nn.Linear)]
    w = lin[1].weight  # 500 x 500
    assert w.var().item() == pytest.approx(2.5 / 500, rel=0.02)
    b = torch.cat([m.bias for m in lin])
    assert b.var().item() == pytest.approx(0.3, rel=0.2)
    assert w.mean().abs().item() < 1e-3


def test_mlp_shapes():
    assert layer_widths(5, 784, 784, 10, "wide") == [784, 784, 784, 400, 10]
    sh = layer_widths(5, 784, 784, 10, "shrinking")
    assert sh[-1] == 10 and all(a >= b for a, b in zip(sh, sh[1:])) and sh[0] < 784
    net = mlp(depth=6, width=32, in_features=784)
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert sum(isinstance(m, nn.Tanh) for m in net) == 5
    relu = mlp(depth=3, width=8, activation="relu")
    assert any(isinstance(m, nn.ReLU) for m in relu)


@pytest.mark.parametrize("kwargs,match", [
    (dict(depth=0), "depth"),
    (dict(sigma_w2=-1.0), "sigma_w2"),
    (dict(sigma_b2=float("nan")), "sigma"),
    (dict(activation="tanhh"), "tanh"),
    (dict(shape="round"), "wide"),
    (dict(width=0), "width"),
])
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ReprobeError, match=match):
        mlp(**kwargs)


def test_build_model_unknown_name_lists_models():
    with pytest.raises(ReprobeError) as e:
        build_model("mpl", (1, 28, 28), 10)
    assert "did you mean 'mlp'" in str(e.value)


def test_mnist_5k_bundled(mnist):
    assert len(mnist.train) == 4500 and len(mnist.test) == 500
    x, y = mnist.train[0]
    assert x.shape == (1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    labels = torch.stack([mnist.train[i][1] for i in range(200)])
    assert len(set(labels.tolist())) >= 8  # shuffled: the bundled file is sorted by label
    assert mnist.num_classes == 10 and mnist.input_shape == (1, 28, 28)


def test_noise_and_digits():
    b = load_dataset("noise", shape=(3, 8, 8), size=100, seed=1)
    assert b.input_shape == (3, 8, 8) and len(b.train) + len(b.test) == 100
    assert torch.equal(b.train[0][0], load_dataset("noise", shape=(3, 8, 8), size=100, seed=1).train[0][0])
    d = load_dataset("digits")
    assert d.input_shape == (1, 8, 8) and len(d.train) + len(d.test) == 1797


def test_unknown_dataset_and_bad_split():
    with pytest.raises(ReprobeError, match="mnist-5k"):
        load_dataset("mnist5k")
    with pytest.raises(ReprobeError, match="test_fraction"):
        load_dataset("digits", test_fraction=1.5)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST"), ("cifar10", "cifar-10")])
def test_torchvision_data_missing_offline_names_the_folder(tmp_path, name, folder):
    with pytest.raises(ReprobeError) as e:
        load_dataset(name, root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path) in msg and folder in msg and "mnist-5k" in msg


def test_data_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBE_DATA", str(tmp_path / "cache"))
    with pytest.raises(ReprobeError, match=str(tmp_path / "cache")):
        load_dataset("mnist", download=False)
