"""Image folders, adaptation of data to vision models, missing/empty data errors."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from reprobe.cli.main import cli
from reprobe.data import load_dataset
from reprobe.data.images import adapt_bundle, folder_bundle
from reprobe.errors import ReprobeError
from reprobe.runner import build_for_data


def make_folder(root, classes=2, per_class=6, size=(20, 24)):
    rng = np.random.default_rng(0)
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray((rng.random((*size, 3)) * 255).astype("uint8")).save(d / f"{i}.png")
    return root


def test_image_folder_is_lazy_and_sized(tmp_path):
    make_folder(tmp_path / "imgs")
    b = load_dataset(str(tmp_path / "imgs"), image_size=16)
    assert b.input_shape == (3, 16, 16) and b.num_classes == 2
    assert len(b.train) + len(b.test) == 12 and len(b.test) >= 2
    x, y = b.train[0]
    assert x.shape == (3, 16, 16) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert not hasattr(b.train, "tensors")  # files are read on access
    sub = folder_bundle(tmp_path / "imgs", subset=6, image_size=8)
    assert len(sub.train) + len(sub.test) == 6


def test_imagenet_subset_from_data_root(tmp_path, monkeypatch):
    make_folder(tmp_path / "imagenet-subset", classes=3, per_class=3)
    b = load_dataset("imagenet-subset", root=tmp_path, image_size=8)
    assert b.num_classes == 3
    monkeypatch.setenv("REPROBE_DATA", str(tmp_path))
    assert load_dataset("imagenet-subset", image_size=8).num_classes == 3


def test_missing_and_empty_data_errors(tmp_path):
    with pytest.raises(ReprobeError, match="imagenet-subset not found.*mnist-5k"):
        load_dataset("imagenet-subset", root=tmp_path)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ReprobeError, match="no images"):
        load_dataset(str(tmp_path / "empty"))
    r = CliRunner().invoke(cli, ["run", "--model", "resnet18", "--data", "imagenet-subset", "--data-root", str(tmp_path)])
    assert r.exit_code == 2 and "imagenet-subset not found" in r.output and r.output.count("\n") == 1
    r = CliRunner().invoke(cli, ["run", "--model", "resnet18", "--data", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "no images" in r.output


def test_imagenette_offline_is_a_clear_error(tmp_path, monkeypatch):
    import torchvision

    def offline(*a, **k):
        raise RuntimeError("offline")

    monkeypatch.setattr(torchvision.datasets, "Imagenette", offline)
    with pytest.raises(ReprobeError, match="cannot load imagenette.*--data"):
        load_dataset("imagenette", root=tmp_path)


def test_grey_data_is_adapted_to_rgb_models():
    b = load_dataset("noise", shape=(1, 12, 12), size=20)
    net, b2 = build_for_data("resnet18", b, {"image_size": 16})
    x, _ = b2.train[0]
    assert x.shape == (3, 16, 16) and b2.input_shape == (3, 16, 16)
    assert torch.allclose(x[0] * 0.229 + 0.485, x[1] * 0.224 + 0.456, atol=1e-5)  # grey copied, then normalised
    assert b2.info["transform"]["mean"] == [0.485, 0.456, 0.406]
    with pytest.raises(ReprobeError, match="expects 3x16x16"):
        build_for_data("resnet18", b, {"image_size": 16, "adapt_data": False})
    # cnn family: resize only, channels kept
    _, b3 = build_for_data("cnn", b, {"image_size": 8, "depth": 2})
    assert b3.input_shape == (1, 8, 8)
    with pytest.raises(ReprobeError, match="images"):
        adapt_bundle(load_dataset("noise", shape=(5,), size=8), channels=3)
