"""The contract every registered decoder kind keeps, checked for each one the registry lists: it
maps its example's shapes, it answers for its own size, and a closed-form kind recovers a map of
its own form from its ridge statistics."""

import math

import pytest
import torch

from reprobe.core.errors import ReprobeError
from reprobe.probe import DecoderSpec, build_decoder, decoder_size, get_decoder, list_decoders
from reprobe.probe.ridge import RidgeStatistics

KINDS = list_decoders()


def _example(name):
    spec = get_decoder(name).example
    assert spec is not None, f"decoder {name!r} has no example: register it with example=DecoderSpec(...)"
    return spec


def _inputs(spec, n, seed):
    return torch.randn(n, *spec.in_shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", KINDS)
def test_every_decoder_maps_its_example_and_answers_for_its_size(name):
    spec = _example(name)
    decoder = build_decoder(spec, name)
    assert decoder.decoder_kind == name
    assert tuple(decoder(_inputs(spec, 3, 0)).shape) == (3, *spec.out_shape)
    size = decoder_size(spec, name)
    assert size.kind == name and size.parameters == sum(p.numel() for p in decoder.parameters())
    if getattr(decoder, "supports_closed_form", False):
        assert (size.features, size.targets) == (decoder.n_features, decoder.n_targets)
    else:
        assert size.features is None and size.targets is None


@pytest.mark.parametrize("name", KINDS)
def test_every_closed_form_decoder_recovers_a_map_of_its_own_form(name):
    spec = _example(name)
    truth = build_decoder(spec, name)
    if not getattr(truth, "supports_closed_form", False):
        pytest.skip(f"{name} has no closed form")  # trained by gradient: nothing exact to recover
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in truth.parameters():  # a map unlike the fresh decoder's initialisation
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        z, z_test = _inputs(spec, 256, 2), _inputs(spec, 16, 3)
        fitted, stats = build_decoder(spec, name), RidgeStatistics()
        stats.add(*fitted.design(z, truth(z)))
        fitted.fit_closed_form(stats.gram, stats.cross, 0.0)
        error = (fitted(z_test) - truth(z_test)).abs().max().item()
    assert error < 1e-3, f"{name}: max error {error:.2e} recovering its own map"


def test_the_built_in_kinds_are_closed_form():
    """So that the recovery contract above runs (no skip) for every decoder reprobe ships."""
    built_in = ["reshape", "subpixel-conv", "map-to-vector", "vector-to-map", "linear", "flatten-linear"]
    assert set(built_in) <= set(KINDS)
    assert all(build_decoder(_example(n), n).supports_closed_form for n in built_in)


def test_decoder_size_allocates_nothing_and_draws_no_random_numbers():
    spec = DecoderSpec((100_000,), (100_000,))  # a 10¹⁰-weight Linear: 40 GB if it were allocated
    state = torch.get_rng_state()
    size = decoder_size(spec)
    assert size.kind == "linear" and size.parameters == 100_000 * 100_001
    assert torch.equal(state, torch.get_rng_state())


def test_decoder_size_is_the_kernel_the_decoder_uses():
    """An explicit decoder_kernel is what the size reports, down to the largest kernel that fits."""
    assert decoder_size(DecoderSpec((8, 8, 8), (8, 8, 8), kernel=5)).features == 8 * 5 * 5
    assert decoder_size(DecoderSpec((200, 8, 8), (200, 8, 8), kernel=5)).features == 200 * 3 * 3  # 200·5² > 4608
    assert decoder_size(DecoderSpec((200, 8, 8), (200, 8, 8), kernel=5)).features == \
        build_decoder(DecoderSpec((200, 8, 8), (200, 8, 8), kernel=5)).n_features


def test_a_kind_is_chosen_automatically_only_where_it_prefers():
    small = DecoderSpec((3, 6, 6), (5,))
    assert build_decoder(small).decoder_kind == "flatten-linear"  # one Linear is small enough
    assert build_decoder(small, "map-to-vector").decoder_kind == "map-to-vector"  # forced: built anyway
    big = DecoderSpec((64, 512, 512), (8,))
    assert decoder_size(big).kind == "map-to-vector"
    assert math.prod(big.in_shape) * 8 > 64_000_000


def test_unknown_or_unfit_kinds_are_one_line_errors():
    with pytest.raises(ReprobeError, match=r"unknown decoder 'subpixel'.*did you mean 'subpixel-conv'.*Valid decoders:"):
        get_decoder("subpixel")
    with pytest.raises(ReprobeError, match=r"decoder 'reshape' cannot map \(5,\) to \(4,\)"):
        build_decoder(DecoderSpec((5,), (4,)), "reshape")
