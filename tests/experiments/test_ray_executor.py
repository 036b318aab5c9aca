"""The Ray executor on a real local Ray cluster (two CPUs, started once for the module).

Ray results are checked against the local executor's: the same points, each once, with the same
cutoffs and metric curves, also when a worker process is killed mid-sweep and when a sweep is
interrupted and resumed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

ray = pytest.importorskip("ray")

from reprobe.cli.main import cli  # noqa: E402
from reprobe.core.errors import ReprobeError  # noqa: E402
from reprobe.experiments import ray_executor  # noqa: E402
from reprobe.experiments import sweep as sweep_mod  # noqa: E402
from reprobe.experiments.executors import Interrupted  # noqa: E402
from reprobe.experiments.grid import point_key  # noqa: E402
from reprobe.experiments.sweep import run_sweep  # noqa: E402

#: Six tiny MLPs (a few seconds each on one core).
GRID = {"model": "mlp", "sigma_w2": (1.0, 1.5, 2.0, 2.5, 3.0, 3.5), "depth": 4, "width": 16,
        "probe": {"train_samples": 256, "samples": 16}}
CLI_TINY = ["--model", "mlp", "--depth", "4", "--width", "16", "--sigma-w2", "1.0,2.0", "--train-samples", "256",
            "--samples", "16", "--quiet"]


@pytest.fixture(scope="module")
def cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_points(tmp_path_factory):
    """The grid's records from the local executor, by point key."""
    out = tmp_path_factory.mktemp("local")
    run_sweep(out, jobs=1, **GRID)
    return _rows(out / "points.jsonl")


def _rows(path: Path) -> dict:
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    rows = {point_key(r): r for r in recs}
    assert len(rows) == len(lines), "a point was written twice"
    return rows


def _assert_same(ray_rows: dict, local_rows: dict) -> None:
    assert set(ray_rows) == set(local_rows)
    for k, a in ray_rows.items():
        b = local_rows[k]
        assert a["cutoffs"] == b["cutoffs"], k
        for m, curve in a["metrics"].items():
            for x, y in zip(curve, b["metrics"][m]):
                assert (x is None and y is None) or abs(x - y) <= 1e-6, (k, m, x, y)


def _with_on_record(monkeypatch, on_record):
    """run_sweep's run_tasks, calling ``on_record`` in the driver as each record lands."""
    real = sweep_mod.run_tasks

    def wrapped(*args, **kw):
        return real(*args, on_record=on_record, **kw)

    monkeypatch.setattr(sweep_mod, "run_tasks", wrapped)


def _our_ray_workers(title: bytes = b"ray::reprobe-sweep") -> list:
    """PIDs of this test's Ray workers now running a sweep unit (their process title says so)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.split(b"\0")[0].strip() == title and _descends_from(int(name), me):
            found.append(int(name))
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(10):
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def test_ray_sweep_matches_local_every_point_once(cluster, local_points, tmp_path):
    res = run_sweep(tmp_path, executor="ray", cpus_per_point=1, **GRID)
    assert len(res["probes"]) == len(GRID["sigma_w2"])
    _assert_same(_rows(tmp_path / "points.jsonl"), local_points)
    assert ray.is_initialized()  # a cluster the caller joined stays up


def test_worker_killed_mid_sweep_is_retried(cluster, local_points, tmp_path, monkeypatch):
    killed = []

    def kill_a_running_worker(rec):
        if killed:
            return
        for pid in _our_ray_workers():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return

    _with_on_record(monkeypatch, kill_a_running_worker)
    run_sweep(tmp_path / "retried", executor="ray", retries=2, **GRID)
    assert killed, "no worker was running a point when a record landed"
    _assert_same(_rows(tmp_path / "retried" / "points.jsonl"), local_points)
    # without retries the killed worker's point is lost: the kill above did hit a running point
    killed.clear()
    with pytest.raises(ReprobeError, match="Ray lost a point after 0 retries"):
        run_sweep(tmp_path / "lost", executor="ray", retries=0, **GRID)
    assert killed


def test_interrupted_ray_sweep_resumes(cluster, local_points, tmp_path, monkeypatch):
    landed = []

    def interrupt_after_two(rec):
        landed.append(rec)
        if len(landed) == 2:
            raise KeyboardInterrupt

    _with_on_record(monkeypatch, interrupt_after_two)
    n = len(GRID["sigma_w2"])
    with pytest.raises(Interrupted, match=f"2 of {n} points saved, resume=True continues"):
        run_sweep(tmp_path, executor="ray", **GRID)
    assert len(_rows(tmp_path / "points.jsonl")) == 2
    deadline = time.time() + 20  # the outstanding points were cancelled: their workers stop
    while _our_ray_workers() and time.time() < deadline:
        time.sleep(0.2)
    assert not _our_ray_workers()
    monkeypatch.undo()
    res = run_sweep(tmp_path, executor="ray", resume=True, **GRID)
    assert len(res["probes"]) == n
    _assert_same(_rows(tmp_path / "points.jsonl"), local_points)


def test_unreachable_address_is_one_line_naming_it(cluster, tmp_path, monkeypatch):
    t0 = time.time()
    with pytest.raises(ReprobeError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1 "):
        run_sweep(tmp_path / "a", executor="ray", address="127.0.0.1:1", **GRID)
    # a port that answers but is no Ray cluster: ray.init would wait minutes; the bound holds
    monkeypatch.setattr(ray_executor, "CONNECT_TIMEOUT_S", 4.0)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        addr = f"127.0.0.1:{srv.getsockname()[1]}"
        with pytest.raises(ReprobeError, match=addr):
            run_sweep(tmp_path / "b", executor="ray", address=addr, **GRID)
    assert time.time() - t0 < 30
    r = CliRunner().invoke(cli, ["sweep", *CLI_TINY, "--executor", "ray", "--address", "127.0.0.1:1",
                                 "--out", str(tmp_path / "c")])
    assert r.exit_code == 2, r.output
    assert r.output.count("\n") == 1 and "127.0.0.1:1" in r.output and r.output.startswith("Error: ")
    assert not (tmp_path / "c" / "points.jsonl").exists()


def test_cli_executor_flags(cluster, tmp_path):
    runner = CliRunner()
    local, remote = tmp_path / "local", tmp_path / "ray"
    r = runner.invoke(cli, ["sweep", *CLI_TINY, "--jobs", "1", "--out", str(local)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["sweep", *CLI_TINY, "--executor", "ray", "--cpus-per-point", "1", "--gpus-per-point", "0",
                            "--retries", "1", "--out", str(remote)])
    assert r.exit_code == 0, r.output
    _assert_same(_rows(remote / "points.jsonl"), _rows(local / "points.jsonl"))
    train = ["train-grid", "--model", "mlp", "--depth", "2", "--width", "8", "--sigma-w2", "1.0,2.0", "--steps", "2",
             "--train-samples", "128", "--quiet"]
    r = runner.invoke(cli, [*train, "--executor", "ray", "--out", str(tmp_path / "tg")])
    assert r.exit_code == 0, r.output
    r2 = runner.invoke(cli, [*train, "--jobs", "1", "--out", str(tmp_path / "tg-local")])
    assert r2.exit_code == 0, r2.output
    acc = {k: v["accuracy"] for k, v in _rows(tmp_path / "tg" / "trained.jsonl").items()}
    assert acc == {k: v["accuracy"] for k, v in _rows(tmp_path / "tg-local" / "trained.jsonl").items()}
    for bad, says in ((["--executor", "ray", "--jobs", "2"], "--jobs"), (["--address", "auto"], "--executor ray"),
                      (["--executor", "ray", "--gpus-per-point", "1.5"], "--gpus-per-point"),
                      (["--executor", "ray", "--retries", "-1"], "--retries")):
        r = runner.invoke(cli, ["sweep", *CLI_TINY, *bad, "--out", str(tmp_path / "bad")])
        assert r.exit_code == 2 and says in r.output, (bad, r.output)


def test_compare_on_ray_matches_local(cluster, tmp_path):
    from reprobe.experiments.compare import compare_models, parse_model_spec

    specs = [parse_model_spec("mlp:depth=4,width=16,sigma_w2=1.0"), parse_model_spec("mlp:depth=4,width=16,sigma_w2=3.0"),
             parse_model_spec("no-such-model")]
    probe = {"train_samples": 256, "samples": 16, "progress": False}
    a = compare_models(specs, tmp_path / "local", probe_options=probe)
    b = compare_models(specs, tmp_path / "ray", probe_options=probe, executor="ray")
    assert [e["name"] for e in a["models"]] == [e["name"] for e in b["models"]]
    assert [e["cutoffs"] for e in a["models"]] == [e["cutoffs"] for e in b["models"]]
    assert [f["name"] for f in b["failed"]] == ["no-such-model"]
    assert all((tmp_path / "ray" / e["run"] / "result.json").is_file() for e in b["models"])
    r = CliRunner().invoke(cli, ["compare", "--model", "mlp:depth=3,width=8", "--train-samples", "128", "--samples", "8",
                                 "--executor", "ray", "--no-report", "--quiet", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 0, r.output


def test_missing_ray_names_the_install_command(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ReprobeError, match=r'pip install -e "\.\[ray\]"'):
        run_sweep(tmp_path, executor="ray", **GRID)
    assert not (tmp_path / "points.jsonl").exists()


@pytest.mark.parametrize("resources,words", [({"gpus_per_point": 0.25}, "0 GPUs"), ({"cpus_per_point": 3}, "2 CPUs")])
def test_a_point_no_node_can_run_is_one_line_not_a_hang(cluster, tmp_path, resources, words):
    """Ray queues a task no node fits without a word; the sweep says so at once instead."""
    t0 = time.perf_counter()
    with pytest.raises(ReprobeError, match=f"no node of the Ray cluster can run a point.*{words}"):
        run_sweep(tmp_path / "x", executor="ray", **{**GRID, "sigma_w2": (1.0,)}, **resources)
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "x" / "points.jsonl").exists() or not (tmp_path / "x" / "points.jsonl").read_text()
