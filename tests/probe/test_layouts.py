"""Channel-last stage outputs are detected from the dataflow and decoded channel-first."""

import torch
import torch.nn as nn

from reprobe import CascadeProbe
from reprobe.probe.layouts import CHANNEL_FIRST, CHANNEL_LAST, stage_layout


class PatchBlock(nn.Module):
    """A patch embedding and a per-position Linear; hands on (N, H, W, C) like Swin, or (N, C, H, W)."""

    def __init__(self, channel_last: bool, c_in=3, c=12, patch=2):
        super().__init__()
        self.embed = nn.Conv2d(c_in, c, patch, stride=patch)
        self.mlp = nn.Linear(c, c)
        self.channel_last = channel_last

    def forward(self, x):
        h = torch.tanh(self.mlp(self.embed(x).permute(0, 2, 3, 1)))
        return h if self.channel_last else h.permute(0, 3, 1, 2)


class Net(nn.Module):
    def __init__(self, channel_last: bool):
        super().__init__()
        torch.manual_seed(0)
        self.block1 = PatchBlock(channel_last)

    def forward(self, x):
        return self.block1(x)


def test_the_axis_of_the_last_layer_feature_count_is_the_channel_axis():
    assert stage_layout((8, 8, 12), 12, None) == CHANNEL_LAST
    assert stage_layout((12, 8, 8), 12, None) == CHANNEL_FIRST
    assert stage_layout((8, 8, 8), 8, CHANNEL_LAST) == CHANNEL_LAST  # ambiguous: the model's metadata
    assert stage_layout((8, 8, 8), 8, None) == CHANNEL_FIRST
    assert stage_layout((16, 12), 12, None) is None


def _stage1(model, x):
    with CascadeProbe(model, stages=["block1"], samples=64, ridge=1e-4, progress=False) as probe:
        result = probe.fit(x[:192]).evaluate(x[192:])
    return probe.stages[0], 1 - result.metrics["mse"][0] / result.saturation["mse"]


def test_a_channel_last_stage_is_decoded_as_well_as_the_same_stage_channel_first():
    torch.manual_seed(0)
    x = torch.rand(256, 3, 8, 8)
    last, r2_last = _stage1(Net(channel_last=True), x)
    first, r2_first = _stage1(Net(channel_last=False), x)
    assert (last.layout, first.layout) == (CHANNEL_LAST, CHANNEL_FIRST)
    assert last.shape == first.shape == (12, 4, 4) and last.channels == 12
    assert abs(r2_last - r2_first) < 1e-3
    assert r2_first > 0.9  # 12 channels hold the 3·2·2 values of each patch
