"""End-to-end probes of CNNs on small images (CPU, seconds each), save/load of conv decoders, reconstruct."""

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from reprobe.cli.main import cli
from reprobe.cli.reconstruct import _image_tiles
from reprobe.experiments.run import rebuild_probe
from reprobe.data import load_dataset
from reprobe.probe import CascadeProbe
from reprobe.experiments.run import run_named


def _finite(values):
    return all(v is not None and math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def vgg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vgg")
    r = CliRunner().invoke(cli, [
        "run", "--model", "vgg11", "--data", "mnist-5k", "--image-size", "32", "--subset", "48", "--samples", "8",
        "--batch-size", "16", "--save-decoders", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


def test_vgg_cli_run_writes_finite_results(vgg_run):
    res = json.loads((vgg_run / "result.json").read_text())
    assert res["depth"] == 13 and res["model"]["adapter"] == "vgg"
    assert res["input_shape"] == [3, 32, 32]
    for m in ("relative_entropy", "differential_entropy", "mse"):
        assert _finite(res["metrics"][m])
    assert res["data"]["transform"]["channels"] == 3
    assert res["fit"]["closed_form_stages"] == 13 and res["fit"]["gradient_stages"] == 0
    assert (vgg_run / "decoders.pt").is_file()


def test_reconstruct_command(vgg_run, tmp_path):
    img = tmp_path / "x.png"
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype("uint8")).save(img)
    runner = CliRunner()
    r = runner.invoke(cli, ["reconstruct", str(vgg_run), "--image", str(img), "--out", str(tmp_path / "all.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "all.png").size[0] > 32
    r = runner.invoke(cli, ["reconstruct", str(vgg_run), "--image", str(img), "--stage", "features.4", "--channel", "3",
                            "--out", str(tmp_path / "ch.png")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["reconstruct", str(vgg_run), "--class", "2", "--out", str(tmp_path / "c.png")])
    assert r.exit_code == 2 and "+head" in r.output  # no classifier stage in this run
    _, _, probe = rebuild_probe(vgg_run)
    with probe:
        tiles = _image_tiles(probe, str(img), None, None, None)
        assert [t.label for t in tiles[:3]] == ["input", "ℓ = 1: features.1", "ℓ = 2: features.2"]
        assert len(tiles) == 14 and not any(t.stretch or t.colorbar for t in tiles)
        (one,) = _image_tiles(probe, str(img), "features.4", 3, None)[1:]
        assert one.label == "ℓ = 3: features.4, channel 3" and one.stretch
    r = runner.invoke(cli, ["reconstruct", str(vgg_run), "--image", str(img), "--stage", "features.4", "--channel", "999",
                            "--out", str(tmp_path / "bad.png")])
    assert r.exit_code == 2 and "--channel" in r.output
    r = runner.invoke(cli, ["reconstruct", str(tmp_path), "--class", "1", "--out", str(tmp_path / "c.png")])
    assert r.exit_code == 2


def test_resnet18_python_api_and_decoder_roundtrip(tmp_path):
    res, net, probe = run_named("resnet18", "noise", data_options={"shape": (1, 16, 16), "size": 60},
                                model_options={"image_size": 32}, samples=6, batch_size=16, keep_probe=True, progress=False)
    assert res.depth == 9 and _finite(res.metrics["differential_entropy"])
    assert res.reconstructions.shape[2:] == (3, 32, 32)
    probe.save_decoders(tmp_path / "d.pt")
    p2 = CascadeProbe(net, [s.name for s in probe.stages], progress=False)
    p2.load_decoders(tmp_path / "d.pt")
    z = torch.randn(2, *probe.stages[3].shape)
    assert torch.allclose(probe.cascade(z, 4), p2.cascade(z, 4))
    p2.close()


def test_timm_model_end_to_end_and_class_reconstruction(tmp_path):
    r = CliRunner().invoke(cli, [
        "run", "--model", "timm:resnet18", "--data", "digits", "--image-size", "32", "--subset", "40",
        "--samples", "6", "--batch-size", "16", "--preset", "blocks+head", "--save-decoders", "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "result.json").read_text())
    assert res["depth"] == 10 and _finite(res["metrics"]["relative_entropy"])
    assert res["model"]["adapter_options"] == {"preset": "blocks+head"}
    r = CliRunner().invoke(cli, ["reconstruct", str(tmp_path), "--class", "2", "--out", str(tmp_path / "c.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "c.png").size[0] > 200  # a labelled tile with a colour bar


def test_cnn_family_run_and_stages_command():
    runner = CliRunner()
    r = runner.invoke(cli, ["stages", "--model", "vgg16", "--image-size", "32"])
    assert r.exit_code == 0, r.output
    assert "18 stages" in r.output and "channels=512" in r.output and "stride=32" in r.output
    res, _, _ = run_named("cnn", "digits", model_options={"depth": 3, "channels": 8}, samples=10, batch_size=32,
                          train_samples=200, progress=False)
    assert res.depth == 4 and _finite(res.metrics["mse"])


def test_evaluate_streams_in_chunks_with_the_same_result():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.Tanh())
    x = torch.rand(60, 1, 8, 8)
    with CascadeProbe(net, progress=False, samples=20, batch_size=8) as p:
        p.fit(x[:40])
        a = p.evaluate(x[40:])
        p.EVAL_BUDGET = 1  # one sample per chunk
        b = p.evaluate(x[40:])
    for m in a.metrics:
        assert np.allclose(a.metrics[m], b.metrics[m], rtol=1e-4, atol=1e-6)
    assert np.allclose(a.decoder_mse, b.decoder_mse, rtol=1e-5)


def test_file_factory_gets_only_the_options_typed(tmp_path):
    import json

    from click.testing import CliRunner

    from reprobe.cli.main import cli

    f = tmp_path / "mymodel.py"
    f.write_text(
        "import torch.nn as nn\n"
        "def make(num_classes=10, depth=2):\n"
        "    layers = [nn.Flatten()]\n"
        "    for _ in range(depth):\n"
        "        layers += [nn.Linear(784 if len(layers) == 1 else 32, 32), nn.Tanh()]\n"
        "    return nn.Sequential(*layers, nn.Linear(32, num_classes))\n"
    )
    run = lambda *extra: CliRunner().invoke(cli, ["stages", "--model", f"{f}:make", "--json", *extra])
    default = run()
    assert default.exit_code == 0, default.output
    assert len(json.loads(default.output)) == 3  # the factory's own depth=2, not the CLI's default 50
    typed = run("--depth", "4")
    assert typed.exit_code == 0, typed.output
    assert len(json.loads(typed.output)) == 5
