"""Models from a user module that do not match the data: one line and exit 2, or a run that works."""

import json

from click.testing import CliRunner

from reprobe.cli.main import cli

MODULE = '''
import math
import torch.nn as nn


class Recurrent(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.lstm = nn.LSTM(features, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, 10)

    def forward(self, x):  # an image's rows as a sequence
        h, _ = self.lstm(x.permute(0, 2, 1, 3).flatten(2))
        h, _ = self.gru(h)
        return self.head(h[:, -1])


def recurrent(input_shape, num_classes):
    return Recurrent(input_shape[0] * input_shape[2])


def half(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 8), nn.Linear(8, num_classes)).half()
'''

ARGS = ["--data", "digits", "--samples", "16", "--train-samples", "64", "-q", "--no-report"]


def _run(tmp_path, factory):
    (tmp_path / "user_models.py").write_text(MODULE)
    return CliRunner().invoke(cli, ["run", "--model", f"{tmp_path / 'user_models.py'}:{factory}", *ARGS,
                                    "--out", str(tmp_path / "out")])


def test_a_half_precision_model_is_a_dtype_error(tmp_path):
    res = _run(tmp_path, "half")
    assert res.exit_code == 2, res.output
    (line,) = res.output.strip().splitlines()
    assert "float32 inputs: its weights are float16" in line and "model.float()" in line
    assert "shape the model expects" not in line


def test_a_recurrent_model_from_a_user_module_is_probed(tmp_path):
    res = _run(tmp_path, "recurrent")
    assert res.exit_code == 0, res.output
    stages = json.loads((tmp_path / "out" / "result.json").read_text())["stages"]
    assert [s["name"] for s in stages][:2] == ["lstm", "gru"] and stages[0]["shape"] == [8, 8]
