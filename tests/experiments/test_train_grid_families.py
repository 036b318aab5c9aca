"""Ground truth beyond MLPs: train-grid trains the cnn and resnet families and a user's factory."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli

FACTORY = textwrap.dedent('''
    import json, math, os, torch, torch.nn as nn

    def make(input_shape, num_classes, depth=4, width=32, sigma_w2=1.76, sigma_b2=0.05, seed=0):
        with open(os.environ["REPROBE_TEST_CALLS"], "a") as f:
            f.write(json.dumps({"depth": depth, "width": width, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2}) + "\\n")
        torch.manual_seed(seed)
        layers, d = [nn.Flatten()], math.prod(input_shape)
        for _ in range(depth):
            lin = nn.Linear(d, width)
            nn.init.normal_(lin.weight, std=math.sqrt(sigma_w2 / d))
            layers += [lin, nn.Tanh()]
            d = width
        return nn.Sequential(*layers, nn.Linear(d, num_classes))
''')


def _train_grid(out, model, *extra):
    return CliRunner().invoke(cli, ["train-grid", "--model", model, "--data", "digits", "--width", "4", "--depth", "1,3",
                                    "--sigma-w2", "1.0,2.0", "--steps", "3", "-j", "1", "-q", "--out", str(out), *extra])


def _records(out):
    return [json.loads(line) for line in (out / "trained.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["cnn", "resnet"])
def test_train_grid_trains_conv_families(tmp_path, model):
    r = _train_grid(tmp_path, model)
    assert r.exit_code == 0, r.output
    recs = _records(tmp_path)
    assert sorted((t["sigma_w2"], t["depth"]) for t in recs) == [(1.0, 1), (1.0, 3), (2.0, 1), (2.0, 3)]
    assert all(t["model"] == model and t["width"] == 4 and 0.0 <= t["accuracy"] <= 1.0 for t in recs)
    assert all(t["training"]["steps"] == 3 for t in recs)


def test_train_grid_builds_a_users_factory_with_each_points_options(tmp_path, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("REPROBE_TEST_CALLS", str(calls))
    (tmp_path / "mynet.py").write_text(FACTORY)
    r = _train_grid(tmp_path / "out", f"{tmp_path / 'mynet.py'}:make")
    assert r.exit_code == 0, r.output
    assert len(_records(tmp_path / "out")) == 4
    built = {(c["sigma_w2"], c["depth"], c["width"], c["sigma_b2"]) for c in map(json.loads, calls.read_text().splitlines())}
    assert {(1.0, 1, 4, 0.05), (1.0, 3, 4, 0.05), (2.0, 1, 4, 0.05), (2.0, 3, 4, 0.05)} <= built
