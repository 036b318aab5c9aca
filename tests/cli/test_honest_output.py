"""Issue 13: bad input fails at once in one line; interrupted or concurrent runs never leave a
folder that looks complete; what was cut is said."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from reprobe.cli.main import cli
from reprobe.core.errors import ReprobeError

TINY = ["--data", "digits", "--depth", "3", "--width", "16", "--samples", "40", "-q"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def no_fit(monkeypatch):
    """Any decoder fit is a test failure: the bad input must be caught before the work starts."""
    from reprobe.probe.probe import CascadeProbe

    def fit(self, *a, **k):
        raise AssertionError("a decoder fit started before the bad input was refused")

    monkeypatch.setattr(CascadeProbe, "fit", fit)


def _folders(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    (tmp_path / "afile").write_text("not a folder")
    bad = tmp_path / "imgs"
    for c in ("a", "b"):
        (bad / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(bad / c / f"{i}.png")
    (bad / "b" / "2.png").write_bytes(b"this is not a png")


BAD_INPUTS = [
    # (arguments, text the one line must contain)
    (["run", *TINY, "--batch-size", "0"], "--batch-size"),
    (["run", *TINY, "--batch-size", "-1"], "--batch-size"),
    (["run", *TINY, "--image-size", "0"], "--image-size"),
    (["run", *TINY, "--image-size", "-5"], "--image-size"),
    (["run", "--data", "digits", "--depth", "1000000", "-q"], "lower --depth"),
    (["run", "--data", "digits", "--width", "10000000", "-q"], "--width"),
    (["run", *TINY, "--eta", "inf"], "--eta"),
    (["run", *TINY, "--fit", "adam", "--lr", "inf"], "--lr"),
    (["run", *TINY, "--lr", "nan"], "--lr"),
    (["run", *TINY, "--lr", "-1"], "--lr"),  # ridge does not use lr, but a bad one is still refused
    (["run", *TINY, "--model", "cnn", "--channels", "0"], "--channels"),
    (["run", *TINY, "--preset", "nosuch"], "preset 'nosuch' does not apply"),
    (["run", "--data", "digits", "--model", "cnn", "--width", "64"], "--width does not apply to model 'cnn'"),
    (["stages", "--model", "mlp", "--channels", "8"], "--channels does not apply to model 'mlp'"),
    (["run", *TINY, "--samples", "0"], "--samples"),
    (["run", *TINY, "--train-samples", "0"], "--train-samples"),
    (["run", *TINY, "--test-fraction", "1.5"], "--test-fraction"),
    (["run", *TINY, "--sigma-w2", "nan"], "--sigma-w2"),
    (["run", *TINY, "--fit", "nosuch"], "--fit"),
    (["run", *TINY, "--data", "{tmp}/imgs", "--model", "mlp"], "cannot read image {tmp}/imgs/b/2.png"),
    (["run", *TINY, "--out", "/proc/nope/x"], "cannot write to --out /proc/nope/x"),
    (["run", *TINY, "--out", "{tmp}/afile"], "afile' is a file"),
    (["run", *TINY, "--out", "{tmp}/full"], "--out {tmp}/full already exists and is not empty; pass --force"),
    (["reconstruct", "{tmp}", "--class", "1", "--out", "/proc/nope/c.png"], "cannot write --out /proc/nope/c.png"),
    (["report", "{tmp}/full", "--out", "{tmp}/afile/r.html"], "{tmp}/afile is a file, not a folder"),
    (["compare", "--model", "mlp", "--model", "cnn", *TINY, "--batch-size", "0"], "--batch-size"),
    (["sweep", "--data", "digits", "--jobs", "0", "--out", "{tmp}/s"], "--jobs"),
    (["sweep", "--data", "digits", "--acc-threshold", "2", "--out", "{tmp}/s"], "--acc-threshold"),
    (["critical", "--data", "digits", "--depth", "0"], "--depth"),
    (["nosuchcommand"], "No such command"),
]


@pytest.mark.parametrize("args,needle", BAD_INPUTS, ids=[" ".join(a[0:1] + a[-2:]) for a, _ in BAD_INPUTS])
def test_bad_input_fails_fast_in_one_line(args, needle, tmp_path, no_fit):
    _folders(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] in ("run", "compare") and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    t0 = time.perf_counter()
    res = invoke(*args)
    elapsed = time.perf_counter() - t0
    assert res.exit_code == 2, res.output
    lines = [l for l in res.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    assert needle.replace("{tmp}", str(tmp_path)) in lines[0]
    assert "Traceback" not in res.output
    assert elapsed < 10, f"took {elapsed:.1f}s to refuse"
    assert not (tmp_path / "out").exists(), "a refused run left an output folder behind"


def test_unexpected_error_is_one_line_and_debug_shows_traceback(tmp_path, monkeypatch):
    import reprobe.experiments.run

    def boom(*a, **k):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(reprobe.experiments.run, "run_named", boom)
    res = invoke("run", *TINY, "--out", tmp_path / "o")
    assert res.exit_code == 2
    assert res.output.strip() == ("Error: RuntimeError: something broke (rerun as `reprobe --debug …` "
                                  "for the traceback)")
    res = invoke("--debug", "run", *TINY, "--out", tmp_path / "o2")
    assert isinstance(res.exception, RuntimeError)  # --debug lets the exception (and its traceback) out


def test_force_replaces_old_results_and_cuts_are_warned(tmp_path):
    out = tmp_path / "r"
    res = invoke("run", *TINY, "--save-decoders", "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "decoders.pt").is_file() and not (out / "INCOMPLETE").exists()
    (out / "mine.txt").write_text("kept")
    res = invoke("run", *TINY, "--samples", "100000", "--train-samples", "100000", "--out", out, "--force")
    assert res.exit_code == 0, res.output
    assert not (out / "decoders.pt").exists(), "a stale decoders.pt survived --force"
    assert (out / "mine.txt").read_text() == "kept"
    warnings = json.loads((out / "result.json").read_text())["warnings"]
    assert any("samples=100000 asked for" in w and "measured on 180" in w for w in warnings), warnings
    assert any("train_samples=100000 asked for" in w for w in warnings), warnings
    assert "warning: samples=100000 asked for" in res.output  # said in the terminal too, even with -q


def test_too_few_inputs_warn_that_the_verdict_is_unreliable(tmp_path):
    res = invoke("run", *TINY, "--samples", "8", "--train-samples", "5", "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    warnings = json.loads((tmp_path / "r" / "result.json").read_text())["warnings"]
    assert any("only 8 held-out inputs" in w and "unreliable" in w for w in warnings), warnings
    assert any("fitted on 5 training inputs" in w and "unreliable" in w for w in warnings), warnings


def test_one_sample_fit_through_the_api_warns():
    import torch

    from reprobe.probe import CascadeProbe

    net = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    with CascadeProbe(net, progress=False, samples=50) as probe:
        result = probe.fit(torch.randn(1, 16)).evaluate(torch.randn(40, 16))
    assert any("fitted on 1 training inputs" in w for w in result.warnings), result.warnings
    assert any("samples=50 asked for" in w for w in result.warnings), result.warnings


@pytest.mark.parametrize("field,value", [("eta", float("inf")), ("lr", float("inf")), ("lr", float("nan")),
                                         ("batch_size", 0), ("batch_size", 2.5), ("ridge", float("nan"))])
def test_probe_config_rejects_non_finite_and_bad_numbers(field, value):
    import torch

    from reprobe.probe import CascadeProbe

    with pytest.raises(ReprobeError, match=field):
        CascadeProbe(torch.nn.Sequential(torch.nn.Linear(4, 4)), **{field: value})


def test_image_size_and_batch_size_are_checked_by_the_library():
    from reprobe.data import load_dataset
    from reprobe.experiments.run import run_named

    bundle = load_dataset("digits")
    with pytest.raises(ReprobeError, match="image_size"):
        run_named("cnn", "digits", model_options={"depth": 2, "image_size": 0}, bundle=bundle)
    with pytest.raises(ReprobeError, match="batch_size"):
        run_named("mlp", "digits", model_options={"depth": 2, "width": 8}, bundle=bundle, batch_size=0)


def test_cnn_channels_zero_is_refused_not_replaced():
    from reprobe.models import build_model

    with pytest.raises(ReprobeError, match="channels"):
        build_model("cnn", (1, 8, 8), 10, channels=0)


def test_wording_of_unknown_names_and_tie_break():
    from reprobe.analysis.critical import describe_tie_break
    from reprobe.core.errors import unknown_name_message

    msg = unknown_name_message("factory", "nosuchfn", ["make", "build"], where="fac.py")
    assert msg == "unknown factory 'nosuchfn' in fac.py. Valid factories in fac.py: build, make."
    assert unknown_name_message("metric", "nosuch", ["mse"]) == "unknown metric 'nosuch'. Valid metrics: mse."
    assert describe_tie_break("mean-relative-entropy", -0.8322) == \
        "mean relative entropy 0.832 (lower = more information kept)"


def test_compare_exits_1_when_a_model_fails_and_keeps_the_others(tmp_path):
    out = tmp_path / "c"
    res = invoke("compare", "--model", "mlp", "--model", "cnn:kernel=2", *TINY, "--out", out)
    assert res.exit_code == 1, res.output
    assert "cnn(kernel=2) failed" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert [m["name"] for m in summary["models"]] == ["mlp"] and len(summary["failed"]) == 1
    assert not (out / "INCOMPLETE").exists()


def test_incomplete_folder_is_refused_by_report_and_reconstruct(tmp_path):
    out = tmp_path / "r"
    assert invoke("run", *TINY, "--save-decoders", "--out", out).exit_code == 0
    import socket

    # as an interrupted run leaves it: the writer (a pid no process has) is gone
    (out / "INCOMPLETE").write_text(json.dumps({"pid": 999999999, "host": socket.gethostname()}))
    for args in (["report", out], ["reconstruct", out, "--class", "1", "--out", tmp_path / "c.png"]):
        res = invoke(*args)
        assert res.exit_code == 2 and f"{out} is incomplete" in res.output, res.output
    res = invoke("run", *TINY, "--out", out)
    assert res.exit_code == 2 and "holds an interrupted run" in res.output and "--force" in res.output
    assert invoke("run", *TINY, "--out", out, "--force").exit_code == 0
    assert invoke("report", out).exit_code == 0


# --- real processes: Ctrl-C and concurrent runs --------------------------------------------------

def _cli(*args) -> list:
    return [sys.executable, "-m", "reprobe.cli", *[str(a) for a in args]]


def _env():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), MPLBACKEND="Agg")
    env.pop("REPROBE_DEBUG", None)
    return env


def _wait_for(cond, proc, timeout=120.0):
    t0 = time.time()
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.05)


# A slow fit: gradient-trained decoders on a deeper net, so that the run is surely interrupted mid-fit.
SLOW = ["--data", "digits", "--depth", "12", "--width", "64", "--fit", "adam", "--epochs", "1000", "--samples", "40"]


def test_sigint_during_run_leaves_a_folder_marked_incomplete(tmp_path):
    import threading

    out = tmp_path / "r"
    proc = subprocess.Popen(_cli("run", *SLOW, "--out", out), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    err: list = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    _wait_for(lambda: "fitting" in "".join(err), proc)  # the fit's progress bar: it has started
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    text = "".join(err)
    assert proc.returncode == 130, text
    lines = [l.strip() for l in text.splitlines() if "Error" in l]
    assert lines == [f"Error: interrupted; {out} is incomplete (marked by its INCOMPLETE file); run again with --force"]
    assert "Traceback" not in text
    assert not (out / "result.json").exists() and (out / "INCOMPLETE").exists()
    res = invoke("report", out)
    assert res.exit_code == 2 and "is incomplete" in res.output and "interrupted" in res.output


SWEEP = ["sweep", "--data", "digits", "--sigma-w2", "1.0:2.0:0.2", "--depth", "4", "--width", "16", "--fit", "adam",
         "--epochs", "5", "--samples", "40", "--jobs", "2", "-q"]


def test_sigint_during_parallel_sweep_is_one_line_and_resume_completes(tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen(_cli(*SWEEP, "--out", out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    points = out / "points.jsonl"
    _wait_for(lambda: points.is_file() and points.read_text().count("\n") >= 1, proc, timeout=240)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the parent and both workers get it
    _, err = proc.communicate(timeout=60)
    lines = [l for l in err.splitlines() if l.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted; ") and "of 6 points saved, --resume continues" \
        in lines[0], err
    saved = points.read_text().count("\n")
    assert 1 <= saved < 6
    assert not (out / ".reprobe-sweep.lock").exists()
    # the rest in this process (--jobs 1): starting workers again would only make the test slower
    done = subprocess.run(_cli(*SWEEP, "--out", out, "--resume", "--jobs", "1"), env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{6 - saved} points run, {saved} resumed" in done.stdout
    assert points.read_text().count("\n") == 6


def test_two_runs_into_one_folder_exactly_one_succeeds(tmp_path):
    out = tmp_path / "r"
    args = ["run", "--data", "digits", "--depth", "4", "--width", "32", "--samples", "40", "-q", "--out", out]
    procs = [subprocess.Popen(_cli(*args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[2] == 2)
    assert loser[1].strip().startswith("Error: ") and len(loser[1].strip().splitlines()) == 1
    assert ("another reprobe command" in loser[1] and "is writing to" in loser[1]) or "already exists" in loser[1]
    assert (out / "result.json").is_file() and not (out / "INCOMPLETE").exists()


def test_second_sweep_into_a_busy_folder_fails_at_once(tmp_path):
    from reprobe.core.outdir import SWEEP_LOCK, claim

    out = tmp_path / "s"
    claim(out, marker=SWEEP_LOCK, must_be_empty=False)  # this (live) process holds it
    res = invoke("sweep", "--data", "digits", "--sigma-w2", "1.0", "--depth", "3", "--width", "8", "--out", out, "-q")
    assert res.exit_code == 2 and f"pid {os.getpid()}" in res.output and "is writing to" in res.output, res.output


def test_inputs_the_model_cannot_take_are_one_line_errors():
    import torch

    from reprobe.probe import CascadeProbe

    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    with pytest.raises(ReprobeError, match=r"failed on inputs of shape 4×9.*shape the model expects"):
        with CascadeProbe(net, progress=False) as probe:
            probe.fit(torch.randn(4, 9))
    with CascadeProbe(net, progress=False, samples=8) as probe:
        probe.fit(torch.randn(64, 16))
        with pytest.raises(ReprobeError, match=r"test has inputs of shape 5 .*fitted on inputs of shape 16"):
            probe.evaluate(torch.randn(8, 5))


def test_memory_estimate_refuses_before_building_or_fitting(monkeypatch):
    import torch

    import reprobe.probe.memory as mem
    from reprobe.data import load_dataset
    from reprobe.probe import CascadeProbe
    from reprobe.experiments.run import probe_model, run_named

    monkeypatch.setattr(mem, "available_bytes", lambda: 100_000)
    monkeypatch.setattr(CascadeProbe, "fit", lambda *a, **k: pytest.fail("fitted despite the memory estimate"))
    bundle = load_dataset("digits")
    with pytest.raises(ReprobeError, match=r"needs about .* but 100 KB is available; lower depth or width"):
        run_named("mlp", "digits", model_options={"depth": 3, "width": 16}, bundle=bundle)
    # a model reprobe cannot size from its options: checked after a dry run, before the fit
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    with pytest.raises(ReprobeError, match="lower image_size"):
        probe_model(net, bundle, progress=False)
