"""Benchmark: points per second of one small MLP sweep on each executor, measured in one run.

    .venv/bin/python benchmarks/sweep_scaling.py [--points 8] [--depth 20] [--width 64] [--batch 8]

The grid: ``--points`` tanh MLPs (σ_w² spread over [1, 4], σ_b² 0.05, one depth and width) probed on
mnist-5k with the sweep's default probe (ridge decoders, 100 evaluation samples). Rows:

* ``local, 1 process``: ``run_tasks(jobs=1)``, in this process;
* ``local, 2 processes``: ``run_tasks(jobs=2)``, spawned workers (their start counts);
* ``ray, 2 CPUs``: ``run_tasks(executor="ray")`` on a local two-CPU Ray cluster (started before the
  clock, as a cluster is; its workers start on the clock, like the local ones); ``warm``: the same
  sweep again, on the workers the first one started (a cluster's workers outlive a sweep; local
  worker processes do not);
* ``batched``: ``run_tasks(batch=K)`` in one process (:func:`batched_row`: the batched MLP path
  probes the ``K`` nets of a unit together).

Each row writes a fresh store; the data set is loaded and one point probed in this process before
the clock starts. On a few points worker start-up weighs heavily; more ``--points`` show the steady
state. The last lines print Ray's overhead over two local processes (target
≤ 10 %) and the batched path's speed-up over one process.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker: two workers on two cores

from reprobe.experiments.executors import run_tasks  # noqa: E402
from reprobe.experiments.grid import expand_grid  # noqa: E402
from reprobe.experiments.store import PointStore  # noqa: E402
from reprobe.experiments.sweep import SWEEP_PROBE_DEFAULTS  # noqa: E402
from reprobe.probe.config import recorded_options  # noqa: E402


def make_tasks(points: int, depth: int, width: int) -> List[Dict[str, Any]]:
    """``points`` grid points with the settings ``run_sweep`` gives them."""
    sws = [round(1.0 + 3.0 * i / max(1, points - 1), 4) for i in range(points)]
    settings = {"model": "mlp", "model_options": {"activation": "tanh", "shape": "wide"}, "data": "mnist-5k",
                "data_options": {"root": None, "seed": 0, "test_fraction": 0.1},
                "probe": recorded_options({**SWEEP_PROBE_DEFAULTS, "seed": 0, "progress": False}), "train": None}
    return [{**p, **settings} for p in expand_grid(sws, [0.05], [depth], [width], 0)]


def timed(tasks: List[Dict[str, Any]], folder: Path, **kw: Any) -> float:
    """Seconds to run ``tasks`` into a fresh store under ``folder``."""
    store = PointStore(folder / "points.jsonl").load()
    t0 = time.perf_counter()
    n = run_tasks(tasks, store, progress=False, **kw)
    secs = time.perf_counter() - t0
    assert n == len(tasks) == len(store.records), (n, len(tasks), len(store.records))
    return secs


def batched_row(tasks: List[Dict[str, Any]], folder: Path, batch: int) -> float:
    """The batched MLP path (:class:`reprobe.probe.batched.BatchedMLPProbe`): ``run_tasks(batch=K)``
    groups the nets of one shape into units of ``K``, each probed in one stacked forward and one
    batched set of ridge solves, in this process."""
    return timed(tasks, folder, jobs=1, batch=batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8, help="nets per unit of the batched row")
    args = ap.parse_args()
    tasks = make_tasks(args.points, args.depth, args.width)
    print(f"{len(tasks)} tanh MLPs, depth {args.depth}, width {args.width}, mnist-5k; "
          f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    import ray

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        timed(tasks[:1], tmp / "warm-up", jobs=1)  # data loaded and torch warm in this process, untimed
        rows["local, 1 process"] = timed(tasks, tmp / "l1", jobs=1)
        rows["local, 2 processes"] = timed(tasks, tmp / "l2", jobs=2)
        rows["ray, 2 CPUs"] = timed(tasks, tmp / "ray", executor="ray", cpus_per_point=1)
        rows["ray, 2 CPUs, warm"] = timed(tasks, tmp / "ray-warm", executor="ray", cpus_per_point=1)
        rows[f"batched, batch={args.batch}"] = batched_row(tasks, tmp / "batched", args.batch)
    ray.shutdown()
    print(f"{'executor':<22} {'seconds':>8} {'points/s':>9}")
    for name, secs in rows.items():
        print(f"{name:<22} {secs:>8.2f} {len(tasks) / secs:>9.3f}")
    overhead = rows["ray, 2 CPUs"] / rows["local, 2 processes"] - 1
    print(f"ray cluster start (not timed above): {ray_start:.1f} s")
    print(f"ray overhead vs local 2 processes: {100 * overhead:+.1f} % (target <= 10 %); warm workers: "
          f"{100 * (rows['ray, 2 CPUs, warm'] / rows['local, 2 processes'] - 1):+.1f} %")
    speedup = rows["local, 1 process"] / rows[f"batched, batch={args.batch}"]
    print(f"batched speed-up vs local 1 process: {speedup:.2f}x")


if __name__ == "__main__":
    main()
