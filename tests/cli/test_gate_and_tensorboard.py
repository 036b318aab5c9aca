"""`reprobe run --fail-on LEVEL`: a CI gate with its own exit codes; `--tensorboard DIR` logs the run."""

import sys

import pytest
from click.testing import CliRunner

from reprobe.cli.exit_codes import GATE_FAILED_EXIT, UNDECIDABLE_EXIT
from reprobe.cli.main import cli

#: Small nets on the 8×8 digits: a few seconds each.
FAST = ["--data", "digits", "--samples", "32", "--train-samples", "200", "-q", "--no-report"]


def run(tmp_path, *args):
    return CliRunner().invoke(cli, ["run", *args, *FAST, "--out", str(tmp_path / "run")])


def test_an_untrainable_net_fails_the_gate_with_its_own_code(tmp_path):
    res = run(tmp_path, "--depth", "100", "--sigma-w2", "1.0", "--width", "16", "--fail-on", "untrainable")
    assert res.exit_code == GATE_FAILED_EXIT == 3, res.output
    assert "verdict: untrainable" in res.output
    assert "gate: verdict untrainable is at or below --fail-on untrainable (exit 3)" in res.output
    assert (tmp_path / "run" / "result.json").is_file()  # the run is written before the gate speaks


def test_a_trainable_net_passes_the_strictest_gate(tmp_path):
    res = run(tmp_path, "--depth", "8", "--sigma-w2", "1.76", "--width", "32", "--fail-on", "marginal")
    assert res.exit_code == 0, res.output
    assert "verdict: trainable" in res.output and "gate:" not in res.output


def test_an_undecidable_verdict_has_its_own_code_and_none_never_fails(tmp_path):
    res = run(tmp_path, "--depth", "4", "--sigma-w2", "1.76", "--width", "16", "--fail-on", "untrainable")
    assert res.exit_code == UNDECIDABLE_EXIT == 4, res.output
    assert "verdict: undecidable" in res.output and "cannot pass" in res.output
    again = CliRunner().invoke(cli, ["run", "--depth", "4", "--sigma-w2", "1.76", "--width", "16", *FAST,
                                     "--fail-on", "none", "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output


def test_a_bad_level_is_a_usage_error(tmp_path):
    res = run(tmp_path, "--fail-on", "trainable")
    assert res.exit_code == 2 and res.output.startswith("Error:") and "--fail-on" in res.output
    assert res.output.count("\n") == 1


def test_run_logs_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = tmp_path / "tb"
    res = run(tmp_path, "--depth", "8", "--sigma-w2", "1.76", "--width", "32", "--tensorboard", str(tb))
    assert res.exit_code == 0, res.output
    assert f"logged to TensorBoard: {tb}" in res.output
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    curve = acc.Scalars("reprobe/relative_entropy")
    assert [e.step for e in curve] == list(range(1, 9))  # the stage is the step
    assert acc.Scalars("reprobe/score")[0].value >= 1  # trainable
    assert acc.Images("reprobe/reconstructions")[0].width > 0
    verdict = acc.Tensors("reprobe/verdict/text_summary")[0].tensor_proto.string_val[0].decode()
    assert verdict.startswith("trainable at depth 8")


def test_missing_tensorboard_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails
    res = run(tmp_path, "--depth", "8", "--tensorboard", str(tmp_path / "tb"))
    assert res.exit_code == 2, res.output
    assert res.output.strip() == 'Error: TensorBoard logging needs the tensorboard package: pip install "reprobe[tensorboard]"'
    assert not (tmp_path / "run").exists()  # checked before any work


def test_sweep_logs_every_point_as_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    tb = tmp_path / "tb"
    res = CliRunner().invoke(cli, ["sweep", "--sigma-w2", "1.0,1.76", "--depth", "8", "--width", "16", "--data", "digits",
                                   "--samples", "32", "--train-samples", "200", "--jobs", "1", "-q",
                                   "--out", str(tmp_path / "sweep"), "--tensorboard", str(tb)])
    assert res.exit_code == 0, res.output
    assert f"logged 2 points to TensorBoard: {tb}" in res.output
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tb))
    mux.Reload()
    runs = [r for r in mux.Runs() if "hparam/max_trainable_depth" in mux.GetAccumulator(r).Tags()["scalars"]]
    assert sorted(runs) == ["sigma_w2=1,sigma_b2=0.05,depth=8,width=16,seed=0",
                            "sigma_w2=1.76,sigma_b2=0.05,depth=8,width=16,seed=0"]
    for r in runs:
        assert any(tag.endswith("session_start_info") for tag in mux.GetAccumulator(r).PluginTagToContent("hparams"))
