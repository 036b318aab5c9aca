"""A sweep's outputs carry the verdict beside its evidence: the printed table, summary.csv, the page, phase.png."""

from __future__ import annotations

import csv
import re

import pytest

from reprobe.experiments.store import PointStore
from reprobe.experiments.sweep import finalize_sweep

VERDICTS = {1.0: ("untrainable", 4.5, False, 1.2), 1.76: ("trainable", 47.0, True, 9.0), 3.0: ("marginal", 7.5, False, 2.1)}


def _point(sw, depth=6):
    verdict, pred, bound, xi = VERDICTS[sw]
    return {"sigma_w2": sw, "sigma_b2": 0.05, "depth": depth, "width": 16, "seed": 0,
            "metrics": {"relative_entropy": [0.1 * i for i in range(depth)],
                        "differential_entropy": [-5.0 - 0.2 * sw * i for i in range(depth)]},
            "cutoffs": {"relative_entropy": depth - 1, "differential_entropy": depth},
            "prediction": {"verdict": verdict, "max_trainable_depth": pred, "depth_is_bound": bound, "xi": xi,
                           "xi_is_bound": bound, "xi_err": 0.1}}


@pytest.fixture
def sweep_dir(tmp_path):
    store = PointStore(tmp_path / "points.jsonl").load()
    for sw in VERDICTS:
        store.append(_point(sw))
    return tmp_path


def test_summary_csv_has_verdict_predicted_depth_and_xi(sweep_dir):
    res = finalize_sweep(sweep_dir, activation="tanh")
    assert "summary.csv" in res["files"]
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    assert [float(r["sigma_w2"]) for r in rows] == sorted(VERDICTS)
    for r in rows:
        verdict, pred, bound, xi = VERDICTS[float(r["sigma_w2"])]
        assert r["verdict"] == verdict and float(r["predicted_depth"]) == pred and float(r["xi"]) == xi
        assert r["predicted_depth_is_bound"] == str(bound) and r["l_star_relative_entropy"] == "5"
    from reprobe.theory import trainable_depth

    assert float(rows[1]["six_xi_c"]) == pytest.approx(trainable_depth("tanh", 1.76, 0.05))  # near the edge: huge


def test_printed_table_shows_the_verdict(sweep_dir, capsys):
    from reprobe.cli.sweep import _print_points

    res = finalize_sweep(sweep_dir, activation="tanh")
    _print_points(res["probes"], res["theory"])
    lines = capsys.readouterr().out.splitlines()
    assert "verdict" in lines[0] and "ξ̂" in lines[0] and "pred. depth" in lines[0]
    assert re.search(r"\buntrainable\b", lines[1]) and " 4 " in f" {lines[1]} ".replace("  ", " ")  # 4.5 rounds to 4
    assert "≥47" in lines[2] and "≥9.00" in lines[2] and "trainable" in lines[2]
    assert "marginal" in lines[3] and "2.10" in lines[3]


def test_sweep_page_tables_have_word_headings(sweep_dir):
    from reprobe.report import render_report

    finalize_sweep(sweep_dir, activation="tanh")
    html = render_report([sweep_dir])
    headings = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert "best σ_w² on the grid (probe)" in headings and "6ξ_c at σ_b² = 0.05" in headings
    assert "verdict" in headings and "predicted deepest trainable depth" in headings and "ξ̂" in headings
    raw_keys = [h for h in headings if re.search(r"[a-z_]+\.[a-z_0-9]|\b[a-z]+_[a-z0-9_]+", h)]
    assert not raw_keys, raw_keys
    assert "by_sigma_b2" not in html and "six_xi_c." not in html


def test_off_scale_marks_sit_above_the_panel_in_their_own_rows(sweep_dir, monkeypatch):
    """At L = 6 both 6ξ_c (near the edge of chaos) and the predicted depth (47) run off the top: each is
    marked by a row of arrow heads above the panel, and nothing is written over the lines inside it."""
    from reprobe.figures import phase

    res = finalize_sweep(sweep_dir, activation="tanh")
    figures = []
    monkeypatch.setattr(phase.plt, "close", figures.append)
    phase.plot_phase(res["probes"], sweep_dir / "phase.png")
    ax, = [a for a in figures[0].axes if a.get_title().startswith("σ_b²")]
    rows = {}
    for line in ax.lines:
        if line.get_label() in ("6ξ_c off scale (> L)", "  … deeper than L"):
            shown = line.get_transform().transform(line.get_xydata())  # display coordinates
            assert (shown[:, 1] > ax.bbox.ymax).all()  # above the panel's top edge
            assert len(set(shown[:, 1].round(3))) == 1
            rows[line.get_label()] = shown[0, 1]
    assert len(rows) == 2 and len(set(rows.values())) == 2
    assert not [t for t in ax.texts if "off scale" in t.get_text()]


def test_compare_summary_csv_has_verdict_predicted_depth_and_xi():
    import io

    from reprobe.experiments.compare import summary_csv

    summary = {"models": [{"rank": 1, "name": "a", "spec": "mlp", "depth": 10, "parameters": 5,
                           "cutoffs": {"relative_entropy": 10},
                           "prediction": {"verdict": "trainable", "max_trainable_depth": 40.0, "xi": 7.5}}],
               "failed": [{"name": "b", "spec": "x", "error": "boom"}]}
    rows = list(csv.DictReader(io.StringIO(summary_csv(summary))))
    assert rows[0]["verdict"] == "trainable" and float(rows[0]["predicted_depth"]) == 40 and float(rows[0]["xi"]) == 7.5
    assert rows[1]["reason"] == "failed: boom" and rows[1]["verdict"] == ""
