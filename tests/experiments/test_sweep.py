"""Sweeps: grid parsing, the resumable JSONL store, the CLI outputs, ground-truth agreement."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError
from reprobe.analysis.validation import spearman
from reprobe.experiments.grid import expand_grid, parse_values, point_key
from reprobe.experiments.store import PointStore, open_store
from reprobe.experiments.sweep import agreement

TINY = ["--model", "mlp", "--depth", "6", "--width", "32", "--sigma-b2", "0.05", "--data", "mnist-5k",
        "--train-samples", "256", "--samples", "40", "--jobs", "1", "--quiet"]


# --- grid parsing -----------------------------------------------------------------------------

def test_parse_ranges_and_lists():
    v = parse_values("1.0:4.0:0.1", "sigma_w2")
    assert len(v) == 31 and v[0] == 1.0 and v[-1] == pytest.approx(4.0) and v[7] == 1.7
    assert parse_values("1.0,1.5, 2", "sigma_w2") == [1.0, 1.5, 2.0]
    assert parse_values("0.05", "sigma_b2") == [0.05]
    assert parse_values("10:40:10", "depth", integer=True) == [10, 20, 30, 40]
    assert parse_values("0:1:0.3") == [0.0, 0.3, 0.6, 0.9]  # stop not on the grid: not included
    assert parse_values("1,1,2") == [1.0, 2.0]  # duplicates dropped


@pytest.mark.parametrize("bad", ["abc", "1:2", "1:2:0", "2:1:0.1", "1:2:-1", "", "1,,x", "nan", "1:inf:1"])
def test_parse_bad_strings(bad):
    with pytest.raises(ReprobeError):
        parse_values(bad, "sigma_w2")


def test_parse_integer_axis_rejects_fractions():
    with pytest.raises(ReprobeError, match="whole numbers"):
        parse_values("10.5,20", "depth", integer=True)


def test_expand_grid_and_keys():
    pts = expand_grid([1.0, 1.1], [0.05], [10, 20], [None])
    assert len(pts) == 4
    assert len({point_key(p) for p in pts}) == 4
    assert point_key({"sigma_w2": 1.1000000001, "sigma_b2": 0.05, "depth": 10, "width": None, "seed": 0}) == \
        point_key({"sigma_w2": 1.1, "sigma_b2": 0.05, "depth": 10, "width": None, "seed": 0})


# --- JSONL store --------------------------------------------------------------------------------

def _rec(sw, depth=10, **kw):
    return {"sigma_w2": sw, "sigma_b2": 0.05, "depth": depth, "width": 32, "seed": 0, **kw}


def test_store_half_written_line_is_ignored_and_cut(tmp_path):
    path = tmp_path / "points.jsonl"
    s = PointStore(path).load()
    assert s.append(_rec(1.0)) and s.append(_rec(1.5))
    assert not s.append(_rec(1.5))  # duplicate refused
    with open(path, "a") as f:
        f.write(json.dumps(_rec(2.0))[:25])  # a crash mid-write
    with pytest.warns(UserWarning, match="half-written last line"):
        s2 = open_store(path, resume=True)
    assert [r["sigma_w2"] for r in s2.records] == [1.0, 1.5]
    assert path.read_text().endswith("\n")  # the torn tail was cut off
    s2.append(_rec(2.0))
    s3 = PointStore(path).load()
    assert [r["sigma_w2"] for r in s3.records] == [1.0, 1.5, 2.0] and not s3.warnings


def test_store_complete_json_without_newline_counts_as_torn(tmp_path):
    path = tmp_path / "points.jsonl"
    path.write_text(json.dumps(_rec(1.0)) + "\n" + json.dumps(_rec(1.5)))
    with pytest.warns(UserWarning):
        s = PointStore(path).load()
    assert [r["sigma_w2"] for r in s.records] == [1.0]


def test_existing_points_need_resume(tmp_path):
    path = tmp_path / "points.jsonl"
    PointStore(path).load().append(_rec(1.0))
    with pytest.raises(ReprobeError, match="pass resume=True"):
        open_store(path, resume=False)
    (tmp_path / "empty.jsonl").write_text("")
    open_store(tmp_path / "empty.jsonl", resume=False)  # an empty file is fine


# --- agreement ------------------------------------------------------------------------------

def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    a, b = [1, 2, 2, 5, 7, 3], [2, 1, 4, 6, 9, 3]
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_agreement_counts_cells():
    probes = [_rec(sw, depth=40, cutoffs={"relative_entropy": c}) for sw, c in [(1.0, 12), (1.5, 30), (2.0, 40)]]
    trained = []
    for sw, deepest in [(1.0, 10), (1.5, 20), (2.0, 40)]:
        for d in (10, 20, 40):
            trained.append(_rec(sw, depth=d, accuracy=0.9 if d <= deepest else 0.1))
    theory = {"six_xi_c": {"0.05": {"1": 21.8, "1.5": 94.7, "2": 151.0}}}
    a = agreement(probes, trained, theory, acc_threshold=0.2)
    assert a["cells"] == 9
    # probe: ℓ* = 12 / 30 / 40 → predicts trainable for d ≤ 12 / 30 / 40; wrong only at (1.5, 20→ok) …
    wrong = [c for c in a["table"] if c["probe_predicts"] != c["trainable"]]
    assert [(c["sigma_w2"], c["depth"]) for c in wrong] == []
    assert a["probe"]["fraction"] == 1.0 and a["probe"]["spearman"] == pytest.approx(1.0)
    # mean field: 6ξ_c = 21.8 at σ_w² = 1 predicts d = 20 trainable (wrong); 94.7 at 1.5 predicts 40 (wrong)
    assert a["theory"]["agree"] == 7 and a["theory"]["cells"] == 9
    assert a["theory"]["fraction"] == pytest.approx(7 / 9)


def test_agreement_lines_use_the_deepest_probe():
    # A depth sweep: shallow nets' ℓ* is capped by their own depth (10), so the per-σ_w² ℓ* that is
    # compared with the deepest trainable depth must come from the deepest probed net.
    probes = []
    for sw, deep_cut in [(1.0, 14), (1.5, 30), (2.0, 40)]:
        probes.append(_rec(sw, depth=10, cutoffs={"relative_entropy": 10}))
        probes.append(_rec(sw, depth=40, cutoffs={"relative_entropy": deep_cut}))
    trained = []
    for sw, deepest in [(1.0, 10), (1.5, 30), (2.0, 40)]:
        for d in (10, 20, 30, 40):
            trained.append(_rec(sw, depth=d, accuracy=0.9 if d <= deepest else 0.1))
    a = agreement(probes, trained, {}, acc_threshold=0.2)
    line = a["lines"][0]
    assert line["l_star"] == [14, 30, 40]
    assert line["spearman_probe"] == pytest.approx(1.0)
    assert a["probe"]["spearman"] == pytest.approx(1.0)


# --- the CLI --------------------------------------------------------------------------------

def test_sweep_cli_outputs_resume_and_ground_truth(tmp_path):
    out = tmp_path / "sw"
    runner = CliRunner()
    args = ["sweep", *TINY, "--sigma-w2", "1.0,1.8,3.0", "--out", str(out), "--verify", "--train-steps", "3",
            "--train-lr", "0.05", "--train-batch-size", "32"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    lines = (out / "points.jsonl").read_text().splitlines()
    assert len(lines) == 3
    recs = [json.loads(x) for x in lines]
    for rec in recs:
        for k in ("sigma_w2", "sigma_b2", "depth", "width", "metrics", "cutoffs", "cutoffs_by_detector", "timings",
                  "accuracy"):
            assert k in rec, k
        assert len(rec["metrics"]["differential_entropy"]) == 6
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["schema"] == "reprobe.sweep/1"
    assert {"config", "command", "grid", "points", "theory", "critical", "agreement"} <= set(summary)
    assert summary["theory"]["critical_sigma_w2"]["0.05"] == pytest.approx(1.761, abs=1e-3)
    assert summary["agreement"]["cells"] == 3
    assert 0.0 <= summary["agreement"]["probe"]["fraction"] <= 1.0
    assert summary["agreement"]["theory"]["fraction"] is not None
    assert (out / "phase.png").stat().st_size > 10_000 and (out / "trained.png").is_file()

    # no silent overwrite
    r = runner.invoke(cli, args)
    assert r.exit_code == 2 and "--resume" in r.output

    # interrupted: last point lost mid-line; a resumed run redoes exactly that one
    torn = lines[0] + "\n" + lines[1] + "\n" + lines[2][: len(lines[2]) // 2]
    (out / "points.jsonl").write_text(torn)
    r = runner.invoke(cli, args + ["--resume"])
    assert r.exit_code == 0, r.output
    assert "half-written" in r.output
    again = [json.loads(x) for x in (out / "points.jsonl").read_text().splitlines()]
    assert sorted(x["sigma_w2"] for x in again) == [1.0, 1.8, 3.0]
    assert again[:2] == recs[:2]  # finished points untouched

    # resuming with other settings would mix two probes in one diagram: refused, naming the difference
    r = runner.invoke(cli, args + ["--resume", "--ridge", "0.05"])
    assert r.exit_code == 2, r.output
    assert "other settings" in r.output and "ridge" in r.output and "0.05" in r.output
    assert len((out / "points.jsonl").read_text().splitlines()) == 3


def test_train_grid_agreement_with_sweep(tmp_path):
    out = tmp_path / "g"
    runner = CliRunner()
    r = runner.invoke(cli, ["sweep", *TINY, "--sigma-w2", "1.0,2.0", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["train-grid", "--depth", "2,6", "--width", "32", "--sigma-w2", "1.0,2.0",
                            "--train-samples", "256", "--steps", "3", "--lr", "0.05", "--jobs", "1", "--quiet",
                            "--out", str(out), "--acc-threshold", "0.15"])
    assert r.exit_code == 0, r.output
    trained = [json.loads(x) for x in (out / "trained.jsonl").read_text().splitlines()]
    assert len(trained) == 4 and all(0 <= t["accuracy"] <= 1 for t in trained)
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["agreement"]["cells"] == 4 and summary["agreement"]["acc_threshold"] == 0.15
    assert summary["agreement"]["prediction"]["cells"] == 4  # the prediction is scored beside ℓ* and mean field
    assert len(summary["points"]) == 2 and len(summary["trained"]) == 4
    assert (out / "trained.png").is_file()
    # Points carry the prediction; `reprobe validate` scores it beside ℓ* and mean field.
    points = [json.loads(x) for x in (out / "points.jsonl").read_text().splitlines()]
    assert all(p["prediction"]["verdict"] in ("trainable", "marginal", "untrainable", "undecidable") for p in points)
    assert all(len(p["stage_shapes"]) == p["stages"] for p in points)
    r = runner.invoke(cli, ["validate", str(out), "--acc-threshold", "0.15", "--json"])
    assert r.exit_code == 0, r.output
    v = json.loads(r.output)
    rules = {x["rule"]: x for x in v["rules"]}
    assert {"prediction:relative_entropy", "l_star:relative_entropy", "mean_field:6xi_c"} <= set(rules)
    assert rules["mean_field:6xi_c"]["cells"] == 4 and v["acc_threshold"] == 0.15
    truth = [t["accuracy"] >= 0.15 for t in trained]
    mf = summary["agreement"]["theory"]["agree"]
    assert rules["mean_field:6xi_c"]["agree"] == mf and 0 <= rules["prediction:relative_entropy"]["agree"] <= len(truth)
    r = runner.invoke(cli, ["validate", str(out)])
    assert r.exit_code == 0 and "AUROC" in r.output and "prediction:relative_entropy" in r.output
    r = runner.invoke(cli, ["validate", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "reprobe sweep" in r.output


def test_sweep_bad_grid_is_one_line_error(tmp_path):
    r = CliRunner().invoke(cli, ["sweep", "--sigma-w2", "1:x:2", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "Error:" in r.output and "START:STOP:STEP" in r.output
    r = CliRunner().invoke(cli, ["sweep", "--model", "nope", "--depth", "3", "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "unknown model" in r.output


@pytest.mark.slow
def test_kill_mid_sweep_then_resume(tmp_path):
    """A real interruption: SIGKILL the CLI once the first point lands, then --resume."""
    out = tmp_path / "k"
    exe = Path(sys.executable).with_name("reprobe")
    args = [str(exe), "sweep", *TINY, "--sigma-w2", "1.0:2.4:0.2", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "points.jsonl"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if path.is_file() and path.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait()
    n_before = path.read_bytes().count(b"\n")
    assert n_before >= 1
    r = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    sws = sorted(round(x["sigma_w2"], 6) for x in recs)
    assert sws == [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4]  # every point exactly once


@pytest.mark.slow
def test_parallel_workers_match_sequential(tmp_path):
    """jobs=2 (spawned workers, parent writes) gives the same records as jobs=1."""
    from reprobe.experiments.executors import run_tasks

    base = {"model": "mlp", "model_options": {"activation": "tanh"}, "data": "mnist-5k", "data_options": {},
            "probe": {"train_samples": 256, "samples": 40, "seed": 0}, "train": None}
    tasks = [{**p, **base} for p in expand_grid([1.0, 2.0], [0.05], [5], [32])]
    s1 = PointStore(tmp_path / "a.jsonl").load()
    s2 = PointStore(tmp_path / "b.jsonl").load()
    assert run_tasks(tasks, s1, jobs=1, progress=False) == 2
    assert run_tasks(tasks, s2, jobs=2, progress=False) == 2
    a = {point_key(r): r["metrics"] for r in PointStore(tmp_path / "a.jsonl").load().records}
    b = {point_key(r): r["metrics"] for r in PointStore(tmp_path / "b.jsonl").load().records}
    assert a.keys() == b.keys()
    for k in a:
        for m in a[k]:
            assert a[k][m] == pytest.approx(b[k][m], rel=1e-4, abs=1e-6)


# --- review fixes ---------------------------------------------------------------------------

def test_parse_long_range_is_fast():
    t0 = time.perf_counter()
    v = parse_values("0:99999:1", "depth", integer=True)
    assert len(v) == 100_000 and v[-1] == 99_999
    assert time.perf_counter() - t0 < 2.0  # duplicate removal must not be quadratic


def test_run_tasks_rejects_zero_jobs(tmp_path):
    from reprobe.experiments.executors import run_tasks

    tasks = [{**p, "model": "mlp", "data": "mnist-5k", "probe": None, "train": None}
             for p in expand_grid([1.0], [0.05], [2], [8])]
    with pytest.raises(ReprobeError, match="^jobs must be at least 1"):
        run_tasks(tasks, PointStore(tmp_path / "p.jsonl").load(), jobs=0, progress=False)
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize("opt", [["--jobs", "0"], ["--lr", "0.05", "--batch-size", "0"],
                                 ["--lr", "0.05", "--momentum", "-1"], ["--lr", "nan"]])
def test_train_grid_bad_options_are_one_line_errors(tmp_path, opt):
    r = CliRunner().invoke(cli, ["train-grid", "--depth", "2", "--width", "8", "--sigma-w2", "1", "--steps", "1",
                                 "--train-samples", "64", "--quiet", "--out", str(tmp_path / "t"), *opt])
    assert r.exit_code == 2 and "Error:" in r.output, r.output
    assert not (tmp_path / "t" / "trained.jsonl").exists()


def test_sweep_verify_bad_train_option_fails_before_probing(tmp_path):
    r = CliRunner().invoke(cli, ["sweep", *TINY, "--sigma-w2", "1.0", "--out", str(tmp_path / "v"), "--verify",
                                 "--train-batch-size", "0"])
    assert r.exit_code == 2 and "--train-batch-size" in r.output, r.output
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("bad", ['{"sigma_w2": "x"}', '{"sigma_w2": null}', '{"sigma_w2": 1.5}',
                                 '{"sigma_w2": 1.5, "sigma_b2": 0.05, "depth": "2", "width": 8, "seed": 0}'])
def test_store_skips_records_with_bad_key_fields(tmp_path, bad):
    path = tmp_path / "points.jsonl"
    path.write_text(json.dumps(_rec(1.0)) + "\n" + bad + "\n" + json.dumps(_rec(2.0)) + "\n")
    with pytest.warns(UserWarning, match="line 2"):
        s = PointStore(path).load()
    assert [r["sigma_w2"] for r in s.records] == [1.0, 2.0]


def test_check_model_bundle_is_reused_in_process(tmp_path, monkeypatch):
    import reprobe.data as data
    import reprobe.experiments.points as points_mod

    calls = []
    orig = data.load_dataset
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: calls.append(a) or orig(*a, **k))
    monkeypatch.setattr(points_mod, "_BUNDLES", {})
    r = CliRunner().invoke(cli, ["sweep", *TINY, "--depth", "2", "--width", "8", "--sigma-w2", "1.0",
                                 "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert len(calls) == 1  # _check_model's load serves the in-process points too


def _probe_rec(sw, **kw):
    return _rec(sw, depth=4, metrics={"relative_entropy": [0.1, 0.2, 0.3, 0.3],
                                      "differential_entropy": [-5.0, -6.0, -7.0, -7.0]},
                cutoffs={"relative_entropy": 3, "differential_entropy": 3}, **kw)


def test_finalize_counts_a_net_trained_twice_once(tmp_path):
    from reprobe.experiments.sweep import finalize_sweep

    ps = PointStore(tmp_path / "points.jsonl").load()
    ts = PointStore(tmp_path / "trained.jsonl").load()
    for sw in (1.0, 2.0):
        ps.append(_probe_rec(sw, accuracy=0.9))  # sweep --verify
        ts.append(_rec(sw, depth=4, accuracy=0.9))  # train-grid over the same nets
    res = finalize_sweep(tmp_path, meta={}, acc_threshold=0.2, activation="tanh")
    assert res["agreement"]["cells"] == 2


def test_plot_phase_falls_back_to_a_probed_metric(tmp_path):
    import matplotlib.image as mpimg
    import numpy as np

    from reprobe.figures.phase import plot_phase

    pts = [_rec(sw, depth=4, metrics={"relative_entropy": [0.1 * sw, 0.2 * sw, 0.3, 0.4]},
                cutoffs={"relative_entropy": 3}) for sw in (1.0, 2.0, 3.0)]
    path = plot_phase(pts, tmp_path / "phase.png")  # no differential_entropy (--metric relative_entropy)
    img = mpimg.imread(path)[..., :3]
    # the viridis mesh is drawn: plenty of pixels that are neither white nor grey
    colourful = (img.max(axis=-1) - img.min(axis=-1)) > 0.2
    assert colourful.mean() > 0.1


def test_plot_phase_shows_every_depth_and_keeps_6xi_c_in_range(tmp_path, monkeypatch):
    import numpy as np

    from reprobe.figures import phase as plotting_phase
    from reprobe.figures.phase import _select, clip_to_depth, plot_phase

    pts = [_rec(sw, depth=d, metrics={"differential_entropy": [-1.0 * sw] * d}, cutoffs={"relative_entropy": d})
           for d in (6, 12) for sw in (0.3, 2.0)]
    assert list(_select(pts)) == [(0.05, 6), (0.05, 12)]  # a resumed sweep with a second --depth keeps both
    clipped, above = clip_to_depth(np.array([3.0, 9.0, np.inf, np.nan]), 8)
    assert clipped[:2].tolist() == [3.0, 8.0] and above.tolist() == [False, True, True, False]
    figures = []
    monkeypatch.setattr(plotting_phase.plt, "close", figures.append)
    plot_phase(pts, tmp_path / "phase.png")
    panels = [ax for ax in figures[0].axes if ax.get_title().startswith("σ_b²")]
    assert [ax.get_title().split(", ")[1] for ax in panels] == ["L = 6", "L = 12"]
    for ax in panels:
        top = ax.get_ylim()[1]
        cutoff, = [ln for ln in ax.lines if ln.get_label().startswith("cutoff ℓ* (relative")]
        theory, = [ln for ln in ax.lines if ln.get_label().startswith("mean field")]
        y = np.asarray(theory.get_ydata(), dtype=float)
        assert np.isfinite(y).any() and not (y > top).any()  # 6ξ_c drawn, and inside the panel
        assert any(ln.get_label() == "6ξ_c off scale (> L)" for ln in ax.lines)  # near the edge of chaos 6ξ_c runs far beyond L
        assert cutoff.get_zorder() > max(ln.get_zorder() for ln in ax.lines if ln is not cutoff and ln.get_marker() != "^")


def test_entropy_plot_has_whole_stage_ticks(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import numpy as np

    from reprobe.figures import run as plotting

    figures = []
    monkeypatch.setattr(plotting.plt, "close", figures.append)
    L = 18  # matplotlib's default ticks here were 2.5, 5, 7.5, …
    values = [0.1 * i for i in range(L)]
    res = SimpleNamespace(metrics={"mse": values}, values=lambda m: np.array(values), cutoffs={"mse": 7},
                          cutoff_detector="threshold", depth=L)
    plotting.plot_entropy(res, tmp_path / "e.png")
    ticks = [t for t in figures[0].axes[0].get_xticks() if 0.5 <= t <= L + 0.5]
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks)


def test_threads_per_job_share_the_cores_unless_omp_num_threads_says(monkeypatch):
    from reprobe.experiments.executors import threads_per_job

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [threads_per_job(j) for j in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_job(1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "nonsense")
    assert threads_per_job(2) == 4


def test_width_axis_sets_the_channels_of_conv_families(tmp_path):
    """cnn takes no `width`: the grid's width must become its channels, not be dropped silently."""
    out = tmp_path / "c"
    r = CliRunner().invoke(cli, ["sweep", "--model", "cnn", "--depth", "3", "--width", "4", "--sigma-w2", "1.0",
                                 "--train-samples", "256", "--samples", "16", "--jobs", "1", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    point = json.loads((out / "points.jsonl").read_text().splitlines()[0])
    assert point["width"] == 4 and point["stage_shapes"][0][0] == 4
    from reprobe.models.registry import width_option

    assert (width_option("mlp"), width_option("cnn"), width_option("timm:resnet18")) == ("width", "channels", "width")


# --- a sweep from Python ----------------------------------------------------------------------

def _metric_rows(path):
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    return {point_key(r): r for r in recs}


def test_run_sweep_from_python_matches_the_cli(tmp_path):
    from reprobe.experiments.sweep import run_sweep

    py, cl = tmp_path / "py", tmp_path / "cli"
    res = run_sweep(py, model="mlp", sigma_w2=(1.0, 2.0), depth=4, width=16,
                    probe={"train_samples": 256, "samples": 16}, jobs=1)
    assert (py / "points.jsonl").is_file() and (py / "sweep.json").is_file()
    assert res["files"] == ["sweep.json", "summary.csv"] and len(res["probes"]) == 2
    summary = json.loads((py / "sweep.json").read_text())
    assert summary["schema"] == "reprobe.sweep/1" and len(summary["points"]) == 2
    assert summary["grid"]["sigma_w2"] == [1.0, 2.0] and summary["grid"]["depth"] == [4]
    r = CliRunner().invoke(cli, ["sweep", "--model", "mlp", "--depth", "4", "--width", "16", "--sigma-w2", "1.0,2.0",
                                 "--train-samples", "256", "--samples", "16", "--jobs", "1", "--quiet",
                                 "--out", str(cl)])
    assert r.exit_code == 0, r.output
    a, b = _metric_rows(py / "points.jsonl"), _metric_rows(cl / "points.jsonl")
    assert len(a) == 2 and set(a) == set(b)
    for k in a:
        assert a[k]["settings"] == b[k]["settings"]  # the same sweep: either may resume the other
        assert a[k]["cutoffs"] == b[k]["cutoffs"]
        assert set(a[k]["metrics"]) == set(b[k]["metrics"])
        for m, vals in a[k]["metrics"].items():
            assert len(vals) == len(b[k]["metrics"][m])
            for x, y in zip(vals, b[k]["metrics"][m]):
                assert (x is None and y is None) or abs(x - y) <= 1e-6, (m, x, y)
    # the same resume rules as the CLI: finished points are an error without resume, skipped with it
    with pytest.raises(ReprobeError, match="resume"):
        run_sweep(py, sigma_w2=(1.0, 2.0), depth=4, width=16, probe={"train_samples": 256, "samples": 16})
    again = run_sweep(py, sigma_w2=(1.0, 2.0), depth=4, width=16, probe={"train_samples": 256, "samples": 16},
                      resume=True)
    assert len(again["probes"]) == 2 and len((py / "points.jsonl").read_text().splitlines()) == 2
    with pytest.raises(ReprobeError, match="other settings"):
        run_sweep(py, sigma_w2=(1.0, 2.0), depth=4, width=16, probe={"train_samples": 256, "samples": 20},
                  resume=True)


def test_run_sweep_bad_grid_names_the_parameter(tmp_path):
    from reprobe.experiments.sweep import run_sweep

    with pytest.raises(ReprobeError, match=r"sigma_w2.*> 0"):
        run_sweep(tmp_path / "x", sigma_w2=(-1.0,), depth=2)
    with pytest.raises(ReprobeError, match="cannot read sigma_w2"):
        run_sweep(tmp_path / "x", sigma_w2="1:x:2", depth=2)
    with pytest.raises(ReprobeError, match="depth"):
        run_sweep(tmp_path / "x", sigma_w2=1.0, depth=0)
