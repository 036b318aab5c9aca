"""Sweeps scored by predictors: per-point predictor records, each predictor's critical line, on phase.png."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from reprobe import theory
from reprobe.analysis.chi import mean_log_chi
from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError
from reprobe.experiments.sweep import run_sweep
from reprobe.predictors import list_predictors

SMALL_PROBE = {"samples": 40, "train_samples": 256}


@pytest.fixture(scope="module")
def wide_sweep(tmp_path_factory):
    """A wide tanh MLP across the edge of chaos at σ_b² = 0.05, scored by the partial Jacobian."""
    out = tmp_path_factory.mktemp("wide")
    res = run_sweep(out, sigma_w2="1.4:2.2:0.2", sigma_b2=0.05, depth=20, width=256, probe=SMALL_PROBE,
                    predictors=("partial_jacobian",))
    return out, res


def test_partial_jacobian_chi_crosses_one_at_the_mean_field_critical_point(wide_sweep):
    out, res = wide_sweep
    mf = theory.critical_sigma_w2("tanh", 0.05)
    row = res["critical_lines"]["sigma_b2=0.05,depth=20,width=256"]
    assert row["mean_field"] == pytest.approx(mf)
    assert row["partial_jacobian"] == pytest.approx(mf, rel=0.04)  # seeds 0, 1, 2: +0.9 %, +2.5 %, -1.7 %
    assert row["vs_mean_field"]["partial_jacobian"] == pytest.approx(row["partial_jacobian"] / mf - 1)
    chi = row["grid"]["chi"]
    assert chi == sorted(chi) and chi[0] < 1 < chi[-1]  # χ grows with σ_w² through 1
    assert row["probe_xi_peak"] is not None and 1.4 <= row["probe_xi_peak"] <= 2.2
    lo, hi = row["probe_xi_band"]
    assert lo <= row["probe_xi_peak"] <= hi or "edge" in row["notes"].get("probe_xi_peak", "")
    assert json.loads((out / "sweep.json").read_text())["critical_lines"] == json.loads(json.dumps(res["critical_lines"]))


def test_sweep_points_carry_predictor_records(wide_sweep):
    out, res = wide_sweep
    recs = [json.loads(x) for x in (out / "points.jsonl").read_text().splitlines()]
    assert len(recs) == 5
    for rec in recs:
        pj = rec["predictors"]["partial_jacobian"]
        assert pj["direction"] == "higher" and pj["applicable"] and len(pj["per_stage"]) == 19
        # scored over the hidden pairs of equal shape after the transient (not the 256 → 400 pair, not the head)
        assert pj["score"] == pytest.approx(-abs(mean_log_chi(pj["per_stage"], rec["stage_shapes"])))
        assert pj["score"] == pytest.approx(-abs(np.mean(np.log(pj["per_stage"][4:17]))))
        assert "settings" in rec and "predictors" not in rec["settings"]  # a resume may add predictors
        assert rec["timings"]["predictors"] < rec["timings"]["total"]
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["config"]["predictors"] == ["partial_jacobian"]
    assert all(set(p["predictors"]) == {"partial_jacobian"} for p in summary["points"])


def test_phase_png_draws_each_predictors_critical_line(wide_sweep, tmp_path, monkeypatch):
    from reprobe.figures import phase

    out, res = wide_sweep
    figures = []
    monkeypatch.setattr(phase.plt, "close", figures.append)
    phase.plot_phase(res["probes"], tmp_path / "phase.png")
    ax, = [a for a in figures[0].axes if a.get_title().startswith("σ_b²")]
    row = res["critical_lines"]["sigma_b2=0.05,depth=20,width=256"]
    for label, value in (("partial Jacobian χ = 1", row["partial_jacobian"]), ("probe ξ̂ peak", row["probe_xi_peak"]),
                         ("mean field (χ₁ = 1)", row["mean_field"])):
        line, = [ln for ln in ax.lines if ln.get_label() == f"critical σ_w²: {label}"]
        assert np.allclose(line.get_xdata(), value)
    box, = [t for t in ax.texts if t.get_text().startswith("critical σ_w²:")]
    assert f"{row['partial_jacobian']:.3f}" in box.get_text() and f"{row['mean_field']:.3f}" in box.get_text()


def test_unknown_predictor_fails_before_any_work(tmp_path):
    with pytest.raises(ReprobeError, match="partial_jacobian"):
        run_sweep(tmp_path / "a", sigma_w2=1.0, depth=3, width=8, predictors=("nope",))
    assert not (tmp_path / "a" / "points.jsonl").exists()
    r = CliRunner().invoke(cli, ["sweep", "--sigma-w2", "1.0", "--depth", "3", "--width", "8", "--predictor", "params",
                                 "--predictor", "nope", "--out", str(tmp_path / "b")])
    assert r.exit_code == 2
    line, = [x for x in r.output.splitlines() if x.startswith("Error:")]
    assert "'nope'" in line and all(n in line for n in list_predictors())
    assert not (tmp_path / "b" / "points.jsonl").exists()


def test_sweep_cli_with_predictors(tmp_path):
    out = tmp_path / "sw"
    r = CliRunner().invoke(cli, ["sweep", "--depth", "6", "--width", "32", "--sigma-w2", "1.0,1.8,3.0",
                                 "--train-samples", "256", "--samples", "40", "--jobs", "1",
                                 "--predictor", "partial_jacobian", "--predictor", "params", "--out", str(out)])
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in (out / "points.jsonl").read_text().splitlines()]
    assert all(list(rec["predictors"]) == ["partial_jacobian", "params"] for rec in recs)
    assert all(rec["predictors"]["params"]["score"] == recs[0]["predictors"]["params"]["score"] > 0 for rec in recs)
    lines = json.loads((out / "sweep.json").read_text())["critical_lines"]
    row = lines["sigma_b2=0.05,depth=6,width=32"]
    assert {"mean_field", "probe_xi_peak", "partial_jacobian", "grid", "notes"} <= set(row)
    assert "critical σ_w² at sigma_b2=0.05, depth=6, width=32: mean field 1.761" in r.output
    for name, note in row["notes"].items():  # e.g. a ξ̂ peak at the grid's edge is said on the line
        assert note in r.output
    assert (out / "phase.png").stat().st_size > 10_000


def test_sweep_report_lists_each_predictors_critical_sigma_w2(wide_sweep):
    from reprobe.report import render_report

    out, res = wide_sweep
    row = res["critical_lines"]["sigma_b2=0.05,depth=20,width=256"]
    html = render_report([out])
    assert "data-critical-lines" in html
    section = html.split("data-critical-lines", 1)[1].split("</table>", 1)[0]
    for name in ("mean_field", "probe_xi_peak", "partial_jacobian"):
        assert f"{row[name]:.4g}" in section
