"""Automatic stages are cut points of the main path: no layer with a branch around it is a stage."""

import torch
import torch.nn as nn

from reprobe.adapters import find_stages
from reprobe.adapters.cut_points import on_main_path, trace_main_path


class SqueezeExcite(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class TwoBranch(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.branch1, self.branch2 = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x)], 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.act1 = nn.Conv2d(3, 4, 3, padding=1), nn.Tanh()
        self.se = SqueezeExcite(4)
        self.split = TwoBranch(4)
        self.conv2, self.act2 = nn.Conv2d(8, 4, 3, padding=1), nn.Tanh()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4, 10)

    def forward(self, x):
        x = self.act2(self.conv2(self.split(self.se(self.act1(self.conv1(x))))))
        return self.classifier(self.pool(x).flatten(1))


def test_squeeze_excitation_and_branches_are_whole_blocks_and_the_head_is_no_stage():
    adapter, names = find_stages(Net())
    assert adapter == "generic"
    assert names == ["act1", "se", "split", "act2"]


def test_without_the_dataflow_the_layers_would_be_chained():
    # the same candidates, not moved onto the main path: the branches become consecutive stages
    candidates = ["act1", "se.act", "se.fc2", "split.branch1", "split.branch2", "act2", "classifier"]
    assert on_main_path(Net(), candidates) == ["act1", "se", "split", "act2"]


def test_cut_points_of_a_residual_block():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(4, 4)
            self.after = nn.Linear(4, 4)

        def forward(self, x):
            return self.after(x + self.inner(x))

    path = trace_main_path(Residual())
    assert not path.is_cut("inner") and path.is_cut("after")


def test_a_model_that_does_not_trace_keeps_its_candidates():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) if x.sum() > 0 else x  # data-dependent: fx cannot trace it

    assert on_main_path(Branchy(), ["a"]) is None
