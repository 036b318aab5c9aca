"""Sweeps with ``batch``: σ_w² rows probed together write the points one-at-a-time probing writes."""

import json

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError
from reprobe.experiments.grid import point_key
from reprobe.experiments.sweep import run_sweep

GRID = {"sigma_w2": (1.0, 1.5, 2.0, 2.5, 3.0), "depth": 4, "width": 16}
PROBE = {"train_samples": 256, "samples": 16}


def records(path):
    return {point_key(r): r for r in map(json.loads, path.read_text().splitlines())}


def assert_same_points(a, b, batched_sizes):
    """Same points, same fields, cutoffs exactly, metrics to float tolerance; ``batched_sizes``: the
    ``probe_batched`` of b's records (None: probed alone)."""
    assert set(a) == set(b) and len(a) == len(GRID["sigma_w2"])
    for k in a:
        ra, rb = a[k], b[k]
        assert set(ra) == set(rb)
        assert rb["cutoffs"] == ra["cutoffs"] and rb["cutoffs_by_detector"] == ra["cutoffs_by_detector"]
        assert (rb["settings"], rb["stage_shapes"], rb["warnings"]) == (ra["settings"], ra["stage_shapes"], ra["warnings"])
        for m, values in ra["metrics"].items():
            assert rb["metrics"][m] == pytest.approx(values, rel=1e-4, abs=1e-9), m
        assert set(rb["prediction"]) == set(ra["prediction"])
        for key, value in ra["prediction"].items():
            if isinstance(value, float):
                assert rb["prediction"][key] == pytest.approx(value, rel=1e-3), key
            else:
                assert rb["prediction"][key] == value, key
        assert "probe_batched" not in ra["timings"]
    assert sorted(b[k]["timings"].get("probe_batched") or 0 for k in b) == sorted(batched_sizes)


def test_run_sweep_batch_writes_the_points_of_batch_1(tmp_path):
    one = run_sweep(tmp_path / "one", probe=PROBE, jobs=1, **GRID)
    four = run_sweep(tmp_path / "four", probe=PROBE, jobs=1, batch=4, **GRID)
    a, b = records(tmp_path / "one" / "points.jsonl"), records(tmp_path / "four" / "points.jsonl")
    assert_same_points(a, b, [4, 4, 4, 4, 0])  # one row of 4, then the fifth point alone
    assert [p["cutoffs"] for p in one["probes"]] == [p["cutoffs"] for p in four["probes"]]
    # the CLI's --batch: the same points, in rows of 2, 2, 1
    r = CliRunner().invoke(cli, ["sweep", "--model", "mlp", "--depth", "4", "--width", "16", "--sigma-w2",
                                 "1.0,1.5,2.0,2.5,3.0", "--train-samples", "256", "--samples", "16", "--jobs", "1",
                                 "--batch", "2", "--quiet", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 0, r.output
    assert_same_points(a, records(tmp_path / "cli" / "points.jsonl"), [2, 2, 2, 2, 0])


def test_bad_batch_is_refused_naming_it(tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ReprobeError, match="^batch must be a whole number"):
            run_sweep(tmp_path / "x", sigma_w2=1.0, depth=2, batch=bad)
    r = CliRunner().invoke(cli, ["sweep", "--depth", "2", "--sigma-w2", "1", "--batch", "0", "--out",
                                 str(tmp_path / "y")])
    assert r.exit_code == 2 and "--batch" in r.output


def test_batched_rows_are_scored_by_predictors_like_single_points(tmp_path):
    grid = {**GRID, "sigma_w2": (1.0, 2.0)}
    run_sweep(tmp_path / "one", probe=PROBE, jobs=1, predictors=["partial_jacobian", "params"], **grid)
    run_sweep(tmp_path / "two", probe=PROBE, jobs=1, batch=2, predictors=["partial_jacobian", "params"], **grid)
    a, b = records(tmp_path / "one" / "points.jsonl"), records(tmp_path / "two" / "points.jsonl")
    assert all(b[k]["timings"].get("probe_batched") == 2 for k in b)
    for k in a:
        for name in ("partial_jacobian", "params"):
            assert b[k]["predictors"][name]["score"] == pytest.approx(a[k]["predictors"][name]["score"], rel=1e-5)
        assert b[k]["predictors"]["partial_jacobian"]["per_stage"] == pytest.approx(
            a[k]["predictors"]["partial_jacobian"]["per_stage"], rel=1e-5)
    chi = [sum(a[k]["predictors"]["partial_jacobian"]["per_stage"]) for k in sorted(a)]
    assert chi[0] < chi[1]  # a larger σ_w² has the larger partial Jacobian χ at every stage
