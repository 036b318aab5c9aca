"""reprobe compare: spec parsing, ranking, summary files, CLI."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from reprobe.analysis.ranking import rank_entries, reason_for
from reprobe.experiments.compare import compare_models, parse_model_spec, unique_specs
from reprobe.core.errors import ReprobeError

TINY = {"train_samples": 500, "samples": 50, "progress": False}


@pytest.mark.parametrize("text,name,options", [
    ("mlp", "mlp", {}),
    ("timm:resnet18", "timm:resnet18", {}),
    ("mlp:depth=5,sigma_w2=1.2", "mlp", {"depth": 5, "sigma_w2": 1.2}),
    ("a/b.py:make:depth=3", "a/b.py:make", {"depth": 3}),
    ("timm:resnet18:weights=imagenet", "timm:resnet18", {"weights": "imagenet"}),
    ("path/to/file.py:factory", "path/to/file.py:factory", {}),
    ("mlp:activation=relu,flag=true,off=False,x=none", "mlp", {"activation": "relu", "flag": True, "off": False, "x": None}),
    ("mlp:sigma-w2=2", "mlp", {"sigma_w2": 2}),
])
def test_parse_model_spec(text, name, options):
    s = parse_model_spec(text)
    assert s.name == name
    assert s.options == options
    assert all(type(s.options[k]) is type(v) for k, v in options.items())


def test_parse_model_spec_errors():
    for bad in ("", "mlp:depth=3,oops", ":depth=3", "mlp:=3", "mlp:depth=", "mlp:depth=5,depth=6", "mlp:sigma-w2=1,sigma_w2=2"):
        with pytest.raises(ReprobeError):
            parse_model_spec(bad)


def test_display_names_unique():
    specs = unique_specs([parse_model_spec("mlp:depth=50,sigma_w2=1.2"), parse_model_spec("mlp"), parse_model_spec("mlp"),
                          parse_model_spec("mlp:sigma_w2=1.0")])
    names = [s.display for s in specs]
    assert names == ["mlp(depth=50, sigma_w2=1.2)", "mlp", "mlp #2", "mlp(sigma_w2=1.0)"]
    assert len({s.slug.lower() for s in specs}) == 4
    assert all("/" not in s.slug and " " not in s.slug for s in specs)


def test_rank_entries_order_and_reason():
    def e(name, L, cut, final):
        return {"name": name, "depth": L, "cutoffs": {"differential_entropy": cut},
                "cutoff_fraction": {"differential_entropy": None if cut is None else cut / L},
                "final": {"differential_entropy": final}}

    ranked = rank_entries([e("lost", 100, 22, -9.0), e("undecided", 10, None, None), e("deep", 50, 50, -10.2),
                           e("shallow", 10, 10, -9.5)], "differential_entropy")
    assert [x["name"] for x in ranked] == ["shallow", "deep", "lost", "undecided"]
    assert [x["rank"] for x in ranked] == [1, 2, 3, 4]
    assert ranked[1]["reason"] == "information reaches the last stage (ℓ* = L = 50); final differential entropy \u221210.2 nats"
    assert ranked[2]["reason"].startswith("flat from stage 22 on (ℓ* = 22 of 100, ℓ*/L = 0.22)")
    # relative entropy: lower final value = more information
    r = rank_entries([{"name": "a", "depth": 5, "cutoffs": {"relative_entropy": 5}, "cutoff_fraction": {"relative_entropy": 1.0},
                       "final": {"relative_entropy": 0.9}},
                      {"name": "b", "depth": 5, "cutoffs": {"relative_entropy": 5}, "cutoff_fraction": {"relative_entropy": 1.0},
                       "final": {"relative_entropy": 0.1}}], "relative_entropy")
    assert [x["name"] for x in r] == ["b", "a"]
    assert "undecidable" in reason_for({"depth": 3, "cutoffs": {"m": None}, "final": {}}, "m")


def _judged(name, verdict, depth, L=20, collapsed=False):
    """A compared entry with a prediction: ``verdict``, predicted deepest trainable ``depth``."""
    return {"name": name, "depth": L, "cutoffs": {"relative_entropy": L}, "cutoff_fraction": {"relative_entropy": 1.0},
            "final": {"relative_entropy": 0.5},
            "prediction": {"verdict": verdict, "max_trainable_depth": depth, "reason": f"{name} evidence",
                           "failed": ["last_stage_distinct"] if collapsed else []}}


def test_ranking_is_by_verdict_then_depth_with_undecidable_last():
    ranked = rank_entries([_judged("undecided", "undecidable", None), _judged("bad", "untrainable", 5),
                           _judged("deep-marginal", "marginal", 400), _judged("good", "trainable", 30),
                           _judged("better", "trainable", 60)], "relative_entropy")
    assert [x["name"] for x in ranked] == ["better", "good", "deep-marginal", "bad", "undecided"]


def test_a_collapsed_last_stage_never_ranks_above_one_that_is_not():
    ranked = rank_entries([_judged("collapsed", "marginal", 400, collapsed=True), _judged("plain", "untrainable", 10),
                           _judged("undecided", "undecidable", None)], "relative_entropy")
    assert [x["name"] for x in ranked] == ["plain", "collapsed", "undecided"]
    # ℓ* = L beside a collapse is not "information reaches the last stage"
    assert "reaches the last stage" not in ranked[1]["reason"] and "collapse" in ranked[1]["reason"]


def test_ordered_phase_ranks_below_critical(mnist, tmp_path):
    """σ_w² = 1.0 (ordered phase, ξ_c ≈ 3.6) loses information in a 30-layer net; 1.76 is near critical."""
    specs = [parse_model_spec("mlp:sigma_w2=1.0"), parse_model_spec("mlp:sigma_w2=1.76")]
    summary = compare_models(specs, tmp_path, data="mnist-5k", bundle=mnist,
                             model_options={"depth": 30, "width": 128, "sigma_b2": 0.05, "seed": 0},
                             probe_options=TINY, command="reprobe compare (test)", report=False)
    names = [m["name"] for m in summary["models"]]
    assert names == ["mlp(sigma_w2=1.76)", "mlp(sigma_w2=1.0)"], [m["reason"] for m in summary["models"]]
    crit, ordered = summary["models"]
    assert crit["final"]["differential_entropy"] > ordered["final"]["differential_entropy"] + 3
    # files
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["schema"] == "reprobe.compare/1"
    for m in on_disk["models"]:
        assert {"name", "depth", "cutoffs", "cutoff_fraction", "parameters", "timings", "rank", "reason"} <= set(m)
        assert m["depth"] == 30 and m["parameters"] > 0
        assert (tmp_path / m["run"] / "result.json").is_file()
        assert (tmp_path / m["run"] / "reconstructions.npy").is_file()
        res = json.loads((tmp_path / m["run"] / "result.json").read_text())
        assert res["extra"]["command"] == "reprobe compare (test)"
        assert res["model"]["options"]["sigma_w2"] == m["options"]["sigma_w2"]
    assert on_disk["settings"]["model"]["depth"] == 30
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [r["name"] for r in rows] == names
    assert rows[0]["rank"] == "1" and rows[0]["depth"] == "30"
    assert not (tmp_path / "report.html").exists()


def test_compare_cli(tmp_path):
    from reprobe.cli.main import cli
    from reprobe.models import MODELS

    out = tmp_path / "cmp"
    args = ["compare", "--model", "mlp:depth=4,sigma_w2=1.0", "--model", "mlp:depth=6", "--model", "nosuchmodel",
            "--width", "32", "--train-samples", "300", "--samples", "20", "--out", str(out), "-q"]
    if "cnn" in MODELS:
        args += ["--model", "cnn:depth=3,channels=4"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output  # a model failed: the others are written, the exit code says so
    s = json.loads((out / "summary.json").read_text())
    names = {m["name"] for m in s["models"]}
    assert {"mlp(depth=4, sigma_w2=1.0)", "mlp(depth=6)"} <= names
    assert [f["name"] for f in s["failed"]] == ["nosuchmodel"]
    assert "nosuchmodel" in r.output  # the warning
    if "cnn" in MODELS:
        cnn = next(m for m in s["models"] if m["spec"] == "cnn")
        assert cnn["depth"] >= 3
    depths = {m["name"]: m["depth"] for m in s["models"]}
    assert depths["mlp(depth=4, sigma_w2=1.0)"] == 4 and depths["mlp(depth=6)"] == 6
    assert s["command"].startswith("reprobe compare") and "nosuchmodel" in s["command"]
    assert (out / "report.html").is_file() and (out / "summary.csv").is_file()


def test_compare_all_fail(tmp_path):
    from reprobe.cli.main import cli

    r = CliRunner().invoke(cli, ["compare", "--model", "nosuchmodel", "--out", str(tmp_path / "x"), "-q",
                                 "--train-samples", "50", "--samples", "10"])
    assert r.exit_code == 2
    assert "nosuchmodel" in r.output


def test_unknown_per_model_option_is_an_error(tmp_path):
    """A typo in a model's own options (widht=64) must not be silently dropped by the builder."""
    specs = [parse_model_spec("mlp:depth=3"), parse_model_spec("mlp:depth=3,widht=64")]
    # checked before any data is loaded (the bogus dataset name is never reached)
    with pytest.raises(ReprobeError, match=r"'mlp' does not take option\(s\) widht; its options: .*\bwidth\b") as e:
        compare_models(specs, tmp_path / "x", data="nosuchdata", report=False)
    assert "\n" not in str(e.value)
    # probe options, the shared seed, preset and the data-side keys stay valid per model
    from reprobe.experiments.compare import check_model_options

    check_model_options(parse_model_spec("mlp:depth=3,fit=ridge,samples=10,seed=1,preset=none,image_size=28,subset=100"))
    check_model_options(parse_model_spec("timm:resnet18:whatever=1"))  # resolvers are not checked
    r = CliRunner().invoke(__import__("reprobe.cli.main", fromlist=["cli"]).cli,
                           ["compare", "--model", "mlp:sigma_w=1.2", "--out", str(tmp_path / "y"), "-q", "--data", "nosuchdata"])
    assert r.exit_code == 2 and "sigma_w" in r.output and "sigma_w2" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bad_option_type_fails_before_any_work(mnist, tmp_path):
    """depth=abc is refused with one line naming the key and the type, before any model is probed."""
    specs = [parse_model_spec("mlp:depth=2"), parse_model_spec("mlp:depth=abc")]
    with pytest.raises(ReprobeError, match=r"mlp\(depth=abc\).*depth='abc' must be a whole number"):
        compare_models(specs, tmp_path, bundle=mnist, model_options={"width": 16},
                       probe_options={"train_samples": 100, "samples": 20, "progress": False}, report=False)
    assert not (tmp_path / "runs").exists()


def test_compare_scores_predictors_and_the_report_shows_how_they_agree(mnist, tmp_path):
    from reprobe.report import write_report
    from reprobe.theory import trainable_depth

    specs = [parse_model_spec(f"mlp:sigma_w2={s}") for s in (1.0, 1.76, 4.0)]
    summary = compare_models(specs, tmp_path, data="mnist-5k", bundle=mnist,
                             model_options={"depth": 8, "width": 32, "sigma_b2": 0.05, "seed": 0},
                             probe_options=TINY, command="reprobe compare (test)", predictors=["mean_field", "params"],
                             report=lambda out: write_report([out], out / "report.html"))
    assert summary["predictors"] == ["mean_field", "params"]
    for m in summary["models"]:
        sw = m["options"]["sigma_w2"]
        assert m["predictors"]["mean_field"]["score"] == pytest.approx(trainable_depth("tanh", sw, 0.05), rel=1e-6)
        assert m["predictors"]["params"]["score"] == m["parameters"]
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert all(float(r["predictor_params"]) > 0 for r in rows)
    page = (tmp_path / "report.html").read_text()
    assert "How the predictors agree" in page and "Spearman with the prediction" in page
    with pytest.raises(ReprobeError, match="unknown predictor"):
        compare_models(specs, tmp_path / "x", bundle=mnist, predictors=["synflo"])
    assert not (tmp_path / "x").exists()
