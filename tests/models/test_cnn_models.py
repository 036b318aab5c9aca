"""CNN families, vision resolvers and adapters, feature-map decoder shapes, bad model inputs."""

import math

import pytest
import torch
import torch.nn as nn

from reprobe.core.errors import ReprobeError
from reprobe.models import build_model
from reprobe.probe import CascadeProbe


@pytest.mark.parametrize("family", ["cnn", "resnet"])
@pytest.mark.parametrize("sigma_w2", [1.0, 3.0])
def test_sigma_init_variance(family, sigma_w2):
    m = build_model(family, (3, 16, 16), 10, depth=3, channels=64, sigma_w2=sigma_w2, sigma_b2=0.2, seed=1)
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert len(convs) == (3 if family == "cnn" else 7)
    for c in convs[1:]:
        fan_in = c.in_channels * c.kernel_size[0] * c.kernel_size[1]
        assert fan_in == 64 * 9
        assert float(c.weight.detach().var()) * fan_in == pytest.approx(sigma_w2, rel=0.05)
    biases = torch.cat([c.bias for c in convs]).detach()
    assert float(biases.var()) == pytest.approx(0.2, rel=0.25)
    assert float(convs[0].weight.detach().var()) * 27 == pytest.approx(sigma_w2, rel=0.15)


def test_cnn_families_stages_and_seed():
    a = build_model("cnn", (1, 12, 12), 10, depth=4, channels=8, seed=3)
    b = build_model("cnn", (1, 12, 12), 10, depth=4, channels=8, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with CascadeProbe(a, progress=False) as p:
        st = p.dry_run(torch.rand(2, 1, 12, 12))
    assert [s.shape for s in st] == [(8, 12, 12)] * 4 + [(10,)]
    r = build_model("resnet", (3, 8, 8), 5, depth=6, channels=4)
    with CascadeProbe(r, progress=False) as p:
        assert len(p.dry_run(torch.rand(2, 3, 8, 8))) == 8
    with pytest.raises(ReprobeError, match="image inputs"):
        build_model("cnn", (784,), 10)


def _decoder_shapes(model, x, **kw):
    with CascadeProbe(model, progress=False, **kw) as p:
        p.dry_run(x)
        p._build_decoders()
        zs = p.activations(x)
        for l, s in enumerate(p.stages, start=1):
            with torch.no_grad():
                out = p.decoders[l - 1](zs[l])
            assert out.shape == zs[l - 1].shape, (s.name, s.decoder, tuple(out.shape), tuple(zs[l - 1].shape))
        return p.stages


@pytest.mark.parametrize("spec,size,n_stages,preset", [
    ("vgg16", 32, 18, None),
    ("vgg16", 32, 5, "blocks"),
    ("vgg16", 32, 21, "layers+head"),
    ("resnet18", 64, 9, None),
    ("resnet18", 64, 6, "stages+head"),
    ("resnet50", 32, 17, None),
    ("timm:resnet18", 32, 10, "blocks+head"),
    ("timm:vgg11", 32, 13, None),
    ("timm:efficientnet_b0", 32, 5, None),
])
def test_every_stage_gets_a_decoder_of_the_right_shape(spec, size, n_stages, preset):
    torch.manual_seed(0)
    m = build_model(spec, (3, size, size), 10)
    stages = _decoder_shapes(m, torch.randn(2, 3, size, size), adapter_options={"preset": preset} if preset else None)
    assert len(stages) == n_stages
    if spec == "vgg16" and preset is None:
        assert sum(s.type == "MaxPool2d" for s in stages) == 5
        assert {s.decoder for s in stages} == {"subpixel-conv"}
    if spec.endswith("resnet18") and preset is None:
        assert stages[0].name == "maxpool" and stages[1].name == "layer1.0"
        assert not any("relu" in s.name for s in stages)  # the block is the unit


def test_big_vector_to_map_and_map_to_vector_decoders():
    from reprobe.probe.decoders import DecoderSpec, build_decoder

    d = build_decoder(DecoderSpec((4096,), (512, 14, 14), index=2))
    assert d.decoder_kind == "vector-to-map"
    assert d(torch.randn(2, 4096)).shape == (2, 512, 14, 14)
    d = build_decoder(DecoderSpec((512, 28, 28), (4096,), index=2))
    assert d(torch.randn(2, 512, 28, 28)).shape == (2, 4096)
    d = build_decoder(DecoderSpec((64, 7, 7), (32, 13, 13), out_activation="sigmoid", index=2))
    y = d(torch.randn(2, 64, 7, 7))
    assert y.shape == (2, 32, 13, 13) and float(y.detach().min()) >= 0 and float(y.detach().max()) <= 1
    d = build_decoder(DecoderSpec((3136,), (64, 7, 7), stage_type="Flatten", index=2))
    assert d.decoder_kind == "reshape"


def test_generic_adapter_on_cnn_with_batchnorm():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                      nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    stages = _decoder_shapes(m, torch.randn(2, 3, 16, 16))
    assert [s.name for s in stages] == ["2", "6"]  # the classifier Linear is a head, not a stage


# -- bad input ----------------------------------------------------------------------------------------
def test_unknown_model_suggests_torchvision_names():
    with pytest.raises(ReprobeError) as e:
        build_model("vgg61", (3, 32, 32), 10)
    assert "vgg16" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ReprobeError, match="timm model"):
        build_model("timm:not_a_model_xyz", (3, 32, 32), 10)
    with pytest.raises(ReprobeError, match="unknown model"):
        build_model("zzzqqq", (3, 32, 32), 10)


def test_file_factory(tmp_path):
    f = tmp_path / "net.py"
    f.write_text(
        "import torch.nn as nn\n"
        "def good(input_shape, num_classes):\n"
        "    return nn.Sequential(nn.Conv2d(input_shape[0], 4, 3), nn.Tanh(), nn.Flatten(), nn.LazyLinear(num_classes))\n"
        "def bad(**kw):\n    raise ValueError('boom')\n"
        "def notmodel():\n    return 3\n")
    m = build_model(f"{f}:good", (1, 8, 8), 10)
    assert isinstance(m, nn.Module)
    with pytest.raises(ReprobeError, match="raised ValueError: boom"):
        build_model(f"{f}:bad", (1, 8, 8), 10)
    with pytest.raises(ReprobeError, match="not an nn.Module"):
        build_model(f"{f}:notmodel", (1, 8, 8), 10)
    with pytest.raises(ReprobeError, match="factory"):
        build_model(f"{f}:missing", (1, 8, 8), 10)
    with pytest.raises(ReprobeError, match="not found"):
        build_model(f"{tmp_path}/nope.py:good", (1, 8, 8), 10)


def test_model_returning_a_dict_is_probed():
    class DictNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.act = nn.Tanh()
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
            self.act2 = nn.Tanh()

        def forward(self, x):
            return {"out": self.act2(self.conv2(self.act(self.conv(x)))), "aux": x}

    x = torch.rand(40, 1, 8, 8)
    with CascadeProbe(DictNet(), progress=False, samples=8, batch_size=16) as p:
        res = p.fit(x[:32]).evaluate(x[32:])
    assert res.depth == 2 and all(math.isfinite(v) for v in res.metrics["mse"])

    class DictStage(nn.Module):
        def forward(self, x):
            return {"a": x}

    net = nn.Sequential(nn.Conv2d(1, 2, 3), DictStage())
    with CascadeProbe(net, ["1"], progress=False) as p, pytest.raises(ReprobeError, match="output_selector"):
        p.dry_run(torch.rand(2, 1, 8, 8))


def test_imagenet_weights_offline_is_a_clear_error(monkeypatch, tmp_path):
    import urllib.error

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ReprobeError, match="imagenet weights.*weights=PATH.*weights='none'"):
        build_model("resnet18", (3, 32, 32), 10, weights="imagenet")
    (tmp_path / "f.py").write_text("import torch.nn as nn\ndef x():\n    return nn.Linear(2, 2)\n")
    with pytest.raises(ReprobeError, match="no imagenet weights"):
        build_model(f"{tmp_path}/f.py:x", (3, 8, 8), 10, weights="imagenet")


def test_weights_from_a_path(tmp_path):
    m = build_model("resnet18", (3, 32, 32), 10, seed=1)
    torch.save(m.state_dict(), tmp_path / "w.pt")
    m2 = build_model("resnet18", (3, 32, 32), 10, seed=2, weights=str(tmp_path / "w.pt"))
    assert torch.equal(m2.conv1.weight, m.conv1.weight)
    with pytest.raises(ReprobeError, match="do not fit"):  # other head size
        build_model("resnet18", (3, 32, 32), 5, weights=str(tmp_path / "w.pt"))
    with pytest.raises(ReprobeError, match="do not fit"):
        build_model("resnet50", (3, 32, 32), 10, weights=str(tmp_path / "w.pt"))
    with pytest.raises(ReprobeError, match="not found"):
        build_model("resnet18", (3, 32, 32), 10, weights=str(tmp_path / "none.pt"))


def test_random_weight_models_keep_the_data_size():
    from reprobe.models import build_model

    # random weights: no reason to upscale 28x28 digits to 224x224 (at least 32 for 5 stride-2 stages)
    assert build_model("resnet18", (1, 28, 28), 10).reprobe_input["size"] == [32, 32]
    assert build_model("timm:resnet18", (3, 48, 40), 10).reprobe_input["size"] == [48, 40]
    # a model that only takes its native size keeps it
    assert build_model("vit_b_16", (1, 28, 28), 10).reprobe_input["size"] == [224, 224]
    # --image-size wins
    assert build_model("vgg11", (1, 28, 28), 10, image_size=64).reprobe_input["size"] == [64, 64]
