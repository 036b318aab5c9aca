"""Image folders, adaptation of data to vision models, missing/empty data errors."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from reprobe.cli.main import cli
from reprobe.data import load_dataset
from reprobe.data.images import adapt_bundle, folder_bundle
from reprobe.core.errors import ReprobeError
from reprobe.experiments.run import build_for_data


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
    with pytest.raises(ReprobeError, match=r"cannot load imagenette.*set root or .*data=PATH"):
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


def test_load_image_preprocesses_exactly_like_the_runs_data(tmp_path):
    from reprobe.data.images import load_image

    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(3):  # not square: the run resizes the short side and centre-crops, never squashes
            a = (rng.random((30 + 7 * i, 52, 3)) * 255).astype("uint8")
            Image.fromarray(a).save(tmp_path / "imgs" / c / f"{i}.png")
    b = folder_bundle(tmp_path / "imgs", image_size=20)
    b = adapt_bundle(b, 3, (24, 24), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    t = b.info["transform"]
    for ds in (b.train, b.test):
        for i in range(len(ds)):
            x = load_image(ds.base.samples[i][0], b.input_shape, t)
            assert x.shape == (3, 24, 24) and torch.allclose(x, ds[i][0], atol=1e-5)
    # grey data fed to an RGB model: the image is read grey, then copied to 3 channels as in the run
    grey = {"from_shape": [1, 16, 16], "channels": 3, "size": [16, 16], "mean": [0.5] * 3, "std": [0.25] * 3}
    x = load_image(tmp_path / "imgs" / "a" / "0.png", (3, 16, 16), grey)
    assert x.shape == (3, 16, 16) and torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_odd_files_in_image_folders(tmp_path):
    make_folder(tmp_path / "imgs", per_class=3)
    (tmp_path / "imgs" / "class0" / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS junk: skipped
    (tmp_path / "imgs" / "class0" / "notes.txt").write_text("not an image")
    Image.fromarray(np.full((20, 24), 40000, dtype=np.uint16)).save(tmp_path / "imgs" / "class1" / "deep.png")
    Image.fromarray(np.zeros((20, 24, 4), dtype=np.uint8), "RGBA").save(tmp_path / "imgs" / "class1" / "rgba.png")
    b = folder_bundle(tmp_path / "imgs", image_size=8, test_fraction=0.3)
    files = {"/".join(p.split("/")[-2:]): (ds, i) for ds in (b.train, b.test) for i, (p, _) in enumerate(ds.samples)}
    assert "class0/._0.png" not in files and "class0/notes.txt" not in files and len(files) == 8
    ds, i = files["class1/deep.png"]  # 16-bit grey is scaled, not clipped to white
    assert torch.allclose(ds[i][0], torch.full((3, 8, 8), round(40000 / 257) / 255), atol=1e-6)
    ds, i = files["class1/rgba.png"]
    assert ds[i][0].shape == (3, 8, 8)
    (tmp_path / "imgs" / "class0" / "0.png").write_bytes(b"broken")  # a corrupt file: a clear error, no traceback
    ds, i = files["class0/0.png"]
    with pytest.raises(ReprobeError, match="cannot read image .*class0/0.png"):
        ds[i]


def test_folder_with_only_train_split_and_small_subset(tmp_path):
    make_folder(tmp_path / "imgs" / "train", classes=3, per_class=3)
    b = folder_bundle(tmp_path / "imgs", image_size=8)
    assert b.classes == ["class0", "class1", "class2"] and len(b.train) + len(b.test) == 9
    with pytest.raises(ReprobeError, match="^subset needs at least 4"):
        folder_bundle(tmp_path / "imgs", image_size=8, subset=3)
    assert len(folder_bundle(tmp_path / "imgs", image_size=8, subset=100).train) == 7  # larger than the data: all


def _notes(bundle):
    return bundle.info.get("notes", [])


def test_resizing_a_folder_is_said_once(tmp_path):
    make_folder(tmp_path / "imgs", size=(32, 32))
    (note,) = _notes(folder_bundle(tmp_path / "imgs"))
    assert note.startswith(f"images in '{tmp_path / 'imgs'}' are 32×32 and are read at 224×224 (the folder default")
    assert note.endswith("set image_size=32 to keep their size")
    assert "read at 16×16 (image_size" in _notes(folder_bundle(tmp_path / "imgs", image_size=16))[0]
    assert _notes(folder_bundle(tmp_path / "imgs", image_size=32)) == []  # nothing changed, nothing said


def test_adapting_and_oversized_subsets_are_said():
    b = load_dataset("noise", shape=(1, 12, 12), size=20)
    _, adapted = build_for_data("resnet18", b, {"image_size": 16})
    assert _notes(adapted) == ["images of 'noise' were adapted to the model's input 3×16×16: grey → RGB, resized 12×12 → 16×16"]
    _, same = build_for_data("cnn", b, {"depth": 2})
    assert _notes(same) == []
    _, cut = build_for_data("cnn", b, {"depth": 2, "subset": 500})
    assert _notes(cut) == [f"subset=500 asked for, but the data has {len(b.train) + len(b.test)} images: all "
                           f"{len(b.train) + len(b.test)} are used"]


def test_cli_run_prints_the_resize_note_and_keeps_it(tmp_path):
    import json

    make_folder(tmp_path / "imgs", per_class=8, size=(32, 32))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "--data", str(tmp_path / "imgs"), "--image-size", "8", "--depth", "2",
                                   "--width", "8", "--samples", "4", "-q", "--no-report", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if "are 32×32 and are read at 8×8" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: images in"), res.output
    assert any("are 32×32 and are read at 8×8" in w for w in json.loads((out / "result.json").read_text())["warnings"])
