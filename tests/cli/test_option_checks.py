"""Every option is checked before any work: one line, exit 2, naming the option (and the fix)."""

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli


def _fails_cleanly(args, tmp_path, *words):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert r.exit_code == 2, r.output
    message = [line for line in r.output.splitlines() if line.strip()]
    assert len(message) <= 3 and any(all(w in line for w in words) for line in message), r.output
    assert "Traceback" not in r.output
    assert not out.exists()  # nothing was claimed, loaded or probed


def test_a_metric_given_twice_is_refused_before_the_probe(tmp_path):
    _fails_cleanly(["run", "--data", "digits", "--depth", "2", "--width", "8", "--metric", "mse", "--metric", "mse"],
                   tmp_path, "--metric", "'mse' twice")


@pytest.mark.parametrize("flag", ["--samples", "--batch-size", "--decoder-kernel", "--depth", "--train-samples"])
def test_huge_integers_are_refused(tmp_path, flag):
    _fails_cleanly(["run", "--data", "digits", flag, "99999999999999999999"], tmp_path, flag, "99999999999999999999")


@pytest.mark.parametrize("spec,words", [
    ("mlp:depth=abc", ["depth='abc'", "whole number"]),
    ("mlp:samples=lots", ["samples='lots'", "whole number"]),
    ("mlp:sigma_w2=1e999", ["sigma_w2", "finite number"]),
    ("mlp:width=99999999999999999999", ["width=99999999999999999999", "at most 2147483647"]),
])
def test_compare_refuses_a_wrong_typed_spec_value(tmp_path, spec, words):
    _fails_cleanly(["compare", "--data", "digits", "--model", "mlp:depth=2", "--model", spec], tmp_path,
                   "--model", *words)


def test_sweep_refuses_a_metric_given_twice(tmp_path):
    _fails_cleanly(["sweep", "--data", "digits", "--depth", "2", "--width", "8", "--sigma-w2", "1",
                    "--metric", "relative_entropy", "--metric", "relative_entropy"], tmp_path, "--metric", "twice")


@pytest.mark.parametrize("args", [["sweep", "--depth", "99999999999999999999"], ["sweep", "--width", "1e20"],
                                  ["train-grid", "--seed", "99999999999999999999999"]])
def test_sweeps_refuse_huge_grid_values(tmp_path, args):
    _fails_cleanly([*args, "--data", "digits", "--sigma-w2", "1"], tmp_path, args[1])
