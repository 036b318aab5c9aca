import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli

SMALL = ["--depth", "6", "--width", "64", "--train-samples", "400", "--samples", "40", "-q"]


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_run_writes_files_and_prints_table(tmp_path):
    out = tmp_path / "run"
    res = invoke("run", "--depth", "6", "--width", "64", "--train-samples", "400", "--samples", "40", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "cutoff ℓ*" in res.output and "relative_entropy" in res.output
    obj = json.loads((out / "result.json").read_text())
    assert obj["depth"] == 6 and len(obj["metrics"]["differential_entropy"]) == 6
    assert obj["config"]["samples"] == 40
    assert obj["data"]["name"] == "mnist-5k"
    for f in ["entropy.png", "reconstructions.png"]:
        assert (out / f).stat().st_size > 1000


def test_quiet_run_keeps_the_cutoffs_and_names_every_file(tmp_path):
    out = tmp_path / "run"
    res = invoke("run", *SMALL, "--out", str(out), "--save-decoders")
    assert res.exit_code == 0, res.output
    obj = json.loads((out / "result.json").read_text())
    summary = next(line for line in res.output.splitlines() if line.startswith("ℓ* of L = 6"))
    for m, c in obj["cutoffs"].items():
        assert f"{m.replace('_', ' ')} {c}" in summary
    wrote = next(line for line in res.output.splitlines() if line.startswith("wrote "))
    for f in ["result.json", "entropy.png", "reconstructions.png", "reconstructions.npy", "report.html", "decoders.pt"]:
        assert f in wrote and (out / f).is_file()


def test_run_custom_metric_and_detector_options(tmp_path):
    import reprobe.metrics as rm

    @rm.register_metric("test_cli_l1")
    def l1(original, reconstruction):
        return (original - reconstruction).abs().mean().item()

    out = tmp_path / "r"
    res = invoke("run", *SMALL, "--metric", "test_cli_l1", "--metric", "mse", "--cutoff", "plateau", "--out", str(out))
    assert res.exit_code == 0, res.output
    obj = json.loads((out / "result.json").read_text())
    assert list(obj["metrics"]) == ["test_cli_l1", "mse"] and obj["cutoff_detector"] == "plateau"


@pytest.mark.parametrize("args,needle", [
    (["run", "--model", "resnet9000"], "unknown model 'resnet9000'"),
    (["run", "--data", "mnist5k"], "did you mean 'mnist-5k'"),
    (["run", "--metric", "entropy"], "unknown metric"),
    (["run", "--cutoff", "knee"], "unknown cutoff detector"),
    (["run", "--sigma-w2", "-1"], "--sigma-w2"),
    (["run", "--samples", "1"], "--samples"),
    (["run", "--subset", "3"], "Error: --subset needs at least 4 images"),  # a library message, spelled as the flag
    (["run", "--stage", "layer9"], "no module named 'layer9'"),
    (["run", "--activation", "swish2"], "unknown activation"),
    (["run", "--device", "cuda:7"], "cuda"),
    (["stages", "--model", "nope"], "unknown model"),
])
def test_bad_input_is_one_line_exit_2(args, needle, tmp_path):
    res = invoke(*args, "--out", str(tmp_path / "x")) if args[0] == "run" else invoke(*args)
    if "cuda" in needle and res.exit_code == 0:
        pytest.skip("a CUDA device is present")
    assert res.exit_code == 2, res.output
    assert needle in res.output
    lines = [l for l in res.output.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    assert "Traceback" not in res.output


def test_missing_torchvision_data_offline(tmp_path):
    res = invoke("run", "--data", "fashion-mnist", "--data-root", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "mnist-5k" in res.output and str(tmp_path) in res.output


def test_stages_json():
    res = invoke("stages", "--model", "mlp", "--depth", "4", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["shape"] for r in rows] == [[784], [784], [400], [10]]
    assert all({"name", "type", "shape"} <= set(r) for r in rows)


@pytest.mark.parametrize("what,needle", [("models", "mlp"), ("datasets", "mnist-5k"), ("metrics", "relative_entropy"),
                                         ("cutoffs", "plateau"), ("adapters", "generic"), ("decoders", "linear")])
def test_list(what, needle):
    res = invoke("list", what)
    assert res.exit_code == 0 and needle in res.output


def test_console_script_entry_point(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "reprobe.cli", "run", "--model", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("Error: unknown model 'nope'") and "Traceback" not in bad.stderr


def test_run_scores_predictors_into_result_json(tmp_path):
    from reprobe.theory import trainable_depth

    out = tmp_path / "p"
    res = invoke("run", *SMALL, "--sigma-w2", "1.0", "--predictor", "mean_field", "--predictor", "params",
                 "--predictor", "reconstruction", "--out", str(out))
    assert res.exit_code == 0, res.output
    obj = json.loads((out / "result.json").read_text())
    p = obj["predictors"]
    assert list(p) == ["mean_field", "params", "reconstruction"]
    assert p["mean_field"]["score"] == pytest.approx(trainable_depth("tanh", 1.0, 0.05), rel=1e-6)
    assert p["params"]["score"] == obj["model"]["parameters"] and p["params"]["direction"] == "higher"
    from reprobe.analysis.prediction import Prediction, trainability_score

    assert p["reconstruction"]["score"] == pytest.approx(trainability_score(Prediction(**obj["prediction"])))
    assert p["reconstruction"]["reason"].startswith(obj["prediction"]["verdict"] + " at depth 6")
    assert "predictors (higher score" in res.output and "mean_field" in res.output
    listing = invoke("list", "predictors")
    assert listing.exit_code == 0 and "partial_jacobian" in listing.output and "``" not in listing.output


def test_unknown_predictor_is_one_line_before_any_work(tmp_path):
    res = invoke("run", *SMALL, "--predictor", "synflo", "--out", str(tmp_path / "x"))
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "synflow" in res.output and not (tmp_path / "x").exists()
