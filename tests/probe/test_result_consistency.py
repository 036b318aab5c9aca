"""Read-side checks (issue 24.4): a saved result that contradicts itself is refused with one line naming
the file and the field, and a stored verdict is re-derived from the stored numbers before it is shown."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError
from reprobe.probe import ProbeResult

#: the curves `reprobe run --depth 6 --width 32` measured (a net that trains)
DEPTH6 = {"relative_entropy": [0.634, 0.7353, 0.8049, 0.8446, 0.8492, 0.9186],
          "differential_entropy": [-10.0057, -10.1852, -10.3232, -10.449, -10.4595, -10.7178],
          "mse": [0.0338, 0.0426, 0.0485, 0.0524, 0.0527, 0.0585]}
SHAPES = [[32], [32], [32], [32], [400], [10]]


def _saved(tmp_path, **changes):
    """A run folder written by ProbeResult.save, then ``changes`` written into its result.json."""
    stages = [{"index": i + 1, "name": str(2 * i + 2), "type": "Tanh", "shape": s} for i, s in enumerate(SHAPES)]
    # the depth-6 run's own input (MNIST): its 32-wide first stage is a bottleneck, not an unread stage
    result = ProbeResult(stages=stages, input_shape=(1, 28, 28), metrics={k: list(v) for k, v in DEPTH6.items()},
                         cutoffs={m: 6 for m in DEPTH6}, decoder_mse=list(DEPTH6["mse"]),
                         saturation={"relative_entropy": 0.9982, "differential_entropy": None, "mse": 0.067},
                         reconstructions=torch.zeros(7, 2, 1, 28, 28), samples=100)
    from reprobe.analysis import predict_trainability

    result.prediction = predict_trainability(result).to_dict()
    folder = tmp_path / "run"
    result.save(folder, plots=False)
    path = folder / "result.json"
    obj = json.loads(path.read_text())
    for key, value in changes.items():
        target = obj
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    path.write_text(json.dumps(obj))  # json writes NaN as the bare NaN literal, as a hand edit would
    return folder


@pytest.mark.parametrize("change,field", [
    ({"metrics.relative_entropy": [0.634, float("nan"), 0.8, 0.84, 0.85, 0.92]}, "metrics.relative_entropy[1]"),
    ({"metrics.mse": [0.03, 0.04]}, "metrics.mse"),
    ({"cutoffs.mse": 9}, "cutoffs.mse"),
    ({"depth": 7}, "depth"),
    ({"decoder_mse": [0.1] * 5}, "decoder_mse"),
    ({"saturation.mse": float("inf")}, "saturation.mse"),
    ({"prediction": {"xi": 3}}, "prediction"),
])
def test_a_result_that_contradicts_itself_is_refused_naming_the_file_and_field(tmp_path, change, field):
    folder = _saved(tmp_path, **change)
    with pytest.raises(ReprobeError) as err:
        ProbeResult.load(folder)
    msg = str(err.value)
    assert str(folder / "result.json") in msg and f"field {field} " in msg and "\n" not in msg
    res = CliRunner().invoke(cli, ["report", str(folder)])
    assert res.exit_code == 2 and res.output.count("\n") == 1 and field in res.output, res.output
    assert not (folder / "report.html").exists()


def test_reconstructions_of_another_shape_are_refused(tmp_path):
    folder = _saved(tmp_path)
    np.save(folder / "reconstructions.npy", np.zeros((3, 2, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ReprobeError, match="reconstructions.npy: shape"):
        ProbeResult.load(folder)


def test_a_stored_verdict_is_rechecked_against_the_stored_numbers(tmp_path):
    folder = _saved(tmp_path, **{"prediction.verdict": "untrainable"})
    res = CliRunner().invoke(cli, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    page = (folder / "report.html").read_text()
    assert 'data-verdict="trainable"' in page and 'data-verdict="untrainable"' not in page
    assert "does not follow from the stored numbers" in page


def test_a_verdict_the_numbers_no_longer_support_is_not_shown(tmp_path):
    # stage 1 no longer reconstructed (its MSE above the inputs' variance): the stored "trainable" must go
    mse = [0.09] + DEPTH6["mse"][1:]
    folder = _saved(tmp_path, **{"metrics.mse": mse, "decoder_mse": mse})
    CliRunner().invoke(cli, ["report", str(folder)])
    page = (folder / "report.html").read_text()
    assert 'data-verdict="undecidable"' in page and "is not reconstructed" in page
