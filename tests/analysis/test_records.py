"""Typed records: SweepPoint and CompareEntry read the JSON the files hold and write it back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprobe.analysis.records import CompareEntry, SweepPoint, as_entry, as_point, point_key

GRID = Path(__file__).resolve().parents[2] / "benchmarks" / "grids" / "mlp-w300"


@pytest.fixture(scope="module")
def probed_record():
    """A real record: run_point on a tiny MLP, probed and scored by one predictor, then through JSON."""
    from reprobe.experiments.points import run_point

    task = {"sigma_w2": 1.5, "sigma_b2": 0.05, "depth": 4, "width": 16, "seed": 0, "model": "mlp",
            "model_options": {"activation": "tanh"}, "data": "mnist-5k", "data_options": {},
            "probe": {"train_samples": 128, "samples": 32, "seed": 0}, "train": None,
            "predictors": ["partial_jacobian"]}
    return json.loads(json.dumps(run_point(task)))


def test_sweep_point_round_trips_a_real_record(probed_record):
    d = probed_record
    p = SweepPoint.from_dict(d)
    assert p.to_dict() == d and list(p.to_dict()) == list(d)
    assert json.dumps(p.to_dict()) == json.dumps(d)  # same keys, same order, same values
    assert p.extra == {}  # every key run_point writes is a typed field
    assert p.to_dict() is not d and SweepPoint.from_dict(p.to_dict()) == p


def test_sweep_point_accessors_return_what_the_dict_holds(probed_record):
    d = probed_record
    p = SweepPoint.from_dict(d)
    assert (p.sigma_w2, p.sigma_b2, p.depth, p.width, p.seed, p.model) == (1.5, 0.05, 4, 16, 0, "mlp")
    assert p.key == point_key(d) == (1.5, 0.05, 4, 16, 0)
    assert p.probed and p.has("metrics") and not p.has("accuracy") and p.accuracy is None
    assert set(d["metrics"]) and set(p.metrics) == set(d["metrics"])
    for m, values in d["metrics"].items():
        assert p.metric(m) == values and p.final(m) == values[-1]
        assert p.cutoff(m) == d["cutoffs"][m]
    assert p.metric("no_such_metric") == [] and p.final("no_such_metric") is None and p.cutoff("no_such") is None
    assert p.stages == d["stages"] == len(p.stage_shapes)
    assert p.prediction == d["prediction"] and p.verdict == d["prediction"]["verdict"]
    assert p.predictor_score("partial_jacobian") == d["predictors"]["partial_jacobian"]["score"]
    assert p.predictor_score("not_run") is None
    assert p.timings["total"] == d["timings"]["total"]


def test_record_is_a_copy_and_frozen(probed_record):
    d = json.loads(json.dumps(probed_record))
    p = SweepPoint.from_dict(d)
    m = next(iter(d["metrics"]))
    d["metrics"][m].append(123.0)
    assert p.metric(m) == probed_record["metrics"][m]  # the caller's dict does not reach the record
    with pytest.raises(AttributeError):
        p.depth = 9
    assert as_point(p) is p and as_point(probed_record) == p


def test_old_record_missing_fields():
    """An older record (no settings, predictors, prediction, stage_shapes; null cutoffs; an unknown key)."""
    d = {"sigma_w2": 2, "sigma_b2": 0.1, "depth": 3, "seed": 0, "cutoffs": None,
         "metrics": {"relative_entropy": [0.1, None, 0.3]}, "legacy_note": {"x": [1]}}
    p = SweepPoint.from_dict(d)
    assert p.to_dict() == d and list(p.to_dict()) == list(d)
    assert p.width is None and p.model is None and p.settings == {} and p.stage_shapes == []
    assert p.prediction == {} and p.verdict is None and p.predicted_depth is None
    assert p.predictors == {} and p.predictor_score("x") is None and p.accuracy is None
    assert p.cutoffs == {} and p.cutoff("relative_entropy") is None and p.probed  # a null is still a key
    assert p.metric("relative_entropy") == [0.1, None, 0.3] and p.final("relative_entropy") == 0.3
    assert p.extra == {"cutoffs": None, "legacy_note": {"x": [1]}}
    assert p.key == (2, 0.1, 3, None, 0)
    trained = SweepPoint.from_dict({"sigma_w2": 1.0, "sigma_b2": 0.05, "depth": 10, "width": 300, "seed": 0,
                                    "accuracy": 0.5})
    assert trained.accuracy == 0.5 and not trained.probed and trained.metric("relative_entropy") == []


def test_built_record_writes_the_fields_it_has():
    p = SweepPoint(sigma_w2=1.0, sigma_b2=0.0, depth=2, width=None, seed=0, cutoffs={"m": 1})
    assert p.to_dict() == {"sigma_w2": 1.0, "sigma_b2": 0.0, "depth": 2, "seed": 0, "cutoffs": {"m": 1}}
    assert p.cutoff("m") == 1 and p.probed


@pytest.mark.skipif(not (GRID / "points.jsonl").is_file(), reason="no stored grid")
def test_stored_grid_loads_unchanged():
    """benchmarks/grids/mlp-w300: every line, probed and trained, round-trips byte for byte."""
    from reprobe.experiments.store import PointStore

    for name in ("points.jsonl", "trained.jsonl"):
        lines = [x for x in (GRID / name).read_text().splitlines() if x.strip()]
        for line, rec in zip(lines, PointStore(GRID / name).load().records):
            p = SweepPoint.from_dict(rec)
            assert json.dumps(p.to_dict()) == json.dumps(json.loads(line))
            assert p.key == point_key(rec)
            for m, v in rec.get("metrics", {}).items():
                assert p.final(m) == v[-1] and p.cutoff(m) == rec["cutoffs"][m]
            assert p.accuracy == rec.get("accuracy")


def test_compare_entry_round_trip_and_accessors(mnist):
    """An entry as compare writes it (entry_from_result of a probed tiny MLP), through JSON."""
    from reprobe.experiments.compare import ModelSpec, entry_from_result
    from reprobe.experiments.run import probe_model
    from reprobe.models import build_model

    net = build_model("mlp", mnist.input_shape, mnist.num_classes, depth=3, width=16, seed=0)
    result, _ = probe_model(net, mnist, train_samples=128, samples=32, progress=False)
    d = json.loads(json.dumps(entry_from_result(result, ModelSpec("mlp", {"depth": 3, "width": 16}), "runs/mlp")))
    d.update(rank=1, reason="because")
    e = CompareEntry.from_dict(d)
    assert e.to_dict() == d and list(e.to_dict()) == list(d) and e.extra == {}
    assert as_entry(d) == e and as_entry(e) is e
    assert (e.name, e.spec, e.depth, e.rank, e.reason, e.run) == (d["name"], "mlp", d["depth"], 1, "because", "runs/mlp")
    for m in d["cutoffs"]:
        assert e.cutoff(m) == d["cutoffs"][m]
        assert e.cutoff_fraction(m) == d["cutoff_fraction"][m]
        assert e.final(m) == d["final"][m]
    assert e.verdict == d["prediction"]["verdict"]
    assert e.probe_time == pytest.approx(d["timings"].get("fit", 0) + d["timings"].get("evaluate", 0))
    old = {"name": "a", "depth": 5, "cutoffs": {"m": 5}, "final": {"m": float("nan")}}
    o = CompareEntry.from_dict(old)
    assert o.to_dict().keys() == old.keys() and o.final("m") is None and o.cutoff_fraction("m") is None
    assert o.prediction == {} and o.probe_time is None and o.predictor_score("x") is None
