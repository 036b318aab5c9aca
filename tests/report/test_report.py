"""HTML reports: content matches the saved numbers, errors name the folder, sweeps render."""

from __future__ import annotations

import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError
from reprobe.report import detect_kind, render_report, write_report

TINY = ["--width", "32", "--train-samples", "300", "--samples", "20", "-q"]


class Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag plus the page text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, **want):
        return [a for t, a in self.tags if (tag is None or t == tag) and all(k in a and (v is None or a[k] == v) for k, v in want.items())]


def parse(html_text: str) -> Tags:
    p = Tags()
    p.feed(html_text)
    return p


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("reports")
    runner = CliRunner()
    cmp_dir, run_dir = base / "cmp", base / "run"
    r = runner.invoke(cli, ["compare", "--model", "mlp:depth=5,sigma_w2=1.0", "--model", "mlp:depth=8,sigma_w2=1.76",
                            "--out", str(cmp_dir)] + TINY)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["run", "--depth", "4", "--out", str(run_dir)] + TINY)
    assert r.exit_code == 0, r.output
    return {"compare": cmp_dir, "run": run_dir, "base": base}


def assert_self_contained(text: str):
    p = parse(text)
    imgs = p.find("img")
    assert imgs, "no images"
    assert all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert not p.find("link") and not [a for a in p.find("script") if "src" in a]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<style>" in text and "How to read this" in text


def test_compare_report_matches_summary(folders):
    d = folders["compare"]
    summary = json.loads((d / "summary.json").read_text())
    text = (d / "report.html").read_text()
    assert_self_contained(text)
    p = parse(text)
    rows = {a["data-model"]: a for a in p.find("tr", **{"data-model": None})}
    assert set(rows) == {m["name"] for m in summary["models"]} == {"mlp(depth=5, sigma_w2=1.0)", "mlp(depth=8, sigma_w2=1.76)"}
    metric = summary["rank_metric"]
    for m in summary["models"]:
        a = rows[m["name"]]
        assert int(a["data-rank"]) == m["rank"]
        assert int(a["data-depth"]) == m["depth"]
        assert int(a["data-cutoff"]) == m["cutoffs"][metric]
        assert float(a["data-cutoff-fraction"]) == m["cutoff_fraction"][metric]
        assert float(a["data-final"]) == m["final"][metric]
        assert int(a["data-parameters"]) == m["parameters"]
    # rows appear in rank order, every model has a reconstruction strip, the reason text is shown
    order = [a["data-model"] for a in p.find("tr", **{"data-model": None})]
    assert order == [m["name"] for m in sorted(summary["models"], key=lambda m: m["rank"])]
    assert {a["data-strip"] for a in p.find("div", **{"data-strip": None})} == set(rows)
    page_text = "".join(p.text)
    for m in summary["models"]:
        assert m["reason"] in page_text
    assert summary["command"] in page_text and summary["command"].startswith("reprobe compare")
    # curves for both metrics, the normalised-depth panel is described
    assert "normalised depth" in text and "relative entropy" in page_text and "differential entropy" in page_text


def test_run_report_written_by_run(folders, tmp_path):
    d = folders["run"]
    text = (d / "report.html").read_text()
    assert_self_contained(text)
    res = json.loads((d / "result.json").read_text())
    p = parse(text)
    assert int(p.find(**{"data-depth": None})[0]["data-depth"]) == res["depth"] == 4
    assert p.find(**{"data-cutoff": None})[0]["data-cutoff"] == str(res["cutoffs"]["differential_entropy"])
    assert len(p.find("tr", **{"data-stage": None})) == 4
    assert res["extra"]["command"].startswith("reprobe run") and res["extra"]["command"] in "".join(p.text)
    r = CliRunner().invoke(cli, ["run", "--depth", "3", "--out", str(tmp_path / "nr"), "--no-report"] + TINY)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "nr" / "result.json").is_file() and not (tmp_path / "nr" / "report.html").exists()


def test_report_cli_many_folders(folders, tmp_path):
    sweep = make_sweep(tmp_path / "sw")
    out = tmp_path / "all.html"
    r = CliRunner().invoke(cli, ["report", str(folders["run"]), str(folders["compare"]), str(sweep), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert_self_contained(text)
    kinds = [a["data-kind"] for a in parse(text).find("section")]
    assert kinds == ["run", "compare", "sweep"]
    # default output next to a single folder
    r = CliRunner().invoke(cli, ["report", str(sweep)])
    assert r.exit_code == 0 and (sweep / "report.html").is_file()


def test_escaping(folders, tmp_path):
    d = tmp_path / "cmp"
    shutil.copytree(folders["compare"], d)
    s = json.loads((d / "summary.json").read_text())
    s["models"][0]["name"] = '<script>alert("x")</script>'
    s["command"] = "reprobe compare --model '<b>bold</b>'"
    (d / "summary.json").write_text(json.dumps(s))
    text = render_report([d])
    assert "<script>alert" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text and "&lt;b&gt;bold&lt;/b&gt;" in text


def test_missing_and_corrupt_folders(folders, tmp_path):
    with pytest.raises(ReprobeError, match="nowhere"):
        write_report([tmp_path / "nowhere"], tmp_path / "x.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReprobeError, match=r"empty is not a reprobe run, comparison or sweep folder"):
        detect_kind(tmp_path / "empty")
    # corrupt run
    bad = tmp_path / "badrun"
    shutil.copytree(folders["run"], bad)
    (bad / "result.json").write_text("{ not json")
    with pytest.raises(ReprobeError, match="badrun"):
        render_report([bad])
    # comparison whose run folder is gone
    cmp = tmp_path / "cmp"
    shutil.copytree(folders["compare"], cmp)
    s = json.loads((cmp / "summary.json").read_text())
    shutil.rmtree(cmp / s["models"][0]["run"])
    with pytest.raises(ReprobeError) as e:
        render_report([cmp])
    assert str(cmp / s["models"][0]["run"]) in str(e.value) and "\n" not in str(e.value)
    # corrupt summary
    (cmp / "summary.json").write_text("[1, 2")
    with pytest.raises(ReprobeError, match="summary.json is corrupt"):
        render_report([cmp])
    # the CLI: one line, exit code 2, names the folder; nothing written
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", str(folders["run"]), str(tmp_path / "missing-run"), "--out", str(out)])
    assert r.exit_code == 2
    assert "missing-run" in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([1, 2, 3], [3, 1, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    plt.close(fig)
    return buf.getvalue()


def make_sweep(d: Path, with_points_in_json: bool = True) -> Path:
    d.mkdir(parents=True)
    points = [{"sigma_w2": sw, "sigma_b2": 0.05, "depth": 20, "width": 64, "seed": 0,
               "cutoffs": {"differential_entropy": c, "relative_entropy": c}, "final": {"differential_entropy": -10.0 - i},
               "accuracy": 0.5 + 0.1 * i}
              for i, (sw, c) in enumerate([(1.0, 9), (1.76, 20), (3.0, 14)])]
    sweep = {"schema": "reprobe.sweep/1", "config": {"data": "mnist-5k", "samples": 50}, "command": "reprobe sweep --sigma-w2 1,1.76,3",
             "grid": {"sigma_w2": [1.0, 1.76, 3.0], "sigma_b2": [0.05], "depth": [20]},
             "critical": {"sigma_w2": 1.7342, "theory": 1.761}, "agreement": {"spearman": 0.8765}}
    if with_points_in_json:
        sweep["points"] = points
    (d / "sweep.json").write_text(json.dumps(sweep))
    (d / "points.jsonl").write_text("\n".join(json.dumps(p) for p in points) + "\n{ truncated")
    (d / "phase.png").write_bytes(_png())
    (d / "extra.png").write_bytes(_png())
    return d


def test_sweep_report(tmp_path):
    d = make_sweep(tmp_path / "sw")
    text = render_report([d])
    assert_self_contained(text)
    p = parse(text)
    assert len(p.find("img")) == 2  # phase.png and extra.png, phase first
    assert "phase" in p.find("img")[0]["alt"]
    assert len(p.find("tr", **{"data-point": None})) == 3
    page_text = "".join(p.text)
    for s in ("1.734", "0.8765", "reprobe sweep --sigma-w2 1,1.76,3", "mnist-5k"):
        assert s in page_text, s
    # points only in points.jsonl (one truncated line), no pngs: figure drawn from the points
    d2 = make_sweep(tmp_path / "sw2", with_points_in_json=False)
    for f in d2.glob("*.png"):
        f.unlink()
    p2 = parse(render_report([d2]))
    assert len(p2.find("tr", **{"data-point": None})) == 3
    assert len(p2.find("img")) == 1
    assert "line 4 is not valid JSON" in "".join(p2.text)
    # an empty sweep.json object still renders; a corrupt one names the file
    d3 = tmp_path / "sw3"
    d3.mkdir()
    (d3 / "sweep.json").write_text("{}")
    assert "No points recorded yet" in render_report([d3])
    (d3 / "sweep.json").write_text("{")
    with pytest.raises(ReprobeError, match="sw3"):
        render_report([d3])


def test_run_folder_with_stray_files(folders, tmp_path):
    """A run folder holding someone else's summary.json / sweep.json is still reported as a run."""
    d = tmp_path / "run"
    shutil.copytree(folders["run"], d)
    (d / "notes.txt").write_text("mine")
    (d / "summary.json").write_text(json.dumps({"foo": 1}))
    (d / "sweep.json").write_text(json.dumps({"x": [1, 2]}))
    assert detect_kind(d) == ("run", d)
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", str(d), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert [a["data-kind"] for a in parse(out.read_text()).find("section")] == ["run"]
    # reprobe's own summary.json / sweep.json still win over result.json
    (d / "sweep.json").write_text(json.dumps({"schema": "reprobe.sweep/1"}))
    assert detect_kind(d)[0] == "sweep"


def test_sweep_report_from_points_jsonl_only(tmp_path):
    """A sweep stopped before writing sweep.json (only points.jsonl) still renders its points."""
    d = make_sweep(tmp_path / "sw", with_points_in_json=False)
    (d / "sweep.json").unlink()
    assert detect_kind(d) == ("sweep", d)
    r = CliRunner().invoke(cli, ["report", str(d), "--out", str(tmp_path / "s.html")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "s.html").read_text()
    assert_self_contained(text)
    p = parse(text)
    assert len(p.find("tr", **{"data-point": None})) == 3
    assert "no sweep.json" in "".join(p.text)


def test_tiles_stretch_faint_channels_and_label_every_tile(tmp_path):
    from PIL import Image

    from reprobe.figures.run import Tile, _stretch, plot_tiles

    faint = 0.5 + 1e-3 * np.random.default_rng(0).standard_normal((3, 8, 8)).astype(np.float32)
    stretched = _stretch(faint.mean(0))
    assert stretched.min() == 0.0 and stretched.max() == 1.0  # a 0.002-wide range fills the grey scale
    assert np.all(_stretch(np.full((4, 4), 0.3)) == 0.5)  # a flat tile stays flat, without dividing by 0
    path = plot_tiles([Tile("input", faint), Tile("ℓ = 1: a", faint, stretch=True), Tile("class 0", faint, colorbar=True)],
                      tmp_path / "t.png", title="tiles")
    assert Image.open(path).size[0] > 3 * 100
