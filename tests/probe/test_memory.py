"""The memory estimate sizes the decoders the probe will build: it asks the decoder registry, with
the probe's decoder_kernel, instead of re-deriving each stage's decoder."""

import pytest
import torch

from reprobe.models import build_model
from reprobe.probe import CascadeProbe
from reprobe.probe.memory import ESTIMATORS, FLOAT, ModelSize, probe_bytes


def _built_decoder_bytes(channels, kernel):
    """(estimated, actual) decoder bytes of a probe of a small CNN, from its dry-run shapes."""
    net = build_model("cnn", (1, 8, 8), 10, depth=2, channels=channels, seed=0)
    probe = CascadeProbe(net, decoder_kernel=kernel, progress=False)
    try:
        probe.dry_run(torch.rand(4, 1, 8, 8))
        probe._build_decoders()  # the decoders fit() would train, without the fit
        actual = FLOAT * sum(p.numel() for p in probe.decoders.parameters())
        size = ModelSize(0, [s.shape for s in probe.stages], probe.input_shape, ("image_size",),
                         [s.type for s in probe.stages])
        estimated = probe_bytes(size, probe.config.to_dict())["decoders"]
    finally:
        probe.close()
    return estimated, actual


@pytest.mark.parametrize("channels, kernel", [(8, 3), (8, 5), (200, 5)])
@pytest.mark.filterwarnings("ignore:.*the largest that fits")  # 200·5² is over the kernel limit: the probe says so
def test_the_estimate_sizes_the_decoders_the_probe_builds(channels, kernel):
    estimated, actual = _built_decoder_bytes(channels, kernel)
    assert estimated == actual


def test_the_estimate_honours_decoder_kernel_before_the_model_is_built():
    size = ESTIMATORS["cnn"]((3, 16, 16), 10, {"depth": 4, "channels": 16})
    k3, k5 = (probe_bytes(size, {"decoder_kernel": k}) for k in (3, 5))
    assert k5["decoders"] > k3["decoders"] and k5["fit statistics"] > k3["fit statistics"]
    # 200 channels: 200·5² patch features exceed the limit, so the decoders use 3×3, as the estimate does
    wide = ESTIMATORS["cnn"]((3, 16, 16), 10, {"depth": 4, "channels": 200})
    assert probe_bytes(wide, {"decoder_kernel": 5}) == probe_bytes(wide, {"decoder_kernel": 3})
