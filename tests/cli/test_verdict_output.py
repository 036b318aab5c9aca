"""What the command line says about the verdict: the cause of a capped verdict even with ``-q``, ℓ*
sentences that agree with it, and files that contradict themselves refused in one line (exit 2)."""

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from reprobe.cli.main import cli
from reprobe.cli.run import cutoff_summary, print_result_table
from reprobe.probe import ProbeResult

SHAPES = [[64]] * 40


def _result(metrics, **kw):
    stages = [{"index": i + 1, "name": str(i), "type": "Tanh", "shape": s} for i, s in enumerate(SHAPES)]
    return ProbeResult(stages=stages, input_shape=(1, 4, 4), metrics=metrics,
                       cutoffs={m: 40 for m in metrics}, **kw)


def _decay(xi, d_inf=1.0, amp=1.0):
    import numpy as np

    return list(d_inf - amp * np.exp(-np.arange(1, 41) / xi))


def test_quiet_names_why_the_verdict_is_marginal():
    # relative entropy alone says trainable at depth 40; the mse decays far faster
    r = _result({"relative_entropy": _decay(300.0, amp=0.5), "mse": _decay(2.0, d_inf=0.07, amp=0.06)},
                saturation={"relative_entropy": 1.0, "mse": 0.07})
    line = cutoff_summary(r)
    assert "verdict: marginal" in line and "metrics disagree: relative entropy says trainable, mse says" in line


def test_quiet_names_why_the_verdict_is_undecidable():
    r = _result({"relative_entropy": _decay(10.0, d_inf=0.5, amp=-0.3)}, saturation={"relative_entropy": 1.0})
    line = cutoff_summary(r)
    assert "verdict: undecidable" in line and ": relative entropy does not decay" in line


def test_the_cutoff_line_does_not_say_information_reaches_a_collapsed_last_stage():
    import numpy as np

    s = list(-3.0 - 5.0 * (1 - np.exp(-np.arange(1, 41) / 20.0)))
    r = _result({"relative_entropy": _decay(300.0, amp=0.5), "differential_entropy": s},
                saturation={"relative_entropy": 1.0, "differential_entropy": None})
    lines = []
    print_result_table(r, echo=lines.append)
    text = "\n".join(lines)
    assert "reconstructions collapse" in text and "information reaches the last stage" not in text


def test_validate_refuses_a_grid_record_that_contradicts_itself(tmp_path):
    grid = Path(__file__).resolve().parents[2] / "benchmarks" / "grids" / "v2" / "mlp-w64"
    for name in ("points.jsonl", "trained.jsonl"):
        shutil.copy(grid / name, tmp_path / name)
    lines = (tmp_path / "points.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["metrics"]["mse"] = rec["metrics"]["mse"][:3]
    (tmp_path / "points.jsonl").write_text("\n".join([json.dumps(rec)] + lines[1:]) + "\n")
    res = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "points.jsonl (record 1): field metrics.mse has 3 values" in res.output


def test_reconstruct_refuses_a_result_with_non_finite_values(tmp_path):
    r = _result({"relative_entropy": _decay(10.0)}, saturation={"relative_entropy": 1.0})
    r.save(tmp_path / "run", plots=False)
    obj = json.loads((tmp_path / "run" / "result.json").read_text())
    obj["metrics"]["relative_entropy"][5] = float("nan")
    (tmp_path / "run" / "result.json").write_text(json.dumps(obj))
    res = CliRunner().invoke(cli, ["reconstruct", str(tmp_path / "run"), "--class", "1", "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "field metrics.relative_entropy[5] is nan" in res.output


def _run_cli(tmp_path, *args):
    return CliRunner().invoke(cli, ["run", "--depth", "6", "--width", "32", "--data", "digits", "--samples", "32",
                                    "--no-report", "-q", "--out", str(tmp_path / "run"), *args])


def test_decoders_fitted_on_two_inputs_are_undecidable_and_say_why(tmp_path):
    res = _run_cli(tmp_path, "--test-fraction", "0.999")
    assert res.exit_code == 0, res.output
    assert "verdict: undecidable" in res.output and ": decoders underdetermined: stage" in res.output
    fit = json.loads((tmp_path / "run" / "result.json").read_text())["fit"]
    assert fit["least_determined"]["rows"] == 2 and fit["least_determined"]["features"] >= 32

