"""Token decoders: one map shared by positions, fitted in closed form from one pass."""

import torch
import torch.nn as nn

from reprobe.probe import CascadeProbe, DecoderSpec, build_decoder
from reprobe.probe.ridge import RidgeStatistics
from reprobe.probe.token_decoders import TokenDecoder, prefix_mean


def _known_map(n=96, t=16, d=24, k=20, seed=0):
    """Sequences z and targets made by a map of the token decoder's own form."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, t, d, generator=g)
    weight = torch.randn(k, 2 * d, generator=g) / d ** 0.5
    bias = torch.randn(t, k, generator=g)
    y = torch.cat([z, prefix_mean(z)], -1) @ weight.T + bias
    return z, y, weight, bias


def _fit(decoder, z, y, positions=None, ridge=0.0):
    stats = RidgeStatistics()
    for i in range(0, len(z), 32):
        stats.add(*decoder.design(z[i:i + 32], y[i:i + 32], positions, torch.Generator().manual_seed(i)))
    decoder.fit_closed_form(stats.gram, stats.cross, ridge)
    return decoder


def test_token_decoder_recovers_a_map_of_its_own_form():
    z, y, weight, bias = _known_map()
    spec = DecoderSpec(in_shape=tuple(z.shape[1:]), out_shape=tuple(y.shape[1:]))
    decoder = build_decoder(spec)
    assert isinstance(decoder, TokenDecoder) and decoder.decoder_kind == "token"
    _fit(decoder, z, y)
    assert torch.allclose(decoder.linear.weight, weight, atol=1e-3)
    assert torch.allclose(decoder.position_bias + decoder.linear.bias, bias, atol=1e-3)
    with torch.no_grad():
        assert float((decoder(z) - y).abs().max()) < 1e-3


def test_sampled_positions_still_recover_the_map():
    z, y, weight, _ = _known_map(n=256)
    decoder = _fit(TokenDecoder(DecoderSpec(tuple(z.shape[1:]), tuple(y.shape[1:]))), z, y, positions=8)
    assert torch.allclose(decoder.linear.weight, weight, atol=1e-3)


def test_position_biases_are_not_shrunk_by_the_ridge():
    """A per-position offset (a position embedding) comes back whole even under a strong ridge."""
    z, _, _, _ = _known_map()
    z = z - z.mean(0)  # tokens average to zero at every position: the offsets are the whole per-position mean
    offsets = 5 * torch.randn(z.shape[1], z.shape[2])
    decoder = _fit(TokenDecoder(DecoderSpec(tuple(z.shape[1:]), tuple(z.shape[1:]))), z, z + offsets, ridge=1.0)
    assert torch.allclose(decoder.position_bias, offsets, atol=1e-3)


def test_small_sequences_keep_the_flattened_decoder():
    spec = DecoderSpec(in_shape=(4, 8), out_shape=(4, 8))
    assert build_decoder(spec).decoder_kind == "flatten-linear"


class _Mixer(nn.Module):
    """A residual token-mixing block: x + tanh(x W) + causal prefix mean of x."""

    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        return x + 0.1 * torch.tanh(self.proj(x)) + prefix_mean(x)


def test_the_probe_decodes_token_stages_with_token_decoders():
    torch.manual_seed(0)
    model = nn.Sequential(_Mixer(32), _Mixer(32))
    x = torch.randn(256, 16, 32)
    with CascadeProbe(model, stages=["0", "1"], progress=False, samples=32, device="cpu") as probe:
        result = probe.fit(x[:224]).evaluate(x[224:])
        recon = probe.reconstruct(x[224:])
    assert [s["decoder"] for s in result.stage_dicts()] == ["token", "token"]
    r2 = 1 - float(((recon[1] - x[224:]) ** 2).sum() / ((x[224:] - x[224:].mean(0)) ** 2).sum())
    assert r2 > 0.95


def test_patch_decoder_inverts_a_patch_embedding():
    """Tokens made by a linear patch embedding (plus a class token) decode back to the image."""
    from einops import rearrange

    torch.manual_seed(0)
    images = torch.randn(64, 3, 16, 16)
    embed = torch.randn(3 * 4 * 4, 64)  # 48 pixels per patch → 64 features: invertible
    patches = rearrange(images, "b c (h p) (w q) -> b (h w) (c p q)", p=4, q=4) @ embed
    tokens = torch.cat([torch.randn(64, 1, 64), patches], 1)  # (N, 1 + 16, 64)
    decoder = build_decoder(DecoderSpec(in_shape=(17, 64), out_shape=(3, 16, 16)))
    assert decoder.decoder_kind == "patch" and (decoder.prefix, decoder.side) == (1, 4)
    stats = RidgeStatistics()
    stats.add(*decoder.design(tokens, images))
    decoder.fit_closed_form(stats.gram, stats.cross, 0.0)
    with torch.no_grad():
        assert float((decoder(tokens) - images).abs().max()) < 1e-3
