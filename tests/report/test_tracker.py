"""TensorBoard: result.log_to(writer) and log_sweep, read back with TensorBoard's own reader."""

import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

import reprobe  # noqa: E402
from reprobe.analysis.prediction import predict  # noqa: E402
from reprobe.core.errors import ReprobeError  # noqa: E402
from reprobe.report.tracker import log_sweep, reconstruction_image, summary_writer  # noqa: E402


def _accumulator(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def found():
    torch.manual_seed(0)
    layers = []
    for i in range(6):
        layers += [nn.Linear(16, 16), nn.Tanh()]
    return reprobe.check(nn.Sequential(*layers), torch.rand(300, 16), samples=40)


def test_log_to_writes_curves_by_stage_image_and_text(found, tmp_path):
    writer = summary_writer(tmp_path / "tb")
    found.log_to(writer)
    writer.close()
    acc = _accumulator(tmp_path / "tb")
    for metric, values in found.result.metrics.items():
        events = acc.Scalars(f"reprobe/{metric}")
        assert [e.step for e in events] == list(range(1, 7))
        assert [e.value for e in events] == pytest.approx([float(v) for v in values], rel=1e-6)
    if found.xi is not None:
        assert acc.Scalars("reprobe/xi")[0].value == pytest.approx(found.xi, rel=1e-6)
    assert acc.Scalars("reprobe/depth")[0].value == 6
    image = acc.Images("reprobe/reconstructions")[0]
    assert image.height >= 6 * 32 and image.width >= 7 * 32  # 6 inputs × (input + 6 stages), enlarged
    text = acc.Tensors("reprobe/verdict/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text == str(found)
    config = acc.Tensors("reprobe/config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"ridge": 0.1' in config and '"held_out": 40' in config


def test_the_image_is_the_grid_of_inputs_and_reconstructions():
    recon = np.full((4, 2, 1, 4, 4), 0.5, dtype=np.float32)  # reconstructions grey
    recon[0] = 0.0
    recon[0, :, :, :, :2] = 1.0  # inputs: left half white, right half black
    img = reconstruction_image(recon, min_tile=4, gap=1)
    assert img.shape == (2 * 4 + 1, 4 * 4 + 3, 3)
    assert img[0, 0].tolist() == [1, 1, 1] and img[0, 3].tolist() == [0, 0, 0]  # the input
    assert img[0, 4].tolist() == [1, 1, 1] and img[0, 5].tolist() == [0.5, 0.5, 0.5]  # a gap, a reconstruction
    assert reconstruction_image(recon[:, :, :, :2, :2], min_tile=4).shape[0] == 2 * 4 + 1  # small tiles enlarged


def _point(sw, depth, xi):
    curve = list(1.0 - np.exp(-np.arange(1, depth + 1) / xi))
    pred = predict({"relative_entropy": curve}, depth=depth, depth_per_xi=3.0, floor_xi=None)
    return {"sigma_w2": sw, "sigma_b2": 0.05, "depth": depth, "width": 64, "seed": 0,
            "metrics": {"relative_entropy": curve}, "cutoffs": {"relative_entropy": 9}, "prediction": pred.to_dict()}


def test_a_sweep_becomes_hparams_runs_with_their_curves(tmp_path):
    points = [_point(1.0, 20, 3.0), _point(1.76, 20, 12.0), {"sigma_w2": 2.0, "depth": 20, "accuracy": 0.5}]
    assert log_sweep(points, tmp_path / "tb") == 2  # the trained-only record is skipped
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path / "tb"))
    mux.Reload()
    runs = {}
    for run in mux.Runs():
        acc = mux.GetAccumulator(run)
        for content in acc.PluginTagToContent("hparams").values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                runs[run] = {k: v.number_value for k, v in data.session_start_info.hparams.items()}
                assert [e.step for e in acc.Scalars("reprobe/relative_entropy")] == list(range(1, 21))
                assert acc.Scalars("hparam/cutoff_relative_entropy")[0].value == 9
    assert sorted(r["sigma_w2"] for r in runs.values()) == [1.0, 1.76]
    assert all(r["depth"] == 20 and r["width"] == 64 for r in runs.values())


def test_missing_tensorboard_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ReprobeError, match=r'^TensorBoard logging needs the tensorboard package: pip install "reprobe\[tensorboard\]"$'):
        summary_writer(tmp_path / "tb")
