"""Closed-form feature-map decoders: exact recovery of known maps, sampling, singular and NaN input."""

import math

import pytest
import torch
import torch.nn as nn

from reprobe.probe import CascadeProbe
from reprobe.probe.conv_decoders import MapToVectorDecoder, ReshapeDecoder, SubPixelConvDecoder, VectorToMapDecoder
from reprobe.probe.decoders import DecoderSpec, LinearDecoder, build_decoder
from reprobe.probe.ridge import RidgeStatistics, ridge_solution


def _randomise(decoder, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in decoder.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(1, p[0].numel() if p.dim() > 1 else 1)))
    decoder.closed_form = True  # identity output, no squashing
    return decoder


def _fit(decoder, z, y, positions=None, ridge=1e-9):
    stats = RidgeStatistics()
    for zb, yb in zip(z.split(64), y.split(64)):
        stats.add(*decoder.design(zb, yb, positions, torch.Generator().manual_seed(1)))
    decoder.fit_closed_form(stats.gram, stats.cross, ridge)
    return decoder


CASES = {
    "stride 1": (SubPixelConvDecoder, (8, 6, 6), (3, 6, 6), {}),
    "stride 2 (pool)": (SubPixelConvDecoder, (16, 4, 4), (3, 8, 8), {}),
    "stride 2, odd target 7x7": (SubPixelConvDecoder, (16, 4, 4), (3, 7, 7), {}),
    "stride 4": (SubPixelConvDecoder, (8, 3, 3), (4, 12, 12), {}),
    "map grows (space-to-depth)": (SubPixelConvDecoder, (3, 8, 8), (16, 4, 4), {}),
    "1x1 map": (SubPixelConvDecoder, (64, 1, 1), (8, 2, 2), {}),
    "map to vector": (MapToVectorDecoder, (32, 8, 8), (40,), {}),
    "vector to map": (VectorToMapDecoder, (24,), (4, 8, 8), {"factor": 2}),
    "vector to map (linear)": (LinearDecoder, (24,), (2, 4, 4), {}),
    "flatten (reshape)": (ReshapeDecoder, (48,), (3, 4, 4), {}),
}


@pytest.mark.parametrize("name", CASES)
def test_closed_form_recovers_a_known_map_of_its_own_form(name):
    cls, in_shape, out_shape, kw = CASES[name]
    spec = DecoderSpec(in_shape, out_shape, index=2)
    torch.manual_seed(0)
    teacher = _randomise(cls(spec, **kw), seed=3)
    z = torch.randn(1024, *in_shape)
    with torch.no_grad():
        y = teacher(z)
    assert y.shape[1:] == out_shape
    student = _fit(cls(spec, **kw), z, y)
    with torch.no_grad():
        z_new = torch.randn(32, *in_shape)
        err = (student(z_new) - teacher(z_new)).abs().max()
    assert float(err) < 1e-3, (name, float(err))


def test_sampled_positions_still_recover_the_map():
    spec = DecoderSpec((16, 8, 8), (3, 16, 16), index=2)
    teacher = _randomise(SubPixelConvDecoder(spec), seed=5)
    z = torch.randn(256, 16, 8, 8)
    with torch.no_grad():
        y = teacher(z)
    student = _fit(SubPixelConvDecoder(spec), z, y, positions=4)  # 4 of 64 positions per input
    with torch.no_grad():
        err = (student(z[:16]) - y[:16]).abs().max()
    assert float(err) < 1e-3


def test_wide_stages_use_a_1x1_kernel_so_their_gram_stays_small():
    d = build_decoder(DecoderSpec((2048, 4, 4), (1024, 8, 8), index=5))
    assert d.kernel == 1 and d.n_features == 2048
    d = build_decoder(DecoderSpec((512, 4, 4), (512, 8, 8), index=5))
    assert d.kernel == 3 and d.n_features == 4608


def test_singular_gram_gives_a_finite_solution():
    gram = torch.zeros(5, 5)
    gram[-1, -1] = 10.0  # constant zero features (dead ReLUs): only the bias column is non-zero
    cross = torch.zeros(5, 2)
    cross[-1] = torch.tensor([3.0, -1.0])
    for ridge in (0.1, 0.0):
        w, b = ridge_solution(gram, cross, ridge)
        assert bool(torch.isfinite(w).all() and torch.isfinite(b).all())
        assert torch.allclose(b, torch.tensor([0.3, -0.1], dtype=b.dtype), atol=1e-6)


class _Invertible(nn.Module):
    """Two exactly invertible conv stages (space-to-depth, then a 1x1 mixing) and a flatten + Linear head."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 12, 2, stride=2)
        self.mix = nn.Conv2d(12, 12, 1)
        self.flat = nn.Flatten()
        self.head = nn.Linear(12 * 4 * 4, 192)
        with torch.no_grad():
            self.down.weight.copy_(torch.linalg.qr(torch.randn(12, 12))[0].reshape(12, 3, 2, 2))
            self.mix.weight.copy_(torch.linalg.qr(torch.randn(12, 12))[0].reshape(12, 12, 1, 1))
            self.head.weight.copy_(torch.linalg.qr(torch.randn(192, 192))[0])

    def forward(self, x):
        return self.head(self.flat(self.mix(self.down(x))))


def _one_step_relative_errors(probe, x):
    zs = probe.activations(x)
    with torch.no_grad():
        return [float(((probe.decoders[l - 1](zs[l]) - zs[l - 1]) ** 2).mean() / zs[l - 1].var())
                for l in range(1, len(zs))]


@pytest.mark.parametrize("normalised", [False, True])
def test_probe_inverts_invertible_conv_stages_for_both_input_ranges(normalised):
    torch.manual_seed(0)
    model = _Invertible()
    x = torch.rand(600, 3, 8, 8)
    if normalised:  # ImageNet-normalised RGB: targets well outside [0, 1]
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        x = (x - mean[:, None, None]) / std[:, None, None]
    with CascadeProbe(model, ["down", "mix", "flat", "head"], ridge=1e-7, progress=False) as probe:
        probe.fit(x[:512])
        assert probe.fit_info["closed_form_stages"] == 4 and probe.fit_info["gradient_stages"] == 0
        assert probe.stages[2].decoder == "reshape"
        errors = _one_step_relative_errors(probe, x[512:])
    assert max(errors) < 1e-3, errors


def test_nonfinite_feature_map_rows_are_skipped_and_counted():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1))
    x = torch.rand(300, 1, 8, 8)
    x[:7, 0, 2, 3] = float("nan")
    with CascadeProbe(model, ["1", "2", "3"], progress=False) as probe:
        probe.fit(x)
        info = probe.fit_info
        assert info["skipped_nonfinite"] == {"1": 7, "2": 7, "3": 7}
        assert all(bool(torch.isfinite(p).all()) for p in probe.decoders.parameters())


def test_decoders_saved_by_an_older_format_are_refused_in_one_line(tmp_path):
    from reprobe.core.errors import ReprobeError

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2))
    with CascadeProbe(model, ["1", "2"], progress=False) as probe:
        probe.fit(torch.rand(64, 1, 8, 8))
        probe.save_decoders(tmp_path / "d.pt")
        state = torch.load(tmp_path / "d.pt", weights_only=False)
        state["format"] = "reprobe.decoders/1"
        torch.save(state, tmp_path / "old.pt")
        with pytest.raises(ReprobeError, match="fit the probe again") as e:
            probe.load_decoders(tmp_path / "old.pt")
        assert "\n" not in str(e.value)
        probe.load_decoders(tmp_path / "d.pt")  # the current format loads


def _conv_stage_errors(kernels, seed=0):
    """Held-out relative error of decoding a random linear 3×3 conv stage (4 channels, 8×8) per decoder kernel."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))
    x = torch.randn(1400, 4, 8, 8)
    errors = {}
    for k in kernels:
        with CascadeProbe(model, ["0"], ridge=1e-6, decoder_kernel=k, decoder_activation="identity",
                          progress=False) as probe:
            probe.fit(x[:1200])
            assert probe.decoders[0].kernel == k
            errors[k] = _one_step_relative_errors(probe, x[1200:])[0]
    return errors


def test_a_wider_decoder_kernel_undoes_more_of_a_conv_stage():
    # the inverse of a convolution is not local: a 3×3 decoder cannot undo a 3×3 conv, a wider one does better
    e = _conv_stage_errors((3, 5, 7))
    assert e[7] < e[5] < e[3], e
    assert e[7] < 0.8 * e[3], e  # measured 0.38, 0.30, 0.27 for k = 3, 5, 7


@pytest.mark.parametrize("bad", [0, 2, 4, -3])
def test_an_even_or_nonpositive_decoder_kernel_is_a_clear_error(bad):
    from reprobe.core.errors import ReprobeError

    with pytest.raises(ReprobeError, match="decoder_kernel must be odd"):
        CascadeProbe(nn.Sequential(nn.Conv2d(1, 2, 3)), ["0"], decoder_kernel=bad)


def test_saved_decoders_keep_their_kernel(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh())
    x = torch.rand(200, 1, 8, 8)
    with CascadeProbe(model, ["1"], decoder_kernel=5, progress=False) as probe:
        probe.fit(x)
        probe.save_decoders(tmp_path / "d.pt")
        want = probe.decoders[0](probe.activations(x[:8])[1]).detach()
    with CascadeProbe(model, ["1"], progress=False) as fresh:  # default kernel 3: the file's 5 wins
        fresh.load_decoders(tmp_path / "d.pt")
        assert fresh.decoders[0].kernel == 5 and fresh.config.decoder_kernel == 5
        assert torch.allclose(fresh.decoders[0](fresh.activations(x[:8])[1]), want)


def test_an_explicit_kernel_that_does_not_fit_is_shrunk_to_the_largest_that_does_and_said():
    """200 channels · 5² = 5000 patch features is over the cap: 3×3 (not 1×1), with a warning naming the stage."""
    import warnings as w

    import torch.nn as nn

    from reprobe import CascadeProbe
    from reprobe.probe.conv_decoders import MAX_KERNEL_FEATURES, fitting_kernel

    assert fitting_kernel(200, 5) == 3 and fitting_kernel(8, 99) == 23 and fitting_kernel(600, 3) == 1
    assert 8 * 23 ** 2 <= MAX_KERNEL_FEATURES < 8 * 25 ** 2
    model = nn.Sequential(nn.Conv2d(3, 200, 3, padding=1), nn.Tanh(), nn.Conv2d(200, 8, 3, padding=1), nn.Tanh())
    x = torch.randn(64, 3, 8, 8)
    with w.catch_warnings(record=True):
        w.simplefilter("always")
        with CascadeProbe(model, example_input=x[:2], decoder_kernel=5, samples=8) as probe:
            result = probe.fit(x).evaluate(x[:8])
    shrunk = [m for m in probe.warnings if "decoder_kernel 5" in m]
    # Stage 1's output has 200 channels (its decoder reads 200·k² features); stage 2's has 8.
    assert len(shrunk) == 1 and "uses 3×3" in shrunk[0] and shrunk[0].startswith("stage 1"), probe.warnings
    assert probe.decoders[0].kernel == 3 and probe.decoders[1].kernel == 5
